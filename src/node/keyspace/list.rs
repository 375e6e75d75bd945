//! List values, stored like Redis's quicklist: a deque of packed chunks.
//!
//! Each chunk is one byte buffer of entries, the way a listpack packs them: an entry is its
//! length (LEB128), its bytes, and the same length again written backwards, so a chunk reads
//! from either end. A chunk holds at most `list-max-listpack-size` worth (8 KB or a count, as
//! Redis reads that setting); an element bigger than that gets a chunk of its own. Pushes and
//! pops at the ends touch one chunk; index work skips whole chunks by their counts.

use std::collections::VecDeque;

/// Redis's `list-max-listpack-size` default: 8 KB per node.
const DEFAULT_FILL: i32 = -2;
/// For a count fill, a node still stays under this many bytes (Redis's `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;

/// A list of byte strings.
#[derive(Debug, Clone)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// `list-max-listpack-size` when the list was created, as in Redis's quicklist.
    fill: i32,
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    /// An empty list with the default node size.
    pub fn new() -> List {
        List::with_fill(DEFAULT_FILL as i64)
    }

    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`.
    pub fn with_fill(fill: i64) -> List {
        List {
            chunks: VecDeque::new(),
            len: 0,
            fill: fill.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        }
    }

    /// A list of `items`, front to back (`RESTORE`, `SORT … STORE`).
    pub fn from_items<I, T>(fill: i64, items: I) -> List
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut list = List::with_fill(fill);
        for item in items {
            list.push_back(item.as_ref());
        }
        list
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What `OBJECT ENCODING` answers: Redis 7.0 keeps every list in a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// How many nodes the list has (`DEBUG`-style introspection and tests).
    pub fn node_count(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes the list holds in its nodes, headers included (`MEMORY USAGE`).
    pub fn allocated_bytes(&self) -> usize {
        std::mem::size_of::<List>()
            + self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.buf.capacity()).sum::<usize>()
    }

    /// The elements front to back.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The elements from index `start` (0-based from the front) on, front to back.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let mut skip = start;
        let mut first = 0;
        for c in &self.chunks {
            if skip < c.count {
                break;
            }
            skip -= c.count;
            first += 1;
        }
        self.chunks
            .range(first.min(self.chunks.len())..)
            .flat_map(|c| c.iter())
            .skip(skip)
    }

    /// The elements from index `start` backwards to the front.
    pub fn iter_rev_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let skip = self.len.saturating_sub(start.saturating_add(1));
        let mut left = skip;
        let mut last = self.chunks.len();
        for c in self.chunks.iter().rev() {
            if left < c.count {
                break;
            }
            left -= c.count;
            last -= 1;
        }
        self.chunks
            .range(..last)
            .rev()
            .flat_map(|c| c.iter().rev())
            .skip(left)
    }

    /// Element `index` from the front.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (ci, i) = self.locate(index)?;
        self.chunks[ci].iter().nth(i)
    }

    pub fn front(&self) -> Option<&[u8]> {
        self.chunks.front().and_then(|c| c.iter().next())
    }

    pub fn back(&self) -> Option<&[u8]> {
        self.chunks.back().and_then(|c| c.iter().next_back())
    }

    pub fn push_back(&mut self, item: &[u8]) {
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| fits(self.fill, c, item.len()));
        if !fits {
            self.chunks.push_back(Chunk::default());
        }
        if let Some(c) = self.chunks.back_mut() {
            c.insert_at(c.buf.len(), item);
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, item: &[u8]) {
        let fits = self
            .chunks
            .front()
            .is_some_and(|c| fits(self.fill, c, item.len()));
        if !fits {
            self.chunks.push_front(Chunk::default());
        }
        if let Some(c) = self.chunks.front_mut() {
            c.insert_at(0, item);
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.front_mut()?;
        let (start, end) = c.first_span()?;
        let item = c.remove_span(start, end);
        if c.count == 0 {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(item)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.back_mut()?;
        let (start, end) = c.last_span()?;
        let item = c.remove_span(start, end);
        if c.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(item)
    }

    /// Replaces element `index`; false if out of range.
    pub fn set(&mut self, index: usize, item: &[u8]) -> bool {
        let Some((ci, i)) = self.locate(index) else {
            return false;
        };
        let c = &mut self.chunks[ci];
        let (start, end) = c.span(i);
        c.buf.splice(start..end, encode(item));
        self.split_if_big(ci);
        true
    }

    /// Inserts `item` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        if index == 0 {
            return self.push_front(item);
        }
        if index >= self.len {
            return self.push_back(item);
        }
        let Some((ci, i)) = self.locate(index) else {
            return self.push_back(item);
        };
        let c = &mut self.chunks[ci];
        let (start, _) = c.span(i);
        c.insert_at(start, item);
        self.len += 1;
        self.split_if_big(ci);
    }

    /// Removes element `index`, returning it.
    pub fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        let (ci, i) = self.locate(index)?;
        let c = &mut self.chunks[ci];
        let (start, end) = c.span(i);
        let item = c.remove_span(start, end);
        if c.count == 0 {
            self.chunks.remove(ci);
        }
        self.len -= 1;
        Some(item)
    }

    /// Keeps the elements for which `keep` answers true, front to back, and merges nodes
    /// left small (`LREM`).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let old = std::mem::take(&mut self.chunks);
        self.len = 0;
        for c in &old {
            for item in c.iter() {
                if keep(item) {
                    self.push_back(item);
                }
            }
        }
    }

    /// Keeps elements `start..=end` only (`LTRIM`); both in range, `start <= end`.
    pub fn trim(&mut self, start: usize, end: usize) {
        let end = end.min(self.len.saturating_sub(1));
        if start > end || self.len == 0 {
            self.chunks.clear();
            self.len = 0;
            return;
        }
        let keep_tail = self.len - 1 - end;
        // Whole nodes first, then single elements.
        let mut drop_front = start;
        while let Some(c) = self.chunks.front() {
            if c.count > drop_front {
                break;
            }
            drop_front -= c.count;
            self.len -= c.count;
            self.chunks.pop_front();
        }
        let mut drop_back = keep_tail;
        while let Some(c) = self.chunks.back() {
            if c.count > drop_back {
                break;
            }
            drop_back -= c.count;
            self.len -= c.count;
            self.chunks.pop_back();
        }
        for _ in 0..drop_front {
            self.pop_front();
        }
        for _ in 0..drop_back {
            self.pop_back();
        }
    }

    /// (node, index in node) of element `index`.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut i = index;
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count {
                    return Some((ci, i));
                }
                i -= c.count;
            }
        } else {
            let mut from_back = self.len - 1 - index;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_back < c.count {
                    return Some((ci, c.count - 1 - from_back));
                }
                from_back -= c.count;
            }
        }
        None
    }

    /// Splits node `ci` in two when an edit grew it past the node size.
    fn split_if_big(&mut self, ci: usize) {
        let c = &self.chunks[ci];
        if c.count < 2 || within_limit(self.fill, c.buf.len(), c.count) {
            return;
        }
        let half = c.count / 2;
        let (cut, _) = c.span(half);
        let tail_buf = c.buf[cut..].to_vec();
        let tail = Chunk {
            buf: tail_buf,
            count: c.count - half,
        };
        let c = &mut self.chunks[ci];
        c.buf.truncate(cut);
        c.buf.shrink_to_fit();
        c.count = half;
        self.chunks.insert(ci + 1, tail);
    }
}

/// Whether a node holding `bytes` in `count` entries is within `fill`.
fn within_limit(fill: i32, bytes: usize, count: usize) -> bool {
    if fill >= 0 {
        count <= (fill.max(1) as usize) && bytes <= SIZE_SAFETY_LIMIT
    } else {
        let limit = match fill {
            -1 => 4096,
            -2 => 8192,
            -3 => 16384,
            -4 => 32768,
            _ => 65536,
        };
        bytes <= limit
    }
}

/// Whether `c` can take one more element of `len` bytes.
fn fits(fill: i32, c: &Chunk, len: usize) -> bool {
    within_limit(fill, c.buf.len() + encoded_len(len), c.count + 1)
}

/// One node: entries packed back to back.
#[derive(Debug, Clone, Default)]
struct Chunk {
    buf: Vec<u8>,
    count: usize,
}

impl Chunk {
    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
        }
    }

    /// Byte span of entry `i` (must exist).
    fn span(&self, i: usize) -> (usize, usize) {
        let mut at = 0;
        for _ in 0..i {
            at = next_entry(&self.buf, at);
        }
        (at, next_entry(&self.buf, at))
    }

    fn first_span(&self) -> Option<(usize, usize)> {
        (self.count > 0).then(|| (0, next_entry(&self.buf, 0)))
    }

    fn last_span(&self) -> Option<(usize, usize)> {
        (self.count > 0).then(|| (prev_entry(&self.buf, self.buf.len()), self.buf.len()))
    }

    fn insert_at(&mut self, at: usize, item: &[u8]) {
        let enc = encode(item);
        self.buf.reserve_exact(enc.len());
        self.buf.splice(at..at, enc);
        self.count += 1;
    }

    /// Removes the entry at `start..end` and returns its data.
    fn remove_span(&mut self, start: usize, end: usize) -> Vec<u8> {
        let data = entry_data(&self.buf, start).to_vec();
        self.buf.drain(start..end);
        self.count -= 1;
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
        data
    }
}

/// A node's entries, from either end.
struct ChunkIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let data = entry_data(self.buf, self.front);
        self.front = next_entry(self.buf, self.front);
        Some(data)
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let start = prev_entry(self.buf, self.back);
        self.back = start;
        Some(entry_data(self.buf, start))
    }
}

fn leb_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn encoded_len(len: usize) -> usize {
    let head = leb_len(len) + len;
    head + leb_len(head)
}

/// An entry: LEB128 length, data, then the entry's header+data size as LEB128 written
/// backwards (its lowest group last), so a reader at the entry's end can step back over it.
fn encode(item: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(item.len()));
    write_leb(&mut out, item.len());
    out.extend_from_slice(item);
    let head = out.len();
    let mut back = Vec::with_capacity(4);
    write_leb(&mut back, head);
    back.reverse();
    out.extend_from_slice(&back);
    out
}

fn write_leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// (value, bytes read) of the LEB128 at `at`.
fn read_leb(buf: &[u8], at: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    let mut i = at;
    while i < buf.len() {
        let byte = buf[i];
        value |= ((byte & 0x7f) as usize) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (value, i - at)
}

fn entry_data(buf: &[u8], at: usize) -> &[u8] {
    let (len, hl) = read_leb(buf, at);
    &buf[at + hl..at + hl + len]
}

fn next_entry(buf: &[u8], at: usize) -> usize {
    let (len, hl) = read_leb(buf, at);
    let head = hl + len;
    at + head + leb_len(head)
}

/// The start of the entry that ends at `end`.
fn prev_entry(buf: &[u8], end: usize) -> usize {
    let mut value = 0usize;
    let mut shift = 0;
    let mut i = end;
    while i > 0 {
        i -= 1;
        let byte = buf[i];
        value |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    i - value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|s| s.to_vec()).collect()
    }

    fn model_check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        assert_eq!(items(l), model.iter().cloned().collect::<Vec<_>>());
        let rev: Vec<Vec<u8>> = l.iter().rev().map(|s| s.to_vec()).collect();
        assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
        assert!(l.chunks.iter().all(|c| c.count > 0));
        assert_eq!(l.chunks.iter().map(|c| c.count).sum::<usize>(), l.len());
    }

    #[test]
    fn pushes_and_pops_from_both_ends() {
        let mut l = List::with_fill(4);
        let mut m = VecDeque::new();
        for i in 0..50 {
            let v = format!("v{i}").repeat(i % 7).into_bytes();
            if i % 3 == 0 {
                l.push_front(&v);
                m.push_front(v);
            } else {
                l.push_back(&v);
                m.push_back(v);
            }
        }
        model_check(&l, &m);
        assert!(l.node_count() >= 13);
        for (i, item) in m.iter().enumerate() {
            assert_eq!(l.get(i), Some(&item[..]));
            assert_eq!(l.iter_from(i).next(), Some(&item[..]));
            assert_eq!(l.iter_rev_from(i).next(), Some(&item[..]));
        }
        assert_eq!(l.iter_from(50).count(), 0);
        for i in 0..20 {
            if i % 2 == 0 {
                assert_eq!(l.pop_front(), m.pop_front());
            } else {
                assert_eq!(l.pop_back(), m.pop_back());
            }
        }
        model_check(&l, &m);
    }

    #[test]
    fn big_elements_and_long_lengths_round_trip() {
        let big = vec![b'x'; 20_000];
        let mut l = List::new();
        l.push_back(b"a");
        l.push_back(&big);
        l.push_back(b"");
        l.push_front(&big[..300]);
        assert_eq!(l.len(), 4);
        assert_eq!(l.get(2), Some(&big[..]));
        assert_eq!(l.get(3), Some(&b""[..]));
        assert_eq!(l.pop_back(), Some(vec![]));
        assert_eq!(l.pop_back(), Some(big.clone()));
        assert_eq!(l.back(), Some(&b"a"[..]));
        assert_eq!(l.front(), Some(&big[..300]));
    }

    #[test]
    fn edits_in_the_middle() {
        let mut l = List::with_fill(3);
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for i in 0..20u8 {
            l.push_back(&[i]);
            m.push_back(vec![i]);
        }
        l.insert(5, b"new");
        m.insert(5, b"new".to_vec());
        l.insert(21, b"end");
        m.insert(21, b"end".to_vec());
        assert!(l.set(7, b"seven"));
        m[7] = b"seven".to_vec();
        assert!(!l.set(99, b"x"));
        assert_eq!(l.remove(10), m.remove(10));
        model_check(&l, &m);
        l.retain(|v| v.len() != 1 || v[0] % 2 == 0);
        m.retain(|v| v.len() != 1 || v[0] % 2 == 0);
        model_check(&l, &m);
        l.trim(2, 6);
        let kept: VecDeque<Vec<u8>> = m.iter().skip(2).take(5).cloned().collect();
        model_check(&l, &kept);
        l.trim(3, 1);
        assert!(l.is_empty());
    }

    #[test]
    fn small_lists_stay_in_one_node() {
        let l = List::from_items(-2, (0..500).map(|i| i.to_string()));
        assert_eq!(l.node_count(), 1);
        let l = List::from_items(-2, (0..5000).map(|i| i.to_string()));
        assert!(l.node_count() > 1);
        assert_eq!(l.encoding(), "quicklist");
    }
}
