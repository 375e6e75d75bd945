//! The node's shared state and its listener.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::acl::Acl;
use super::client::Clients;
use super::config::{ClientClass, NodeConfig};
use super::keyspace::Keyspace;
use super::latency::LatencyMonitor;
use super::lua::Scripting;
use super::monitor::Monitors;
use super::notify;
use super::pubsub::PubSub;
use super::rdb::persistence::{self, Persistence};
use super::session;
use super::stats::NodeStats;
use super::tracking;

/// Most keys one active expiry step deletes before letting commands run again.
const EXPIRE_BUDGET: usize = 200;

/// Everything sessions share. The keyspace lock is the node's one big lock, as Redis's single
/// thread is: a command holds it from start to end (and a pipelined batch from its first
/// command to its last), never across an `.await`.
#[derive(Debug)]
pub struct Node {
    keyspace: Mutex<Keyspace>,
    pub config: ArcSwap<NodeConfig>,
    /// The ACL users; its lock is taken inside the keyspace lock, never the other way round.
    pub acl: Acl,
    pub clients: Clients,
    /// Channel, pattern and shard channel subscriptions; its lock is taken inside the keyspace
    /// lock, never the other way round.
    pub pubsub: PubSub,
    /// The clients in `MONITOR` mode.
    pub monitors: Monitors,
    /// `LATENCY`'s events.
    pub latency: LatencyMonitor,
    pub stats: NodeStats,
    pub started: Instant,
    /// 40 hex characters, new at every start (`INFO server` `run_id`).
    pub run_id: String,
    /// Cancelled to stop the node (`SHUTDOWN`, a signal).
    pub shutdown: CancellationToken,
    /// Bumped by `CLIENT UNPAUSE`: sessions holding a command back for a pause wake on it
    /// (a pause that runs out wakes them by its end time).
    pub unpaused: tokio::sync::watch::Sender<u64>,
    /// The Lua engine (locked inside the keyspace lock) and the running script, which sessions
    /// read without the keyspace lock to answer `-BUSY`.
    pub scripting: Scripting,
    /// Whether the active expiry cycle runs (`DEBUG SET-ACTIVE-EXPIRE`): off, keys expire
    /// only when found by a command.
    pub active_expire: AtomicBool,
    /// Bumped by every `REPLCONF ACK`: `WAIT` wakes on it.
    pub replication_acks: tokio::sync::watch::Sender<u64>,
    /// Snapshots on disk: `SAVE`, `BGSAVE`, the `save` rules and what `INFO persistence` says.
    pub persistence: Persistence,
    next_client_id: AtomicU64,
}

impl Node {
    pub fn new(config: NodeConfig, acl: Acl, shutdown: CancellationToken) -> Node {
        let databases = config.usize("databases");
        Node {
            keyspace: Mutex::new(Keyspace::new(databases)),
            config: ArcSwap::from_pointee(config),
            acl,
            clients: Clients::default(),
            pubsub: PubSub::default(),
            monitors: Monitors::default(),
            latency: LatencyMonitor::default(),
            stats: NodeStats::default(),
            started: Instant::now(),
            run_id: new_run_id(),
            shutdown,
            unpaused: tokio::sync::watch::Sender::new(0),
            scripting: Scripting::new(),
            active_expire: AtomicBool::new(true),
            replication_acks: tokio::sync::watch::Sender::new(0),
            persistence: Persistence::new(unix_ms() / 1000),
            next_client_id: AtomicU64::new(1),
        }
    }

    /// The keyspace, locked. A panic while it was held leaves it as it was at the panic: the
    /// lock is taken anyway rather than failing every later command.
    pub fn keyspace(&self) -> MutexGuard<'_, Keyspace> {
        self.keyspace.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn new_run_id() -> String {
    let seed = format!("{:?}{}{}", Instant::now(), unix_ms(), std::process::id());
    sha1_smol::Sha1::from(seed.as_bytes()).digest().to_string()
}

/// Serves clients on the configured address until `node.shutdown` is cancelled.
pub async fn run(node: Arc<Node>) -> anyhow::Result<()> {
    let config = node.config.load_full();
    let port = config.int("port");
    let addrs = listen_addrs(config.get("bind"), port as u16);
    let mut listeners = Vec::new();
    for addr in &addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            // `bind * -::*`: the `-` marks an address that may be missing (no IPv6).
            Err(e) if addr.is_ipv6() && addrs.len() > 1 => {
                tracing::debug!(%addr, error = %e, "optional address not bound");
            }
            Err(e) => anyhow::bail!("cannot listen on {addr}: {e}"),
        }
    }
    tracing::info!(port, "slotgate node ready to accept connections");
    let tracker = TaskTracker::new();
    for listener in listeners {
        tracker.spawn(accept_loop(node.clone(), listener, tracker.clone()));
    }
    tracker.spawn(expire_loop(node.clone()));
    tracker.spawn(replication_cron(node.clone()));
    tracker.spawn(persistence::run(node.clone()));
    node.shutdown.cancelled().await;
    for client in node.clients.all() {
        client.kill.cancel();
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    persistence::save_on_exit(&node);
    Ok(())
}

