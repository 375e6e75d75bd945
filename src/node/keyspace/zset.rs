//! Sorted set values, in Redis's two encodings.
//!
//! - **listpack**: while the set is small (at most `zset-max-listpack-entries` members, each at
//!   most `zset-max-listpack-value` bytes), one byte buffer of entries in (score, member) order:
//!   `len(member)` as LEB128, the member, the score (8 bytes, little endian), then `len(member)`
//!   again as LEB128 written backwards so the buffer can be walked from either end. Every
//!   operation is a linear walk over at most a few hundred entries, as with Redis's listpack.
//! - **skiplist**: beyond that, an ordered index of (score, member) (a `BTreeSet`) plus a
//!   member → score map; members are stored once, shared by both.
//!
//! Costs of the skiplist form: lookups by member O(1); inserts, removals, pops and score ranges
//! O(log n); ranks and rank ranges are **O(rank)** (the index has no subtree counts): ZRANK,
//! ZRANGE by index and ZREMRANGEBYRANK walk from the nearer end for ranges and from the start
//! for ZRANK. ZCOUNT and ZLEXCOUNT count the matching run, O(log n + matches).
//!
//! Like Redis, a set only ever grows from listpack to skiplist; a fresh set built whole (store
//! commands, `RESTORE`) takes the listpack form when it fits ([`ZSet::from_pairs`]).

use std::cmp::Ordering;
use std::collections::btree_set;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use super::hash::table::{Layout, Table};

/// The listpack thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZSetLimits {
    pub entries: usize,
    pub value: usize,
}

impl Default for ZSetLimits {
    fn default() -> ZSetLimits {
        ZSetLimits {
            entries: 128,
            value: 64,
        }
    }
}

/// Members with scores, ordered by (score, member bytes).
#[derive(Debug, Clone)]
pub enum ZSet {
    Listpack(Listpack),
    Skiplist(Box<Skiplist>),
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::Listpack(Listpack::default())
    }
}

/// A range of scores, each end inclusive or exclusive (`ZRANGEBYSCORE`'s `(` prefix).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_ex: bool,
    pub max_ex: bool,
}

impl ScoreRange {
    fn gte_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// Whether no score can be in the range (Redis's `zslIsInRange` first test).
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

/// One end of a lexicographic range (`ZRANGEBYLEX`'s `-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A range of members by their bytes; meaningful when all scores are equal, as in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= &x[..],
            LexBound::Excl(x) => m > &x[..],
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= &x[..],
            LexBound::Excl(x) => m < &x[..],
        }
    }

    /// Whether no member can be in the range (Redis's `zslIsInLexRange` first test).
    fn is_empty(&self) -> bool {
        fn key(b: &LexBound) -> (u8, &[u8]) {
            match b {
                LexBound::NegInf => (0, b""),
                LexBound::Incl(x) | LexBound::Excl(x) => (1, x),
                LexBound::PosInf => (2, b""),
            }
        }
        let ex = matches!(self.min, LexBound::Excl(_)) || matches!(self.max, LexBound::Excl(_));
        match key(&self.min).cmp(&key(&self.max)) {
            Ordering::Greater => true,
            Ordering::Equal => ex || matches!(self.min, LexBound::NegInf | LexBound::PosInf),
            Ordering::Less => false,
        }
    }
}

fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

impl ZSet {
    /// An empty set for a key `ZADD` creates, whose first member is `first_len` bytes long
    /// (Redis 7.0 picks the encoding from the first member alone).
    pub fn new_for(limits: ZSetLimits, first_len: usize) -> ZSet {
        if limits.entries == 0 || first_len > limits.value {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::default()
        }
    }

