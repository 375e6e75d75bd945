//! The node's configuration: `redis.conf` directives, from a file and from `--directive value`
//! flags (flags win), with the names, value forms and defaults of redis-server 7.0.
//!
//! Every directive redis-server 7.0 lists in `CONFIG GET *` is one row of [`DIRECTIVES`]: its
//! default, how its value reads, and whether `CONFIG SET` may change it at run time. Many are
//! only stored (TLS, persistence, replication, cluster tuning) until the parts that honour them
//! exist; `CONFIG GET` and `CONFIG SET` treat them all alike, as Redis does.
//! `config/node.conf` lists every row with its default, and a test checks the two agree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

use super::keyspace::LfuSettings;
use super::notify::Events;

/// How a directive's value reads and is shown by `CONFIG GET`.
#[derive(Debug, Clone, Copy)]
pub enum ValueKind {
    /// `yes` / `no`.
    Bool,
    /// A decimal integer within the bounds.
    Int { min: i64, max: i64 },
    /// Bytes, with Redis's unit suffixes (`k`, `kb`, `m`, `mb`, `g`, `gb`), at least `min`;
    /// shown in bytes.
    Memory { min: i64 },
    /// One of these words, case-insensitively; shown lowercase.
    Enum(&'static [&'static str]),
    /// Any string (possibly empty).
    Text,
    /// A string checked by the directive's own rule (`save`, `client-output-buffer-limit`, …).
    Special(fn(&str) -> Result<String, String>),
}

/// Whether `CONFIG SET` may change a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    /// Set at start only: "can't set immutable config".
    Immutable,
    /// Refused under `enable-protected-configs no` (always, here): "can't set protected
    /// config".
    Protected,
}

/// One directive.
#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    /// Older names redis-server still accepts and lists (`slaveof` for `replicaof`).
    pub aliases: &'static [&'static str],
    pub default: &'static str,
    pub kind: ValueKind,
    pub mutability: Mutability,
}

impl Directive {
    const fn alias(self, aliases: &'static [&'static str]) -> Directive {
        Directive { aliases, ..self }
    }
}

const fn d(name: &'static str, default: &'static str, kind: ValueKind) -> Directive {
    Directive {
        name,
        aliases: &[],
        default,
        kind,
        mutability: Mutability::Mutable,
    }
}

const fn fixed(name: &'static str, default: &'static str, kind: ValueKind) -> Directive {
    Directive {
        mutability: Mutability::Immutable,
        ..d(name, default, kind)
    }
}

const fn protected(name: &'static str, default: &'static str, kind: ValueKind) -> Directive {
    Directive {
        mutability: Mutability::Protected,
        ..d(name, default, kind)
    }
}

const BOOL: ValueKind = ValueKind::Bool;
/// Who may run a protected command (`DEBUG`, `MODULE`): nobody, anybody, or local clients.
const PROTECTED_ACTION: ValueKind = ValueKind::Enum(&["no", "yes", "local"]);
const TEXT: ValueKind = ValueKind::Text;
const fn int(min: i64, max: i64) -> ValueKind {
    ValueKind::Int { min, max }
}
const fn mem(min: i64) -> ValueKind {
    ValueKind::Memory { min }
}

