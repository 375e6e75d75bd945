//! Sharded pub/sub (Redis 7.0): `SSUBSCRIBE` and `SUNSUBSCRIBE` on connections of the
//! client's own, one per master.
//!
//! A shard channel lives in its slot: `SPUBLISH` reaches only the nodes of the slot's shard, so
//! the session subscribes on the master of each channel's slot and forwards the frames of every
//! such connection, in order per connection. The proxy keeps the client's subscriptions itself
//! (`wanted`, `confirmed`): it numbers confirmations as one server would, answers
//! `SUNSUBSCRIBE` and `PING` in their turn, and while a client's `SSUBSCRIBE` is being
//! confirmed reads none of its later commands, so replies keep the client's order.
//!
//! When a slot leaves its master (migration, failover), the node says `sunsubscribe` for the
//! slot's channels on its own. The client does not see that: the proxy refreshes its slot map
//! and subscribes again on the slot's new master, within [`MOVE_DEADLINE`]; only if no owner
//! turns up by then is the client told, with the node's `sunsubscribe`. A lost connection is
//! handled the same way.
//!
//! Classic and sharded subscriptions are not mixed on one client connection: a sharded
//! subscriber's `SUBSCRIBE` (and a classic subscriber's `SSUBSCRIBE`) gets a plain `ERR`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::time::Instant;

use super::pubsub::PUBSUB_OUTPUT_LIMIT;
use super::{Flow, Reader};
use crate::command::table;
use crate::proxy::dedicated::Dedicated;
use crate::proxy::error::ProxyError;
use crate::proxy::local::ClientState;
use crate::resp::{
    write_array_header, write_bulk, write_not_subscribed, write_subscription_event, Command,
};
use crate::slot::Slot;
use crate::topology::NodeAddr;

/// How long the proxy looks for a slot's new master before telling a subscriber that its
/// shard channels are gone.
const MOVE_DEADLINE: Duration = Duration::from_secs(10);
/// How often it looks.
const MOVE_RETRY: Duration = Duration::from_millis(100);

/// The error a classic subscriber's `SSUBSCRIBE` (or a sharded one's `SUBSCRIBE`) gets.
pub(super) const NO_MIXING: &[u8] =
    b"-ERR slotgate does not mix SUBSCRIBE/PSUBSCRIBE and SSUBSCRIBE on one connection\r\n";

/// One master's subscription connection.
struct Shard {
    conn: Dedicated,
    /// The channels subscribed on this node, as its confirmations said.
    channels: HashSet<Bytes>,
    /// What this connection's next frames that are not messages answer, in order.
    ops: VecDeque<Op>,
}

#[derive(Debug)]
enum Op {
    /// `SSUBSCRIBE` of channels of one slot: a confirmation per channel, or one error.
    Subscribe {
        slot: Slot,
        channels: Vec<Bytes>,
        left: usize,
        /// The client's own command (its confirmations go to it), or a resubscription.
        client: bool,
    },
    /// `SUNSUBSCRIBE` sent by the proxy: the client had its confirmations already.
    Unsubscribe { channels: Vec<Bytes> },
}

/// Channels waiting for their slot's master to be known, to subscribe there.
#[derive(Debug)]
struct Moving {
    slot: Slot,
    channels: Vec<Bytes>,
    /// The node that gave the slot up: wait until the slot map names another.
    from: Option<NodeAddr>,
    /// A client's `SSUBSCRIBE` (redirected): the client waits for its confirmations.
    client: bool,
    /// What a client's `SSUBSCRIBE` is answered if no master turns up.
    error: Bytes,
    deadline: Instant,
    next_try: Instant,
}

/// A sharded subscriber's state.
#[derive(Default)]
struct Sharded {
    shards: Vec<Shard>,
    /// Channels the client subscribed to and has not unsubscribed from, with their slots.
    wanted: HashMap<Bytes, Slot>,
    /// Channels confirmed to the client: the count its confirmations carry.
    confirmed: HashSet<Bytes>,
    moving: Vec<Moving>,
    /// Which connection is read first next time, so that none starves the others.
    turn: usize,
}

impl Sharded {
    /// A client's `SSUBSCRIBE` is still unconfirmed: its next command waits.
    fn busy(&self) -> bool {
        self.moving.iter().any(|m| m.client)
            || self.shards.iter().any(|s| {
                s.ops
                    .iter()
                    .any(|o| matches!(o, Op::Subscribe { client: true, .. }))
            })
    }