    /// A set built whole from `pairs` (a later duplicate member replaces an earlier one), in the
    /// listpack form when it fits the limits: for store commands, `RESTORE` and loading.
    pub fn from_pairs<M: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (M, f64)>,
        limits: ZSetLimits,
    ) -> ZSet {
        let mut sl = Skiplist::default();
        let mut longest = 0;
        for (m, s) in pairs {
            longest = longest.max(m.as_ref().len());
            sl.insert(m.as_ref(), s);
        }
        if sl.len() <= limits.entries && longest <= limits.value {
            let mut lp = Listpack::default();
            for (m, s) in sl.iter_all() {
                lp.push_back(m, s);
            }
            ZSet::Listpack(lp)
        } else {
            ZSet::Skiplist(Box::new(sl))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len,
            ZSet::Skiplist(sl) => sl.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Bytes the value takes, roughly (`MEMORY USAGE`).
    pub fn memory(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.buf.capacity() + 16,
            ZSet::Skiplist(sl) => sl
                .scores
                .iter()
                .map(|(m, _)| m.len() + 16 + 64)
                .sum::<usize>()
                .max(64),
        }
    }

    /// A member and its score picked at random, each member equally likely; None when empty.
    /// Constant time for the skiplist form.
    pub fn random<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(lp) if lp.len == 0 => None,
            ZSet::Listpack(lp) => lp.iter_all().nth(rng.gen_range(0..lp.len)),
            ZSet::Skiplist(sl) => sl.scores.random(rng).map(|(m, s)| (&m[..], *s)),
        }
    }

    /// One step of `ZSCAN`: a listpack is returned whole with cursor 0, as Redis does; the
    /// skiplist form's member map is walked with Redis's reverse-binary cursor.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        match self {
            ZSet::Listpack(_) => {
                for (m, s) in self.iter() {
                    visit(m, s);
                }
                0
            }
            ZSet::Skiplist(sl) => sl.scores.scan(cursor, count, |(m, s)| visit(m, *s)),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => lp.find(member).map(|(_, _, s)| s),
            ZSet::Skiplist(sl) => sl.scores.get(member).map(|&(_, s)| s),
        }
    }

    /// Adds `member` or changes its score; returns the old score. Converts to the skiplist
    /// form when a new member breaks the listpack limits.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> Option<f64> {
        if let ZSet::Listpack(lp) = self {
            if let Some((off, _, old)) = lp.find(member) {
                if old != score {
                    lp.remove_at(off);
                    lp.insert_sorted(member, score);
                }
                return Some(old);
            }
            if lp.len < limits.entries && member.len() <= limits.value {
                lp.insert_sorted(member, score);
                return None;
            }
            self.convert_to_skiplist();
        }
        match self {
            ZSet::Skiplist(sl) => sl.insert(member, score),
            ZSet::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => {
                let (off, _, s) = lp.find(member)?;
                lp.remove_at(off);
                Some(s)
            }
            ZSet::Skiplist(sl) => sl.remove(member),
        }
    }

    /// Removes and returns the lowest (`max` false) or highest member.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let (m, s) = if max {
            self.iter().next_back()
        } else {
            self.iter().next()
        }
        .map(|(m, s)| (m.to_vec(), s))?;
        self.remove(&m);
        Some((m, s))
    }

    /// The 0-based rank of `member` in ascending order. O(rank) for the skiplist form.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => lp.iter_all().position(|(m, _)| m == member),
            ZSet::Skiplist(sl) => {
                let s = sl.scores.get(member)?.1;
                let end = (Score(s), Mk::M(Arc::from(member)));
                Some(sl.order.range(..end).count())
            }
        }
    }

    /// Every member with its score, in order (reversible).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            ZSet::Listpack(lp) => Iter::Lp(lp.iter_all()),
            ZSet::Skiplist(sl) => Iter::Sl(sl.order.range::<(Score, Mk), _>(..)),
        }
    }

    /// The members of ranks `start..end` (ascending, end exclusive, clamped), in order.
    pub fn range_by_rank(&self, start: usize, end: usize) -> Iter<'_> {
        let len = self.len();
        let end = end.min(len);
        if start >= end {
            return Iter::empty();
        }
        match self {
            ZSet::Listpack(lp) => Iter::Lp(lp.iter_span(start, end)),
            ZSet::Skiplist(sl) => {
                // From whichever end is nearer, for each bound.
                let nth = |i: usize| -> &(Score, Mk) {
                    let found = if i < len / 2 {
                        sl.order.iter().nth(i)
                    } else {
                        sl.order.iter().nth_back(len - 1 - i)
                    };
                    found.expect("rank below len")
                };
                let lo = nth(start);
                let hi = nth(end - 1);
                Iter::Sl(
                    sl.order
                        .range::<(Score, Mk), _>((Bound::Included(lo), Bound::Included(hi))),
                )
            }
        }
    }

    /// The members whose score is in `range`, in order.
    pub fn range_by_score(&self, range: &ScoreRange) -> Iter<'_> {
        if range.is_empty() {
            return Iter::empty();
        }
        match self {
            ZSet::Listpack(lp) => {
                let start = lp
                    .iter_all()
                    .take_while(|&(_, s)| !range.gte_min(s))
                    .count();
                let end = start
                    + lp.iter_span(start, lp.len)
                        .take_while(|&(_, s)| range.lte_max(s))
                        .count();
                Iter::Lp(lp.iter_span(start, end))
            }
            ZSet::Skiplist(sl) => {
                let lo = if range.min_ex {
                    Bound::Excluded((Score(range.min), Mk::Max))
                } else {
                    Bound::Included((Score(range.min), Mk::Min))
                };
                let hi = if range.max_ex {
                    Bound::Excluded((Score(range.max), Mk::Min))
                } else {
                    Bound::Included((Score(range.max), Mk::Max))
                };
                Iter::Sl(sl.order.range((lo, hi)))
            }
        }
    }

    /// The members in `range`, found as Redis finds them: walking from the lowest member to
    /// the first one at or above the minimum (from the highest down to the first at or below
    /// the maximum when `rev`), then on while still in range. With equal scores (the only case
    /// Redis defines) this is plain lexicographic order, found in O(log n) by the skiplist.
    pub fn range_by_lex(&self, range: &LexRange, rev: bool) -> Iter<'_> {
        if range.is_empty() || self.is_empty() {
            return Iter::empty();
        }
        let uniform = {
            let mut it = self.iter();
            let first = it.next().map(|(_, s)| s);
            let last = it.next_back().map(|(_, s)| s).or(first);
            first == last
        };
        if let (ZSet::Skiplist(sl), true) = (self, uniform) {
            let score = Score(sl.order.first().map_or(0.0, |(s, _)| s.0));
            let member = |m: &[u8]| Mk::M(Arc::from(m));
            let lo = match &range.min {
                LexBound::NegInf => Bound::Included((score, Mk::Min)),
                LexBound::PosInf => return Iter::empty(),
                LexBound::Incl(m) => Bound::Included((score, member(m))),
                LexBound::Excl(m) => Bound::Excluded((score, member(m))),
            };
            let hi = match &range.max {
                LexBound::NegInf => return Iter::empty(),
                LexBound::PosInf => Bound::Included((score, Mk::Max)),
                LexBound::Incl(m) => Bound::Included((score, member(m))),
                LexBound::Excl(m) => Bound::Excluded((score, member(m))),
            };
            return Iter::Sl(sl.order.range((lo, hi)));
        }
        let len = self.len();
        if rev {
            let skipped = self
                .iter()
                .rev()
                .take_while(|&(m, _)| !range.lte_max(m))
                .count();
            let end = len - skipped;
            let taken = self
                .range_by_rank(0, end)
                .rev()
                .take_while(|&(m, _)| range.gte_min(m))
                .count();
            self.range_by_rank(end - taken, end)
        } else {
            let start = self.iter().take_while(|&(m, _)| !range.gte_min(m)).count();
            let taken = self
                .range_by_rank(start, len)
                .take_while(|&(m, _)| range.lte_max(m))
                .count();
            self.range_by_rank(start, start + taken)
        }
    }

    fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            let mut sl = Skiplist::default();
            for (m, s) in lp.iter_all() {
                sl.insert(m, s);
            }
            *self = ZSet::Skiplist(Box::new(sl));
        }
    }
}

