//! A whole RESP value, built when the proxy needs to look inside a reply.

use bytes::{BufMut, Bytes, BytesMut};

use super::encode::{write_array_header, write_bulk, write_integer, write_len_line};
use super::{find_crlf, parse_i64, FrameScanner, Limits, ProtocolError};

/// Any RESP2 or RESP3 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2's null bulk string (`$-1`) and RESP3's null (`_`); encoded as `$-1`.
    Null,
    /// RESP2's null array (`*-1`).
    NullArray,
    Array(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    BigNumber(Bytes),
    BulkError(Bytes),
    Verbatim {
        format: [u8; 3],
        text: Bytes,
    },
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Attribute {
        attributes: Vec<(Frame, Frame)>,
        value: Box<Frame>,
    },
}

impl Frame {
    /// Decodes one frame from a buffer that holds it whole, returning it and the bytes it took;
    /// `Ok(None)` if the frame is not complete yet.
    pub fn decode(buf: &Bytes, limits: Limits) -> Result<Option<(Frame, usize)>, ProtocolError> {
        let Some(len) = FrameScanner::new(limits).scan(buf)? else {
            return Ok(None);
        };
        let mut pos = 0;
        let frame = build(buf, &mut pos)?;
        debug_assert_eq!(pos, len);
        Ok(Some((frame, len)))
    }

    /// Like [`Frame::decode`], taking the frame off the front of a growing buffer.
    pub fn decode_from(buf: &mut BytesMut, limits: Limits) -> Result<Option<Frame>, ProtocolError> {
        let Some(len) = FrameScanner::new(limits).scan(buf)? else {
            return Ok(None);
        };
        let bytes = buf.split_to(len).freeze();
        let mut pos = 0;
        build(&bytes, &mut pos).map(Some)
    }

    pub fn simple(s: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(s.as_bytes()))
    }

    pub fn error(text: impl Into<Bytes>) -> Frame {
        Frame::Error(text.into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BulkError(_))
    }

    /// The bytes of a string-like frame.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b)
            | Frame::Bulk(b)
            | Frame::Error(b)
            | Frame::BulkError(b)
            | Frame::BigNumber(b)
            | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }

    /// Writes the frame as RESP. RESP3-only types are written in RESP3 form.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(dst, b'+', s),
            Frame::Error(s) => line(dst, b'-', s),
            Frame::Integer(n) => write_integer(dst, *n),
            Frame::Bulk(b) => write_bulk(dst, b),
            Frame::Null => dst.put_slice(b"$-1\r\n"),
            Frame::NullArray => dst.put_slice(b"*-1\r\n"),
            Frame::Array(v) => {
                write_array_header(dst, v.len());
                v.iter().for_each(|f| f.encode(dst));
            }
            Frame::Double(d) => {
                let text = if d.is_nan() {
                    "nan".to_string()
                } else if d.is_infinite() {
                    if *d > 0.0 { "inf" } else { "-inf" }.to_string()
                } else {
                    d.to_string()
                };
                line(dst, b',', text.as_bytes());
            }
            Frame::Boolean(b) => dst.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(s) => line(dst, b'(', s),
            Frame::BulkError(s) => blob(dst, b'!', s),
            Frame::Verbatim { format, text } => {
                write_len_line(dst, b'=', text.len() + 4);
                dst.put_slice(format);
                dst.put_u8(b':');
                dst.put_slice(text);
                dst.put_slice(b"\r\n");
            }
            Frame::Map(pairs) => pairs_out(dst, b'%', pairs),
            Frame::Set(v) => {
                write_len_line(dst, b'~', v.len());
                v.iter().for_each(|f| f.encode(dst));
            }
            Frame::Push(v) => {
                write_len_line(dst, b'>', v.len());
                v.iter().for_each(|f| f.encode(dst));
            }
            Frame::Attribute { attributes, value } => {
                pairs_out(dst, b'|', attributes);
                value.encode(dst);
            }
        }
    }

    /// The frame encoded, as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

fn line(dst: &mut BytesMut, prefix: u8, s: &[u8]) {
    dst.reserve(s.len() + 3);
    dst.put_u8(prefix);
    dst.put_slice(s);
    dst.put_slice(b"\r\n");
}

fn blob(dst: &mut BytesMut, prefix: u8, s: &[u8]) {
    write_len_line(dst, prefix, s.len());
    dst.put_slice(s);
    dst.put_slice(b"\r\n");
}

