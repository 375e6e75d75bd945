//! Consumer groups: a group's last delivered ID and read counter, its pending entries list
//! (PEL: delivered, not yet acknowledged), and its consumers, each with its own PEL.

use std::collections::{BTreeMap, BTreeSet};

use super::id::StreamId;

/// An entry delivered to a consumer and not yet acknowledged (Redis's `streamNACK`).
#[derive(Debug, Clone)]
pub struct Pending {
    pub consumer: Box<[u8]>,
    /// Unix milliseconds of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone)]
pub struct Consumer {
    /// Unix milliseconds it was last active (Redis 7.0's `seen-time`).
    pub seen_time: i64,
    pub pending: BTreeSet<StreamId>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries the group has read (its last ID's position in the stream's history), or None
    /// when unknown (Redis's `SCG_INVALID_ENTRIES_READ`).
    pub entries_read: Option<u64>,
    pub pending: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            pending: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates consumer `name` if it is new; true if it was created.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.into(),
            Consumer {
                seen_time: now,
                pending: BTreeSet::new(),
            },
        );
        true
    }

    /// Looks up consumer `name`, creating it if needed, and marks it seen now; true if it
    /// was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: i64) -> bool {
        let created = self.create_consumer(name, now);
        if let Some(c) = self.consumers.get_mut(name) {
            c.seen_time = now;
        }
        created
    }

    /// Deletes consumer `name` and its pending entries; answers how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> u64 {
        let Some(consumer) = self.consumers.remove(name) else {
            return 0;
        };
        for id in &consumer.pending {
            self.pending.remove(id);
        }
        consumer.pending.len() as u64
    }

    /// Records `id` as delivered to `consumer` now (a new delivery: count 1), taking it away
    /// from a consumer that held it before.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        if let Some(old) = self.pending.get(&id) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pending.remove(&id);
            }
        }
        self.pending.insert(
            id,
            Pending {
                consumer: consumer.into(),
                delivery_time: now,
                delivery_count: 1,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }

    /// Gives pending entry `id` to `consumer` (which must exist).
    pub fn reassign(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if &*p.consumer != consumer {
            if let Some(c) = self.consumers.get_mut(&p.consumer) {
                c.pending.remove(&id);
            }
            p.consumer = consumer.into();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }

    /// Acknowledges `id`; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pending.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        let pel: usize = self.pending.values().map(|p| 64 + p.consumer.len()).sum();
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(n, c)| 64 + n.len() + c.pending.len() * 24)
            .sum();
        pel + consumers + 64
    }
}
