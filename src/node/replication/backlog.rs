//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream, so a
//! replica that lost its link for a moment can continue from its offset (`PSYNC` answered
//! `+CONTINUE`) instead of loading a whole snapshot again.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Backlog {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The stream offset of `bytes[0]`.
    first: u64,
}

impl Backlog {
    /// An empty backlog whose next byte is the stream's byte `offset + 1`, as Redis counts:
    /// the offset is the number of bytes sent so far.
    pub fn new(capacity: usize, offset: u64) -> Backlog {
        Backlog {
            bytes: VecDeque::new(),
            capacity: capacity.max(1),
            first: offset + 1,
        }
    }

    /// Appends what was just sent, dropping the oldest bytes past the capacity.
    pub fn push(&mut self, data: &[u8]) {
        // Bytes beyond the capacity in `data` itself are never held.
        let skipped = data.len().saturating_sub(self.capacity);
        let data = &data[skipped..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..excess);
        self.first += (excess + skipped) as u64;
        self.bytes.extend(data.iter().copied());
    }

    /// A new size (`CONFIG SET repl-backlog-size`): the newest bytes are kept.
    pub fn resize(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        let excess = self.bytes.len().saturating_sub(self.capacity);
        self.bytes.drain(..excess);
        self.first += excess as u64;
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The offset of the oldest byte held (`repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> u64 {
        self.first
    }

    /// How many bytes it holds (`repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes after stream offset `offset` (a replica that has `offset` bytes asks for the
    /// rest), or None when some of them are no longer held.
    pub fn since(&self, offset: u64) -> Option<Vec<u8>> {
        let end = self.first + self.bytes.len() as u64;
        let from = offset.checked_add(1)?;
        if from < self.first || from > end {
            return None;
        }
        let skip = (from - self.first) as usize;
        Some(self.bytes.range(skip..).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_their_offsets() {
        let mut b = Backlog::new(8, 100);
        assert_eq!(b.since(100), Some(vec![]));
        b.push(b"hello");
        assert_eq!(b.first_offset(), 101);
        assert_eq!(b.since(100).as_deref(), Some(&b"hello"[..]));
        assert_eq!(b.since(102).as_deref(), Some(&b"llo"[..]));
        b.push(b"world");
        // 10 bytes sent, 8 kept: offsets 103..=110.
        assert_eq!(b.len(), 8);
        assert_eq!(b.first_offset(), 103);
        assert_eq!(b.since(101), None, "two bytes are gone");
        assert_eq!(b.since(102).as_deref(), Some(&b"lloworld"[..]));
        assert_eq!(b.since(110).as_deref(), Some(&b""[..]));
        assert_eq!(b.since(111), None, "ahead of the stream");
        b.push(b"0123456789abc");
        assert_eq!(b.since(115).as_deref(), Some(&b"56789abc"[..]));
        b.resize(3);
        assert_eq!(b.since(120).as_deref(), Some(&b"abc"[..]));
        assert_eq!(b.since(119), None);
    }
}
