//! The proxy's configuration: `config/proxy.toml`, overridden by command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resp::Limits;
use crate::topology::NodeAddr;

/// Everything `slotgate proxy` can be told. Keys are kebab-case in the file, like the flags.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ProxyConfig {
    /// Address clients connect to.
    pub listen: String,
    /// Cluster nodes to learn the topology from, tried in order.
    pub seeds: Vec<String>,
    /// Address of the Prometheus metrics endpoint; empty for none.
    pub metrics_listen: String,
    /// Worker threads, each serving its share of the clients with its own backend
    /// connections; 0 means half the CPU cores (at least one), leaving the rest to the
    /// kernel's network stack.
    pub workers: usize,
    /// Shared pipelined connections to each backend node, per worker.
    pub pool_size: usize,
    /// Largest number of requests queued for one backend connection's writer.
    pub backend_queue: usize,
    pub connect_timeout_ms: u64,
    /// How long a request may wait for its backend's reply before the client gets an error.
    pub request_timeout_ms: u64,
    /// Full topology refresh period.
    pub refresh_interval_ms: u64,
    /// Least time between two on-demand refreshes (after `MOVED` or a backend error).
    pub refresh_min_interval_ms: u64,
    /// `MOVED`/`ASK` hops followed for one request before the client gets an error.
    pub max_redirects: u32,
    /// How long a request is held while its shard has no reachable master (a failover), and
    /// how long `TRYAGAIN`/`CLUSTERDOWN`/`LOADING` are retried.
    pub failover_hold_ms: u64,
    /// Bytes of requests the proxy holds at once during failovers; past it, requests for an
    /// unreachable master get an error at once.
    pub failover_hold_max_bytes: usize,
    /// Where read-only commands go.
    pub read_from: ReadFrom,
    /// A replica whose link to its master has been down for longer than this is not read
    /// from.
    pub replica_max_lag_ms: u64,
    /// ACL user for backend connections; empty for the default user.
    pub backend_user: String,
    /// Password for backend connections; empty for none.
    pub backend_password: Secret,
    /// Password clients must give (`AUTH <password>`, as the `default` user); empty for none.
    pub requirepass: Secret,
    /// Named users clients may authenticate as (`AUTH <user> <password>`), name → password.
    pub users: BTreeMap<String, Secret>,
    /// Commands slower than this many microseconds (read to reply written) go to the slow
    /// log; negative turns it off, 0 logs every command (Redis's `slowlog-log-slower-than`).
    pub slowlog_log_slower_than: i64,
    /// Entries the slow log keeps (Redis's `slowlog-max-len`).
    pub slowlog_max_len: usize,
    /// Seconds a client may stay idle (send nothing) before the proxy closes its connection;
    /// 0 for never (Redis's `timeout`). Subscribers and blocked clients are not timed out.
    pub timeout: u64,
    /// Client connections accepted at once.
    pub max_clients: usize,
    /// Commands one client may have in flight; reading from it pauses past this.
    pub max_pipeline: usize,
    /// Largest bulk string a client may send (Redis's `proto-max-bulk-len`).
    pub proto_max_bulk_len: usize,
    /// Most arguments in one command.
    pub max_multibulk_len: usize,
    /// Longest inline command (and header line).
    pub max_inline_len: usize,
    /// Bytes of unparsed input one client may hold (Redis's `client-query-buffer-limit`).
    pub client_query_buffer_limit: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: "127.0.0.1:7000".into(),
            seeds: vec!["127.0.0.1:6379".into()],
            metrics_listen: String::new(),
            workers: 0,
            pool_size: 1,
            backend_queue: 4096,
            connect_timeout_ms: 1000,
            request_timeout_ms: 5000,
            refresh_interval_ms: 10_000,
            refresh_min_interval_ms: 200,
            max_redirects: 5,
            failover_hold_ms: 15_000,
            failover_hold_max_bytes: 64 * 1024 * 1024,
            read_from: ReadFrom::Master,
            replica_max_lag_ms: 10_000,
            backend_user: String::new(),
            backend_password: Secret::default(),
            requirepass: Secret::default(),
            users: BTreeMap::new(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            timeout: 0,
            max_clients: 10_000,
            max_pipeline: 1024,
            proto_max_bulk_len: Limits::DEFAULT_MAX_BULK_LEN,
            max_multibulk_len: Limits::DEFAULT_MAX_ARRAY_LEN,
            max_inline_len: Limits::DEFAULT_MAX_INLINE_LEN,
            client_query_buffer_limit: 1024 * 1024 * 1024,
        }
    }
}

/// Where read-only commands are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFrom {
    /// Every command to the slot's master.
    #[default]
    Master,
    /// Reads to the slot's replicas (round-robin); to the master when none is healthy.
    Replica,
    /// Reads to a replica when one is healthy, else the master (the same as `replica`, kept
    /// for the name users know from other proxies).
    PreferReplica,
    /// Reads round-robin over the master and its healthy replicas.
    Any,
    /// Reads to the node of the shard with the lowest measured latency.
    Nearest,
}

impl ReadFrom {
    /// The name the config file and `--read-from` use (`prefer-replica`, …).
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .expect("every policy has a name")
            .get_name()
            .to_string()
    }
}