    /// No subscription is left or coming: the client is back in normal mode.
    fn is_over(&self) -> bool {
        self.wanted.is_empty() && !self.busy()
    }

    fn shard_of(&self, addr: &NodeAddr) -> Option<usize> {
        self.shards.iter().position(|s| s.conn.addr() == addr)
    }

    /// Drops `channels` from `moving`, and moves that are left with none.
    fn forget_moves(&mut self, channels: &[Bytes]) {
        for m in &mut self.moving {
            if !m.client {
                m.channels.retain(|c| !channels.contains(c));
            }
        }
        self.moving.retain(|m| !m.channels.is_empty());
    }
}

/// What a sharded subscriber's command leaves the session doing.
enum Next {
    Stay,
    /// Back to normal mode (`RESET`, or nothing left subscribed).
    Leave,
    Stop,
}

impl Reader {
    /// `SSUBSCRIBE` or `SUNSUBSCRIBE` from a client in normal mode. `SUNSUBSCRIBE` is answered
    /// at once (there is nothing to leave); `SSUBSCRIBE` serves the client in sharded
    /// subscribed mode until no subscription is left, or the client goes away.
    pub(super) async fn sharded(&mut self, first: Command, seq: u64) -> Flow {
        if first.name().eq_ignore_ascii_case(b"sunsubscribe") {
            let reply = self.not_subscribed_sunsubscribe(&first);
            self.reply(seq, reply, false);
            return Flow::Continue;
        }
        if let Err(e) = channels_slot(&first) {
            self.reply(seq, e.to_reply(), false);
            return Flow::Continue;
        }
        self.drain().await;
        // The confirmations come as pushes: the numbered reply is empty.
        self.reply(seq, Bytes::new(), false);
        let mut st = Sharded::default();
        let stop = self.stop.clone();
        if let Err(e) = self.ssubscribe(&mut st, &first, true).await {
            self.push(e.to_reply(), false);
        }
        loop {
            while !st.busy() {
                if st.is_over() {
                    return Flow::Continue;
                }
                match self.parser.parse(&mut self.buf) {
                    Ok(Some(cmd)) => match self.sharded_command(&mut st, cmd).await {
                        Next::Stay => {}
                        Next::Leave => return Flow::Continue,
                        Next::Stop => return Flow::Stop,
                    },
                    Ok(None) => break,
                    Err(e) => {
                        self.push(ProxyError::Protocol(e).to_reply(), true);
                        return Flow::Stop;
                    }
                }
            }
            let next_try = st.moving.iter().map(|m| m.next_try).min();
            let turn = st.turn;
            st.turn = st.turn.wrapping_add(1);
            let shards = &mut st.shards;
            let frame = poll_fn(|cx| {
                let n = shards.len();
                for k in 0..n {
                    let i = (turn + k) % n;
                    let reply = pin!(shards[i].conn.reply());
                    // `reply` is cancel-safe: dropping it keeps the bytes read so far.
                    if let Poll::Ready(r) = reply.poll(cx) {
                        return Poll::Ready((i, r));
                    }
                }
                Poll::Pending
            });
            tokio::select! {
                (i, frame) = frame => match frame {
                    Ok(frame) => self.shard_frame(&mut st, i, frame),
                    Err(e) => {
                        tracing::debug!(error = %e, "shard subscription connection lost");
                        self.shard_lost(&mut st, i);
                    }
                },
                _ = tokio::time::sleep_until(next_try.unwrap_or_else(Instant::now)), if next_try.is_some() => {
                    self.retry_moves(&mut st).await;
                }
                read = self.read_more() => match read {
                    Ok(0) | Err(_) => return Flow::Stop,
                    Ok(_) => {}
                },
                // CLIENT KILL, or the proxy shutting down.
                _ = stop.cancelled() => return Flow::Stop,
            }
            if self.pushed.load(Ordering::Relaxed) > PUBSUB_OUTPUT_LIMIT {
                tracing::warn!("subscriber too slow: output limit reached, closing it");
                self.closed_by = "output_buffer_limit";
                self.kill.cancel();
                return Flow::Stop;
            }
        }
    }

