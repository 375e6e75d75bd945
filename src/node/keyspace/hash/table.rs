//! The general form of hashes and sets: a chained hash table of boxed entries, sized in powers
//! of two like Redis's `dict`, so that `HSCAN`/`SSCAN` can walk it with Redis's reverse-binary
//! cursor: every entry present for the whole scan is returned, across grows and shrinks.
//!
//! An entry is one allocation holding the key and, for hashes, the value too ([`Layout`] says
//! where the key is), so an element costs its bytes, one allocation and a bucket slot.

use std::hash::BuildHasher;

use foldhash::quality::RandomState;
use std::marker::PhantomData;
use std::sync::OnceLock;

use rand::Rng;

/// What a table's entries are, and where an entry's key lies.
pub trait Layout {
    type Entry;
    fn key(entry: &Self::Entry) -> &[u8];
}

/// The smallest table, as Redis's `DICT_HT_INITIAL_SIZE`.
const MIN_BUCKETS: usize = 4;

/// How long a bucket may be and still take part in fair random picks (see [`Table::random`]).
const FAIR_CHAIN: usize = 8;

/// An entry with the high half of its key's hash beside it: a lookup tells most other keys
/// apart by the tag, without reading (and missing the cache on) their entries.
#[derive(Debug, Clone)]
struct Tagged<E> {
    tag: u32,
    entry: E,
}

#[derive(Debug, Clone, Default)]
enum Bucket<E> {
    #[default]
    Empty,
    One(Tagged<E>),
    Many(Vec<Tagged<E>>),
}

impl<E> Bucket<E> {
    fn entries(&self) -> &[Tagged<E>] {
        match self {
            Bucket::Empty => &[],
            Bucket::One(e) => std::slice::from_ref(e),
            Bucket::Many(v) => v,
        }
    }

    fn entries_mut(&mut self) -> &mut [Tagged<E>] {
        match self {
            Bucket::Empty => &mut [],
            Bucket::One(e) => std::slice::from_mut(e),
            Bucket::Many(v) => v,
        }
    }

    fn push(&mut self, entry: Tagged<E>) {
        *self = match std::mem::take(self) {
            Bucket::Empty => Bucket::One(entry),
            Bucket::One(first) => Bucket::Many(vec![first, entry]),
            Bucket::Many(mut v) => {
                v.push(entry);
                Bucket::Many(v)
            }
        };
    }

    /// Where the entry with `key` (whose tag is `tag`) is, in [`entries`](Self::entries).
    fn position<L: Layout<Entry = E>>(&self, tag: u32, key: &[u8]) -> Option<usize> {
        self.entries()
            .iter()
            .position(|t| t.tag == tag && L::key(&t.entry) == key)
    }
}

fn empty_buckets<E>(n: usize) -> Vec<Bucket<E>> {
    std::iter::repeat_with(Bucket::default).take(n).collect()
}

/// The process-wide seed: hashes (and so scan orders) differ from one run to the next, as with
/// Redis's `siphash` seed, and stay the same while the process lives.
fn hash_of(key: &[u8]) -> u64 {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    SEED.get_or_init(RandomState::default).hash_one(key)
}

/// A hash table of entries with distinct keys.
pub struct Table<L: Layout> {
    buckets: Vec<Bucket<L::Entry>>,
    len: usize,
    layout: PhantomData<L>,
}

impl<L: Layout> Clone for Table<L>
where
    L::Entry: Clone,
{
    fn clone(&self) -> Self {
        Table {
            buckets: self.buckets.clone(),
            len: self.len,
            layout: PhantomData,
        }
    }
}

impl<L: Layout> std::fmt::Debug for Table<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len)
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

impl<L: Layout> Default for Table<L> {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}

