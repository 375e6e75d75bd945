//! Client-side caching: which clients may hold which keys, and their invalidation messages
//! (Redis 7.0's `tracking.c`).
//!
//! A client turns tracking on with `CLIENT TRACKING ON`. In the default mode the keys its
//! read-only commands read are remembered here (key → client ids); when such a key changes, each
//! of those clients is sent one `invalidate` message and the key is forgotten for all of them.
//! In `BCAST` mode nothing is remembered: a client subscribes to key prefixes, the keys changed
//! under each prefix are collected while commands run, and each subscriber gets them in one
//! message when the batch is over (Redis's `beforeSleep`). A flush invalidates everything with a
//! null.
//!
//! Messages go to the client itself as a RESP3 push, or to the client it redirects to: a RESP3
//! push there too, or a RESP2 message on `__redis__:invalidate` if that client is subscribed.
//! A message for the client running the command waits until its reply is written (and until
//! `EXEC`'s whole reply is), as in Redis 7.0.15.
//!
//! The table is part of the keyspace and guarded by its lock: the databases note the keys they
//! change (only while some client tracks, so writes cost one branch otherwise), and the command
//! path hands those keys to [`Tracking::invalidate`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::client::ClientHandle;
use super::config::{ClientClass, NodeConfig};
use super::keyspace::Keyspace;
use super::reply::Reply;
use super::server::Node;
use crate::resp::{write_array_header, write_bulk};

/// The channel RESP2 clients subscribe to for redirected invalidations.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// One client's tracking settings (`CLIENT TRACKING ON …`).
#[derive(Debug)]
pub struct ClientTracking {
    handle: Arc<ClientHandle>,
    /// The client its messages go to (0: itself).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// `CLIENT CACHING YES|NO` was given for the next command.
    pub caching: bool,
    /// The redirect client was gone when a message was due.
    pub broken_redirect: bool,
    /// Its `BCAST` prefixes, in byte order.
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// The options of `CLIENT TRACKING ON`.
#[derive(Debug, Default, Clone)]
pub struct TrackingOptions {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Vec<u8>>,
}

/// Overlapping `BCAST` prefixes: the error, and whether Redis turns tracking on regardless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixConflict {
    pub error: String,
    pub enable_anyway: bool,
}

/// Keys changed under a prefix, each with the client that changed it last (0: none).
type ChangedKeys = BTreeMap<Box<[u8]>, u64>;

/// One `BCAST` prefix: its subscribers, and the keys under it changed since the last broadcast
/// with the client that changed each last (0: none, an expiry).
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: ChangedKeys,
}

/// What an invalidation says: one key, or every key (a flush).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Key(Box<[u8]>),
    All,
}

/// The tracking table and the tracking clients.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Key → the default-mode clients that may cache it.
    keys: HashMap<Box<[u8]>, BTreeSet<u64>>,
    /// Client ids across `keys` (`tracking_total_items`).
    items: u64,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    clients: HashMap<u64, ClientTracking>,
    /// Invalidations for the client running the command, sent after its reply.
    pending: Vec<Pending>,
    /// Rounds of `tracking-table-max-keys` eviction that ended still over the limit: each
    /// round works harder (Redis's `timeout_counter`).
    over_limit_rounds: u32,
}

/// Where messages go while tracking works: the node's clients, and the reply of the client
/// running the command (if any), which gets its own messages in its reply.
pub struct Delivery<'a> {
    pub node: &'a Node,
    pub config: &'a NodeConfig,
    /// The client whose command runs (or whose batch ends), and its reply.
    pub current: Option<(u64, &'a mut Reply)>,
    /// A command is running: the current client's own invalidations wait for its reply.
    pub executing: bool,
}

impl Delivery<'_> {
    fn current_id(&self) -> Option<u64> {
        self.current.as_ref().map(|(id, _)| *id)
    }

    /// Writes `bytes` to client `id`: into the reply if it is the current client, else onto its
    /// push queue, closing it if that goes over its output buffer limit.
    fn write(&mut self, handle: &ClientHandle, subscriber: bool, bytes: Bytes) {
        if let Some((id, out)) = self.current.as_mut() {
            if *id == handle.id {
                out.raw(&bytes);
                return;
            }
        }
        if !handle.send_push(bytes) {
            return;
        }
        let class = if subscriber {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        };
        let (hard, _, _) = self.config.output_buffer_limit(class);
        let pending = handle.pending_push_bytes.load(Ordering::Relaxed) as u64;
        if hard > 0 && pending >= hard && !handle.kill.is_cancelled() {
            tracing::info!(
                client_id = handle.id,
                pending_bytes = pending,
                "closing client over client-output-buffer-limit (tracking)"
            );
            handle.kill.cancel();
        }
    }
}