/// Every directive the node accepts, by name, as `config/node.conf` lists them.
pub static DIRECTIVES: &[Directive] = &[
    d(
        "acl-pubsub-default",
        "resetchannels",
        ValueKind::Enum(&["allchannels", "resetchannels"]),
    ),
    fixed("aclfile", "", TEXT),
    d("acllog-max-len", "128", int(0, i64::MAX)),
    d("active-defrag-cycle-max", "25", int(1, 99)),
    d("active-defrag-cycle-min", "1", int(1, 99)),
    d("active-defrag-ignore-bytes", "104857600", mem(1)),
    d("active-defrag-max-scan-fields", "1000", int(1, i64::MAX)),
    d("active-defrag-threshold-lower", "10", int(0, 1000)),
    d("active-defrag-threshold-upper", "100", int(0, 1000)),
    d("active-expire-effort", "1", int(1, 10)),
    d("activedefrag", "no", BOOL),
    d("activerehashing", "yes", BOOL),
    fixed("always-show-logo", "no", BOOL),
    d("aof-disable-auto-gc", "no", BOOL),
    d("aof-load-truncated", "yes", BOOL),
    d("aof-rewrite-incremental-fsync", "yes", BOOL),
    d("aof-timestamp-enabled", "no", BOOL),
    d("aof-use-rdb-preamble", "yes", BOOL),
    fixed("aof_rewrite_cpulist", "", TEXT),
    fixed("appenddirname", "appendonlydir", TEXT),
    fixed("appendfilename", "appendonly.aof", TEXT),
    d(
        "appendfsync",
        "everysec",
        ValueKind::Enum(&["everysec", "always", "no"]),
    ),
    d("appendonly", "no", BOOL),
    d("auto-aof-rewrite-min-size", "67108864", mem(0)),
    d(
        "auto-aof-rewrite-percentage",
        "100",
        int(0, i32::MAX as i64),
    ),
    fixed("bgsave_cpulist", "", TEXT),
    d("bind", "* -::*", TEXT),
    d("bind-source-addr", "", TEXT),
    fixed("bio_cpulist", "", TEXT),
    // `lua-time-limit` is its old name (Redis 7.0 keeps both, one value).
    d("busy-reply-threshold", "5000", int(0, i64::MAX)).alias(&["lua-time-limit"]),
    d(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ValueKind::Special(check_output_buffer_limit),
    ),
    d("client-query-buffer-limit", "1073741824", mem(1048576)),
    d("cluster-allow-pubsubshard-when-down", "yes", BOOL),
    d("cluster-allow-reads-when-down", "no", BOOL),
    d("cluster-allow-replica-migration", "yes", BOOL),
    d("cluster-announce-bus-port", "0", int(0, 65535)),
    d("cluster-announce-hostname", "", TEXT),
    d("cluster-announce-ip", "", TEXT),
    d("cluster-announce-port", "0", int(0, 65535)),
    d("cluster-announce-tls-port", "0", int(0, 65535)),
    fixed("cluster-config-file", "nodes.conf", TEXT),
    fixed("cluster-enabled", "no", BOOL),
    d("cluster-link-sendbuf-limit", "0", mem(0)),
    d("cluster-migration-barrier", "1", int(0, i32::MAX as i64)),
    d("cluster-node-timeout", "15000", int(0, i64::MAX)),
    fixed("cluster-port", "0", int(0, 65535)),
    d(
        "cluster-preferred-endpoint-type",
        "ip",
        ValueKind::Enum(&["ip", "hostname", "unknown-endpoint"]),
    ),
    d("cluster-replica-no-failover", "no", BOOL).alias(&["cluster-slave-no-failover"]),
    d(
        "cluster-replica-validity-factor",
        "10",
        int(0, i32::MAX as i64),
    )
    .alias(&["cluster-slave-validity-factor"]),
    d("cluster-require-full-coverage", "yes", BOOL),
    d("crash-log-enabled", "yes", BOOL),
    d("crash-memcheck-enabled", "yes", BOOL),
    fixed("daemonize", "no", BOOL),
    fixed("databases", "16", int(1, i32::MAX as i64)),
    protected("dbfilename", "dump.rdb", TEXT),
    protected("dir", "", TEXT),
    fixed("disable-thp", "yes", BOOL),
    d("dynamic-hz", "yes", BOOL),
    fixed("enable-debug-command", "no", PROTECTED_ACTION),
    fixed("enable-module-command", "no", PROTECTED_ACTION),
    fixed("enable-protected-configs", "no", BOOL),
    d("hash-max-listpack-entries", "512", int(0, i64::MAX)).alias(&["hash-max-ziplist-entries"]),
    d("hash-max-listpack-value", "64", mem(0)).alias(&["hash-max-ziplist-value"]),
    d("hll-sparse-max-bytes", "3000", mem(0)),
    d("hz", "10", ValueKind::Special(check_hz)),
    d("ignore-warnings", "", TEXT),
    fixed("io-threads", "1", int(1, 128)),
    fixed("io-threads-do-reads", "no", BOOL),
    d("jemalloc-bg-thread", "yes", BOOL),
    d("latency-monitor-threshold", "0", int(0, i64::MAX)),
    d("latency-tracking", "yes", BOOL),
    d(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        ValueKind::Special(check_percentiles),
    ),
    d("lazyfree-lazy-eviction", "no", BOOL),
    d("lazyfree-lazy-expire", "no", BOOL),
    d("lazyfree-lazy-server-del", "no", BOOL),
    d("lazyfree-lazy-user-del", "no", BOOL),
    d("lazyfree-lazy-user-flush", "no", BOOL),
    d("lfu-decay-time", "1", int(0, i32::MAX as i64)),
    d("lfu-log-factor", "10", int(0, i32::MAX as i64)),
    d("list-compress-depth", "0", int(0, i32::MAX as i64)),
    d(
        "list-max-listpack-size",
        "-2",
        int(i32::MIN as i64, i32::MAX as i64),
    )
    .alias(&["list-max-ziplist-size"]),
    fixed("logfile", "", TEXT),
    d(
        "loglevel",
        "notice",
        ValueKind::Enum(&["debug", "verbose", "notice", "warning"]),
    ),
    d("masterauth", "", TEXT),
    d("masteruser", "", TEXT),
    d("maxclients", "10000", int(1, u32::MAX as i64)),
    d("maxmemory", "0", mem(0)),
    d(
        "maxmemory-clients",
        "0",
        ValueKind::Special(check_memory_or_percent),
    ),
    d("maxmemory-eviction-tenacity", "10", int(0, 100)),
    d(
        "maxmemory-policy",
        "noeviction",
        ValueKind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
    ),
    d("maxmemory-samples", "5", int(1, i32::MAX as i64)),
    d("min-replicas-max-lag", "10", int(0, i32::MAX as i64)).alias(&["min-slaves-max-lag"]),
    d("min-replicas-to-write", "0", int(0, i32::MAX as i64)).alias(&["min-slaves-to-write"]),
    d("no-appendfsync-on-rewrite", "no", BOOL),
    d(
        "notify-keyspace-events",
        "",
        ValueKind::Special(check_keyspace_events),
    ),
    d(
        "oom-score-adj",
        "no",
        ValueKind::Enum(&["no", "yes", "relative", "absolute"]),
    ),
    d(
        "oom-score-adj-values",
        "0 200 800",
        ValueKind::Special(check_oom_values),
    ),
    fixed("pidfile", "", TEXT),
    d("port", "6379", int(0, 65535)),
    d(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        TEXT,
    ),
    d(
        "propagation-error-behavior",
        "ignore",
        ValueKind::Enum(&["ignore", "panic", "panic-on-replicas"]),
    ),
    d("protected-mode", "yes", BOOL),
    d("proto-max-bulk-len", "536870912", mem(1048576)),
    d("rdb-del-sync-files", "no", BOOL),
    d("rdb-save-incremental-fsync", "yes", BOOL),
    fixed("rdbchecksum", "yes", BOOL),
    d("rdbcompression", "yes", BOOL),
    d("repl-backlog-size", "1048576", mem(1)),
    d("repl-backlog-ttl", "3600", int(0, i64::MAX)),
    d("repl-disable-tcp-nodelay", "no", BOOL),
    d(
        "repl-diskless-load",
        "disabled",
        ValueKind::Enum(&["disabled", "on-empty-db", "swapdb"]),
    ),
    d("repl-diskless-sync", "yes", BOOL),
    d("repl-diskless-sync-delay", "5", int(0, i32::MAX as i64)),
    d(
        "repl-diskless-sync-max-replicas",
        "0",
        int(0, i32::MAX as i64),
    ),
    d("repl-ping-replica-period", "10", int(1, i32::MAX as i64)).alias(&["repl-ping-slave-period"]),
    d("repl-timeout", "60", int(1, i32::MAX as i64)),
    d("replica-announce-ip", "", TEXT).alias(&["slave-announce-ip"]),
    d("replica-announce-port", "0", int(0, 65535)).alias(&["slave-announce-port"]),
    d("replica-announced", "yes", BOOL),
    d("replica-ignore-disk-write-errors", "no", BOOL),
    d("replica-ignore-maxmemory", "yes", BOOL).alias(&["slave-ignore-maxmemory"]),
    d("replica-lazy-flush", "no", BOOL).alias(&["slave-lazy-flush"]),
    d("replica-priority", "100", int(0, i32::MAX as i64)).alias(&["slave-priority"]),
    d("replica-read-only", "yes", BOOL).alias(&["slave-read-only"]),
    d("replica-serve-stale-data", "yes", BOOL).alias(&["slave-serve-stale-data"]),
    fixed("replicaof", "", TEXT).alias(&["slaveof"]),
    d("requirepass", "", TEXT),
    d(
        "sanitize-dump-payload",
        "no",
        ValueKind::Enum(&["no", "yes", "clients"]),
    ),
    d(
        "save",
        "3600 1 300 100 60 10000",
        ValueKind::Special(check_save),
    ),
    fixed("server_cpulist", "", TEXT),
    d("set-max-intset-entries", "512", int(0, i64::MAX)),
    fixed("set-proc-title", "yes", BOOL),
    d(
        "shutdown-on-sigint",
        "default",
        ValueKind::Enum(&["default", "save", "nosave", "now", "force"]),
    ),
    d(
        "shutdown-on-sigterm",
        "default",
        ValueKind::Enum(&["default", "save", "nosave", "now", "force"]),
    ),
    d("shutdown-timeout", "10", int(0, i32::MAX as i64)),
    d("slowlog-log-slower-than", "10000", int(-1, i64::MAX)),
    d("slowlog-max-len", "128", int(0, i64::MAX)),
    fixed("socket-mark-id", "0", int(0, i32::MAX as i64)),
    d("stop-writes-on-bgsave-error", "yes", BOOL),
    d("stream-node-max-bytes", "4096", mem(0)),
    d("stream-node-max-entries", "100", int(0, i64::MAX)),
    fixed(
        "supervised",
        "no",
        ValueKind::Enum(&["upstart", "systemd", "auto", "no"]),
    ),
    fixed("syslog-enabled", "no", BOOL),
    fixed("syslog-facility", "local0", TEXT),
    fixed("syslog-ident", "redis", TEXT),
    fixed("tcp-backlog", "511", int(0, i32::MAX as i64)),
    d("tcp-keepalive", "300", int(0, i32::MAX as i64)),
    d("timeout", "0", int(0, i32::MAX as i64)),
    d("tls-auth-clients", "yes", BOOL),
    d("tls-ca-cert-dir", "", TEXT),
    d("tls-ca-cert-file", "", TEXT),
    d("tls-cert-file", "", TEXT),
    d("tls-ciphers", "", TEXT),
    d("tls-ciphersuites", "", TEXT),
    d("tls-client-cert-file", "", TEXT),
    d("tls-client-key-file", "", TEXT),
    d("tls-client-key-file-pass", "", TEXT),
    d("tls-cluster", "no", BOOL),
    d("tls-dh-params-file", "", TEXT),
    d("tls-key-file", "", TEXT),
    d("tls-key-file-pass", "", TEXT),
    d("tls-port", "0", int(0, 65535)),
    d("tls-prefer-server-ciphers", "no", BOOL),
    d("tls-protocols", "", TEXT),
    d("tls-replication", "no", BOOL),
    d("tls-session-cache-size", "20480", int(0, i32::MAX as i64)),
    d("tls-session-cache-timeout", "300", int(0, i32::MAX as i64)),
    d("tls-session-caching", "yes", BOOL),
    d("tracking-table-max-keys", "1000000", int(0, i64::MAX)),
    fixed("unixsocket", "", TEXT),
    fixed("unixsocketperm", "0", int(0, 0o777)),
    d("zset-max-listpack-entries", "128", int(0, i64::MAX)).alias(&["zset-max-ziplist-entries"]),
    d("zset-max-listpack-value", "64", mem(0)).alias(&["zset-max-ziplist-value"]),
];

