//! A stream entry's ID (`<ms>-<seq>`) and how Redis 7.0 reads one from an argument.

use std::fmt;

/// An entry ID: milliseconds, then a sequence number within that millisecond. IDs order the
/// stream; the derived order (ms first) is Redis's `streamCompareID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID up, or None past the last possible one (Redis's `streamIncrID`).
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The next ID down, or None below 0-0 (Redis's `streamDecrID`).
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The ID as a reply writes it.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut ms = itoa::Buffer::new();
        let mut seq = itoa::Buffer::new();
        let (ms, seq) = (
            ms.format(self.ms).as_bytes(),
            seq.format(self.seq).as_bytes(),
        );
        let mut out = Vec::with_capacity(ms.len() + 1 + seq.len());
        out.extend_from_slice(ms);
        out.push(b'-');
        out.extend_from_slice(seq);
        out
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An ID argument as read, before `*` in the sequence is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedId {
    pub id: StreamId,
    /// False for `<ms>-*`: the sequence is to be chosen by `XADD`.
    pub seq_given: bool,
}

/// How an ID argument may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSyntax {
    /// `-` and `+` mean the smallest and largest IDs (range ends).
    Range,
    /// Only `<ms>[-<seq>]`.
    Strict,
    /// Strict, and `<ms>-*` is accepted (`XADD`).
    Add,
}

/// Parses an ID the way Redis's `streamGenericParseIDOrReply` does; `missing_seq` is the
/// sequence of a bare `<ms>`. None means "Invalid stream ID specified as stream command
/// argument".
pub fn parse_id(arg: &[u8], missing_seq: u64, syntax: IdSyntax) -> Option<ParsedId> {
    // Redis copies the argument into a 128-byte C buffer: longer ones are invalid, and an
    // embedded NUL ends the string.
    if arg.len() > 127 {
        return None;
    }
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    };
    let given = |id| {
        Some(ParsedId {
            id,
            seq_given: true,
        })
    };
    match (arg, syntax) {
        (b"-" | b"+", IdSyntax::Strict | IdSyntax::Add) => return None,
        (b"-", IdSyntax::Range) => return given(StreamId::MIN),
        (b"+", IdSyntax::Range) => return given(StreamId::MAX),
        _ => {}
    }
    let (ms_part, seq_part) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string_to_u64(ms_part)?;
    match seq_part {
        Some(b"*") if syntax == IdSyntax::Add => Some(ParsedId {
            id: StreamId::new(ms, 0),
            seq_given: false,
        }),
        Some(seq) => given(StreamId::new(ms, string_to_u64(seq)?)),
        None => given(StreamId::new(ms, missing_seq)),
    }
}

/// An unsigned 64-bit number as Redis's `string2ull` reads it: a strict signed integer
/// (negative ones refused), else what C's `strtoull` accepts whole (leading spaces, a sign,
/// leading zeros; a `-` negates modulo 2^64), refusing overflow.
pub fn string_to_u64(s: &[u8]) -> Option<u64> {
    if let Some(n) = crate::resp::parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let mut rest = s;
    while let Some((&b, tail)) = rest.split_first() {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &b in rest {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(arg: &str, syntax: IdSyntax) -> Option<StreamId> {
        parse_id(arg.as_bytes(), 0, syntax).map(|p| p.id)
    }

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(id("1-2", IdSyntax::Strict), Some(StreamId::new(1, 2)));
        assert_eq!(id("5", IdSyntax::Strict), Some(StreamId::new(5, 0)));
        assert_eq!(
            parse_id(b"5", u64::MAX, IdSyntax::Range).map(|p| p.id),
            Some(StreamId::new(5, u64::MAX))
        );
        assert_eq!(id("-", IdSyntax::Range), Some(StreamId::MIN));
        assert_eq!(id("+", IdSyntax::Range), Some(StreamId::MAX));
        assert_eq!(id("-", IdSyntax::Strict), None);
        assert_eq!(id("1-*", IdSyntax::Strict), None);
        let p = parse_id(b"7-*", 0, IdSyntax::Add).unwrap();
        assert!(!p.seq_given);
        assert_eq!(p.id, StreamId::new(7, 0));
        assert_eq!(id("+3-1", IdSyntax::Strict), Some(StreamId::new(3, 1)));
        assert_eq!(id("  3", IdSyntax::Strict), Some(StreamId::new(3, 0)));
        assert_eq!(id("007-1", IdSyntax::Strict), Some(StreamId::new(7, 1)));
        assert_eq!(id("1--1", IdSyntax::Strict), None);
        assert_eq!(id("abc", IdSyntax::Strict), None);
        assert_eq!(id("", IdSyntax::Strict), None);
        assert_eq!(id("1-", IdSyntax::Strict), None);
        assert_eq!(id("99999999999999999999", IdSyntax::Strict), None);
        assert_eq!(
            id(
                "18446744073709551615-18446744073709551615",
                IdSyntax::Strict
            ),
            Some(StreamId::MAX)
        );
        assert_eq!(id(&"1".repeat(128), IdSyntax::Strict), None);
    }

    #[test]
    fn neighbours_wrap_like_redis() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(StreamId::new(3, 4).to_string(), "3-4");
    }
}