    /// One command from a sharded subscriber, answered in its turn.
    async fn sharded_command(&mut self, st: &mut Sharded, cmd: Command) -> Next {
        let spec = match table().lookup(&cmd) {
            Ok(spec) => spec,
            Err(e) => {
                self.push(ProxyError::Command(e).to_reply(), false);
                return Next::Stay;
            }
        };
        let name = spec.full_name();
        match name {
            "ssubscribe" => {
                if let Err(e) = self.ssubscribe(st, &cmd, true).await {
                    self.push(e.to_reply(), false);
                }
            }
            "sunsubscribe" => {
                let reply = self.sunsubscribe(st, &cmd).await;
                self.push(reply, false);
            }
            "ping" if cmd.argc() > 2 => {
                let e = ProxyError::Command(crate::command::CommandError::WrongArity {
                    command: "ping",
                });
                self.push(e.to_reply(), false);
            }
            "ping" => {
                let message = if cmd.argc() == 2 { cmd.arg(1) } else { b"" };
                let mut pong = BytesMut::new();
                write_array_header(&mut pong, 2);
                write_bulk(&mut pong, b"pong");
                write_bulk(&mut pong, message);
                let pong = self.for_client(pong.freeze());
                self.push(pong, false);
            }
            "unsubscribe" | "punsubscribe" => {
                // No classic subscription here: every channel is "unsubscribed", count 0.
                let frames = self.not_subscribed(name.as_bytes(), &cmd);
                self.push(frames, false);
            }
            "subscribe" | "psubscribe" => self.push(Bytes::from_static(NO_MIXING), false),
            "quit" => {
                self.closed_by = "quit";
                self.push(Bytes::from_static(b"+OK\r\n"), true);
                return Next::Stop;
            }
            "reset" => {
                // Dropping the connections ends their subscriptions.
                self.client = ClientState::new(self.client.id, self.client.peer_addr);
                crate::proxy::auth::after_reset(&mut self.parser, &self.entry, &self.ctx.config);
                self.push(Bytes::from_static(b"+RESET\r\n"), false);
                return Next::Leave;
            }
            _ => {
                let text = format!(
                    "-ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
                );
                self.push(Bytes::from(text), false);
            }
        }
        if st.is_over() {
            Next::Leave
        } else {
            Next::Stay
        }
    }

    /// Sends `SSUBSCRIBE` to the master of its channels' slot.
    async fn ssubscribe(
        &mut self,
        st: &mut Sharded,
        cmd: &Command,
        client: bool,
    ) -> Result<(), ProxyError> {
        let slot = channels_slot(cmd)?.expect("SSUBSCRIBE names a channel");
        let channels: Vec<Bytes> = cmd.args().skip(1).map(Bytes::copy_from_slice).collect();
        let addr = self.master_of(slot)?;
        self.subscribe_on(st, &addr, slot, channels, client).await
    }

    /// `SSUBSCRIBE channels` (all of `slot`) on the connection to `addr`, opened if need be.
    async fn subscribe_on(
        &mut self,
        st: &mut Sharded,
        addr: &NodeAddr,
        slot: Slot,
        channels: Vec<Bytes>,
        client: bool,
    ) -> Result<(), ProxyError> {
        let i = match st.shard_of(addr) {
            Some(i) => i,
            None => {
                let conn = Dedicated::connect(
                    addr,
                    self.ctx.config.connect_timeout(),
                    false,
                    self.ctx.router.handshake(),
                )
                .await?;
                st.shards.push(Shard {
                    conn,
                    channels: HashSet::new(),
                    ops: VecDeque::new(),
                });
                st.shards.len() - 1
            }
        };
        let cmd = Command::from_args(
            std::iter::once(&b"SSUBSCRIBE"[..]).chain(channels.iter().map(|c| &c[..])),
        );
        if let Err(e) = st.shards[i].conn.send(cmd.raw()).await {
            self.shard_lost(st, i);
            return Err(e);
        }
        for c in &channels {
            st.wanted.insert(c.clone(), slot);
        }
        st.shards[i].ops.push_back(Op::Subscribe {
            slot,
            left: channels.len(),
            channels,
            client,
        });
        Ok(())
    }

