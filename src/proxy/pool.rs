//! A few shared connections to one backend node.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use super::backend::{BackendConn, BackendSettings, ConnEnd};
use super::error::ProxyError;
use super::request::Request;
use crate::topology::NodeAddr;

/// After a failed connect, new requests for the node fail at once for this long instead of
/// each trying to connect again.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(100);

/// Pipelined connections to one node (`pool-size` for each worker, for RESP2 clients and again
/// for RESP3 clients), each opened on first use, by and on the worker that uses it, and
/// replaced when it fails.
#[derive(Debug)]
pub struct NodePool {
    addr: NodeAddr,
    settings: Arc<BackendSettings>,
    conns: Box<[ArcSwapOption<BackendConn>]>,
    health: Arc<Health>,
    /// Told when a connection fails: the slot map may have changed (a failover).
    trouble: Arc<Notify>,
    /// Round-trip time of the refresher's last questions to the node (smoothed), in µs; 0
    /// until measured.
    latency_us: AtomicU64,
    /// Whether reads may be sent here: false for a replica that is loading its data or has
    /// lost its master for longer than `replica-max-lag-ms`.
    readable: AtomicBool,
}

/// The node's last connect failure. `is_down` is checked on every request; the mutex (read
/// and written in a few instructions, never across an await) only when it is set.
#[derive(Debug, Default)]
struct Health {
    is_down: AtomicBool,
    down: Mutex<Option<(Instant, String)>>,
    reconnects: AtomicUsize,
    /// Whether "backend down" was logged and not yet followed by "backend up", and when it
    /// was last said: repeats are said at most every [`REPEAT_WARNING`].
    reported: Mutex<Option<Instant>>,
}

/// How often a node that stays down is warned about again.
const REPEAT_WARNING: Duration = Duration::from_secs(30);

impl Health {
    fn went_down(&self, addr: &NodeAddr, reason: &str) {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        match *reported {
            None => tracing::warn!(peer_addr = %addr, %reason, "backend down"),
            Some(at) if at.elapsed() >= REPEAT_WARNING => {
                tracing::warn!(peer_addr = %addr, %reason, "backend still down")
            }
            Some(_) => return,
        }
        *reported = Some(Instant::now());
    }

    fn came_up(&self, addr: &NodeAddr) {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if reported.take().is_some() {
            tracing::info!(peer_addr = %addr, "backend up again");
        }
    }
}

impl NodePool {
    pub fn new(
        addr: NodeAddr,
        size: usize,
        settings: Arc<BackendSettings>,
        trouble: Arc<Notify>,
    ) -> NodePool {
        NodePool {
            addr,
            settings,
            conns: (0..size.max(1)).map(|_| ArcSwapOption::empty()).collect(),
            health: Arc::default(),
            trouble,
            latency_us: AtomicU64::new(0),
            readable: AtomicBool::new(true),
        }
    }

    /// Open connections, and the requests in flight on them.
    pub fn connections(&self) -> (usize, usize) {
        self.conns
            .iter()
            .filter_map(|slot| slot.load_full())
            .filter(|c| c.is_open())
            .fold((0, 0), |(open, inflight), c| {
                (open + 1, inflight + c.inflight())
            })
    }

    /// Connections opened again after one closed.
    pub fn reconnects(&self) -> usize {
        self.health.reconnects.load(Ordering::Relaxed)
    }

    /// Whether a read may be sent to this node now.
    pub fn is_readable(&self) -> bool {
        self.readable.load(Ordering::Relaxed) && !self.is_down()
    }

    pub fn set_readable(&self, readable: bool) {
        self.readable.store(readable, Ordering::Relaxed);
    }