/// Members in order, from either end.
pub enum Iter<'a> {
    Lp(LpIter<'a>),
    Sl(btree_set::Range<'a, (Score, Mk)>),
}

impl Iter<'_> {
    fn empty() -> Iter<'static> {
        Iter::Lp(LpIter {
            buf: &[],
            front: 0,
            back: 0,
            remaining: 0,
        })
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Lp(it) => it.next(),
            Iter::Sl(it) => it.next().map(|(s, m)| (m.bytes(), s.0)),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Lp(it) => it.next_back(),
            Iter::Sl(it) => it.next_back().map(|(s, m)| (m.bytes(), s.0)),
        }
    }
}

/// A score as an ordered key: scores are never NaN, and `-0` equals `0` as in Redis.
#[derive(Debug, Clone, Copy)]
pub struct Score(f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// A member in the ordered index; `Min`/`Max` only bound range queries, never stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mk {
    Min,
    M(Arc<[u8]>),
    Max,
}

impl Mk {
    fn bytes(&self) -> &[u8] {
        match self {
            Mk::M(m) => m,
            Mk::Min | Mk::Max => b"",
        }
    }
}

/// The general form: ordered index plus member → score map. The map is the hash table of
/// hashes and sets, so `ZSCAN` walks it with Redis's cursor.
#[derive(Debug, Clone, Default)]
pub struct Skiplist {
    order: BTreeSet<(Score, Mk)>,
    scores: Table<ScoreOf>,
}

/// A score-map entry: the member (shared with the ordered index) and its score.
#[derive(Debug)]
pub struct ScoreOf;

impl Layout for ScoreOf {
    type Entry = (Arc<[u8]>, f64);
    fn key(entry: &(Arc<[u8]>, f64)) -> &[u8] {
        &entry.0
    }
}

