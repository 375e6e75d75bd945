//! Subscribed mode: SUBSCRIBE and PSUBSCRIBE on a connection of the client's own.
//!
//! In a Redis Cluster a `PUBLISH` reaches every node, so one node's subscriptions see every
//! message: the session subscribes on the master of slot 0. From the first subscription until
//! an unsubscribe confirmation says none is left, every frame that node sends is forwarded to
//! the client as it comes, and the client may only send what Redis allows a subscriber.
//! Messages waiting to be written are bounded: a subscriber that falls more than
//! [`PUBSUB_OUTPUT_LIMIT`] bytes behind is disconnected, as Redis's
//! `client-output-buffer-limit pubsub` does, rather than growing the proxy's memory.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::sharded::NO_MIXING;
use super::{keyless_slot, Flow, Reader};
use crate::command::table;
use crate::proxy::dedicated::Dedicated;
use crate::proxy::error::ProxyError;
use crate::proxy::local::ClientState;
use crate::proxy::request::Event;
use crate::resp::Command;

/// Bytes of messages a subscriber may have waiting (Redis's default hard limit, 32 MiB).
pub const PUBSUB_OUTPUT_LIMIT: usize = 32 * 1024 * 1024;

impl Reader {
    pub(super) fn push(&self, data: Bytes, close: bool) {
        self.pushed.fetch_add(data.len(), Ordering::Relaxed);
        let _ = self.events.send(Event::Push { data, close });
    }

