//! One client connection: read commands, route them, write replies in request order.
//!
//! Two halves run together in the connection's task. The reader parses commands and hands
//! each to its destination (the proxy itself, or a backend through the router), numbering
//! them. The writer receives replies as they come, from any backend in any order, and writes
//! them in number order. A semaphore of `max-pipeline` permits bounds how many commands one
//! client can have in flight, and so every queue the session feeds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::clients::ClientEntry;
use super::commandstats::{self, Group};
use super::config::ReadFrom;
use super::error::ProxyError;
use super::gather::{Gather, Merge};
use super::local::{self, ClientState, Local};
use super::request::{Dest, Event, EventTx, ReplyTo, Request};
use super::route::{is_blocking, route, Route};
use super::scan;
use super::ProxyContext;
use crate::command::{table, CommandSpec};
use crate::resp::{Command, RequestParser};
use crate::slot::Slot;
use crate::topology::NodeAddr;

mod pinned;
mod pubsub;
mod sharded;

use pinned::Pinned;

const READ_CHUNK: usize = 16 * 1024;

/// The slots a client wrote to, as far as they are tracked.
enum Written {
    Slots(Vec<Slot>),
    /// More than [`MAX_WRITTEN_SLOTS`]: every master counts as written to.
    Everywhere,
}

const MAX_WRITTEN_SLOTS: usize = 64;

/// Keyless commands that any one master answers for the whole cluster go to the master of
/// this slot: a stable choice, so a client's keyless commands stay in order.
fn keyless_slot() -> Slot {
    Slot::new(0).expect("slot 0 exists")
}

/// Serves one client until it quits, disconnects, breaks the protocol, or the proxy stops.
pub async fn serve(
    stream: TcpStream,
    worker: usize,
    peer_addr: SocketAddr,
    ctx: Arc<ProxyContext>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let id = ctx.stats.next_client_id();
    let span = tracing::info_span!("client", id, %peer_addr);
    serve_as(stream, id, worker, peer_addr, ctx, shutdown)
        .instrument(span)
        .await
}

async fn serve_as(
    stream: TcpStream,
    id: u64,
    worker: usize,
    peer_addr: SocketAddr,
    ctx: Arc<ProxyContext>,
    shutdown: CancellationToken,
) {
    // `CLIENT KILL` cancels this one; shutting the proxy down cancels it too.
    let stop = shutdown.child_token();
    let registration = ctx.clients.register(
        id,
        peer_addr,
        stream.local_addr().ok(),
        ctx.stats.now_ms(),
        stop.clone(),
    );
    let (rd, wr) = stream.into_split();
    let (events, rx) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(ctx.config.max_pipeline));
    let pushed = Arc::new(AtomicUsize::new(0));
    let kill = CancellationToken::new();
    let timings = Timings::default();
    let reader = Reader {
        ctx: ctx.clone(),
        closed_by: "client",
        client: ClientState::new(id, peer_addr),
        parser: super::auth::parser(&ctx.config),
        rd,
        buf: BytesMut::with_capacity(READ_CHUNK),
        events,
        permits: permits.clone(),
        next_seq: 0,
        worker,
        pinned: Pinned::default(),
        pushed: pushed.clone(),
        kill: kill.clone(),
        written: Written::Slots(Vec::new()),
        entry: registration.entry.clone(),
        timings: timings.clone(),
        stop: stop.clone(),
    };
    let writer = Writer {
        ctx: ctx.clone(),
        samples: [0; Group::ALL.len()],
        timings: timings.clone(),
        entry: registration.entry.clone(),
        permits,
        pushed,
        kill,
    };
    let (closed_by, ()) = tokio::join!(reader.run(stop), writer.run(wr, rx));
    metrics::counter!("slotgate_client_connections_closed_total", "reason" => closed_by)
        .increment(1);
    drop(registration);
    tracing::debug!("client disconnected");
}

struct Reader {
    ctx: Arc<ProxyContext>,
    /// Why the connection closed: `client` unless the proxy closed it.
    closed_by: &'static str,
    /// When each command not yet answered was read, for the writer's statistics.
    timings: Timings,
    client: ClientState,
    parser: RequestParser,
    rd: OwnedReadHalf,
    /// Bytes read from the client and not yet parsed.
    buf: BytesMut,
    events: EventTx,
    permits: Arc<Semaphore>,
    next_seq: u64,
    /// The worker thread serving this client.
    worker: usize,
    /// The client's dedicated connection state: WATCH, MULTI, a blocked command.
    pinned: Pinned,
    /// Bytes of `Push` events sent and not yet written, shared with the writer.
    pushed: Arc<AtomicUsize>,
    /// The slots this client has written to, for `WAIT`.
    written: Written,
    /// This client's line in `CLIENT LIST`.
    entry: Arc<ClientEntry>,
    /// Cancelled by `CLIENT KILL` or the proxy's shutdown.
    stop: CancellationToken,
    /// Tells the writer to stop at once.
    kill: CancellationToken,
}

