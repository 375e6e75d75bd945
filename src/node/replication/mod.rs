//! Replication, the master's side: what commands change goes to the replicas as a stream of
//! commands that make the same change (Redis's propagation), after a snapshot of the data.
//!
//! **What is propagated.** Each command that changed the data (or is a write that succeeded)
//! is recorded as it ran, unless its handler asked for another form: commands whose effect
//! depends on the clock or on chance are rewritten to what they did (`EXPIRE` becomes
//! `PEXPIREAT`, `SET … EX` becomes `SET … PXAT`, `SPOP` becomes `SREM`, `INCRBYFLOAT` a `SET`,
//! a served `BLPOP` an `LPOP`, `XADD *` an `XADD` with the ID it made), and scripts propagate
//! the write commands they ran instead of themselves, so a replica never runs a script and
//! ends in the same state whatever the script computed (Redis 7's effects replication). Keys
//! deleted by expiry or eviction are propagated as `DEL`: replicas never expire keys by
//! themselves.
//!
//! **Units.** Everything one client command causes (the keys it found expired, the commands
//! a transaction or a script ran) is one unit: recorded while the command runs, sent when it
//! ends, inside `MULTI`/`EXEC` when it holds more than one command, so a replica applies it
//! atomically, as Redis does.
//!
//! **The stream.** Sent units go to every attached replica (through its client's push queue,
//! bounded by `client-output-buffer-limit replica`) and into the [`Backlog`], which lets a
//! replica that reconnects continue from its offset. `SELECT` is sent whenever the database of
//! the next command differs from the last one sent. Nothing is recorded while no replica has
//! ever attached: the check costs one branch per command.

pub mod backlog;

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

pub use backlog::Backlog;

use super::client::ClientHandle;
use crate::resp::Command;

/// How a command asks to be propagated (set by its handler; see [`crate::node::commands::Ctx`]).
#[derive(Debug, Clone, Default)]
pub enum Propagate {
    /// As it ran, if it changed the data.
    #[default]
    AsRun,
    /// As this command instead, if it changed the data.
    As(Command),
    /// Not itself: what it ran propagates on its own (`EXEC`, scripts), or what it did was
    /// propagated piece by piece (`SPOP` with a count).
    Never,
    /// As it ran, even though it changed no data (`PUBLISH` outside a cluster).
    Always,
}

/// A replica attached to this node.
#[derive(Debug)]
pub struct Replica {
    pub handle: Arc<ClientHandle>,
    /// The port it says it listens on (`REPLCONF listening-port`), shown in `INFO` and `ROLE`.
    pub listening_port: u16,
    /// The address it says it has (`REPLCONF ip-address`), else its connection's.
    pub ip: IpAddr,
    /// The stream offset it last acknowledged (`REPLCONF ACK`).
    pub ack: u64,
    pub last_ack: Instant,
}

/// The master's replication state, kept inside the keyspace lock so that the stream follows
/// the order commands ran in.
#[derive(Debug)]
pub struct Replication {
    /// How deep in nested command calls we are (a transaction's or a script's commands run
    /// inside the client's command); the unit is sent when the outermost one ends.
    depth: u32,
    /// The current unit: (database, command) in the order they ran.
    unit: Vec<(usize, Command)>,
    /// See [`mute_effects`](Self::mute_effects).
    effects_muted: bool,
    /// This stream's ID (`master_replid`): new at every start.
    pub replid: String,
    /// Bytes sent on the stream so far (`master_repl_offset`).
    pub offset: u64,
    /// The database the last sent command ran in; None forces a `SELECT` first.
    selected: Option<usize>,
    backlog: Option<Backlog>,
    pub replicas: Vec<Replica>,
}

impl Replication {
    pub fn new(replid: String) -> Replication {
        Replication {
            depth: 0,
            unit: Vec::new(),
            effects_muted: false,
            replid,
            offset: 0,
            selected: None,
            backlog: None,
            replicas: Vec::new(),
        }
    }