    /// `SUBSCRIBE`/`PSUBSCRIBE` from a client not yet subscribed: serves the client in
    /// subscribed mode until it leaves it (back to normal service) or goes away.
    pub(super) async fn subscribed(&mut self, first: Command, seq: u64) -> Flow {
        self.drain().await;
        // Always RESP2 on the node's side: subscribed mode then has one set of rules, and
        // frames are turned into RESP3 pushes for RESP3 clients.
        let conn = match self.master_of(keyless_slot()) {
            Ok(addr) => self.dedicated_with(&addr, true).await,
            Err(e) => Err(e),
        };
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                self.reply(seq, e.to_reply(), false);
                return Flow::Continue;
            }
        };
        // The confirmations come as pushes: the numbered reply is empty.
        self.reply(seq, Bytes::new(), false);
        if let Err(e) = conn.send(first.raw()).await {
            self.push(e.to_reply(), true);
            return Flow::Stop;
        }
        let mut pongs = Pongs::default();
        let stop = self.stop.clone();
        loop {
            // After an unsubscribe, wait to learn whether subscribed mode is over before
            // reading the client's next command; and stop reading while too many replies are
            // owed.
            while pongs.mode_checks == 0 && pongs.queue.len() < MAX_OWED {
                match self.parser.parse(&mut self.buf) {
                    Ok(Some(cmd)) => {
                        if let Err(e) = self.subscriber_command(&mut conn, cmd, &mut pongs).await {
                            self.push(e.to_reply(), true);
                            return Flow::Stop;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.push(ProxyError::Protocol(e).to_reply(), true);
                        return Flow::Stop;
                    }
                }
            }
            tokio::select! {
                frame = conn.reply() => {
                    let Ok(frame) = frame else {
                        self.push(
                            Bytes::from_static(b"-ERR subscription connection lost\r\n"),
                            true,
                        );
                        return Flow::Stop;
                    };
                    let is_pong = frame.starts_with(b"*2\r\n$4\r\npong\r\n") || &frame[..] == b"+PONG\r\n";
                    match (is_pong, pongs.queue.front()) {
                        (true, Some(_)) => match pongs.pop().expect("front exists") {
                            Pong::Client => {
                                let frame = self.for_client(frame);
                                self.push(frame, false)
                            }
                            Pong::Reply(text) => self.push(text, false),
                            Pong::Quit => {
                                self.closed_by = "quit";
                                self.push(Bytes::from_static(b"+OK\r\n"), true);
                                return Flow::Stop;
                            }
                            Pong::ModeCheck if &frame[..] == b"+PONG\r\n" => {
                                // The node left subscribed mode: so does the client.
                                self.pinned_spare(conn);
                                return Flow::Continue;
                            }
                            Pong::ModeCheck => {}
                        },
                        _ => {
                            if frame.starts_with(b"+RESET") {
                                self.client = ClientState::new(self.client.id, self.client.peer_addr);
                                crate::proxy::auth::after_reset(
                                    &mut self.parser,
                                    &self.entry,
                                    &self.ctx.config,
                                );
                            }
                            let frame = self.for_client(frame);
                            self.push(frame, false);
                        }
                    }
                    if self.pushed.load(Ordering::Relaxed) > PUBSUB_OUTPUT_LIMIT {
                        tracing::warn!("subscriber too slow: output limit reached, closing it");
                self.closed_by = "output_buffer_limit";
                        self.kill.cancel();
                        return Flow::Stop;
                    }
                }
                read = self.read_more() => match read {
                    Ok(0) | Err(_) => return Flow::Stop,
                    Ok(_) => {}
                },
                // CLIENT KILL, or the proxy shutting down.
                _ = stop.cancelled() => return Flow::Stop,
            }
        }
    }

    /// A frame from the (RESP2) subscription connection as this client's protocol has it:
    /// for RESP3, messages and confirmations are push frames and a subscriber's `PING` is
    /// answered like any `PING`.
    pub(super) fn for_client(&self, frame: Bytes) -> Bytes {
        if self.client.protocol != 3 || frame.first() != Some(&b'*') {
            return frame;
        }
        if let Some(message) = frame.strip_prefix(b"*2\r\n$4\r\npong\r\n") {
            if message == b"$0\r\n\r\n" {
                return Bytes::from_static(b"+PONG\r\n");
            }
            return frame.slice(frame.len() - message.len()..);
        }
        let mut push = frame.to_vec();
        push[0] = b'>';
        Bytes::from(push)
    }

    /// One command from a subscriber, forwarded in order: what the node allows a subscriber
    /// goes to it; anything else is answered by the proxy, in its turn.
    async fn subscriber_command(
        &mut self,
        conn: &mut Dedicated,
        cmd: Command,
        pongs: &mut Pongs,
    ) -> Result<(), ProxyError> {
        let spec = match table().lookup(&cmd) {
            Ok(spec) => spec,
            Err(e) => {
                // Unknown commands and wrong arity get Redis's own error, in their turn.
                pongs.push(Pong::Reply(ProxyError::Command(e).to_reply()));
                return conn.send(PING).await;
            }
        };
        let name = spec.full_name();
        match name {
            "subscribe" | "psubscribe" => conn.send(cmd.raw()).await,
            "ping" => {
                pongs.push(Pong::Client);
                conn.send(cmd.raw()).await
            }
            "unsubscribe" | "punsubscribe" | "reset" => {
                pongs.push(Pong::ModeCheck);
                conn.send(&[&cmd.raw()[..], PING].concat()).await
            }
            "ssubscribe" => {
                pongs.push(Pong::Reply(Bytes::from_static(NO_MIXING)));
                conn.send(PING).await
            }
            "sunsubscribe" => {
                pongs.push(Pong::Reply(self.not_subscribed_sunsubscribe(&cmd)));
                conn.send(PING).await
            }
            "quit" => {
                pongs.push(Pong::Quit);
                conn.send(PING).await
            }
            _ => {
                let text = format!(
                    "-ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
                );
                pongs.push(Pong::Reply(Bytes::from(text)));
                conn.send(PING).await
            }
        }
    }
}

/// A `PING` sent on the subscription connection, and what its reply stands for. The node
/// answers in order, so the replies keep the client's command order.
#[derive(Debug)]
enum Pong {
    /// The client's own `PING`: its reply goes to the client.
    Client,
    /// A command the proxy refuses: this is its reply, in its turn.
    Reply(Bytes),
    /// Sent after an unsubscribe or `RESET`: `+PONG` means the node left subscribed mode.
    ModeCheck,
    /// The client said `QUIT`: `+OK` and close, after every earlier reply.
    Quit,
}

/// The replies the subscription connection owes, in order.
#[derive(Default)]
struct Pongs {
    queue: VecDeque<Pong>,
    /// How many of them are [`Pong::ModeCheck`].
    mode_checks: usize,
}

impl Pongs {
    fn push(&mut self, pong: Pong) {
        self.mode_checks += usize::from(matches!(pong, Pong::ModeCheck));
        self.queue.push_back(pong);
    }

    fn pop(&mut self) -> Option<Pong> {
        let pong = self.queue.pop_front()?;
        self.mode_checks -= usize::from(matches!(pong, Pong::ModeCheck));
        Some(pong)
    }
}

/// Replies a subscriber may be owed before the proxy stops reading its commands: a client
/// that pipelines without reading waits on TCP, not on the proxy's memory.
const MAX_OWED: usize = 1024;

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