enum Flow {
    Continue,
    Stop,
}

impl Reader {
    /// Serves the client until the connection must close; says why, for the metrics.
    async fn run(mut self, shutdown: CancellationToken) -> &'static str {
        self.serve(shutdown).await;
        self.closed_by
    }

    async fn serve(&mut self, shutdown: CancellationToken) {
        loop {
            loop {
                match self.parser.parse(&mut self.buf) {
                    Ok(Some(cmd)) => {
                        if let Flow::Stop = self.handle(cmd).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "protocol error from client");
                        self.closed_by = "protocol_error";
                        self.reply_and_close(ProxyError::Protocol(e).to_reply())
                            .await;
                        return;
                    }
                }
            }
            let idle = self.ctx.config.timeout;
            let read = tokio::select! {
                _ = shutdown.cancelled() => {
                    self.closed_by = "killed";
                    return;
                }
                r = self.read_more() => r,
                _ = tokio::time::sleep(Duration::from_secs(idle)), if idle > 0 => {
                    tracing::debug!("client idle for longer than timeout; closing it");
                    self.closed_by = "idle_timeout";
                    return;
                }
            };
            match read {
                Ok(0) if self.parser.is_mid_command() || !self.buf.is_empty() => {
                    tracing::debug!("client closed the connection in the middle of a command");
                    return;
                }
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                    self.closed_by = "query_buffer_limit";
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "client connection reset");
                    return;
                }
            }
        }
    }

    /// Which pooled backend connection carries this client's requests to a node.
    fn conn_hint(&self) -> usize {
        self.ctx
            .config
            .connection_for(self.worker, self.client.id, self.client.protocol == 3)
    }

    /// Reads more of the client's bytes into the buffer; `Ok(0)` at end of stream. An error
    /// when the client's unparsed input passes the query buffer limit.
    async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.buf.len() > self.ctx.config.client_query_buffer_limit {
            tracing::warn!("client reached the query buffer limit; closing it");
            return Err(std::io::ErrorKind::OutOfMemory.into());
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let n = self.rd.read_buf(&mut self.buf).await?;
        self.ctx
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    /// Numbers the command, then answers it here or sends it on.
    async fn handle(&mut self, cmd: Command) -> Flow {
        // Bound what this client has in flight: wait for a reply to be written first.
        match self.permits.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => return Flow::Stop,
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ctx.stats.command_processed();
        self.entry.touch(self.ctx.stats.now_ms());

        let looked_up = table().lookup(&cmd);
        self.timings.push(Timing {
            what: match &looked_up {
                Ok(spec) => Counted::Command(spec),
                Err(_) => Counted::Rejected,
            },
            started: Instant::now(),
            cmd: cmd.raw().clone(),
        });
        let spec = match looked_up {
            Ok(spec) => spec,
            Err(e) => {
                // As in Redis, a command refused while queueing dooms the transaction.
                self.abort();
                self.reply(seq, ProxyError::Command(e).to_reply(), false);
                return Flow::Continue;
            }
        };
        // Refuses commands until the client authenticates; answers AUTH and HELLO.
        if let Some(reply) = super::auth::gate(
            spec,
            &cmd,
            &mut self.client,
            &mut self.parser,
            &self.entry,
            &self.ctx.config,
        ) {
            self.reply(seq, reply, false);
            return Flow::Continue;
        }
        if self.pinned.in_multi() && !matches!(spec.full_name(), "quit" | "reset") {
            return self.in_multi(spec, cmd, seq).await;
        }
        if matches!(
            spec.full_name(),
            "multi" | "exec" | "discard" | "watch" | "unwatch"
        ) {
            return self.transaction_control(spec, cmd, seq).await;
        }
        if matches!(spec.full_name(), "subscribe" | "psubscribe") {
            return self.subscribed(cmd, seq).await;
        }
        if matches!(spec.full_name(), "ssubscribe" | "sunsubscribe") {
            return self.sharded(cmd, seq).await;
        }
        if let Some(local) = local::handle(spec, &cmd, &mut self.client, &self.ctx) {
            if matches!(spec.full_name(), "client|setname" | "hello" | "reset") {
                self.entry.set_name(self.client.name.clone());
                self.entry.set_protocol(self.client.protocol);
            }
            return match local {
                Local::Reply(data) => {
                    self.reply(seq, data, false);
                    Flow::Continue
                }
                Local::InfoWithKeyspace(local) => {
                    let merge = Merge::Info {
                        local,
                        resp3: self.client.protocol == 3,
                    };
                    let ask = Command::from_args(["INFO", "keyspace"]);
                    let masters = self.ctx.router.masters();
                    self.fan_out(&ask, merge, masters, seq).await;
                    Flow::Continue
                }
                Local::ReplyAndClose(data) => {
                    self.closed_by = "quit";
                    self.reply(seq, data, true);
                    Flow::Stop
                }
            };
        }
        match route(spec, &cmd) {
            Ok(Route::Slot(slot)) if is_blocking(spec, &cmd) => {
                return self.blocking(cmd, slot, seq).await;
            }
            Ok(route) => self.send(route, spec, cmd, seq).await,
            Err(e) => self.reply(seq, e.to_reply(), false),
        }
        Flow::Continue
    }

    /// Sends a routed command to its backend(s).
    async fn send(&mut self, route: Route, spec: &CommandSpec, cmd: Command, seq: u64) {
        let router = &self.ctx.router;
        let client = ReplyTo::Client {
            events: self.events.clone(),
            seq,
        };
        match route {
            Route::Slot(_) | Route::Any => {
                if matches!(spec.full_name(), "eval" | "eval_ro") {
                    router.remember_script(cmd.arg(1));
                }
                let slot = match route {
                    Route::Slot(slot) => slot,
                    _ => keyless_slot(),
                };
                if spec.is_write() {
                    self.wrote_to(slot);
                }
                let router = &self.ctx.router;
                let request = Request::new(
                    cmd.raw().clone(),
                    Dest::Slot(slot),
                    self.conn_hint(),
                    client,
                )
                .read_only(spec.is_readonly())
                .reads_from(self.read_policy());
                router.dispatch(request).await;
            }
            Route::Split(split) => {
                metrics::histogram!("slotgate_split_subrequests").record(split.parts.len() as f64);
                let gather = Arc::new(Gather::new(
                    self.events.clone(),
                    seq,
                    split.merge(),
                    split.parts.len(),
                ));
                for (index, (slot, _)) in split.parts.iter().enumerate() {
                    let part = split.part_command(&cmd, index);
                    let reply_to = ReplyTo::Part {
                        gather: gather.clone(),
                        index,
                    };
                    let request = Request::new(
                        part.raw().clone(),
                        Dest::Slot(*slot),
                        self.conn_hint(),
                        reply_to,
                    )
                    .read_only(spec.is_readonly())
                    .reads_from(self.read_policy());
                    router.dispatch(request).await;
                }
            }
            Route::FanOut { merge, .. } if spec.full_name() == "wait" => {
                // On the connections that carried the client's writes, to the masters that
                // took them: WAIT counts the acknowledgements of its own connection's writes.
                let nodes = self.written_masters();
                let cmd = self.capped_wait(&cmd);
                self.fan_out(&cmd, merge, nodes, seq).await;
            }
            Route::FanOut { merge, all_nodes } => {
                match spec.full_name() {
                    "script|load" => router.remember_script(cmd.arg(2)),
                    "script|flush" => router.forget_scripts(),
                    _ => {}
                }
                let nodes = if all_nodes {
                    router.all_nodes()
                } else {
                    router.masters()
                };
                self.fan_out(&cmd, merge, nodes, seq).await;
            }
            Route::Scan => {
                let masters = router.masters();
                let Some((node, cursor)) =
                    scan::decode_cursor(cmd.arg(1)).filter(|&(node, _)| node < masters.len())
                else {
                    return self.reply(seq, Bytes::from_static(b"-ERR invalid cursor\r\n"), false);
                };
                let cursor = cursor.to_string();
                let page = Command::from_args(
                    [cmd.arg(0), cursor.as_bytes()]
                        .into_iter()
                        .chain(cmd.args().skip(2)),
                );
                let reply_to = ReplyTo::Scan {
                    events: self.events.clone(),
                    seq,
                    node,
                    nodes: masters.len(),
                };
                let dest = Dest::Node(masters[node].clone());
                router
                    .dispatch(Request::new(
                        page.raw().clone(),
                        dest,
                        self.conn_hint(),
                        reply_to,
                    ))
                    .await;
            }
        }
    }

    /// Sends `cmd` to every one of `nodes` and merges their replies into reply `seq`.
    async fn fan_out(&self, cmd: &Command, merge: Merge, nodes: Vec<NodeAddr>, seq: u64) {
        if nodes.is_empty() {
            let slot = keyless_slot();
            return self.reply(seq, ProxyError::SlotNotServed { slot }.to_reply(), false);
        }
        let gather = Arc::new(Gather::new(self.events.clone(), seq, merge, nodes.len()));
        for (index, node) in nodes.into_iter().enumerate() {
            let reply_to = ReplyTo::Part {
                gather: gather.clone(),
                index,
            };
            let request = Request::new(
                cmd.raw().clone(),
                Dest::Node(node),
                self.conn_hint(),
                reply_to,
            );
            self.ctx.router.dispatch(request).await;
        }
    }

    /// Where this client's reads go: the configured `read-from`, unless the client said
    /// `READONLY` (replicas, as a cluster client asks for them) or `READWRITE` (the master).
    fn read_policy(&self) -> ReadFrom {
        match (self.client.readonly, self.ctx.config.read_from) {
            (Some(false), _) => ReadFrom::Master,
            (Some(true), ReadFrom::Master) => ReadFrom::Replica,
            (_, policy) => policy,
        }
    }

    /// Remembers that the client wrote to `slot`, for `WAIT`.
    fn wrote_to(&mut self, slot: Slot) {
        if let Written::Slots(slots) = &mut self.written {
            if !slots.contains(&slot) {
                if slots.len() == MAX_WRITTEN_SLOTS {
                    self.written = Written::Everywhere;
                } else {
                    slots.push(slot);
                }
            }
        }
    }

    /// The masters this client's writes went to; every master if it wrote to more slots than
    /// are tracked, or to none (then WAIT answers for the whole cluster).
    fn written_masters(&self) -> Vec<NodeAddr> {
        let map = self.ctx.router.slot_map();
        let mut nodes: Vec<NodeAddr> = match &self.written {
            Written::Slots(slots) if !slots.is_empty() => slots
                .iter()
                .filter_map(|&s| map.master(s).cloned())
                .collect(),
            _ => return self.ctx.router.masters(),
        };
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// `WAIT numreplicas timeout` with the timeout capped below the request timeout: WAIT
    /// holds the connection it runs on, which other clients share. A capped WAIT answers
    /// what Redis answers at its timeout: the replicas reached so far.
    fn capped_wait(&self, cmd: &Command) -> Command {
        let cap = (self.ctx.config.request_timeout_ms * 3 / 4).max(1) as i64;
        match crate::resp::parse_i64(cmd.arg(2)) {
            Some(t) if t == 0 || t > cap => {
                let cap = cap.to_string();
                Command::from_args([cmd.arg(0), cmd.arg(1), cap.as_bytes()])
            }
            _ => cmd.clone(),
        }
    }

    fn reply(&self, seq: u64, data: Bytes, close: bool) {
        let _ = self.events.send(Event::Reply { seq, data, close });
    }

    /// Answers with `data` after every earlier command's reply, then closes.
    async fn reply_and_close(&mut self, data: Bytes) {
        if let Ok(p) = self.permits.acquire().await {
            p.forget();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.timings.push(Timing {
            what: Counted::Nothing,
            started: Instant::now(),
            cmd: Bytes::new(),
        });
        self.reply(seq, data, true);
    }
}

/// What a reply is counted as.
enum Counted {
    Command(&'static CommandSpec),
    /// An unknown command, or one refused before it had a spec (wrong arity).
    Rejected,
    /// A reply that answers no command (a protocol error).
    Nothing,
}

/// When a command was read, and what it was: the writer records its statistics when the reply
/// goes out.
struct Timing {
    what: Counted,
    started: Instant,
    /// The client's bytes for it (a reference count, not a copy), for the slow log.
    cmd: Bytes,
}

/// Timings of the commands whose replies are not written yet, in command order; the reader
/// pushes, the writer pops. A std mutex, never held across an await, and uncontended: the
/// reader and writer run in one task.
#[derive(Clone, Default)]
struct Timings(Arc<std::sync::Mutex<VecDeque<Timing>>>);

impl Timings {
    fn push(&self, t: Timing) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(t);
    }

    fn pop(&self) -> Option<Timing> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
}

struct Writer {
    ctx: Arc<ProxyContext>,
    /// Replies accounted per command group, for sampling latency.
    samples: [u32; Group::ALL.len()],
    timings: Timings,
    entry: Arc<ClientEntry>,
    permits: Arc<Semaphore>,
    /// Bytes of `Push` events sent and not yet written, shared with the reader.
    pushed: Arc<AtomicUsize>,
    kill: CancellationToken,
}

impl Writer {
    /// Records the statistics of the command `reply` answers (the oldest one unanswered).
    fn account(&mut self, reply: &[u8]) {
        if matches!(reply.first(), Some(b'-' | b'!')) {
            self.ctx.stats.errors.record(reply);
        }
        let Some(Timing { what, started, cmd }) = self.timings.pop() else {
            return;
        };
        let spec = match what {
            Counted::Command(spec) => spec,
            Counted::Rejected => return self.ctx.stats.commands.rejected(),
            Counted::Nothing => return,
        };
        let took = started.elapsed();
        let stats = &self.ctx.stats;
        stats
            .commands
            .record(spec.id(), took, reply.first() == Some(&b'-'));
        // Histograms keep every sample until the exporter's upkeep: the first of each group
        // and every LATENCY_SAMPLE-th after it are plenty for quantiles.
        let group = stats.commands.group(spec.id());
        let n = &mut self.samples[group as usize];
        if n.is_multiple_of(commandstats::LATENCY_SAMPLE) {
            commandstats::latency(group).record(took.as_secs_f64());
        }
        *n = n.wrapping_add(1);
        let threshold = self.ctx.config.slowlog_log_slower_than;
        if threshold >= 0 && took.as_micros() >= threshold as u128 {
            let mut buf = BytesMut::from(&cmd[..]);
            let parsed = RequestParser::new(self.ctx.config.limits()).parse(&mut buf);
            if let Ok(Some(cmd)) = parsed {
                stats.slowlog.push(
                    &cmd,
                    took,
                    self.entry.peer_addr,
                    self.entry.name(),
                    self.ctx.config.slowlog_max_len,
                );
            }
        }
    }

    /// Writes replies in command order until every command's reply is written and the reader
    /// is done, or the connection must close.
    async fn run(mut self, mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Event>) {
        // Replies that arrived before an earlier one: `window[i]` is for command `written + i`.
        let mut window: VecDeque<Option<(Bytes, bool)>> = VecDeque::new();
        let mut written: u64 = 0;
        let mut out = BytesMut::with_capacity(READ_CHUNK);
        let mut batch = Vec::with_capacity(64);
        let mut healthy = true;
        while rx.recv_many(&mut batch, 64).await > 0 {
            let mut close = false;
            for event in batch.drain(..) {
                match event {
                    Event::Reply {
                        seq,
                        data,
                        close: c,
                    } => {
                        let i = (seq - written) as usize;
                        if window.len() <= i {
                            window.resize(i + 1, None);
                        }
                        window[i] = Some((data, c));
                    }
                    Event::Push { data, close: c } => {
                        self.pushed.fetch_sub(data.len(), Ordering::Relaxed);
                        out.extend_from_slice(&data);
                        close |= c;
                    }
                    Event::Redirect {
                        request,
                        error,
                        from,
                    } => {
                        tokio::spawn(self.ctx.router.clone().redirect(request, error, from));
                    }
                    Event::Lost { request, error } => {
                        tokio::spawn(self.ctx.router.clone().hold(request, error));
                    }
                }
                // Replies go out in command order, as soon as each is next.
                while let Some(Some(_)) = window.front() {
                    let Some(Some((data, c))) = window.pop_front() else {
                        unreachable!("front was checked")
                    };
                    self.account(&data);
                    out.extend_from_slice(&data);
                    written += 1;
                    self.permits.add_permits(1);
                    if c {
                        close = true;
                        break;
                    }
                }
                if close {
                    break;
                }
            }
            if healthy && !out.is_empty() {
                let result = tokio::select! {
                    r = wr.write_all(&out) => r,
                    // The reader gave up on this client (a subscriber too slow to keep up).
                    _ = self.kill.cancelled() => return,
                };
                if result.is_ok() {
                    self.ctx
                        .stats
                        .net_output_bytes
                        .fetch_add(out.len() as u64, Ordering::Relaxed);
                }
                if let Err(e) = result {
                    tracing::debug!(error = %e, "cannot write to client");
                    // Keep draining so backends' replies have somewhere to go; the reader
                    // sees the broken connection and stops.
                    healthy = false;
                }
            }
            out.clear();
            if out.capacity() > 16 * READ_CHUNK {
                out = BytesMut::with_capacity(READ_CHUNK);
            }
            if close {
                let _ = wr.shutdown().await;
                self.permits.close();
                return;
            }
        }
        let _ = wr.shutdown().await;
    }
}
