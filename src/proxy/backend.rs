//! One pipelined connection to a backend node, shared by many client sessions.
//!
//! Sessions hand [`Request`]s to the connection's writer task through a bounded channel. The
//! writer takes every request waiting (up to a batch), records each in the in-flight FIFO, and
//! writes them all with one syscall. The reader task cuts replies off the socket with the
//! [`FrameScanner`] and pairs each with the oldest in-flight request: Redis answers a
//! connection's commands in order. If the connection fails or the oldest request waits longer
//! than the request timeout, every request still in flight gets an error reply: none is left
//! waiting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::error::{io_reason, ProxyError};
use super::handshake::Handshake;
use super::request::{is_redirect, Event, Request};
use crate::resp::{FrameScanner, Limits};
use crate::topology::NodeAddr;

const HELLO_3: &[u8] = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
const READONLY: &[u8] = b"*1\r\n$8\r\nREADONLY\r\n";

/// One reply in this many is recorded in the node's latency histogram.
const LATENCY_SAMPLE: u32 = 16;

/// The most requests the writer takes from its queue for one write.
const WRITE_BATCH: usize = 256;
/// Read buffer growth step, and the least free space before a read.
const READ_CHUNK: usize = 64 * 1024;

/// How backend connections behave; shared by every connection of the proxy.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Requests queued for one connection before senders wait.
    pub queue: usize,
    /// Bounds on what a backend's replies may make the reader hold.
    pub reply_limits: Limits,
    /// What a new connection says first (`AUTH`).
    pub handshake: Arc<Handshake>,
}

/// A handle to one backend connection's tasks.
#[derive(Debug)]
pub struct BackendConn {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Requests written (or about to be) and not yet answered, oldest first. A std mutex: the
    /// writer holds it to push a batch, the reader to pop one; neither awaits while holding it.
    inflight: Mutex<Inflight>,
    /// Set when the connection's first failure happens; stops both tasks.
    closed: CancellationToken,
    /// The same fact, for the per-request check that the connection is open.
    failed: AtomicBool,
}

#[derive(Debug, Default)]
struct Inflight {
    queue: VecDeque<Pending>,
    /// Once set, no request is added: new ones are failed with this error.
    failed: Option<ProxyError>,
}

#[derive(Debug)]
struct Pending {
    /// `None` for the reply to a request's prefix (`ASKING`, `SCRIPT LOAD`), which is dropped.
    request: Option<Request>,
    sent_at: Instant,
}

/// Why a connection ended, as the outcome of a failed health check on the node.
#[derive(Debug, Clone)]
pub enum ConnEnd {
    /// Connecting failed: nothing was sent.
    ConnectFailed(String),
    /// The connection was up and then failed.
    Lost,
    /// The connection was closed because nobody uses it any more.
    Closed,
}

