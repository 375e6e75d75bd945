//! The stream type: an append-only log of entries with IDs, plus consumer groups.
//!
//! Entries live in [`Chunk`]s of up to `stream-node-max-entries` (100) packed entries, keyed
//! by their first ID in a B-tree, as Redis keeps listpacks in a radix tree: a small entry
//! costs a handful of bytes, and the chunk boundaries match Redis's so that approximate
//! trimming (`MAXLEN ~`) removes the same entries. The stream also keeps Redis 7.0's
//! bookkeeping: last generated ID, entries ever added, the largest deleted ID and the first
//! entry's ID, from which consumer groups' read counters and lag are derived.

pub mod chunk;
pub mod group;
pub mod id;
mod rdb_form;

use std::collections::BTreeMap;

use chunk::Chunk;
pub use chunk::EntryView;
pub use group::{Consumer, Group, Pending};
pub use id::{parse_id, IdSyntax, ParsedId, StreamId};

/// How to trim (Redis's `streamAddTrimArgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimBy {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub by: TrimBy,
    /// `~`: only whole chunks go.
    pub approx: bool,
    /// Most entries to remove (0: no limit).
    pub limit: u64,
}

/// An entry copied out of the stream: its ID and field/value pairs.
pub type OwnedEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// One chunk as `DUMP` writes it and `RESTORE` reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkParts {
    pub master: StreamId,
    pub appended: u64,
    pub last: StreamId,
    pub entries: Vec<OwnedEntry>,
}

