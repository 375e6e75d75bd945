//! Memory accounting and `maxmemory` eviction.
//!
//! `used_memory` is an *estimate of the dataset*, not the process's RSS: the allocator rarely
//! gives freed memory back, so RSS would never fall after evicting and eviction would empty
//! the database. Each key is estimated from its key length, its value's length (strings: bytes;
//! collections: elements × a per-element cost, since element sizes are not tracked) and fixed
//! per-key overheads, plus a fixed base for the server itself. A database of at most
//! [`EXACT_UP_TO`] keys is summed exactly; a larger one is sampled ([`SAMPLES`] random keys, by
//! random position in the keyspace's hash order) and extrapolated, so the cost per command is
//! bounded whatever the dataset's size.
//!
//! Eviction runs before each command when `maxmemory` is set, as in Redis: while the estimate
//! is over the limit, a victim is picked from `maxmemory-samples` random keys by the policy
//! and deleted. `allkeys-lru`/`volatile-lru` take the sampled key idle longest (keys carry a
//! last-used stamp); `allkeys-lfu`/`volatile-lfu` the sampled key with the lowest (decayed)
//! access counter; the random policies any sampled key (the `volatile-*` ones among keys with
//! a TTL); `volatile-ttl` the sampled key that expires soonest.

use std::sync::atomic::Ordering;

use rand::Rng;

use super::config::NodeConfig;
use super::keyspace::{Db, Entry, Keyspace, Value};
use super::server::Node;

/// What the server itself is counted as using (Redis starts near 0.9 MB).
pub const BASE_BYTES: u64 = 900 * 1024;
/// Per-key overhead: the map entry, the key's allocation, the value's header.
const KEY_OVERHEAD: u64 = 64;
/// Per-element cost of a collection whose elements' sizes are not looked at.
const ELEMENT_BYTES: u64 = 48;
/// Databases this small are summed key by key.
const EXACT_UP_TO: usize = 64;
/// Random keys sampled to estimate a larger database.
const SAMPLES: usize = 32;
/// Most keys one command's eviction deletes; the next command carries on.
const MAX_EVICTIONS_PER_COMMAND: usize = 100_000;
/// Positions span `16384 << 48`.
const POSITION_END: u64 = 16384 << 48;

/// The estimated size of one key and its value.
pub fn entry_bytes(key: &[u8], entry: &Entry) -> u64 {
    let value = match &entry.value {
        Value::Str(s) => 16 + s.len() as u64,
        Value::List(v) => 64 + v.len() as u64 * ELEMENT_BYTES,
        Value::Hash(v) => 64 + v.len() as u64 * ELEMENT_BYTES * 2,
        Value::Set(v) => 64 + v.len() as u64 * ELEMENT_BYTES,
        Value::ZSet(v) => 64 + v.len() as u64 * ELEMENT_BYTES * 2,
        Value::Stream(v) => 64 + v.heap_bytes() as u64,
    };
    let expiry = if entry.expire_at().is_some() { 32 } else { 0 };
    KEY_OVERHEAD + key.len() as u64 + value + expiry
}

/// `MEMORY USAGE`: the bytes of one key and its value, looking at the first `samples`
/// elements of a collection (None: all of them) and counting the rest at their average, as
/// Redis's `objectComputeSize` does.
pub fn key_usage(key: &[u8], entry: &Entry, samples: Option<usize>) -> u64 {
    fn sampled<I: Iterator<Item = u64>>(items: I, len: usize, samples: Option<usize>) -> u64 {
        let take = samples.unwrap_or(usize::MAX).max(1);
        let (mut n, mut sum) = (0u64, 0u64);
        for bytes in items.take(take) {
            n += 1;
            sum += bytes;
        }
        if n as usize >= len {
            sum
        } else {
            sum.checked_div(n).unwrap_or(0) * len as u64
        }
    }
    let value = match &entry.value {
        Value::Str(s) => 16 + s.len() as u64,
        Value::List(v) => 64 + sampled(v.iter().map(|e| 16 + e.len() as u64), v.len(), samples),
        Value::Hash(v) => {
            64 + sampled(
                v.iter().map(|(f, x)| 32 + (f.len() + x.len()) as u64),
                v.len(),
                samples,
            )
        }
        Value::Set(v) => 64 + sampled(v.iter().map(|m| 32 + m.len() as u64), v.len(), samples),
        Value::ZSet(v) => {
            64 + sampled(v.iter().map(|(m, _)| 48 + m.len() as u64), v.len(), samples)
        }
        // A stream's chunks are already packed: their bytes are counted whole, not sampled.
        Value::Stream(v) => 64 + v.heap_bytes() as u64,
    };
    let expiry = if entry.expire_at().is_some() { 32 } else { 0 };
    KEY_OVERHEAD + key.len() as u64 + value + expiry
}

/// The estimated bytes of one database.
pub fn db_bytes(db: &Db) -> u64 {
    let n = db.len();
    if n == 0 {
        return 0;
    }
    if n <= EXACT_UP_TO {
        return db.iter().map(|(k, e)| entry_bytes(k.key(), e)).sum();
    }
    let mut rng = rand::thread_rng();
    let mut sum = 0;
    for _ in 0..SAMPLES {
        if let Some((k, e)) = random_entry(db, rng.gen_range(0..POSITION_END)) {
            sum += entry_bytes(k, e);
        }
    }
    sum / SAMPLES as u64 * n as u64
}

