//! Numbers read the way Redis reads them where its rules differ from Rust's parsers.

/// Longest text Redis's `string2ld` reads (`MAX_LONG_DOUBLE_CHARS`).
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Decimal exponents past which an 80-bit long double overflows or underflows to zero: where
/// `strtold` reports `ERANGE` and Redis refuses the number.
const LONG_DOUBLE_MAX_EXP10: i64 = 4932;
const LONG_DOUBLE_MIN_EXP10: i64 = -4950;

/// A number as Redis's `string2ld` reads it (`INCRBYFLOAT`, `HINCRBYFLOAT`, blocking
/// timeouts): `strtold`'s whole syntax (decimal, exponent, `inf`/`infinity`, hexadecimal
/// `0x1.8p3`), no leading space, nothing after the number, no NaN, nothing a long double
/// overflows on. Computed in f64: a value that a long double holds but an f64 does not comes
/// back infinite or zero.
pub fn parse_long_double(s: &[u8]) -> Option<f64> {
    // C's isspace, vertical tab included.
    if s.is_empty()
        || s.len() >= MAX_LONG_DOUBLE_CHARS
        || s[0].is_ascii_whitespace()
        || s[0] == 0x0b
    {
        return None;
    }
    let x = strtod(s)?;
    let text = std::str::from_utf8(s).ok()?;
    if x.is_nan() || out_of_long_double_range(text.trim_start_matches(['+', '-'])) {
        return None;
    }
    Some(x)
}

/// Whether a decimal (not `inf`) is beyond a long double's range, either way.
fn out_of_long_double_range(body: &str) -> bool {
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], body[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (body, 0),
    };
    if !mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return false; // inf, infinity
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let int = int.trim_start_matches('0');
    // The power of ten of the first significant digit.
    let lead = if !int.is_empty() {
        int.len() as i64 - 1
    } else {
        match frac.bytes().position(|b| b != b'0') {
            Some(zeros) => -(zeros as i64) - 1,
            None => return false, // zero is never out of range
        }
    };
    let magnitude = lead.saturating_add(exp);
    !(LONG_DOUBLE_MIN_EXP10..=LONG_DOUBLE_MAX_EXP10).contains(&magnitude)
}

/// C's `strtod` over the whole text: leading whitespace skipped, then a decimal or hex number,
/// `inf`/`infinity` or `nan`; None unless every byte is used. The empty text reads as 0, as
/// `strtod` leaves its end pointer on the terminating NUL.
pub fn strtod(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let t = text
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .map(|i| &text[i..])?;
    let s = std::str::from_utf8(t).ok()?;
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.starts_with(['+', '-']) {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// The digits of a C hex float after `0x`: `h[.h][p±d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_strtold_reads() {
        assert_eq!(parse_long_double(b"1.5"), Some(1.5));
        assert_eq!(parse_long_double(b"-2e3"), Some(-2000.0));
        assert_eq!(parse_long_double(b".5"), Some(0.5));
        assert_eq!(parse_long_double(b"5."), Some(5.0));
        assert_eq!(parse_long_double(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_long_double(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_long_double(b"0x10"), Some(16.0));
        assert_eq!(parse_long_double(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_long_double(b"-0X.8"), Some(-0.5));
        assert_eq!(parse_long_double(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_long_double(b"0e-9999"), Some(0.0));
    }

    #[test]
    fn refuses_what_redis_refuses() {
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"-nan",
            b"1e",
            b"abc",
            b"0x",
            b"0xg",
            b"0x1p",
            b"+-1",
            b"1e5000",
            b"1e-5000",
        ] {
            assert_eq!(
                parse_long_double(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_long_double(&vec![b'1'; MAX_LONG_DOUBLE_CHARS]), None);
    }
}
