//! One client connection: read commands, run them against the keyspace, write the replies.
//!
//! The session reads whatever bytes have arrived, cuts them into commands, and runs the whole
//! batch under one hold of the keyspace lock, so a pipeline costs one lock and one write. A
//! blocking command that must wait ends the batch: the session registers the wait, releases
//! the lock and sleeps until it is served, times out or the client goes away; the commands
//! pipelined behind it run afterwards, in order, as in Redis. A command that `CLIENT PAUSE`
//! holds back ends the batch the same way, and runs (with those behind it) once the pause is
//! over.
//!
//! Scripts (`EVAL`, `FCALL` and their variants) run on a blocking thread instead, so the
//! runtime thread keeps serving other sessions while one runs: those wait for it without
//! taking the lock and, once it has run past `busy-reply-threshold`, answer `-BUSY` (or
//! `SCRIPT KILL`/`FUNCTION KILL`) themselves; see [`super::lua::busy`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::command::{table, CommandSpec};
use crate::resp::{Command, Limits, ProtocolError, RequestParser};

use super::acl::Context as AclContext;
use super::blocking::{TimeoutReply, Waiter};
use super::client::{Client, ClientHandle, ClientInfo, ReplicaLink, ReplyMode};
use super::commands::{self, write_timeout_reply, Ctx};
use super::config::{ClientClass, NodeConfig};
use super::error::CmdError;
use super::keyspace::{set_access_clock, Keyspace};
use super::memory::{self, Room};
use super::reply::Reply;
use super::server::{unix_ms, Node};
use super::stats::Outcome;
use super::tracking;

/// Most commands run under one hold of the lock; the rest of a longer pipeline waits its turn.
const MAX_BATCH: usize = 512;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// Answers one connection the node cannot take and closes it.
pub async fn refuse(mut stream: TcpStream, text: &'static str) {
    let mut out = BytesMut::new();
    crate::resp::write_error(&mut out, text.as_bytes());
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&out)).await;
}

/// Serves one client until it leaves, is killed, or the node stops.
pub async fn serve(node: Arc<Node>, stream: TcpStream, peer: SocketAddr) {
    let local = stream.local_addr().unwrap_or(peer);
    let (push_tx, push_rx) = mpsc::unbounded_channel();
    let handle = Arc::new(ClientHandle {
        id: node.next_client_id(),
        peer,
        local,
        created: Instant::now(),
        kill: CancellationToken::new(),
        push: push_tx,
        pending_push_bytes: AtomicUsize::new(0),
        info: Mutex::new(ClientInfo {
            resp: 2,
            ..ClientInfo::default()
        }),
    });
    node.clients.insert(handle.clone());
    let config = node.config.load_full();
    let acl_generation = node.acl.generation();
    let user = node.acl.default_user();
    let authenticated = node.acl.default_open();
    let limits = Limits {
        max_bulk_len: config.usize("proto-max-bulk-len"),
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    parser.set_unauthenticated(!authenticated);
    let mut session = Session {
        node: node.clone(),
        client: Client::new(handle.clone(), authenticated, user, acl_generation),
        stream,
        input: BytesMut::with_capacity(READ_CHUNK),
        parser,
        pending: VecDeque::new(),
        out: Reply::new(false),
        push_rx,
        config,
        killed: Box::pin(handle.kill.clone().cancelled_owned()),
        offload_script: false,
    };
    let span = tracing::debug_span!("client", client_id = handle.id, peer_addr = %peer);
    // Entering a span costs on every poll: only when debug logging wants it.
    if span.is_disabled() {
        let _ = session.run().await;
    } else {
        let _ = tracing::Instrument::instrument(session.run(), span).await;
    }
    node.scripting.watch.idle().await;
    session.cleanup();
    node.clients.remove(handle.id);
}

struct Session {
    node: Arc<Node>,
    client: Client,
    stream: TcpStream,
    input: BytesMut,
    parser: RequestParser,
    /// Commands read but not yet run (behind a blocked command, or past a batch's end).
    pending: VecDeque<Command>,
    out: Reply,
    push_rx: mpsc::UnboundedReceiver<bytes::Bytes>,
    /// The configuration as of the last batch: the idle timeout and the buffer limits the
    /// session enforces between batches. A `CONFIG SET` reaches it at the next batch.
    config: Arc<NodeConfig>,
    /// Completes when the client is killed; made once, as waiting on it is registered once
    /// rather than at every read.
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The script command at the front gave way on this thread: it runs next on a blocking
    /// thread (see [`super::lua::busy`]).
    offload_script: bool,
}

/// Most bytes of queued pushes gathered into one write.
const PUSH_BATCH_BYTES: usize = 256 * 1024;

/// What the commands of one batch share.
struct Batch<'a> {
    /// The configuration the batch's commands see; `CONFIG SET` replaces it.
    config: &'a mut Arc<NodeConfig>,
    /// Unix milliseconds when the batch took the lock: every command of the batch sees this
    /// time, as every command of one Redis event-loop turn does.
    now: i64,
    /// When the previous command ended (or the batch began).
    clock: &'a mut Instant,
}

