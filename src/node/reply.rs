//! Writing a reply in the client's protocol: RESP2, or RESP3 after `HELLO 3`.
//!
//! Handlers say what they mean (a map, a set, a double, a null) and the writer picks the frame
//! Redis 7.0 sends for that protocol, so no handler spells RESP itself.

use bytes::{BufMut, BytesMut};

use crate::resp::{write_array_header, write_bulk, write_error, write_integer, write_simple};

/// One client's pending output.
#[derive(Debug, Default)]
pub struct Reply {
    buf: BytesMut,
    resp3: bool,
}

impl Reply {
    pub fn new(resp3: bool) -> Reply {
        Reply {
            buf: BytesMut::with_capacity(4096),
            resp3,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Everything written so far, left in place (a reply read where it was written).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Everything written so far, leaving the writer empty.
    pub fn take(&mut self) -> BytesMut {
        self.buf.split()
    }

    /// Drops what was written after `len` (a reply abandoned half way).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Appends bytes that are already a complete RESP reply.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, text: &[u8]) {
        write_simple(&mut self.buf, text);
    }

    /// A `HELP` subcommand's reply: each line as a status string, as Redis's `addReplyHelp`.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for line in lines {
            self.simple(line.as_bytes());
        }
    }

    /// `-text`; `text` starts with the error code (`ERR`, `WRONGTYPE`, …).
    pub fn error(&mut self, text: &[u8]) {
        write_error(&mut self.buf, text);
    }

    pub fn int(&mut self, n: i64) {
        write_integer(&mut self.buf, n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        write_bulk(&mut self.buf, data);
    }

    /// An integer sent as a bulk string (a string value stored as an integer).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, len: usize) {
        write_array_header(&mut self.buf, len);
    }

    /// A map of `len` pairs: `%len` in RESP3, a flat array of `2 * len` in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len);
        } else {
            self.array(len * 2);
        }
    }

    /// A set: `~len` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'~', len);
        } else {
            self.array(len);
        }
    }

    /// An out-of-band push: `>len` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'>', len);
        } else {
            self.array(len);
        }
    }

    /// A double: `,text` in RESP3, a bulk string in RESP2, formatted as Redis 7.0 does
    /// (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, x: f64) {
        let text = format_double(x);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A big number: `(digits` in RESP3, a bulk string in RESP2 (scripts return these).
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.put_u8(b'(');
            self.buf.put_slice(digits);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// Human-readable text (`INFO`, `CLIENT LIST`): a verbatim `txt` string in RESP3, a bulk
    /// string in RESP2.
    /// Writes a decoded frame in this reply's protocol (maps and sets flattened for RESP2).
    pub fn frame(&mut self, frame: &crate::resp::Frame) {
        use crate::resp::Frame;
        match frame {
            Frame::Simple(b) => self.simple(b),
            Frame::Error(b) | Frame::BulkError(b) => self.error(b),
            Frame::Integer(n) => self.int(*n),
            Frame::Bulk(b) | Frame::BigNumber(b) => self.bulk(b),
            Frame::Null => self.null(),
            Frame::NullArray => self.null_array(),
            Frame::Array(items) => {
                self.array(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Set(items) => {
                self.set(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Push(items) => {
                self.push(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Map(pairs) => {
                self.map(pairs.len());
                for (k, v) in pairs {
                    self.frame(k);
                    self.frame(v);
                }
            }
            Frame::Double(x) => self.double(*x),
            Frame::Boolean(b) => self.boolean(*b),
            Frame::Verbatim { text, .. } => self.verbatim(text),
            // Attributes are out-of-band hints: the value is the reply.
            Frame::Attribute { value, .. } => self.frame(value),
        }
    }

    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            let mut n = itoa::Buffer::new();
            self.buf.put_u8(b'=');
            self.buf.put_slice(n.format(text.len() + 4).as_bytes());
            self.buf.put_slice(b"\r\ntxt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    fn header(&mut self, prefix: u8, len: usize) {
        let mut n = itoa::Buffer::new();
        self.buf.put_u8(prefix);
        self.buf.put_slice(n.format(len).as_bytes());
        self.buf.put_slice(b"\r\n");
    }
}

/// A double as Redis 7.0 replies with it: C's `%.17g`, with `inf`/`-inf` for infinities.
pub fn format_double(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    format_g(x, 17)
}

/// C's `%.{precision}g`: the shortest of fixed or exponent form for `precision` significant
/// digits, trailing zeros removed.
pub fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let p = precision.max(1);
    // Rounded to p significant digits first: the exponent after rounding decides the form.
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_printf_g17() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.25), "-2.25");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(
            format_double(123456789012345678.0),
            "1.2345678901234568e+17"
        );
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(-0.0), "-0");
    }

    #[test]
    fn protocol_decides_the_frame() {
        let mut r2 = Reply::new(false);
        r2.null();
        r2.map(1);
        r2.double(2.5);
        r2.boolean(true);
        assert_eq!(&r2.take()[..], b"$-1\r\n*2\r\n$3\r\n2.5\r\n:1\r\n");
        let mut r3 = Reply::new(true);
        r3.null();
        r3.map(1);
        r3.double(2.5);
        r3.boolean(true);
        r3.verbatim(b"hi");
        assert_eq!(&r3.take()[..], b"_\r\n%1\r\n,2.5\r\n#t\r\n=6\r\ntxt:hi\r\n");
    }
}