/// Why a configuration was refused; the text names the directive and the line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config error at {origin}: '{line}': {reason}")]
    Directive {
        origin: String,
        line: String,
        reason: String,
    },
}

/// The node's configuration: one canonical value per row of [`DIRECTIVES`].
#[derive(Debug, Clone)]
pub struct NodeConfig {
    values: Vec<String>,
    /// Each value read as an integer, where it is one: parsed once per change, not per read.
    numbers: Vec<Option<i64>>,
    /// The file the configuration was read from, for `CONFIG REWRITE`.
    file: Option<PathBuf>,
    /// What is read for every request, kept apart so that no name is looked up for it.
    hot: Hot,
    /// `notify-keyspace-events` as set, with classes its shown value may omit.
    notify: Events,
    /// `user <name> <rules…>` directives, in order: the users the node starts with.
    users: Vec<Vec<String>>,
}

/// Directive values read on every request, derived once per change.
#[derive(Debug, Clone, Default)]
struct Hot {
    /// `client-output-buffer-limit` by [`ClientClass`].
    output_limits: [(u64, u64, u64); 3],
    timeout: i64,
    client_query_buffer_limit: usize,
    slowlog_log_slower_than: i64,
    maxmemory: i64,
    lfu: Option<LfuSettings>,
    latency_monitor_threshold: i64,
    latency_tracking: bool,
    min_replicas_to_write: i64,
}