/// A registered wait for a blocked command.
struct Blocked {
    waiter_id: u64,
    db: usize,
    keys: Vec<Vec<u8>>,
    reply: oneshot::Receiver<BytesMut>,
    deadline: Option<tokio::time::Instant>,
    on_timeout: TimeoutReply,
}

/// `WAIT`'s wait: until `replicas` replicas acknowledged the stream up to `offset`, or the
/// deadline.
struct AckWait {
    offset: u64,
    replicas: usize,
    deadline: Option<tokio::time::Instant>,
    acks: tokio::sync::watch::Receiver<u64>,
}

/// Why a batch stopped before its commands ran out.
enum Stop {
    /// `WAIT` waits for replicas' acknowledgements.
    Acks(AckWait),
    /// A script ran past its time on the session's thread without writing, and gave way:
    /// it runs again on a blocking thread.
    GaveWay,
    /// A blocking command waits for its keys.
    Blocked(Blocked),
    /// A pause holds the next command back until `CLIENT UNPAUSE` (`unpaused` changes) or
    /// the pause's end.
    Paused {
        unpaused: tokio::sync::watch::Receiver<u64>,
        until: tokio::time::Instant,
    },
}

/// Why a session ends.
enum End {
    /// The client closed, was killed, quit or broke the protocol.
    Closed,
}

impl Session {
    async fn run(&mut self) -> Result<(), End> {
        loop {
            while !self.pending.is_empty() {
                // Killed (`CLIENT KILL`, its user deleted) while its commands waited.
                if self.client.handle.kill.is_cancelled() {
                    return Err(End::Closed);
                }
                if self.script_gate().await? || self.run_script_command().await? {
                    self.flush().await?;
                    if self.client.close_after_reply {
                        return Err(End::Closed);
                    }
                    continue;
                }
                let stop = self.run_batch();
                self.flush().await?;
                if self.client.close_after_reply {
                    return Err(End::Closed);
                }
                match stop {
                    Some(Stop::Blocked(blocked)) => {
                        self.wait(blocked).await?;
                        self.flush().await?;
                    }
                    Some(Stop::Paused { unpaused, until }) => {
                        self.wait_unpaused(unpaused, until).await?
                    }
                    Some(Stop::Acks(wait)) => {
                        self.wait_acks(wait).await?;
                        self.flush().await?;
                    }
                    // (a batch turns GaveWay into a flag for the next turn)
                    Some(Stop::GaveWay) | None => {}
                }
            }
            self.read().await?;
        }
    }

    /// Reads more input (or delivers pushes meanwhile) and parses what arrived.
    async fn read(&mut self) -> Result<(), End> {
        let idle = self.config.timeout();
        let idle = (idle > 0 && !self.never_idle()).then(|| Duration::from_secs(idle as u64));
        loop {
            self.input.reserve(READ_CHUNK);
            tokio::select! {
                _ = &mut self.killed => return Err(End::Closed),
                push = self.push_rx.recv() => {
                    if let Some(push) = push {
                        self.write_push(push).await?;
                    }
                }
                _ = sleep_or_never(idle) => return Err(End::Closed),
                n = self.stream.read_buf(&mut self.input) => {
                    let n = n.map_err(|_| End::Closed)?;
                    if n == 0 {
                        return Err(End::Closed);
                    }
                    self.node.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    self.parse().await?;
                    if !self.pending.is_empty() {
                        return Ok(());
                    }
                    let limit = self.config.client_query_buffer_limit();
                    if self.input.len() > limit {
                        tracing::info!(bytes = self.input.len(), "closing client over client-query-buffer-limit");
                        self.node.stats.client_query_buffer_limit_disconnections.fetch_add(1, Ordering::Relaxed);
                        return Err(End::Closed);
                    }
                }
            }
        }
    }

    async fn parse(&mut self) -> Result<(), End> {
        loop {
            match self.parser.parse(&mut self.input) {
                Ok(Some(cmd)) => self.pending.push_back(cmd),
                Ok(None) => return Ok(()),
                Err(e) => return self.protocol_error(e).await,
            }
        }
    }

    async fn protocol_error(&mut self, e: ProtocolError) -> Result<(), End> {
        // Replies to the commands before the bad bytes go out first, then the error.
        while !self.pending.is_empty() {
            let _ = self.run_batch();
        }
        self.out
            .error(format!("ERR Protocol error: {e}").as_bytes());
        let _ = self.flush().await;
        Err(End::Closed)
    }

