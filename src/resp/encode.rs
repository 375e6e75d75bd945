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

/// A pub/sub confirmation `[kind, name, count]` (`name` nil when `None`): a push frame for a
/// RESP3 client (`push`), an array for a RESP2 one.
pub fn write_subscription_event(
    dst: &mut BytesMut,
    kind: &[u8],
    name: Option<&[u8]>,
    count: usize,
    push: bool,
) {
    dst.put_slice(if push { b">3\r\n" } else { b"*3\r\n" });
    write_bulk(dst, kind);
    match name {
        Some(name) => write_bulk(dst, name),
        None => dst.put_slice(b"$-1\r\n"),
    }
    write_integer(dst, count as i64);
}

/// What an unsubscribe command (`kind`: `unsubscribe`, `punsubscribe`, `sunsubscribe`) answers
/// when none of its kind is subscribed: each named channel with count 0, or one nil name.
pub fn write_not_subscribed<'a>(
    dst: &mut BytesMut,
    kind: &[u8],
    names: impl ExactSizeIterator<Item = &'a [u8]>,
    push: bool,
) {
    if names.len() == 0 {
        return write_subscription_event(dst, kind, None, 0, push);
    }
    for name in names {
        write_subscription_event(dst, kind, Some(name), 0, push);
    }
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
