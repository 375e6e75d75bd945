//! The commands that hold a connection: blocking commands, `WATCH` and `MULTI` … `EXEC`.
//!
//! Each runs on a [`Dedicated`] connection of the session's own, to the master of the slot
//! the command's keys (or the transaction's first keys) hash to. Before the first of them,
//! the session waits until every earlier command has been answered, so they run in the order
//! the client sent them; while one is under way the session sends nothing else, as a client
//! of one Redis server would see.
//!
//! A transaction's commands are checked as they come: a command for another slot is refused
//! with `CROSSSLOT` and the transaction then ends in `EXECABORT`, as one server aborts a
//! transaction with a queued error. Keyless commands before the transaction's first key are
//! queued by the proxy and sent once the node is known.

use bytes::Bytes;

use super::{keyless_slot, Flow, Reader};
use crate::command::CommandSpec;
use crate::proxy::dedicated::Dedicated;
use crate::proxy::error::ProxyError;
use crate::proxy::route::{route, Route};
use crate::proxy::router::Redirect;
use crate::resp::Command;
use crate::slot::Slot;
use crate::topology::NodeAddr;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";
const DISCARD: &[u8] = b"*1\r\n$7\r\nDISCARD\r\n";
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";
const QUEUED: &[u8] = b"+QUEUED\r\n";
const OK: &[u8] = b"+OK\r\n";

/// A session's state on its dedicated connection.
#[derive(Debug, Default)]
pub(super) struct Pinned {
    /// The connection, with the slot that `WATCH` or the transaction pinned it to.
    conn: Option<(Dedicated, Option<Slot>)>,
    /// Set between `MULTI` and `EXEC`/`DISCARD`.
    multi: Option<Multi>,
    /// The last dedicated connection, kept for the next command that needs one.
    spare: Option<Dedicated>,
}

#[derive(Debug, Default)]
struct Multi {
    /// `MULTI` has been sent on the connection.
    started: bool,
    /// Keyless commands queued by the proxy before the transaction's node is known.
    queued: Vec<Bytes>,
    /// A command was refused: `EXEC` will answer `EXECABORT`.
    aborted: bool,
}

impl Pinned {
    pub(super) fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
}

impl Reader {
    /// Keeps `conn` for the next command that needs a connection of its own.
    pub(super) fn pinned_spare(&mut self, conn: Dedicated) {
        self.pinned.spare = Some(conn);
    }

    /// Waits until every earlier command's reply is written: what follows runs after them.
    pub(super) async fn drain(&self) {
        let others = u32::try_from(self.ctx.config.max_pipeline - 1).unwrap_or(u32::MAX);
        if let Ok(permits) = self.permits.acquire_many(others).await {
            drop(permits);
        }
    }

    /// A dedicated connection to `addr` speaking the client's protocol (or RESP2 if
    /// `resp2_only`): the spare one if it fits, else a new one.
    pub(super) async fn dedicated_with(
        &mut self,
        addr: &NodeAddr,
        resp2_only: bool,
    ) -> Result<Dedicated, ProxyError> {
        let resp3 = self.client.protocol == 3 && !resp2_only;
        match self.pinned.spare.take() {
            Some(conn) if conn.addr() == addr && conn.is_resp3() == resp3 => Ok(conn),
            _ => {
                let timeout = self.ctx.config.connect_timeout();
                Dedicated::connect(addr, timeout, resp3, self.ctx.router.handshake()).await
            }
        }
    }

    pub(super) async fn dedicated(&mut self, addr: &NodeAddr) -> Result<Dedicated, ProxyError> {
        self.dedicated_with(addr, false).await
    }

    pub(super) fn master_of(&self, slot: Slot) -> Result<NodeAddr, ProxyError> {
        self.ctx
            .router
            .slot_map()
            .master(slot)
            .cloned()
            .ok_or_else(|| {
                self.ctx.router.request_refresh();
                ProxyError::SlotNotServed { slot }
            })
    }

    /// One command and its reply on the pinned connection, within the request timeout. A
    /// failed connection is dropped.
    async fn call_pinned(&mut self, cmd: &[u8]) -> Result<Bytes, ProxyError> {
        let timeout = self.ctx.config.request_timeout();
        let (conn, _) = self
            .pinned
            .conn
            .as_mut()
            .expect("called with a pinned connection");
        let addr = conn.addr().clone();
        let result = match tokio::time::timeout(timeout, conn.call(cmd)).await {
            Ok(r) => r,
            Err(_) => Err(ProxyError::Timeout {
                addr,
                timeout_ms: timeout.as_millis() as u64,
            }),
        };
        if result.is_err() {
            self.pinned.conn = None;
        }
        result
    }