/// Chunk size settings (`stream-node-max-entries`, `stream-node-max-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Stream {
    chunks: BTreeMap<StreamId, Chunk>,
    len: u64,
    pub last_id: StreamId,
    /// The first live entry's ID as Redis 7.0 records it (`recorded-first-entry-id`).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `XINFO STREAM`'s `radix-tree-keys`.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Appends an entry; `id` must be above `last_id` (the caller checks).
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], limits: NodeLimits) {
        let element_bytes: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        let tail_full = match self.chunks.iter_mut().next_back() {
            Some((_, tail)) => {
                if tail.is_full(element_bytes, limits.max_entries, limits.max_bytes) {
                    tail.seal();
                    true
                } else {
                    tail.push(id, pairs);
                    false
                }
            }
            None => true,
        };
        if tail_full {
            self.chunks.insert(id, Chunk::new(id, pairs));
        }
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.len == 1 {
            self.first_id = id;
        }
    }

    fn chunk_key_for(&self, id: StreamId) -> Option<StreamId> {
        self.chunks.range(..=id).next_back().map(|(&k, _)| k)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.chunk_key_for(id)
            .and_then(|k| self.chunks.get(&k))
            .is_some_and(|c| c.contains(id))
    }

    /// Deletes entry `id`; does not update `first_id` or `max_deleted_id` (`XDEL` does).
    pub fn remove(&mut self, id: StreamId) -> bool {
        let Some(key) = self.chunk_key_for(id) else {
            return false;
        };
        let Some(chunk) = self.chunks.get_mut(&key) else {
            return false;
        };
        if !chunk.remove(id) {
            return false;
        }
        if chunk.live() == 0 {
            self.chunks.remove(&key);
        }
        self.len -= 1;
        true
    }

    /// Visits entries with IDs in `start..=end` in order (or reverse order), until `visit`
    /// answers false.
    pub fn visit(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut visit: impl FnMut(EntryView<'_>) -> bool,
    ) {
        if start > end {
            return;
        }
        let from = self.chunk_key_for(start).unwrap_or(start);
        let chunks = self.chunks.range(from..=end);
        if rev {
            for (_, c) in chunks.rev() {
                if !c.visit(start, end, true, &mut visit) {
                    return;
                }
            }
        } else {
            for (_, c) in chunks {
                if !c.visit(start, end, false, &mut visit) {
                    return;
                }
            }
        }
    }

    /// The first (or last) live entry's ID.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let mut found = None;
        self.visit(StreamId::MIN, StreamId::MAX, last, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// The last live entry's ID, 0-0 when empty (Redis's `streamLastValidID`).
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(true).unwrap_or(StreamId::MIN)
    }

    /// The chunks with copies of their entries, in order (for `DUMP`).
    pub fn chunk_parts(&self) -> Vec<ChunkParts> {
        self.chunks
            .values()
            .map(|c| {
                let mut entries = Vec::new();
                c.visit(StreamId::MIN, StreamId::MAX, false, &mut |e| {
                    let pairs = e.pairs.iter().map(|(f, v)| (f.to_vec(), v.to_vec()));
                    entries.push((e.id, pairs.collect()));
                    true
                });
                ChunkParts {
                    master: c.master(),
                    appended: c.appended(),
                    last: c.last(),
                    entries,
                }
            })
            .collect()
    }

    /// Adds a loaded chunk after the others (for `RESTORE`); its entries must be in order and
    /// above every entry already here. Only the entry count is updated: the loader sets the
    /// stream's counters.
    pub fn push_chunk(&mut self, parts: &ChunkParts) {
        let mut entries = parts.entries.iter();
        let Some((first, pairs)) = entries.next() else {
            return;
        };
        let mut chunk = Chunk::new(*first, &borrowed(pairs));
        for (id, pairs) in entries {
            chunk.push(*id, &borrowed(pairs));
        }
        chunk.restore_history(parts.appended, parts.last);
        chunk.seal();
        self.len += chunk.live();
        self.chunks.insert(*first, chunk);
    }

    /// Trims as Redis's `streamTrim`; returns how many entries went.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut deleted = 0u64;
        // Trimming works from the head: each round removes the first chunk whole, or trims
        // inside it and stops.
        loop {
            if let TrimBy::MaxLen(max) = trim.by {
                if self.len <= max {
                    break;
                }
            }
            let Some((&key, chunk)) = self.chunks.iter_mut().next() else {
                break;
            };
            let entries = chunk.live();
            if trim.limit != 0 && deleted + entries > trim.limit {
                break;
            }
            let whole = match trim.by {
                TrimBy::MaxLen(max) => self.len - entries >= max,
                TrimBy::MinId(min) => chunk.last() < min,
            };
            if whole {
                self.chunks.remove(&key);
                self.len -= entries;
                deleted += entries;
                continue;
            }
            if trim.approx {
                break;
            }
            let n = match trim.by {
                TrimBy::MaxLen(max) => {
                    let mut excess = self.len - max;
                    chunk.remove_front_while(|_| {
                        let more = excess > 0;
                        excess = excess.saturating_sub(1);
                        more
                    })
                }
                TrimBy::MinId(min) => chunk.remove_front_while(|id| id < min),
            };
            self.len -= n;
            deleted += n;
            break;
        }
        if deleted > 0 {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        deleted
    }

    /// Heap bytes held, roughly.
    pub fn heap_bytes(&self) -> usize {
        let chunks: usize = self.chunks.values().map(|c| c.heap_bytes() + 32).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| n.len() + g.heap_bytes())
            .sum();
        chunks + groups + std::mem::size_of::<Stream>()
    }

    /// The read counter of `id`: how many entries were ever added up to it, when that can be
    /// known (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn entries_read_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.len),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.len + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// Whether a deleted entry may lie in `start..=end` (Redis's `streamRangeHasTombstones`).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// A group's lag: entries added that it has not read, when known. Redis 7.0 subtracts
    /// without a floor, so a group told it read more than was added (`ENTRIESREAD`) lags
    /// by a negative number.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        let behind = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read {
            if !self.has_tombstones(group.last_id, StreamId::MAX) {
                return Some(behind(read));
            }
        }
        self.entries_read_at(group.last_id).map(behind)
    }

    /// Moves `group`'s last delivered ID to `id`, keeping its read counter as Redis 7.0 does.
    pub fn advance_group(&mut self, group_name: &[u8], id: StreamId) {
        let tombstones = self.has_tombstones(id, StreamId::MAX);
        let estimate = self.entries_read_at(id);
        let added = self.entries_added;
        let Some(group) = self.groups.get_mut(group_name) else {
            return;
        };
        if id <= group.last_id {
            return;
        }
        match group.entries_read {
            Some(read) if !tombstones => group.entries_read = Some(read + 1),
            _ if added != 0 => group.entries_read = estimate,
            _ => {}
        }
        group.last_id = id;
    }
}

