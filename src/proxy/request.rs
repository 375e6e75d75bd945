//! A command on its way to a backend, and the events that carry results back to its session.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::error::ProxyError;
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
    /// A backend answered `MOVED`, `ASK`, `TRYAGAIN` or `CLUSTERDOWN`: the proxy, not the
    /// client, must act on it.
    Redirect {
        request: Request,
        error: Bytes,
        from: NodeAddr,
    },
}

pub type EventTx = mpsc::UnboundedSender<Event>;

/// A command bound for a backend, with what is needed to resend it after a redirect.
#[derive(Debug)]
pub struct Request {
    /// The command's RESP bytes, usually the client's own.
    pub cmd: Bytes,
    pub slot: Slot,
    /// Which of the node's pooled connections to use: always the same for one session (so
    /// its commands to a node run in the order it sent them), and one of its own worker's.
    pub conn_hint: usize,
    /// Send `ASKING` first (after an `ASK` redirect).
    pub asking: bool,
    /// `MOVED`/`ASK` hops followed so far.
    pub hops: u32,
    /// When the first `TRYAGAIN`/`CLUSTERDOWN` for it came back: retries stop
    /// `retry-window-ms` later. (Not stamped on dispatch: the clock is not free.)
    pub retry_since: Option<Instant>,
    pub events: EventTx,
    pub seq: u64,
}

impl Request {
    /// Delivers the reply. A session that has gone away simply drops it.
    pub fn reply(self, data: Bytes) {
        let _ = self.events.send(Event::Reply {
            seq: self.seq,
            data,
            close: false,
        });
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
            || reply.starts_with(b"-CLUSTERDOWN"))
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
        assert!(!is_redirect(b"-ERR MOVED\r\n"));
        assert!(!is_redirect(b"+MOVED 1 a:1\r\n"));
    }
}
