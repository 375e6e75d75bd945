//! A run of up to ~100 stream entries packed into one byte buffer, as Redis packs them into
//! one listpack: IDs stored as deltas from the chunk's first ID, and the field names of an
//! entry omitted when they repeat the chunk's first entry's ("master") fields.
//!
//! Entry layout: `flags` byte, varint ms delta, varint seq (delta when the ms is the master's),
//! then either the values alone (`SAME_FIELDS`) or a varint count and field/value pairs; every
//! string is a varint length and its bytes. Deleted entries are cut out of the buffer at once,
//! but still count towards the chunk being full, as Redis's tombstones do, so that chunk
//! boundaries (and hence `MAXLEN ~` trimming) fall where Redis's do.

use super::id::StreamId;

const SAME_FIELDS: u8 = 1;

/// One entry as read out of a chunk: its ID and field/value pairs, borrowed from the chunk.
pub struct EntryView<'a> {
    pub id: StreamId,
    pub pairs: Vec<(&'a [u8], &'a [u8])>,
}

#[derive(Debug, Clone)]
pub struct Chunk {
    /// The first ID ever put here: the base of the deltas, and the chunk's key in the stream.
    master: StreamId,
    /// The last ID ever put here, deleted or not (what Redis's `MINID` trimming compares).
    last: StreamId,
    /// The entry `last` is still here: the stream's last live ID is known without decoding.
    tail_live: bool,
    /// The master field names: a varint count, then each name.
    fields: Box<[u8]>,
    data: Vec<u8>,
    live: u32,
    /// Entries ever appended, deleted ones included.
    appended: u32,
    /// What Redis's listpack would hold for the master field names (their count, the names
    /// and the terminator) and for the entries ever appended (deleted entries stay in a
    /// listpack): with the counts, its `lpBytes`, for the `stream-node-max-bytes` decision.
    master_lp_bytes: u32,
    entries_lp_bytes: u32,
}

/// The bytes a listpack entry holding `item` takes (Redis stores integer-looking items as
/// integers).
fn lp_size(item: &[u8]) -> u32 {
    u32::try_from(crate::node::rdb::listpack::entry_size(item)).unwrap_or(u32::MAX)
}

fn lp_int_size(n: i64) -> u32 {
    u32::try_from(crate::node::rdb::listpack::int_entry_size(n)).unwrap_or(u32::MAX)
}

impl Chunk {
    /// A chunk holding one entry, whose fields become the master fields.
    pub fn new(id: StreamId, pairs: &[(&[u8], &[u8])]) -> Chunk {
        let mut fields = Vec::new();
        put_varint(&mut fields, pairs.len() as u64);
        for (f, _) in pairs {
            put_bytes(&mut fields, f);
        }
        let master_lp_bytes = lp_int_size(pairs.len() as i64)
            + pairs.iter().map(|(f, _)| lp_size(f)).sum::<u32>()
            + lp_int_size(0);
        let mut chunk = Chunk {
            master: id,
            last: id,
            tail_live: true,
            fields: fields.into_boxed_slice(),
            data: Vec::new(),
            live: 0,
            appended: 0,
            master_lp_bytes,
            entries_lp_bytes: 0,
        };
        chunk.push(id, pairs);
        chunk
    }

    pub fn master(&self) -> StreamId {
        self.master
    }

    pub fn last(&self) -> StreamId {
        self.last
    }

    /// The last entry's ID when it is the last one ever put here (None: unknown without
    /// decoding, because that one was deleted).
    pub fn last_if_live(&self) -> Option<StreamId> {
        (self.tail_live && self.live > 0).then_some(self.last)
    }

    /// Entries ever appended, deleted ones included.
    pub fn appended(&self) -> u64 {
        u64::from(self.appended)
    }

    /// Sets what a loaded chunk had behind it: entries ever appended and the last ID put here
    /// (deleted entries are not loaded, but count as Redis counts them).
    pub fn restore_history(&mut self, appended: u64, last: StreamId) {
        self.appended = u32::try_from(appended).unwrap_or(u32::MAX).max(self.live);
        if last > self.last {
            self.last = last;
            self.tail_live = false;
        }
    }

    pub fn live(&self) -> u64 {
        u64::from(self.live)
    }

    /// Whether Redis would start a new node rather than add an entry of `element_bytes`
    /// (fields and values summed) here.
    pub fn is_full(&self, element_bytes: usize, max_entries: u64, max_bytes: u64) -> bool {
        let max_bytes = if max_bytes == 0 || max_bytes > 1 << 30 {
            1 << 30
        } else {
            max_bytes
        };
        if self.listpack_bytes() + element_bytes as u64 >= max_bytes {
            return true;
        }
        max_entries != 0 && u64::from(self.appended) >= max_entries
    }