/// Owned pairs as the borrowed pairs chunks take.
fn borrowed(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    pairs.iter().map(|(f, v)| (&f[..], &v[..])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NodeLimits = NodeLimits {
        max_entries: 3,
        max_bytes: 4096,
    };

    fn stream(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), &[(b"f", b"v")], LIMITS);
        }
        s
    }

    fn ids(s: &Stream) -> Vec<u64> {
        let mut out = Vec::new();
        s.visit(StreamId::MIN, StreamId::MAX, false, |e| {
            out.push(e.id.ms);
            true
        });
        out
    }

    #[test]
    fn chunks_fill_and_ranges_cross_them() {
        let s = stream(7);
        assert_eq!(s.chunk_count(), 3);
        assert_eq!(ids(&s), (1..=7).collect::<Vec<_>>());
        let mut rev = Vec::new();
        s.visit(StreamId::new(2, 0), StreamId::new(5, 0), true, |e| {
            rev.push(e.id.ms);
            true
        });
        assert_eq!(rev, vec![5, 4, 3, 2]);
        assert_eq!(s.last_valid_id(), StreamId::new(7, 0));
    }

    #[test]
    fn trimming_follows_chunks_when_approximate() {
        let mut s = stream(7);
        let approx = Trim {
            by: TrimBy::MaxLen(2),
            approx: true,
            limit: 0,
        };
        assert_eq!(s.trim(approx), 3, "only the first whole chunk can go");
        assert_eq!(s.first_id, StreamId::new(4, 0));
        let exact = Trim {
            approx: false,
            ..approx
        };
        assert_eq!(s.trim(exact), 2);
        assert_eq!(ids(&s), vec![6, 7]);
        let minid = Trim {
            by: TrimBy::MinId(StreamId::new(7, 0)),
            approx: false,
            limit: 0,
        };
        assert_eq!(s.trim(minid), 1);
        assert_eq!(ids(&s), vec![7]);
    }

    /// Random appends, deletes, exact trims and ranges against a plain ordered map.
    #[test]
    fn random_operations_match_a_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let mut s = Stream::new();
            let mut model = std::collections::BTreeMap::new();
            let mut next_ms = 1u64;
            for _ in 0..300 {
                match rng.gen_range(0..10) {
                    0..=4 => {
                        next_ms += rng.gen_range(0..3);
                        let id = s
                            .last_id
                            .next()
                            .unwrap_or(StreamId::MAX)
                            .max(StreamId::new(next_ms, 0));
                        let value = rng.gen_range(0..1000u32).to_string();
                        let field: &[u8] = if rng.gen_bool(0.7) { b"f" } else { b"g" };
                        s.append(id, &[(field, value.as_bytes())], LIMITS);
                        model.insert(id, (field.to_vec(), value.into_bytes()));
                    }
                    5 | 6 => {
                        let id = StreamId::new(rng.gen_range(0..next_ms + 1), rng.gen_range(0..3));
                        assert_eq!(s.remove(id), model.remove(&id).is_some());
                    }
                    7 => {
                        let max = rng.gen_range(0..20u64);
                        s.trim(Trim {
                            by: TrimBy::MaxLen(max),
                            approx: false,
                            limit: 0,
                        });
                        while model.len() as u64 > max {
                            model.pop_first();
                        }
                    }
                    8 => {
                        let min = StreamId::new(rng.gen_range(0..next_ms + 1), 0);
                        s.trim(Trim {
                            by: TrimBy::MinId(min),
                            approx: false,
                            limit: 0,
                        });
                        model.retain(|id, _| *id >= min);
                    }
                    _ => {
                        let a = StreamId::new(rng.gen_range(0..next_ms + 2), rng.gen_range(0..3));
                        let b = StreamId::new(rng.gen_range(0..next_ms + 2), rng.gen_range(0..3));
                        let rev = rng.gen_bool(0.5);
                        let mut got = Vec::new();
                        s.visit(a, b, rev, |e| {
                            got.push((e.id, e.pairs[0].0.to_vec(), e.pairs[0].1.to_vec()));
                            true
                        });
                        let mut want: Vec<_> = if a <= b {
                            model
                                .range(a..=b)
                                .map(|(id, (f, v))| (*id, f.clone(), v.clone()))
                                .collect()
                        } else {
                            Vec::new()
                        };
                        if rev {
                            want.reverse();
                        }
                        assert_eq!(got, want);
                    }
                }
                assert_eq!(s.len(), model.len() as u64);
                assert_eq!(s.edge_id(false), model.keys().next().copied());
            }
        }
    }

    #[test]
    fn deleting_empties_chunks() {
        let mut s = stream(4);
        for i in 1..=3 {
            assert!(s.remove(StreamId::new(i, 0)));
        }
        assert!(!s.remove(StreamId::new(1, 0)));
        assert_eq!(s.chunk_count(), 1);
        assert_eq!(s.len(), 1);
        assert!(s.contains(StreamId::new(4, 0)));
    }
}