    /// Runs pending commands under one hold of the lock, until none are left, the batch is
    /// full, the client must close, or a command blocks or is held back by a pause.
    fn run_batch(&mut self) -> Option<Stop> {
        let mut config = self.node.config.load_full();
        let stop = self.run_commands(&mut config);
        self.config = config;
        // Redis's tighter bounds hold until the client has authenticated.
        let unauthenticated = !self.client.authenticated && !self.node.acl.default_open();
        self.parser.set_unauthenticated(unauthenticated);
        stop
    }

    /// [`run_batch`](Self::run_batch)'s work, with the batch's configuration snapshot (which
    /// `CONFIG SET` replaces for the commands behind it).
    fn run_commands(&mut self, config: &mut Arc<NodeConfig>) -> Option<Stop> {
        let node = self.node.clone();
        let mut ks = node.keyspace();
        self.take_pushes();
        let now = unix_ms();
        set_access_clock(now, config.lfu());
        let mut clock = Instant::now();
        let mut ran = 0;
        let stop = loop {
            if ran >= MAX_BATCH || self.client.close_after_reply {
                break None;
            }
            let Some(cmd) = self.pending.pop_front() else {
                break None;
            };
            let at = Batch {
                config,
                now,
                clock: &mut clock,
            };
            match self.run_one(&mut ks, &node, &cmd, at) {
                Some(paused @ Stop::Paused { .. }) => {
                    self.pending.push_front(cmd);
                    break Some(paused);
                }
                Some(Stop::GaveWay) => {
                    self.pending.push_front(cmd);
                    self.offload_script = true;
                    break None;
                }
                Some(blocked) => break Some(blocked),
                None => ran += 1,
            }
            if ks.tracking_live() {
                self.end_caching(&mut ks, &cmd);
            }
        };
        // The batch is this client's turn of Redis's event loop: broadcast what it changed.
        tracking::settle(
            &mut ks,
            &node,
            config,
            Some((self.client.id, &mut self.out)),
        );
        if stop.is_none() {
            node.stats
                .commands_processed
                .fetch_add(ran as u64, Ordering::Relaxed);
        }
        stop
    }