/// The addresses `bind` names; `*` is every IPv4 address, `::*` every IPv6 one, a leading `-`
/// marks an address that may be missing.
fn listen_addrs(bind: &str, port: u16) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for word in bind.split_whitespace() {
        let host = word.trim_start_matches('-');
        let ip = match host {
            "*" => "0.0.0.0".parse().ok(),
            "::*" => "::".parse().ok(),
            other => other.parse().ok(),
        };
        if let Some(ip) = ip {
            out.push(SocketAddr::new(ip, port));
        }
    }
    out
}

/// Redis 7.0's answer to a connection that protected mode turns away.
const PROTECTED_MODE_DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// Protected mode (on by default, as in Redis): while the default user has `nopass`, only
/// loopback clients are served, whatever the node is bound to.
fn admits(config: &NodeConfig, default_nopass: bool, peer: IpAddr) -> bool {
    !config.bool("protected-mode") || !default_nopass || peer.to_canonical().is_loopback()
}

async fn accept_loop(node: Arc<Node>, listener: TcpListener, tracker: TaskTracker) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = node.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                node.stats
                    .connections_received
                    .fetch_add(1, Ordering::Relaxed);
                let maxclients = node.config.load().usize("maxclients");
                if node.clients.len() >= maxclients {
                    node.stats
                        .rejected_connections
                        .fetch_add(1, Ordering::Relaxed);
                    tracker.spawn(session::refuse(stream, "ERR max number of clients reached"));
                    continue;
                }
                let default_nopass = node.acl.default_user().nopass;
                if !admits(&node.config.load(), default_nopass, peer.ip()) {
                    node.stats
                        .rejected_connections
                        .fetch_add(1, Ordering::Relaxed);
                    tracker.spawn(session::refuse(stream, PROTECTED_MODE_DENIED));
                    continue;
                }
                let _ = stream.set_nodelay(true);
                tracker.spawn(session::serve(node.clone(), stream, peer));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Active expiry: `hz` times a second, delete keys whose time has come, a bounded number per
/// step so that commands never wait long behind it.
async fn expire_loop(node: Arc<Node>) {
    loop {
        let hz = node.config.load().int("hz").clamp(1, 500) as u64;
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz)) => {}
        }
        // Not while a script runs (it holds the lock; Redis expires nothing meanwhile either).
        node.scripting.watch.idle().await;
        if !node.active_expire.load(Ordering::Relaxed) {
            continue;
        }
        // Keep going while steps come back full, up to a quarter of the period.
        let started = Instant::now();
        loop {
            let config = node.config.load();
            let done = {
                let mut ks = node.keyspace();
                ks.set_notify(config.notify_events());
                let cycle = Instant::now();
                let done = ks.expire_cycle(unix_ms(), EXPIRE_BUDGET);
                node.latency.add_if_needed(
                    "expire-cycle",
                    cycle.elapsed().as_millis() as u64,
                    config.latency_monitor_threshold(),
                    unix_ms() / 1000,
                );
                if ks.journals_on() {
                    notify::publish_noted(&node, &config, ks.take_noted());
                }
                if ks.repl.is_on() {
                    let (hard, _, _) = config.output_buffer_limit(ClientClass::Replica);
                    ks.send_deletions(hard);
                }
                tracking::settle(&mut ks, &node, &config, None);
                done
            };
            if done < EXPIRE_BUDGET || started.elapsed() > Duration::from_millis(250 / hz) {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Once a second, for the replicas: the backlog's size follows `repl-backlog-size`, a `PING`
/// goes on the stream every `repl-ping-replica-period` seconds, so they know the link is alive
/// while nothing is written, and the replicas that acknowledged nothing for `repl-timeout`
/// seconds are disconnected (they reconnect and resynchronize).
async fn replication_cron(node: Arc<Node>) {
    let mut last_ping = Instant::now();
    loop {
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        node.scripting.watch.idle().await;
        let config = node.config.load();
        let period = Duration::from_secs(config.int("repl-ping-replica-period").max(1) as u64);
        let timeout = Duration::from_secs(config.int("repl-timeout").max(1) as u64);
        let (hard, _, _) = config.output_buffer_limit(ClientClass::Replica);
        let mut ks = node.keyspace();
        // `CONFIG SET repl-backlog-size` takes effect here, keeping the newest bytes.
        let backlog_size = usize::try_from(config.int("repl-backlog-size")).unwrap_or(1 << 20);
        ks.repl.resize_backlog(backlog_size);
        if ks.repl.replicas.is_empty() {
            continue;
        }
        if last_ping.elapsed() >= period {
            ks.repl.ping(hard);
            last_ping = Instant::now();
        }
        for r in &ks.repl.replicas {
            if r.last_ack.elapsed() > timeout && !r.handle.kill.is_cancelled() {
                tracing::warn!(client_id = r.handle.id, "disconnecting timed-out replica");
                r.handle.kill.cancel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_serves_only_loopback_clients_without_a_password() {
        let mut config = NodeConfig::default();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        for local in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(admits(&config, true, local.parse().unwrap()), "{local}");
        }
        assert!(!admits(&config, true, remote));
        assert!(!admits(&config, true, "::ffff:192.0.2.7".parse().unwrap()));
        // A password for the default user.
        assert!(admits(&config, false, remote));
        config.set("protected-mode", "no").unwrap();
        assert!(admits(&config, true, remote));
    }
}