    /// A sharded subscriber's `SUNSUBSCRIBE`: answered by the proxy from its own record, then
    /// sent to the nodes that hold the channels.
    async fn sunsubscribe(&mut self, st: &mut Sharded, cmd: &Command) -> Bytes {
        if let Err(e) = channels_slot(cmd) {
            return e.to_reply();
        }
        let channels: Vec<Bytes> = if cmd.argc() > 1 {
            cmd.args().skip(1).map(Bytes::copy_from_slice).collect()
        } else {
            st.wanted.keys().cloned().collect()
        };
        if channels.is_empty() {
            return self.event(b"sunsubscribe", None, 0);
        }
        let mut out = BytesMut::new();
        for c in &channels {
            st.wanted.remove(c);
            st.confirmed.remove(c);
            out.put(self.event(b"sunsubscribe", Some(c), st.confirmed.len()));
        }
        st.forget_moves(&channels);
        let mut lost = Vec::new();
        for (i, shard) in st.shards.iter_mut().enumerate() {
            let mine: Vec<Bytes> = channels
                .iter()
                .filter(|c| shard.channels.remove(*c))
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            let cmd = Command::from_args(
                std::iter::once(&b"SUNSUBSCRIBE"[..]).chain(mine.iter().map(|c| &c[..])),
            );
            match shard.conn.send(cmd.raw()).await {
                Ok(()) => shard.ops.push_back(Op::Unsubscribe { channels: mine }),
                Err(_) => lost.push(i),
            }
        }
        for i in lost.into_iter().rev() {
            self.shard_lost(st, i);
        }
        out.freeze()
    }

    /// One frame from shard connection `i`.
    fn shard_frame(&mut self, st: &mut Sharded, i: usize, frame: Bytes) {
        let Some((kind, channel)) = parse_event(&frame) else {
            if frame.first() == Some(&b'-') {
                self.shard_error(st, i, frame);
            } else {
                tracing::debug!(frame = %frame.escape_ascii(), "unexpected frame on a shard subscription");
            }
            return;
        };
        let shard = &mut st.shards[i];
        match (&kind[..], channel) {
            (b"smessage", Some(ch)) => {
                // Not after the client's SUNSUBSCRIBE was confirmed, as one server would.
                if st.wanted.contains_key(&ch) {
                    let frame = self.for_client(frame);
                    self.push(frame, false);
                }
            }
            (b"ssubscribe", Some(ch)) => {
                let Some(Op::Subscribe { left, client, .. }) = shard.ops.front_mut() else {
                    tracing::debug!("unexpected ssubscribe confirmation");
                    return;
                };
                *left -= 1;
                let (done, client) = (*left == 0, *client);
                if done {
                    shard.ops.pop_front();
                }
                shard.channels.insert(ch.clone());
                if client {
                    st.confirmed.insert(ch.clone());
                    let event = self.event(b"ssubscribe", Some(&ch), st.confirmed.len());
                    self.push(event, false);
                }
            }
            (b"sunsubscribe", channel) => {
                let Some(ch) = channel else { return };
                if let Some(Op::Unsubscribe { channels }) = shard.ops.front_mut() {
                    if let Some(k) = channels.iter().position(|c| *c == ch) {
                        channels.swap_remove(k);
                        if channels.is_empty() {
                            shard.ops.pop_front();
                        }
                        return;
                    }
                }
                // The node dropped the channel on its own: its slot moved away.
                shard.channels.remove(&ch);
                if let Some(&slot) = st.wanted.get(&ch) {
                    let from = shard.conn.addr().clone();
                    tracing::debug!(slot = slot.get(), %from, "shard channel's slot moved; resubscribing");
                    self.ctx.router.request_refresh();
                    let now = Instant::now();
                    match st
                        .moving
                        .iter_mut()
                        .find(|m| !m.client && m.slot == slot && m.from.as_ref() == Some(&from))
                    {
                        Some(m) => m.channels.push(ch),
                        None => st.moving.push(Moving {
                            slot,
                            channels: vec![ch],
                            from: Some(from),
                            client: false,
                            error: Bytes::new(),
                            deadline: now + MOVE_DEADLINE,
                            next_try: now,
                        }),
                    }
                }
            }
            _ => {
                let frame = self.for_client(frame);
                self.push(frame, false);
            }
        }
    }

