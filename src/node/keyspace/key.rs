//! Keys and their place in the keyspace's order.
//!
//! Every database keeps its keys ordered by *position*: the key's hash slot in the top bits, a
//! seeded hash of the key below it, then the key's bytes. That one order gives:
//! - `SCAN` cursors that are positions: a key present for the whole scan is returned exactly
//!   once, however the keyspace grows or shrinks in between;
//! - the keys of one slot as one contiguous range (`CLUSTER GETKEYSINSLOT`, migration);
//! - an even spread (the hash), so a cursor's batch is a fair sample.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

use smallvec::SmallVec;

use crate::slot::Slot;

/// Bits of a position below the slot.
const HASH_BITS: u32 = 48;

/// A key's position: `slot << 48 | hash & (2^48 - 1)`. Positions are stable for the life of the
/// process (the hash seed is chosen once), which is what makes them usable as `SCAN` cursors.
pub fn position(key: &[u8]) -> u64 {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let hash = SEED.get_or_init(RandomState::new).hash_one(key);
    (u64::from(Slot::of_key(key).get()) << HASH_BITS) | (hash & ((1 << HASH_BITS) - 1))
}

/// The first position of `slot`'s range.
pub fn slot_start(slot: Slot) -> u64 {
    u64::from(slot.get()) << HASH_BITS
}

/// A key's bytes: up to 16 inline, so most keys cost no allocation of their own.
type KeyBytes = SmallVec<[u8; 16]>;

/// A stored key with its position.
#[derive(Debug, Clone)]
pub struct Slotted {
    pos: u64,
    key: KeyBytes,
}

impl Slotted {
    pub fn new(key: &[u8]) -> Slotted {
        Slotted {
            pos: position(key),
            key: KeyBytes::from_slice(key),
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Something that can be looked up in a position-ordered map: a stored [`Slotted`] key or a
/// borrowed [`Probe`], so lookups allocate nothing.
pub trait Locate {
    fn pos(&self) -> u64;
    fn bytes(&self) -> &[u8];
}

impl Locate for Slotted {
    fn pos(&self) -> u64 {
        self.pos
    }
    fn bytes(&self) -> &[u8] {
        &self.key
    }
}

/// A key being looked up.
pub struct Probe<'a> {
    pos: u64,
    key: &'a [u8],
}

impl<'a> Probe<'a> {
    pub fn new(key: &'a [u8]) -> Probe<'a> {
        Probe {
            pos: position(key),
            key,
        }
    }

    /// The smallest possible entry at `pos`: where a range scan from that position starts.
    pub fn at(pos: u64) -> Probe<'static> {
        Probe { pos, key: b"" }
    }
}

impl Locate for Probe<'_> {
    fn pos(&self) -> u64 {
        self.pos
    }
    fn bytes(&self) -> &[u8] {
        self.key
    }
}

impl<'a> Borrow<dyn Locate + 'a> for Slotted {
    fn borrow(&self) -> &(dyn Locate + 'a) {
        self
    }
}

impl Ord for dyn Locate + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.pos(), self.bytes()).cmp(&(other.pos(), other.bytes()))
    }
}

impl PartialOrd for dyn Locate + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn Locate + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for dyn Locate + '_ {}

impl Ord for Slotted {
    fn cmp(&self, other: &Self) -> Ordering {
        (self as &dyn Locate).cmp(other as &dyn Locate)
    }
}

impl PartialOrd for Slotted {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Slotted {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Slotted {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn positions_keep_slots_contiguous() {
        let a = position(b"{user1}:a");
        let b = position(b"{user1}:b");
        assert_eq!(a >> HASH_BITS, b >> HASH_BITS);
        assert_eq!(a >> HASH_BITS, u64::from(Slot::of_key(b"user1").get()));
        assert_eq!(position(b"x"), position(b"x"));
    }

    #[test]
    fn small_keys_are_inline() {
        assert_eq!(std::mem::size_of::<Slotted>(), 32);
        assert!(!Slotted::new(b"key:000000000001").key.spilled());
        assert!(Slotted::new(b"a-key-longer-than-16").key.spilled());
    }

    #[test]
    fn probes_find_stored_keys() {
        let mut m = BTreeMap::new();
        for k in ["a", "b", "c", "{a}x"] {
            m.insert(Slotted::new(k.as_bytes()), k);
        }
        assert_eq!(m.get(&Probe::new(b"b") as &dyn Locate), Some(&"b"));
        assert_eq!(m.get(&Probe::new(b"zz") as &dyn Locate), None);
        let from = Probe::at(0);
        assert_eq!(
            m.range::<dyn Locate, _>((
                std::ops::Bound::Included(&from as &dyn Locate),
                std::ops::Bound::Unbounded
            ))
            .count(),
            4
        );
    }
}
