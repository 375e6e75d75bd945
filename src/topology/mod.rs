//! Who serves which slot: the cluster's shape as the proxy (and later the admin tools) see it.
//!
//! A [`SlotMap`] is an immutable snapshot: 16384 slots, each naming the [`Shard`] (a master and
//! its replicas) that serves it. It is built from a node's `CLUSTER SLOTS` reply and replaced
//! whole when the cluster changes, so readers never see a half-updated map.

mod cluster_slots;
mod node_addr;
mod slot_map;

pub use cluster_slots::parse_cluster_slots;
pub use node_addr::NodeAddr;
pub use slot_map::{Shard, SlotMap};

/// Why a topology reply could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("CLUSTER SLOTS reply is not an array: {0}")]
    NotAnArray(String),
    #[error("CLUSTER SLOTS range {index} is malformed: {reason}")]
    BadRange { index: usize, reason: &'static str },
    #[error("slot range {start}-{end} is out of bounds")]
    SlotOutOfRange { start: i64, end: i64 },
    #[error("invalid node address '{0}'")]
    BadAddress(String),
}