    /// Redis's `lpBytes` of the node: header and end byte, the master entry (valid and
    /// deleted counts, field names) and every entry appended.
    fn listpack_bytes(&self) -> u64 {
        let deleted = self.appended.saturating_sub(self.live);
        u64::from(7 + lp_int_size(i64::from(self.live)) + lp_int_size(i64::from(deleted)))
            + u64::from(self.master_lp_bytes)
            + u64::from(self.entries_lp_bytes)
    }

    /// Appends an entry; `id` must be above every ID here.
    pub fn push(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = self.master_fields().is_some_and(|m| {
            m.len() == pairs.len() && m.iter().zip(pairs).all(|(a, (b, _))| a == b)
        });
        let ms_delta = id.ms - self.master.ms;
        let seq = if ms_delta == 0 {
            id.seq - self.master.seq
        } else {
            id.seq
        };
        self.data.push(if same { SAME_FIELDS } else { 0 });
        put_varint(&mut self.data, ms_delta);
        put_varint(&mut self.data, seq);
        if !same {
            put_varint(&mut self.data, pairs.len() as u64);
        }
        let mut lp = lp_int_size(i64::from(if same { 2u8 } else { 0 }))
            + lp_int_size(ms_delta as i64)
            + lp_int_size(id.seq.wrapping_sub(self.master.seq) as i64);
        if !same {
            lp += lp_int_size(pairs.len() as i64);
        }
        for (f, v) in pairs {
            if !same {
                put_bytes(&mut self.data, f);
                lp = lp.saturating_add(lp_size(f));
            }
            put_bytes(&mut self.data, v);
            lp = lp.saturating_add(lp_size(v));
        }
        let items = pairs.len() as i64 + 3 + if same { 0 } else { pairs.len() as i64 + 1 };
        lp += lp_int_size(items);
        self.live += 1;
        self.appended += 1;
        self.last = id;
        self.tail_live = true;
        self.entries_lp_bytes = self.entries_lp_bytes.saturating_add(lp);
    }

