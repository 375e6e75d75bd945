//! Where each request goes: the current slot map, the backend pools, and redirects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::{watch, Notify};

use super::backend::BackendSettings;
use super::config::{ProxyConfig, ReadFrom};
use super::error::ProxyError;
use super::handshake::Handshake;
use super::pool::NodePool;
use super::request::{Dest, Request};
use crate::slot::{Slot, SLOT_COUNT};
use crate::topology::{NodeAddr, SlotMap};

/// The routing snapshot: a slot map and, beside each of its shards, the master's pool.
/// Replaced whole; a request reads one snapshot with no lock.
struct Routes {
    map: Arc<SlotMap>,
    masters: Vec<Arc<NodePool>>,
    /// Each shard's replicas' pools, beside `masters`.
    replicas: Vec<Box<[Arc<NodePool>]>>,
    version: u64,
}

/// Routes requests to the master that serves their slot and follows the cluster's redirects.
pub struct Router {
    config: Arc<ProxyConfig>,
    settings: Arc<BackendSettings>,
    routes: ArcSwap<Routes>,
    /// Every node's pool, by address. A std mutex: only taken when a snapshot is built or a
    /// redirect names a node, never across an await.
    pools: Mutex<HashMap<NodeAddr, Arc<NodePool>>>,
    /// Serialises snapshot writers (refresher and `MOVED` patches) so neither loses the
    /// other's change.
    update: Mutex<()>,
    versions: AtomicU64,
    /// The map's version, for requests held until it changes.
    changes: watch::Sender<u64>,
    /// Bytes of requests held during failovers, bounded by `failover-hold-max-bytes`.
    held_bytes: AtomicUsize,
    held_requests: AtomicUsize,
    /// Round-robin position for replica reads.
    turn: AtomicUsize,
    /// Slots being migrated (one bit each): their reads go to the master, since a replica of
    /// either side may lack keys that exist.
    migrating: Box<[AtomicU64]>,
    refresh: Arc<Notify>,
    moved_since_refresh: AtomicBool,
    /// Script bodies by SHA1 (lowercase hex), at most `MAX_SCRIPTS`. A std mutex, held for a
    /// map lookup or insert, never across an await.
    scripts: Mutex<HashMap<String, Bytes>>,
}

/// Script bodies the proxy remembers for `NOSCRIPT` recovery.
const MAX_SCRIPTS: usize = 4096;
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";

