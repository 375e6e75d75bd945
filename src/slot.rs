//! Keys to hash slots: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384.

use std::fmt;

/// The number of hash slots in a Redis Cluster.
pub const SLOT_COUNT: usize = 16384;

/// A hash slot, `0..16384`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u16);

impl Slot {
    /// The slot of `n`, if it is one.
    pub fn new(n: u16) -> Option<Slot> {
        (usize::from(n) < SLOT_COUNT).then_some(Slot(n))
    }

    /// The slot a key lives in, by Redis Cluster's rules: if the key has a `{`, then a `}`
    /// after it with at least one byte between them, only those bytes are hashed.
    pub fn of_key(key: &[u8]) -> Slot {
        Slot(crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) & (SLOT_COUNT as u16 - 1))
    }

    pub fn get(self) -> u16 {
        self.0
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Every slot, in order.
    pub fn all() -> impl Iterator<Item = Slot> {
        (0..SLOT_COUNT as u16).map(Slot)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The part of a key that is hashed.
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots_from_the_redis_cluster_spec() {
        // Values from Redis's own `CLUSTER KEYSLOT`.
        assert_eq!(Slot::of_key(b"foo").get(), 12182);
        assert_eq!(Slot::of_key(b"bar").get(), 5061);
        assert_eq!(Slot::of_key(b"").get(), 0);
        assert_eq!(Slot::of_key(b"123456789").get(), 0x31C3 & 16383);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"a{}{b}"), b"a{}{b}");
        assert_eq!(Slot::of_key(b"{a}x"), Slot::of_key(b"a"));
    }

    #[test]
    fn slot_bounds() {
        assert!(Slot::new(16383).is_some());
        assert!(Slot::new(16384).is_none());
        assert_eq!(Slot::all().count(), SLOT_COUNT);
    }
}