fn is_resp3(handle: &ClientHandle) -> bool {
    handle.info.lock().unwrap_or_else(|p| p.into_inner()).resp == 3
}

/// The value part of a one-key invalidation: an array of that key.
fn key_array(key: &[u8]) -> BytesMut {
    let mut buf = BytesMut::with_capacity(key.len() + 16);
    write_array_header(&mut buf, 1);
    write_bulk(&mut buf, key);
    buf
}

/// The null a flush sends, in the tracking client's protocol (Redis writes that one even when
/// the message goes to a redirect client of the other protocol).
fn null_for(resp3: bool) -> &'static [u8] {
    if resp3 {
        b"_\r\n"
    } else {
        b"$-1\r\n"
    }
}

/// Whether two prefixes would both match some key: one starts with the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    /// Whether writes must be noted: some client tracks. While none does, writes cost one
    /// branch and the keys left in the table are not kept up to date (Redis would drop a key
    /// from it when it changes): at worst a client that turns tracking on again is sent an
    /// invalidation for a key it read before, which a cache can always take.
    pub fn is_live(&self) -> bool {
        !self.clients.is_empty()
    }

    /// Whether the table holds any key (a flush empties it even while nobody tracks).
    pub fn holds_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The tracking settings of client `id`, if it tracks.
    pub fn client(&self, id: u64) -> Option<&ClientTracking> {
        self.clients.get(&id)
    }

    pub fn client_mut(&mut self, id: u64) -> Option<&mut ClientTracking> {
        self.clients.get_mut(&id)
    }

    /// `tracking_clients`.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, u64, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
    }

    /// The error Redis answers when `prefixes` overlap each other or one the client already has
    /// (None when they are fine). Redis checks the new prefixes in order: each against the
    /// existing ones, then against the new ones after it.
    ///
    /// Redis 7.0's check has a flaw this keeps: when two *new* prefixes overlap and the first
    /// of them is not the first given, it answers the error and still turns tracking on (and
    /// answers `+OK` too); `PrefixConflict::enable_anyway` says so.
    pub fn prefix_conflict(&self, id: u64, prefixes: &[Vec<u8>]) -> Option<PrefixConflict> {
        let existing = self.clients.get(&id).map(|c| &c.prefixes);
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(old) = existing.and_then(|e| e.iter().find(|old| overlap(old, p))) {
                return Some(PrefixConflict {
                    error: format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(old)
                    ),
                    enable_anyway: false,
                });
            }
            if let Some(other) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Some(PrefixConflict {
                    error: format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(other)
                    ),
                    enable_anyway: i > 0,
                });
            }
        }
        None
    }

    /// Turns tracking on for a client, or changes its options (Redis's `enableTracking`): the
    /// mode flags and the redirect are replaced, `CLIENT CACHING` and prefixes are kept, new
    /// prefixes added (`BCAST` without any: the empty prefix, every key).
    pub fn enable(&mut self, handle: &Arc<ClientHandle>, options: TrackingOptions) {
        let id = handle.id;
        let c = self.clients.entry(id).or_insert_with(|| ClientTracking {
            handle: handle.clone(),
            redirect: 0,
            bcast: false,
            optin: false,
            optout: false,
            noloop: false,
            caching: false,
            broken_redirect: false,
            prefixes: BTreeSet::new(),
        });
        c.redirect = options.redirect;
        c.broken_redirect = false;
        c.bcast = options.bcast;
        c.optin = options.optin;
        c.optout = options.optout;
        c.noloop = options.noloop;
        if options.bcast {
            let mut prefixes = options.prefixes;
            if prefixes.is_empty() {
                prefixes.push(Vec::new());
            }
            for p in prefixes {
                let entry = self.prefixes.entry(p.clone()).or_default();
                if entry.clients.insert(id) {
                    c.prefixes.insert(p);
                }
            }
        }
    }

    /// Turns tracking off for a client (`CLIENT TRACKING OFF`, `RESET`, a disconnect). The keys
    /// it was remembered for stay until they change, as in Redis, which forgets lazily.
    pub fn disable(&mut self, id: u64) {
        let Some(c) = self.clients.remove(&id) else {
            return;
        };
        for p in &c.prefixes {
            if let Some(prefix) = self.prefixes.get_mut(p) {
                prefix.clients.remove(&id);
                if prefix.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
    }

    /// Remembers that client `id` read `keys` (after a read-only command), unless it is in
    /// `BCAST` mode or its `OPTIN`/`OPTOUT` mode says this command's reads are not cached.
    pub fn remember<'k>(&mut self, id: u64, keys: impl Iterator<Item = &'k [u8]>) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        if c.bcast || (c.optin && !c.caching) || (c.optout && c.caching) {
            return;
        }
        for key in keys {
            let ids = match self.keys.get_mut(key) {
                Some(ids) => ids,
                None => self.keys.entry(key.into()).or_default(),
            };
            if ids.insert(id) {
                self.items += 1;
            }
        }
    }

    /// `key` changed (`modifier`: the client whose command changed it, if any): the clients
    /// that may cache it are told, and it is forgotten; with `bcast`, it is also collected for
    /// the prefixes it falls under.
    pub fn invalidate(
        &mut self,
        key: &[u8],
        modifier: Option<u64>,
        bcast: bool,
        delivery: &mut Delivery<'_>,
    ) {
        if bcast && !self.prefixes.is_empty() {
            for (p, prefix) in self.prefixes.iter_mut() {
                if key.starts_with(p) {
                    match prefix.keys.get_mut(key) {
                        Some(by) => *by = modifier.unwrap_or(0),
                        None => {
                            prefix.keys.insert(key.into(), modifier.unwrap_or(0));
                        }
                    }
                }
            }
        }
        let Some(ids) = self.keys.remove(key) else {
            return;
        };
        self.items -= ids.len() as u64;
        let current = delivery.current_id();
        for id in ids {
            let Some(c) = self.clients.get(&id) else {
                continue;
            };
            if c.bcast || (c.noloop && Some(id) == current) {
                continue;
            }
            if Some(id) == current && delivery.executing {
                self.pending.push(Pending::Key(key.into()));
            } else {
                self.send(id, &key_array(key), delivery);
            }
        }
    }

    /// Every key is invalid (`FLUSHDB`, `FLUSHALL`): each tracking client gets a null, and the
    /// table is emptied.
    pub fn flush(&mut self, delivery: &mut Delivery<'_>) {
        let current = delivery.current_id();
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if Some(id) == current {
                self.pending.push(Pending::All);
            } else if let Some(c) = self.clients.get(&id) {
                let null = null_for(is_resp3(&c.handle));
                self.send(id, null, delivery);
            }
        }
        self.keys.clear();
        self.items = 0;
    }

    /// Sends the current client the invalidations that waited for its reply.
    pub fn flush_pending(&mut self, delivery: &mut Delivery<'_>) {
        if self.pending.is_empty() {
            return;
        }
        let Some(id) = delivery.current_id() else {
            self.pending.clear();
            return;
        };
        for pending in std::mem::take(&mut self.pending) {
            match pending {
                Pending::Key(key) => self.send(id, &key_array(&key), delivery),
                Pending::All => {
                    let Some(c) = self.clients.get(&id) else {
                        continue;
                    };
                    let null = null_for(is_resp3(&c.handle));
                    self.send(id, null, delivery);
                }
            }
        }
    }

    /// Sends every `BCAST` subscriber the keys changed under its prefixes since the last
    /// broadcast, one message per prefix, keys in byte order; a `NOLOOP` client is not sent the
    /// keys it changed last itself.
    pub fn broadcast(&mut self, delivery: &mut Delivery<'_>) {
        if self.clients.is_empty() {
            return;
        }
        let mut due: Vec<(Vec<u64>, ChangedKeys)> = Vec::new();
        for prefix in self.prefixes.values_mut() {
            if !prefix.keys.is_empty() {
                due.push((
                    prefix.clients.iter().copied().collect(),
                    std::mem::take(&mut prefix.keys),
                ));
            }
        }
        for (clients, keys) in due {
            let all = keys_array(&keys, None);
            for id in clients {
                let noloop = self.clients.get(&id).is_some_and(|c| c.noloop);
                if noloop {
                    if let Some(own) = keys_array(&keys, Some(id)) {
                        self.send(id, &own, delivery);
                    }
                } else if let Some(all) = &all {
                    self.send(id, all, delivery);
                }
            }
        }
    }

    /// Keeps the table within `tracking-table-max-keys` (0: no limit) as Redis's
    /// `trackingLimitUsedSlots` does: forgets keys, invalidating them for their clients, with
    /// an effort that grows while the table stays over the limit.
    pub fn limit(&mut self, max_keys: usize, delivery: &mut Delivery<'_>) {
        if max_keys == 0 {
            return;
        }
        if self.keys.len() <= max_keys {
            self.over_limit_rounds = 0;
            return;
        }
        let effort = 100usize.saturating_mul(self.over_limit_rounds as usize + 1);
        for _ in 0..effort {
            // A hash map's first key is as good as Redis's random walk.
            let Some(key) = self.keys.keys().next().cloned() else {
                break;
            };
            self.invalidate(&key, None, false, delivery);
            if self.keys.len() <= max_keys {
                self.over_limit_rounds = 0;
                return;
            }
        }
        self.over_limit_rounds = self.over_limit_rounds.saturating_add(1);
    }

    /// Sends client `id` one invalidation whose value is `value` (already RESP), where Redis's
    /// `sendTrackingMessage` would: its redirect client if it has one (a gone one earns it a
    /// `tracking-redir-broken` push instead), else itself; a RESP3 push, or a RESP2 message on
    /// [`INVALIDATE_CHANNEL`] if the receiver is a redirect client subscribed to something;
    /// nothing to a RESP2 client otherwise.
    fn send(&mut self, id: u64, value: &[u8], delivery: &mut Delivery<'_>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let (receiver, redirected) = if c.redirect != 0 {
            match delivery.node.clients.get(c.redirect) {
                Some(h) if !h.kill.is_cancelled() => (h, true),
                _ => {
                    c.broken_redirect = true;
                    if is_resp3(&c.handle) {
                        let mut buf = BytesMut::new();
                        buf.put_slice(b">2\r\n");
                        write_bulk(&mut buf, b"tracking-redir-broken");
                        buf.put_slice(format!(":{}\r\n", c.redirect).as_bytes());
                        let handle = c.handle.clone();
                        delivery.write(&handle, false, buf.freeze());
                    }
                    return;
                }
            }
        } else {
            (c.handle.clone(), false)
        };
        let mut buf = BytesMut::with_capacity(value.len() + 48);
        let subscriber = delivery.node.pubsub.lock().is_subscriber(receiver.id);
        if is_resp3(&receiver) {
            buf.put_slice(b">2\r\n");
            write_bulk(&mut buf, b"invalidate");
        } else if redirected && subscriber {
            write_array_header(&mut buf, 3);
            write_bulk(&mut buf, b"message");
            write_bulk(&mut buf, INVALIDATE_CHANNEL);
        } else {
            return;
        }
        buf.put_slice(value);
        delivery.write(&receiver, subscriber, buf.freeze());
    }
}