impl Router {
    pub fn new(config: Arc<ProxyConfig>) -> Arc<Router> {
        let settings = Arc::new(BackendSettings {
            connect_timeout: config.connect_timeout(),
            request_timeout: config.request_timeout(),
            queue: config.backend_queue,
            reply_limits: crate::resp::Limits::default(),
            handshake: Arc::new(Handshake::new(&config)),
        });
        Arc::new(Router {
            config,
            settings,
            routes: ArcSwap::from_pointee(Routes {
                map: Arc::new(SlotMap::empty()),
                masters: Vec::new(),
                replicas: Vec::new(),
                version: 0,
            }),
            turn: AtomicUsize::new(0),
            migrating: (0..SLOT_COUNT / 64).map(|_| AtomicU64::new(0)).collect(),
            pools: Mutex::new(HashMap::new()),
            update: Mutex::new(()),
            versions: AtomicU64::new(0),
            changes: watch::Sender::new(0),
            held_bytes: AtomicUsize::new(0),
            held_requests: AtomicUsize::new(0),
            refresh: Arc::new(Notify::new()),
            moved_since_refresh: AtomicBool::new(false),
            scripts: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// What every connection to a node says first.
    pub fn handshake(&self) -> &Arc<Handshake> {
        &self.settings.handshake
    }

    /// The slot map requests are routed by now.
    pub fn slot_map(&self) -> Arc<SlotMap> {
        self.routes.load().map.clone()
    }

    /// How many times the slot map has changed.
    pub fn map_version(&self) -> u64 {
        self.routes.load().version
    }

    /// Installs a freshly fetched map; returns whether it differs from the current one.
    pub fn install(&self, map: SlotMap) -> bool {
        let _writer = self.update.lock().unwrap_or_else(|e| e.into_inner());
        if *self.routes.load().map == map {
            return false;
        }
        let current = self.routes.load();
        let moved = masters_changed(&current.map, &map);
        if moved > 0 {
            metrics::counter!("slotgate_failovers_observed_total").increment(moved as u64);
        }
        let slots_moved = (0..SLOT_COUNT as u16)
            .filter_map(Slot::new)
            .filter(|&s| current.map.master(s) != map.master(s))
            .count();
        let old_masters: Vec<&NodeAddr> = current.map.shards().map(|s| &s.master).collect();
        let new_masters: Vec<&NodeAddr> = map.shards().map(|s| &s.master).collect();
        let joined: Vec<String> = new_masters
            .iter()
            .filter(|m| !old_masters.contains(m))
            .map(ToString::to_string)
            .collect();
        let left: Vec<String> = old_masters
            .iter()
            .filter(|m| !new_masters.contains(m))
            .map(ToString::to_string)
            .collect();
        tracing::info!(
            slots_covered = map.covered_slots(),
            masters = map.shards().count(),
            slots_moved,
            new_masters = %joined.join(","),
            former_masters = %left.join(","),
            failovers = moved,
            "slot map changed"
        );
        drop(current);
        self.store(map);
        true
    }

    fn store(&self, map: SlotMap) {
        let masters = map
            .all_shards()
            .iter()
            .map(|s| self.pool_for(&s.master))
            .collect();
        let replicas = map
            .all_shards()
            .iter()
            .map(|s| s.replicas.iter().map(|r| self.pool_for(r)).collect())
            .collect();
        let version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        self.routes.store(Arc::new(Routes {
            map: Arc::new(map),
            masters,
            replicas,
            version,
        }));
        self.changes.send_replace(version);
    }

    /// Marks `slot` as being migrated (or not).
    pub fn set_migrating(&self, slot: Slot, migrating: bool) {
        let (word, bit) = (slot.index() / 64, slot.index() % 64);
        if migrating {
            self.migrating[word].fetch_or(1 << bit, Ordering::Relaxed);
        } else {
            self.migrating[word].fetch_and(!(1 << bit), Ordering::Relaxed);
        }
    }

    /// Replaces the set of slots being migrated.
    pub fn set_all_migrating(&self, slots: &[Slot]) {
        let mut words = vec![0u64; self.migrating.len()];
        for slot in slots {
            words[slot.index() / 64] |= 1 << (slot.index() % 64);
        }
        for (w, v) in self.migrating.iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
    }

    pub fn is_migrating(&self, slot: Slot) -> bool {
        self.migrating[slot.index() / 64].load(Ordering::Relaxed) & (1 << (slot.index() % 64)) != 0
    }

    /// How many slots are being migrated, as far as the proxy knows.
    pub fn migrating_slots(&self) -> usize {
        self.migrating
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones() as usize)
            .sum()
    }

    /// Which replica of shard `shard` reads for `slot` go to under `policy`; `None` for the
    /// master (no healthy replica, a migrating slot, or the master is the better choice).
    fn read_replica<'r>(
        &self,
        routes: &'r Routes,
        shard: usize,
        slot: Slot,
        policy: ReadFrom,
    ) -> Option<&'r Arc<NodePool>> {
        let replicas = routes.replicas.get(shard)?;
        if replicas.is_empty() || self.is_migrating(slot) {
            return None;
        }
        let n = replicas.len();
        match policy {
            ReadFrom::Master => None,
            ReadFrom::Replica | ReadFrom::PreferReplica => {
                let start = self.turn.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .map(|k| &replicas[(start + k) % n])
                    .find(|p| p.is_readable())
            }
            ReadFrom::Any => {
                // The master is one more place in the round.
                let k = self.turn.fetch_add(1, Ordering::Relaxed) % (n + 1);
                replicas.get(k).filter(|p| p.is_readable())
            }
            ReadFrom::Nearest => {
                let best = replicas
                    .iter()
                    .filter(|p| p.is_readable())
                    .min_by_key(|p| p.latency_us())?;
                (best.latency_us() < routes.masters[shard].latency_us()).then_some(best)
            }
        }
    }

    /// Whether some master of the current map could not be connected to lately.
    pub fn has_unreachable_master(&self) -> bool {
        !self.unreachable_masters().is_empty()
    }

    /// The masters of the current map that could not be connected to lately.
    pub fn unreachable_masters(&self) -> Vec<NodeAddr> {
        let routes = self.routes.load();
        routes
            .map
            .all_shards()
            .iter()
            .zip(&routes.masters)
            .filter(|(_, pool)| pool.is_down())
            .map(|(shard, _)| shard.master.clone())
            .collect()
    }