    /// Records a round trip to the node.
    pub fn record_latency(&self, rtt: Duration) {
        let sample = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 3 + sample) / 4
        };
        self.latency_us.store(new, Ordering::Relaxed);
    }

    /// The smoothed round-trip time, in µs (`u64::MAX` until measured).
    pub fn latency_us(&self) -> u64 {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => u64::MAX,
            n => n,
        }
    }

    /// Whether the last attempt to connect to the node failed.
    pub fn is_down(&self) -> bool {
        self.health.is_down.load(Ordering::Relaxed)
    }

    /// Sends a request on connection `request.conn_hint`; if the node is unreachable the
    /// request gets an error reply instead.
    pub async fn send(&self, request: Request) {
        if let Some(reason) = self.recently_down() {
            let error = ProxyError::Connect {
                addr: self.addr.clone(),
                reason,
            };
            return request.lost(&error, false);
        }
        let conn = self.conn(request.conn_hint);
        if let Err(request) = conn.send(request).await {
            // It closed between the check and the send: one fresh connection, one try.
            let conn = self.conn(request.conn_hint);
            if let Err(request) = conn.send(request).await {
                let error = ProxyError::Connect {
                    addr: self.addr.clone(),
                    reason: "connection closed".into(),
                };
                request.lost(&error, false);
            }
        }
    }

    /// Queues `request` if that needs no waiting: its connection is open and has room.
    /// Gives it back otherwise, for [`NodePool::send`]. A node known to be down fails it here.
    // Giving the request back (rather than boxing it) keeps the hot path free of allocation.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, request: Request) -> Result<(), Request> {
        if self.health.is_down.load(Ordering::Relaxed) {
            if let Some(reason) = self.recently_down() {
                let error = ProxyError::Connect {
                    addr: self.addr.clone(),
                    reason,
                };
                request.lost(&error, false);
                return Ok(());
            }
        }
        let slot = &self.conns[request.conn_hint % self.conns.len()];
        match &*slot.load() {
            Some(conn) if conn.is_open() => conn.try_send(request),
            _ => Err(request),
        }
    }

    fn recently_down(&self) -> Option<String> {
        let down = self.health.down.lock().unwrap_or_else(|e| e.into_inner());
        match &*down {
            Some((at, reason)) if at.elapsed() < RECONNECT_BACKOFF => Some(reason.clone()),
            _ => None,
        }
    }

    /// An open connection for `hint`, replacing a closed one.
    fn conn(&self, hint: usize) -> Arc<BackendConn> {
        let index = hint % self.conns.len();
        let slot = &self.conns[index];
        let resp3 = index >= self.conns.len() / 2;
        let current = slot.load_full();
        if let Some(c) = &current {
            if c.is_open() {
                return c.clone();
            }
        }
        let health = self.health.clone();
        let trouble = self.trouble.clone();
        let node = self.addr.to_string();
        let (up_health, up_addr) = (self.health.clone(), self.addr.clone());
        let on_up = move || up_health.came_up(&up_addr);
        let end_addr = self.addr.clone();
        let fresh = BackendConn::spawn(
            self.addr.clone(),
            &self.settings,
            resp3,
            on_up,
            move |end| {
                let kind = match &end {
                    ConnEnd::ConnectFailed(_) => Some("connect"),
                    ConnEnd::Lost => Some("lost"),
                    ConnEnd::Closed => None,
                };
                if let Some(kind) = kind {
                    trouble.notify_one();
                    metrics::counter!("slotgate_backend_errors_total", "node" => node.clone(), "kind" => kind)
                    .increment(1);
                }
                if let ConnEnd::ConnectFailed(reason) = &end {
                    health.went_down(&end_addr, reason);
                }
                let mut down = health.down.lock().unwrap_or_else(|e| e.into_inner());
                *down = match end {
                    ConnEnd::ConnectFailed(reason) => Some((Instant::now(), reason)),
                    ConnEnd::Lost | ConnEnd::Closed => None,
                };
                health.is_down.store(down.is_some(), Ordering::Relaxed);
            },
        );
        if current.is_some() {
            self.health.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        let previous = slot.compare_and_swap(&current, Some(fresh.clone()));
        match (&*previous, &current) {
            (Some(p), Some(c)) if !Arc::ptr_eq(p, c) => p.clone(),
            (Some(p), None) => p.clone(),
            _ => fresh,
        }
    }
}