/// Sends client `id` the invalidations of its own keys that waited for its command's reply
/// to be written into `out` (and for `CLIENT REPLY OFF|SKIP` to have dropped that reply:
/// invalidations are pushes, which Redis sends regardless).
pub fn send_own(ks: &mut Keyspace, node: &Node, config: &NodeConfig, id: u64, out: &mut Reply) {
    if ks.tracking.pending.is_empty() {
        return;
    }
    let mut delivery = Delivery {
        node,
        config,
        current: Some((id, out)),
        executing: false,
    };
    ks.tracking.flush_pending(&mut delivery);
}

/// Client tracking's work outside any command: after a client's batch (`current`) or an
/// expiry cycle. Keys changed with no command to own them (expired, evicted) are invalidated,
/// `BCAST` clients are sent what changed under their prefixes (Redis does this before the
/// event loop sleeps), and the table is held to `tracking-table-max-keys`.
pub fn settle(
    ks: &mut Keyspace,
    node: &Node,
    config: &NodeConfig,
    current: Option<(u64, &mut Reply)>,
) {
    if !ks.tracking_live() {
        return;
    }
    let keys = ks.take_changes();
    let mut delivery = Delivery {
        node,
        config,
        current,
        executing: false,
    };
    let modifier = delivery.current_id();
    for key in keys {
        ks.tracking.invalidate(&key, modifier, true, &mut delivery);
    }
    ks.tracking.flush_pending(&mut delivery);
    ks.tracking.broadcast(&mut delivery);
    let max = usize::try_from(config.int("tracking-table-max-keys")).unwrap_or(0);
    ks.tracking.limit(max, &mut delivery);
    ks.sync_tracking();
}