    /// Every node pool the proxy has opened, by address.
    pub fn pools(&self) -> Vec<(NodeAddr, Arc<NodePool>)> {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.iter().map(|(a, p)| (a.clone(), p.clone())).collect()
    }

    /// Requests held for failovers right now.
    pub fn held_requests(&self) -> usize {
        self.held_requests.load(Ordering::Relaxed)
    }

    /// Bytes of requests held for failovers right now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// Holds a request whose backend was unreachable until the slot map changes (or a short
    /// backoff passes), then routes it again: to the new master once a failover has
    /// finished. Gives the client `error` once the request has waited `failover-hold-ms`,
    /// or at once when the proxy already holds `failover-hold-max-bytes`.
    pub async fn hold(self: Arc<Self>, mut request: Request, error: ProxyError) {
        let hold = self.config.failover_hold();
        let first = request.retry_since.is_none();
        let since = *request.retry_since.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        let size = request.cmd.len();
        let budget = self.config.failover_hold_max_bytes;
        if waited >= hold || self.held_bytes.fetch_add(size, Ordering::Relaxed) + size > budget {
            if waited < hold {
                self.held_bytes.fetch_sub(size, Ordering::Relaxed);
                tracing::warn!("failover hold memory bound reached; failing a request");
            }
            return request.fail(&error);
        }
        request.back_to_master();
        self.request_refresh();
        if first {
            metrics::counter!("slotgate_failover_held_total").increment(1);
        }
        self.held_requests.fetch_add(1, Ordering::Relaxed);
        let mut changes = self.changes.subscribe();
        let backoff = (waited / 10).clamp(Duration::from_millis(20), Duration::from_millis(200));
        let _ = tokio::time::timeout(backoff.min(hold - waited), changes.changed()).await;
        self.held_bytes.fetch_sub(size, Ordering::Relaxed);
        self.held_requests.fetch_sub(1, Ordering::Relaxed);
        metrics::histogram!("slotgate_failover_hold_seconds").record(since.elapsed().as_secs_f64());
        request.prefix = None;
        self.dispatch(request).await;
    }

    /// Asks the refresher for a full refresh soon (it rate-limits).
    pub fn request_refresh(&self) {
        self.refresh.notify_one();
    }

    /// Asks for a refresh because a node answered `MOVED`.
    fn request_refresh_after_moved(&self) {
        self.moved_since_refresh.store(true, Ordering::Relaxed);
        self.refresh.notify_one();
    }