    fn run_one(
        &mut self,
        ks: &mut Keyspace,
        node: &Node,
        cmd: &Command,
        batch: Batch<'_>,
    ) -> Option<Stop> {
        let now = batch.now;
        let mark = self.out.len();
        let spec = match table().lookup(cmd) {
            Ok(spec) => spec,
            Err(e) => {
                let text = e.message_bytes();
                node.stats.record_error(&text);
                return self.refuse(mark, &text);
            }
        };
        if let Some(refusal) = protected_refusal(spec, batch.config, self.client.handle.peer) {
            node.stats.record_error(refusal.as_bytes());
            return self.refuse(mark, refusal.as_bytes());
        }
        if !self.client.authenticated && !node.acl.default_open() && !allowed_before_auth(spec) {
            return self.refuse(mark, &CmdError::NoAuth.message_bytes());
        }
        node.acl.refresh(&mut self.client);
        if !self.client.user.unrestricted() {
            if let Err(denial) = self.client.user.check(spec, cmd) {
                let context = match self.client.multi {
                    Some(ref mut multi) => {
                        multi.aborted = true;
                        AclContext::Multi
                    }
                    None => AclContext::Toplevel,
                };
                let refused = commands::Refused {
                    spec,
                    cmd,
                    denial,
                    context,
                    running: None,
                };
                commands::log_acl_denial(node, &self.client, batch.config, refused);
                let text = commands::acl_denial_text(spec, denial);
                node.stats.record_rejected(spec, text.as_bytes());
                return self.refuse(mark, text.as_bytes());
            }
        }
        if self.client.subscriber && !self.client.resp3 && !allowed_while_subscribed(spec) {
            let text = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.full_name()
            );
            return self.refuse(mark, text.as_bytes());
        }
        if spec.denies_oom() && memory::make_room(ks, node, batch.config, now) == Room::OutOfMemory
        {
            let text = b"OOM command not allowed when used memory > 'maxmemory'.";
            node.stats.record_rejected(spec, text);
            return self.refuse(mark, text);
        }
        if spec.is_write() && !enough_good_replicas(ks, batch.config) {
            let text = b"NOREPLICAS Not enough good replicas to write.";
            node.stats.record_rejected(spec, text);
            return self.refuse(mark, text);
        }
        if let Some(pause) = ks.paused(now) {
            if pause.holds(self.may_write(spec)) {
                let wait_ms = u64::try_from(pause.end.saturating_sub(now)).unwrap_or(0);
                return Some(Stop::Paused {
                    // Subscribed under the lock: an UNPAUSE after this cannot be missed.
                    unpaused: node.unpaused.subscribe(),
                    until: tokio::time::Instant::now() + Duration::from_millis(wait_ms + 1),
                });
            }
        }
        if self.client.multi.is_some()
            && spec.flags().contains(crate::command::Flags::NO_MULTI)
            && !runs_inside_multi(spec)
        {
            // `PSYNC`, `SYNC`, …
            let text = b"ERR Command not allowed inside a transaction";
            node.stats.record_rejected(spec, text);
            return self.refuse(mark, text);
        }
        if self.client.multi.is_some() && !runs_inside_multi(spec) {
            self.out.simple(b"QUEUED");
            if let Some(multi) = &mut self.client.multi {
                multi.queued.push(cmd.clone());
            }
            self.after_reply(mark);
            return None;
        }
        // One clock read per command: each command's time runs from the previous one's end.
        let mut ctx = Ctx::new(
            ks,
            &mut self.client,
            &mut self.out,
            node,
            batch.config.clone(),
            now,
        );
        let result = commands::execute(&mut ctx, spec, cmd);
        let block = ctx.block.take();
        if !Arc::ptr_eq(&ctx.config, batch.config) {
            *batch.config = ctx.config.clone();
        }
        drop(ctx);
        self.client.script_must_finish = false;
        if std::mem::take(&mut self.client.script_yielded) {
            return Some(Stop::GaveWay);
        }
        let ended = Instant::now();
        let took = ended.saturating_duration_since(*batch.clock);
        *batch.clock = ended;
        let tracking = batch.config.latency_tracking();
        match &result {
            Ok(()) => node.stats.record(spec, took, Outcome::Ok, tracking),
            Err(e) => node
                .stats
                .record(spec, took, Outcome::Failed(&e.message_bytes()), tracking),
        }
        let threshold = batch.config.latency_monitor_threshold();
        if threshold > 0 {
            let event = if spec.is_fast() {
                "fast-command"
            } else {
                "command"
            };
            let ms = took.as_millis().min(u128::from(u64::MAX)) as u64;
            node.latency
                .add_if_needed(event, ms, threshold, unix_ms() / 1000);
        }
        if !spec.flags().contains(crate::command::Flags::SKIP_SLOWLOG) {
            self.slowlog(node, batch.config, cmd, took);
        }
        if let Some((offset, replicas, timeout)) = self.client.wait_acks.take() {
            // Subscribed under the lock: no acknowledgement after the count can be missed.
            let wait = AckWait {
                offset,
                replicas,
                deadline: timeout.map(|t| tokio::time::Instant::now() + t),
                acks: node.replication_acks.subscribe(),
            };
            self.note_command(spec, ended);
            return Some(Stop::Acks(wait));
        }
        let blocked = block.map(|request| {
            let (tx, rx) = oneshot::channel();
            let waiter = Waiter {
                client_id: self.client.id,
                db: self.client.db,
                keys: request.keys.clone(),
                command: request.rewritten.unwrap_or_else(|| cmd.clone()),
                resp3: self.client.resp3,
                on_timeout: request.on_timeout,
                reply: tx,
            };
            let id = ks.waiters.add(waiter);
            for key in &request.keys {
                ks.db(self.client.db).add_waiter(key, id);
            }
            Blocked {
                waiter_id: id,
                db: self.client.db,
                keys: request.keys,
                reply: rx,
                deadline: request.timeout.map(|t| tokio::time::Instant::now() + t),
                on_timeout: request.on_timeout,
            }
        });
        serve_ready(ks, node, now);
        self.note_command(spec, ended);
        if blocked.is_none() {
            self.after_reply(mark);
            tracking::send_own(ks, node, batch.config, self.client.id, &mut self.out);
        }
        blocked.map(Stop::Blocked)
    }

    /// `CLIENT CACHING YES|NO` holds for the next command only: any command ends it, run or
    /// refused, except `CLIENT …` itself and those queued in a transaction (Redis's
    /// `resetClient`).
    fn end_caching(&self, ks: &mut Keyspace, cmd: &Command) {
        if self.client.multi.is_some() || cmd.arg(0).eq_ignore_ascii_case(b"client") {
            return;
        }
        if let Some(c) = ks.tracking.client_mut(self.client.id) {
            c.caching = false;
        }
    }

    /// While another session's script command is in flight: waits (without the keyspace
    /// lock) until it ends or has run past `busy-reply-threshold`; past it, answers the next
    /// command itself, as Redis answers clients while a script runs. True if it answered one.
    async fn script_gate(&mut self) -> Result<bool, End> {
        let node = self.node.clone();
        let watch = &node.scripting.watch;
        loop {
            let landed = watch.landed();
            if !watch.in_flight() {
                return Ok(false);
            }
            let config = node.config.load_full();
            let threshold = Duration::from_millis(config.int("busy-reply-threshold").max(0) as u64);
            let wait = match watch.running_for() {
                Some(ran) if ran >= threshold => break,
                Some(ran) => threshold - ran,
                // Dispatched but not started yet (waiting for the lock, compiling).
                None => Duration::from_millis(1),
            };
            tokio::select! {
                _ = landed => {}
                _ = tokio::time::sleep(wait) => {}
                _ = &mut self.killed => return Err(End::Closed),
            }
        }
        let Some(cmd) = self.pending.pop_front() else {
            return Ok(false);
        };
        let mark = self.out.len();
        let spec = match table().lookup(&cmd) {
            Ok(spec) => spec,
            Err(e) => {
                let text = e.message_bytes();
                node.stats.record_error(&text);
                self.out.error(&text);
                self.after_reply(mark);
                return Ok(true);
            }
        };
        let answer = if !self.client.authenticated && !allowed_before_auth(spec) {
            Err(CmdError::NoAuth.message_bytes())
        } else {
            match spec.full_name() {
                "script|kill" => watch.kill(true).map_err(|t| t.as_bytes().to_vec()),
                "function|kill" => watch.kill(false).map_err(|t| t.as_bytes().to_vec()),
                _ => {
                    let eval = watch.busy(Duration::ZERO).is_none_or(|b| b.eval);
                    Err(super::lua::busy::busy_text(eval).as_bytes().to_vec())
                }
            }
        };
        match answer {
            Ok(()) => self.out.ok(),
            Err(text) => {
                if let Some(multi) = &mut self.client.multi {
                    multi.aborted = true;
                }
                node.stats.record_error(&text);
                self.out.error(&text);
            }
        }
        self.after_reply(mark);
        Ok(true)
    }

    /// Runs the script command at the front of the queue on a blocking thread (see
    /// [`super::lua::busy`]); false (nothing run) when the front is not one, or when it needs
    /// the ordinary path (inside `MULTI`, before `AUTH`, while subscribed, during a pause).
    async fn run_script_command(&mut self) -> Result<bool, End> {
        if !std::mem::take(&mut self.offload_script) {
            return Ok(false);
        }
        // Where the blocking thread cannot take it, the ordinary path runs it to its end.
        self.client.script_must_finish = true;
        let Some(front) = self.pending.front() else {
            return Ok(false);
        };
        if !is_script_command(front)
            || self.client.multi.is_some()
            || !self.client.authenticated
            || (self.client.subscriber && !self.client.resp3)
        {
            return Ok(false);
        }
        let Ok(spec) = table().lookup(front) else {
            return Ok(false);
        };
        // A user with ACL restrictions goes through the ordinary path, which checks them.
        self.node.acl.refresh(&mut self.client);
        if !self.client.user.unrestricted() {
            return Ok(false);
        }
        let Some(cmd) = self.pending.pop_front() else {
            return Ok(false);
        };
        let node = self.node.clone();
        let placeholder = Client::detached(self.client.id);
        let mut client = std::mem::replace(&mut self.client, placeholder);
        let mut out = std::mem::take(&mut self.out);
        let mut config = node.config.load_full();
        let mark = out.len();
        let flight = node.scripting.watch.dispatch();
        let task = tokio::task::spawn_blocking(move || {
            let _flight = flight;
            let mut ks = node.keyspace();
            let now = unix_ms();
            if ks.paused(now).is_some() {
                return (client, out, config, cmd, None);
            }
            set_access_clock(now, config.lfu());
            let started = Instant::now();
            let result = {
                let mut ctx = Ctx::new(&mut ks, &mut client, &mut out, &node, config.clone(), now);
                let result = commands::execute(&mut ctx, spec, &cmd);
                if !Arc::ptr_eq(&ctx.config, &config) {
                    config = ctx.config.clone();
                }
                result
            };
            let took = started.elapsed();
            let tracking = config.latency_tracking();
            match &result {
                Ok(()) => node.stats.record(spec, took, Outcome::Ok, tracking),
                Err(e) => {
                    node.stats
                        .record(spec, took, Outcome::Failed(&e.message_bytes()), tracking)
                }
            }
            serve_ready(&mut ks, &node, now);
            tracking::send_own(&mut ks, &node, &config, client.id, &mut out);
            tracking::settle(&mut ks, &node, &config, Some((client.id, &mut out)));
            node.stats
                .commands_processed
                .fetch_add(1, Ordering::Relaxed);
            (client, out, config, cmd, Some(took))
        });
        let (client, out, config, cmd, took) = task.await.map_err(|_| End::Closed)?;
        self.client = client;
        self.client.script_must_finish = false;
        self.out = out;
        self.config = config.clone();
        let Some(took) = took else {
            // Held back by a pause: the ordinary path waits for it.
            self.pending.push_front(cmd);
            return Ok(false);
        };
        if !spec.flags().contains(crate::command::Flags::SKIP_SLOWLOG) {
            self.slowlog(&self.node.clone(), &config, &cmd, took);
        }
        self.note_command(spec, Instant::now());
        self.after_reply(mark);
        Ok(true)
    }

    /// Whether `CLIENT PAUSE … WRITE` holds `spec` back: it may write or replicate, or it is
    /// an `EXEC` whose transaction holds such a command (a command is held before it is
    /// queued, too).
    fn may_write(&self, spec: &CommandSpec) -> bool {
        if spec.may_replicate() {
            return true;
        }
        match &self.client.multi {
            Some(multi) if spec.full_name() == "exec" => multi
                .queued
                .iter()
                .any(|c| table().lookup(c).is_ok_and(|s| s.may_replicate())),
            _ => false,
        }
    }

    fn slowlog(&self, node: &Node, config: &NodeConfig, cmd: &Command, took: Duration) {
        let slower_than = config.slowlog_log_slower_than();
        if slower_than < 0 || (took.as_micros() as i64) < slower_than {
            return;
        }
        let name = self
            .client
            .handle
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .name
            .clone();
        node.stats.slowlog_push(
            cmd,
            took,
            slower_than,
            config.usize("slowlog-max-len"),
            unix_ms() / 1000,
            self.client.handle.peer.to_string(),
            name.unwrap_or_default(),
        );
    }

    /// Answers `text` instead of running the command. Refused while a transaction is being
    /// queued, the command aborts it (`EXEC` answers `EXECABORT`), as in Redis.
    fn refuse(&mut self, mark: usize, text: &[u8]) -> Option<Stop> {
        if let Some(multi) = &mut self.client.multi {
            multi.aborted = true;
        }
        self.out.error(text);
        self.after_reply(mark);
        None
    }

    /// Applies `CLIENT REPLY OFF|SKIP` to the reply just written after `mark`.
    fn after_reply(&mut self, mark: usize) {
        match self.client.replica {
            None => {}
            Some(ReplicaLink::Attaching) => {
                self.client.replica = Some(ReplicaLink::Attached);
                return;
            }
            Some(ReplicaLink::Attached) => {
                self.out.truncate(mark);
                return;
            }
        }
        match self.client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => self.out.truncate(mark),
            ReplyMode::Skip => {
                self.out.truncate(mark);
                self.client.reply_mode = ReplyMode::On;
            }
        }
    }

    fn note_command(&mut self, spec: &'static CommandSpec, at: Instant) {
        self.out.set_resp3(self.client.resp3);
        let mut info = self
            .client
            .handle
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        info.db = self.client.db;
        info.resp = if self.client.resp3 { 3 } else { 2 };
        info.last_active = Some(at);
        info.last_command = spec.full_name();
    }

    /// `WAIT`: until enough replicas acknowledged the offset, or the time is up; then the
    /// number that did.
    async fn wait_acks(&mut self, mut wait: AckWait) -> Result<(), End> {
        let acked = loop {
            let acked = self.node.keyspace().repl.acked(wait.offset);
            if acked >= wait.replicas {
                break acked;
            }
            tokio::select! {
                changed = wait.acks.changed() => {
                    if changed.is_err() {
                        break acked;
                    }
                }
                _ = sleep_until_or_never(wait.deadline) => {
                    break self.node.keyspace().repl.acked(wait.offset);
                }
                _ = &mut self.killed => return Err(End::Closed),
            }
        };
        let mark = self.out.len();
        self.out.int(acked as i64);
        self.after_reply(mark);
        Ok(())
    }

    /// Waits until the blocked command is served, times out, or the client leaves.
    async fn wait(&mut self, mut blocked: Blocked) -> Result<(), End> {
        let outcome = loop {
            tokio::select! {
                reply = &mut blocked.reply => break reply.ok(),
                _ = sleep_until_or_never(blocked.deadline) => break None,
                _ = &mut self.killed => {
                    self.node.scripting.watch.idle().await;
                    self.unblock(&blocked);
                    return Err(End::Closed);
                }
                // Keep reading while blocked, to notice the client going away; what arrives
                // waits in the buffer.
                n = self.stream.read_buf(&mut self.input) => {
                    if let Err(end) = self.read_while_waiting(n) {
                        self.node.scripting.watch.idle().await;
                        self.unblock(&blocked);
                        return Err(end);
                    }
                }
                // Pushes (invalidations, RESP3 pub/sub messages) go out while the command
                // waits, as Redis writes them to a blocked client.
                push = self.push_rx.recv() => {
                    if let Some(push) = push {
                        if let Err(end) = self.write_push(push).await {
                            self.unblock(&blocked);
                            return Err(end);
                        }
                    }
                }
            }
        };
        match outcome {
            Some(reply) => {
                // What was pushed before the command was served comes before its reply.
                self.take_pushes();
                self.out.raw(&reply);
            }
            None => {
                // Timed out; it may have been served at the same moment, so look again under
                // the lock (once no script holds it).
                self.node.scripting.watch.idle().await;
                let served = {
                    let node = self.node.clone();
                    let mut ks = node.keyspace();
                    let still_waiting = ks.waiters.get(blocked.waiter_id).is_some();
                    if still_waiting {
                        remove_waiter(&mut ks, blocked.waiter_id, blocked.db, &blocked.keys);
                    }
                    !still_waiting
                };
                match (served, blocked.reply.try_recv()) {
                    (true, Ok(reply)) => self.out.raw(&reply),
                    _ => write_timeout_reply(&mut self.out, blocked.on_timeout),
                }
            }
        }
        self.parse().await
    }

    /// Waits for a pause to end: `CLIENT UNPAUSE` or its end time. The client going away ends
    /// the wait; what it sends meanwhile waits in the buffer.
    async fn wait_unpaused(
        &mut self,
        mut unpaused: tokio::sync::watch::Receiver<u64>,
        until: tokio::time::Instant,
    ) -> Result<(), End> {
        tokio::select! {
            _ = unpaused.changed() => {}
            _ = tokio::time::sleep_until(until) => {}
            _ = &mut self.killed => return Err(End::Closed),
            n = self.stream.read_buf(&mut self.input) => self.read_while_waiting(n)?,
        }
        self.parse().await
    }

    /// The outcome of a read while a command waits: the client closed, or its input is over
    /// the query buffer limit, ends the session.
    fn read_while_waiting(&self, n: std::io::Result<usize>) -> Result<(), End> {
        match n {
            Ok(0) | Err(_) => Err(End::Closed),
            Ok(_) => {
                let limit = self.config.client_query_buffer_limit();
                if self.input.len() > limit {
                    return Err(End::Closed);
                }
                Ok(())
            }
        }
    }

    fn unblock(&mut self, blocked: &Blocked) {
        let node = self.node.clone();
        let mut ks = node.keyspace();
        remove_waiter(&mut ks, blocked.waiter_id, blocked.db, &blocked.keys);
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let bytes = self.out.take();
        let (hard, _, _) = self.config.output_buffer_limit(ClientClass::Normal);
        if hard > 0 && bytes.len() as u64 > hard {
            self.node
                .stats
                .client_output_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                bytes = bytes.len(),
                "closing client over client-output-buffer-limit"
            );
            return Err(End::Closed);
        }
        self.node
            .stats
            .net_output_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.stream.write_all(&bytes).await.map_err(|_| End::Closed)
    }

    /// Writes `push` and whatever else is queued behind it (up to [`PUSH_BATCH_BYTES`]) in one
    /// write: a replica fed the stream, or a busy subscriber, costs one system call per batch
    /// rather than one per message.
    async fn write_push(&mut self, first: bytes::Bytes) -> Result<(), End> {
        let mut taken = first.len();
        let push = match self.push_rx.try_recv() {
            Err(_) => first,
            Ok(next) => {
                let mut batch = BytesMut::with_capacity(first.len() + next.len());
                batch.extend_from_slice(&first);
                batch.extend_from_slice(&next);
                taken += next.len();
                while batch.len() < PUSH_BATCH_BYTES {
                    let Ok(more) = self.push_rx.try_recv() else {
                        break;
                    };
                    taken += more.len();
                    batch.extend_from_slice(&more);
                }
                batch.freeze()
            }
        };
        self.client
            .handle
            .pending_push_bytes
            .fetch_sub(taken, Ordering::Relaxed);
        // A subscriber that does not read blocks this write; killing it (output buffer limit)
        // must still end the session.
        tokio::select! {
            _ = &mut self.killed => Err(End::Closed),
            written = self.stream.write_all(&push) => written.map_err(|_| End::Closed),
        }
    }

    /// Moves the pushes queued so far into the reply, ahead of the batch's replies: they were
    /// published before the batch took the lock, so they come first, as in Redis's single
    /// output buffer. Bounded: nothing is published while the keyspace lock is held.
    fn take_pushes(&mut self) {
        while let Ok(push) = self.push_rx.try_recv() {
            self.client
                .handle
                .pending_push_bytes
                .fetch_sub(push.len(), Ordering::Relaxed);
            self.out.raw(&push);
        }
    }

    /// Subscribers and monitors wait for what the node sends them: never idle.
    fn never_idle(&self) -> bool {
        self.client.subscriber || self.client.monitor || self.client.replica.is_some()
    }

    /// Releases what the client held in shared state: watches, tracking and subscriptions.
    fn cleanup(&mut self) {
        let mut ks = self.node.keyspace();
        for (db, key, _) in self.client.watched.drain(..) {
            ks.db(db).unwatch(&key);
        }
        ks.tracking.disable(self.client.id);
        ks.sync_tracking();
        // Lock order: keyspace, then pub/sub.
        self.node.pubsub.lock().unsubscribe_all(self.client.id);
        self.client.subscriber = false;
        if self.client.monitor {
            self.node.monitors.remove(self.client.id);
        }
        if self.client.replica.is_some() {
            ks.repl.detach(self.client.id);
            tracing::info!(peer = %self.client.handle.peer, "replica left");
        }
    }
}