impl Skiplist {
    fn len(&self) -> usize {
        self.scores.len()
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some((m, stored)) = self.scores.get_mut(member) {
            let old = *stored;
            if old != score {
                *stored = score;
                let m = m.clone();
                self.order.remove(&(Score(old), Mk::M(m.clone())));
                self.order.insert((Score(score), Mk::M(m)));
            }
            return Some(old);
        }
        let m: Arc<[u8]> = Arc::from(member);
        self.order.insert((Score(score), Mk::M(m.clone())));
        self.scores.insert((m, score));
        None
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, s) = self.scores.remove(member)?;
        self.order.remove(&(Score(s), Mk::M(m)));
        Some(s)
    }

    fn iter_all(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.order.iter().map(|(s, m)| (m.bytes(), s.0))
    }
}

/// The compact form: entries in order in one buffer (see the module's doc).
#[derive(Debug, Clone, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: usize,
}

/// Reads a LEB128 number forward from `buf[at..]`; returns it and the bytes it took.
fn leb_read(buf: &[u8], at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let b = buf[at + i];
        n |= usize::from(b & 0x7f) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            return (n, i);
        }
    }
}

/// Reads a backwards-written LEB128 number ending just before `end`.
fn leb_read_back(buf: &[u8], end: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let b = buf[end - 1 - i];
        n |= usize::from(b & 0x7f) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            return (n, i);
        }
    }
}

fn leb_bytes(mut n: usize) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    let mut i = 0;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = b;
            return (out, i + 1);
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

impl Listpack {
    /// The encoded entry for (member, score).
    /// The score is kept as Redis keeps it in a listpack (its `%.17g` text, which has no `-0`).
    fn encode(member: &[u8], score: f64) -> Vec<u8> {
        let score = if score == 0.0 { 0.0 } else { score };
        let (leb, n) = leb_bytes(member.len());
        let mut e = Vec::with_capacity(member.len() + 8 + 2 * n);
        e.extend_from_slice(&leb[..n]);
        e.extend_from_slice(member);
        e.extend_from_slice(&score.to_le_bytes());
        e.extend(leb[..n].iter().rev());
        e
    }

    /// Decodes the entry at `off`: member, score, and the offset of the next entry.
    fn decode(buf: &[u8], off: usize) -> (&[u8], f64, usize) {
        let (len, n) = leb_read(buf, off);
        let m = &buf[off + n..off + n + len];
        let s_at = off + n + len;
        let mut s = [0u8; 8];
        s.copy_from_slice(&buf[s_at..s_at + 8]);
        (m, f64::from_le_bytes(s), s_at + 8 + n)
    }

    /// Decodes the entry that ends at `end`: member, score, and the entry's start offset.
    fn decode_back(buf: &[u8], end: usize) -> (&[u8], f64, usize) {
        let (len, n) = leb_read_back(buf, end);
        let start = end - n - 8 - len - n;
        let (m, s, _) = Listpack::decode(buf, start);
        (m, s, start)
    }

    fn iter_all(&self) -> LpIter<'_> {
        LpIter {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
            remaining: self.len,
        }
    }

    /// Entries `start..end` (indexes, `end` ≤ len).
    fn iter_span(&self, start: usize, end: usize) -> LpIter<'_> {
        if start >= end {
            return LpIter {
                buf: &self.buf,
                front: 0,
                back: 0,
                remaining: 0,
            };
        }
        let mut off = 0;
        for _ in 0..start {
            off = Listpack::decode(&self.buf, off).2;
        }
        let front = off;
        for _ in start..end {
            off = Listpack::decode(&self.buf, off).2;
        }
        LpIter {
            buf: &self.buf,
            front,
            back: off,
            remaining: end - start,
        }
    }

    /// The entry of `member`: its offset, end offset and score.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut off = 0;
        while off < self.buf.len() {
            let (m, s, next) = Listpack::decode(&self.buf, off);
            if m == member {
                return Some((off, next, s));
            }
            off = next;
        }
        None
    }

    fn remove_at(&mut self, off: usize) {
        let (_, _, next) = Listpack::decode(&self.buf, off);
        self.buf.drain(off..next);
        self.len -= 1;
    }

    fn insert_sorted(&mut self, member: &[u8], score: f64) {
        let mut off = 0;
        while off < self.buf.len() {
            let (m, s, next) = Listpack::decode(&self.buf, off);
            if cmp_entry((s, m), (score, member)) == Ordering::Greater {
                break;
            }
            off = next;
        }
        let e = Listpack::encode(member, score);
        self.buf.splice(off..off, e);
        self.len += 1;
    }

    fn push_back(&mut self, member: &[u8], score: f64) {
        self.buf.extend_from_slice(&Listpack::encode(member, score));
        self.len += 1;
    }
}

