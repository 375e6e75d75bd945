//! A node's client address.

use std::fmt;
use std::sync::Arc;

use super::TopologyError;

/// `host:port` of a node's client port, as the cluster advertises it. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr(Arc<str>);

impl NodeAddr {
    pub fn new(host: &str, port: u16) -> NodeAddr {
        let s = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        NodeAddr(s.into())
    }

    /// Parses `host:port` (or `[v6]:port`).
    pub fn parse(s: &str) -> Result<NodeAddr, TopologyError> {
        let bad = || TopologyError::BadAddress(s.to_string());
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(NodeAddr::new(
            host.trim_start_matches('[').trim_end_matches(']'),
            port,
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn host(&self) -> &str {
        let (h, _) = self.0.rsplit_once(':').unwrap_or((&self.0, ""));
        h.trim_start_matches('[').trim_end_matches(']')
    }

    pub fn port(&self) -> u16 {
        self.0
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0)
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let a = NodeAddr::parse("127.0.0.1:7000").unwrap();
        assert_eq!(a.host(), "127.0.0.1");
        assert_eq!(a.port(), 7000);
        let v6 = NodeAddr::parse("[::1]:7000").unwrap();
        assert_eq!(v6.as_str(), "[::1]:7000");
        assert_eq!(v6.host(), "::1");
        assert!(NodeAddr::parse("nohost").is_err());
        assert!(NodeAddr::parse(":1").is_err());
        assert!(NodeAddr::parse("a:0").is_err());
        assert!(NodeAddr::parse("a:99999").is_err());
    }
}
