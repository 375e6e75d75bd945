//! Listpacks (Redis 7's compact encoding of small hashes, sorted sets and list nodes): reading
//! with full validation, and writing the way Redis encodes each entry.
//!
//! Layout: total bytes (u32 LE), entry count (u16 LE, 65535 when unknown), the entries, and an
//! end byte 0xff. An entry is its encoding byte(s), its data, and a "backlen": the size of the
//! encoding plus data, in 1–5 bytes of 7 bits, read from the right.

use super::reader::{decimal, Reader};
use super::RdbError;
use crate::resp::parse_i64;

const HEADER_SIZE: usize = 6;
const END: u8 = 0xff;
/// The entry count a listpack stores when it has too many entries to count in 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Every entry of `blob`, integers as their decimal text; refuses any malformed listpack.
pub fn entries(blob: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    let mut r = Reader::new(blob);
    let total = u32::from_le_bytes(r.array()?) as usize;
    let count = u16::from_le_bytes(r.array()?);
    if total != blob.len() || total < HEADER_SIZE + 1 {
        return Err(RdbError::bad("listpack size mismatch"));
    }
    // Each entry takes at least 2 bytes, so this reservation is bounded by the blob.
    let mut out = Vec::with_capacity(usize::from(count).min(blob.len() / 2));
    loop {
        let start = blob.len() - r.remaining();
        let first = r.u8()?;
        if first == END {
            break;
        }
        let entry = match first {
            0x00..=0x7f => decimal(i64::from(first)),
            0x80..=0xbf => r.take(usize::from(first & 0x3f))?.to_vec(),
            0xc0..=0xdf => {
                let raw = i64::from(first & 0x1f) << 8 | i64::from(r.u8()?);
                decimal(if raw >= 1 << 12 { raw - (1 << 13) } else { raw })
            }
            0xe0..=0xef => {
                let len = usize::from(first & 0x0f) << 8 | usize::from(r.u8()?);
                r.take(len)?.to_vec()
            }
            0xf0 => {
                let len = u32::from_le_bytes(r.array()?) as usize;
                r.take(len)?.to_vec()
            }
            0xf1 => decimal(i64::from(i16::from_le_bytes(r.array()?))),
            0xf2 => {
                let [a, b, c] = r.array()?;
                decimal(i64::from(i32::from_le_bytes([0, a, b, c]) >> 8))
            }
            0xf3 => decimal(i64::from(i32::from_le_bytes(r.array()?))),
            0xf4 => decimal(i64::from_le_bytes(r.array()?)),
            _ => return Err(RdbError::bad("unknown listpack encoding")),
        };
        let size = blob.len() - r.remaining() - start;
        let backlen = r.take(backlen_size(size))?;
        if decode_backlen(backlen) != Some(size) {
            return Err(RdbError::bad("listpack backlen mismatch"));
        }
        out.push(entry);
    }
    if !r.is_empty() {
        return Err(RdbError::bad("bytes after the listpack's end"));
    }
    if count != COUNT_UNKNOWN && usize::from(count) != out.len() {
        return Err(RdbError::bad("listpack count mismatch"));
    }
    Ok(out)
}

/// A listpack of `items`, each encoded as Redis would (integers as integers).
pub fn build<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_SIZE];
    let mut count = 0usize;
    for item in items {
        let start = out.len();
        encode_entry(&mut out, item);
        let size = out.len() - start;
        encode_backlen(&mut out, size);
        count += 1;
    }
    out.push(END);
    let total = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out[0..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::try_from(count).unwrap_or(COUNT_UNKNOWN);
    out[4..6].copy_from_slice(&count.to_le_bytes());
    out
}

/// The size of a listpack entry holding `item` (encoding, data and backlen).
pub fn entry_size(item: &[u8]) -> usize {
    let encoded = if item.len() <= 20 {
        parse_i64(item).map(int_size)
    } else {
        None
    };
    let encoded = encoded.unwrap_or_else(|| {
        let len = item.len();
        let header = match len {
            0..=63 => 1,
            64..=4095 => 2,
            _ => 5,
        };
        header + len
    });
    encoded + backlen_size(encoded)
}

/// The bytes of the integer entry `n` without its back length (what [`encode_int`] writes).
pub fn int_size(n: i64) -> usize {
    if (0..=127).contains(&n) {
        1
    } else if (-4096..=4095).contains(&n) {
        2
    } else if i16::try_from(n).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&n) {
        4
    } else if i32::try_from(n).is_ok() {
        5
    } else {
        9
    }
}

