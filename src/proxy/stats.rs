//! Counters about the proxy itself, for INFO.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use super::commandstats::{CommandStats, SlowLog};

/// Process-wide counters. Relaxed atomics: each is an independent tally.
#[derive(Debug)]
pub struct ProxyStats {
    pub started: Instant,
    next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
    /// Milliseconds since start, advanced by a ticker: a clock that costs one load to read.
    coarse_ms: AtomicU64,
    pub commands: CommandStats,
    pub slowlog: SlowLog,
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
            coarse_ms: AtomicU64::new(0),
            commands: CommandStats::default(),
            slowlog: SlowLog::default(),
        }
    }
}

impl ProxyStats {
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The coarse clock: milliseconds since start, to within the ticker's period.
    pub fn now_ms(&self) -> u64 {
        self.coarse_ms.load(Ordering::Relaxed)
    }

    /// Advances the coarse clock; the proxy's ticker calls it.
    pub fn tick(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.coarse_ms.store(ms, Ordering::Relaxed);
    }

    pub fn command_processed(&self) {
        self.total_commands_processed
            .fetch_add(1, Ordering::Relaxed);
    }
}
