//! String values: integers kept as integers, short strings inline-sized, long ones raw.

use crate::resp::parse_i64;

/// Longest string Redis stores `embstr`-encoded.
const EMBSTR_MAX: usize = 44;

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A string that reads as a canonical 64-bit integer (`"42"`, not `"042"`).
    Int(i64),
    /// Any other bytes. `raw` is set once the value was changed in place (`APPEND`,
    /// `SETRANGE`), which Redis reports as `raw` whatever the length.
    Bytes { data: Vec<u8>, raw: bool },
}

impl Str {
    /// Stores `data` the way Redis's `tryObjectEncoding` would.
    pub fn from_bytes(data: &[u8]) -> Str {
        if data.len() <= 20 {
            if let Some(n) = parse_i64(data) {
                return Str::Int(n);
            }
        }
        Str::Bytes {
            data: data.to_vec(),
            raw: false,
        }
    }

    pub fn from_int(n: i64) -> Str {
        Str::Int(n)
    }

    /// The value's bytes; integers are formatted into `scratch`.
    pub fn bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            Str::Int(n) => scratch.format(*n).as_bytes(),
            Str::Bytes { data, .. } => data,
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
            Str::Bytes { data, .. } => parse_i64(data),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, for changing in place; the value becomes `raw`.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if let Str::Int(n) = *self {
            *self = Str::Bytes {
                data: itoa::Buffer::new().format(n).as_bytes().to_vec(),
                raw: true,
            };
        }
        match self {
            Str::Bytes { data, raw } => {
                *raw = true;
                data
            }
            Str::Int(_) => unreachable!("converted above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Bytes { raw: true, .. } => "raw",
            Str::Bytes { data, .. } if data.len() <= EMBSTR_MAX => "embstr",
            Str::Bytes { .. } => "raw",
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
}
