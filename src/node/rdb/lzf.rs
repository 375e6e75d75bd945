//! LZF decompression (liblzf's format, which Redis uses for long strings in RDB and `DUMP`).
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
    fn redis_compressed_string() {
        // From redis-server 7.0.15: `SET k <"a" * 100>` then `DUMP k`, the LZF body of the
        // string (after 0xc3, compressed length 9 and uncompressed length 100).
        let stream = [0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&stream, 100).unwrap(), vec![b'a'; 100]);
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
