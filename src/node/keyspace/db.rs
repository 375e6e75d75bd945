//! One numbered database: keys in position order, their expiry times, and who watches or waits
//! on them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use super::key::{Locate, Probe, Slotted};
use super::value::Value;

/// A stored value and its expiry (unix milliseconds).
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    pub expire_at: Option<i64>,
}

/// One database (`SELECT n`).
#[derive(Debug, Default)]
pub struct Db {
    entries: BTreeMap<Slotted, Entry>,
    /// The keys that have an expiry, soonest first: the active expiry cycle takes from the front.
    expiring: BTreeSet<(i64, Slotted)>,
    /// Keys some client `WATCH`es: a version bumped on every change, and how many watch it.
    watched: HashMap<Box<[u8]>, Watch>,
    /// Keys some client is blocked on (`BLPOP`, `BZPOPMIN`, …), with the waiters' ids in
    /// arrival order.
    blocked: HashMap<Box<[u8]>, Vec<u64>>,
    /// Keys with waiters that were changed since the waiters were last served.
    ready: Vec<Box<[u8]>>,
    /// Keys removed by lazy or active expiry since the counter was last taken.
    expired: u64,
}

#[derive(Debug, Default)]
struct Watch {
    version: u64,
    watchers: u32,
}

impl Db {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many keys have an expiry.
    pub fn expires_len(&self) -> usize {
        self.expiring.len()
    }