fn remove_waiter(ks: &mut Keyspace, id: u64, db: usize, keys: &[Vec<u8>]) {
    ks.waiters.remove(id);
    for key in keys {
        ks.db(db).remove_waiter(key, id);
    }
}

/// Serves clients blocked on keys that became ready, oldest waiter first, until no ready key
/// is left. Each serve either unblocks a waiter or leaves it waiting, and new ready keys come
/// only from served commands, so this ends.
pub fn serve_ready(ks: &mut Keyspace, node: &Node, now: i64) {
    // Nobody waits: nothing can be ready (the common case, checked first).
    if ks.waiters.is_empty() {
        return;
    }
    loop {
        let mut progressed = false;
        for db_index in 0..ks.db_count() {
            let ready = ks.db(db_index).take_ready();
            for key in ready {
                for id in ks.db(db_index).waiters(&key) {
                    let Some(waiter) = ks.waiters.remove(id) else {
                        continue;
                    };
                    let mut client = Client::detached(waiter.client_id);
                    client.db = waiter.db;
                    client.resp3 = waiter.resp3;
                    let mut out = Reply::new(waiter.resp3);
                    let config = node.config.load_full();
                    let spec = table()
                        .lookup(&waiter.command)
                        .expect("a blocked command was resolved before it blocked");
                    {
                        let mut ctx =
                            Ctx::new(ks, &mut client, &mut out, node, config.clone(), now);
                        ctx.serving_blocked = true;
                        ctx.serving_key = Some(&key);
                        let _ = commands::execute(&mut ctx, spec, &waiter.command);
                    }
                    if out.is_empty() {
                        // Still nothing for it: it keeps its place.
                        ks.waiters.put_back(id, waiter);
                    } else {
                        tracking::send_own(ks, node, &config, waiter.client_id, &mut out);
                        for k in &waiter.keys {
                            ks.db(waiter.db).remove_waiter(k, id);
                        }
                        let _ = waiter.reply.send(out.take());
                        progressed = true;
                    }
                }
            }
        }
        if !progressed {
            return;
        }
    }
}

