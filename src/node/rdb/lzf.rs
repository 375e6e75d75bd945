//! LZF compression and decompression (liblzf's format, which Redis uses for long strings in RDB and `DUMP`).
//!
//! The stream is a sequence of runs: a control byte below 32 starts a literal run of
//! `ctrl + 1` bytes; any other is a back reference of `(ctrl >> 5) + 2` bytes (the 7 means "one
//! more length byte follows") at distance `((ctrl & 0x1f) << 8 | next) + 1` behind the output.
//! The output is allocated once, at the declared length, which callers bound first with
//! [`max_expansion`].

/// Longest output one input byte can stand for: a 3-byte back reference yields at most 264
/// bytes. A declared uncompressed length above `compressed * MAX_RATIO` cannot be honest.
const MAX_RATIO: usize = 88;

/// The largest uncompressed length `compressed_len` bytes of LZF can produce.
pub fn max_expansion(compressed_len: usize) -> usize {
    compressed_len.saturating_mul(MAX_RATIO)
}

/// Why a compressed stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzfError {
    #[error("LZF stream ends inside a run")]
    Truncated,
    #[error("LZF back reference points before the start of the output")]
    BadReference,
    #[error("LZF output is not the declared length")]
    WrongLength,
}

/// Decompresses `input` into exactly `out_len` bytes; fails unless the stream produces that
/// many bytes exactly. Allocates `out_len` bytes: callers cap it (see [`max_expansion`]).
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    if out_len > max_expansion(input.len()) {
        return Err(LzfError::WrongLength);
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > out_len {
                return Err(LzfError::WrongLength);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
                ip += 1;
            }
            let low = *input.get(ip).ok_or(LzfError::Truncated)? as usize;
            ip += 1;
            let distance = ((ctrl & 0x1f) << 8) + low + 1;
            let len = len + 2;
            if distance > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > out_len {
                return Err(LzfError::WrongLength);
            }
            let start = out.len() - distance;
            // Byte by byte: the reference may overlap what it produces (runs of a pattern).
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::WrongLength);
    }
    Ok(out)
}

/// Hash table size for [`compress`] (liblzf's `HLOG`).
const HLOG: u32 = 16;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The hash of the three bytes ending `h`'s lowest byte (liblzf's `VERY_FAST` `IDX`).
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & ((1 << HLOG) - 1)) as usize
}

/// Compresses `input` with liblzf 3.6's algorithm (`VERY_FAST`, a zeroed hash table, matches
/// allowed up to the input's end: what Debian's redis-server links); `None`
/// when the result would be longer than `limit` bytes.
pub fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 || limit == 0 {
        return None;
    }
    let mut htab = vec![0usize; 1 << HLOG];
    let mut out = Vec::with_capacity(limit.min(n + n / MAX_LIT + 1));
    // `out` always ends with the current literal run: its control byte, then `lit` bytes.
    let mut lit = 0usize;
    out.push(0);
    let mut ip = 0usize;
    let mut hval = if n >= 2 {
        u32::from(input[0]) << 8 | u32::from(input[1])
    } else {
        0
    };
    while ip + 2 < n {
        hval = hval << 8 | u32::from(input[ip + 2]);
        let slot = idx(hval);
        let r = htab[slot];
        htab[slot] = ip;
        let is_match =
            r > 0 && r < ip && ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3];
        if !is_match {
            // liblzf's own space checks, so it gives up (and Redis stores the string raw)
            // exactly where liblzf does.
            if out.len() >= limit {
                return None;
            }
            lit += 1;
            out.push(input[ip]);
            ip += 1;
            if lit == MAX_LIT {
                let at = out.len() - lit - 1;
                out[at] = (lit - 1) as u8;
                lit = 0;
                out.push(0);
            }
            continue;
        }
        let off = ip - r - 1;
        let maxlen = (n - ip - 2).min(MAX_REF);
        if out.len() + 4 >= limit && out.len() - usize::from(lit == 0) + 4 >= limit {
            return None;
        }
        end_run(&mut out, lit);
        let mut len = 2;
        let mut mismatched = false;
        if maxlen > 16 {
            for _ in 0..16 {
                len += 1;
                if input[r + len] != input[ip + len] {
                    mismatched = true;
                    break;
                }
            }
        }
        if !mismatched {
            loop {
                len += 1;
                if !(len < maxlen && input[r + len] == input[ip + len]) {
                    break;
                }
            }
        }
        let len = len - 2; // octets - 1
        ip += 1;
        if len < 7 {
            out.push(((off >> 8) + (len << 5)) as u8);
        } else {
            out.push(((off >> 8) + (7 << 5)) as u8);
            out.push((len - 7) as u8);
        }
        out.push(off as u8);
        lit = 0;
        out.push(0);
        ip += len + 1;
        if ip + 2 >= n {
            break;
        }
        ip -= 2;
        hval = u32::from(input[ip]) << 8 | u32::from(input[ip + 1]);
        for _ in 0..2 {
            hval = hval << 8 | u32::from(input[ip + 2]);
            htab[idx(hval)] = ip;
            ip += 1;
        }
    }
    // At most 3 bytes can be missing here (liblzf's test).
    if out.len() + 3 > limit {
        return None;
    }
    while ip < n {
        lit += 1;
        out.push(input[ip]);
        ip += 1;
        if lit == MAX_LIT {
            let at = out.len() - lit - 1;
            out[at] = (lit - 1) as u8;
            lit = 0;
            out.push(0);
        }
    }
    end_run(&mut out, lit);
    (out.len() <= limit).then_some(out)
}

