//! Hash values, in Redis's two encodings: a packed `listpack` while the hash is small, a hash
//! table once it grows past `hash-max-listpack-entries` entries or holds a field or value
//! longer than `hash-max-listpack-value` bytes. Like Redis 7.0, a hash never converts back.
//!
//! The listpack keeps fields in insertion order (new fields at the end, updates in place), so
//! small hashes list their fields in the same order Redis does.

pub mod table;

use rand::Rng;

use self::table::{Layout, Table};
use crate::node::config::NodeConfig;

/// The thresholds that decide the encoding (`hash-max-listpack-*`).
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl HashLimits {
    pub fn from_config(config: &NodeConfig) -> HashLimits {
        HashLimits {
            max_entries: config.usize("hash-max-listpack-entries"),
            max_value: config.usize("hash-max-listpack-value"),
        }
    }
}

impl Default for HashLimits {
    /// Redis's defaults.
    fn default() -> Self {
        HashLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// A map of fields to values.
#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// `[len][field][len][value]…` with LEB128 lengths, in insertion order; `len` pairs.
    Listpack { buf: Vec<u8>, len: usize },
    /// Entries `[len][field][value]`.
    Table(Table<Pair>),
}

/// A hash-table entry: the field's length, the field, then the value.
#[derive(Debug)]
pub struct Pair;

impl Layout for Pair {
    type Entry = Box<[u8]>;
    fn key(entry: &Box<[u8]>) -> &[u8] {
        split_pair(entry).0
    }
}

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// A length at `buf[at..]`: (length, bytes it took). Only ever reads lengths we wrote.
fn get_len(buf: &[u8], at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = at;
    while let Some(&b) = buf.get(i) {
        n |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (n, i - at)
}

fn split_pair(entry: &[u8]) -> (&[u8], &[u8]) {
    let (flen, w) = get_len(entry, 0);
    entry[w..].split_at(flen)
}

fn make_pair(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut e = Vec::with_capacity(field.len() + value.len() + 3);
    put_len(&mut e, field.len());
    e.extend_from_slice(field);
    e.extend_from_slice(value);
    e.into_boxed_slice()
}

/// One listpack element: its bytes and where the next one starts.
fn lp_next(buf: &[u8], at: usize) -> (&[u8], usize) {
    let (n, w) = get_len(buf, at);
    let start = at + w;
    (&buf[start..start + n], start + n)
}

/// Where the pair whose field is `field` starts, and where its value element starts.
fn lp_find(buf: &[u8], field: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    while at < buf.len() {
        let (f, value_at) = lp_next(buf, at);
        let (_, next) = lp_next(buf, value_at);
        if f == field {
            return Some((at, value_at));
        }
        at = next;
    }
    None
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    /// An empty hash, listpack-encoded.
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Listpack {
                buf: Vec::new(),
                len: 0,
            },
        }
    }