/// The bytes of the entry holding the integer `n`, back length included.
pub fn int_entry_size(n: i64) -> usize {
    let encoded = int_size(n);
    encoded + backlen_size(encoded)
}

fn encode_entry(out: &mut Vec<u8>, item: &[u8]) {
    if item.len() <= 20 {
        if let Some(n) = parse_i64(item) {
            encode_int(out, n);
            return;
        }
    }
    let len = item.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.push(0xe0 | (len >> 8) as u8);
        out.push(len as u8);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(item);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if (0..=127).contains(&n) {
        out.push(n as u8);
    } else if (-4096..=4095).contains(&n) {
        let v = (n & 0x1fff) as u16;
        out.push(0xc0 | (v >> 8) as u8);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(0xf1);
        out.extend_from_slice(&v.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&n) {
        out.push(0xf2);
        out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
    } else if let Ok(v) = i32::try_from(n) {
        out.push(0xf3);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(0xf4);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Writes `size` as Redis's `lpEncodeBacklen`: most significant 7 bits first, every byte but
/// the first with its high bit set.
fn encode_backlen(out: &mut Vec<u8>, size: usize) {
    let n = backlen_size(size);
    for i in (0..n).rev() {
        let bits = ((size >> (7 * i)) & 0x7f) as u8;
        out.push(if i == n - 1 { bits } else { bits | 0x80 });
    }
}

fn decode_backlen(bytes: &[u8]) -> Option<usize> {
    let mut size = 0usize;
    for (i, &b) in bytes.iter().rev().enumerate() {
        let more = b & 0x80 != 0;
        if more != (i + 1 < bytes.len()) {
            return None;
        }
        size |= usize::from(b & 0x7f) << (7 * i);
    }
    Some(size)
}

#[cfg(test)]
mod tests {
    use crate::node::rdb::test_bytes::hex;

    #[test]
    fn entry_sizes_are_what_encoding_writes() {
        let mut items: Vec<Vec<u8>> = Vec::new();
        for n in [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            32768,
            1 << 23,
            -(1 << 23),
            i32::MAX as i64,
            i32::MIN as i64,
            1 << 40,
            i64::MIN,
            i64::MAX,
        ] {
            items.push(n.to_string().into_bytes());
        }
        for len in [0usize, 1, 63, 64, 4095, 4096, 20_000] {
            items.push(vec![b'x'; len]);
        }
        items.push(b"007".to_vec());
        items.push(b"-0".to_vec());
        for item in items {
            let mut buf = Vec::new();
            encode_entry(&mut buf, &item);
            assert_eq!(
                entry_size(&item),
                buf.len() + backlen_size(buf.len()),
                "{item:?}"
            );
            if let Some(n) = parse_i64(&item) {
                assert_eq!(int_entry_size(n), entry_size(&item));
            }
        }
    }

    use super::*;

    /// The listpack of `HSET h f1 v1 f2 2 num 123456` on redis-server 7.0.15 (from its DUMP).
    const REDIS_HASH: &str = "1f00000006008266310382763103826632030201836e756d04f240e20104ff";

    #[test]
    fn reads_and_writes_what_redis_does() {
        let blob = hex(REDIS_HASH);
        let items = entries(&blob).unwrap();
        let want: Vec<&[u8]> = vec![b"f1", b"v1", b"f2", b"2", b"num", b"123456"];
        assert_eq!(items, want);
        assert_eq!(build(want.iter().copied()), blob);
    }

    #[test]
    fn every_integer_width_round_trips() {
        let values = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "40000",
            "-8388608",
            "8388607",
            "8388608",
            "2147483647",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "1.5",
            "",
        ];
        let long = "x".repeat(5000);
        let mid = "y".repeat(300);
        let mut all: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        all.push(long.as_bytes());
        all.push(mid.as_bytes());
        let blob = build(all.iter().copied());
        assert_eq!(entries(&blob).unwrap(), all);
        assert_eq!(
            blob.len(),
            HEADER_SIZE + 1 + all.iter().map(|i| entry_size(i)).sum::<usize>()
        );
    }

    #[test]
    fn malformed_listpacks_are_refused() {
        let good = build([&b"a"[..], b"1"]);
        let mut bad = good.clone();
        bad[0] += 1;
        assert!(entries(&bad).is_err(), "total size");
        let mut bad = good.clone();
        bad[4] = 3;
        assert!(entries(&bad).is_err(), "count");
        let mut bad = good.clone();
        bad[8] = 5;
        assert!(entries(&bad).is_err(), "backlen");
        assert!(entries(&good[..good.len() - 1]).is_err(), "no end byte");
        assert!(entries(&[]).is_err());
    }
}
