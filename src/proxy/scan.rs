//! `SCAN` across masters: the proxy's cursor names a master and that master's own cursor, so
//! one full iteration visits every master once, one after the other.
//!
//! Proxy cursor = master's cursor × [`MAX_NODES`] + the master's index among the masters
//! sorted by address. A master's cursor of 0 moves on to the next master; after the last one,
//! the cursor is 0 again. Keys a master held for the whole iteration are returned, as Redis
//! promises, as long as the set of masters does not change during it.

use bytes::{Bytes, BytesMut};

use super::gather::array_elements;
use crate::resp::{write_array_header, write_bulk};

/// The most masters a cursor can name.
pub const MAX_NODES: u64 = 1024;

/// Where a client's cursor points: (master index, that master's cursor).
pub fn decode_cursor(cursor: &[u8]) -> Option<(usize, u64)> {
    let c: u64 = std::str::from_utf8(cursor).ok()?.parse().ok()?;
    Some(((c % MAX_NODES) as usize, c / MAX_NODES))
}

/// The cursor to give the client after master `node` of `nodes` answered `next`.
pub fn next_cursor(node: usize, nodes: usize, next: u64) -> Option<u64> {
    if next == 0 {
        return Some(if node + 1 < nodes { node as u64 + 1 } else { 0 });
    }
    next.checked_mul(MAX_NODES)?.checked_add(node as u64)
}

/// Rewrites a master's `[cursor, keys]` reply with the proxy's cursor. Errors pass through.
pub fn rewrite_reply(reply: Bytes, node: usize, nodes: usize) -> Bytes {
    if reply.first() != Some(&b'*') {
        return reply;
    }
    let rewritten = array_elements(&reply).and_then(|elements| {
        let [cursor, keys] = elements[..] else {
            return None;
        };
        let digits = cursor.strip_prefix(b"$")?;
        let start = digits.iter().position(|&b| b == b'\n')? + 1;
        let text = std::str::from_utf8(digits.get(start..digits.len() - 2)?).ok()?;
        let next = next_cursor(node, nodes, text.parse().ok()?)?;
        let mut out = BytesMut::with_capacity(reply.len() + 8);
        write_array_header(&mut out, 2);
        write_bulk(&mut out, next.to_string().as_bytes());
        out.extend_from_slice(keys);
        Some(out.freeze())
    });
    rewritten.unwrap_or_else(|| Bytes::from_static(b"-ERR slotgate cannot read a SCAN reply\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_walk_every_master_in_turn() {
        assert_eq!(decode_cursor(b"0"), Some((0, 0)));
        assert_eq!(next_cursor(0, 3, 0), Some(1));
        assert_eq!(decode_cursor(b"1"), Some((1, 0)));
        assert_eq!(next_cursor(1, 3, 17), Some(17 * 1024 + 1));
        assert_eq!(decode_cursor(b"17409"), Some((1, 17)));
        assert_eq!(next_cursor(2, 3, 0), Some(0));
        assert_eq!(decode_cursor(b"x"), None);
        assert_eq!(decode_cursor(b"-1"), None);
    }

    #[test]
    fn replies_get_the_proxy_cursor() {
        let reply = Bytes::from_static(b"*2\r\n$2\r\n12\r\n*1\r\n$1\r\nk\r\n");
        assert_eq!(
            &rewrite_reply(reply, 2, 3)[..],
            b"*2\r\n$5\r\n12290\r\n*1\r\n$1\r\nk\r\n"
        );
        let last = Bytes::from_static(b"*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(&rewrite_reply(last, 2, 3)[..], b"*2\r\n$1\r\n0\r\n*0\r\n");
        let err = Bytes::from_static(b"-ERR x\r\n");
        assert_eq!(&rewrite_reply(err.clone(), 0, 1)[..], &err[..]);
    }
}
