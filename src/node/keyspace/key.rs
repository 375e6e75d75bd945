//! Keys and their place in the keyspace's order.
//!
//! Every database keeps its keys ordered by *position*: the key's hash slot in the top bits, a
//! seeded hash of the key below it, then the key's bytes. That one order gives:
//! - `SCAN` cursors that are positions: a key present for the whole scan is returned exactly
//!   once, however the keyspace grows or shrinks in between;
//! - the keys of one slot as one contiguous range (`CLUSTER GETKEYSINSLOT`, migration);
//! - an even spread (the hash), so a cursor's batch is a fair sample.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::quality::RandomState;

use smallvec::SmallVec;

use crate::slot::Slot;

/// Bits of a position below the slot.
const HASH_BITS: u32 = 48;

/// A key's position: `slot << 48 | hash & (2^48 - 1)`. Positions are stable for the life of the
/// process (the hash seed is chosen once), which is what makes them usable as `SCAN` cursors.
pub fn position(key: &[u8]) -> u64 {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let hash = SEED.get_or_init(RandomState::default).hash_one(key);
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
        Slotted::with_pos(key, position(key))
    }

    /// A key whose position the caller has already computed.
    pub fn with_pos(key: &[u8], pos: u64) -> Slotted {
        debug_assert_eq!(pos, position(key));
        Slotted {
            pos,
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

impl Ord for Slotted {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.pos, self.key()).cmp(&(other.pos, other.key()))
    }
}

impl PartialOrd for Slotted {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Slotted {
    fn eq(&self, other: &Self) -> bool {
        self.pos == other.pos && self.key == other.key
    }
}

impl Eq for Slotted {}

#[cfg(test)]
mod tests {
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
    fn order_is_position_then_bytes() {
        let mut keys: Vec<Slotted> = ["a", "b", "c", "{a}x"]
            .iter()
            .map(|k| Slotted::new(k.as_bytes()))
            .collect();
        keys.sort();
        assert!(keys.windows(2).all(|w| w[0].pos() <= w[1].pos()));
        assert_eq!(Slotted::new(b"a"), Slotted::with_pos(b"a", position(b"a")));
    }
}
