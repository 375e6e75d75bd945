//! Keeps the router's slot map true: refreshes on demand (rate-limited) and periodically.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::config::ReadFrom;
use super::dedicated::Dedicated;
use super::error::ProxyError;
use super::handshake::Handshake;
use super::router::Router;
use crate::resp::{Frame, Limits};
use crate::slot::{Slot, SLOT_COUNT};
use crate::topology::{parse_cluster_slots, NodeAddr, SlotMap};

const CLUSTER_SLOTS: &[u8] = b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
const CLUSTER_NODES: &[u8] = b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n";
const INFO_REPLICATION: &[u8] = b"*3\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n$11\r\npersistence\r\n";

/// The one task that rebuilds the slot map.
pub struct Refresher {
    router: Arc<Router>,
    seeds: Vec<NodeAddr>,
    /// The last refresh's credential refusal, if every answer was one.
    refused: Option<String>,
}

impl Refresher {
    pub fn new(router: Arc<Router>, seeds: Vec<NodeAddr>) -> Refresher {
        Refresher {
            router,
            seeds,
            refused: None,
        }
    }

    /// Refreshes once. Every node of the current map is asked at once and the view most of
    /// them share is installed, so one node with a stale or partitioned view cannot flip the
    /// map back and forth; if none answers, the seeds are asked one after the other.
    /// Returns whether some node answered.
    pub async fn refresh_once(&mut self) -> bool {
        self.refresh("startup").await
    }

    /// One refresh, counted in the metrics under `trigger`.
    async fn refresh(&mut self, trigger: &'static str) -> bool {
        let changed = self.router.map_version();
        let answered = self.ask_cluster().await;
        let result = match (answered, self.router.map_version() != changed) {
            (false, _) => "failed",
            (true, true) => "changed",
            (true, false) => "unchanged",
        };
        metrics::counter!("slotgate_topology_refreshes_total", "trigger" => trigger, "result" => result)
            .increment(1);
        answered
    }

    async fn ask_cluster(&mut self) -> bool {
        let current = self.router.slot_map();
        let mut known: Vec<NodeAddr> = current.shards().map(|s| s.master.clone()).collect();
        known.extend(current.nodes().cloned());
        let mut seen = std::collections::HashSet::new();
        known.retain(|a| seen.insert(a.clone()));
        known.truncate(MAX_ASKED);
        let timeout = self.router.config().connect_timeout() * 2;
        let mut asked = tokio::task::JoinSet::new();
        for node in known {
            let pool = self.router.pool_for(&node);
            let handshake = self.router.handshake().clone();
            asked.spawn(async move {
                let answer = ask(&node, CLUSTER_SLOTS, timeout, &handshake).await;
                let map = answer.and_then(|(reply, rtt)| {
                    pool.record_latency(rtt);
                    parse_cluster_slots(&reply, &node).map_err(|e| e.to_string())
                });
                (node, map)
            });
        }
        let mut views: Vec<(SlotMap, usize)> = Vec::new();
        while let Some(answer) = asked.join_next().await {
            let Ok((node, map)) = answer else { continue };
            match map {
                Ok(map) => match views.iter_mut().find(|(v, _)| *v == map) {
                    Some((_, votes)) => *votes += 1,
                    None => views.push((map, 1)),
                },
                Err(reason) => {
                    tracing::debug!(peer_addr = %node, %reason, "topology refresh: node did not answer")
                }
            }
        }
        if let Some(view) = majority(views, &current) {
            self.router.install(view);
            // Clients may say READONLY whatever `read-from` says: always worth a few commands.
            self.check_read_health(timeout).await;
            return true;
        }
        let mut refused = None;
        for seed in &self.seeds {
            match fetch_slot_map(seed, timeout, self.router.handshake()).await {
                Ok(map) => {
                    self.router.install(map);
                    return true;
                }
                Err(reason) if is_auth_failure(&reason) => {
                    tracing::error!(peer_addr = %seed, %reason, "the node refused the proxy's credentials (backend-user, backend-password)");
                    refused = Some(reason);
                }
                Err(reason) => {
                    tracing::debug!(peer_addr = %seed, %reason, "topology refresh: seed did not answer")
                }
            }
        }
        self.refused = refused;
        tracing::warn!("topology refresh failed: no known node or seed answered CLUSTER SLOTS");
        false
    }