/// Closes the literal run at the end of `out`: writes its control byte, or drops it if empty.
fn end_run(out: &mut Vec<u8>, lit: usize) {
    if lit == 0 {
        out.pop();
    } else {
        let at = out.len() - lit - 1;
        out[at] = (lit - 1) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_overlapping_references() {
        // "abc" literal, then a reference of 6 bytes at distance 3: "abcabcabc".
        let stream = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&stream, 9).unwrap(), b"abcabcabc");
        // A long reference: len 7 + 3 extra + 2 = 12 at distance 1.
        let stream = [0, b'x', (7 << 5), 3, 0];
        assert_eq!(decompress(&stream, 13).unwrap(), vec![b'x'; 13]);
    }

    #[test]
    fn gives_up_where_liblzf_does() {
        // redis-server stores this 21-byte string raw: liblzf runs out of its 17-byte budget
        // (len - 4) by its own conservative test, though the stream would fit.
        assert_eq!(compress(b"ababaaabbbbbbbabaabbb", 17), None);
    }

    #[test]
    fn redis_compressed_string() {
        // From redis-server 7.0.15: `SET k <"a" * 100>` then `DUMP k`, the LZF body of the
        // string (after 0xc3, compressed length 9 and uncompressed length 100).
        let stream = [0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&stream, 100).unwrap(), vec![b'a'; 100]);
    }

    #[test]
    fn compresses_like_redis() {
        // redis-server 7.0.15's LZF body for 100 × "a" (see `redis_compressed_string`).
        let out = compress(&[b'a'; 100], 96).unwrap();
        assert_eq!(out, [0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61]);
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz", 22), None);
    }

    proptest::proptest! {
        #[test]
        fn compression_round_trips(
            data in proptest::collection::vec(proptest::sample::select(b"abc\0".to_vec()), 0..3000)
        ) {
            if let Some(c) = compress(&data, data.len() + 64) {
                proptest::prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
            }
        }
    }

    #[test]
    fn bad_streams_are_refused() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[(1 << 5), 0], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::WrongLength));
        assert_eq!(decompress(&[1, b'a', b'b'], 1), Err(LzfError::WrongLength));
        assert_eq!(
            decompress(&[0, b'a'], 1_000_000),
            Err(LzfError::WrongLength)
        );
        assert_eq!(
            decompress(&[0, b'a', (7 << 5)], 10),
            Err(LzfError::Truncated)
        );
    }
}