/// The client classes `client-output-buffer-limit` sets limits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let values: Vec<String> = DIRECTIVES
            .iter()
            .map(|d| canonical(d, d.default).expect("defaults are valid"))
            .collect();
        let mut config = NodeConfig {
            numbers: values.iter().map(|v| v.parse().ok()).collect(),
            values,
            file: None,
            hot: Hot::default(),
            notify: Events::NONE,
            users: Vec::new(),
        };
        config.derive();
        config
    }
}

impl NodeConfig {
    /// Reads an optional config file, then `--directive value…` flags on top of it.
    pub fn load(file: Option<&Path>, flags: &[String]) -> Result<NodeConfig, ConfigError> {
        let mut config = NodeConfig::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            config.apply_text(&text, &path.display().to_string())?;
            config.file = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        }
        config.apply_flags(flags)?;
        Ok(config)
    }

    /// Applies `redis.conf` text; `origin` names the file in errors.
    pub fn apply_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ConfigError::Directive {
                origin: format!("{origin} line {}", n + 1),
                line: trimmed.to_string(),
                reason,
            };
            let words = split_args(trimmed)
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            self.apply_words(&words).map_err(fail)?;
        }
        Ok(())
    }

    /// Applies `--name value [value…]` flags, like redis-server's command line.
    pub fn apply_flags(&mut self, flags: &[String]) -> Result<(), ConfigError> {
        let mut i = 0;
        while i < flags.len() {
            let Some(name) = flags[i].strip_prefix("--") else {
                return Err(ConfigError::Directive {
                    origin: "command line".into(),
                    line: flags[i].clone(),
                    reason: "expected --directive".into(),
                });
            };
            let mut words = vec![name.to_string()];
            i += 1;
            while i < flags.len() && !flags[i].starts_with("--") {
                words.push(flags[i].clone());
                i += 1;
            }
            self.apply_words(&words)
                .map_err(|reason| ConfigError::Directive {
                    origin: "command line".into(),
                    line: words.join(" "),
                    reason,
                })?;
        }
        Ok(())
    }

    fn apply_words(&mut self, words: &[String]) -> Result<(), String> {
        let name = words[0].to_ascii_lowercase();
        if name == "daemonize" && words.get(1).is_some_and(|v| v.eq_ignore_ascii_case("yes")) {
            return Err("slotgate node does not daemonize: run it under a supervisor (systemd, docker) instead".into());
        }
        if name == "user" {
            return self.add_user(&words[1..]);
        }
        let index = directive_index(&name).ok_or("Bad directive or wrong number of arguments")?;
        let value = words[1..].join(" ");
        if words.len() < 2
            && !matches!(
                DIRECTIVES[index].kind,
                ValueKind::Text | ValueKind::Special(_)
            )
        {
            return Err("Bad directive or wrong number of arguments".into());
        }
        self.values[index] = canonical(&DIRECTIVES[index], &value)?;
        self.note_raw(index, &value);
        self.numbers[index] = self.values[index].parse().ok();
        self.derive();
        Ok(())
    }

    /// A `user` directive: checked now (a bad rule fails the configuration), applied when
    /// the node starts. Unknown command names pass here, as in Redis.
    fn add_user(&mut self, words: &[String]) -> Result<(), String> {
        use super::acl::{user, RuleError, User};
        let Some(name) = words.first() else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        if self.users.iter().any(|u| u[0] == *name) {
            return Err(format!(
                "Error in user declaration '{name}': {}",
                RuleError::DuplicateUser
            ));
        }
        let args: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
        let rules = user::merge_selector_args(&args).map_err(|at| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                words[at + 1]
            )
        })?;
        let mut probe = User::new(name.as_bytes(), false);
        for rule in &rules {
            match probe.apply(rule, false) {
                Ok(()) | Err(RuleError::UnknownName) => {}
                Err(e) => {
                    return Err(format!(
                        "Error in user declaration '{}': {e}",
                        String::from_utf8_lossy(rule)
                    ))
                }
            }
        }
        self.users.push(words.to_vec());
        Ok(())
    }

    /// The `user` directives, each as its words (the name first, then the rules).
    pub fn users(&self) -> &[Vec<String>] {
        &self.users
    }

    /// Keeps what a directive's shown value loses: `notify-keyspace-events` shows `A` for
    /// `An` (Redis's own display drops the `n`), but the `n` class stays on.
    fn note_raw(&mut self, index: usize, raw: &str) {
        if DIRECTIVES[index].name == "notify-keyspace-events" {
            self.notify = Events::parse(raw);
        }
    }

    /// Recomputes what is parsed from the values once per change.
    fn derive(&mut self) {
        let mut limits = [(0, 0, 0); 3];
        let words: Vec<&str> = self.get("client-output-buffer-limit").split(' ').collect();
        for w in words.chunks_exact(4) {
            let class = match w[0] {
                "normal" => ClientClass::Normal,
                "slave" => ClientClass::Replica,
                _ => ClientClass::Pubsub,
            };
            let n = |s: &str| s.parse().unwrap_or(0);
            limits[class as usize] = (n(w[1]), n(w[2]), n(w[3]));
        }
        self.hot = Hot {
            output_limits: limits,
            timeout: self.int("timeout"),
            client_query_buffer_limit: self.usize("client-query-buffer-limit"),
            slowlog_log_slower_than: self.int("slowlog-log-slower-than"),
            maxmemory: self.int("maxmemory"),
            latency_monitor_threshold: self.int("latency-monitor-threshold"),
            latency_tracking: self.get("latency-tracking") == "yes",
            min_replicas_to_write: self.int("min-replicas-to-write"),
            lfu: self
                .get("maxmemory-policy")
                .ends_with("-lfu")
                .then(|| LfuSettings {
                    log_factor: self.int("lfu-log-factor").clamp(0, i64::from(u32::MAX)) as u32,
                    decay_time: self.int("lfu-decay-time").clamp(0, i64::from(u32::MAX)) as u32,
                }),
        };
    }

    /// Under an LFU `maxmemory-policy`, how keys count their uses; None otherwise.
    pub fn lfu(&self) -> Option<LfuSettings> {
        self.hot.lfu
    }

    /// `latency-monitor-threshold` in milliseconds (0: the latency monitor is off).
    pub fn latency_monitor_threshold(&self) -> i64 {
        self.hot.latency_monitor_threshold
    }

    /// `latency-tracking`: per-command latency histograms are kept.
    pub fn latency_tracking(&self) -> bool {
        self.hot.latency_tracking
    }

    /// `notify-keyspace-events`, parsed.
    pub fn notify_events(&self) -> Events {
        self.notify
    }

    /// `timeout`: seconds a client may stay idle (0: for ever).
    pub fn timeout(&self) -> i64 {
        self.hot.timeout
    }

    pub fn client_query_buffer_limit(&self) -> usize {
        self.hot.client_query_buffer_limit
    }

    /// `slowlog-log-slower-than` in microseconds (negative: the slow log is off).
    pub fn slowlog_log_slower_than(&self) -> i64 {
        self.hot.slowlog_log_slower_than
    }

    /// `min-replicas-to-write` (0: writes never wait for replicas).
    pub fn min_replicas_to_write(&self) -> i64 {
        self.hot.min_replicas_to_write
    }

    /// `maxmemory` in bytes (0: no limit).
    pub fn maxmemory(&self) -> i64 {
        self.hot.maxmemory
    }

    /// `CONFIG SET name value [name value …]`, all or nothing: every name is checked first,
    /// then every value; on an error nothing changes. `Err` is Redis's text without `ERR `.
    pub fn set_many(&mut self, pairs: &[(&str, &str)]) -> Result<(), String> {
        let failed = |name: &str, why: &str| {
            format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        let mut indices = Vec::with_capacity(pairs.len());
        for &(name, _) in pairs {
            let Some(index) = directive_index(&name.to_ascii_lowercase()) else {
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            match DIRECTIVES[index].mutability {
                Mutability::Mutable => {}
                Mutability::Immutable => return Err(failed(name, "can't set immutable config")),
                Mutability::Protected => return Err(failed(name, "can't set protected config")),
            }
            if indices.contains(&index) {
                return Err(failed(name, "duplicate parameter"));
            }
            indices.push(index);
        }
        let mut values = Vec::with_capacity(pairs.len());
        for (&(name, value), &index) in pairs.iter().zip(&indices) {
            values.push(canonical(&DIRECTIVES[index], value).map_err(|why| failed(name, &why))?);
        }
        for ((index, value), &(_, raw)) in indices.into_iter().zip(values).zip(pairs) {
            self.numbers[index] = value.parse().ok();
            self.values[index] = value;
            self.note_raw(index, raw);
        }
        self.derive();
        Ok(())
    }

    /// `CONFIG SET name value` for one directive (see [`set_many`](Self::set_many)).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_many(&[(name, value)])
    }

    /// The directive called `name` (any case, aliases too), and its value.
    pub fn lookup(&self, name: &str) -> Option<(&'static Directive, &str)> {
        let index = directive_index(&name.to_ascii_lowercase())?;
        Some((&DIRECTIVES[index], &self.values[index]))
    }

    /// The file the configuration was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A directive's canonical value by name. Panics on a name not in [`DIRECTIVES`]: callers
    /// name directives in code.
    pub fn get(&self, name: &str) -> &str {
        let index = directive_index(name).unwrap_or_else(|| panic!("no directive {name}"));
        &self.values[index]
    }

    /// An integer or memory directive's value.
    pub fn int(&self, name: &str) -> i64 {
        let index = directive_index(name).unwrap_or_else(|| panic!("no directive {name}"));
        self.numbers[index].unwrap_or_else(|| panic!("{name} is not numeric"))
    }

    pub fn usize(&self, name: &str) -> usize {
        usize::try_from(self.int(name).max(0)).unwrap_or(usize::MAX)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Every (name, value) whose name or alias matches the glob `pattern`
    /// (case-insensitively), in table order; aliases are listed under their own names, as
    /// Redis lists them.
    pub fn matching<'a>(
        &'a self,
        pattern: &'a [u8],
    ) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        DIRECTIVES
            .iter()
            .zip(&self.values)
            .flat_map(|(d, v)| {
                std::iter::once(d.name)
                    .chain(d.aliases.iter().copied())
                    .map(move |name| (name, v.as_str()))
            })
            .filter(move |(name, _)| crate::node::glob::matches(pattern, name.as_bytes(), true))
    }

    /// The directives whose values differ from their defaults, as `redis.conf` lines.
    pub fn changed_lines(&self) -> Vec<String> {
        DIRECTIVES
            .iter()
            .zip(&self.values)
            .filter(|(d, v)| canonical(d, d.default).is_ok_and(|def| def != **v))
            .map(|(d, v)| format!("{} {}", d.name, quote_value(v)))
            .collect()
    }

    /// `CONFIG REWRITE`: rewrites the config file in place. Comments and unknown lines stay;
    /// each directive's first line gets its current value, its later lines go; changed
    /// directives the file lacks are appended.
    ///
    /// `users` are the ACL users as `user …` lines: they replace the file's `user` lines
    /// (at the first one, else at the end). With an `aclfile` the users live there and the
    /// file's `user` lines go, as in Redis.
    pub fn rewrite(&self, users: &[String]) -> Result<(), String> {
        let path = self
            .file
            .as_deref()
            .ok_or("The server is running without a config file")?;
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let users: &[String] = if self.get("aclfile").is_empty() {
            users
        } else {
            &[]
        };
        let mut users_written = false;
        let mut seen = vec![false; DIRECTIVES.len()];
        let mut out = String::new();
        for line in old.lines() {
            let trimmed = line.trim();
            let first = trimmed.split_whitespace().next().unwrap_or("");
            if first.eq_ignore_ascii_case("user") {
                if !users_written {
                    for u in users {
                        out += u;
                        out.push('\n');
                    }
                    users_written = true;
                }
                continue;
            }
            let index = (!trimmed.starts_with('#'))
                .then(|| split_args(trimmed))
                .flatten()
                .and_then(|w| {
                    w.first()
                        .and_then(|n| directive_index(&n.to_ascii_lowercase()))
                });
            match index {
                Some(i) if seen[i] => continue,
                Some(i) => {
                    seen[i] = true;
                    out += &format!("{} {}\n", DIRECTIVES[i].name, quote_value(&self.values[i]));
                }
                None => {
                    out += line;
                    out.push('\n');
                }
            }
        }
        let mut header = false;
        for (i, (d, v)) in DIRECTIVES.iter().zip(&self.values).enumerate() {
            if seen[i] || canonical(d, d.default).is_ok_and(|def| def == *v) {
                continue;
            }
            if !header {
                out += "# Generated by CONFIG REWRITE\n";
                header = true;
            }
            out += &format!("{} {}\n", d.name, quote_value(v));
        }
        if !users_written && !users.is_empty() {
            if !header {
                out += "# Generated by CONFIG REWRITE\n";
            }
            for u in users {
                out += u;
                out.push('\n');
            }
        }
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, out)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("Rewriting config file: {e}"))
    }
}