    /// Why the last refresh failed, if a node refused the proxy's credentials.
    pub fn auth_failure(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Asks every master which slots it is migrating, and every replica whether it can be
    /// read from; records the answers for routing reads.
    async fn check_read_health(&self, timeout: Duration) {
        let map = self.router.slot_map();
        let mut asked = tokio::task::JoinSet::new();
        for shard in map.shards() {
            let master = shard.master.clone();
            let handshake = self.router.handshake().clone();
            asked.spawn(async move {
                let answer = ask(&master, CLUSTER_NODES, timeout, &handshake).await;
                (master, true, answer)
            });
            for replica in &shard.replicas {
                let replica = replica.clone();
                let handshake = self.router.handshake().clone();
                asked.spawn(async move {
                    let answer = ask(&replica, INFO_REPLICATION, timeout, &handshake).await;
                    (replica, false, answer)
                });
            }
        }
        let mut migrating = Vec::new();
        let max_lag = Duration::from_millis(self.router.config().replica_max_lag_ms);
        while let Some(answer) = asked.join_next().await {
            let Ok((node, is_master, answer)) = answer else {
                continue;
            };
            let text = answer.as_ref().ok().and_then(|(reply, _)| reply.as_bytes());
            let text = text.map(|b| String::from_utf8_lossy(b).into_owned());
            if is_master {
                if let Some(text) = text {
                    migrating.extend(migrating_slots(&text));
                }
            } else {
                let readable = text.is_some_and(|t| replica_readable(&t, max_lag));
                let pool = self.router.pool_for(&node);
                if pool.is_readable() != readable {
                    tracing::info!(peer_addr = %node, readable, "replica read health changed");
                }
                pool.set_readable(readable);
            }
        }
        self.router.set_all_migrating(&migrating);
    }

    /// Refreshes whenever asked (at most once per `refresh-min-interval-ms`), every
    /// `refresh-interval-ms`, and quickly again while the map is incomplete.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let config = self.router.config();
        let mut period = Duration::from_millis(config.refresh_interval_ms);
        if config.read_from != ReadFrom::Master {
            // Replica reads must learn of slot migrations soon: a replica of either side may
            // lack keys that exist while one runs.
            period = period.min(REPLICA_READS_REFRESH);
        }
        let min_gap = Duration::from_millis(config.refresh_min_interval_ms);
        let mut last = Instant::now();
        loop {
            let healthy = self.router.slot_map().covered_slots() == SLOT_COUNT
                && !self.router.has_unreachable_master();
            let wait = if healthy {
                period
            } else {
                min_gap.max(Duration::from_millis(100))
            };
            let trigger = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.router.refresh_requested() => self.router.take_refresh_trigger(),
                _ = tokio::time::sleep(wait) => if healthy { "periodic" } else { "unhealthy" },
            };
            let since = last.elapsed();
            if since < min_gap {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(min_gap - since) => {}
                }
            }
            self.refresh(trigger).await;
            last = Instant::now();
        }
    }
}

/// Whether a node's refusal is about credentials: a configuration problem, not an outage.
fn is_auth_failure(reason: &str) -> bool {
    ["authentication failed", "NOAUTH", "WRONGPASS", "NOPERM"]
        .iter()
        .any(|p| reason.starts_with(p))
}

/// The longest refresh period when reads go to replicas.
const REPLICA_READS_REFRESH: Duration = Duration::from_secs(1);

/// Nodes asked at once for their view of the cluster.
const MAX_ASKED: usize = 16;

/// The view most nodes answered; on a tie, the current map if it is one of the tied views,
/// else the view that covers the most slots.
fn majority(views: Vec<(SlotMap, usize)>, current: &SlotMap) -> Option<SlotMap> {
    let most = views.iter().map(|(_, votes)| *votes).max()?;
    let mut tied: Vec<SlotMap> = views
        .into_iter()
        .filter(|(_, votes)| *votes == most)
        .map(|(view, _)| view)
        .collect();
    if let Some(i) = tied.iter().position(|v| v == current) {
        return Some(tied.swap_remove(i));
    }
    tied.sort_by_key(|v| std::cmp::Reverse(v.covered_slots()));
    tied.into_iter().next()
}

/// Asks one node for `CLUSTER SLOTS` and builds a map from the answer.
pub async fn fetch_slot_map(
    node: &NodeAddr,
    timeout: Duration,
    handshake: &Handshake,
) -> Result<SlotMap, String> {
    let (reply, _) = ask(node, CLUSTER_SLOTS, timeout, handshake).await?;
    parse_cluster_slots(&reply, node).map_err(|e| e.to_string())
}

