//! What every connection the proxy opens to a node says first: `AUTH` with the configured
//! backend credentials. Pooled, dedicated and refresher connections all use it, so a node
//! with `requirepass` or ACL users serves the proxy the same way on each.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::ProxyConfig;
use super::error::io_reason;
use crate::resp::{Command, FrameScanner, Limits};

/// The opening of a backend connection.
#[derive(Default)]
pub struct Handshake {
    /// The `AUTH` command, when the nodes need one. Never logged.
    auth: Option<Bytes>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Handshake {
    pub fn new(config: &ProxyConfig) -> Handshake {
        if config.backend_password.is_empty() {
            return Handshake::default();
        }
        let password = config.backend_password.expose().as_bytes();
        let cmd = if config.backend_user.is_empty() {
            Command::from_args([&b"AUTH"[..], password])
        } else {
            Command::from_args([&b"AUTH"[..], config.backend_user.as_bytes(), password])
        };
        Handshake {
            auth: Some(cmd.raw().clone()),
        }
    }

    /// Authenticates a fresh connection, within `timeout`. The error says why, without the
    /// credentials: the node's own error (`WRONGPASS …`) or what broke.
    pub async fn run(&self, stream: &mut TcpStream, timeout: Duration) -> Result<(), String> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let exchange = async {
            stream.write_all(auth).await.map_err(|e| io_reason(&e))?;
            let mut buf = BytesMut::with_capacity(256);
            let mut scanner = FrameScanner::new(Limits::default());
            loop {
                if let Some(len) = scanner.scan(&buf).map_err(|e| e.to_string())? {
                    return Ok(buf.split_to(len).freeze());
                }
                if stream.read_buf(&mut buf).await.map_err(|e| io_reason(&e))? == 0 {
                    return Err("connection closed during AUTH".to_string());
                }
            }
        };
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| "AUTH timed out".to_string())??;
        if reply.first() == Some(&b'-') {
            let text = String::from_utf8_lossy(&reply[1..]).trim().to_string();
            return Err(format!("authentication failed: {text}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let config =
            ProxyConfig::from_toml("backend-user = \"proxy\"\nbackend-password = \"s3cret\"")
                .unwrap();
        let handshake = Handshake::new(&config);
        assert!(handshake.auth.is_some());
        assert!(!format!("{handshake:?}").contains("s3cret"));
        assert!(Handshake::new(&ProxyConfig::default()).auth.is_none());
    }
}