    /// The live entry of `key`, deleting it first if it has expired. Reading does not count as a
    /// change: use [`get_mut`](Self::get_mut) to change the value.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_due(key, now);
        self.entries.get(&Probe::new(key) as &dyn Locate)
    }

    /// The live value of `key`.
    pub fn value(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.get(key, now).map(|e| &e.value)
    }

    /// Whether `key` is live.
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// The live value of `key`, to change: the key counts as modified (`WATCH`, blocked
    /// clients). A handler that empties a collection must [`remove`](Self::remove) the key.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        self.expire_if_due(key, now);
        if !self.entries.contains_key(&Probe::new(key) as &dyn Locate) {
            return None;
        }
        self.touch(key);
        self.entries
            .get_mut(&Probe::new(key) as &dyn Locate)
            .map(|e| &mut e.value)
    }

    /// The value of `key`, created with `make` when the key does not exist; counts as a change.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        self.expire_if_due(key, now);
        self.touch(key);
        if !self.entries.contains_key(&Probe::new(key) as &dyn Locate) {
            self.entries.insert(
                Slotted::new(key),
                Entry {
                    value: make(),
                    expire_at: None,
                },
            );
        }
        &mut self
            .entries
            .get_mut(&Probe::new(key) as &dyn Locate)
            .expect("inserted above")
            .value
    }

    /// Stores `value` under `key`, dropping any expiry (`SET`'s rule).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.set_with_expiry(key, value, None);
    }

    /// Stores `value` under `key` keeping the key's expiry, if it is live (`SET … KEEPTTL`).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now: i64) {
        let ttl = self.get(key, now).and_then(|e| e.expire_at);
        self.set_with_expiry(key, value, ttl);
    }

    /// Stores `value` under `key` with this expiry.
    pub fn set_with_expiry(&mut self, key: &[u8], value: Value, expire_at: Option<i64>) {
        self.touch(key);
        let slotted = Slotted::new(key);
        if let Some(old) = self.entries.get_mut(&slotted) {
            if let Some(at) = old.expire_at {
                self.expiring.remove(&(at, slotted.clone()));
            }
            old.value = value;
            old.expire_at = expire_at;
        } else {
            self.entries
                .insert(slotted.clone(), Entry { value, expire_at });
        }
        if let Some(at) = expire_at {
            self.expiring.insert((at, slotted));
        }
    }

    /// Deletes `key`, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8], now: i64) -> Option<Value> {
        self.expire_if_due(key, now);
        self.remove_entry(key).map(|e| e.value)
    }

    /// Deletes `key` and returns its entry, live or not.
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<Entry> {
        let (slotted, entry) = self.entries.remove_entry(&Probe::new(key) as &dyn Locate)?;
        if let Some(at) = entry.expire_at {
            self.expiring.remove(&(at, slotted));
        }
        self.touch(key);
        Some(entry)
    }

    /// Deletes `key` if its value is an empty collection (after a pop or a remove).
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        let empty = self
            .entries
            .get(&Probe::new(key) as &dyn Locate)
            .is_some_and(|e| e.value.is_empty_collection());
        if empty {
            self.remove_entry(key);
        }
    }

    /// The expiry of a live `key` (None: no key, or no expiry; see [`get`](Self::get)).
    pub fn expire_at(&mut self, key: &[u8], now: i64) -> Option<i64> {
        self.get(key, now).and_then(|e| e.expire_at)
    }

    /// Sets or clears a live key's expiry; false if there is no such key. An expiry at or
    /// before `now` deletes the key, as Redis does.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>, now: i64) -> bool {
        self.expire_if_due(key, now);
        let slotted = Slotted::new(key);
        let Some(entry) = self.entries.get_mut(&slotted) else {
            return false;
        };
        if let Some(old) = entry.expire_at {
            self.expiring.remove(&(old, slotted.clone()));
        }
        entry.expire_at = at;
        self.touch(key);
        match at {
            Some(at) if at <= now => {
                self.remove_entry(key);
            }
            Some(at) => {
                self.expiring.insert((at, slotted));
            }
            None => {}
        }
        true
    }

    /// Deletes every key (`FLUSHDB`); watchers see every watched key changed.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.expiring.clear();
        for w in self.watched.values_mut() {
            w.version += 1;
        }
    }

    /// Swaps the data of two databases (`SWAPDB`), leaving watchers and waiters where they
    /// are; both sides' watchers see a change and both sides' waiters are woken.
    pub fn swap_data(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.entries, &mut other.entries);
        std::mem::swap(&mut self.expiring, &mut other.expiring);
        for db in [self, other] {
            for w in db.watched.values_mut() {
                w.version += 1;
            }
            let waited: Vec<Box<[u8]>> = db.blocked.keys().cloned().collect();
            db.ready.extend(waited);
        }
    }

    /// Live entries from position `from` on, in position order (`SCAN`, `KEYS`, slot walks).
    /// Expired entries are included: callers check [`Entry::expire_at`] against their clock.
    pub fn range_from(&self, from: u64) -> impl Iterator<Item = (&Slotted, &Entry)> {
        let start = Probe::at(from);
        self.entries
            .range::<dyn Locate, _>((Bound::Included(&start as &dyn Locate), Bound::Unbounded))
    }

    /// Every entry in position order; expired ones included (see [`range_from`](Self::range_from)).
    pub fn iter(&self) -> impl Iterator<Item = (&Slotted, &Entry)> {
        self.entries.iter()
    }

    /// Deletes up to `limit` keys whose expiry is at or before `now`, soonest first; returns how
    /// many were deleted. This is the active expiry cycle's step, bounded by `limit`.
    pub fn expire_due(&mut self, now: i64, limit: usize) -> usize {
        let mut n = 0;
        while n < limit {
            let Some((at, slotted)) = self.expiring.first() else {
                break;
            };
            if *at > now {
                break;
            }
            let key = slotted.key().to_vec();
            self.remove_entry(&key);
            self.expired += 1;
            n += 1;
        }
        n
    }

    /// Keys expired since the last call.
    pub fn take_expired_count(&mut self) -> u64 {
        std::mem::take(&mut self.expired)
    }

    fn expire_if_due(&mut self, key: &[u8], now: i64) {
        let due = self
            .entries
            .get(&Probe::new(key) as &dyn Locate)
            .and_then(|e| e.expire_at)
            .is_some_and(|at| at <= now);
        if due {
            self.remove_entry(key);
            self.expired += 1;
        }
    }

    /// Marks `key` changed: its watchers' transactions will fail, its waiters will be served.
    pub fn touch(&mut self, key: &[u8]) {
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

    /// Starts watching `key`; returns the version to compare at `EXEC`.
    pub fn watch(&mut self, key: &[u8]) -> u64 {
        let w = self.watched.entry(key.into()).or_default();
        w.watchers += 1;
        w.version
    }

    /// The current version of a watched key.
    pub fn watch_version(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map_or(0, |w| w.version)
    }

    /// One watcher of `key` is done with it.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.watchers -= 1;
            if w.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// Registers waiter `id` on `key`, after those already waiting.
    pub fn add_waiter(&mut self, key: &[u8], id: u64) {
        self.blocked.entry(key.into()).or_default().push(id);
    }

    /// Removes waiter `id` from `key`.
    pub fn remove_waiter(&mut self, key: &[u8], id: u64) {
        if let Some(ids) = self.blocked.get_mut(key) {
            ids.retain(|&w| w != id);
            if ids.is_empty() {
                self.blocked.remove(key);
            }
        }
    }

    /// The waiters on `key`, oldest first.
    pub fn waiters(&self, key: &[u8]) -> Vec<u64> {
        self.blocked.get(key).cloned().unwrap_or_default()
    }

    /// Takes the keys changed since the last call that have waiters.
    pub fn take_ready(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.ready)
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
        db.set(b"a", s("1"));
        db.set(b"b", s("2"));
        assert!(db.set_expire(b"a", Some(100), 50));
        assert_eq!(db.expire_at(b"a", 50), Some(100));
        assert!(db.get(b"a", 100).is_none(), "expired at its time");
        assert_eq!(db.len(), 1);
        db.set_with_expiry(b"c", s("3"), Some(10));
        db.set_with_expiry(b"d", s("4"), Some(20));
        assert_eq!(db.expire_due(15, 10), 1);
        assert_eq!(db.expire_due(25, 10), 1);
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.take_expired_count(), 3);
    }

    #[test]
    fn set_drops_ttl_and_watch_sees_changes() {
        let mut db = Db::default();
        db.set_with_expiry(b"k", s("v"), Some(1000));
        let v = db.watch(b"k");
        db.set(b"k", s("w"));
        assert_eq!(db.expire_at(b"k", 0), None);
        assert_ne!(db.watch_version(b"k"), v);
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn range_from_walks_in_position_order() {
        let mut db = Db::default();
        for i in 0..100 {
            db.set(format!("k{i}").as_bytes(), s("x"));
        }
        let all: Vec<u64> = db.iter().map(|(k, _)| k.pos()).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        let mid = all[50];
        assert_eq!(db.range_from(mid).count(), 50);
    }
}
