//! A command on its way to a backend, and the events that carry results back to its session.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::config::ReadFrom;
use super::error::ProxyError;
use super::gather::Gather;
use super::scan;
use crate::slot::Slot;
use crate::topology::NodeAddr;

/// What a session's writer receives.
///
/// The channel carrying these is unbounded, but never holds more than the session's
/// `max-pipeline` events: the session takes a permit for each command it reads and gives it
/// back only when that command's reply is written.
#[derive(Debug)]
pub enum Event {
    /// The reply to command number `seq` of the session; `close` ends the connection after it.
    Reply { seq: u64, data: Bytes, close: bool },
    /// Bytes for the client in subscribed mode (messages, confirmations), written in the order
    /// they come. The session sends them only when every numbered reply has been written.
    Push { data: Bytes, close: bool },
    /// A backend answered `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` or `NOSCRIPT`:
    /// the proxy, not the client, must act on it.
    Redirect {
        request: Request,
        error: Bytes,
        from: NodeAddr,
    },
    /// The request's backend is unreachable and the request can safely be sent again: it is
    /// held until its slot has a reachable master (see [`Request::lost`]).
    Lost { request: Request, error: ProxyError },
}

pub type EventTx = mpsc::UnboundedSender<Event>;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// To the master serving this slot (followed through redirects).
    Slot(Slot),
    /// To this node, whatever it serves (fan-out and `SCAN`).
    Node(NodeAddr),
}

/// Where a request's reply goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// Straight back to the client, as the reply to its command number `seq`.
    Client { events: EventTx, seq: u64 },
    /// Into part `index` of a reply gathered from several backends.
    Part { gather: Arc<Gather>, index: usize },
    /// A page of `SCAN` from master `node` of `nodes`, whose cursor the proxy rewrites.
    Scan {
        events: EventTx,
        seq: u64,
        node: usize,
        nodes: usize,
    },
}

impl ReplyTo {
    /// The session the reply is for.
    pub fn events(&self) -> &EventTx {
        match self {
            ReplyTo::Client { events, .. } | ReplyTo::Scan { events, .. } => events,
            ReplyTo::Part { gather, .. } => gather.events(),
        }
    }
}

/// A command bound for a backend, with what is needed to resend it after a redirect.
#[derive(Debug)]
pub struct Request {
    /// The command's RESP bytes, usually the client's own.
    pub cmd: Bytes,
    pub dest: Dest,
    /// Which of the node's pooled connections to use: always the same for one session (so
    /// its commands to a node run in the order it sent them), and one of its own worker's.
    pub conn_hint: usize,
    /// A command written just before this one, whose reply is dropped: `ASKING` after an
    /// `ASK`, `SCRIPT LOAD` after a `NOSCRIPT`.
    pub prefix: Option<Bytes>,
    /// `MOVED`/`ASK`/`NOSCRIPT` hops followed so far.
    pub hops: u32,
    /// When it was first held or retried (an unreachable backend, `TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`): retries stop `failover-hold-ms` later. (Not stamped on dispatch: the clock
    /// is not free.)
    pub retry_since: Option<Instant>,
    /// The command only reads: it may go to a replica, and may be sent again after its
    /// connection was lost with it written.
    pub read_only: bool,
    /// Where it may be read from: not [`ReadFrom::Master`] only for a read-only command of
    /// a client whose reads may go to replicas.
    pub read_from: ReadFrom,
    /// Sent to a replica: a redirect or failure there sends it to the master instead.
    pub to_replica: bool,
    pub reply_to: ReplyTo,
}

impl Request {
    pub fn new(cmd: Bytes, dest: Dest, conn_hint: usize, reply_to: ReplyTo) -> Request {
        Request {
            cmd,
            dest,
            conn_hint,
            prefix: None,
            hops: 0,
            retry_since: None,
            read_only: false,
            read_from: ReadFrom::Master,
            to_replica: false,
            reply_to,
        }
    }

    /// Marks the request as one that only reads.
    pub fn read_only(mut self, read_only: bool) -> Request {
        self.read_only = read_only;
        self
    }

    /// Lets the request go to a replica, per `read_from`, if it only reads.
    pub fn reads_from(mut self, read_from: ReadFrom) -> Request {
        if self.read_only {
            self.read_from = read_from;
        }
        self
    }

    /// After a redirect or failure on a replica: the master answers from now on.
    pub fn back_to_master(&mut self) {
        if self.to_replica {
            self.to_replica = false;
            self.read_from = ReadFrom::Master;
        }
    }

    /// The request's backend became unreachable: with `written`, after the request was
    /// written to it. A request that surely did not run (not written), or that only reads,
    /// is handed back to its session to be held and sent again once its slot has a
    /// reachable master; a write that may have run gets `error`, since sending it again
    /// could apply it twice. Requests for one named node are not held: no other node can
    /// answer them.
    pub fn lost(self, error: &ProxyError, written: bool) {
        let again = matches!(self.dest, Dest::Slot(_)) && (!written || self.read_only);
        if !again {
            return self.fail(error);
        }
        let events = self.reply_to.events().clone();
        // A session that has gone away drops the request: nobody waits for it.
        let _ = events.send(Event::Lost {
            request: self,
            error: error.clone(),
        });
    }

    /// The slot the request is routed by, if it is routed by slot.
    pub fn slot(&self) -> Option<Slot> {
        match self.dest {
            Dest::Slot(s) => Some(s),
            Dest::Node(_) => None,
        }
    }

    /// Delivers the reply. A session that has gone away simply drops it.
    pub fn reply(self, data: Bytes) {
        match self.reply_to {
            ReplyTo::Client { events, seq } => {
                let _ = events.send(Event::Reply {
                    seq,
                    data,
                    close: false,
                });
            }
            ReplyTo::Part { gather, index } => gather.put(index, data),
            ReplyTo::Scan {
                events,
                seq,
                node,
                nodes,
            } => {
                let _ = events.send(Event::Reply {
                    seq,
                    data: scan::rewrite_reply(data, node, nodes),
                    close: false,
                });
            }
        }
    }

    pub fn fail(self, err: &ProxyError) {
        self.reply(err.to_reply());
    }
}

/// Whether a backend's reply is an error the proxy handles itself.
pub fn is_redirect(reply: &[u8]) -> bool {
    reply.first() == Some(&b'-')
        && (reply.starts_with(b"-MOVED ")
            || reply.starts_with(b"-ASK ")
            || reply.starts_with(b"-TRYAGAIN")
            || reply.starts_with(b"-CLUSTERDOWN")
            || reply.starts_with(b"-LOADING")
            || reply.starts_with(b"-NOSCRIPT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_recognised() {
        assert!(is_redirect(b"-MOVED 1 127.0.0.1:1\r\n"));
        assert!(is_redirect(b"-ASK 1 127.0.0.1:1\r\n"));
        assert!(is_redirect(
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        ));
        assert!(is_redirect(b"-CLUSTERDOWN The cluster is down\r\n"));
        assert!(is_redirect(
            b"-LOADING Redis is loading the dataset in memory\r\n"
        ));
        assert!(is_redirect(
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
        ));
        assert!(!is_redirect(b"-ERR MOVED\r\n"));
        assert!(!is_redirect(b"+MOVED 1 a:1\r\n"));
    }
}
