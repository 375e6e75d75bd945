//! Ziplists (the compact encoding before Redis 7; still inside `RESTORE` payloads and RDB files
//! written by Redis 6 and older): reading with full validation.
//!
//! Layout: total bytes (u32 LE), offset of the last entry (u32 LE), entry count (u16 LE,
//! 65535 when unknown), the entries, and an end byte 0xff. An entry is the previous entry's
//! size (1 byte, or 0xfe and a u32 LE), an encoding and its data.

use super::reader::{decimal, Reader};
use super::RdbError;

const HEADER_SIZE: usize = 10;
const END: u8 = 0xff;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Every entry of `blob`, integers as their decimal text; refuses any malformed ziplist.
pub fn entries(blob: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let mut r = Reader::new(blob);
    let total = u32::from_le_bytes(r.array()?) as usize;
    let tail = u32::from_le_bytes(r.array()?) as usize;
    let count = u16::from_le_bytes(r.array()?);
    if total != blob.len() {
        return Err(RdbError::bad("ziplist size mismatch"));
    }
    let mut out = Vec::with_capacity(usize::from(count).min(blob.len() / 2));
    let mut prev_size = 0usize;
    let mut last_start = HEADER_SIZE;
    loop {
        let start = blob.len() - r.remaining();
        let first = r.u8()?;
        if first == END {
            break;
        }
        let prevlen = if first == 0xfe {
            u32::from_le_bytes(r.array()?) as usize
        } else {
            usize::from(first)
        };
        if prevlen != prev_size {
            return Err(RdbError::bad("ziplist prevlen mismatch"));
        }
        let enc = r.u8()?;
        let entry = match enc >> 6 {
            0 => r.take(usize::from(enc & 0x3f))?.to_vec(),
            1 => {
                let len = usize::from(enc & 0x3f) << 8 | usize::from(r.u8()?);
                r.take(len)?.to_vec()
            }
            2 if enc == 0x80 => {
                let len = u32::from_be_bytes(r.array()?) as usize;
                r.take(len)?.to_vec()
            }
            _ => match enc {
                0xc0 => decimal(i64::from(i16::from_le_bytes(r.array()?))),
                0xd0 => decimal(i64::from(i32::from_le_bytes(r.array()?))),
                0xe0 => decimal(i64::from_le_bytes(r.array()?)),
                0xf0 => {
                    let [a, b, c] = r.array()?;
                    decimal(i64::from(i32::from_le_bytes([0, a, b, c]) >> 8))
                }
                0xfe => decimal(i64::from(r.u8()? as i8)),
                0xf1..=0xfd => decimal(i64::from(enc & 0x0f) - 1),
                _ => return Err(RdbError::bad("unknown ziplist encoding")),
            },
        };
        prev_size = blob.len() - r.remaining() - start;
        last_start = start;
        out.push(entry);
    }
    if !r.is_empty() {
        return Err(RdbError::bad("bytes after the ziplist's end"));
    }
    if tail != last_start {
        return Err(RdbError::bad("ziplist tail offset mismatch"));
    }
    if count != COUNT_UNKNOWN && usize::from(count) != out.len() {
        return Err(RdbError::bad("ziplist count mismatch"));
    }
    Ok(out)
}

/// A ziplist of `items` (test payloads for old types; Redis 7 never writes ziplists).
#[cfg(test)]
pub fn build<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_SIZE];
    let mut prev = 0usize;
    let mut tail = HEADER_SIZE;
    let mut count = 0u16;
    for item in items {
        let start = out.len();
        tail = start;
        if prev < 254 {
            out.push(prev as u8);
        } else {
            out.push(0xfe);
            out.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match crate::resp::parse_i64(item) {
            Some(n @ 0..=12) => out.push(0xf1 + n as u8),
            Some(n) if i8::try_from(n).is_ok() => out.extend_from_slice(&[0xfe, n as u8]),
            Some(n) if i16::try_from(n).is_ok() => {
                out.push(0xc0);
                out.extend_from_slice(&(n as i16).to_le_bytes());
            }
            Some(n) if (-(1 << 23)..(1 << 23)).contains(&n) => {
                out.push(0xf0);
                out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            Some(n) if i32::try_from(n).is_ok() => {
                out.push(0xd0);
                out.extend_from_slice(&(n as i32).to_le_bytes());
            }
            Some(n) => {
                out.push(0xe0);
                out.extend_from_slice(&n.to_le_bytes());
            }
            None if item.len() < 64 => {
                out.push(item.len() as u8);
                out.extend_from_slice(item);
            }
            None if item.len() < 16384 => {
                out.push(0x40 | (item.len() >> 8) as u8);
                out.push(item.len() as u8);
                out.extend_from_slice(item);
            }
            None => {
                out.push(0x80);
                out.extend_from_slice(&(item.len() as u32).to_be_bytes());
                out.extend_from_slice(item);
            }
        }
        prev = out.len() - start;
        count += 1;
    }
    out.push(END);
    let total = out.len() as u32;
    out[0..4].copy_from_slice(&total.to_le_bytes());
    out[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    out[8..10].copy_from_slice(&count.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_redis_6_ziplist() {
        // The ziplist of `RPUSH l a 1 300` as Redis 6 writes it: header, "a" (6-bit string),
        // 1 (immediate), 300 (int16), end.
        let blob = [
            0x14, 0, 0, 0, 0x0f, 0, 0, 0, 3, 0, // zlbytes 20, zltail 15, zllen 3
            0x00, 0x01, b'a', // prevlen 0, "a"
            0x03, 0xf2, // prevlen 3, immediate 1
            0x02, 0xc0, 0x2c, 0x01, // prevlen 2, int16 300
            0xff,
        ];
        let want: Vec<&[u8]> = vec![b"a", b"1", b"300"];
        assert_eq!(entries(&blob).unwrap(), want);
        assert_eq!(build(want.iter().copied()), blob);
    }

    #[test]
    fn every_encoding_round_trips() {
        let long = "z".repeat(300);
        let huge = "h".repeat(17000);
        let items: Vec<&[u8]> = vec![
            b"0",
            b"12",
            b"13",
            b"-1",
            b"-200",
            b"30000",
            b"-8000000",
            b"2000000000",
            b"-9223372036854775808",
            b"abc",
            b"",
            long.as_bytes(),
            huge.as_bytes(),
            b"after",
        ];
        assert_eq!(entries(&build(items.iter().copied())).unwrap(), items);
    }

    #[test]
    fn malformed_ziplists_are_refused() {
        let good = build([&b"a"[..], b"b"]);
        for at in [0, 4, 8, 10, 13] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert!(entries(&bad).is_err(), "flipped byte {at}");
        }
        assert!(entries(&good[..good.len() - 1]).is_err());
        let mut bad = good.clone();
        bad[11] = 0xff; // no encoding starts with 0xff
        assert!(entries(&bad).is_err());
    }
}