/// A password: kept out of `Debug` output, so it never reaches a log.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid value for '{key}': {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl ProxyConfig {
    /// Reads a TOML file; keys it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<ProxyConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<ProxyConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<config>".into(),
            message: e.message().to_string(),
        })
    }

    /// Rejects values the proxy cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid(
                "listen",
                format!("'{}' is not an ip:port address", self.listen),
            );
        }
        if !self.metrics_listen.is_empty() && self.metrics_listen.parse::<SocketAddr>().is_err() {
            return invalid(
                "metrics-listen",
                format!("'{}' is not an ip:port address", self.metrics_listen),
            );
        }
        if self.seeds.is_empty() {
            return invalid("seeds", "at least one seed node is needed".into());
        }
        for s in &self.seeds {
            if NodeAddr::parse(s).is_err() {
                return invalid("seeds", format!("'{s}' is not a host:port address"));
            }
        }
        let positive: [(&'static str, u64); 12] = [
            ("failover-hold-ms", self.failover_hold_ms),
            (
                "failover-hold-max-bytes",
                self.failover_hold_max_bytes as u64,
            ),
            ("pool-size", self.pool_size as u64),
            ("backend-queue", self.backend_queue as u64),
            ("connect-timeout-ms", self.connect_timeout_ms),
            ("request-timeout-ms", self.request_timeout_ms),
            ("refresh-interval-ms", self.refresh_interval_ms),
            ("max-clients", self.max_clients as u64),
            ("max-pipeline", self.max_pipeline as u64),
            ("proto-max-bulk-len", self.proto_max_bulk_len as u64),
            ("max-multibulk-len", self.max_multibulk_len as u64),
            ("max-inline-len", self.max_inline_len as u64),
        ];
        for (key, v) in positive {
            if v == 0 {
                return invalid(key, "must be greater than 0".into());
            }
        }
        if self.workers > 256 {
            return invalid("workers", format!("{} is more than 256", self.workers));
        }
        if self.pool_size > 64 {
            return invalid("pool-size", format!("{} is more than 64", self.pool_size));
        }
        if self.max_redirects == 0 || self.max_redirects > 16 {
            return invalid("max-redirects", "must be between 1 and 16".into());
        }
        if self.proto_max_bulk_len > Limits::DEFAULT_MAX_BULK_LEN {
            return invalid(
                "proto-max-bulk-len",
                "must be at most 536870912 (512 MiB)".into(),
            );
        }
        if self.max_inline_len < 1024 {
            return invalid("max-inline-len", "must be at least 1024".into());
        }
        // Argument offsets are 32-bit: one command must stay under 4 GiB.
        if self.client_query_buffer_limit < 1024 * 1024
            || self.client_query_buffer_limit > u32::MAX as usize
        {
            return invalid(
                "client-query-buffer-limit",
                "must be between 1 MiB and 4 GiB".into(),
            );
        }
        if self.proto_max_bulk_len > self.client_query_buffer_limit {
            return invalid(
                "proto-max-bulk-len",
                "must not exceed client-query-buffer-limit".into(),
            );
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_bulk_len: self.proto_max_bulk_len,
            max_array_len: self.max_multibulk_len,
            max_depth: Limits::DEFAULT_MAX_DEPTH,
            max_inline_len: self.max_inline_len,
        }
    }

    pub fn seed_addrs(&self) -> Vec<NodeAddr> {
        self.seeds
            .iter()
            .filter_map(|s| NodeAddr::parse(s).ok())
            .collect()
    }

    /// The number of worker threads, `workers = 0` resolved to half the CPU cores.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }

    /// Backend connections each node's pool holds: `pool-size` for every worker.
    pub fn connections_per_node(&self) -> usize {
        self.worker_count() * self.pool_size
    }

    /// Which of a node's connections carries client `client_id`'s requests: one of its own
    /// worker's, always the same, so the client's commands to a node keep their order. RESP3
    /// clients use the second half of the pool, whose connections speak RESP3.
    pub fn connection_for(&self, worker: usize, client_id: u64, resp3: bool) -> usize {
        let resp3_offset = if resp3 {
            self.connections_per_node()
        } else {
            0
        };
        resp3_offset + worker * self.pool_size + (client_id % self.pool_size as u64) as usize
    }

    pub fn failover_hold(&self) -> Duration {
        Duration::from_millis(self.failover_hold_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ProxyConfig::default().validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = ProxyConfig::from_toml("listn = \"127.0.0.1:1\"").unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = ProxyConfig::from_toml("pool-size = 0").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("'pool-size'"));
        let c = ProxyConfig::from_toml("seeds = [\"nope\"]").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("'seeds'"));
        let c = ProxyConfig::from_toml("listen = \"x\"").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("'listen'"));
        let err = ProxyConfig::from_toml("pool-size = \"two\"").unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = ProxyConfig::from_toml(
            "requirepass = \"hunter2\"\nbackend-password = \"s3cret\"\n[users]\nalice = \"wonderland\"",
        )
        .unwrap();
        assert_eq!(c.requirepass.expose(), "hunter2");
        assert_eq!(c.users["alice"].expose(), "wonderland");
        let shown = format!("{c:?}");
        for secret in ["hunter2", "s3cret", "wonderland"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let c = ProxyConfig::from_toml("read-from = \"prefer-replica\"").unwrap();
        assert_eq!(c.read_from, ReadFrom::PreferReplica);
        // The flag's names and the file's are the same.
        assert_eq!(ReadFrom::PreferReplica.name(), "prefer-replica");
    }

    #[test]
    fn shipped_config_file_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/proxy.toml");
        let shipped = ProxyConfig::from_file(&path).unwrap();
        assert_eq!(shipped, ProxyConfig::default());
        // Every key is present in the file, so it documents them all.
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let defaults = toml::Table::try_from(ProxyConfig::default()).unwrap();
        for key in defaults.keys() {
            assert!(table.contains_key(key), "config/proxy.toml lacks '{key}'");
        }
    }
}
