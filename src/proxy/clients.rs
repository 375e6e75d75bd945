//! The proxy's own clients, for `CLIENT LIST`, `CLIENT INFO` and `CLIENT KILL`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// What `CLIENT LIST` shows of one client, shared between its session and the registry.
#[derive(Debug)]
pub struct ClientEntry {
    pub id: u64,
    pub peer_addr: SocketAddr,
    pub local_addr: Option<SocketAddr>,
    /// On the proxy's coarse clock (milliseconds since start), like `last_active_ms`.
    connected_ms: u64,
    /// When the client last sent a command: a relaxed store per command, read only when
    /// someone lists the clients.
    last_active_ms: AtomicU64,
    protocol: AtomicU8,
    /// Set by `CLIENT SETNAME`/`HELLO SETNAME`. A std mutex: written by those commands and
    /// read by `CLIENT LIST`, never held across an await.
    name: Mutex<Option<Bytes>>,
    /// The user the client authenticated as; `None` shows as `default`. A std mutex, like
    /// `name`: written by AUTH, HELLO and RESET.
    user: Mutex<Option<String>>,
    /// Cancelling it ends the session (`CLIENT KILL`).
    pub kill: CancellationToken,
}

impl ClientEntry {
    pub fn touch(&self, now_ms: u64) {
        self.last_active_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn name(&self) -> Option<Bytes> {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_name(&self, name: Option<Bytes>) {
        *self.name.lock().unwrap_or_else(|e| e.into_inner()) = name;
    }

    pub fn set_user(&self, user: Option<&str>) {
        *self.user.lock().unwrap_or_else(|e| e.into_inner()) = user.map(str::to_owned);
    }

    /// The user the client authenticated as, `default` until then.
    pub fn user(&self) -> String {
        self.user
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .unwrap_or("default")
            .to_owned()
    }

    pub fn set_protocol(&self, protocol: u8) {
        self.protocol.store(protocol, Ordering::Relaxed);
    }

    /// The client's `CLIENT LIST` line (with its trailing newline), with the fields the proxy
    /// tracks. `cmd` is the command being run, for the client that asks.
    pub fn line(&self, now_ms: u64, cmd: Option<&str>) -> String {
        let age_ms = now_ms.saturating_sub(self.connected_ms);
        let idle_ms = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed));
        let name = self.name.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut line = String::new();
        let _ = writeln!(
            line,
            "id={} addr={} laddr={} name={} age={} idle={} flags=N db=0 cmd={} user={} resp={}",
            self.id,
            self.peer_addr,
            self.local_addr.map(|a| a.to_string()).unwrap_or_default(),
            name.map(|n| String::from_utf8_lossy(&n).into_owned())
                .unwrap_or_default(),
            age_ms / 1000,
            idle_ms / 1000,
            cmd.unwrap_or("NULL"),
            self.user(),
            self.protocol.load(Ordering::Relaxed),
        );
        line
    }
}

/// Every connected client, by id. A std mutex: taken to add or remove a client and to list
/// or kill them, never across an await.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientEntry>>>,
}

impl ClientRegistry {
    /// Registers a client; it stays listed until the returned guard drops.
    pub fn register(
        self: &Arc<Self>,
        id: u64,
        peer_addr: SocketAddr,
        local_addr: Option<SocketAddr>,
        now_ms: u64,
        kill: CancellationToken,
    ) -> Registration {
        let entry = Arc::new(ClientEntry {
            id,
            peer_addr,
            local_addr,
            connected_ms: now_ms,
            last_active_ms: AtomicU64::new(now_ms),
            protocol: AtomicU8::new(2),
            name: Mutex::new(None),
            user: Mutex::new(None),
            kill,
        });
        self.lock().insert(id, entry.clone());
        Registration {
            registry: self.clone(),
            entry,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientEntry>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `CLIENT LIST`: every client's line; `asking` is the id of the client that asks, whose
    /// `cmd` is `cmd`.
    pub fn list(&self, now_ms: u64, asking: u64, cmd: &str) -> String {
        self.lock()
            .values()
            .map(|c| c.line(now_ms, (c.id == asking).then_some(cmd)))
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientEntry>> {
        self.lock().get(&id).cloned()
    }

    /// Kills the clients `matches` selects (never `skip`), returning how many.
    pub fn kill(&self, skip: Option<u64>, matches: impl Fn(&ClientEntry) -> bool) -> usize {
        let victims: Vec<Arc<ClientEntry>> = self
            .lock()
            .values()
            .filter(|c| Some(c.id) != skip && matches(c))
            .cloned()
            .collect();
        for v in &victims {
            v.kill.cancel();
        }
        victims.len()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A client's place in the registry, removed on drop.
#[derive(Debug)]
pub struct Registration {
    registry: Arc<ClientRegistry>,
    pub entry: Arc<ClientEntry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.entry.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_kills_registered_clients() {
        let registry = Arc::new(ClientRegistry::default());
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let a = registry.register(1, addr, None, 0, CancellationToken::new());
        let other: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let b = registry.register(2, other, None, 0, CancellationToken::new());
        b.entry.set_name(Some(Bytes::from_static(b"worker")));
        let list = registry.list(5000, 1, "client|list");
        assert!(list.contains(" age=5 idle=5 "), "{list}");
        assert!(list.starts_with("id=1 addr=127.0.0.1:5000 "), "{list}");
        assert!(list.contains("cmd=client|list"));
        assert!(list.contains("id=2 addr=127.0.0.1:5001 laddr= name=worker "));
        assert!(list.contains(" user=default "), "{list}");
        b.entry.set_user(Some("alice"));
        assert!(b.entry.line(5000, None).contains(" user=alice resp=2\n"));
        assert_eq!(b.entry.user(), "alice");
        assert_eq!(list.lines().count(), 2);
        assert_eq!(registry.kill(Some(1), |_| true), 1);
        assert!(b.entry.kill.is_cancelled());
        assert!(!a.entry.kill.is_cancelled());
        drop(b);
        assert_eq!(registry.len(), 1);
    }
}