/// Listpack entries from either end.
pub struct LpIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
    remaining: usize,
}

impl<'a> Iterator for LpIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (m, s, next) = Listpack::decode(self.buf, self.front);
        self.front = next;
        self.remaining -= 1;
        Some((m, s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for LpIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (m, s, start) = Listpack::decode_back(self.buf, self.back);
        self.back = start;
        self.remaining -= 1;
        Some((m, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ZSetLimits = ZSetLimits {
        entries: 4,
        value: 8,
    };

    fn members<'a>(it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    fn both(pairs: &[(&str, f64)]) -> [ZSet; 2] {
        let mut lp = ZSet::default();
        let mut sl = ZSet::Skiplist(Box::default());
        for &(m, s) in pairs {
            lp.insert(m.as_bytes(), s, ZSetLimits::default());
            sl.insert(m.as_bytes(), s, ZSetLimits::default());
        }
        assert_eq!(lp.encoding(), "listpack");
        assert_eq!(sl.encoding(), "skiplist");
        [lp, sl]
    }

    #[test]
    fn orders_by_score_then_member_in_both_forms() {
        for z in both(&[("b", 2.0), ("a", 2.0), ("c", 1.0), ("d", -0.0), ("e", 0.0)]) {
            assert_eq!(members(z.iter()), ["d", "e", "c", "a", "b"]);
            assert_eq!(members(z.iter().rev().take(2)), ["b", "a"]);
            assert_eq!(z.rank(b"a"), Some(3));
            assert_eq!(z.score(b"d"), Some(0.0));
            assert_eq!(members(z.range_by_rank(1, 3)), ["e", "c"]);
            assert_eq!(members(z.range_by_rank(3, 10).rev()), ["b", "a"]);
            let r = ScoreRange {
                min: 0.0,
                max: 2.0,
                min_ex: true,
                max_ex: false,
            };
            assert_eq!(members(z.range_by_score(&r)), ["c", "a", "b"]);
            let r = ScoreRange {
                min: 0.0,
                max: 0.0,
                min_ex: false,
                max_ex: false,
            };
            assert_eq!(members(z.range_by_score(&r)), ["d", "e"]);
        }
    }

    #[test]
    fn lex_ranges_on_equal_scores() {
        for z in both(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]) {
            let r = LexRange {
                min: LexBound::Excl(b"a".to_vec()),
                max: LexBound::Incl(b"c".to_vec()),
            };
            assert_eq!(members(z.range_by_lex(&r, false)), ["b", "c"]);
            assert_eq!(members(z.range_by_lex(&r, true)), ["b", "c"]);
            let all = LexRange {
                min: LexBound::NegInf,
                max: LexBound::PosInf,
            };
            assert_eq!(z.range_by_lex(&all, false).count(), 4);
            let none = LexRange {
                min: LexBound::PosInf,
                max: LexBound::NegInf,
            };
            assert_eq!(z.range_by_lex(&none, false).count(), 0);
        }
    }

    #[test]
    fn grows_into_skiplist_past_the_limits() {
        let mut z = ZSet::new_for(SMALL, 1);
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, SMALL);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"a", 10.0, SMALL);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"e", 1.0, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(members(z.iter()), ["b", "e", "c", "d", "a"]);
        let mut z = ZSet::new_for(SMALL, 1);
        z.insert(b"123456789", 1.0, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSet::new_for(SMALL, 9).encoding(), "skiplist");
        let mut z = ZSet::from_pairs([("x", 1.0), ("y", 2.0), ("x", 3.0)], SMALL);
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(members(z.iter()), ["y", "x"]);
        assert_eq!(z.pop(true), Some((b"x".to_vec(), 3.0)));
    }

    #[test]
    fn listpack_walks_both_ways_with_long_members() {
        let limits = ZSetLimits {
            entries: 10,
            value: 1000,
        };
        let mut z = ZSet::default();
        let long = vec![b'x'; 300];
        z.insert(&long, 1.0, limits);
        z.insert(b"s", 2.0, limits);
        z.insert(b"", 0.5, limits);
        let back: Vec<_> = z.iter().rev().map(|(m, s)| (m.len(), s)).collect();
        assert_eq!(back, [(1, 2.0), (300, 1.0), (0, 0.5)]);
        assert_eq!(z.remove(&long), Some(1.0));
        assert_eq!(z.len(), 2);
    }
}
