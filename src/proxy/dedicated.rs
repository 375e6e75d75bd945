//! A backend connection owned by one client session, for commands that hold their connection:
//! blocking commands (`BLPOP` waits on it) and transactions (`WATCH`, `MULTI`, the queued
//! commands and `EXEC` must all use one connection).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::{io_reason, ProxyError};
use super::handshake::Handshake;
use crate::resp::{FrameScanner, Limits};
use crate::topology::NodeAddr;

const HELLO_3: &[u8] = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";

/// One client's own connection to one node.
#[derive(Debug)]
pub struct Dedicated {
    addr: NodeAddr,
    resp3: bool,
    stream: TcpStream,
    buf: BytesMut,
    scanner: FrameScanner,
}

impl Dedicated {
    /// Connects; with `resp3`, says `HELLO 3` first, so replies come as a RESP3 client's.
    pub async fn connect(
        addr: &NodeAddr,
        timeout: Duration,
        resp3: bool,
        handshake: &Handshake,
    ) -> Result<Dedicated, ProxyError> {
        let failed = |reason: String| ProxyError::Connect {
            addr: addr.clone(),
            reason,
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr.as_str()))
            .await
            .map_err(|_| failed("connect timed out".into()))?
            .map_err(|e| failed(io_reason(&e)))?;
        let mut stream = stream;
        let _ = stream.set_nodelay(true);
        handshake.run(&mut stream, timeout).await.map_err(failed)?;
        let mut conn = Dedicated {
            addr: addr.clone(),
            resp3,
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            scanner: FrameScanner::new(Limits::default()),
        };
        if resp3 {
            let hello = tokio::time::timeout(timeout, conn.call(HELLO_3))
                .await
                .map_err(|_| failed("HELLO 3 timed out".into()))??;
            if hello.first() == Some(&b'-') {
                return Err(failed(String::from_utf8_lossy(&hello).trim().to_string()));
            }
        }
        Ok(conn)
    }

    /// Whether the connection speaks RESP3.
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    pub fn addr(&self) -> &NodeAddr {
        &self.addr
    }

    /// Sends one command and reads its reply; a lost connection is an error (after which the
    /// connection must be dropped).
    pub async fn call(&mut self, cmd: &[u8]) -> Result<Bytes, ProxyError> {
        self.send(cmd).await?;
        self.reply().await
    }

    pub async fn send(&mut self, cmd: &[u8]) -> Result<(), ProxyError> {
        self.stream.write_all(cmd).await.map_err(|_| self.lost())
    }

    /// The next complete reply. Cancel-safe: bytes already read stay buffered.
    pub async fn reply(&mut self) -> Result<Bytes, ProxyError> {
        loop {
            match self.scanner.scan(&self.buf) {
                Ok(Some(len)) => return Ok(self.buf.split_to(len).freeze()),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(peer_addr = %self.addr, error = %e, "backend sent invalid RESP");
                    return Err(self.lost());
                }
            }
            self.buf.reserve(16 * 1024);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return Err(self.lost()),
                Ok(_) => {}
            }
        }
    }

    fn lost(&self) -> ProxyError {
        ProxyError::ConnectionLost {
            addr: self.addr.clone(),
        }
    }
}
