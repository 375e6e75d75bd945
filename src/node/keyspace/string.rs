//! String values: integers kept as integers, short strings inside the value itself, longer ones
//! in one exact-size allocation, and strings changed in place (`APPEND`, `SETRANGE`, `SETBIT`)
//! in a growable buffer.
//!
//! A `Str` is 24 bytes, and a [`super::Value`] holding one is too, so a key with a short value
//! costs no allocation for the value at all.

use crate::resp::parse_i64;

/// Longest string Redis stores `embstr`-encoded.
const EMBSTR_MAX: usize = 44;
/// Longest string kept inside the value.
const INLINE_MAX: usize = 22;

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A string that reads as a canonical 64-bit integer (`"42"`, not `"042"`).
    Int(i64),
    /// A short string, in place.
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    /// A longer string, exactly sized.
    Boxed(Box<[u8]>),
    /// A string changed in place since it was stored; Redis reports it `raw` whatever its length.
    Raw(Box<Vec<u8>>),
}

impl Str {
    /// Stores `data` the way Redis's `tryObjectEncoding` would: as an integer if it is one.
    pub fn from_bytes(data: &[u8]) -> Str {
        if data.len() <= 20 {
            if let Some(n) = parse_i64(data) {
                return Str::Int(n);
            }
        }
        Str::from_bytes_verbatim(data)
    }

    /// Stores `data` as bytes, even if it reads as an integer.
    fn from_bytes_verbatim(data: &[u8]) -> Str {
        if data.len() <= INLINE_MAX {
            let mut buf = [0; INLINE_MAX];
            buf[..data.len()].copy_from_slice(data);
            Str::Inline {
                len: data.len() as u8,
                buf,
            }
        } else {
            Str::Boxed(data.into())
        }
    }

    pub fn from_int(n: i64) -> Str {
        Str::Int(n)
    }

    /// The value's bytes; integers are formatted into `scratch`.
    pub fn bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            Str::Int(n) => scratch.format(*n).as_bytes(),
            Str::Inline { len, buf } => &buf[..usize::from(*len)],
            Str::Boxed(data) => data,
            Str::Raw(data) => data,
        }
    }

    /// The value's bytes, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// The value as an integer, if it is one (`INCR`'s rule: `string2ll`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            other => parse_i64(other.bytes(&mut itoa::Buffer::new())),
        }
    }

    pub fn len(&self) -> usize {
        self.bytes(&mut itoa::Buffer::new()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, for changing in place; the value becomes `raw`.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(Box::new(self.to_vec()));
        }
        match self {
            Str::Raw(data) => data,
            _ => unreachable!("made raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Raw(_) => "raw",
            other if other.len() <= EMBSTR_MAX => "embstr",
            _ => "raw",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = Str::from_bytes(b"12");
        s.make_mut().push(b'x');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.to_vec(), b"12x");
    }

    #[test]
    fn values_are_small() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<crate::node::keyspace::Value>(), 24);
        for len in [0, 1, 22, 23, 100] {
            let data = vec![b'x'; len];
            assert_eq!(Str::from_bytes(&data).to_vec(), data);
        }
    }
}
