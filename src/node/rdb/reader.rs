//! A bounded cursor over untrusted bytes, and RDB's length and string encodings.
//!
//! Every read checks the bytes remaining first; a declared length is never trusted for an
//! allocation before the bytes it announces are known to be there (LZF's uncompressed length
//! is bounded by what its compressed bytes can expand to, see [`lzf::max_expansion`]).

use super::lzf;
use super::RdbError;

/// `11xxxxxx` length bytes: a special encoding, not a length.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Reads forward through a byte slice; every read fails cleanly at the end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length as RDB writes it, or one of the special string encodings.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// How many bytes have been read: where the next read starts, for error messages.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if n > self.remaining() {
            return Err(RdbError::bad("truncated"));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len_or_encoding(&mut self) -> Result<Len, RdbError> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError::bad("unknown length encoding")),
            },
            _ => Len::Encoded(first & 0x3f),
        })
    }

    /// An RDB length (`rdbLoadLen`), as a `usize`.
    pub fn len(&mut self) -> Result<usize, RdbError> {
        match self.len_or_encoding()? {
            Len::Plain(n) => usize::try_from(n).map_err(|_| RdbError::bad("length too large")),
            Len::Encoded(_) => Err(RdbError::bad("encoded value where a length belongs")),
        }
    }

    /// A count of things that each take at least `min_size` bytes: refused when the bytes
    /// left cannot hold them, so it is safe to reserve that many.
    pub fn count(&mut self, min_size: usize) -> Result<usize, RdbError> {
        let n = self.len()?;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(RdbError::bad("count larger than the payload"));
        }
        Ok(n)
    }

    /// An RDB string (`rdbGenericLoadStringObject`): raw, integer-encoded (as its decimal
    /// text) or LZF-compressed.
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_encoding()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::bad("length too large"))?;
                Ok(self.take(n)?.to_vec())
            }
            Len::Encoded(ENC_INT8) => Ok(decimal(i64::from(self.u8()? as i8))),
            Len::Encoded(ENC_INT16) => Ok(decimal(i64::from(i16::from_le_bytes(self.array()?)))),
            Len::Encoded(ENC_INT32) => Ok(decimal(i64::from(i32::from_le_bytes(self.array()?)))),
            Len::Encoded(ENC_LZF) => {
                let compressed_len = self.len()?;
                let out_len = self.len()?;
                let compressed = self.take(compressed_len)?;
                if out_len > lzf::max_expansion(compressed.len()) {
                    return Err(RdbError::bad(
                        "LZF length beyond what its input can expand to",
                    ));
                }
                lzf::decompress(compressed, out_len).map_err(|_| RdbError::bad("bad LZF data"))
            }
            Len::Encoded(_) => Err(RdbError::bad("unknown string encoding")),
        }
    }

    /// A double as the old `ZSET` type writes it: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many bytes of decimal text.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_double(self.take(n as usize)?),
        }
    }

    /// A double as `ZSET_2` writes it: 8 bytes, little-endian IEEE 754.
    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

/// `n` as decimal text.
pub fn decimal(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// A score written as text (`strtod`'s job in Redis): decimal, exponent, `inf`, `-inf`.
pub fn parse_double(text: &[u8]) -> Result<f64, RdbError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(RdbError::bad("bad double"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_in_every_width() {
        let mut r = Reader::new(&[
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 9,
        ]);
        assert_eq!(r.len().unwrap(), 5);
        assert_eq!(r.len().unwrap(), 0x102);
        assert_eq!(r.len().unwrap(), 0x10000);
        assert_eq!(r.len().unwrap(), 9);
        assert!(r.is_empty());
        assert!(Reader::new(&[0x82]).len().is_err());
        assert!(Reader::new(&[0x80, 0]).len().is_err());
    }

    #[test]
    fn strings_in_every_encoding() {
        // Captured from redis-server 7.0.15 DUMPs (type byte and footer removed).
        let cases: &[(&[u8], &[u8])] = &[
            (&[0xc0, 0xff], b"-1"),
            (&[0xc1, 0x80, 0x00], b"128"),
            (&[0xc2, 0xff, 0x7f, 0xff, 0xff], b"-32769"),
            (b"\x0a2147483648", b"2147483648"),
            (b"\x03007", b"007"),
        ];
        for (bytes, text) in cases {
            let mut r = Reader::new(bytes);
            assert_eq!(r.string().unwrap(), *text);
            assert!(r.is_empty());
        }
        // `SET k <"a" * 100>`: LZF, 9 compressed bytes, 100 uncompressed.
        let lzf = [
            0xc3, 0x09, 0x40, 0x64, 0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61,
        ];
        assert_eq!(Reader::new(&lzf).string().unwrap(), vec![b'a'; 100]);
    }

    #[test]
    fn declared_lengths_beyond_the_bytes_are_refused() {
        assert!(Reader::new(&[0x80, 0xff, 0xff, 0xff, 0xff])
            .string()
            .is_err());
        assert!(Reader::new(&[0x05, b'a']).string().is_err());
        // LZF claiming 1 GiB from 2 bytes.
        assert!(Reader::new(&[0xc3, 0x02, 0x80, 0x40, 0, 0, 0, 0, b'a'])
            .string()
            .is_err());
        assert!(Reader::new(&[0x10, 1, 2]).count(1).is_err());
    }

    #[test]
    fn text_doubles() {
        let mut r = Reader::new(&[253, 254, 255, 3, b'2', b'.', b'5']);
        assert!(r.text_double().unwrap().is_nan());
        assert_eq!(r.text_double().unwrap(), f64::INFINITY);
        assert_eq!(r.text_double().unwrap(), f64::NEG_INFINITY);
        assert_eq!(r.text_double().unwrap(), 2.5);
    }
}
