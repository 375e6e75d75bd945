//! Intsets (Redis's encoding of small all-integer sets): encoding width (u32 LE: 2, 4 or 8),
//! count (u32 LE), then the integers ascending, each in that width, little-endian.

use super::RdbError;

const HEADER_SIZE: usize = 8;

/// The integers of `blob`; refuses a bad width, a size that does not match the count, or
/// members out of order or repeated.
pub fn members(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    if blob.len() < HEADER_SIZE {
        return Err(RdbError::bad("intset header truncated"));
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(RdbError::bad("intset width"));
    }
    let body = &blob[HEADER_SIZE..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err(RdbError::bad("intset size mismatch"));
    }
    let out: Vec<i64> = body
        .chunks_exact(width)
        .map(|c| match *c {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => 0,
        })
        .collect();
    if out.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RdbError::bad("intset not strictly ascending"));
    }
    Ok(out)
}

/// An intset of `members` in the narrowest width that holds them all; members are sorted and
/// deduplicated first.
pub fn build(members: &[i64]) -> Vec<u8> {
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let width: usize = if sorted.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if sorted.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(HEADER_SIZE + sorted.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for n in sorted {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_redis_writes() {
        // `SADD iset 1 2 3 -7 100000` on redis-server 7.0.15, from its DUMP.
        let blob = [
            4, 0, 0, 0, 5, 0, 0, 0, 0xf9, 0xff, 0xff, 0xff, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
            0xa0, 0x86, 0x01, 0x00,
        ];
        assert_eq!(members(&blob).unwrap(), vec![-7, 1, 2, 3, 100000]);
        assert_eq!(build(&[1, 2, 3, -7, 100000]), blob);
    }

    #[test]
    fn widths_round_trip_and_bad_sets_are_refused() {
        for set in [vec![1i64, -5], vec![70000, -1], vec![i64::MIN, i64::MAX, 0]] {
            let mut sorted = set.clone();
            sorted.sort();
            assert_eq!(members(&build(&set)).unwrap(), sorted);
        }
        let good = build(&[1, 2]);
        let mut bad = good.clone();
        bad[0] = 3;
        assert!(members(&bad).is_err(), "width");
        let mut bad = good.clone();
        bad[4] = 3;
        assert!(members(&bad).is_err(), "count");
        assert!(members(&build(&[1])[..9]).is_err(), "truncated");
        let unordered = [2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0];
        assert!(members(&unordered).is_err(), "order");
        let repeated = [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0];
        assert!(members(&repeated).is_err(), "repeats");
    }
}
