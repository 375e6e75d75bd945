//! Per-command statistics (`INFO commandstats`, `slotgate_commands_total`), command latency by
//! group (`slotgate_command_duration_seconds`) and the slow log (`SLOWLOG`).
//!
//! A session times each command from when it is read to when its reply is written, and
//! records it here when the reply goes out: one relaxed atomic add per counter, one histogram
//! sample, and a slow-log entry only past the threshold.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::command::{table, CommandSpec, Flags};
use crate::resp::Command;

/// What kind of work a command is, for latency by group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Read,
    Write,
    MultiKey,
    FanOut,
    Blocking,
    Pubsub,
    Admin,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::Read,
        Group::Write,
        Group::MultiKey,
        Group::FanOut,
        Group::Blocking,
        Group::Pubsub,
        Group::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Read => "read",
            Group::Write => "write",
            Group::MultiKey => "multi-key",
            Group::FanOut => "fan-out",
            Group::Blocking => "blocking",
            Group::Pubsub => "pubsub",
            Group::Admin => "admin",
        }
    }

    /// The group of a command, from its table entry.
    pub fn of(spec: &CommandSpec) -> Group {
        let flags = spec.flags();
        if flags.contains(Flags::PUBSUB) {
            Group::Pubsub
        } else if flags.contains(Flags::BLOCKING) {
            Group::Blocking
        } else if flags.contains(Flags::ADMIN)
            || spec.full_name().starts_with("client")
            || matches!(
                spec.full_name(),
                "ping" | "echo" | "hello" | "auth" | "select"
            )
        {
            Group::Admin
        } else if spec.needs_all_shards() {
            Group::FanOut
        } else if spec.key_step_covers_many() {
            Group::MultiKey
        } else if spec.is_write() {
            Group::Write
        } else {
            Group::Read
        }
    }
}

/// Calls, failures and time per command id.
#[derive(Debug)]
pub struct CommandStats {
    calls: Box<[AtomicU64]>,
    failed: Box<[AtomicU64]>,
    usec: Box<[AtomicU64]>,
    /// Unknown commands and commands refused by the table (wrong arity).
    rejected: AtomicU64,
    /// Each command's latency group, worked out once from the table.
    groups: Box<[Group]>,
}

impl Default for CommandStats {
    fn default() -> Self {
        let n = table().len_all();
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect();
        CommandStats {
            calls: zeros(),
            failed: zeros(),
            usec: zeros(),
            rejected: AtomicU64::new(0),
            groups: table().iter_all().map(Group::of).collect(),
        }
    }
}

impl CommandStats {
    /// The latency group of command `id` (its [`CommandSpec::id`]).
    pub fn group(&self, id: usize) -> Group {
        self.groups.get(id).copied().unwrap_or(Group::Admin)
    }