    /// Why the refresh requested last was asked for: `moved`, or `error` (a backend failure,
    /// `CLUSTERDOWN`, a slot with no master). Clears the `moved` mark.
    pub fn take_refresh_trigger(&self) -> &'static str {
        if self.moved_since_refresh.swap(false, Ordering::Relaxed) {
            "moved"
        } else {
            "error"
        }
    }

    /// Resolves when a refresh has been requested.
    pub async fn refresh_requested(&self) {
        self.refresh.notified().await
    }

    /// The pool of node `addr`, created on first use.
    pub fn pool_for(&self, addr: &NodeAddr) -> Arc<NodePool> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(addr.clone())
            .or_insert_with(|| {
                Arc::new(NodePool::new(
                    addr.clone(),
                    // One set speaking RESP2, one speaking RESP3.
                    2 * self.config.connections_per_node(),
                    self.settings.clone(),
                    self.refresh.clone(),
                ))
            })
            .clone()
    }

    /// Sends a request where its destination says: the master serving its slot, or a named
    /// node. Answers it with an error if no master serves the slot.
    pub async fn dispatch(&self, mut request: Request) {
        let slot = match &request.dest {
            Dest::Slot(slot) => *slot,
            Dest::Node(addr) => return self.pool_for(addr).send(request).await,
        };
        // The common case touches no reference count and awaits nothing: an open
        // connection with room in its queue takes the request right away.
        let (request, pool) = {
            let routes = self.routes.load();
            let shard = routes.map.shard_index(slot);
            let Some(master) = shard.and_then(|i| routes.masters.get(i)) else {
                drop(routes);
                self.request_refresh();
                return request.fail(&ProxyError::SlotNotServed { slot });
            };
            let mut pool = master;
            if request.read_from != ReadFrom::Master {
                let shard = shard.expect("the master was found by it");
                if let Some(replica) = self.read_replica(&routes, shard, slot, request.read_from) {
                    pool = replica;
                    request.to_replica = true;
                }
            }
            match pool.try_send(request) {
                Ok(()) => return,
                Err(request) => (request, pool.clone()),
            }
        };
        pool.send(request).await
    }

    /// Every master, in a stable order (by address), for fan-out and `SCAN`.
    pub fn masters(&self) -> Vec<NodeAddr> {
        let mut masters: Vec<NodeAddr> =
            self.slot_map().shards().map(|s| s.master.clone()).collect();
        masters.sort();
        masters
    }

    /// Every node, masters and replicas, for commands every node must run.
    pub fn all_nodes(&self) -> Vec<NodeAddr> {
        let map = self.slot_map();
        let mut nodes: Vec<NodeAddr> = map
            .shards()
            .flat_map(|s| std::iter::once(&s.master).chain(&s.replicas))
            .cloned()
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Remembers a script's body, so a node that answers `NOSCRIPT` for it can be given it.
    pub fn remember_script(&self, body: &[u8]) {
        let sha = sha1_smol::Sha1::from(body).digest().to_string();
        let mut scripts = self.scripts.lock().unwrap_or_else(|e| e.into_inner());
        if scripts.contains_key(&sha) {
            return;
        }
        if scripts.len() >= MAX_SCRIPTS {
            // Bounded: forget an arbitrary script. A node that then lacks it answers NOSCRIPT
            // to the client, as a Redis that never saw the script would.
            if let Some(k) = scripts.keys().next().cloned() {
                scripts.remove(&k);
            }
        }
        scripts.insert(sha, Bytes::copy_from_slice(body));
    }

    /// Forgets every script body, as `SCRIPT FLUSH` makes the nodes forget theirs.
    pub fn forget_scripts(&self) {
        self.scripts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// `SCRIPT LOAD <body>` for the script an `EVALSHA` request names, if the proxy knows it.
    fn script_load_for(&self, request: &Request) -> Option<Bytes> {
        let mut buf = bytes::BytesMut::from(&request.cmd[..]);
        let cmd = crate::resp::RequestParser::new(crate::resp::Limits::default())
            .parse(&mut buf)
            .ok()??;
        if !cmd.name().eq_ignore_ascii_case(b"EVALSHA")
            && !cmd.name().eq_ignore_ascii_case(b"EVALSHA_RO")
        {
            return None;
        }
        let sha = String::from_utf8_lossy(cmd.get(1)?).to_lowercase();
        let scripts = self.scripts.lock().unwrap_or_else(|e| e.into_inner());
        let body = scripts.get(&sha)?;
        Some(
            crate::resp::Command::from_args([&b"SCRIPT"[..], b"LOAD", body])
                .raw()
                .clone(),
        )
    }

    /// Acts on a `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN` or `NOSCRIPT` reply to `request`
    /// from `from`. Every path ends with the request sent again or answered, within the
    /// redirect and retry bounds.
    pub async fn redirect(self: Arc<Self>, mut request: Request, error: Bytes, from: NodeAddr) {
        let text = String::from_utf8_lossy(error.strip_suffix(b"\r\n").unwrap_or(&error[..]));
        let text = text.trim_start_matches('-');
        let redirect = Redirect::parse(text, &from);
        // A replica that redirects (it lost the slot, or it is loading) hands the read to
        // the master, not to the client.
        request.back_to_master();
        if matches!(
            redirect,
            Some(Redirect::Moved { .. } | Redirect::Ask { .. } | Redirect::NoScript)
        ) && request.hops >= self.config.max_redirects
        {
            return request.fail(&ProxyError::TooManyRedirects {
                last: text.to_string(),
            });
        }
        match redirect {
            Some(Redirect::Moved { slot, to }) => {
                metrics::counter!("slotgate_redirects_total", "kind" => "moved").increment(1);
                request.hops += 1;
                request.prefix = None;
                self.apply_moved(slot, &to);
                self.request_refresh_after_moved();
                self.pool_for(&to).send(request).await;
            }
            Some(Redirect::Ask { slot, to }) => {
                metrics::counter!("slotgate_redirects_total", "kind" => "ask").increment(1);
                self.set_migrating(slot, true);
                request.hops += 1;
                request.prefix = Some(Bytes::from_static(ASKING));
                self.pool_for(&to).send(request).await;
            }
            Some(Redirect::NoScript) => match self.script_load_for(&request) {
                Some(load) => {
                    request.hops += 1;
                    request.prefix = Some(load);
                    self.pool_for(&from).send(request).await;
                }
                None => request.reply(error),
            },
            Some(Redirect::Retry { cluster_down }) => {
                let kind = match text.split(' ').next() {
                    Some("CLUSTERDOWN") => "clusterdown",
                    Some("LOADING") => "loading",
                    _ => "tryagain",
                };
                metrics::counter!("slotgate_retries_total", "kind" => kind).increment(1);
                let window = Duration::from_millis(self.config.failover_hold_ms);
                let since = *request.retry_since.get_or_insert_with(Instant::now);
                let waited = since.elapsed();
                if waited >= window {
                    return request.reply(error);
                }
                if cluster_down {
                    self.request_refresh();
                }
                // Back off 10 ms, then a tenth of the time waited so far (at most 200 ms),
                // never past the window.
                let backoff =
                    (waited / 10).clamp(Duration::from_millis(10), Duration::from_millis(200));
                tokio::time::sleep(backoff.min(window - waited)).await;
                request.prefix = None;
                self.dispatch(request).await;
            }
            None => request.reply(error),
        }
    }

    fn apply_moved(&self, slot: Slot, to: &NodeAddr) {
        let _writer = self.update.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.routes.load();
        if current.map.master(slot) == Some(to) {
            return;
        }
        tracing::debug!(%slot, node = %to, "slot moved");
        self.store(current.map.with_slot_moved(slot, to));
    }
}

/// How many shards of `old` have their slots served by a replica of theirs in `new`: a
/// failover promoted it.
fn masters_changed(old: &SlotMap, new: &SlotMap) -> usize {
    old.shards()
        .filter(|shard| {
            shard
                .replicas
                .iter()
                .any(|r| new.shards().any(|n| n.master == *r))
        })
        .count()
}

/// A redirect-class error reply, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Redirect {
    Moved { slot: Slot, to: NodeAddr },
    Ask { slot: Slot, to: NodeAddr },
    Retry { cluster_down: bool },
    NoScript,
}