fn pairs_out(dst: &mut BytesMut, prefix: u8, pairs: &[(Frame, Frame)]) {
    write_len_line(dst, prefix, pairs.len());
    for (k, v) in pairs {
        k.encode(dst);
        v.encode(dst);
    }
}

/// Builds the frame at `*pos` of a buffer the scanner has already checked to hold a whole,
/// bounded frame (so recursion depth is bounded too).
fn build(buf: &Bytes, pos: &mut usize) -> Result<Frame, ProtocolError> {
    let start = *pos;
    let ty = *buf.get(start).ok_or(ProtocolError::MissingCrlf)?;
    let cr = find_crlf(buf, start + 1).ok_or(ProtocolError::MissingCrlf)?;
    let line = buf.slice(start + 1..cr);
    *pos = cr + 2;
    let invalid = |kind: &'static str| ProtocolError::InvalidValue {
        kind,
        value: line.to_vec(),
    };
    let count = || parse_i64(&line).ok_or(ProtocolError::InvalidMultibulkLength);
    Ok(match ty {
        b'+' => Frame::Simple(line),
        b'-' => Frame::Error(line),
        b':' => Frame::Integer(parse_i64(&line).ok_or_else(|| invalid("integer"))?),
        b'_' => Frame::Null,
        b'#' => match &line[..] {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(invalid("boolean")),
        },
        b',' => Frame::Double(parse_double(&line).ok_or_else(|| invalid("double"))?),
        b'(' => Frame::BigNumber(line),
        b'$' | b'!' | b'=' => {
            let len = parse_i64(&line).ok_or(ProtocolError::InvalidBulkLength)?;
            if len < 0 {
                return Ok(Frame::Null);
            }
            let data_start = *pos;
            let end = data_start + len as usize;
            *pos = end + 2;
            let data = buf.slice(data_start..end);
            match ty {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::BulkError(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err(invalid("verbatim string"));
                    }
                    Frame::Verbatim {
                        format: [data[0], data[1], data[2]],
                        text: data.slice(4..),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let n = count()?;
            if n < 0 {
                return Ok(Frame::NullArray);
            }
            let items = (0..n)
                .map(|_| build(buf, pos))
                .collect::<Result<Vec<_>, _>>()?;
            match ty {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                _ => Frame::Push(items),
            }
        }
        b'%' | b'|' => {
            let n = count()?;
            let pairs = (0..n.max(0))
                .map(|_| Ok((build(buf, pos)?, build(buf, pos)?)))
                .collect::<Result<Vec<_>, ProtocolError>>()?;
            if ty == b'%' {
                Frame::Map(pairs)
            } else {
                Frame::Attribute {
                    attributes: pairs,
                    value: Box::new(build(buf, pos)?),
                }
            }
        }
        other => return Err(ProtocolError::InvalidType(other)),
    })
}

fn parse_double(s: &[u8]) -> Option<f64> {
    match s {
        b"inf" | b"+inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        b"nan" | b"-nan" => Some(f64::NAN),
        _ => std::str::from_utf8(s).ok()?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &'static [u8]) -> Frame {
        Frame::decode(&Bytes::from_static(input), Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn decodes_every_type() {
        assert_eq!(decode(b"+OK\r\n"), Frame::simple("OK"));
        assert_eq!(decode(b":-5\r\n"), Frame::Integer(-5));
        assert_eq!(decode(b"$-1\r\n"), Frame::Null);
        assert_eq!(decode(b"_\r\n"), Frame::Null);
        assert_eq!(decode(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(decode(b",inf\r\n"), Frame::Double(f64::INFINITY));
        assert_eq!(decode(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(
            decode(b"=8\r\ntxt:abcd\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"abcd")
            }
        );
        assert_eq!(
            decode(b"%1\r\n+a\r\n~1\r\n:1\r\n"),
            Frame::Map(vec![(
                Frame::simple("a"),
                Frame::Set(vec![Frame::Integer(1)])
            )])
        );
        assert_eq!(
            decode(b"|1\r\n+k\r\n+v\r\n>1\r\n:1\r\n"),
            Frame::Attribute {
                attributes: vec![(Frame::simple("k"), Frame::simple("v"))],
                value: Box::new(Frame::Push(vec![Frame::Integer(1)]))
            }
        );
    }

    #[test]
    fn rejects_bad_scalars() {
        let bad = Frame::decode(&Bytes::from_static(b":x\r\n"), Limits::default());
        assert!(matches!(
            bad,
            Err(ProtocolError::InvalidValue {
                kind: "integer",
                ..
            })
        ));
    }
}
