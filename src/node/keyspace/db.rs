//! One numbered database: its keys and values, their expiry times, and who watches or waits
//! on them.
//!
//! Keys live in a hash table (one probe per lookup, as in Redis's dict) beside an ordered index
//! of their *positions* (see [`super::key`]): the table answers commands, the index gives
//! `SCAN` its stable cursors and the keys of one slot as one range.

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroI64;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hashbrown::hash_table::{Entry as Slot, OccupiedEntry};
use hashbrown::HashTable;
use smallvec::SmallVec;

use super::key::{position, Slotted};
use super::value::Value;
use crate::node::notify::{Events, Journal};

/// A stored value, its expiry and when it was last used.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Unix milliseconds; never 0 (see [`expiry`]), so the option costs no extra word.
    expire: Option<NonZeroI64>,
    /// How the key was used, as Redis's 24-bit `lru` field says it: under an LRU (or no)
    /// policy the LRU clock (unix seconds) when a command last used the key (`OBJECT
    /// IDLETIME`); under an LFU policy the minute of the last decay (high bits) and the
    /// logarithmic access counter (low 8 bits, `OBJECT FREQ`).
    lru: u32,
}

/// Redis's `LFU_INIT_VAL`: a new key's counter, so that it is not the first evicted.
const LFU_INIT_VAL: u32 = 5;

impl Entry {
    fn new(value: Value, expire_at: Option<i64>) -> Entry {
        let lru = match lfu() {
            Some(_) => lfu_minutes() << 8 | LFU_INIT_VAL,
            None => lru_clock(),
        };
        Entry {
            value,
            expire: expiry(expire_at),
            lru,
        }
    }

    /// Records a use: the LRU stamp moves to now, or the LFU counter decays for the minutes
    /// gone by and then grows with a probability that falls as it grows (`updateLFU`).
    fn touch(&mut self) {
        self.lru = match lfu() {
            Some(lfu) => {
                let counter = log_increment(self.lfu_count(), lfu.log_factor);
                lfu_minutes() << 8 | counter
            }
            None => lru_clock(),
        };
    }

    /// Sets the use record `RESTORE … IDLETIME s | FREQ f` gives (Redis's
    /// `objectSetLRUOrLFU`): the counter under an LFU policy, else the idle seconds.
    fn restore_use(&mut self, idle: Option<i64>, freq: Option<i64>) {
        match (lfu(), freq, idle) {
            (Some(_), Some(freq), _) => {
                self.lru = lfu_minutes() << 8 | freq.clamp(0, 255) as u32;
            }
            (None, _, Some(idle)) => {
                // The LRU clock wraps; so does the stamp.
                self.lru = lru_clock().wrapping_sub(idle.clamp(0, i64::from(u32::MAX)) as u32);
            }
            _ => {}
        }
    }

    /// The LFU counter after decay (`LFUDecrAndReturn`): one less for every `lfu-decay-time`
    /// minutes since the last decay. Meaningful under an LFU policy.
    pub fn lfu_count(&self) -> u32 {
        let counter = self.lru & 0xff;
        let decay_time = lfu().map_or(0, |l| l.decay_time);
        if decay_time == 0 {
            return counter;
        }
        let last = self.lru >> 8 & 0xffff;
        let now = lfu_minutes();
        // The minutes clock wraps at 16 bits, as Redis's does.
        let elapsed = if now >= last {
            now - last
        } else {
            65535 - last + now
        };
        counter.saturating_sub(elapsed / decay_time)
    }

    /// When the key expires (unix milliseconds), if it does.
    pub fn expire_at(&self) -> Option<i64> {
        self.expire.map(NonZeroI64::get)
    }

    fn set_expire_at(&mut self, at: Option<i64>) {
        self.expire = expiry(at);
    }

    /// Seconds since a command last used the key.
    pub fn idle_seconds(&self) -> u64 {
        u64::from(lru_clock().wrapping_sub(self.lru))
    }
}

/// An expiry as stored: the instant 0 (long past, like any expiry it could stand for) is kept
/// as -1.
fn expiry(at: Option<i64>) -> Option<NonZeroI64> {
    at.and_then(|at| NonZeroI64::new(at).or(NonZeroI64::new(-1)))
}

/// The LRU clock: unix seconds, advanced by [`set_access_clock`] as commands run (Redis's
/// `server.lruclock`), so stamping a key costs no clock read.
static LRU_CLOCK: AtomicU32 = AtomicU32::new(0);
/// Under an LFU policy: `lfu-log-factor` + 1 (0: keys record LRU stamps instead).
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(0);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// How keys count their uses under an LFU policy (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfuSettings {
    pub log_factor: u32,
    pub decay_time: u32,
}