    /// An error from shard connection `i`: the answer to its oldest `SSUBSCRIBE` or
    /// `SUNSUBSCRIBE`.
    fn shard_error(&mut self, st: &mut Sharded, i: usize, error: Bytes) {
        let shard = &mut st.shards[i];
        let Some(op) = shard.ops.pop_front() else {
            tracing::debug!(error = %error.escape_ascii(), "unexpected error on a shard subscription");
            return;
        };
        let Op::Subscribe {
            slot,
            channels,
            client,
            ..
        } = op
        else {
            return;
        };
        let redirected = [&b"-MOVED "[..], b"-ASK ", b"-TRYAGAIN", b"-CLUSTERDOWN"]
            .iter()
            .any(|p| error.starts_with(p));
        if redirected {
            self.ctx.router.request_refresh();
            let from = error
                .starts_with(b"-MOVED ")
                .then(|| shard.conn.addr().clone());
            let now = Instant::now();
            st.moving.push(Moving {
                slot,
                channels,
                from,
                client,
                error,
                deadline: now + MOVE_DEADLINE,
                next_try: now + MOVE_RETRY,
            });
        } else {
            self.give_up(
                st,
                Moving {
                    slot,
                    channels,
                    from: None,
                    client,
                    error,
                    deadline: Instant::now(),
                    next_try: Instant::now(),
                },
            );
        }
    }

    /// Shard connection `i` is gone: its channels wait for their slot's master.
    fn shard_lost(&mut self, st: &mut Sharded, i: usize) {
        let shard = st.shards.swap_remove(i);
        self.ctx.router.request_refresh();
        let now = Instant::now();
        let mut by_slot: HashMap<Slot, Vec<Bytes>> = HashMap::new();
        for c in shard.channels {
            if let Some(&slot) = st.wanted.get(&c) {
                by_slot.entry(slot).or_default().push(c);
            }
        }
        for op in shard.ops {
            if let Op::Subscribe {
                slot,
                channels,
                client,
                ..
            } = op
            {
                st.moving.push(Moving {
                    slot,
                    channels,
                    from: None,
                    client,
                    error: Bytes::from_static(b"-ERR subscription connection lost\r\n"),
                    deadline: now + MOVE_DEADLINE,
                    next_try: now + MOVE_RETRY,
                });
            }
        }
        for (slot, channels) in by_slot {
            st.moving.push(Moving {
                slot,
                channels,
                from: None,
                client: false,
                error: Bytes::new(),
                deadline: now + MOVE_DEADLINE,
                next_try: now + MOVE_RETRY,
            });
        }
    }

    /// Subscribes moved channels on their slot's master, once the slot map names one.
    async fn retry_moves(&mut self, st: &mut Sharded) {
        let now = Instant::now();
        let map = self.ctx.router.slot_map();
        for mut m in std::mem::take(&mut st.moving) {
            if m.next_try > now {
                st.moving.push(m);
                continue;
            }
            if !m.client {
                m.channels.retain(|c| st.wanted.contains_key(c));
                if m.channels.is_empty() {
                    continue;
                }
            }
            let owner = map
                .master(m.slot)
                .filter(|a| Some(*a) != m.from.as_ref())
                .cloned();
            if let Some(addr) = owner {
                let channels = m.channels.clone();
                match self
                    .subscribe_on(st, &addr, m.slot, channels, m.client)
                    .await
                {
                    Ok(()) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "resubscribing failed; retrying");
                        m.from = None;
                    }
                }
            }
            if Instant::now() >= m.deadline {
                self.give_up(st, m);
            } else {
                self.ctx.router.request_refresh();
                m.next_try = Instant::now() + MOVE_RETRY;
                st.moving.push(m);
            }
        }
    }

    /// No master took channels: a client's `SSUBSCRIBE` gets the error; channels the client
    /// had get the `sunsubscribe` the node sent.
    fn give_up(&mut self, st: &mut Sharded, m: Moving) {
        tracing::warn!(
            slot = m.slot.get(),
            "shard channels lost: no master took their slot"
        );
        for c in &m.channels {
            st.wanted.remove(c);
        }
        if m.client {
            self.push(m.error, false);
            return;
        }
        let mut out = BytesMut::new();
        for c in &m.channels {
            if st.confirmed.remove(c) {
                out.put(self.event(b"sunsubscribe", Some(c), st.confirmed.len()));
            }
        }
        if !out.is_empty() {
            self.push(out.freeze(), false);
        }
    }

    /// `SUNSUBSCRIBE` from a client with no shard subscription: Redis's answer.
    pub(super) fn not_subscribed_sunsubscribe(&self, cmd: &Command) -> Bytes {
        match channels_slot(cmd) {
            Ok(_) => self.not_subscribed(b"sunsubscribe", cmd),
            Err(e) => e.to_reply(),
        }
    }

    /// What an unsubscribe command answers when none of its kind is subscribed.
    fn not_subscribed(&self, kind: &[u8], cmd: &Command) -> Bytes {
        let mut out = BytesMut::new();
        write_not_subscribed(
            &mut out,
            kind,
            cmd.args().skip(1),
            self.client.protocol == 3,
        );
        out.freeze()
    }

    /// A subscription event (`[kind, channel, count]`) in the client's protocol.
    fn event(&self, kind: &[u8], channel: Option<&[u8]>, count: usize) -> Bytes {
        let mut out = BytesMut::new();
        write_subscription_event(&mut out, kind, channel, count, self.client.protocol == 3);
        out.freeze()
    }
}