    /// A hash of these pairs (later duplicates win), encoded as `limits` say (`RESTORE`).
    pub fn from_pairs<F, V>(pairs: impl IntoIterator<Item = (F, V)>, limits: &HashLimits) -> Hash
    where
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut h = Hash::new();
        for (f, v) in pairs {
            h.insert(f.as_ref(), v.as_ref(), limits);
        }
        h
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack { len, .. } => *len,
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Listpack { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack { buf, .. } => {
                lp_find(buf, field).map(|(_, value_at)| lp_next(buf, value_at).0)
            }
            Repr::Table(t) => t.get(field).map(|e| split_pair(e).1),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new. Converts to a hash table first when
    /// either is longer than `limits.max_value`, after when the hash outgrows `max_entries`.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if field.len() > limits.max_value || value.len() > limits.max_value {
            self.convert();
        }
        let added = match &mut self.repr {
            Repr::Listpack { buf, len } => {
                if let Some((_, value_at)) = lp_find(buf, field) {
                    let (_, end) = lp_next(buf, value_at);
                    let mut encoded = Vec::with_capacity(value.len() + 2);
                    put_len(&mut encoded, value.len());
                    encoded.extend_from_slice(value);
                    buf.splice(value_at..end, encoded);
                    false
                } else {
                    buf.reserve_exact(field.len() + value.len() + 2);
                    put_len(buf, field.len());
                    buf.extend_from_slice(field);
                    put_len(buf, value.len());
                    buf.extend_from_slice(value);
                    *len += 1;
                    true
                }
            }
            Repr::Table(t) => t.insert(make_pair(field, value)).is_none(),
        };
        if self.len() > limits.max_entries {
            self.convert();
        }
        added
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { buf, len } => match lp_find(buf, field) {
                Some((at, value_at)) => {
                    let (_, end) = lp_next(buf, value_at);
                    buf.drain(at..end);
                    *len -= 1;
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Every (field, value): in insertion order for a listpack, table order otherwise.
    pub fn iter(&self) -> HashIter<'_> {
        match &self.repr {
            Repr::Listpack { buf, .. } => HashIter::Listpack { buf, at: 0 },
            Repr::Table(t) => HashIter::Table(Box::new(t.iter().map(|e| &**e))),
        }
    }

    /// A random (field, value), each pair equally likely.
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack { len, .. } if *len == 0 => None,
            Repr::Listpack { len, .. } => self.iter().nth(rng.gen_range(0..*len)),
            Repr::Table(t) => t.random(rng).map(|e| split_pair(e)),
        }
    }

    /// One step of `HSCAN`: a listpack is returned whole with cursor 0, as Redis does; a hash
    /// table is walked with Redis's reverse-binary cursor (see [`Table::scan`]).
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Listpack { .. } => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |e| {
                let (f, v) = split_pair(e);
                visit(f, v);
            }),
        }
    }

    fn convert(&mut self) {
        if let Repr::Listpack { len, .. } = &self.repr {
            let mut t = Table::with_capacity(*len);
            for (f, v) in self.iter() {
                t.insert(make_pair(f, v));
            }
            self.repr = Repr::Table(t);
        }
    }
}

/// The pairs of a [`Hash`], see [`Hash::iter`].
pub enum HashIter<'a> {
    Listpack { buf: &'a [u8], at: usize },
    Table(Box<dyn Iterator<Item = &'a [u8]> + 'a>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Listpack { buf, at } => {
                if *at >= buf.len() {
                    return None;
                }
                let (f, value_at) = lp_next(buf, *at);
                let (v, next) = lp_next(buf, value_at);
                *at = next;
                Some((f, v))
            }
            HashIter::Table(it) => it.next().map(split_pair),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_insertion_order_and_updates_in_place() {
        let l = HashLimits::default();
        let mut h = Hash::new();
        assert!(h.insert(b"a", b"1", &l));
        assert!(h.insert(b"b", b"2", &l));
        assert!(!h.insert(b"a", b"longer value", &l));
        assert!(h.insert(b"", b"", &l));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(
            pairs,
            vec![(&b"a"[..], &b"longer value"[..]), (b"b", b"2"), (b"", b"")]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b"a"), Some(&b"longer value"[..]));
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_past_either_threshold_and_stays() {
        let l = HashLimits::default();
        let mut h = Hash::new();
        for i in 0..128 {
            h.insert(format!("f{i}").as_bytes(), b"v", &l);
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"one more", b"v", &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 129);
        assert_eq!(h.get(b"f77"), Some(&b"v"[..]));
        for i in 0..128 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert_eq!(h.encoding(), "hashtable", "no conversion back");

        let mut h = Hash::new();
        h.insert(b"f", &[b'x'; 64], &l);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"g", &[b'x'; 65], &l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.insert(&[b'x'; 65], b"v", &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(&[b'x'; 65]), Some(&b"v"[..]));
    }

    #[test]
    fn from_pairs_and_long_lengths_round_trip() {
        let big = vec![b'z'; 1000];
        let h = Hash::from_pairs([(&b"k"[..], &big[..]), (b"j", b"")], &HashLimits::default());
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"k"), Some(&big[..]));
        let limits = HashLimits {
            max_entries: 10,
            max_value: 5000,
        };
        let h = Hash::from_pairs([(&b"k"[..], &big[..])], &limits);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.iter().next(), Some((&b"k"[..], &big[..])));
    }
}
