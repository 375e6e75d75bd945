//! Counters about the proxy itself, for INFO.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::commandstats::{CommandStats, ErrorStats, SlowLog};

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
    pub errors: ErrorStats,
    pub slowlog: SlowLog,
    /// Bytes read from and written to clients.
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// `(coarse ms, commands processed)` at the last ticks, oldest first, for
    /// `instantaneous_ops_per_sec` (Redis samples the same way).
    samples: Mutex<VecDeque<(u64, u64)>>,
}

/// Ticks the instantaneous rate is measured over (16 ticks of 100 ms, as Redis does).
const RATE_SAMPLES: usize = 16;

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
            errors: ErrorStats::default(),
            slowlog: SlowLog::default(),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::with_capacity(RATE_SAMPLES + 1)),
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
        let processed = self.total_commands_processed.load(Ordering::Relaxed);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.push_back((ms, processed));
        if samples.len() > RATE_SAMPLES {
            samples.pop_front();
        }
    }

    /// Commands per second over the last ~1.6 s.
    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        match (samples.front(), samples.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => (n1 - n0) * 1000 / (t1 - t0),
            _ => 0,
        }
    }

    pub fn command_processed(&self) {
        self.total_commands_processed
            .fetch_add(1, Ordering::Relaxed);
    }
}