/// Advances the access clock to `now` (unix milliseconds), and says how keys record their
/// uses from now on: LFU counters when `lfu` is given, LRU stamps otherwise.
pub fn set_access_clock(now: i64, lfu: Option<LfuSettings>) {
    LRU_CLOCK.store((now / 1000) as u32, Ordering::Relaxed);
    match lfu {
        Some(l) => {
            LFU_DECAY_TIME.store(l.decay_time, Ordering::Relaxed);
            LFU_LOG_FACTOR.store(l.log_factor.saturating_add(1), Ordering::Relaxed);
        }
        None => LFU_LOG_FACTOR.store(0, Ordering::Relaxed),
    }
}

fn lru_clock() -> u32 {
    LRU_CLOCK.load(Ordering::Relaxed)
}

/// Counts commands, so that a key's use is counted once per command (see `Store::counted`).
static COMMAND_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Marks the start of a command. (Commands run under the keyspace lock: a plain store is
/// enough, and cheaper than an atomic increment.)
pub fn begin_command() {
    let next = COMMAND_EPOCH.load(Ordering::Relaxed).wrapping_add(1);
    COMMAND_EPOCH.store(next, Ordering::Relaxed);
}

fn command_epoch() -> u64 {
    COMMAND_EPOCH.load(Ordering::Relaxed)
}

fn lfu() -> Option<LfuSettings> {
    match LFU_LOG_FACTOR.load(Ordering::Relaxed) {
        0 => None,
        n => Some(LfuSettings {
            log_factor: n - 1,
            decay_time: LFU_DECAY_TIME.load(Ordering::Relaxed),
        }),
    }
}

/// Redis's `LFUGetTimeInMinutes`: unix minutes, 16 bits.
fn lfu_minutes() -> u32 {
    (lru_clock() / 60) & 0xffff
}

/// Redis's `LFULogIncr`: the counter grows by one with probability 1 / ((counter - 5) ×
/// log_factor + 1), up to 255.
fn log_increment(counter: u32, log_factor: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// A stored key's bytes: up to 24 inline, so most keys cost no allocation (and no cache miss)
/// of their own.
type ItemKey = SmallVec<[u8; 24]>;

/// One key with its value: what the table holds, boxed so that a table slot costs a pointer.
/// The key's position is not kept: it is recomputed where needed (growing the table, walking
/// positions), which keeps an item at 72 bytes.
#[derive(Debug)]
struct Item {
    key: ItemKey,
    entry: Entry,
}

impl Item {
    fn pos(&self) -> u64 {
        position(&self.key)
    }
}

/// A key met while walking positions: its position and bytes.
#[derive(Debug, Clone, Copy)]
pub struct KeyAt<'a> {
    pos: u64,
    key: &'a [u8],
}

impl<'a> KeyAt<'a> {
    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn key(&self) -> &'a [u8] {
        self.key
    }
}

