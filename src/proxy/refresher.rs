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

    /// Refreshes once, asking the known nodes and then the seeds until one answers.
    /// Returns whether some node answered.
    pub async fn refresh_once(&self) -> bool {
        let current = self.router.slot_map();
        let mut candidates: Vec<NodeAddr> = current.shards().map(|s| s.master.clone()).collect();
        candidates.extend(current.nodes().cloned());
        candidates.extend(self.seeds.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|a| seen.insert(a.clone()));
        let timeout = self.router.config().connect_timeout() * 2;
        for node in candidates {
            match fetch_slot_map(&node, timeout).await {
                Ok(map) => {
                    self.router.install(map);
                    return true;
                }
                Err(reason) => {
                    tracing::debug!(peer_addr = %node, %reason, "topology refresh: node did not answer")
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
            let healthy = self.router.slot_map().covered_slots() == SLOT_COUNT;
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
