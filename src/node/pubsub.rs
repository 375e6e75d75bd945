//! Pub/sub: who listens to what, and delivery of published messages.
//!
//! The [`Registry`] maps each channel, pattern and shard channel to its subscribers' client
//! ids, and each subscriber to its own subscriptions (what `UNSUBSCRIBE` without arguments and
//! a disconnect release). A message is encoded once per protocol (a RESP2 array or a RESP3
//! push) and queued on each receiver's [`ClientHandle::push`]; the publisher's own copy, when
//! it listens too, goes straight into its reply so it comes before the `PUBLISH` answer, as in
//! Redis. A receiver whose unwritten pushes pass `client-output-buffer-limit pubsub` is killed.
//!
//! Locking: the registry has its own lock, taken inside the keyspace lock when both are held
//! (every command runs under the keyspace lock; a disconnect takes only this one).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::client::ClientHandle;
use super::config::{ClientClass, NodeConfig};
use super::glob;
use super::reply::Reply;
use crate::resp::{write_array_header, write_bulk};

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SUBSCRIBE`: one channel by name.
    Channel,
    /// `PSUBSCRIBE`: every channel a glob pattern matches.
    Pattern,
    /// `SSUBSCRIBE`: a shard channel (only `SPUBLISH` reaches it).
    Shard,
}

/// The node's pub/sub state behind its lock.
#[derive(Debug, Default)]
pub struct PubSub {
    registry: Mutex<Registry>,
}

impl PubSub {
    /// The registry, locked. Held only for a lookup or a delivery, never across an `.await`; a
    /// panic while it was held leaves it usable, as the keyspace lock does.
    pub fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `client-output-buffer-limit pubsub`: hard and soft limits in bytes (0: none) and how long a
/// client may stay over the soft one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_time: Duration,
}

impl OutputLimit {
    pub fn from_config(config: &NodeConfig) -> OutputLimit {
        let (hard, soft, secs) = config.output_buffer_limit(ClientClass::Pubsub);
        OutputLimit {
            hard,
            soft,
            soft_time: Duration::from_secs(secs),
        }
    }
}

/// The client running `PUBLISH`: its own copy of the message goes into its reply.
pub struct Publisher<'a> {
    pub id: u64,
    pub out: &'a mut Reply,
}

impl Publisher<'_> {
    /// The same publisher for one more delivery.
    pub fn reborrow(&mut self) -> Publisher<'_> {
        Publisher {
            id: self.id,
            out: &mut *self.out,
        }
    }
}

/// One subscribed client.
#[derive(Debug)]
struct Subscriber {
    handle: Arc<ClientHandle>,
    channels: BTreeSet<Vec<u8>>,
    /// In subscription order, as Redis keeps them (`PUNSUBSCRIBE` answers in this order).
    patterns: Vec<Vec<u8>>,
    shard_channels: BTreeSet<Vec<u8>>,
    /// When its pending pushes went over the soft limit, if they still are.
    over_soft_since: Option<Instant>,
}

impl Subscriber {
    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

/// Channel, pattern and shard channel → subscribers, and subscriber → subscriptions.
#[derive(Debug, Default)]
pub struct Registry {
    channels: HashMap<Vec<u8>, HashSet<u64>>,
    /// Ordered, so a client on several matching patterns gets its messages in a stable order.
    patterns: BTreeMap<Vec<u8>, HashSet<u64>>,
    shard_channels: HashMap<Vec<u8>, HashSet<u64>>,
    subscribers: HashMap<u64, Subscriber>,
}

impl Registry {
    /// Subscribes the client; false if it already was.
    pub fn subscribe(&mut self, handle: &Arc<ClientHandle>, kind: Kind, name: &[u8]) -> bool {
        let sub = self
            .subscribers
            .entry(handle.id)
            .or_insert_with(|| Subscriber {
                handle: handle.clone(),
                channels: BTreeSet::new(),
                patterns: Vec::new(),
                shard_channels: BTreeSet::new(),
                over_soft_since: None,
            });
        let added = match kind {
            Kind::Channel => sub.channels.insert(name.to_vec()),
            Kind::Shard => sub.shard_channels.insert(name.to_vec()),
            Kind::Pattern => {
                let new = !sub.patterns.iter().any(|p| p == name);
                if new {
                    sub.patterns.push(name.to_vec());
                }
                new
            }
        };
        if added {
            let ids = match kind {
                Kind::Channel => self.channels.entry(name.to_vec()).or_default(),
                Kind::Shard => self.shard_channels.entry(name.to_vec()).or_default(),
                Kind::Pattern => self.patterns.entry(name.to_vec()).or_default(),
            };
            ids.insert(handle.id);
        }
        added
    }

    /// Unsubscribes the client; false if it was not subscribed.
    pub fn unsubscribe(&mut self, id: u64, kind: Kind, name: &[u8]) -> bool {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return false;
        };
        let removed = match kind {
            Kind::Channel => sub.channels.remove(name),
            Kind::Shard => sub.shard_channels.remove(name),
            Kind::Pattern => match sub.patterns.iter().position(|p| p == name) {
                Some(i) => {
                    sub.patterns.remove(i);
                    true
                }
                None => false,
            },
        };
        if sub.is_empty() {
            self.subscribers.remove(&id);
        }
        if removed {
            match kind {
                Kind::Channel => remove_id(&mut self.channels, name, id),
                Kind::Shard => remove_id(&mut self.shard_channels, name, id),
                Kind::Pattern => {
                    if let Some(ids) = self.patterns.get_mut(name) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            self.patterns.remove(name);
                        }
                    }
                }
            }
        }
        removed
    }

    /// The client's subscriptions of one kind: channels and shard channels in byte order,
    /// patterns in subscription order.
    pub fn subscriptions(&self, id: u64, kind: Kind) -> Vec<Vec<u8>> {
        let Some(sub) = self.subscribers.get(&id) else {
            return Vec::new();
        };
        match kind {
            Kind::Channel => sub.channels.iter().cloned().collect(),
            Kind::Pattern => sub.patterns.clone(),
            Kind::Shard => sub.shard_channels.iter().cloned().collect(),
        }
    }

    /// The client's `sub`, `psub` and `ssub` counts (`CLIENT LIST`).
    pub fn client_counts(&self, id: u64) -> (usize, usize, usize) {
        self.subscribers.get(&id).map_or((0, 0, 0), |s| {
            (s.channels.len(), s.patterns.len(), s.shard_channels.len())
        })
    }

    /// Whether the client is subscribed to anything (Redis's `CLIENT_PUBSUB` flag).
    pub fn is_subscriber(&self, id: u64) -> bool {
        self.subscribers.contains_key(&id)
    }

    /// Drops every subscription of the client, without confirmations (disconnect, `RESET`).
    pub fn unsubscribe_all(&mut self, id: u64) {
        let Some(sub) = self.subscribers.remove(&id) else {
            return;
        };
        for name in &sub.channels {
            remove_id(&mut self.channels, name, id);
        }
        for name in &sub.shard_channels {
            remove_id(&mut self.shard_channels, name, id);
        }
        for name in &sub.patterns {
            if let Some(ids) = self.patterns.get_mut(name) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.patterns.remove(name);
                }
            }
        }
    }

    /// Channels (or shard channels) with at least one subscriber, matching `pattern` if given;
    /// in no particular order, as Redis.
    pub fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<&[u8]> {
        let map = match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        };
        map.keys()
            .filter(|name| pattern.is_none_or(|p| glob::matches(p, name, false)))
            .map(Vec::as_slice)
            .collect()
    }

    /// Subscribers of one channel or shard channel (`PUBSUB NUMSUB`, `SHARDNUMSUB`).
    pub fn numsub(&self, kind: Kind, name: &[u8]) -> usize {
        let map = match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        };
        map.get(name).map_or(0, HashSet::len)
    }

    /// Distinct patterns subscribed to (`PUBSUB NUMPAT`).
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// Active channels, patterns and shard channels (`INFO stats`).
    pub fn totals(&self) -> (usize, usize, usize) {
        (
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        )
    }

    /// Delivers `payload` on `channel` to its subscribers and, unless `sharded`, to the
    /// subscribers of every matching pattern (`publisher`, if subscribed, gets its copy in its
    /// reply; None when the node itself publishes); returns how many deliveries were made (a client
    /// on the channel and on a matching pattern counts, and receives, twice).
    pub fn publish(
        &mut self,
        channel: &[u8],
        payload: &[u8],
        sharded: bool,
        mut publisher: Option<Publisher<'_>>,
        limit: OutputLimit,
    ) -> usize {
        let now = Instant::now();
        let mut receivers = 0;
        let (map, kind): (_, &[u8]) = if sharded {
            (&self.shard_channels, b"smessage")
        } else {
            (&self.channels, b"message")
        };
        if let Some(ids) = map.get(channel) {
            let mut frames = Frames::new(|buf| {
                write_array_header(buf, 3);
                write_bulk(buf, kind);
                write_bulk(buf, channel);
                write_bulk(buf, payload);
            });
            for id in ids {
                if let Some(sub) = self.subscribers.get_mut(id) {
                    deliver(sub, &mut frames, &mut publisher, limit, now);
                    receivers += 1;
                }
            }
        }
        if sharded {
            return receivers;
        }
        for (pattern, ids) in &self.patterns {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            let mut frames = Frames::new(|buf| {
                write_array_header(buf, 4);
                write_bulk(buf, b"pmessage");
                write_bulk(buf, pattern);
                write_bulk(buf, channel);
                write_bulk(buf, payload);
            });
            for id in ids {
                if let Some(sub) = self.subscribers.get_mut(id) {
                    deliver(sub, &mut frames, &mut publisher, limit, now);
                    receivers += 1;
                }
            }
        }
        receivers
    }
}

fn remove_id(map: &mut HashMap<Vec<u8>, HashSet<u64>>, name: &[u8], id: u64) {
    if let Some(ids) = map.get_mut(name) {
        ids.remove(&id);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}

/// One message, encoded on first use for each protocol: the RESP3 push differs from the RESP2
/// array only in its first byte.
struct Frames<F> {
    encode: F,
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<F: Fn(&mut BytesMut)> Frames<F> {
    fn new(encode: F) -> Frames<F> {
        Frames {
            encode,
            resp2: None,
            resp3: None,
        }
    }

    fn get(&mut self, resp3: bool) -> Bytes {
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let mut buf = BytesMut::new();
            (self.encode)(&mut buf);
            if resp3 {
                buf[0] = b'>';
            }
            buf.freeze()
        })
        .clone()
    }
}

/// Queues one message for `sub` (or writes it into the publisher's own reply), then applies
/// the output buffer limit as Redis does: over the hard limit, or over the soft one for longer
/// than its time, the client is closed.
fn deliver<F: Fn(&mut BytesMut)>(
    sub: &mut Subscriber,
    frames: &mut Frames<F>,
    publisher: &mut Option<Publisher<'_>>,
    limit: OutputLimit,
    now: Instant,
) {
    if let Some(publisher) = publisher.as_mut().filter(|p| p.id == sub.handle.id) {
        let frame = frames.get(publisher.out.is_resp3());
        publisher.out.raw(&frame);
        return;
    }
    let resp3 = sub
        .handle
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .resp
        == 3;
    if !sub.handle.send_push(frames.get(resp3)) {
        // Its session has ended; the disconnect cleanup will remove it.
        return;
    }
    let pending = sub.handle.pending_push_bytes.load(Ordering::Relaxed) as u64;
    let over_hard = limit.hard > 0 && pending >= limit.hard;
    let over_soft = limit.soft > 0 && pending >= limit.soft;
    let soft_expired = match (over_soft, sub.over_soft_since) {
        (false, _) => {
            sub.over_soft_since = None;
            false
        }
        (true, None) => {
            sub.over_soft_since = Some(now);
            false
        }
        (true, Some(since)) => now.duration_since(since) > limit.soft_time,
    };
    if (over_hard || soft_expired) && !sub.handle.kill.is_cancelled() {
        tracing::info!(
            client_id = sub.handle.id,
            pending_bytes = pending,
            "closing client over client-output-buffer-limit pubsub"
        );
        sub.handle.kill.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::node::client::ClientInfo;

    fn handle(id: u64, resp: u8) -> (Arc<ClientHandle>, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let h = ClientHandle {
            id,
            peer: addr,
            local: addr,
            created: Instant::now(),
            kill: CancellationToken::new(),
            push: tx,
            pending_push_bytes: AtomicUsize::new(0),
            info: Mutex::new(ClientInfo {
                resp,
                ..ClientInfo::default()
            }),
        };
        (Arc::new(h), rx)
    }

    const NO_LIMIT: OutputLimit = OutputLimit {
        hard: 0,
        soft: 0,
        soft_time: Duration::ZERO,
    };

    fn publish(r: &mut Registry, channel: &str, msg: &str, sharded: bool) -> (usize, Vec<u8>) {
        let mut out = Reply::new(false);
        let n = r.publish(
            channel.as_bytes(),
            msg.as_bytes(),
            sharded,
            Some(Publisher {
                id: 0,
                out: &mut out,
            }),
            NO_LIMIT,
        );
        (n, out.take().to_vec())
    }

    #[test]
    fn counts_and_encodes_per_protocol() {
        let mut r = Registry::default();
        let (a, mut arx) = handle(1, 2);
        let (b, mut brx) = handle(2, 3);
        assert!(r.subscribe(&a, Kind::Channel, b"news"));
        assert!(!r.subscribe(&a, Kind::Channel, b"news"));
        assert!(r.subscribe(&a, Kind::Pattern, b"n*"));
        assert!(r.subscribe(&b, Kind::Pattern, b"n*"));
        assert_eq!(publish(&mut r, "news", "hi", false).0, 3);
        assert_eq!(
            &arx.try_recv().unwrap()[..],
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &arx.try_recv().unwrap()[..],
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &brx.try_recv().unwrap()[..],
            b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        // Shard channels are apart: patterns never see SPUBLISH.
        assert_eq!(publish(&mut r, "news", "x", true).0, 0);
        assert!(r.subscribe(&b, Kind::Shard, b"news"));
        assert_eq!(publish(&mut r, "news", "x", true).0, 1);
        assert_eq!(
            &brx.try_recv().unwrap()[..],
            b">3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$1\r\nx\r\n"
        );
        assert_eq!(r.numsub(Kind::Channel, b"news"), 1);
        assert_eq!(r.numsub(Kind::Shard, b"news"), 1);
        assert_eq!(r.numpat(), 1);
        assert_eq!(r.client_counts(1), (1, 1, 0));
    }

    #[test]
    fn unsubscribe_all_leaves_nothing_behind() {
        let mut r = Registry::default();
        let (a, _arx) = handle(1, 2);
        r.subscribe(&a, Kind::Channel, b"c");
        r.subscribe(&a, Kind::Pattern, b"p*");
        r.subscribe(&a, Kind::Shard, b"s");
        assert!(r.is_subscriber(1));
        r.unsubscribe_all(1);
        assert!(!r.is_subscriber(1));
        assert_eq!(r.totals(), (0, 0, 0));
        assert!(!r.unsubscribe(1, Kind::Channel, b"c"));
        r.subscribe(&a, Kind::Pattern, b"p*");
        assert!(r.unsubscribe(1, Kind::Pattern, b"p*"));
        assert_eq!(r.totals(), (0, 0, 0));
        assert!(!r.is_subscriber(1));
    }

    #[test]
    fn publisher_gets_its_own_copy_in_its_reply() {
        let mut r = Registry::default();
        let (a, mut arx) = handle(7, 3);
        r.subscribe(&a, Kind::Channel, b"c");
        let mut out = Reply::new(true);
        let n = r.publish(
            b"c",
            b"m",
            false,
            Some(Publisher {
                id: 7,
                out: &mut out,
            }),
            NO_LIMIT,
        );
        assert_eq!(n, 1);
        assert!(arx.try_recv().is_err());
        assert_eq!(
            &out.take()[..],
            b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
        );
    }

    #[test]
    fn output_limits_kill() {
        let mut r = Registry::default();
        let (a, _arx) = handle(1, 2);
        r.subscribe(&a, Kind::Channel, b"c");
        let mut out = Reply::new(false);
        let hard = OutputLimit {
            hard: 100,
            soft: 0,
            soft_time: Duration::ZERO,
        };
        let mut publish = |r: &mut Registry, limit| {
            r.publish(
                b"c",
                &[b'x'; 40],
                false,
                Some(Publisher {
                    id: 0,
                    out: &mut out,
                }),
                limit,
            )
        };
        publish(&mut r, hard);
        assert!(!a.kill.is_cancelled());
        publish(&mut r, hard);
        assert!(a.kill.is_cancelled());

        let (b, _brx) = handle(2, 2);
        r.subscribe(&b, Kind::Channel, b"c");
        let soft = OutputLimit {
            hard: 0,
            soft: 10,
            soft_time: Duration::ZERO,
        };
        publish(&mut r, soft);
        // The first time over the soft limit starts its clock.
        assert!(!b.kill.is_cancelled());
        std::thread::sleep(Duration::from_millis(2));
        publish(&mut r, soft);
        assert!(b.kill.is_cancelled());
    }
}