/// A position's hash in the table: an odd multiplier is a bijection, and it carries every bit of
/// the position into the top bits hashbrown keeps as tags (a position's own top bits are the
/// slot, shared by many keys).
fn table_hash(pos: u64) -> u64 {
    pos.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn rehash(item: &Item) -> u64 {
    table_hash(item.pos())
}

/// The keys and values of one database, with the indexes that must change with them.
#[derive(Debug, Default)]
struct Store {
    table: HashTable<Box<Item>>,
    /// Every position that has a key, in order (two keys may share one).
    order: BTreeSet<u64>,
    /// The keys that have an expiry, soonest first: the active expiry cycle takes from the front.
    expiring: BTreeSet<(i64, Slotted)>,
    /// Keys removed by lazy or active expiry since the counter was last taken.
    expired: u64,
    /// Expired keys read as missing but stay (clients are paused).
    hold_expired: bool,
    /// Events this database noticed by itself (`new`, `expired`, `keymiss`, `evicted`), for
    /// keyspace notifications.
    journal: Journal,
    /// Keys a lookup found expired and deleted, for client-side caching (see [`ChangeLog`]).
    lazily_expired: ChangeLog,
    /// Keys deleted by expiry or eviction, to be propagated as `DEL` to replicas; None while
    /// nothing is replicated.
    deletions: Option<Vec<Box<[u8]>>>,
    /// Under an LFU policy, the keys (positions) whose use the running command has counted:
    /// a handler may look a key up more than once (to check its type, then to change it),
    /// and Redis counts one use per lookup it makes, which is one per command.
    counted: Counted,
}

/// The keys a command has counted a use of, for [`command_epoch`]'s command.
#[derive(Debug, Default)]
struct Counted {
    epoch: u64,
    positions: SmallVec<[u64; 4]>,
}

impl Counted {
    /// Whether `pos` is counted for the first time in this command (and notes it).
    fn first_use(&mut self, pos: u64) -> bool {
        let epoch = command_epoch();
        if self.epoch != epoch {
            self.epoch = epoch;
            self.positions.clear();
        }
        if self.positions.contains(&pos) {
            return false;
        }
        self.positions.push(pos);
        true
    }
}

impl Store {
    fn note_deletion(&mut self, key: &[u8]) {
        if let Some(d) = &mut self.deletions {
            d.push(key.into());
        }
    }

    fn find(&self, key: &[u8]) -> Option<&Item> {
        let pos = position(key);
        self.table
            .find(table_hash(pos), |it| &it.key[..] == key)
            .map(|it| &**it)
    }

    fn find_mut(&mut self, key: &[u8]) -> Option<&mut Item> {
        let pos = position(key);
        self.table
            .find_mut(table_hash(pos), |it| &it.key[..] == key)
            .map(|it| &mut **it)
    }

    /// The entry of `key` if it is live; one that has expired is deleted first.
    /// `used`: the lookup counts as a use of the key (its LRU stamp moves to now).
    /// `read`: a read lookup, whose miss is a `keymiss` event (Redis's `lookupKeyRead`).
    fn live_mut(&mut self, key: &[u8], now: i64, used: bool, read: bool) -> Option<&mut Entry> {
        let pos = position(key);
        let found = self
            .table
            .find_entry(table_hash(pos), |it| &it.key[..] == key);
        let Ok(occupied) = found else {
            if read {
                self.journal.note_miss(key);
            }
            return None;
        };
        if !is_due(&occupied.get().entry, now) {
            let entry = &mut occupied.into_mut().entry;
            if used && (lfu().is_none() || self.counted.first_use(pos)) {
                entry.touch();
            }
            return Some(entry);
        }
        if !self.hold_expired {
            take(occupied, &mut self.order, &mut self.expiring, pos);
            self.expired += 1;
            self.journal.note(Events::EXPIRED, "expired", key);
            self.lazily_expired.note(key);
            if let Some(d) = &mut self.deletions {
                d.push(key.into());
            }
        }
        if read {
            self.journal.note_miss(key);
        }
        None
    }

    /// The entry of `key`, created with `make` when there is no live one.
    fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        let pos = position(key);
        match self
            .table
            .entry(table_hash(pos), |it| &it.key[..] == key, |it| rehash(it))
        {
            Slot::Occupied(occupied) => {
                let item = occupied.into_mut();
                if is_due(&item.entry, now) {
                    if let Some(at) = item.entry.expire_at() {
                        self.expiring.remove(&(at, Slotted::with_pos(key, pos)));
                    }
                    item.entry.set_expire_at(None);
                    item.entry.value = make();
                    self.expired += 1;
                    self.journal.note(Events::EXPIRED, "expired", key);
                    self.journal.note(Events::NEW, "new", key);
                    if let Some(d) = &mut self.deletions {
                        d.push(key.into());
                    }
                }
                &mut item.entry
            }
            Slot::Vacant(vacant) => {
                self.journal.note(Events::NEW, "new", key);
                self.order.insert(pos);
                let item = Item {
                    key: ItemKey::from_slice(key),
                    entry: Entry::new(make(), None),
                };
                &mut vacant.insert(Box::new(item)).into_mut().entry
            }
        }
    }

    /// Stores `value` under `key` with the expiry `expire` computes from the live entry's (None
    /// when there is no live entry).
    fn store(
        &mut self,
        key: &[u8],
        value: Value,
        now: i64,
        expire: impl FnOnce(Option<i64>) -> Option<i64>,
    ) {
        let pos = position(key);
        let item = match self
            .table
            .entry(table_hash(pos), |it| &it.key[..] == key, |it| rehash(it))
        {
            Slot::Occupied(occupied) => {
                let item = occupied.into_mut();
                let due = is_due(&item.entry, now);
                let live = if due {
                    self.expired += 1;
                    self.journal.note(Events::EXPIRED, "expired", key);
                    self.journal.note(Events::NEW, "new", key);
                    if let Some(d) = &mut self.deletions {
                        d.push(key.into());
                    }
                    None
                } else {
                    item.entry.expire_at()
                };
                let at = expire(live);
                let at = expiry(at).map(NonZeroI64::get);
                if item.entry.expire_at() != at {
                    let slotted = Slotted::with_pos(key, pos);
                    if let Some(old) = item.entry.expire_at() {
                        self.expiring.remove(&(old, slotted.clone()));
                    }
                    if let Some(at) = at {
                        self.expiring.insert((at, slotted));
                    }
                }
                let used = item.entry.lru;
                item.entry = Entry::new(value, at);
                if !due && lfu().is_some() {
                    // Redis's setKey looks the key up (a use, once per command), then keeps
                    // the old object's counter in dbSetValue.
                    item.entry.lru = used;
                    if self.counted.first_use(pos) {
                        item.entry.touch();
                    }
                }
                return;
            }
            Slot::Vacant(vacant) => {
                self.journal.note(Events::NEW, "new", key);
                self.order.insert(pos);
                let item = Item {
                    key: ItemKey::from_slice(key),
                    entry: Entry::new(value, expire(None)),
                };
                vacant.insert(Box::new(item))
            }
        };
        if let Some(at) = item.get().entry.expire_at() {
            self.expiring.insert((at, Slotted::with_pos(key, pos)));
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let pos = position(key);
        let found = self
            .table
            .find_entry(table_hash(pos), |it| &it.key[..] == key);
        Some(take(found.ok()?, &mut self.order, &mut self.expiring, pos).entry)
    }

    fn clear(&mut self) {
        self.table = HashTable::new();
        self.order.clear();
        self.expiring.clear();
    }

    /// The items at `pos`, by key (almost always one).
    fn at(&self, pos: u64) -> SmallVec<[&Item; 1]> {
        let mut items: SmallVec<[&Item; 1]> = self
            .table
            .iter_hash(table_hash(pos))
            .filter(|it| it.pos() == pos)
            .map(|it| &**it)
            .collect();
        if items.len() > 1 {
            items.sort_by(|a, b| a.key.cmp(&b.key));
        }
        items
    }
}

/// Removes the item at `occupied` (whose key is at `pos`) from the table and the indexes.
/// A free function, not a `Store` method: the entry borrows the table, the indexes are the
/// store's other fields.
fn take(
    occupied: OccupiedEntry<'_, Box<Item>>,
    order: &mut BTreeSet<u64>,
    expiring: &mut BTreeSet<(i64, Slotted)>,
    pos: u64,
) -> Box<Item> {
    let (item, vacant) = occupied.remove();
    if let Some(at) = item.entry.expire_at() {
        expiring.remove(&(at, Slotted::with_pos(&item.key, pos)));
    }
    let shared = vacant
        .into_table()
        .iter_hash(table_hash(pos))
        .any(|it| it.pos() == pos);
    if !shared {
        order.remove(&pos);
    }
    item
}

fn is_due(entry: &Entry, now: i64) -> bool {
    entry.expire_at().is_some_and(|at| at <= now)
}

/// One database (`SELECT n`).
#[derive(Debug, Default)]
pub struct Db {
    store: Store,
    signals: Signals,
}

/// Who must hear about changes to keys: `WATCH`ers and blocked clients.
#[derive(Debug, Default)]
struct Signals {
    /// Keys some client `WATCH`es: a version bumped on every change, and how many watch it.
    watched: HashMap<Box<[u8]>, Watch>,
    /// Keys some client is blocked on (`BLPOP`, `BZPOPMIN`, …), with the waiters' ids in
    /// arrival order.
    blocked: HashMap<Box<[u8]>, Vec<u64>>,
    /// Keys with waiters that were changed since the waiters were last served.
    ready: Vec<Box<[u8]>>,
    /// Keys changed, for client-side caching's invalidations.
    changed: ChangeLog,
    /// Changes signalled so far: replication's sign that a command changed data.
    changes: u64,
}

/// The keys a database changed, noted only while client tracking is live (see
/// [`crate::node::tracking`]), so that a write costs one branch otherwise.
#[derive(Debug, Default)]
struct ChangeLog {
    on: bool,
    keys: Vec<Box<[u8]>>,
}

impl ChangeLog {
    fn note(&mut self, key: &[u8]) {
        if self.on {
            self.keys.push(key.into());
        }
    }
}

#[derive(Debug, Default)]
struct Watch {
    version: u64,
    watchers: u32,
}

impl Signals {
    /// Marks `key` changed: its watchers' transactions will fail, its waiters will be served.
    fn touch(&mut self, key: &[u8]) {
        self.changes += 1;
        self.changed.note(key);
        if !self.watched.is_empty() {
            if let Some(w) = self.watched.get_mut(key) {
                w.version += 1;
            }
        }
        if !self.blocked.is_empty()
            && self.blocked.contains_key(key)
            && !self.ready.iter().any(|k| &**k == key)
        {
            self.ready.push(key.into());
        }
    }

    /// Puts `key` on the ready list if someone waits on it, without counting a change for
    /// `WATCH` (Redis's `signalKeyAsReady` without `signalModifiedKey`).
    fn wake(&mut self, key: &[u8]) {
        if self.blocked.contains_key(key) && !self.ready.iter().any(|k| &**k == key) {
            self.ready.push(key.into());
        }
    }

    fn touch_all(&mut self) {
        self.changes += 1;
        for w in self.watched.values_mut() {
            w.version += 1;
        }
    }
}

impl Db {
    /// How many changes were signalled to watchers so far (every change signals one).
    pub fn changes(&self) -> u64 {
        self.signals.changes
    }

    pub fn len(&self) -> usize {
        self.store.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.table.is_empty()
    }

    /// How many keys have an expiry.
    pub fn expires_len(&self) -> usize {
        self.store.expiring.len()
    }

    /// The live entry of `key`, deleting it first if it has expired. Reading does not count as a
    /// change: use [`get_mut`](Self::get_mut) to change the value.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.store.live_mut(key, now, true, true).map(|e| &*e)
    }

    /// The live entry of `key` without counting a use of it (`OBJECT`, `TYPE`, `EXISTS`,
    /// `TTL`: Redis's `LOOKUP_NOTOUCH`).
    pub fn get_untouched(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.store.live_mut(key, now, false, true).map(|e| &*e)
    }

    /// The entry of `key` as stored, expired or not, without deleting anything: for reading
    /// several values at once after [`get`](Self::get) has expired them.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.store.find(key).map(|it| &it.entry)
    }

    /// The live value of `key`.
    pub fn value(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.get(key, now).map(|e| &e.value)
    }

    /// Whether `key` is live.
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// Whether `key` is live, looked up as a write looks (a miss is no `keymiss` event).
    pub fn contains_for_write(&mut self, key: &[u8], now: i64) -> bool {
        self.store.live_mut(key, now, true, false).is_some()
    }

    /// The live value of `key`, to change: the key counts as modified (`WATCH`, blocked
    /// clients). A handler that empties a collection must [`remove`](Self::remove) the key.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        let entry = self.store.live_mut(key, now, true, false)?;
        self.signals.touch(key);
        Some(&mut entry.value)
    }

    /// The live value of `key`, to change without counting it as modified, for the changes
    /// Redis makes without signalling the key (a string turned `raw` in place, an HLL that
    /// changed encoding or was found unchanged). [`touch`](Self::touch) it if the change is
    /// one that `WATCH` must see.
    pub fn get_mut_unsignalled(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        self.store
            .live_mut(key, now, true, false)
            .map(|e| &mut e.value)
    }

    /// Wakes the clients blocked on `key` without a change for `WATCH` (`XGROUP DESTROY`
    /// wakes `XREADGROUP` waiters to tell them their group is gone).
    pub fn wake(&mut self, key: &[u8]) {
        self.signals.wake(key);
    }

    /// Runs `change` on the live value of `key` (None: no live key). The key counts as modified
    /// only when `change` succeeds, so a refused change (a wrong type) disturbs no `WATCH`.
    pub fn try_modify<R, E>(
        &mut self,
        key: &[u8],
        now: i64,
        change: impl FnOnce(&mut Value) -> Result<R, E>,
    ) -> Option<Result<R, E>> {
        let entry = self.store.live_mut(key, now, true, false)?;
        let result = change(&mut entry.value);
        if result.is_ok() {
            self.signals.touch(key);
        }
        Some(result)
    }

    /// The value of `key`, created with `make` when the key does not exist; counts as a change.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        self.signals.touch(key);
        &mut self.store.get_or_insert_with(key, now, make).value
    }

    /// Stores `value` under `key`, dropping any expiry (`SET`'s rule).
    pub fn set(&mut self, key: &[u8], value: Value, now: i64) {
        self.set_with_expiry(key, value, None, now);
    }

    /// Stores `value` under `key` keeping the key's expiry, if it is live (`SET … KEEPTTL`).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now: i64) {
        self.signals.touch(key);
        self.store.store(key, value, now, |live| live);
    }

    /// Stores `value` under `key` with this expiry. An old entry whose time was up at `now`
    /// expires first (its use count is not carried over, and the key is new again).
    pub fn set_with_expiry(&mut self, key: &[u8], value: Value, expire_at: Option<i64>, now: i64) {
        self.signals.touch(key);
        self.store.store(key, value, now, |_| expire_at);
    }

    /// Deletes `key`, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8], now: i64) -> Option<Value> {
        self.store.live_mut(key, now, true, false)?;
        self.remove_entry(key).map(|e| e.value)
    }

    /// Deletes `key` to make room under `maxmemory` (an `evicted` event).
    pub fn evict(&mut self, key: &[u8]) {
        if self.remove_entry(key).is_some() {
            self.store.journal.note(Events::EVICTED, "evicted", key);
            self.store.note_deletion(key);
        }
    }

    /// The events this database noticed by itself, for keyspace notifications.
    pub fn journal(&mut self) -> &mut Journal {
        &mut self.store.journal
    }

    /// Deletes `key` and returns its entry, live or not.
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.store.remove(key)?;
        self.signals.touch(key);
        Some(entry)
    }

    /// Sets how long ago `key` was used (`idle` seconds, under LRU) or how often (`freq`, the
    /// LFU counter), as `RESTORE` may; nothing for a missing key.
    pub fn restore_use(&mut self, key: &[u8], idle: Option<i64>, freq: Option<i64>) {
        if let Some(item) = self.store.find_mut(key) {
            item.entry.restore_use(idle, freq);
        }
    }

    /// Deletes `key` if its value is an empty collection (after a pop or a remove); whether it
    /// did.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self
            .store
            .find(key)
            .is_some_and(|it| it.entry.value.is_empty_collection());
        if empty {
            self.remove_entry(key);
        }
        empty
    }

    /// The expiry of a live `key` (None: no key, or no expiry; see [`get`](Self::get)).
    pub fn expire_at(&mut self, key: &[u8], now: i64) -> Option<i64> {
        self.get(key, now).and_then(|e| e.expire_at())
    }

    /// Sets or clears a live key's expiry; false if there is no such key. An expiry at or
    /// before `now` deletes the key, as Redis does.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>, now: i64) -> bool {
        let Some(entry) = self.store.live_mut(key, now, true, false) else {
            return false;
        };
        if matches!(at, Some(at) if at <= now) {
            self.remove_entry(key);
            return true;
        }
        let old = entry.expire_at();
        entry.set_expire_at(at);
        let at = entry.expire_at();
        if old != at {
            let slotted = Slotted::new(key);
            if let Some(old) = old {
                self.store.expiring.remove(&(old, slotted.clone()));
            }
            if let Some(at) = at {
                self.store.expiring.insert((at, slotted));
            }
        }
        self.signals.touch(key);
        true
    }

    /// Deletes every key (`FLUSHDB`); watchers see every watched key changed.
    pub fn clear(&mut self) {
        self.store.clear();
        self.signals.touch_all();
    }

    /// Swaps the data of two databases (`SWAPDB`), leaving watchers and waiters where they
    /// are; both sides' watchers see a change and both sides' waiters are woken.
    pub fn swap_data(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.store, &mut other.store);
        // The expired counts and the journals belong to the databases, not to the data.
        std::mem::swap(&mut self.store.expired, &mut other.store.expired);
        std::mem::swap(&mut self.store.journal, &mut other.store.journal);
        std::mem::swap(&mut self.store.deletions, &mut other.store.deletions);
        std::mem::swap(
            &mut self.store.lazily_expired,
            &mut other.store.lazily_expired,
        );
        for db in [self, other] {
            db.signals.touch_all();
            let waited: Vec<Box<[u8]>> = db.signals.blocked.keys().cloned().collect();
            db.signals.ready.extend(waited);
        }
    }

    /// Entries from position `from` on, in position order (`SCAN`, `KEYS`, slot walks).
    /// Expired entries are included: callers check [`Entry::expire_at`] against their clock.
    pub fn range_from(&self, from: u64) -> impl Iterator<Item = (KeyAt<'_>, &Entry)> {
        self.store
            .order
            .range(from..)
            .flat_map(|&pos| self.store.at(pos).into_iter().map(move |it| (pos, it)))
            .map(|(pos, it)| (KeyAt { pos, key: &it.key }, &it.entry))
    }

    /// Every entry in position order; expired ones included (see [`range_from`](Self::range_from)).
    pub fn iter(&self) -> impl Iterator<Item = (KeyAt<'_>, &Entry)> {
        self.range_from(0)
    }

    /// Deletes up to `limit` keys whose expiry is at or before `now`, soonest first; returns how
    /// many were deleted. This is the active expiry cycle's step, bounded by `limit`.
    pub fn expire_due(&mut self, now: i64, limit: usize) -> usize {
        let mut n = 0;
        while n < limit {
            let Some((at, slotted)) = self.store.expiring.first() else {
                break;
            };
            if *at > now {
                break;
            }
            let key = slotted.key().to_vec();
            self.remove_entry(&key);
            self.store.expired += 1;
            self.store.journal.note(Events::EXPIRED, "expired", &key);
            self.store.note_deletion(&key);
            n += 1;
        }
        n
    }

    /// While `hold` (clients are paused), a lookup of an expired key answers that it is missing
    /// without deleting it, so that the dataset does not change.
    pub fn hold_expired(&mut self, hold: bool) {
        self.store.hold_expired = hold;
    }

    /// Whether keys deleted by expiry or eviction are noted for replication (see
    /// [`take_deletions`](Self::take_deletions)).
    pub fn note_deletions(&mut self, on: bool) {
        if on != self.store.deletions.is_some() {
            self.store.deletions = on.then(Vec::new);
        }
    }

    /// The keys expiry and eviction deleted since the last call, oldest first, while
    /// [`note_deletions`](Self::note_deletions) is on.
    pub fn take_deletions(&mut self) -> Vec<Box<[u8]>> {
        match &mut self.store.deletions {
            Some(d) if !d.is_empty() => std::mem::take(d),
            _ => Vec::new(),
        }
    }

    /// Keys expired since the last call.
    pub fn take_expired_count(&mut self) -> u64 {
        std::mem::take(&mut self.store.expired)
    }

    /// Marks `key` changed: its watchers' transactions will fail, its waiters will be served.
    pub fn touch(&mut self, key: &[u8]) {
        self.signals.touch(key);
    }

    /// Starts or stops noting changed keys for client-side caching.
    pub fn note_changes(&mut self, on: bool) {
        self.signals.changed.on = on;
        self.store.lazily_expired.on = on;
        if !on {
            self.signals.changed.keys.clear();
            self.store.lazily_expired.keys.clear();
        }
    }

    /// Whether changed keys are being noted.
    pub fn notes_changes(&self) -> bool {
        self.signals.changed.on
    }

    /// Moves the keys changed since the last call (lazily expired ones first) into `into`.
    pub fn take_changes(&mut self, into: &mut Vec<Box<[u8]>>) {
        into.append(&mut self.store.lazily_expired.keys);
        into.append(&mut self.signals.changed.keys);
    }

    /// Starts watching `key`; returns the version to compare at `EXEC`.
    pub fn watch(&mut self, key: &[u8]) -> u64 {
        let w = self.signals.watched.entry(key.into()).or_default();
        w.watchers += 1;
        w.version
    }

    /// The current version of a watched key.
    pub fn watch_version(&self, key: &[u8]) -> u64 {
        self.signals.watched.get(key).map_or(0, |w| w.version)
    }

    /// One watcher of `key` is done with it.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.signals.watched.get_mut(key) {
            w.watchers -= 1;
            if w.watchers == 0 {
                self.signals.watched.remove(key);
            }
        }
    }

    /// Registers waiter `id` on `key`, after those already waiting.
    pub fn add_waiter(&mut self, key: &[u8], id: u64) {
        self.signals.blocked.entry(key.into()).or_default().push(id);
    }

    /// Removes waiter `id` from `key`.
    pub fn remove_waiter(&mut self, key: &[u8], id: u64) {
        if let Some(ids) = self.signals.blocked.get_mut(key) {
            ids.retain(|&w| w != id);
            if ids.is_empty() {
                self.signals.blocked.remove(key);
            }
        }
    }

    /// The waiters on `key`, oldest first.
    pub fn waiters(&self, key: &[u8]) -> Vec<u64> {
        self.signals.blocked.get(key).cloned().unwrap_or_default()
    }

    /// Takes the keys changed since the last call that have waiters.
    pub fn take_ready(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.signals.ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::keyspace::string::Str;

    fn s(v: &str) -> Value {
        Value::Str(Str::from_bytes(v.as_bytes()))
    }

    #[test]
    fn expiry_is_lazy_and_active() {
        let mut db = Db::default();
        db.set(b"a", s("1"), 0);
        db.set(b"b", s("2"), 0);
        assert!(db.set_expire(b"a", Some(100), 50));
        assert_eq!(db.expire_at(b"a", 50), Some(100));
        assert!(db.get(b"a", 100).is_none(), "expired at its time");
        assert_eq!(db.len(), 1);
        db.set_with_expiry(b"c", s("3"), Some(10), 0);
        db.set_with_expiry(b"d", s("4"), Some(20), 0);
        assert_eq!(db.expire_due(15, 10), 1);
        assert_eq!(db.expire_due(25, 10), 1);
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.take_expired_count(), 3);
    }

    #[test]
    fn changed_keys_are_noted_only_while_asked() {
        let taken = |db: &mut Db| {
            let mut keys = Vec::new();
            db.take_changes(&mut keys);
            keys.into_iter().map(|k| k.to_vec()).collect::<Vec<_>>()
        };
        let mut db = Db::default();
        db.set(b"quiet", s("1"), 0);
        assert!(!db.notes_changes());
        assert!(taken(&mut db).is_empty());
        db.note_changes(true);
        db.set(b"a", s("1"), 0);
        db.set_with_expiry(b"t", s("1"), Some(10), 0);
        assert!(db.get(b"a", 0).is_some(), "a read is no change");
        assert!(db.get_mut(b"missing", 0).is_none(), "nothing to change");
        db.remove(b"quiet", 0);
        assert_eq!(
            taken(&mut db),
            vec![b"a".to_vec(), b"t".to_vec(), b"quiet".to_vec()]
        );
        // Lazy expiry (a read finding the key due) and active expiry both count.
        assert!(db.get(b"t", 10).is_none());
        assert_eq!(taken(&mut db), vec![b"t".to_vec()]);
        db.set_with_expiry(b"u", s("1"), Some(10), 0);
        taken(&mut db);
        assert_eq!(db.expire_due(20, 10), 1);
        db.set(b"a", s("2"), 20);
        assert_eq!(taken(&mut db), vec![b"u".to_vec(), b"a".to_vec()]);
        db.note_changes(false);
        db.set(b"a", s("3"), 20);
        assert!(taken(&mut db).is_empty());
    }

    #[test]
    fn set_drops_ttl_and_watch_sees_changes() {
        let mut db = Db::default();
        db.set_with_expiry(b"k", s("v"), Some(1000), 0);
        let v = db.watch(b"k");
        db.set(b"k", s("w"), 0);
        assert_eq!(db.expire_at(b"k", 0), None);
        assert_ne!(db.watch_version(b"k"), v);
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn range_from_walks_in_position_order() {
        let mut db = Db::default();
        for i in 0..100 {
            db.set(format!("k{i}").as_bytes(), s("x"), 0);
        }
        let all: Vec<u64> = db.iter().map(|(k, _)| k.pos()).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        let mid = all[50];
        assert_eq!(db.range_from(mid).count(), 50);
    }

    #[test]
    fn items_stay_small_and_keys_inline() {
        assert_eq!(std::mem::size_of::<Item>(), 72);
        let item = ItemKey::from_slice(b"counter:000000012345");
        assert!(!item.spilled(), "20-byte keys are stored inline");
    }

    #[test]
    fn removals_keep_the_position_index_in_step() {
        let mut db = Db::default();
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), s("x"), 0);
        }
        for i in (0..1000).step_by(2) {
            assert!(db.remove(format!("k{i}").as_bytes(), 0).is_some());
        }
        assert_eq!(db.len(), 500);
        assert_eq!(db.iter().count(), 500);
        assert_eq!(db.store.order.len(), 500);
        assert!(db.iter().all(|(k, _)| k.pos() == super::position(k.key())));
    }

    #[test]
    fn expired_entries_are_replaced_not_revived() {
        let mut db = Db::default();
        db.set_with_expiry(b"k", s("old"), Some(10), 0);
        // KEEPTTL on an expired key: the expiry went with the old value.
        db.set_keep_ttl(b"k", s("new"), 20);
        assert_eq!(db.expire_at(b"k", 20), None);
        assert_eq!(db.expires_len(), 0);
        db.set_with_expiry(b"h", s("old"), Some(10), 0);
        let v = db.get_or_insert_with(b"h", 20, || s("fresh"));
        assert!(matches!(v, Value::Str(_)));
        assert_eq!(db.expire_at(b"h", 20), None);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.take_expired_count(), 2);
    }

    #[test]
    fn refused_changes_do_not_disturb_watchers() {
        let mut db = Db::default();
        db.set(b"k", s("v"), 0);
        let v = db.watch(b"k");
        let refused = db.try_modify(b"k", 0, |_| Err::<(), ()>(()));
        assert_eq!(refused, Some(Err(())));
        assert_eq!(db.watch_version(b"k"), v);
        assert_eq!(db.try_modify(b"k", 0, |_| Ok::<(), ()>(())), Some(Ok(())));
        assert_ne!(db.watch_version(b"k"), v);
        assert_eq!(db.try_modify(b"missing", 0, |_| Ok::<(), ()>(())), None);
    }

    #[test]
    fn uses_move_the_lru_stamp_and_looks_do_not() {
        let mut db = Db::default();
        set_access_clock(1_000_000, None);
        db.set(b"k", s("v"), 0);
        set_access_clock(1_100_000, None);
        assert_eq!(db.get_untouched(b"k", 0).unwrap().idle_seconds(), 100);
        assert_eq!(db.peek(b"k").unwrap().idle_seconds(), 100);
        db.get(b"k", 0);
        assert_eq!(db.peek(b"k").unwrap().idle_seconds(), 0);
    }

    #[test]
    fn an_expiry_at_the_epoch_is_kept_as_past() {
        let mut db = Db::default();
        db.set_with_expiry(b"k", s("v"), Some(0), 0);
        assert!(db.peek(b"k").unwrap().expire_at().is_some_and(|at| at < 0));
        assert!(db.get(b"k", 1).is_none());
        assert_eq!(db.expires_len(), 0);
    }
}