    /// Ends the pinned state, keeping the connection as the spare.
    fn unpin(&mut self) {
        self.pinned.multi = None;
        if let Some((conn, _)) = self.pinned.conn.take() {
            self.pinned.spare = Some(conn);
        }
    }

    /// `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH` outside a transaction.
    pub(super) async fn transaction_control(
        &mut self,
        spec: &CommandSpec,
        cmd: Command,
        seq: u64,
    ) -> Flow {
        let reply = match spec.full_name() {
            "multi" => {
                self.drain().await;
                self.pinned.multi = Some(Multi::default());
                if self.pinned.conn.is_some() {
                    // WATCH pinned the connection already: the transaction starts there.
                    self.start_multi().await
                } else {
                    Ok(Bytes::from_static(OK))
                }
            }
            "exec" => Ok(error("ERR EXEC without MULTI")),
            "discard" => Ok(error("ERR DISCARD without MULTI")),
            "watch" => self.watch(spec, &cmd).await,
            _ => match self.pinned.conn {
                Some(_) => {
                    let reply = self.call_pinned(cmd.raw()).await;
                    self.unpin();
                    reply
                }
                None => Ok(Bytes::from_static(OK)),
            },
        };
        self.reply(seq, reply.unwrap_or_else(|e| e.to_reply()), false);
        Flow::Continue
    }

    /// `WATCH key…`: pins the session to the keys' master.
    async fn watch(&mut self, spec: &CommandSpec, cmd: &Command) -> Result<Bytes, ProxyError> {
        let slot = match route(spec, cmd)? {
            Route::Slot(slot) => slot,
            _ => return Err(ProxyError::CrossSlot),
        };
        if let Some((_, pinned)) = &self.pinned.conn {
            if *pinned != Some(slot) {
                return Err(ProxyError::CrossSlot);
            }
        } else {
            self.drain().await;
            let addr = self.master_of(slot)?;
            let conn = self.dedicated(&addr).await?;
            self.pinned.conn = Some((conn, Some(slot)));
        }
        self.call_pinned(cmd.raw()).await
    }

    /// Sends `MULTI` and the commands queued before the node was known.
    async fn start_multi(&mut self) -> Result<Bytes, ProxyError> {
        let reply = self.call_pinned(MULTI).await?;
        let multi = self.pinned.multi.as_mut().expect("in a transaction");
        multi.started = true;
        let queued = std::mem::take(&mut multi.queued);
        for q in queued {
            let r = self.call_pinned(&q).await?;
            if &r[..] != QUEUED {
                self.abort();
            }
        }
        Ok(reply)
    }

    /// Marks the open transaction, if any, to end in `EXECABORT`.
    pub(super) fn abort(&mut self) {
        if let Some(m) = self.pinned.multi.as_mut() {
            m.aborted = true;
        }
    }

    /// A command between `MULTI` and `EXEC`.
    pub(super) async fn in_multi(&mut self, spec: &CommandSpec, cmd: Command, seq: u64) -> Flow {
        let reply = match spec.full_name() {
            "multi" => Ok(error("ERR MULTI calls can not be nested")),
            "watch" => Ok(error("ERR WATCH inside MULTI is not allowed")),
            "exec" => self.exec().await,
            "discard" => {
                let reply = match self.pinned.conn {
                    Some(_) if self.pinned.multi.as_ref().is_some_and(|m| m.started) => {
                        self.call_pinned(DISCARD).await
                    }
                    _ => Ok(Bytes::from_static(OK)),
                };
                self.unpin();
                reply
            }
            _ => self.queue(spec, &cmd).await,
        };
        let reply = reply.unwrap_or_else(|e| {
            self.abort();
            e.to_reply()
        });
        self.reply(seq, reply, false);
        Flow::Continue
    }

    /// Queues one command of the transaction on its node, or refuses it (aborting).
    async fn queue(&mut self, spec: &CommandSpec, cmd: &Command) -> Result<Bytes, ProxyError> {
        // PING and ECHO are the proxy's own outside a transaction; inside one they are
        // queued like any keyless command.
        let routed = match spec.full_name() {
            "ping" | "echo" => Ok(Route::Any),
            _ => route(spec, cmd),
        };
        let slot = match routed? {
            Route::Slot(slot) => Some(slot),
            Route::Any => None,
            Route::Split(_) => return Err(ProxyError::CrossSlot),
            Route::FanOut { .. } | Route::Scan => {
                return Err(ProxyError::unsupported(
                    spec.full_name(),
                    "it needs every master, which one transaction cannot reach",
                ))
            }
        };
        match (&self.pinned.conn, slot) {
            (Some((_, Some(pinned))), Some(slot)) if *pinned != slot => {
                return Err(ProxyError::CrossSlot)
            }
            (None, None) => {
                // The node is not known yet: the proxy queues the command itself.
                let multi = self.pinned.multi.as_mut().expect("in a transaction");
                multi.queued.push(cmd.raw().clone());
                return Ok(Bytes::from_static(QUEUED));
            }
            (None, Some(slot)) => {
                let addr = self.master_of(slot)?;
                let conn = self.dedicated(&addr).await?;
                self.pinned.conn = Some((conn, Some(slot)));
            }
            _ => {}
        }
        if !self.pinned.multi.as_ref().is_some_and(|m| m.started) {
            self.start_multi().await?;
        }
        let reply = self.call_pinned(cmd.raw()).await?;
        if reply.starts_with(b"-MOVED ") || reply.starts_with(b"-ASK ") {
            // The slot moved under the transaction: the node has flagged it, and the client
            // gets no redirect it cannot follow.
            self.ctx.router.request_refresh();
            self.abort();
            return Ok(error(
                "ERR the slot moved during the transaction; EXEC will abort it, retry the transaction",
            ));
        }
        if reply.first() == Some(&b'-') {
            self.abort();
        }
        Ok(reply)
    }