/// Commands a client may send before it authenticates (Redis's `CMD_NO_AUTH`).
/// Redis's refusal of a protected command (`DEBUG`, `MODULE …`) that `enable-debug-command` /
/// `enable-module-command` does not allow this client: `no` (the default) allows nobody,
/// `local` only loopback clients.
fn protected_refusal(spec: &CommandSpec, config: &NodeConfig, peer: SocketAddr) -> Option<String> {
    if !spec.flags().contains(crate::command::Flags::PROTECTED) {
        return None;
    }
    let (command, directive) = match spec.container_name().unwrap_or(spec.full_name()) {
        "debug" => ("DEBUG", "enable-debug-command"),
        _ => ("MODULE", "enable-module-command"),
    };
    let allowed = match config.get(directive) {
        "yes" => true,
        "local" => peer.ip().to_canonical().is_loopback(),
        _ => false,
    };
    (!allowed).then(|| {
        format!(
            "ERR {command} command not allowed. If the {directive} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
        )
    })
}

/// `min-replicas-to-write`: whether enough replicas acknowledged within
/// `min-replicas-max-lag` seconds for a write to be taken (always, when it is 0).
fn enough_good_replicas(ks: &Keyspace, config: &NodeConfig) -> bool {
    let wanted = config.min_replicas_to_write();
    if wanted <= 0 {
        return true;
    }
    let max_lag = Duration::from_secs(config.int("min-replicas-max-lag").max(0) as u64);
    let good = ks
        .repl
        .replicas
        .iter()
        .filter(|r| r.last_ack.elapsed() <= max_lag)
        .count();
    good as i64 >= wanted
}

fn allowed_before_auth(spec: &CommandSpec) -> bool {
    matches!(spec.full_name(), "auth" | "hello" | "quit" | "reset")
}

/// Commands a RESP2 client may run while subscribed.
fn allowed_while_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.full_name(),
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// `EVAL`, `FCALL` and their variants: they run Lua, possibly for long.
fn is_script_command(cmd: &Command) -> bool {
    const NAMES: [&[u8]; 6] = [
        b"eval",
        b"evalsha",
        b"eval_ro",
        b"evalsha_ro",
        b"fcall",
        b"fcall_ro",
    ];
    NAMES.iter().any(|n| cmd.name().eq_ignore_ascii_case(n))
}

/// Commands that run at once even inside `MULTI`.
fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.full_name(),
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