/// A value as a config line writes it: quoted when empty or holding spaces or quotes.
fn quote_value(v: &str) -> String {
    if !v.is_empty()
        && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => q += "\\\"",
            '\\' => q += "\\\\",
            '\n' => q += "\\n",
            '\r' => q += "\\r",
            '\t' => q += "\\t",
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The row of `name` (a directive's name or alias, lowercase). Looked up on every command
/// for the settings commands read, so it is a hash lookup, not a walk of the table.
fn directive_index(name: &str) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize, foldhash::fast::RandomState>> =
        OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = HashMap::default();
        for (i, d) in DIRECTIVES.iter().enumerate() {
            index.insert(d.name, i);
            for alias in d.aliases {
                index.entry(*alias).or_insert(i);
            }
        }
        index
    });
    index.get(name).copied()
}

/// `value` as `CONFIG GET` shows it, or why it is invalid.
fn canonical(d: &Directive, value: &str) -> Result<String, String> {
    match d.kind {
        ValueKind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        ValueKind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        ValueKind::Memory { min } => {
            let n = parse_memory(value)
                .filter(|n| *n >= 0)
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < min {
                return Err(format!(
                    "argument must be between {min} and {} inclusive",
                    i64::MAX
                ));
            }
            Ok(n.to_string())
        }
        ValueKind::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &words.join(", "))
            }
        }
        ValueKind::Text => Ok(value.to_string()),
        ValueKind::Special(check) => check(value),
    }
}

