//! One `redis-server` process: a cluster node or a standalone server to compare against.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ports::{free_cluster_port, free_port, loopback};
use super::resp::{RawConn, Reply};
use super::temp_dir::{tail, TempDir};

/// How long a starting `redis-server` may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at starting a node before giving up; a retry picks a new port.
const START_ATTEMPTS: usize = 5;

/// How a node is configured.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// `cluster-enabled yes` when set, else a standalone server.
    pub cluster: bool,
    /// `cluster-node-timeout`, in milliseconds.
    pub node_timeout_ms: u64,
    /// More `redis.conf` directives, written after the harness's own so they win.
    pub extra_config: Vec<(String, String)>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            cluster: true,
            node_timeout_ms: 2000,
            extra_config: Vec::new(),
        }
    }
}

/// A running `redis-server`, SIGKILLed and reaped on drop.
pub struct RedisNode {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// The node's cluster id (`CLUSTER MYID`); empty for a standalone server.
    node_id: String,
    /// The scratch directory of a standalone server; a cluster node lives in its cluster's.
    _own_dir: Option<TempDir>,
}

impl RedisNode {
    /// Starts a node whose config, data and log live in `dir`, which is emptied first.
    pub fn start(dir: &Path, options: &NodeOptions) -> RedisNode {
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            // A failed attempt may have written a nodes.conf naming its port: start clean.
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            let port = if options.cluster {
                free_cluster_port()
            } else {
                free_port()
            };
            write_config(dir, port, options);
            let mut node = RedisNode {
                port,
                dir: dir.to_path_buf(),
                child: None,
                node_id: String::new(),
                _own_dir: None,
            };
            match node.spawn_and_wait() {
                Ok(()) => {
                    if options.cluster {
                        node.node_id = node.query_string(&["CLUSTER", "MYID"]);
                    }
                    return node;
                }
                // Most likely another test took the port (or its bus port) first.
                Err(failure) => last_failure = failure,
            }
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts: {last_failure}");
    }

    /// Starts a standalone (non-cluster) server in its own scratch directory: the reference that
    /// differential tests compare the proxy's replies with.
    pub fn standalone() -> RedisNode {
        RedisNode::standalone_with(&[])
    }

    /// [`standalone`](Self::standalone) with more `redis.conf` directives (name, value).
    pub fn standalone_with(directives: &[(&str, &str)]) -> RedisNode {
        let own_dir = TempDir::new("standalone");
        let options = NodeOptions {
            cluster: false,
            extra_config: directives
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..NodeOptions::default()
        };
        let mut node = RedisNode::start(own_dir.path(), &options);
        node._own_dir = Some(own_dir);
        node
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// The cluster node id, 40 hex characters.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's `dir`: its config, log and `dump.rdb`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the server logs to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// A new connection straight to this node.
    #[track_caller]
    pub fn client(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://{}/", self.addr())).expect("valid redis URL");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to redis-server {}: {e}", self.addr()));
        con.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set read timeout");
        con
    }

    /// A new raw RESP connection straight to this node.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr())
    }

    /// Runs one command on a new connection and returns its reply as a string.
    #[track_caller]
    pub fn query_string(&self, args: &[&str]) -> String {
        redis::cmd(args[0])
            .arg(&args[1..])
            .query(&mut self.client())
            .unwrap_or_else(|e| panic!("{args:?} on {} failed: {e}", self.addr()))
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the server (no shutdown, no save) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again after [`kill`](Self::kill), on the same port with the same
    /// directory, so a cluster node comes back with its node id and its view of the cluster.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart() of a running node");
        if let Err(failure) = self.spawn_and_wait() {
            panic!("redis-server {} did not restart: {failure}", self.addr());
        }
    }

    /// Spawns the server on `self.port` and waits until it answers PING; on failure the child
    /// is gone and the error says why.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .arg(self.dir.join("redis.conf"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server (is it installed?): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited with {status}; log:\n{}",
                    self.port,
                    tail(&self.log_path(), 10)
                ));
            }
            if self.answers_ping() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {START_TIMEOUT:?}; log:\n{}",
                    self.port,
                    tail(&self.log_path(), 10)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether *our* server answers PING on our port: the `dir` check rules out another test's
    /// server that grabbed the port while ours failed to bind and has not exited yet.
    fn answers_ping(&self) -> bool {
        let Ok(mut conn) = RawConn::try_connect(self.addr()) else {
            return false;
        };
        if conn.request(&["PING"]) != Reply::Simple("PONG".into()) {
            return false;
        }
        let dir = conn.request(&["CONFIG", "GET", "dir"]);
        let ours = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        dir.as_array()
            .and_then(|pair| pair.get(1))
            .and_then(Reply::as_bytes)
            .is_some_and(|theirs| Path::new(&*String::from_utf8_lossy(theirs)) == ours)
    }
}

impl Drop for RedisNode {
    fn drop(&mut self) {
        self.kill();
    }
}

impl std::fmt::Debug for RedisNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNode")
            .field("addr", &self.addr())
            .field("node_id", &self.node_id)
            .field("running", &self.is_running())
            .finish()
    }
}

fn write_config(dir: &Path, port: u16, options: &NodeOptions) {
    let mut config = String::new();
    let mut directive = |key: &str, value: &str| {
        writeln!(config, "{key} {value}").expect("writing to a String");
    };
    directive("port", &port.to_string());
    directive("bind", "127.0.0.1");
    directive("protected-mode", "no");
    directive("daemonize", "no");
    directive("dir", &quoted(dir));
    directive("logfile", &quoted(&dir.join("redis.log")));
    directive("save", "\"\"");
    directive("appendonly", "no");
    // Replicas sync at once instead of waiting 5 s for more replicas to share the transfer.
    directive("repl-diskless-sync-delay", "0");
    // A replica shows in CLUSTER SLOTS only once its replication offset is not 0, and a master
    // with no writes moves the offset only with its pings to replicas: every 10 s by default.
    directive("repl-ping-replica-period", "1");
    if options.cluster {
        directive("cluster-enabled", "yes");
        directive("cluster-config-file", "nodes.conf");
        directive("cluster-node-timeout", &options.node_timeout_ms.to_string());
    }
    for (key, value) in &options.extra_config {
        directive(key, value);
    }
    let path = dir.join("redis.conf");
    std::fs::write(&path, config)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}