    /// `EXEC`: runs the transaction on its node, or reports why it was discarded.
    async fn exec(&mut self) -> Result<Bytes, ProxyError> {
        let aborted = self.pinned.multi.as_ref().is_some_and(|m| m.aborted);
        if aborted {
            if self.pinned.multi.as_ref().is_some_and(|m| m.started) {
                let _ = self.call_pinned(DISCARD).await;
            }
            self.unpin();
            return Ok(error(
                "EXECABORT Transaction discarded because of previous errors.",
            ));
        }
        if self.pinned.conn.is_none() {
            // Only keyless commands: any master runs them.
            let result = async {
                let addr = self.master_of(keyless_slot())?;
                let conn = self.dedicated(&addr).await?;
                self.pinned.conn = Some((conn, None));
                self.start_multi().await
            }
            .await;
            if let Err(e) = result {
                self.unpin();
                return Err(e);
            }
        }
        let reply = self.call_pinned(EXEC).await;
        self.unpin();
        reply
    }

    /// A blocking command on a connection of its own, for as long as it blocks. If the client
    /// goes away meanwhile, the connection is closed, so nothing is popped for nobody.
    pub(super) async fn blocking(&mut self, cmd: Command, slot: Slot, seq: u64) -> Flow {
        self.drain().await;
        let mut target = match self.master_of(slot) {
            Ok(addr) => addr,
            Err(e) => {
                self.reply(seq, e.to_reply(), false);
                return Flow::Continue;
            }
        };
        let mut asking = false;
        for _ in 0..=self.ctx.config.max_redirects {
            let mut conn = match self.dedicated(&target).await {
                Ok(c) => c,
                Err(e) => {
                    self.reply(seq, e.to_reply(), false);
                    return Flow::Continue;
                }
            };
            let sent = if asking {
                conn.send(&[ASKING, &cmd.raw()[..]].concat()).await
            } else {
                conn.send(cmd.raw()).await
            };
            if let Err(e) = sent {
                self.reply(seq, e.to_reply(), false);
                return Flow::Continue;
            }
            let stop = self.stop.clone();
            let reply = loop {
                tokio::select! {
                    r = async {
                        if asking {
                            conn.reply().await?;
                        }
                        conn.reply().await
                    } => break r,
                    read = self.read_more() => match read {
                        // The client left (or broke its limits): drop the connection.
                        Ok(0) | Err(_) => return Flow::Stop,
                        Ok(_) => continue,
                    },
                    _ = stop.cancelled() => return Flow::Stop,
                }
            };
            let reply = match reply {
                Ok(r) => r,
                Err(e) => {
                    self.reply(seq, e.to_reply(), false);
                    return Flow::Continue;
                }
            };
            let text = String::from_utf8_lossy(&reply[1..reply.len().saturating_sub(2)]);
            match (reply.first(), Redirect::parse(&text, &target)) {
                (Some(b'-'), Some(Redirect::Moved { to, .. })) => {
                    self.ctx.router.request_refresh();
                    target = to;
                    asking = false;
                }
                (Some(b'-'), Some(Redirect::Ask { to, .. })) => {
                    target = to;
                    asking = true;
                }
                _ => {
                    self.pinned.spare = Some(conn);
                    self.reply(seq, reply, false);
                    return Flow::Continue;
                }
            }
        }
        self.reply(
            seq,
            ProxyError::TooManyRedirects {
                last: "MOVED".into(),
            }
            .to_reply(),
            false,
        );
        Flow::Continue
    }
}

fn error(text: &str) -> Bytes {
    let mut b = bytes::BytesMut::with_capacity(text.len() + 3);
    crate::resp::write_error(&mut b, text.as_bytes());
    b.freeze()
}
