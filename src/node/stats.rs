//! Counters for `INFO`, per-command statistics (`INFO commandstats`, `INFO errorstats`) and
//! the slow log.
//!
//! The plain counters are atomics, so sessions count without taking a lock. Per-command and
//! per-error statistics and the slow log sit behind one small mutex ([`NodeStats::calls`]),
//! taken once per command by the session after the command ran (while it still holds the
//! keyspace lock, so the two are always taken in that order).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::latency::{self, CommandHistogram};
use crate::command::{table, CommandSpec};
use crate::resp::Command;

/// Most arguments a slow log entry keeps (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
pub const SLOWLOG_MAX_ARGC: usize = 32;
/// Longest argument a slow log entry keeps (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
pub const SLOWLOG_MAX_STRING: usize = 128;
/// Most distinct error codes `INFO errorstats` tracks (Redis's `ERROR_STATS_NUMBER`).
const MAX_ERROR_CODES: usize = 128;

#[derive(Debug, Default)]
pub struct NodeStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Keys deleted to stay under `maxmemory`.
    pub evicted_keys: AtomicU64,
    /// Clients closed for exceeding `client-output-buffer-limit`.
    pub client_output_limit_disconnections: AtomicU64,
    /// Clients closed for exceeding `client-query-buffer-limit`.
    pub client_query_buffer_limit_disconnections: AtomicU64,
    /// The highest `used_memory` seen (`used_memory_peak`, `MEMORY STATS`).
    pub memory_peak: AtomicU64,
    /// Replicas that loaded a full snapshot (`sync_full`), that continued from the backlog
    /// (`sync_partial_ok`), and that asked to continue but could not (`sync_partial_err`).
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    calls: Mutex<CallStats>,
}

/// One command's `INFO commandstats` line.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One slow log entry.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    /// Unix seconds when the command ran.
    pub time: i64,
    pub micros: u64,
    /// The arguments, already truncated as Redis truncates them.
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

