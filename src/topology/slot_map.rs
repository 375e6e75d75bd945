//! The slot → shard table.

use std::sync::Arc;

use super::NodeAddr;
use crate::slot::{Slot, SLOT_COUNT};

/// A master and its replicas, serving some slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub master: NodeAddr,
    pub replicas: Vec<NodeAddr>,
}

/// Which shard serves each of the 16384 slots. Immutable: changes make a new map.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotMap {
    shards: Vec<Arc<Shard>>,
    /// Index into `shards` for each slot; `NONE` where no shard serves it.
    slots: Box<[u16]>,
}

const NONE: u16 = u16::MAX;

impl SlotMap {
    /// A map with no slot served, for before the first refresh.
    pub fn empty() -> SlotMap {
        SlotMap {
            shards: Vec::new(),
            slots: vec![NONE; SLOT_COUNT].into_boxed_slice(),
        }
    }

    /// Builds a map from `(first slot, last slot, shard)` ranges; later ranges win overlaps.
    /// Shards with the same master are merged into one.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (Slot, Slot, Shard)>) -> SlotMap {
        let mut map = SlotMap::empty();
        for (first, last, shard) in ranges {
            let idx = map.intern_shard(shard);
            for s in first.index()..=last.index() {
                map.slots[s] = idx;
            }
        }
        map
    }

    fn intern_shard(&mut self, shard: Shard) -> u16 {
        if let Some(i) = self.shards.iter().position(|s| s.master == shard.master) {
            if self.shards[i].replicas.is_empty() && !shard.replicas.is_empty() {
                self.shards[i] = Arc::new(shard);
            }
            return i as u16;
        }
        self.shards.push(Arc::new(shard));
        (self.shards.len() - 1) as u16
    }

    /// The shard serving `slot`, if any.
    pub fn shard(&self, slot: Slot) -> Option<&Arc<Shard>> {
        match self.slots[slot.index()] {
            NONE => None,
            i => self.shards.get(usize::from(i)),
        }
    }

    /// Where `slot`'s shard stands in [`SlotMap::all_shards`], if it has one. Lets a user
    /// keep per-shard data beside the map (the proxy keeps its connection pools so).
    pub fn shard_index(&self, slot: Slot) -> Option<usize> {
        match self.slots[slot.index()] {
            NONE => None,
            i => Some(usize::from(i)),
        }
    }

    /// Every shard the map was built with, including ones a `MOVED` left with no slot.
    pub fn all_shards(&self) -> &[Arc<Shard>] {
        &self.shards
    }

    /// The master serving `slot`, if any.
    pub fn master(&self, slot: Slot) -> Option<&NodeAddr> {
        self.shard(slot).map(|s| &s.master)
    }

    /// Every shard that serves at least one slot.
    pub fn shards(&self) -> impl Iterator<Item = &Arc<Shard>> {
        self.shards
            .iter()
            .enumerate()
            .filter(|(i, _)| self.slots.contains(&(*i as u16)))
            .map(|(_, s)| s)
    }

    /// Every master and replica address the map knows.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeAddr> {
        self.shards
            .iter()
            .flat_map(|s| std::iter::once(&s.master).chain(s.replicas.iter()))
    }

    /// How many slots have a shard.
    pub fn covered_slots(&self) -> usize {
        self.slots.iter().filter(|&&i| i != NONE).count()
    }

    /// This map with `slot` moved to `master` (as a `MOVED` reply says): the new owner's
    /// existing shard if the map knows it, else a new shard with no replicas yet.
    pub fn with_slot_moved(&self, slot: Slot, master: &NodeAddr) -> SlotMap {
        let mut next = self.clone();
        let idx = next.intern_shard(Shard {
            master: master.clone(),
            replicas: Vec::new(),
        });
        next.slots[slot.index()] = idx;
        next
    }
}

impl std::fmt::Debug for SlotMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        let mut start = 0;
        while start < SLOT_COUNT {
            let idx = self.slots[start];
            let mut end = start;
            while end + 1 < SLOT_COUNT && self.slots[end + 1] == idx {
                end += 1;
            }
            if idx != NONE {
                l.entry(&format_args!(
                    "{start}-{end} {:?}",
                    self.shards[usize::from(idx)]
                ));
            }
            start = end + 1;
        }
        l.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> NodeAddr {
        NodeAddr::new("127.0.0.1", p)
    }

    fn shard(p: u16) -> Shard {
        Shard {
            master: addr(p),
            replicas: vec![addr(p + 100)],
        }
    }

    fn slot(n: u16) -> Slot {
        Slot::new(n).unwrap()
    }

    #[test]
    fn ranges_and_lookups() {
        let m = SlotMap::from_ranges([
            (slot(0), slot(5460), shard(1)),
            (slot(5461), slot(10922), shard(2)),
            (slot(10923), slot(16383), shard(3)),
        ]);
        assert_eq!(m.covered_slots(), SLOT_COUNT);
        assert_eq!(m.master(slot(0)), Some(&addr(1)));
        assert_eq!(m.master(slot(10922)), Some(&addr(2)));
        assert_eq!(m.shards().count(), 3);
        assert_eq!(m.nodes().count(), 6);
    }

    #[test]
    fn moved_patches_one_slot() {
        let m = SlotMap::from_ranges([(slot(0), slot(16383), shard(1))]);
        let moved = m.with_slot_moved(slot(7), &addr(2));
        assert_eq!(moved.master(slot(7)), Some(&addr(2)));
        assert_eq!(moved.master(slot(8)), Some(&addr(1)));
        assert_eq!(
            m.master(slot(7)),
            Some(&addr(1)),
            "the old map is untouched"
        );
        let back = moved.with_slot_moved(slot(7), &addr(1));
        assert_eq!(back.shard(slot(7)).unwrap().replicas, vec![addr(101)]);
    }

    #[test]
    fn unserved_slots() {
        let m = SlotMap::from_ranges([(slot(0), slot(99), shard(1))]);
        assert_eq!(m.covered_slots(), 100);
        assert!(m.master(slot(100)).is_none());
        assert!(SlotMap::empty().master(slot(0)).is_none());
    }
}