    /// Gives back the spare capacity of a chunk that will take no more entries.
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
    }

    fn master_fields(&self) -> Option<Vec<&[u8]>> {
        let mut pos = 0;
        let n = get_varint(&self.fields, &mut pos)?;
        let mut out = Vec::with_capacity(usize::try_from(n).ok()?.min(1024));
        for _ in 0..n {
            out.push(get_bytes(&self.fields, &mut pos)?);
        }
        Some(out)
    }

    /// The entry starting at `pos`: its ID and where the next one starts. With `pairs`,
    /// its fields and values are collected there too.
    fn read_at<'a>(
        &'a self,
        pos: usize,
        master_fields: &[&'a [u8]],
        pairs: Option<&mut Vec<(&'a [u8], &'a [u8])>>,
    ) -> Option<(StreamId, usize)> {
        let mut p = pos;
        let flags = *self.data.get(p)?;
        p += 1;
        let ms_delta = get_varint(&self.data, &mut p)?;
        let seq = get_varint(&self.data, &mut p)?;
        let id = if ms_delta == 0 {
            StreamId::new(self.master.ms, self.master.seq.checked_add(seq)?)
        } else {
            StreamId::new(self.master.ms.checked_add(ms_delta)?, seq)
        };
        let mut sink = pairs;
        if flags & SAME_FIELDS != 0 {
            for f in master_fields {
                let v = get_bytes(&self.data, &mut p)?;
                if let Some(out) = sink.as_deref_mut() {
                    out.push((f, v));
                }
            }
        } else {
            let n = get_varint(&self.data, &mut p)?;
            for _ in 0..n {
                let f = get_bytes(&self.data, &mut p)?;
                let v = get_bytes(&self.data, &mut p)?;
                if let Some(out) = sink.as_deref_mut() {
                    out.push((f, v));
                }
            }
        }
        Some((id, p))
    }

    /// Every entry's ID and byte range, in order.
    fn bounds(&self) -> Vec<(StreamId, usize, usize)> {
        let mut out = Vec::with_capacity(self.live as usize);
        let master = self.master_fields().unwrap_or_default();
        let mut pos = 0;
        while pos < self.data.len() {
            let Some((id, next)) = self.read_at(pos, &master, None) else {
                break;
            };
            out.push((id, pos, next));
            pos = next;
        }
        out
    }

    /// The IDs here, in order.
    pub fn ids(&self) -> Vec<StreamId> {
        self.bounds().into_iter().map(|(id, _, _)| id).collect()
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.bounds().iter().any(|&(i, _, _)| i == id)
    }

    /// Visits the entries with IDs in `start..=end`, forwards or backwards, until `visit`
    /// answers false; returns false if it was stopped.
    pub fn visit(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        visit: &mut dyn FnMut(EntryView<'_>) -> bool,
    ) -> bool {
        let master = self.master_fields().unwrap_or_default();
        if !rev {
            // One pass from the front: entries before `start` are skipped by their headers,
            // and the walk stops at the first entry past `end` (XREAD, XRANGE with COUNT).
            let mut pos = 0;
            while pos < self.data.len() {
                let Some((id, next)) = self.read_at(pos, &master, None) else {
                    break;
                };
                if id > end {
                    break;
                }
                if id >= start {
                    let mut pairs = Vec::with_capacity(master.len());
                    if self.read_at(pos, &master, Some(&mut pairs)).is_some()
                        && !visit(EntryView { id, pairs })
                    {
                        return false;
                    }
                }
                pos = next;
            }
            return true;
        }
        let mut bounds = self.bounds();
        bounds.retain(|&(id, _, _)| id >= start && id <= end);
        bounds.reverse();
        for (_, pos, _) in bounds {
            let mut pairs = Vec::new();
            let Some((id, _)) = self.read_at(pos, &master, Some(&mut pairs)) else {
                continue;
            };
            if !visit(EntryView { id, pairs }) {
                return false;
            }
        }
        true
    }

    /// Deletes the entry `id`, if here.
    pub fn remove(&mut self, id: StreamId) -> bool {
        let Some(&(_, from, to)) = self.bounds().iter().find(|&&(i, _, _)| i == id) else {
            return false;
        };
        self.data.drain(from..to);
        self.live -= 1;
        if id == self.last {
            self.tail_live = false;
        }
        true
    }

    /// Deletes entries from the front while `more` says so for the next one's ID; returns
    /// how many went.
    pub fn remove_front_while(&mut self, mut more: impl FnMut(StreamId) -> bool) -> u64 {
        let mut cut = 0;
        let mut n = 0;
        for (id, _, to) in self.bounds() {
            if !more(id) {
                break;
            }
            if id == self.last {
                self.tail_live = false;
            }
            cut = to;
            n += 1;
        }
        self.data.drain(..cut);
        self.live -= n;
        u64::from(n)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() + self.fields.len() + std::mem::size_of::<Chunk>()
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift > 63 {
            return None;
        }
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
        shift += 7;
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(get_varint(buf, pos)?).ok()?;
    let end = pos.checked_add(len)?;
    let out = buf.get(*pos..end)?;
    *pos = end;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = Vec<(StreamId, Vec<(Vec<u8>, Vec<u8>)>)>;

    fn collect(c: &Chunk) -> Owned {
        let mut out = Vec::new();
        c.visit(StreamId::MIN, StreamId::MAX, false, &mut |e| {
            out.push((
                e.id,
                e.pairs
                    .iter()
                    .map(|(f, v)| (f.to_vec(), v.to_vec()))
                    .collect(),
            ));
            true
        });
        out
    }

    #[test]
    fn entries_round_trip_with_and_without_master_fields() {
        let mut c = Chunk::new(StreamId::new(10, 5), &[(b"f", b"v"), (b"g", b"w")]);
        c.push(StreamId::new(10, 6), &[(b"f", b"1"), (b"g", b"2")]);
        c.push(StreamId::new(300, 0), &[(b"other", b"x")]);
        c.push(StreamId::new(u64::MAX, u64::MAX), &[]);
        let all = collect(&c);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].0, StreamId::new(10, 6));
        assert_eq!(all[1].1[1], (b"g".to_vec(), b"2".to_vec()));
        assert_eq!(all[2].1, vec![(b"other".to_vec(), b"x".to_vec())]);
        assert_eq!(all[3].0, StreamId::MAX);
        assert!(all[3].1.is_empty());
        assert!(c.remove(StreamId::new(10, 6)));
        assert!(!c.remove(StreamId::new(10, 6)));
        assert_eq!(c.live(), 3);
        assert_eq!(c.ids()[1], StreamId::new(300, 0));
        assert_eq!(c.remove_front_while(|id| id.ms < 300), 1);
        assert_eq!(c.ids(), vec![StreamId::new(300, 0), StreamId::MAX]);
        assert!(c.is_full(0, 4, 4096), "deleted entries still count");
    }

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, 127, 128, 300, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, n);
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(n));
            assert_eq!(pos, buf.len());
        }
        assert_eq!(get_varint(&[0xff; 11], &mut 0), None);
    }
}