/// What a command did, as the session reports it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Ran; the reply is not an error.
    Ok,
    /// Ran and answered this error (`ERR …`).
    Failed(&'a [u8]),
    /// Refused before running (OOM, NOAUTH, …), with this error.
    Rejected(&'a [u8]),
}

#[derive(Debug, Default)]
pub struct CallStats {
    /// By command id (see [`CommandSpec::id`]); sized on first use.
    commands: Vec<CommandStat>,
    /// Error replies by code (`ERR`, `WRONGTYPE`), for `INFO errorstats`.
    pub errors: BTreeMap<String, u64>,
    pub total_error_replies: u64,
    pub slowlog: VecDeque<SlowlogEntry>,
    pub next_slowlog_id: u64,
    /// Latency histograms by command id, made on a command's first call (`latency-tracking`).
    histograms: Vec<Option<Box<CommandHistogram>>>,
}

impl CallStats {
    /// Every command with at least one call or rejection, by full name, in table order.
    pub fn commands(&self) -> impl Iterator<Item = (&'static CommandSpec, CommandStat)> + '_ {
        table()
            .iter_all()
            .filter_map(|spec| Some((spec, *self.commands.get(spec.id())?)))
            .filter(|(_, s)| s.calls > 0 || s.rejected_calls > 0 || s.failed_calls > 0)
    }

    /// Every command's latency histogram, by full name, in table order.
    pub fn histograms(
        &self,
    ) -> impl Iterator<Item = (&'static CommandSpec, &CommandHistogram)> + '_ {
        table().iter_all().filter_map(|spec| {
            let h = self.histograms.get(spec.id())?.as_deref()?;
            Some((spec, h))
        })
    }

    fn count_error(&mut self, text: &[u8]) {
        self.total_error_replies += 1;
        let code = text.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        let code = String::from_utf8_lossy(code).into_owned();
        if self.errors.len() < MAX_ERROR_CODES || self.errors.contains_key(&code) {
            *self.errors.entry(code).or_default() += 1;
        }
    }
}

impl NodeStats {
    /// The per-command statistics and slow log, locked.
    pub fn calls(&self) -> MutexGuard<'_, CallStats> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An error reply that belongs to no command (unknown command, arity): counted in
    /// `errorstats` only.
    pub fn record_error(&self, text: &[u8]) {
        self.calls().count_error(text);
    }

    /// A command refused before it ran (OOM, NOREPLICAS, an ACL denial, …) with `text`.
    pub fn record_rejected(&self, spec: &CommandSpec, text: &[u8]) {
        self.record(spec, Duration::ZERO, Outcome::Rejected(text), false);
    }

    /// Counts one command: its call and time, or its failure or rejection; with `tracking`
    /// (`latency-tracking`), its time goes into its latency histogram too.
    pub fn record(&self, spec: &CommandSpec, took: Duration, outcome: Outcome<'_>, tracking: bool) {
        let mut calls = self.calls();
        if calls.commands.is_empty() {
            calls.commands = vec![CommandStat::default(); table().len_all()];
        }
        if tracking && !matches!(outcome, Outcome::Rejected(_)) {
            if calls.histograms.is_empty() {
                calls.histograms = vec![None; table().len_all()];
            }
            if let Some(slot) = calls.histograms.get_mut(spec.id()) {
                let h = slot.get_or_insert_with(|| Box::new(latency::new_histogram()));
                latency::record(h, took.as_nanos().min(u128::from(u64::MAX)) as u64);
            }
        }
        let Some(stat) = calls.commands.get_mut(spec.id()) else {
            return;
        };
        match outcome {
            Outcome::Rejected(_) => stat.rejected_calls += 1,
            Outcome::Ok | Outcome::Failed(_) => {
                stat.calls += 1;
                stat.usec += took.as_micros() as u64;
                if matches!(outcome, Outcome::Failed(_)) {
                    stat.failed_calls += 1;
                }
            }
        }
        if let Outcome::Failed(text) | Outcome::Rejected(text) = outcome {
            calls.count_error(text);
        }
    }

    /// Adds a slow log entry if the command took at least `slower_than` µs (negative: never;
    /// 0: always), keeping at most `max_len` entries.
    #[allow(clippy::too_many_arguments)]
    pub fn slowlog_push(
        &self,
        cmd: &Command,
        took: Duration,
        slower_than: i64,
        max_len: usize,
        now_secs: i64,
        peer: String,
        name: Vec<u8>,
    ) {
        let micros = took.as_micros() as u64;
        if slower_than < 0 || micros < slower_than as u64 {
            return;
        }
        let mut calls = self.calls();
        let id = calls.next_slowlog_id;
        calls.next_slowlog_id += 1;
        calls.slowlog.push_front(SlowlogEntry {
            id,
            time: now_secs,
            micros,
            args: slowlog_args(cmd),
            peer,
            name,
        });
        calls.slowlog.truncate(max_len);
    }

    /// `CONFIG RESETSTAT`: zeroes the counters and per-command statistics (not the slow log).
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.evicted_keys,
            &self.client_output_limit_disconnections,
            &self.client_query_buffer_limit_disconnections,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        let mut calls = self.calls();
        calls.commands.clear();
        calls.histograms.clear();
        calls.errors.clear();
        calls.total_error_replies = 0;
    }
}

/// A command's arguments as the slow log keeps them: at most 32 (the last saying how many
/// more there were), each at most 128 bytes (with how many more there were).
pub fn slowlog_args(cmd: &Command) -> Vec<Vec<u8>> {
    let argc = cmd.argc();
    let kept = argc.min(SLOWLOG_MAX_ARGC);
    let mut args = Vec::with_capacity(kept);
    for (i, arg) in cmd.args().take(kept).enumerate() {
        if kept != argc && i == kept - 1 {
            args.push(format!("... ({} more arguments)", argc - kept + 1).into_bytes());
        } else if arg.len() > SLOWLOG_MAX_STRING {
            let mut a = arg[..SLOWLOG_MAX_STRING].to_vec();
            a.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - SLOWLOG_MAX_STRING).as_bytes(),
            );
            args.push(a);
        } else {
            args.push(arg.to_vec());
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowlog_args_truncate_like_redis() {
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let args = slowlog_args(&Command::from_args(&many));
        assert_eq!(args.len(), 32);
        assert_eq!(args[31], b"... (9 more arguments)");
        let long = "x".repeat(130);
        let args = slowlog_args(&Command::from_args(["SET", "k", long.as_str()]));
        assert_eq!(
            args[2],
            format!("{}... (2 more bytes)", "x".repeat(128)).into_bytes()
        );
    }

    #[test]
    fn commandstats_count_calls_failures_and_rejections() {
        let stats = NodeStats::default();
        let get = table().get(b"get").unwrap();
        stats.record(get, Duration::from_micros(5), Outcome::Ok, true);
        stats.record(
            get,
            Duration::from_micros(5),
            Outcome::Failed(b"WRONGTYPE x"),
            true,
        );
        stats.record(get, Duration::ZERO, Outcome::Rejected(b"OOM y"), true);
        let calls = stats.calls();
        let histograms: Vec<_> = calls
            .histograms()
            .map(|(s, h)| (s.full_name(), h.len()))
            .collect();
        assert_eq!(histograms, vec![("get", 2)], "rejections are not timed");
        let (spec, s) = calls.commands().next().unwrap();
        assert_eq!(spec.full_name(), "get");
        assert_eq!(
            (s.calls, s.usec, s.failed_calls, s.rejected_calls),
            (2, 10, 1, 1)
        );
        assert_eq!(calls.errors["WRONGTYPE"], 1);
        assert_eq!(calls.total_error_replies, 2);
    }
}