impl BackendConn {
    /// Starts connecting to `addr` and returns at once; requests sent meanwhile wait in the
    /// queue. `on_up` is called once the connection is open and authenticated, and `on_end`
    /// is told how the connection ended.
    pub fn spawn(
        addr: NodeAddr,
        settings: &BackendSettings,
        resp3: bool,
        on_up: impl FnOnce() + Send + 'static,
        on_end: impl FnOnce(ConnEnd) + Send + 'static,
    ) -> Arc<BackendConn> {
        let (tx, rx) = mpsc::channel(settings.queue);
        let shared = Arc::new(Shared {
            inflight: Mutex::new(Inflight::default()),
            closed: CancellationToken::new(),
            failed: AtomicBool::new(false),
        });
        let task = ConnTask {
            addr,
            resp3,
            settings: settings.clone(),
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            let end = task.run(rx, on_up).await;
            on_end(end);
        });
        Arc::new(BackendConn { tx, shared })
    }

    /// Requests written (or being written) and not yet answered.
    pub fn inflight(&self) -> usize {
        lock(&self.shared.inflight).queue.len()
    }

    /// Whether new requests can still be sent on this connection.
    pub fn is_open(&self) -> bool {
        !self.shared.failed.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Queues a request if the queue has room, else gives it back.
    // Giving the request back (rather than boxing it) keeps the hot path free of allocation.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, request: Request) -> Result<(), Request> {
        self.tx.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
        })
    }

    /// Queues a request, waiting while the queue is full. Gives the request back if the
    /// connection has closed, so the caller can fail or resend it.
    pub async fn send(&self, request: Request) -> Result<(), Request> {
        self.tx.send(request).await.map_err(|e| e.0)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum WriterStop {
    /// Every sender is gone.
    Idle,
    Failed,
}

struct ConnTask {
    addr: NodeAddr,
    /// Say `HELLO 3` first: this connection carries RESP3 clients' requests, whose replies
    /// must be in RESP3.
    resp3: bool,
    settings: BackendSettings,
    shared: Arc<Shared>,
}

impl ConnTask {
    async fn run(self, mut rx: mpsc::Receiver<Request>, on_up: impl FnOnce()) -> ConnEnd {
        let connect = tokio::time::timeout(
            self.settings.connect_timeout,
            TcpStream::connect(self.addr.as_str()),
        )
        .await;
        let mut stream = match connect {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return self.refuse(rx, io_reason(&e)).await,
            Err(_) => return self.refuse(rx, "connect timed out".into()).await,
        };
        let handshake = self.settings.handshake.clone();
        if let Err(reason) = handshake
            .run(&mut stream, self.settings.connect_timeout)
            .await
        {
            return self.refuse(rx, reason).await;
        }
        on_up();
        // Latency matters more than packet count: the writer already batches.
        let _ = stream.set_nodelay(true);
        tracing::debug!(peer_addr = %self.addr, "backend connected");
        let (rd, wr) = stream.into_split();
        let reader = tokio::spawn(
            Reader {
                addr: self.addr.clone(),
                shared: self.shared.clone(),
                settings: self.settings.clone(),
            }
            .run(rd),
        );
        let mut wr = wr;
        // Every connection may carry reads sent to a replica: READONLY lets a replica serve
        // them (a master ignores it). Replies to these are dropped.
        let mut hello: Vec<&[u8]> = vec![READONLY];
        if self.resp3 {
            hello.push(HELLO_3);
        }
        {
            let mut inflight = lock(&self.shared.inflight);
            for _ in &hello {
                inflight.queue.push_back(Pending {
                    request: None,
                    sent_at: Instant::now(),
                });
            }
        }
        if wr.write_all(&hello.concat()).await.is_err() {
            self.fail_inflight(ProxyError::ConnectionLost {
                addr: self.addr.clone(),
            });
        }
        let stop = self.write_loop(&mut wr, &mut rx).await;
        if stop == WriterStop::Idle {
            // Nobody can send any more: let the replies still due arrive (the reader's request
            // timeout bounds the wait) before closing.
            while !self.shared.closed.is_cancelled()
                && !lock(&self.shared.inflight).queue.is_empty()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // The connection is done: stop the reader, fail whatever is still in flight, and fail
        // what was queued but never written.
        self.fail_inflight(ProxyError::ConnectionLost {
            addr: self.addr.clone(),
        });
        let _ = reader.await;
        rx.close();
        let unsent = ProxyError::Connect {
            addr: self.addr.clone(),
            reason: "connection closed".into(),
        };
        while let Some(r) = rx.recv().await {
            r.lost(&unsent, false);
        }
        match stop {
            WriterStop::Idle => ConnEnd::Closed,
            WriterStop::Failed => ConnEnd::Lost,
        }
    }

    /// Connecting failed: every queued request gets the reason.
    async fn refuse(&self, mut rx: mpsc::Receiver<Request>, reason: String) -> ConnEnd {
        // The pool says it once, when the node goes down, not on every attempt.
        tracing::debug!(peer_addr = %self.addr, %reason, "cannot connect to backend");
        let err = ProxyError::Connect {
            addr: self.addr.clone(),
            reason: reason.clone(),
        };
        self.fail_inflight(err.clone());
        rx.close();
        while let Some(r) = rx.recv().await {
            r.lost(&err, false);
        }
        ConnEnd::ConnectFailed(reason)
    }

    async fn write_loop(
        &self,
        wr: &mut OwnedWriteHalf,
        rx: &mut mpsc::Receiver<Request>,
    ) -> WriterStop {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        let mut out = BytesMut::with_capacity(READ_CHUNK);
        loop {
            let n = tokio::select! {
                _ = self.shared.closed.cancelled() => return WriterStop::Failed,
                n = rx.recv_many(&mut batch, WRITE_BATCH) => n,
            };
            if n == 0 {
                // Every handle is gone: the pool replaced or dropped this connection.
                return WriterStop::Idle;
            }
            for r in &batch {
                if let Some(prefix) = &r.prefix {
                    out.extend_from_slice(prefix);
                }
                out.extend_from_slice(&r.cmd);
            }
            {
                let mut inflight = lock(&self.shared.inflight);
                if let Some(err) = inflight.failed.clone() {
                    drop(inflight);
                    batch.drain(..).for_each(|r| r.lost(&err, false));
                    return WriterStop::Failed;
                }
                let now = Instant::now();
                for r in batch.drain(..) {
                    if r.prefix.is_some() {
                        inflight.queue.push_back(Pending {
                            request: None,
                            sent_at: now,
                        });
                    }
                    inflight.queue.push_back(Pending {
                        request: Some(r),
                        sent_at: now,
                    });
                }
            }
            let written = tokio::select! {
                _ = self.shared.closed.cancelled() => return WriterStop::Failed,
                r = wr.write_all(&out) => r,
            };
            if let Err(e) = written {
                tracing::warn!(peer_addr = %self.addr, error = %io_reason(&e), "backend write failed");
                return WriterStop::Failed;
            }
            out.clear();
            if out.capacity() > 4 * READ_CHUNK {
                out = BytesMut::with_capacity(READ_CHUNK);
            }
        }
    }

    fn fail_inflight(&self, err: ProxyError) {
        fail_all(&self.shared, err);
    }
}

/// Records the connection's failure and fails every request in flight, once.
fn fail_all(shared: &Shared, err: ProxyError) {
    let drained = {
        let mut inflight = lock(&shared.inflight);
        if inflight.failed.is_some() {
            return;
        }
        inflight.failed = Some(err.clone());
        std::mem::take(&mut inflight.queue)
    };
    shared.failed.store(true, Ordering::Relaxed);
    shared.closed.cancel();
    for p in drained {
        if let Some(r) = p.request {
            r.lost(&err, true);
        }
    }
}

fn lock(m: &Mutex<Inflight>) -> MutexGuard<'_, Inflight> {
    // A panic while holding this lock cannot leave the queue half-changed in a way that
    // matters more than losing the connection, so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Reader {
    addr: NodeAddr,
    shared: Arc<Shared>,
    settings: BackendSettings,
}

impl Reader {
    async fn run(self, mut rd: OwnedReadHalf) {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut scanner = FrameScanner::new(self.settings.reply_limits);
        let mut replies: Vec<Bytes> = Vec::with_capacity(64);
        let mut answered: Vec<Pending> = Vec::with_capacity(64);
        let mut sampled: u32 = 0;
        let node = self.addr.to_string();
        let requests = metrics::counter!("slotgate_backend_requests_total", "node" => node.clone());
        let latency =
            metrics::histogram!("slotgate_backend_request_duration_seconds", "node" => node);
        let timeout = self.settings.request_timeout;
        let mut tick = tokio::time::interval(
            (timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let read = tokio::select! {
                _ = self.shared.closed.cancelled() => return,
                _ = tick.tick() => {
                    if self.oldest_expired(timeout) {
                        tracing::warn!(peer_addr = %self.addr, "backend request timed out");
                        return self.fail(ProxyError::Timeout {
                            addr: self.addr.clone(),
                            timeout_ms: timeout.as_millis() as u64,
                        });
                    }
                    continue;
                }
                r = rd.read_buf(&mut buf) => r,
            };
            match read {
                Ok(0) => {
                    tracing::warn!(peer_addr = %self.addr, "backend closed the connection");
                    return self.lost();
                }
                Err(e) => {
                    tracing::warn!(peer_addr = %self.addr, error = %io_reason(&e), "backend read failed");
                    return self.lost();
                }
                Ok(_) => {}
            }
            loop {
                match scanner.scan(&buf) {
                    Ok(Some(len)) => replies.push(buf.split_to(len).freeze()),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(peer_addr = %self.addr, error = %e, "backend sent invalid RESP");
                        return self.lost();
                    }
                }
            }
            if replies.is_empty() {
                continue;
            }
            {
                let mut inflight = lock(&self.shared.inflight);
                if inflight.queue.len() < replies.len() {
                    drop(inflight);
                    tracing::warn!(peer_addr = %self.addr, "backend sent a reply nobody asked for");
                    return self.lost();
                }
                answered.extend(inflight.queue.drain(..replies.len()));
            }
            let now = Instant::now();
            requests.increment(answered.len() as u64);
            for (pending, reply) in answered.drain(..).zip(replies.drain(..)) {
                sampled = sampled.wrapping_add(1);
                if sampled.is_multiple_of(LATENCY_SAMPLE) {
                    latency.record(now.saturating_duration_since(pending.sent_at).as_secs_f64());
                }
                if let Some(request) = pending.request {
                    self.deliver(request, reply);
                }
            }
        }
    }

    fn deliver(&self, request: Request, reply: Bytes) {
        if is_redirect(&reply) {
            let events = request.reply_to.events().clone();
            let _ = events.send(Event::Redirect {
                request,
                error: reply,
                from: self.addr.clone(),
            });
        } else {
            request.reply(reply);
        }
    }

    fn oldest_expired(&self, timeout: Duration) -> bool {
        lock(&self.shared.inflight)
            .queue
            .front()
            .is_some_and(|p| p.sent_at.elapsed() > timeout)
    }

    fn lost(&self) {
        self.fail(ProxyError::ConnectionLost {
            addr: self.addr.clone(),
        })
    }

    fn fail(&self, err: ProxyError) {
        fail_all(&self.shared, err);
    }
}
