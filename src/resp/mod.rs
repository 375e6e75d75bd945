//! RESP, the Redis serialization protocol (RESP2 and RESP3).
//!
//! Three readers, one per job, all incremental and bounded by [`Limits`]:
//!
//! - [`RequestParser`] turns a client's bytes into [`Command`]s: a multibulk of bulk strings (or
//!   an inline line), kept as the client's own bytes plus the offsets of each argument, so the
//!   proxy can forward a command without copying or re-encoding it.
//! - [`FrameScanner`] finds where the next reply frame ends without building it: the proxy
//!   forwards backend replies as raw bytes and only looks inside errors.
//! - [`Frame::decode`] builds a full [`Frame`] tree, for the replies the proxy must understand
//!   (`CLUSTER SLOTS`, `HELLO`, …).
//!
//! None of them re-parses a partial frame from its first byte when more bytes arrive, and none
//! allocates from a length the peer announced before the bytes are there.

mod command;
mod encode;
mod error;
mod frame;
mod limits;
#[cfg(test)]
mod proptests;
mod request;
mod scanner;

pub use command::Command;
pub use encode::{
    write_array_header, write_bulk, write_error, write_integer, write_not_subscribed, write_simple,
    write_subscription_event,
};
pub use error::ProtocolError;
pub use frame::Frame;
pub use limits::Limits;
pub use request::RequestParser;
pub use scanner::FrameScanner;

/// Finds `\r\n` in `buf` at or after `from`, returning the index of the `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        let rel = buf[i..].iter().position(|&b| b == b'\r')?;
        let at = i + rel;
        if at + 1 >= buf.len() {
            return None;
        }
        if buf[at + 1] == b'\n' {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Parses a signed decimal integer the way Redis's `string2ll` does: no leading `+`, no
/// leading zeros (except "0" itself), no whitespace, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        v = if neg {
            v.checked_mul(10)?.checked_sub(digit)?
        } else {
            v.checked_mul(10)?.checked_add(digit)?
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"1 "), None);
    }

    #[test]
    fn find_crlf_skips_lone_cr() {
        assert_eq!(find_crlf(b"ab\rc\r\n", 0), Some(4));
        assert_eq!(find_crlf(b"ab\r", 0), None);
        assert_eq!(find_crlf(b"\r\n", 1), None);
    }
}
