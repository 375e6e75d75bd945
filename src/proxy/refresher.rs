//! Keeps the router's slot map true: refreshes on demand (rate-limited) and periodically.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::error::io_reason;
use super::router::Router;
use crate::resp::{Frame, Limits};
use crate::slot::SLOT_COUNT;
use crate::topology::{parse_cluster_slots, NodeAddr, SlotMap};

const CLUSTER_SLOTS: &[u8] = b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

/// The one task that rebuilds the slot map.
pub struct Refresher {
    router: Arc<Router>,
    seeds: Vec<NodeAddr>,
}

impl Refresher {
    pub fn new(router: Arc<Router>, seeds: Vec<NodeAddr>) -> Refresher {
        Refresher { router, seeds }
    }

    /// Refreshes once. Every node of the current map is asked at once and the view most of
    /// them share is installed, so one node with a stale or partitioned view cannot flip the
    /// map back and forth; if none answers, the seeds are asked one after the other.
    /// Returns whether some node answered.
    pub async fn refresh_once(&self) -> bool {
        let current = self.router.slot_map();
        let mut known: Vec<NodeAddr> = current.shards().map(|s| s.master.clone()).collect();
        known.extend(current.nodes().cloned());
        let mut seen = std::collections::HashSet::new();
        known.retain(|a| seen.insert(a.clone()));
        known.truncate(MAX_ASKED);
        let timeout = self.router.config().connect_timeout() * 2;
        let mut asked = tokio::task::JoinSet::new();
        for node in known {
            asked.spawn(async move {
                let map = fetch_slot_map(&node, timeout).await;
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
            return true;
        }
        for seed in &self.seeds {
            match fetch_slot_map(seed, timeout).await {
                Ok(map) => {
                    self.router.install(map);
                    return true;
                }
                Err(reason) => {
                    tracing::debug!(peer_addr = %seed, %reason, "topology refresh: seed did not answer")
                }
            }
        }
        tracing::warn!("topology refresh failed: no known node or seed answered CLUSTER SLOTS");
        false
    }

    /// Refreshes whenever asked (at most once per `refresh-min-interval-ms`), every
    /// `refresh-interval-ms`, and quickly again while the map is incomplete.
    pub async fn run(self, shutdown: CancellationToken) {
        let config = self.router.config();
        let period = Duration::from_millis(config.refresh_interval_ms);
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
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.router.refresh_requested() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            let since = last.elapsed();
            if since < min_gap {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(min_gap - since) => {}
                }
            }
            self.refresh_once().await;
            last = Instant::now();
        }
    }
}

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
pub async fn fetch_slot_map(node: &NodeAddr, timeout: Duration) -> Result<SlotMap, String> {
    let fetch = async {
        let mut stream = TcpStream::connect(node.as_str())
            .await
            .map_err(|e| io_reason(&e))?;
        stream
            .write_all(CLUSTER_SLOTS)
            .await
            .map_err(|e| io_reason(&e))?;
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let limits = Limits::default();
        let reply = loop {
            if let Some(frame) = Frame::decode_from(&mut buf, limits).map_err(|e| e.to_string())? {
                break frame;
            }
            if stream.read_buf(&mut buf).await.map_err(|e| io_reason(&e))? == 0 {
                return Err("connection closed".to_string());
            }
        };
        if reply.is_error() {
            let text = reply
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            return Err(text.unwrap_or_default());
        }
        parse_cluster_slots(&reply, node).map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| "timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::Slot;

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