/// The slot of a sharded command's channels (none without channels), or `CROSSSLOT`.
fn channels_slot(cmd: &Command) -> Result<Option<Slot>, ProxyError> {
    let mut slot = None;
    for c in cmd.args().skip(1) {
        let s = Slot::of_key(c);
        match slot {
            None => slot = Some(s),
            Some(first) if first != s => return Err(ProxyError::CrossSlot),
            Some(_) => {}
        }
    }
    Ok(slot)
}

/// The kind and channel of a RESP2 pub/sub frame (`*N`, `$kind`, `$channel` or `$-1`, …).
fn parse_event(frame: &Bytes) -> Option<(Bytes, Option<Bytes>)> {
    let rest = frame.strip_prefix(b"*")?;
    let (_, mut at) = line(rest)?;
    at += 1;
    let (kind, next) = bulk(frame, at)?;
    let (channel, _) = bulk(frame, next)?;
    Some((kind?, channel))
}

/// The line at the start of `bytes` and the offset just past its `\r\n`.
fn line(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let end = bytes.windows(2).position(|w| w == b"\r\n")?;
    Some((&bytes[..end], end + 2))
}

/// The bulk string at `at` in `frame` (`None` for nil) and the offset after it.
fn bulk(frame: &Bytes, at: usize) -> Option<(Option<Bytes>, usize)> {
    let rest = frame.get(at..)?.strip_prefix(b"$")?;
    let (len, header) = line(rest)?;
    let start = at + 1 + header;
    if len == b"-1" {
        return Some((None, start));
    }
    let len: usize = std::str::from_utf8(len).ok()?.parse().ok()?;
    let end = start.checked_add(len)?;
    if frame.get(end..end + 2)? != b"\r\n" {
        return None;
    }
    Some((Some(frame.slice(start..end)), end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pubsub_frames() {
        let f = Bytes::from_static(b"*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$3\r\nhi!\r\n");
        let (kind, ch) = parse_event(&f).unwrap();
        assert_eq!(&kind[..], b"smessage");
        assert_eq!(ch.as_deref(), Some(&b"ch"[..]));
        let f = Bytes::from_static(b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n");
        let (kind, ch) = parse_event(&f).unwrap();
        assert_eq!(&kind[..], b"sunsubscribe");
        assert_eq!(ch, None);
        assert!(parse_event(&Bytes::from_static(b"-ERR x\r\n")).is_none());
        assert!(parse_event(&Bytes::from_static(b"+PONG\r\n")).is_none());
    }

    #[test]
    fn channels_of_two_slots_are_crossslot() {
        let cmd = Command::from_args(["SSUBSCRIBE", "{t}a", "{t}b"]);
        assert_eq!(channels_slot(&cmd).unwrap(), Some(Slot::of_key(b"t")));
        let cmd = Command::from_args(["SSUBSCRIBE", "a", "b"]);
        assert!(matches!(channels_slot(&cmd), Err(ProxyError::CrossSlot)));
        let cmd = Command::from_args(["SUNSUBSCRIBE"]);
        assert_eq!(channels_slot(&cmd).unwrap(), None);
    }
}
