//! `MONITOR`: every command the node runs, shown to the clients that asked, as Redis 7.0
//! shows it: `+<seconds>.<micros> [<db> <ip:port>] "arg" "arg"…`, after the command ran,
//! leaving out administrative commands and those flagged `skip_monitor`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::client::ClientHandle;
use crate::command::{CommandSpec, Flags};
use crate::resp::Command;

/// The clients in monitor mode.
#[derive(Debug, Default)]
pub struct Monitors {
    clients: Mutex<Vec<Arc<ClientHandle>>>,
    /// How many there are: checked for every command without taking the lock.
    count: AtomicUsize,
}

impl Monitors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the client in monitor mode.
    pub fn add(&self, handle: Arc<ClientHandle>) {
        let mut clients = self.lock();
        if !clients.iter().any(|c| c.id == handle.id) {
            clients.push(handle);
            self.count.store(clients.len(), Ordering::Relaxed);
        }
    }

    /// Takes the client out of monitor mode (it left, or `RESET`).
    pub fn remove(&self, id: u64) {
        let mut clients = self.lock();
        clients.retain(|c| c.id != id);
        self.count.store(clients.len(), Ordering::Relaxed);
    }

    pub fn contains(&self, id: u64) -> bool {
        self.is_active() && self.lock().iter().any(|c| c.id == id)
    }

    /// Whether anyone is watching.
    pub fn is_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Shows `cmd`, run by the client at `peer` in database `db`, to every monitor. One whose
    /// unsent output reaches `hard_limit` bytes (`client-output-buffer-limit replica`, as
    /// monitors count as replicas in Redis) is closed.
    pub fn feed(
        &self,
        spec: &CommandSpec,
        cmd: &Command,
        db: usize,
        peer: SocketAddr,
        hard_limit: u64,
    ) {
        if spec.flags().intersects(Flags::ADMIN | Flags::SKIP_MONITOR) {
            return;
        }
        let line = Bytes::from(line(SystemTime::now(), db, peer, cmd));
        for client in self.lock().iter() {
            if !client.send_push(line.clone()) {
                continue;
            }
            let pending = client.pending_push_bytes.load(Ordering::Relaxed) as u64;
            if hard_limit > 0 && pending >= hard_limit && !client.kill.is_cancelled() {
                tracing::info!(
                    client_id = client.id,
                    pending_bytes = pending,
                    "closing monitor over client-output-buffer-limit replica"
                );
                client.kill.cancel();
            }
        }
    }
}

/// One monitor line, a RESP simple string.
fn line(at: SystemTime, db: usize, peer: SocketAddr, cmd: &Command) -> Vec<u8> {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut head = String::new();
    let _ = write!(
        head,
        "+{}.{:06} [{db} {peer}] ",
        since.as_secs(),
        since.subsec_micros()
    );
    let mut out = head.into_bytes();
    for (i, arg) in cmd.args().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        quote(&mut out, arg);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Redis's `sdscatrepr`: in double quotes, with `\\ \" \n \r \t \a \b` escaped and any other
/// byte that is not printable ASCII as `\xhh`.
fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b' '..=b'~' => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_quote_arguments_as_redis_does() {
        let at = UNIX_EPOCH + Duration::from_micros(1_339_518_083_107_412);
        let cmd = Command::from_args([&b"SET"[..], b"k y", b"a\"b\\c\r\n\t\x07\x08\x00\xff"]);
        let peer: SocketAddr = "127.0.0.1:60866".parse().unwrap();
        assert_eq!(
            String::from_utf8(line(at, 3, peer, &cmd)).unwrap(),
            "+1339518083.107412 [3 127.0.0.1:60866] \"SET\" \"k y\" \"a\\\"b\\\\c\\r\\n\\t\\a\\b\\x00\\xff\"\r\n"
        );
        let v6: SocketAddr = "[::1]:7000".parse().unwrap();
        assert!(String::from_utf8(line(at, 0, v6, &cmd))
            .unwrap()
            .contains("[0 [::1]:7000]"));
    }
}