    /// Whether commands must record what they change: since a replica first attached, which
    /// made the backlog (Redis keeps it from then on).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.backlog.is_some()
    }

    /// A command starts (possibly inside another); `is_on` was true.
    pub fn enter(&mut self) {
        self.depth += 1;
    }

    /// A command ends; the outermost one sends the unit. `hard_limit`: the replicas' output
    /// buffer limit in bytes (0: none).
    pub fn leave(&mut self, hard_limit: u64) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.send_unit(hard_limit);
        }
    }

    /// Records `cmd`, run in database `db`, in the current unit.
    pub fn record(&mut self, db: usize, cmd: Command) {
        self.unit.push((db, cmd));
    }

    /// Records what a command did ([`record`](Self::record)), unless a script asked for its
    /// commands not to reach replicas (`redis.set_repl`). Deletions by expiry are recorded
    /// whatever a script asked.
    pub fn record_effect(&mut self, db: usize, cmd: Command) {
        if !self.effects_muted {
            self.record(db, cmd);
        }
    }

    /// While `muted`, [`record_effect`](Self::record_effect) records nothing (a script ran
    /// `redis.set_repl(redis.REPL_NONE)` or `REPL_AOF`).
    pub fn mute_effects(&mut self, muted: bool) {
        self.effects_muted = muted;
    }

    /// Sends `cmd` at once as a unit of its own (keys the expiry cycle deleted).
    pub fn send_now(&mut self, db: usize, cmd: Command, hard_limit: u64) {
        debug_assert_eq!(self.depth, 0);
        self.record(db, cmd);
        self.send_unit(hard_limit);
    }

    fn send_unit(&mut self, hard_limit: u64) {
        if self.unit.is_empty() {
            return;
        }
        // Taken out while `selected` changes, and put back to keep its allocation.
        let mut unit = std::mem::take(&mut self.unit);
        let wrap = unit.len() > 1;
        let mut out = BytesMut::new();
        if wrap {
            out.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        }
        for (db, cmd) in &unit {
            if self.selected != Some(*db) {
                let mut n = itoa::Buffer::new();
                let select = Command::from_args([&b"SELECT"[..], n.format(*db).as_bytes()]);
                out.extend_from_slice(select.raw());
                self.selected = Some(*db);
            }
            out.extend_from_slice(cmd.raw());
        }
        if wrap {
            out.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        }
        unit.clear();
        self.unit = unit;
        self.send(out.freeze(), hard_limit);
    }

    /// Puts `bytes` on the stream: into the backlog and to every replica.
    pub fn send(&mut self, bytes: Bytes, hard_limit: u64) {
        self.offset += bytes.len() as u64;
        if let Some(backlog) = &mut self.backlog {
            backlog.push(&bytes);
        }
        self.replicas.retain(|r| {
            if !r.handle.send_push(bytes.clone()) {
                return false;
            }
            let pending = r.handle.pending_push_bytes.load(Ordering::Relaxed) as u64;
            if hard_limit > 0 && pending >= hard_limit {
                tracing::warn!(
                    client_id = r.handle.id,
                    pending_bytes = pending,
                    "closing replica over client-output-buffer-limit replica"
                );
                r.handle.kill.cancel();
                return false;
            }
            true
        });
    }

    /// Asks every replica to acknowledge what it has now (`REPLCONF GETACK *`, sent on the
    /// stream, as Redis does for `WAIT`).
    pub fn request_acks(&mut self, hard_limit: u64) {
        if !self.replicas.is_empty() {
            let getack = Command::from_args(["REPLCONF", "GETACK", "*"]);
            self.send(getack.raw().clone(), hard_limit);
        }
    }

    /// A `PING` on the stream, so replicas know the link is alive while nothing is written
    /// (`repl-ping-replica-period`).
    pub fn ping(&mut self, hard_limit: u64) {
        if !self.replicas.is_empty() {
            self.send(Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"), hard_limit);
        }
    }

    /// A replica starts a full synchronization: from now on the stream goes to it too. Returns
    /// the offset its snapshot stands for. The next command is preceded by a `SELECT`, since
    /// the new replica has none yet.
    pub fn attach(&mut self, replica: Replica, backlog_size: usize) -> u64 {
        let offset = self.offset;
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(backlog_size, offset));
        }
        self.selected = None;
        self.replicas.retain(|r| r.handle.id != replica.handle.id);
        self.replicas.push(replica);
        offset
    }

    /// What a replica that has the stream up to `offset` is missing, if the backlog still has
    /// it all (a partial resynchronization); it is attached then.
    pub fn continue_from(&mut self, replica: Replica, offset: u64) -> Option<Vec<u8>> {
        let missing = self.backlog.as_ref()?.since(offset)?;
        self.replicas.retain(|r| r.handle.id != replica.handle.id);
        self.replicas.push(replica);
        Some(missing)
    }

    /// The replica with client id `id` left.
    pub fn detach(&mut self, id: u64) {
        self.replicas.retain(|r| r.handle.id != id);
    }

    /// A replica acknowledged `offset` (`REPLCONF ACK`).
    pub fn ack(&mut self, id: u64, offset: u64) {
        if let Some(r) = self.replicas.iter_mut().find(|r| r.handle.id == id) {
            r.ack = r.ack.max(offset);
            r.last_ack = Instant::now();
        }
    }

    /// How many replicas acknowledged at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas.iter().filter(|r| r.ack >= offset).count()
    }

    pub fn backlog(&self) -> Option<&Backlog> {
        self.backlog.as_ref()
    }

    /// A new `repl-backlog-size` (a no-op when it is the size already).
    pub fn resize_backlog(&mut self, size: usize) {
        if let Some(b) = self
            .backlog
            .as_mut()
            .filter(|b| b.capacity() != size.max(1))
        {
            b.resize(size);
        }
    }
}

