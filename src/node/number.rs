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
    if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let value = if body.len() > 1
        && body.as_bytes()[0] == b'0'
        && matches!(body.as_bytes()[1], b'x' | b'X')
    {
        parse_hex(&body[2..])?
    } else {
        let x: f64 = body.parse().ok()?;
        if x.is_nan() || body.starts_with(['+', '-']) {
            return None;
        }
        if !out_of_long_double_range(body) {
            x
        } else {
            return None;
        }
    };
    Some(if negative { -value } else { value })
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

/// The digits after `0x`: hex digits, an optional fraction, an optional binary exponent
/// (`p`, decimal).
fn parse_hex(s: &str) -> Option<f64> {
    let (mantissa, exp) = match s.find(['p', 'P']) {
        Some(at) => {
            let e = &s[at + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (
                &s[..at],
                e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                }),
            )
        }
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let exp = i32::try_from(exp.clamp(-20_000, 20_000)).unwrap_or(0);
    Some(value * 2f64.powi(exp))
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