impl Redirect {
    /// Parses `MOVED 3999 127.0.0.1:6381`, `ASK …`, `TRYAGAIN …`, `CLUSTERDOWN …`. An
    /// address with no host (`:6381`) means the host of the node that answered.
    pub(super) fn parse(text: &str, from: &NodeAddr) -> Option<Redirect> {
        let mut words = text.split(' ');
        let code = words.next()?;
        match code {
            "MOVED" | "ASK" => {
                let slot = words.next()?.parse().ok().and_then(Slot::new)?;
                let addr = words.next()?;
                let to = match addr.strip_prefix(':') {
                    Some(port) => NodeAddr::new(from.host(), port.parse().ok()?),
                    None => NodeAddr::parse(addr).ok()?,
                };
                Some(if code == "MOVED" {
                    Redirect::Moved { slot, to }
                } else {
                    Redirect::Ask { slot, to }
                })
            }
            "TRYAGAIN" | "LOADING" => Some(Redirect::Retry {
                cluster_down: false,
            }),
            "CLUSTERDOWN" => Some(Redirect::Retry { cluster_down: true }),
            "NOSCRIPT" => Some(Redirect::NoScript),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redirects() {
        let from = NodeAddr::new("10.0.0.1", 7000);
        assert_eq!(
            Redirect::parse("MOVED 3999 127.0.0.1:6381", &from),
            Some(Redirect::Moved {
                slot: Slot::new(3999).unwrap(),
                to: NodeAddr::new("127.0.0.1", 6381)
            })
        );
        assert_eq!(
            Redirect::parse("ASK 1 :6381", &from),
            Some(Redirect::Ask {
                slot: Slot::new(1).unwrap(),
                to: NodeAddr::new("10.0.0.1", 6381)
            })
        );
        assert_eq!(
            Redirect::parse("CLUSTERDOWN The cluster is down", &from),
            Some(Redirect::Retry { cluster_down: true })
        );
        assert_eq!(Redirect::parse("MOVED 99999 a:1", &from), None);
        assert_eq!(Redirect::parse("ERR x", &from), None);
    }
}
