//! What can go wrong for one request, and the reply the client gets for it.

use bytes::{Bytes, BytesMut};

use crate::command::CommandError;
use crate::resp::{write_error, ProtocolError};
use crate::slot::Slot;
use crate::topology::NodeAddr;

/// Why a request got an error reply from the proxy rather than from a backend. Each variant's
/// text is the reply, Redis-style: an error code, then a sentence.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    /// The client sent something that is not RESP; the connection closes after the reply.
    #[error("ERR Protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Unknown command, wrong arity, bad key arguments: exactly Redis's own text.
    #[error("{0}")]
    Command(#[from] CommandError),
    #[error("CROSSSLOT Keys in request don't hash to the same slot")]
    CrossSlot,
    #[error("CLUSTERDOWN Hash slot not served")]
    SlotNotServed { slot: Slot },
    #[error("ERR backend {addr} is unreachable: {reason}")]
    Connect { addr: NodeAddr, reason: String },
    /// Written to a backend whose connection then failed: it may or may not have run.
    #[error("ERR connection to backend {addr} lost before its reply; the command may or may not have been applied")]
    ConnectionLost { addr: NodeAddr },
    #[error("ERR backend {addr} did not reply within {timeout_ms} ms; the command may or may not have been applied")]
    Timeout { addr: NodeAddr, timeout_ms: u64 },
    #[error("ERR too many cluster redirections (last: {last})")]
    TooManyRedirects { last: String },
    #[error("ERR '{command}' is not supported by slotgate: {reason}")]
    Unsupported {
        command: String,
        reason: &'static str,
    },
    #[error("ERR slotgate is shutting down")]
    ShuttingDown,
}

impl ProxyError {
    /// The error as a RESP error reply.
    pub fn to_reply(&self) -> Bytes {
        let text = self.to_string();
        let mut b = BytesMut::with_capacity(text.len() + 3);
        write_error(&mut b, text.as_bytes());
        b.freeze()
    }

    /// Whether the client's connection must close after this reply.
    pub fn closes_connection(&self) -> bool {
        matches!(self, ProxyError::Protocol(_))
    }

    pub fn unsupported(command: &str, reason: &'static str) -> ProxyError {
        ProxyError::Unsupported {
            command: command.to_string(),
            reason,
        }
    }
}

/// Describes an I/O error without Rust's debug decoration.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset".into(),
        std::io::ErrorKind::TimedOut => "connect timed out".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s.to_lowercase(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_single_resp_errors() {
        let r = ProxyError::CrossSlot.to_reply();
        assert_eq!(
            &r[..],
            b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        );
        let r = ProxyError::Protocol(ProtocolError::InvalidBulkLength).to_reply();
        assert_eq!(&r[..], b"-ERR Protocol error: invalid bulk length\r\n");
    }

    #[test]
    fn io_reasons_are_plain() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&e), "connection refused");
    }
}
