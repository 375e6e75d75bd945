//! Numbers read the way Redis reads them where its rules differ from Rust's parsers.

use rustc_apfloat::ieee::X87DoubleExtended as X87;
use rustc_apfloat::{Float, Round};

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

/// An x87 80-bit long double, computed exactly as Redis computes one (`INCRBYFLOAT`,
/// `HINCRBYFLOAT`): read correctly rounded as `strtold` reads, added with round-to-nearest,
/// printed as `%.17Lf` prints.
#[derive(Debug, Clone, Copy)]
pub struct LongDouble(X87);

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble(X87::ZERO);

    /// `s` as `string2ld` reads it: None where [`parse_long_double`] refuses it.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        parse_long_double(s)?;
        let text = std::str::from_utf8(s).ok()?.to_ascii_lowercase();
        let (negative, body) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, &text[..]),
        };
        let value = if body.starts_with("inf") {
            X87::INFINITY
        } else if body.starts_with("0x") && !body.contains('p') {
            // C takes a hexadecimal float without its binary exponent.
            X87::from_str_r(&format!("{body}p0"), Round::NearestTiesToEven)
                .ok()?
                .value
        } else {
            X87::from_str_r(body, Round::NearestTiesToEven).ok()?.value
        };
        Some(LongDouble(if negative { -value } else { value }))
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Redis's `ld2string(…, LD_STR_HUMAN)`: `%.17Lf`, then trailing zeros (and a bare point)
    /// dropped, and `-0` written `0`. Only for finite values.
    pub fn to_human(self) -> String {
        let bits = self.0.to_bits();
        let negative = bits >> 79 & 1 == 1;
        let exponent = (bits >> 64) as u16 & 0x7fff;
        let mantissa = bits as u64;
        // value = mantissa × 2^shift (a zero exponent field is the denormal scale).
        let shift = i32::from(exponent.max(1)) - 16383 - 63;
        let mut text = if shift >= 0 {
            shifted_decimal(mantissa, shift as u32)
        } else {
            fixed_17(mantissa, shift.unsigned_abs())
        };
        if let Some(point) = text.find('.') {
            let kept = text.trim_end_matches('0').len().max(point);
            text.truncate(if kept == point + 1 { point } else { kept });
        }
        if negative && text != "0" {
            text.insert(0, '-');
        }
        text
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// The sum, rounded to the nearest long double.
    fn add(self, other: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(other.0, Round::NearestTiesToEven).value)
    }
}

/// `mantissa / 2^shift` with 17 decimals, rounded half to even as glibc's printf rounds.
fn fixed_17(mantissa: u64, shift: u32) -> String {
    const SCALE: u128 = 100_000_000_000_000_000;
    // Below 2^121: mantissa < 2^64, SCALE < 2^57.
    let n = u128::from(mantissa) * SCALE;
    let (mut q, rest, half) = if shift >= 128 {
        (0, n, None)
    } else {
        let q = n >> shift;
        let half = (shift > 0).then(|| 1u128 << (shift - 1));
        (q, n - (q << shift), half)
    };
    if let Some(half) = half {
        if rest > half || (rest == half && q & 1 == 1) {
            q += 1;
        }
    }
    format!("{}.{:017}", q / SCALE, q % SCALE)
}

/// `mantissa × 2^shift` in decimal, exactly (values from 2^63 up to a long double's largest).
fn shifted_decimal(mantissa: u64, shift: u32) -> String {
    const BASE: u64 = 1_000_000_000;
    // Little-endian base-10^9 limbs.
    let mut limbs = vec![
        mantissa % BASE,
        mantissa / BASE % BASE,
        mantissa / BASE / BASE,
    ];
    let mut left = shift;
    while left > 0 {
        let step = left.min(29);
        let mut carry = 0u64;
        for limb in &mut limbs {
            let v = (*limb << step) + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
        left -= step;
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = limbs.last().map_or(String::new(), u64::to_string);
    for limb in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{limb:09}"));
    }
    out
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