/// Sends one command to `node` on a fresh connection; its reply (an error reply is an
/// error) and the round trip's time.
async fn ask(
    node: &NodeAddr,
    cmd: &[u8],
    timeout: Duration,
    handshake: &Handshake,
) -> Result<(Frame, Duration), String> {
    let fetch = async {
        let mut conn = Dedicated::connect(node, timeout, false, handshake)
            .await
            .map_err(|e| match e {
                ProxyError::Connect { reason, .. } => reason,
                other => other.to_string(),
            })?;
        let started = Instant::now();
        let reply = conn.call(cmd).await.map_err(|e| e.to_string())?;
        let rtt = started.elapsed();
        let (reply, _) = Frame::decode(&reply, Limits::default())
            .map_err(|e| e.to_string())?
            .ok_or("incomplete reply")?;
        if reply.is_error() {
            let text = reply
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            return Err(text.unwrap_or_default());
        }
        Ok((reply, rtt))
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// The slots a master's `CLUSTER NODES` line for itself shows being migrated away
/// (`[slot->-id]`) or imported (`[slot-<-id]`).
fn migrating_slots(cluster_nodes: &str) -> Vec<Slot> {
    let Some(myself) = cluster_nodes
        .lines()
        .find(|l| l.split(' ').nth(2).is_some_and(|f| f.contains("myself")))
    else {
        return Vec::new();
    };
    myself
        .split(' ')
        .filter_map(|f| f.strip_prefix('['))
        .filter_map(|f| f.split(['-', '>', '<']).next()?.parse().ok())
        .filter_map(Slot::new)
        .collect()
}

/// Whether a replica's `INFO replication` and `INFO persistence` allow reading from it: not
/// loading, not in its first sync, and its master link not down for longer than `max_lag`.
fn replica_readable(info: &str, max_lag: Duration) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    if field("loading") == Some("1") || field("master_sync_in_progress") == Some("1") {
        return false;
    }
    if field("master_link_status") != Some("down") {
        return true;
    }
    match field("master_link_down_since_seconds").and_then(|s| s.parse::<i64>().ok()) {
        Some(secs) if secs >= 0 => Duration::from_secs(secs as u64) <= max_lag,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_slots_come_from_the_myself_line() {
        let nodes =
            "a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-100 [101->-b2] [102-<-c3]\n\
                     b2 127.0.0.1:7002@17002 master - 0 0 2 connected 103-200 [5->-a1]\n";
        assert_eq!(
            migrating_slots(nodes),
            vec![Slot::new(101).unwrap(), Slot::new(102).unwrap()]
        );
        assert!(
            migrating_slots("a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5\n")
                .is_empty()
        );
    }

    #[test]
    fn replicas_loading_or_long_detached_are_not_read() {
        let lag = Duration::from_secs(10);
        assert!(replica_readable(
            "role:slave\r\nmaster_link_status:up\r\nloading:0\r\n",
            lag
        ));
        assert!(!replica_readable(
            "master_link_status:up\r\nloading:1\r\n",
            lag
        ));
        assert!(replica_readable(
            "master_link_status:down\r\nmaster_link_down_since_seconds:3\r\n",
            lag
        ));
        assert!(!replica_readable(
            "master_link_status:down\r\nmaster_link_down_since_seconds:30\r\n",
            lag
        ));
        assert!(!replica_readable(
            "master_link_status:down\r\nmaster_sync_in_progress:1\r\n",
            lag
        ));
    }

    fn map_with(owner: u16) -> SlotMap {
        SlotMap::empty().with_slot_moved(Slot::new(0).unwrap(), &NodeAddr::new("127.0.0.1", owner))
    }

    #[test]
    fn the_view_most_nodes_share_wins() {
        let (a, b) = (map_with(1), map_with(2));
        let current = SlotMap::empty();
        assert_eq!(
            majority(vec![(a.clone(), 1), (b.clone(), 3)], &current),
            Some(b.clone())
        );
        // A tie keeps the current view rather than flipping to the other.
        assert_eq!(majority(vec![(a.clone(), 2), (b.clone(), 2)], &b), Some(b));
        assert_eq!(majority(Vec::new(), &a), None);
    }
}