/// `used_memory`: the base plus every database's estimate.
pub fn used_memory(ks: &Keyspace) -> u64 {
    BASE_BYTES + ks.dbs().iter().map(db_bytes).sum::<u64>()
}

/// Records `used` as the peak if it is one; the peak so far.
pub fn note_peak(node: &Node, used: u64) -> u64 {
    node.stats
        .memory_peak
        .fetch_max(used, Ordering::Relaxed)
        .max(used)
}

/// The process's resident set size, from /proc/self/statm (0 where that is missing).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The first key at or after `pos`, wrapping around.
fn random_entry(db: &Db, pos: u64) -> Option<(&[u8], &Entry)> {
    db.range_from(pos)
        .next()
        .or_else(|| db.iter().next())
        .map(|(k, e)| (k.key(), e))
}

/// The outcome of [`make_room`].
#[derive(Debug, PartialEq, Eq)]
pub enum Room {
    /// No limit, or under it (possibly after evicting).
    Enough,
    /// Over the limit and nothing (more) may be evicted.
    OutOfMemory,
}

/// Evicts keys by `maxmemory-policy` until the estimate is under `maxmemory` (Redis's
/// `performEvictions`); while clients are paused, does nothing and reports enough room.
pub fn make_room(ks: &mut Keyspace, node: &Node, config: &NodeConfig, now: i64) -> Room {
    let max = config.maxmemory().max(0) as u64;
    // Nothing is evicted while clients are paused (and so nothing is refused for memory).
    if max == 0 || ks.paused(now).is_some() {
        return Room::Enough;
    }
    let used = used_memory(ks);
    note_peak(node, used);
    if used <= max {
        return Room::Enough;
    }
    let policy = config.get("maxmemory-policy");
    if policy == "noeviction" {
        return Room::OutOfMemory;
    }
    let samples = config.usize("maxmemory-samples").clamp(1, 64);
    let volatile = policy.starts_with("volatile-");
    let mut to_free = used - max;
    let mut rng = rand::thread_rng();
    let mut evicted = 0;
    while evicted < MAX_EVICTIONS_PER_COMMAND {
        let Some((db_index, key, bytes)) = pick_victim(ks, policy, volatile, samples, &mut rng)
        else {
            return Room::OutOfMemory;
        };
        ks.db(db_index).evict(&key);
        evicted += 1;
        node.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
        if bytes >= to_free {
            return Room::Enough;
        }
        to_free -= bytes;
    }
    Room::OutOfMemory
}

/// A key to evict: (database, key, its estimated bytes).
fn pick_victim(
    ks: &Keyspace,
    policy: &str,
    volatile: bool,
    samples: usize,
    rng: &mut impl Rng,
) -> Option<(usize, Vec<u8>, u64)> {
    let candidates: Vec<usize> = ks
        .dbs()
        .iter()
        .enumerate()
        .filter(|(_, db)| {
            if volatile {
                db.expires_len() > 0
            } else {
                !db.is_empty()
            }
        })
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let mut best: Option<(usize, &[u8], &Entry)> = None;
    // Volatile policies may need several tries to meet keys with a TTL; bounded.
    let mut tries = 0;
    let mut found = 0;
    while found < samples && tries < samples * 16 {
        tries += 1;
        let db_index = candidates[rng.gen_range(0..candidates.len())];
        let db = &ks.dbs()[db_index];
        let Some((key, entry)) = random_entry(db, rng.gen_range(0..POSITION_END)) else {
            continue;
        };
        if volatile && entry.expire_at().is_none() {
            continue;
        }
        found += 1;
        let better = match (&best, policy) {
            (None, _) => true,
            (Some((_, _, b)), "volatile-ttl") => entry.expire_at() < b.expire_at(),
            // The LRU policies evict the key idle longest among the sampled.
            (Some((_, _, b)), "allkeys-lru" | "volatile-lru") => {
                entry.idle_seconds() > b.idle_seconds()
            }
            // The LFU policies evict the key used least often among the sampled.
            (Some((_, _, b)), "allkeys-lfu" | "volatile-lfu") => entry.lfu_count() < b.lfu_count(),
            _ => false,
        };
        if better {
            best = Some((db_index, key, entry));
        }
    }
    best.map(|(db, key, entry)| (db, key.to_vec(), entry_bytes(key, entry)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::keyspace::string::Str;

    #[test]
    fn estimate_grows_with_data_and_samples_large_dbs() {
        let mut ks = Keyspace::new(2);
        let empty = used_memory(&ks);
        assert_eq!(empty, BASE_BYTES);
        for i in 0..10_000 {
            ks.db(0).set(
                format!("key:{i}").as_bytes(),
                Value::Str(Str::from_bytes(&[b'x'; 100])),
                0,
            );
        }
        let used = used_memory(&ks) - BASE_BYTES;
        // Each key: 64 + ~8 + 116 bytes.
        assert!((1_700_000..2_000_000).contains(&used), "{used}");
    }
}
