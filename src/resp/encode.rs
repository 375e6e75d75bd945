//! Writing RESP.

use bytes::{BufMut, BytesMut};

fn write_line(dst: &mut BytesMut, prefix: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(n).as_bytes();
    dst.reserve(s.len() + 3);
    dst.put_u8(prefix);
    dst.put_slice(s);
    dst.put_slice(b"\r\n");
}

pub fn write_array_header(dst: &mut BytesMut, len: usize) {
    write_line(dst, b'*', len as i64);
}

pub fn write_bulk(dst: &mut BytesMut, data: &[u8]) {
    write_line(dst, b'$', data.len() as i64);
    dst.reserve(data.len() + 2);
    dst.put_slice(data);
    dst.put_slice(b"\r\n");
}

pub fn write_integer(dst: &mut BytesMut, n: i64) {
    write_line(dst, b':', n);
}

/// `+text\r\n`. `text` must not hold CR or LF; they are replaced by spaces if it does.
pub fn write_simple(dst: &mut BytesMut, text: &[u8]) {
    write_text_line(dst, b'+', text);
}

/// `-text\r\n`, where `text` starts with the error code (`ERR …`, `MOVED …`).
pub fn write_error(dst: &mut BytesMut, text: &[u8]) {
    write_text_line(dst, b'-', text);
}

fn write_text_line(dst: &mut BytesMut, prefix: u8, text: &[u8]) {
    dst.reserve(text.len() + 3);
    dst.put_u8(prefix);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        dst.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        dst.put_slice(text);
    }
    dst.put_slice(b"\r\n");
}

pub(crate) fn write_len_line(dst: &mut BytesMut, prefix: u8, len: usize) {
    write_line(dst, prefix, len as i64);
}