impl<L: Layout> Table<L> {
    /// An empty table sized for `n` entries.
    pub fn with_capacity(n: usize) -> Table<L> {
        Table {
            buckets: empty_buckets(n.max(MIN_BUCKETS).next_power_of_two()),
            len: 0,
            layout: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    /// The bucket for `key` and its tag: the hash's low bits choose the bucket, its high half
    /// is the tag.
    fn locate(&self, key: &[u8]) -> (usize, u32) {
        let hash = hash_of(key);
        // Truncation is the point in both.
        ((hash as usize) & self.mask(), (hash >> 32) as u32)
    }

    /// The entry whose key is `key`.
    pub fn get(&self, key: &[u8]) -> Option<&L::Entry> {
        let (at, tag) = self.locate(key);
        let bucket = &self.buckets[at];
        let i = bucket.position::<L>(tag, key)?;
        Some(&bucket.entries()[i].entry)
    }

    /// The entry whose key is `key`, to change; its key must stay the same.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut L::Entry> {
        let (at, tag) = self.locate(key);
        let bucket = &mut self.buckets[at];
        let i = bucket.position::<L>(tag, key)?;
        Some(&mut bucket.entries_mut()[i].entry)
    }

    /// Stores `entry`, replacing the entry with the same key; returns the replaced one.
    pub fn insert(&mut self, entry: L::Entry) -> Option<L::Entry> {
        let (at, tag) = self.locate(L::key(&entry));
        let bucket = &mut self.buckets[at];
        if let Some(i) = bucket.position::<L>(tag, L::key(&entry)) {
            let slot = &mut bucket.entries_mut()[i];
            return Some(std::mem::replace(&mut slot.entry, entry));
        }
        self.add(at, Tagged { tag, entry });
        None
    }

    /// Adds the entry `make` builds for `key` unless one with that key is there; true if
    /// added. Nothing is built for a key already present.
    pub fn insert_new(&mut self, key: &[u8], make: impl FnOnce() -> L::Entry) -> bool {
        let (at, tag) = self.locate(key);
        if self.buckets[at].position::<L>(tag, key).is_some() {
            return false;
        }
        let entry = make();
        debug_assert_eq!(L::key(&entry), key);
        self.add(at, Tagged { tag, entry });
        true
    }

    /// Puts a new entry into bucket `at`, growing the table when it holds more entries than
    /// buckets (Redis's load factor of 1).
    fn add(&mut self, at: usize, entry: Tagged<L::Entry>) {
        self.buckets[at].push(entry);
        self.len += 1;
        if self.len > self.buckets.len() {
            self.resize(self.buckets.len() * 2);
        }
    }

    /// Removes the entry whose key is `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<L::Entry> {
        let (at, tag) = self.locate(key);
        let bucket = &mut self.buckets[at];
        let i = bucket.position::<L>(tag, key)?;
        let removed = match std::mem::take(bucket) {
            Bucket::One(t) => t.entry,
            Bucket::Many(mut v) => {
                let t = v.swap_remove(i);
                *bucket = match v.len() {
                    1 => Bucket::One(v.pop().expect("one left")),
                    _ => Bucket::Many(v),
                };
                t.entry
            }
            Bucket::Empty => unreachable!("an entry was found"),
        };
        self.len -= 1;
        // Redis shrinks a table under 10% full (`HT_MIN_FILL`).
        if self.buckets.len() > MIN_BUCKETS && self.len * 10 < self.buckets.len() {
            self.resize(self.len);
        }
        Some(removed)
    }

    fn resize(&mut self, wanted: usize) {
        let size = wanted.max(MIN_BUCKETS).next_power_of_two();
        if size == self.buckets.len() {
            return;
        }
        let old = std::mem::replace(&mut self.buckets, empty_buckets(size));
        for bucket in old {
            let entries = match bucket {
                Bucket::Empty => continue,
                Bucket::One(e) => vec![e],
                Bucket::Many(v) => v,
            };
            let mask = self.mask();
            for e in entries {
                let at = (hash_of(L::key(&e.entry)) as usize) & mask;
                self.buckets[at].push(e);
            }
        }
    }