    pub fn record(&self, id: usize, took: Duration, failed: bool) {
        let Some(calls) = self.calls.get(id) else {
            return;
        };
        calls.fetch_add(1, Ordering::Relaxed);
        self.usec[id].fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        if failed {
            self.failed[id].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(command, calls, failed calls, µs)` for every command called at least once.
    pub fn snapshot(&self) -> Vec<(&'static str, u64, u64, u64)> {
        table()
            .iter_all()
            .filter_map(|spec| {
                let id = spec.id();
                let calls = self.calls[id].load(Ordering::Relaxed);
                (calls > 0).then(|| {
                    (
                        spec.full_name(),
                        calls,
                        self.failed[id].load(Ordering::Relaxed),
                        self.usec[id].load(Ordering::Relaxed),
                    )
                })
            })
            .collect()
    }

    /// Counts an unknown command (or wrong arity): an error reply, under one label.
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected_count(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.rejected.store(0, Ordering::Relaxed);
        for counters in [&self.calls, &self.failed, &self.usec] {
            for c in counters.iter() {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// The error codes counted by name (`INFO errorstats`, `slotgate_errors_total{class}`);
/// any other code counts as `OTHER`, so the label set stays bounded.
pub const ERROR_CLASSES: &[&str] = &[
    "ERR",
    "WRONGTYPE",
    "CROSSSLOT",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "NOSCRIPT",
    "NOAUTH",
    "WRONGPASS",
    "NOPERM",
    "OOM",
    "BUSY",
    "BUSYKEY",
    "BUSYGROUP",
    "NOGROUP",
    "EXECABORT",
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "NOPROTO",
    "UNBLOCKED",
    "OTHER",
];

/// Error replies by class.
#[derive(Debug)]
pub struct ErrorStats {
    counts: Box<[AtomicU64]>,
}

impl Default for ErrorStats {
    fn default() -> Self {
        ErrorStats {
            counts: ERROR_CLASSES.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl ErrorStats {
    /// Counts an error reply (`-CODE message\r\n`, or RESP3's `!` blob error).
    pub fn record(&self, reply: &[u8]) {
        let text = match reply.first() {
            Some(b'-') => &reply[1..],
            Some(b'!') => match reply.iter().position(|&b| b == b'\n') {
                Some(i) => &reply[i + 1..],
                None => return,
            },
            _ => return,
        };
        let end = text
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(text.len());
        let code = &text[..end];
        let i = ERROR_CLASSES
            .iter()
            .position(|c| c.as_bytes() == code)
            .unwrap_or(ERROR_CLASSES.len() - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// `(class, count)` for every class seen at least once.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        ERROR_CLASSES
            .iter()
            .zip(self.counts.iter())
            .map(|(c, n)| (*c, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// One command in this many is recorded in the latency histograms (the per-command counts
/// and times are exact). Measured: recording every command held ~90 MiB of samples between
/// the exporter's upkeeps at 550k commands/s and cost 10–20% more CPU per request.
pub const LATENCY_SAMPLE: u32 = 16;

/// The latency histograms, one per group, resolved once (after the recorder is installed).
pub fn latency(group: Group) -> &'static metrics::Histogram {
    static HISTOGRAMS: OnceLock<Vec<metrics::Histogram>> = OnceLock::new();
    let all = HISTOGRAMS.get_or_init(|| {
        Group::ALL
            .iter()
            .map(|g| metrics::histogram!("slotgate_command_duration_seconds", "group" => g.name()))
            .collect()
    });
    &all[group as usize]
}

/// Most arguments a slow-log entry keeps, and most bytes of each (Redis's limits).
const SLOWLOG_MAX_ARGC: usize = 32;
const SLOWLOG_MAX_ARGLEN: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub unix_time: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    pub peer: SocketAddr,
    pub client_name: Bytes,
}

/// The slow log: the newest `max_len` commands slower than the threshold.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: Mutex<VecDeque<SlowEntry>>,
    next_id: AtomicU64,
}

impl SlowLog {
    /// Records `cmd` (arguments truncated as Redis truncates them).
    pub fn push(
        &self,
        cmd: &Command,
        took: Duration,
        peer: SocketAddr,
        client_name: Option<Bytes>,
        max_len: usize,
    ) {
        let argc = cmd.argc();
        let kept = if argc > SLOWLOG_MAX_ARGC {
            SLOWLOG_MAX_ARGC - 1
        } else {
            argc
        };
        let mut args: Vec<Bytes> = cmd
            .args()
            .take(kept)
            .map(|a| {
                if a.len() > SLOWLOG_MAX_ARGLEN {
                    let more = a.len() - SLOWLOG_MAX_ARGLEN;
                    let mut s = a[..SLOWLOG_MAX_ARGLEN].to_vec();
                    s.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                    Bytes::from(s)
                } else {
                    Bytes::copy_from_slice(a)
                }
            })
            .collect();
        if argc > kept {
            args.push(Bytes::from(format!("... ({} more arguments)", argc - kept)));
        }
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            micros: took.as_micros() as u64,
            args,
            peer,
            client_name: client_name.unwrap_or_default(),
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// The newest `count` entries (all with `None`), newest first.
    pub fn get(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_class() {
        let stats = ErrorStats::default();
        stats.record(b"-WRONGTYPE Operation against a key\r\n");
        stats.record(b"-ERR syntax error\r\n");
        stats.record(b"-ERR again\r\n");
        stats.record(b"-MYCODE custom\r\n");
        stats.record(b"!21\r\nSYNTAX invalid syntax\r\n");
        stats.record(b"+OK\r\n");
        assert_eq!(
            stats.snapshot(),
            vec![("ERR", 2), ("WRONGTYPE", 1), ("OTHER", 2)]
        );
    }

    #[test]
    fn groups_follow_the_command_table() {
        let group = |name: &str| Group::of(table().get(name.as_bytes()).unwrap());
        assert_eq!(group("get"), Group::Read);
        assert_eq!(group("set"), Group::Write);
        assert_eq!(group("mget"), Group::MultiKey);
        assert_eq!(group("dbsize"), Group::FanOut);
        assert_eq!(group("blpop"), Group::Blocking);
        assert_eq!(group("publish"), Group::Pubsub);
        assert_eq!(group("ping"), Group::Admin);
    }

    #[test]
    fn slow_log_truncates_like_redis_and_keeps_the_newest() {
        let log = SlowLog::default();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let long = "x".repeat(200);
        let mut args = vec!["SET".to_string(), long];
        args.extend((0..40).map(|i| i.to_string()));
        let cmd = Command::from_args(&args);
        log.push(&cmd, Duration::from_millis(20), peer, None, 2);
        let entry = &log.get(None)[0];
        assert_eq!(entry.args.len(), 32);
        assert!(entry.args[1].ends_with(b"... (72 more bytes)"));
        assert_eq!(&entry.args[31][..], b"... (11 more arguments)");
        for _ in 0..3 {
            log.push(
                &Command::from_args(["GET", "k"]),
                Duration::ZERO,
                peer,
                None,
                2,
            );
        }
        assert_eq!(log.len(), 2);
        assert_eq!(log.get(Some(1))[0].id, 3);
    }
}