/// A memory amount as Redis's `memtoull` reads it: `1gb` = 1024³, `1g` = 1000³.
pub fn parse_memory(value: &str) -> Option<i64> {
    let lower = value.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// `hz`: an integer, held within 1..=500 as Redis holds it.
fn check_hz(value: &str) -> Result<String, String> {
    let n: i64 = value
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return Err(format!(
            "argument must be between 0 and {} inclusive",
            i32::MAX
        ));
    }
    Ok(n.clamp(1, 500).to_string())
}

/// `notify-keyspace-events`: class characters, shown in Redis's canonical order.
fn check_keyspace_events(value: &str) -> Result<String, String> {
    const ALL: &str = "g$lshzxetd";
    let mut flags = std::collections::BTreeSet::new();
    for c in value.chars() {
        match c {
            'A' => flags.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                flags.insert(c);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| flags.contains(&c)) {
        out.push('A');
    } else {
        out.extend("g$lshzxetdn".chars().filter(|c| flags.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| flags.contains(c)));
    Ok(out)
}

/// `latency-tracking-info-percentiles`: numbers within 0..=100.
fn check_percentiles(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    for w in &words {
        let x: f64 = w
            .parse()
            .map_err(|_| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
        if !(0.0..=100.0).contains(&x) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
    }
    Ok(words.join(" "))
}

/// `oom-score-adj-values`: three integers within -2000..=2000.
fn check_oom_values(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    for w in &words {
        match w.parse::<i64>() {
            Ok(n) if (-2000..=2000).contains(&n) => {}
            _ => return Err("Invalid oom-score-adj-values value".into()),
        }
    }
    Ok(words.join(" "))
}

/// `maxmemory-clients`: bytes, or a percentage of `maxmemory` (`5%`).
fn check_memory_or_percent(value: &str) -> Result<String, String> {
    if let Some(p) = value.strip_suffix('%') {
        return match p.parse::<u32>() {
            Ok(n) => Ok(format!("{n}%")),
            Err(_) => Err("argument must be a memory or percent value".into()),
        };
    }
    parse_memory(value)
        .filter(|n| *n >= 0)
        .map(|n| n.to_string())
        .ok_or_else(|| "argument must be a memory or percent value".into())
}

/// `save "<seconds> <changes> …"` or `save ""`.
fn check_save(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(2) || words.iter().any(|w| w.parse::<u64>().is_err()) {
        return Err("Invalid save parameters".into());
    }
    Ok(words.join(" "))
}

/// `client-output-buffer-limit <class> <hard> <soft> <seconds> …`.
fn check_output_buffer_limit(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut current = NodeConfig::default_output_buffer_limits();
    for w in words.chunks(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(w[1]);
        let soft = parse_memory(w[2]);
        let secs = w[3].parse::<i64>().ok();
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => current[class] = (h, s, t),
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(["normal", "slave", "pubsub"]
        .iter()
        .zip(current)
        .map(|(c, (h, s, t))| format!("{c} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" "))
}

impl NodeConfig {
    fn default_output_buffer_limits() -> [(i64, i64, i64); 3] {
        [
            (0, 0, 0),
            (268435456, 67108864, 60),
            (33554432, 8388608, 60),
        ]
    }

    /// `client-output-buffer-limit` for one class: hard and soft limits in bytes (0: none)
    /// and the soft limit's seconds.
    pub fn output_buffer_limit(&self, class: ClientClass) -> (u64, u64, u64) {
        self.hot.output_limits[class as usize]
    }
}

/// Splits a config line into words as Redis's `sdssplitargs` does: `"…"` with `\n \r \t \b \a
/// \\ \" \xHH` escapes, `'…'` with `\'`. None when quotes do not balance.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut done = false;
        while !done {
            if i >= b.len() {
                break;
            }
            match b[i] {
                b'"' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'\\'
                                if b.get(i + 1) == Some(&b'x')
                                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                                    && b.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                            {
                                let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok()?;
                                word.push(u8::from_str_radix(hex, 16).ok()?);
                                i += 4;
                            }
                            b'\\' if i + 1 < b.len() => {
                                word.push(match b[i + 1] {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 8,
                                    b'a' => 7,
                                    c => c,
                                });
                                i += 2;
                            }
                            b'"' => {
                                i += 1;
                                // A closing quote must be followed by a space or the end.
                                if i < b.len() && !b[i].is_ascii_whitespace() {
                                    return None;
                                }
                                done = true;
                                break;
                            }
                            c => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                b'\'' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'\\' if b.get(i + 1) == Some(&b'\'') => {
                                word.push(b'\'');
                                i += 2;
                            }
                            b'\'' => {
                                i += 1;
                                if i < b.len() && !b[i].is_ascii_whitespace() {
                                    return None;
                                }
                                done = true;
                                break;
                            }
                            c => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                c if c.is_ascii_whitespace() => done = true,
                c => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let mut c = NodeConfig::default();
        c.apply_text(
            "# comment\nport 7000\nmaxmemory 1mb\nappendonly YES\n",
            "t.conf",
        )
        .unwrap();
        c.apply_flags(&["--port".into(), "7001".into(), "--save".into(), "".into()])
            .unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.int("maxmemory"), 1024 * 1024);
        assert!(c.bool("appendonly"));
        assert_eq!(c.get("save"), "");
    }

    #[test]
    fn unknown_directive_names_itself() {
        let err = NodeConfig::default()
            .apply_text("port 1\nfoo bar\n", "x.conf")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config error at x.conf line 2: 'foo bar': Bad directive or wrong number of arguments"
        );
    }

    #[test]
    fn quoting_like_sdssplitargs() {
        assert_eq!(
            split_args(r#"requirepass "a b\x41" 'it\'s'"#).unwrap(),
            vec!["requirepass", "a bA", "it's"]
        );
        assert_eq!(split_args(r#"x "open"#), None);
    }

    #[test]
    fn output_buffer_limits_merge() {
        let mut c = NodeConfig::default();
        c.set("client-output-buffer-limit", "pubsub 1mb 0 0")
            .unwrap();
        assert_eq!(
            c.output_buffer_limit(ClientClass::Pubsub),
            (1024 * 1024, 0, 0)
        );
        assert_eq!(c.output_buffer_limit(ClientClass::Normal), (0, 0, 0));
    }

    /// `config/node.conf` lists every directive once, commented out with its default; the
    /// lines uncommented parse and give the defaults.
    #[test]
    fn node_conf_lists_every_directive_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/node.conf");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut listed = Vec::new();
        let mut uncommented = String::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("# ") else {
                continue;
            };
            let Some(name) = rest.split_whitespace().next() else {
                continue;
            };
            if DIRECTIVES.iter().any(|d| d.name == name) {
                listed.push(name);
                uncommented += rest;
                uncommented.push('\n');
            }
        }
        for d in DIRECTIVES {
            let n = listed.iter().filter(|&&l| l == d.name).count();
            assert_eq!(n, 1, "{} listed {n} times in config/node.conf", d.name);
        }
        let mut c = NodeConfig::default();
        c.apply_text(&uncommented, "node.conf").unwrap();
        assert_eq!(c.values, NodeConfig::default().values);
        assert!(c.changed_lines().is_empty());
        for d in DIRECTIVES {
            assert_eq!(
                c.get(d.name),
                canonical(d, d.default).unwrap(),
                "{} default",
                d.name
            );
        }
    }

    #[test]
    fn set_many_is_all_or_nothing_with_redis_texts() {
        let mut c = NodeConfig::default();
        assert_eq!(
            c.set_many(&[("maxmemory", "1mb"), ("timeout", "-1")]),
            Err("CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive".into())
        );
        assert_eq!(c.get("maxmemory"), "0");
        assert_eq!(
            c.set_many(&[("maxmemory", "1"), ("Foo", "1")]),
            Err("Unknown option or number of arguments for CONFIG SET - 'Foo'".into())
        );
        assert_eq!(
            c.set("daemonize", "no"),
            Err("CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config".into())
        );
        assert_eq!(
            c.set_many(&[("timeout", "1"), ("TIMEOUT", "2")]),
            Err(
                "CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter"
                    .into()
            )
        );
        c.set_many(&[
            ("maxmemory", "1mb"),
            ("slave-read-only", "no"),
            ("hz", "1000"),
        ])
        .unwrap();
        assert_eq!(c.get("maxmemory"), "1048576");
        assert_eq!(c.get("replica-read-only"), "no");
        assert_eq!(c.get("hz"), "500");
        assert_eq!(
            c.set("proto-max-bulk-len", "1"),
            Err("CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive".into())
        );
    }

    #[test]
    fn matching_lists_aliases_and_globs_ignore_case() {
        let c = NodeConfig::default();
        let names: Vec<_> = c.matching(b"SLAVE-READ*").map(|(n, _)| n).collect();
        assert_eq!(names, vec!["slave-read-only"]);
        assert_eq!(c.matching(b"*").count(), 192);
    }

    #[test]
    fn rewrite_keeps_comments_and_updates_values() {
        let dir = std::env::temp_dir().join(format!("slotgate-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.conf");
        std::fs::write(&path, "# hello\nport 7000\ntimeout 5\ntimeout 6\n").unwrap();
        let mut c = NodeConfig::load(Some(&path), &[]).unwrap();
        c.set_many(&[("timeout", "9"), ("maxmemory", "2mb")])
            .unwrap();
        c.rewrite(&[]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# hello\nport 7000\ntimeout 9\n# Generated by CONFIG REWRITE\nmaxmemory 2097152\n"
        );
        let again = NodeConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(again.get("maxmemory"), "2097152");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(NodeConfig::default().rewrite(&[]).is_err());
    }

    #[test]
    fn rewrite_writes_the_acl_users_in_place_of_user_lines() {
        let dir =
            std::env::temp_dir().join(format!("slotgate-rewrite-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.conf");
        std::fs::write(&path, "port 7000\nuser old on nopass\nuser old2 on\n").unwrap();
        let c = NodeConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(c.users().len(), 2);
        let users = [
            "user a on".to_string(),
            "user default on nopass ~* &* +@all".to_string(),
        ];
        c.rewrite(&users).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "port 7000\nuser a on\nuser default on nopass ~* &* +@all\n"
        );
        std::fs::write(&path, "port 7000\n").unwrap();
        c.rewrite(&users).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "port 7000\n# Generated by CONFIG REWRITE\nuser a on\nuser default on nopass ~* &* +@all\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn user_directives_are_checked_when_read() {
        let mut c = NodeConfig::default();
        c.apply_text("user alice on >pw +nosuchcommand ~*\n", "x.conf")
            .unwrap();
        let err = c.apply_text("user bob on %Z~a\n", "x.conf").unwrap_err();
        assert!(
            err.to_string()
                .contains("Error in user declaration '%Z~a': Syntax error"),
            "{err}"
        );
        let err = c.apply_text("user alice on\n", "x.conf").unwrap_err();
        assert!(err.to_string().contains("Duplicate user"), "{err}");
        let err = c.apply_text("user carol (~a\n", "x.conf").unwrap_err();
        assert!(err.to_string().contains("Unmatched parenthesis"), "{err}");
        assert!(c.apply_text("user\n", "x.conf").is_err());
        assert_eq!(c.users().len(), 1);
    }
}
