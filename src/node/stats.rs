//! Counters for `INFO`: atomics, so sessions count without taking a lock.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct NodeStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}