/// The keys of a broadcast as a RESP array, without those `skip` changed last (None when that
/// leaves none).
fn keys_array(keys: &ChangedKeys, skip: Option<u64>) -> Option<Bytes> {
    let kept: Vec<&[u8]> = keys
        .iter()
        .filter(|(_, by)| skip.is_none_or(|s| **by != s))
        .map(|(k, _)| &**k)
        .collect();
    if kept.is_empty() && skip.is_some() {
        return None;
    }
    let mut buf = BytesMut::new();
    write_array_header(&mut buf, kept.len());
    for k in kept {
        write_bulk(&mut buf, k);
    }
    Some(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlap(b"foo", b"foobar"));
        assert!(overlap(b"foobar", b"foo"));
        assert!(overlap(b"", b"x"));
        assert!(overlap(b"a", b"a"));
        assert!(!overlap(b"ab", b"ac"));
    }

    #[test]
    fn broadcast_arrays_skip_a_noloop_clients_own_keys() {
        let mut keys = BTreeMap::new();
        keys.insert(Box::<[u8]>::from(&b"b"[..]), 7);
        keys.insert(Box::<[u8]>::from(&b"a"[..]), 0);
        assert_eq!(
            &keys_array(&keys, None).unwrap()[..],
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            &keys_array(&keys, Some(7)).unwrap()[..],
            b"*1\r\n$1\r\na\r\n"
        );
        keys.remove(&b"a"[..]);
        assert!(keys_array(&keys, Some(7)).is_none());
    }

    #[test]
    fn remembering_counts_items_once_and_respects_modes() {
        use std::net::SocketAddr;
        use std::sync::atomic::AtomicUsize;
        use std::sync::Mutex;
        use std::time::Instant;
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let handle = Arc::new(ClientHandle {
            id: 1,
            peer: addr,
            local: addr,
            created: Instant::now(),
            kill: tokio_util::sync::CancellationToken::new(),
            push: tokio::sync::mpsc::unbounded_channel().0,
            pending_push_bytes: AtomicUsize::new(0),
            info: Mutex::new(Default::default()),
        });
        let mut t = Tracking::default();
        assert!(!t.is_live());
        t.enable(&handle, TrackingOptions::default());
        t.remember(1, [&b"k"[..], &b"k"[..], &b"j"[..]].into_iter());
        assert_eq!(t.totals(), (2, 2, 0));
        t.disable(1);
        assert!(!t.is_live(), "nobody tracks: writes need not be noted");
        assert!(t.holds_keys(), "keys stay until they change or a flush");
        t.enable(
            &handle,
            TrackingOptions {
                optin: true,
                ..TrackingOptions::default()
            },
        );
        t.remember(1, [&b"x"[..]].into_iter());
        assert_eq!(
            t.totals(),
            (2, 2, 0),
            "OPTIN without CACHING YES remembers nothing"
        );
        t.client_mut(1).unwrap().caching = true;
        t.remember(1, [&b"x"[..]].into_iter());
        assert_eq!(t.totals(), (3, 3, 0));
        t.disable(1);
        t.enable(
            &handle,
            TrackingOptions {
                bcast: true,
                prefixes: vec![b"a".to_vec(), b"b".to_vec()],
                ..TrackingOptions::default()
            },
        );
        assert_eq!(t.totals().2, 2);
        assert!(t.prefix_conflict(1, &[b"ab".to_vec()]).is_some());
        assert!(t
            .prefix_conflict(1, &[b"c".to_vec(), b"cd".to_vec()])
            .is_some());
        assert!(t
            .prefix_conflict(1, &[b"c".to_vec(), b"d".to_vec()])
            .is_none());
        t.disable(1);
        assert_eq!(t.totals().2, 0);
    }
}