    /// Every entry, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &L::Entry> + '_ {
        self.buckets
            .iter()
            .flat_map(|b| b.entries().iter().map(|t| &t.entry))
    }

    /// Calls `visit` for the entries of the buckets from `cursor` on, until at least `count`
    /// entries were visited or `10 × count` buckets were looked at (Redis's bound); returns the
    /// next cursor, 0 when the walk is done.
    pub fn scan<'a>(
        &'a self,
        mut cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a L::Entry),
    ) -> u64 {
        let mask = self.mask() as u64;
        let mut visited = 0;
        let mut steps = count.saturating_mul(10).max(1);
        loop {
            for t in self.buckets[(cursor & mask) as usize].entries() {
                visit(&t.entry);
                visited += 1;
            }
            // Increment the reversed cursor over the bits the mask leaves.
            cursor |= !mask;
            cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
            steps -= 1;
            if cursor == 0 || steps == 0 || visited >= count {
                return cursor;
            }
        }
    }

    /// A random entry, each equally likely: a random bucket and a random place in a run of
    /// [`FAIR_CHAIN`] places, tried again when the place is empty (bounded; a rare longer chain
    /// or a run of misses falls back to a slightly biased pick).
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&L::Entry> {
        if self.len == 0 {
            return None;
        }
        for _ in 0..1000 {
            let bucket = self.buckets[rng.gen_range(0..self.buckets.len())].entries();
            let place = rng.gen_range(0..FAIR_CHAIN);
            if let Some(t) = bucket.get(place) {
                return Some(&t.entry);
            }
        }
        loop {
            let bucket = self.buckets[rng.gen_range(0..self.buckets.len())].entries();
            if !bucket.is_empty() {
                return Some(&bucket[rng.gen_range(0..bucket.len())].entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct Whole;
    impl Layout for Whole {
        type Entry = Box<[u8]>;
        fn key(entry: &Box<[u8]>) -> &[u8] {
            entry
        }
    }

    fn entry(i: u32) -> Box<[u8]> {
        i.to_string().into_bytes().into_boxed_slice()
    }

    #[test]
    fn a_bucket_is_four_words() {
        // As much as a Redis dict spends per entry outside the key: a bucket pointer and a
        // three-pointer dictEntry.
        assert_eq!(std::mem::size_of::<Bucket<Box<[u8]>>>(), 32);
    }

    #[test]
    fn insert_get_remove_grow_and_shrink() {
        let mut t = Table::<Whole>::default();
        for i in 0..1000 {
            assert!(t.insert(entry(i)).is_none());
        }
        assert!(t.insert(entry(5)).is_some());
        assert_eq!(t.len(), 1000);
        assert!(t.buckets.len() >= 1000);
        for i in 0..995 {
            assert!(t.remove(&entry(i)).is_some());
        }
        assert!(t.remove(&entry(1)).is_none());
        assert_eq!(t.len(), 5);
        assert!(t.buckets.len() <= 64);
        assert_eq!(t.get(b"999").map(|e| &e[..]), Some(&b"999"[..]));
        assert_eq!(t.iter().count(), 5);
    }

    #[test]
    fn scan_returns_entries_present_throughout_despite_resizes() {
        let mut t = Table::<Whole>::default();
        for i in 0..300 {
            t.insert(entry(i));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next = 1000;
        for round in 0.. {
            cursor = t.scan(cursor, 7, |e| {
                seen.insert(e.to_vec());
            });
            if cursor == 0 {
                break;
            }
            // Grow a lot, then shrink a lot, while the scan runs.
            if round % 2 == 0 {
                for _ in 0..200 {
                    t.insert(entry(next));
                    next += 1;
                }
            } else {
                for i in (next - 200)..next {
                    t.remove(&entry(i));
                }
            }
            assert!(round < 100_000);
        }
        for i in 0..300 {
            assert!(seen.contains(&entry(i).to_vec()), "missed {i}");
        }
    }

    #[test]
    fn random_reaches_every_entry() {
        let mut t = Table::<Whole>::default();
        for i in 0..20 {
            t.insert(entry(i));
        }
        let mut rng = rand::thread_rng();
        let seen: HashSet<Vec<u8>> = (0..2000)
            .filter_map(|_| t.random(&mut rng).map(|e| e.to_vec()))
            .collect();
        assert_eq!(seen.len(), 20);
    }
}