/// A new replication ID: 40 hex characters.
pub fn new_replid() -> String {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?}{}{}repl",
        Instant::now(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    sha1_smol::Sha1::from(seed.as_bytes()).digest().to_string()
}

/// `DEL key`, as expiry and eviction propagate.
pub fn del(key: &[u8]) -> Command {
    Command::from_args([&b"DEL"[..], key])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::client::Client;

    /// A replica whose push queue stays open while the receiver is held.
    fn replica(id: u64) -> (Replica, tokio::sync::mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let detached = Client::detached(id);
        let handle = Arc::new(ClientHandle {
            id,
            peer: detached.handle.peer,
            local: detached.handle.local,
            created: Instant::now(),
            kill: Default::default(),
            push: tx,
            pending_push_bytes: Default::default(),
            info: Default::default(),
        });
        let r = Replica {
            handle,
            listening_port: 7000,
            ip: "127.0.0.1".parse().unwrap(),
            ack: 0,
            last_ack: Instant::now(),
        };
        (r, rx)
    }

    fn unit_bytes(repl: &mut Replication, ops: &[(usize, &[&str])]) -> u64 {
        let before = repl.offset;
        repl.enter();
        for (db, args) in ops {
            repl.enter();
            repl.record(*db, Command::from_args(args.iter()));
            repl.leave(0);
        }
        repl.leave(0);
        repl.offset - before
    }

    #[test]
    fn units_select_their_database_and_wrap_several_commands() {
        let mut repl = Replication::new("x".repeat(40));
        let (r, _handle) = replica(1);
        assert_eq!(repl.attach(r, 1024), 0);
        let one = unit_bytes(&mut repl, &[(0, &["SET", "a", "1"])]);
        let select0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
        assert_eq!(one as usize, select0.len() + set.len());
        let stream = repl.backlog().unwrap().since(0).unwrap();
        assert_eq!(stream, [&select0[..], &set[..]].concat());
        // Same database: no SELECT; two commands: MULTI … EXEC.
        let before = repl.offset;
        unit_bytes(&mut repl, &[(0, &["SET", "a", "1"]), (3, &["DEL", "b"])]);
        let tail = repl.backlog().unwrap().since(before).unwrap();
        let text = String::from_utf8(tail).unwrap();
        assert!(
            text.starts_with("*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET"),
            "{text:?}"
        );
        assert!(text.contains("$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL"));
        assert!(text.ends_with("*1\r\n$4\r\nEXEC\r\n"));
    }

    #[test]
    fn nothing_is_recorded_before_a_replica_attaches_and_empty_units_send_nothing() {
        let mut repl = Replication::new("x".repeat(40));
        assert!(!repl.is_on());
        let (r, _h) = replica(1);
        repl.attach(r, 1024);
        repl.enter();
        repl.leave(0);
        assert_eq!(repl.offset, 0);
    }

    #[test]
    fn a_reconnecting_replica_continues_from_the_backlog() {
        let mut repl = Replication::new("x".repeat(40));
        let (r, _h) = replica(1);
        repl.attach(r, 64);
        unit_bytes(&mut repl, &[(0, &["SET", "a", "1"])]);
        let at = repl.offset;
        unit_bytes(&mut repl, &[(0, &["SET", "b", "2"])]);
        let (r2, _h2) = replica(2);
        let missing = repl.continue_from(r2, at).unwrap();
        assert_eq!(missing, b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
        assert_eq!(repl.replicas.len(), 2);
        // Too old for a 64-byte backlog.
        for _ in 0..4 {
            unit_bytes(&mut repl, &[(0, &["SET", "c", "3"])]);
        }
        let (r3, _h3) = replica(3);
        assert!(repl.continue_from(r3, at).is_none());
    }
}
