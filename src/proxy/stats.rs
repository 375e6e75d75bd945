//! Counters about the proxy itself, for INFO.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Process-wide counters. Relaxed atomics: each is an independent tally.
#[derive(Debug)]
pub struct ProxyStats {
    pub started: Instant,
    next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
}

impl Default for ProxyStats {
    fn default() -> Self {
        ProxyStats {
            started: Instant::now(),
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            total_connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            total_commands_processed: AtomicU64::new(0),
        }
    }
}

impl ProxyStats {
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn command_processed(&self) {
        self.total_commands_processed
            .fetch_add(1, Ordering::Relaxed);
    }
}
