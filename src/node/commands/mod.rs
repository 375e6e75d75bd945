//! The node's commands: one handler per command, found by the command table's id.
//!
//! A handler reads its arguments from the [`Command`], works on the keyspace through [`Ctx`],
//! and either writes its whole reply or returns a [`CmdError`] having written nothing (what it
//! wrote before failing is discarded). Arity and unknown names are checked by the shared
//! command table before a handler runs, so handlers only check what the table cannot.
//!
//! Each module lists its handlers in a `COMMANDS` table by full name (`get`, `client|list`); a
//! command the table knows but no module handles answers a clear error saying so.

mod acl;
mod bitfield;
mod connection;
mod dump;
mod functions;
mod geo;
mod hashes;
mod hyperloglog;
mod keys;
mod latency;
mod lists;
mod memory;
mod persistence;
mod pubsub;
mod replication;
mod scan;
mod scripting;
mod server;
mod sets;
mod sort;
mod streams;
mod strings;
mod tracking;
mod transactions;
mod zsets;

use std::sync::{Arc, OnceLock};

use crate::command::{table, CommandSpec};
use crate::resp::Command;

use super::blocking::{BlockRequest, TimeoutReply};
use super::client::Client;
use super::config::{ClientClass, NodeConfig};
use super::error::{CmdError, CmdResult};
use super::keyspace::{Db, Keyspace};
use super::notify::{self, Events};
use super::pubsub::{OutputLimit, Publisher};
use super::replication::Propagate;
use super::reply::Reply;
use super::server::Node;
use super::tracking::Delivery;

/// A command's implementation.
pub type Handler = fn(&mut Ctx<'_>, &Command) -> CmdResult;

/// What a handler works with while it runs; the keyspace lock is held throughout.
pub struct Ctx<'a> {
    pub ks: &'a mut Keyspace,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    pub node: &'a Node,
    /// The configuration as the command sees it: the session's snapshot, which `CONFIG SET`
    /// replaces (so the commands after it, even in the same pipeline or transaction, see the
    /// change). Read this, not `node.config`: it costs no atomic load.
    pub config: Arc<NodeConfig>,
    /// Unix milliseconds when the command started: every expiry check in one command uses it.
    pub now: i64,
    /// Set by a blocking command that found nothing to take.
    pub(crate) block: Option<BlockRequest>,
    /// The command runs again on behalf of a blocked client: it must not block anew.
    pub(crate) serving_blocked: bool,
    /// When serving a blocked client: the key that became ready. Redis 7.0 serves a waiter
    /// from that key only (and only if it holds the waited-for type), not from its first
    /// non-empty key.
    pub(crate) serving_key: Option<&'a [u8]>,
    /// How the running command is to be propagated to replicas (see
    /// [`crate::node::replication`]).
    pub(crate) propagate: Propagate,
}

impl<'a> Ctx<'a> {
    pub fn new(
        ks: &'a mut Keyspace,
        client: &'a mut Client,
        out: &'a mut Reply,
        node: &'a Node,
        config: Arc<NodeConfig>,
        now: i64,
    ) -> Ctx<'a> {
        Ctx {
            ks,
            client,
            out,
            node,
            config,
            now,
            block: None,
            serving_blocked: false,
            serving_key: None,
            propagate: Propagate::AsRun,
        }
    }

    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        self.ks.db(self.client.db)
    }

    /// The selected database and the reply writer at once, for handlers that write a value
    /// they borrow from the database.
    pub fn db_out(&mut self) -> (&mut Db, &mut Reply) {
        (self.ks.db(self.client.db), &mut *self.out)
    }

    /// A blocking command found nothing: wait on `keys` for at most `timeout` (None: forever).
    /// Inside `EXEC` it answers the timeout reply at once, as Redis does; when re-run for a
    /// blocked client it writes nothing, so the client stays blocked.
    pub fn block_on(
        &mut self,
        keys: Vec<Vec<u8>>,
        timeout: Option<std::time::Duration>,
        on_timeout: TimeoutReply,
    ) {
        if self.serving_blocked {
            return;
        }
        if self.client.in_exec {
            write_timeout_reply(self.out, on_timeout);
            return;
        }
        self.block = Some(BlockRequest {
            keys,
            timeout,
            on_timeout,
            rewritten: None,
        });
    }

    /// As [`block_on`](Self::block_on), but runs `rewritten` instead of the blocked command
    /// when a key becomes ready.
    pub fn block_on_as(
        &mut self,
        keys: Vec<Vec<u8>>,
        timeout: Option<std::time::Duration>,
        on_timeout: TimeoutReply,
        rewritten: Command,
    ) {
        self.block_on(keys, timeout, on_timeout);
        if let Some(block) = &mut self.block {
            block.rewritten = Some(rewritten);
        }
    }

    /// Publishes a keyspace notification for `key` of the selected database, if `class` is
    /// on (see [`crate::node::notify`]). Call it once per event, where Redis does, in its order.
    pub fn notify(&mut self, class: Events, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        self.notify_in(db, class, event, key);
    }

    /// [`notify`](Self::notify) for a key of database `db` (`MOVE`, `COPY … DB`).
    pub fn notify_in(&mut self, db: usize, class: Events, event: &'static str, key: &[u8]) {
        // Redis invalidates a key as it changes, before the change's event.
        self.invalidate_changed();
        let events = self.config.notify_events();
        if !events.fires(class) {
            return;
        }
        self.publish_noted();
        self.publish_event(events, db, event, key);
    }

    /// Publishes what the databases noted by themselves (a `new` key, an `expired` one, …):
    /// before the command's next event, and when it ends.
    fn publish_noted(&mut self) {
        if !self.ks.journals_on() {
            return;
        }
        let events = self.config.notify_events();
        for (db, noted) in self.ks.take_noted() {
            if events.fires(noted.class) {
                self.publish_event(events, db, noted.event, &noted.key);
            }
        }
    }

    fn publish_event(&mut self, events: Events, db: usize, event: &str, key: &[u8]) {
        let limit = OutputLimit::from_config(&self.config);
        let publisher = Publisher {
            id: self.client.id,
            out: &mut *self.out,
        };
        notify::publish(self.node, events, limit, db, event, key, Some(publisher));
    }

    /// Deletes `key` if a pop or a remove emptied its collection, with the `del` event Redis
    /// publishes then.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.db().remove_if_empty(key) {
            self.notify(Events::GENERIC, "del", key);
        }
    }

    /// Hands the keys changed so far to client tracking, which tells the clients that may cache
    /// them (a check of one flag when nobody tracks).
    pub fn invalidate_changed(&mut self) {
        self.invalidate_changed_as(true);
    }

    /// [`invalidate_changed`](Self::invalidate_changed); `executing` false for the changes
    /// made before the command started (keys evicted to make room for it), whose messages to
    /// the client itself go out at once rather than after its reply, as in Redis.
    fn invalidate_changed_as(&mut self, executing: bool) {
        if !self.ks.tracking_live() {
            return;
        }
        let keys = self.ks.take_changes();
        if keys.is_empty() {
            return;
        }
        let id = self.client.id;
        let mut delivery = Delivery {
            node: self.node,
            config: &self.config,
            current: Some((id, &mut *self.out)),
            executing,
        };
        for key in keys {
            self.ks
                .tracking
                .invalidate(&key, Some(id), true, &mut delivery);
        }
        self.ks.sync_tracking();
    }

    /// Every key changed at once (`FLUSHDB`, `FLUSHALL`): every tracking client is sent a null
    /// invalidation, and the tracking table is emptied.
    pub fn invalidate_all(&mut self) {
        self.invalidate_changed();
        if !self.ks.tracking_live() && !self.ks.tracking.holds_keys() {
            return;
        }
        let mut delivery = Delivery {
            node: self.node,
            config: &self.config,
            current: Some((self.client.id, &mut *self.out)),
            executing: true,
        };
        self.ks.tracking.flush(&mut delivery);
        self.ks.sync_tracking();
    }

    /// Client tracking's part of a command's end (Redis's `call()`): invalidations for what it
    /// changed, and the keys a read-only command read, remembered for a tracking client. The
    /// client's own invalidations wait for [`crate::node::tracking::send_own`], after its
    /// reply (and after `EXEC`'s whole reply).
    fn track_command(&mut self, spec: &CommandSpec, cmd: &Command) {
        self.invalidate_changed();
        let id = self.client.id;
        if spec.is_readonly() && !spec.is_pubsub() && self.ks.tracking.client(id).is_some() {
            let keys = spec.keys_and_flags(cmd);
            self.ks
                .tracking
                .remember(id, keys.iter().map(|&(i, _)| cmd.arg(i)));
        }
        self.ks.sync_tracking();
    }

    /// Before a command runs: invalidations for the keys evicted to make room for it, and the
    /// tracking table kept within `tracking-table-max-keys`.
    fn limit_tracking(&mut self) {
        self.invalidate_changed_as(false);
        let max = usize::try_from(self.config.int("tracking-table-max-keys")).unwrap_or(0);
        let mut delivery = Delivery {
            node: self.node,
            config: &self.config,
            current: Some((self.client.id, &mut *self.out)),
            executing: false,
        };
        self.ks.tracking.limit(max, &mut delivery);
        self.ks.sync_tracking();
    }

    /// Counts a change for `INFO`'s `rdb_changes_since_last_save`.
    pub fn dirty(&mut self, changes: u64) {
        self.ks.stats.dirty += changes;
    }

    /// Whether what commands do is being recorded for replicas: handlers that propagate a
    /// rewritten form check this before building it.
    #[inline]
    pub fn replicating(&self) -> bool {
        self.ks.repl.is_on()
    }

    /// The running command propagates as `args` rather than as it was sent (what it did, when
    /// that depends on the clock or on chance: `PEXPIREAT` for `EXPIRE`, `SREM` for `SPOP`).
    pub fn propagate_as<I, A>(&mut self, args: I)
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        if self.replicating() {
            self.propagate = Propagate::As(Command::from_args(args));
        }
    }

    /// Propagates `args` now, in the running command's unit and database, ahead of the command
    /// itself (which still propagates unless [`no_propagate`](Self::no_propagate) is called).
    pub fn also_propagate<I, A>(&mut self, args: I)
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        if self.replicating() {
            let db = self.client.db;
            self.ks.repl.record_effect(db, Command::from_args(args));
        }
    }

    /// The running command propagates as setting `key`'s expiry to the Unix time `at` in ms:
    /// `PEXPIREAT`, or `DEL` when that time is past (the key is gone).
    pub fn propagate_expire_at(&mut self, key: &[u8], at: i64) {
        if !self.replicating() {
            return;
        }
        if at <= self.now {
            self.propagate_as([&b"DEL"[..], key]);
        } else {
            let mut n = itoa::Buffer::new();
            self.propagate_as([&b"PEXPIREAT"[..], key, n.format(at).as_bytes()]);
        }
    }

    /// The running command propagates as `SET key value PXAT at` (a `SET`, `SETEX`, `PSETEX`
    /// with a relative expiry, which a replica applying it later would make later).
    pub fn propagate_set_at(&mut self, key: &[u8], value: &[u8], at: i64) {
        if self.replicating() {
            let mut n = itoa::Buffer::new();
            self.propagate_as([&b"SET"[..], key, value, b"PXAT", n.format(at).as_bytes()]);
        }
    }

    /// The running command is not propagated itself (what it did went with
    /// [`also_propagate`](Self::also_propagate)).
    pub fn no_propagate(&mut self) {
        self.propagate = Propagate::Never;
    }

    /// The running command propagates as it ran though it changed no data (`PUBLISH`).
    pub fn force_propagate(&mut self) {
        self.propagate = Propagate::Always;
    }

    /// The end of a command's propagation: the keys expiry or eviction deleted before or while
    /// it ran go first (as `DEL`s), then the command in the form its handler chose, if it
    /// changed data (its counted changes or the changes signalled to watchers moved:
    /// `before`), and never a command that blocked.
    fn propagate_command(&mut self, spec: &CommandSpec, cmd: &Command, before: (u64, u64)) {
        self.ks.record_deletions();
        let changed = self.block.is_none()
            && (self.ks.stats.dirty != before.0 || self.ks.changes() != before.1);
        let db = self.client.db;
        match std::mem::take(&mut self.propagate) {
            Propagate::Never => {}
            Propagate::Always => self.ks.repl.record_effect(db, cmd.clone()),
            Propagate::As(rewritten) => {
                if changed {
                    self.ks.repl.record_effect(db, rewritten);
                }
            }
            Propagate::AsRun => {
                if changed && spec.is_write() {
                    self.ks.repl.record_effect(db, cmd.clone());
                }
            }
        }
        let (hard, _, _) = self.config.output_buffer_limit(ClientClass::Replica);
        self.ks.repl.leave(hard);
    }
}

pub use acl::{denial_text as acl_denial_text, log_denial as log_acl_denial, Refused};

/// What a blocked command answers when its time is up.
pub fn write_timeout_reply(out: &mut Reply, on_timeout: TimeoutReply) {
    match on_timeout {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::Null => out.null(),
    }
}

/// Runs `cmd` (already resolved to `spec`) and writes its reply or error.
pub fn execute(ctx: &mut Ctx<'_>, spec: &CommandSpec, cmd: &Command) -> CmdResult {
    let replicating = ctx.replicating();
    // A transaction runs its commands through here with its own context: each has its own
    // propagation form, and the transaction's is restored after.
    let outer = std::mem::take(&mut ctx.propagate);
    let mut before = (0, 0);
    if replicating {
        before = (ctx.ks.stats.dirty, ctx.ks.changes());
        ctx.ks.repl.enter();
    }
    super::keyspace::begin_command();
    ctx.ks.set_notify(ctx.config.notify_events());
    if ctx.ks.journals_on() {
        let db = ctx.client.db;
        ctx.ks.begin_journals(db, notify::looks_up_as_read(spec));
    }
    if ctx.ks.tracking_live() {
        ctx.limit_tracking();
    }
    let start = ctx.out.len();
    let result = match handler(spec) {
        Some(h) => h(ctx, cmd),
        None => Err(not_built(spec)),
    };
    if let Err(e) = &result {
        ctx.out.truncate(start);
        ctx.out.error(&e.message_bytes());
    }
    if ctx.ks.tracking_live() {
        ctx.track_command(spec, cmd);
    }
    ctx.publish_noted();
    // Shown once, after it ran; not again when a blocked command is served.
    if ctx.node.monitors.is_active() && !ctx.serving_blocked && !ctx.client.script_yielded {
        let (hard, _, _) = ctx.config.output_buffer_limit(ClientClass::Replica);
        let peer = ctx.client.handle.peer;
        ctx.node.monitors.feed(spec, cmd, ctx.client.db, peer, hard);
    }
    if replicating {
        ctx.propagate_command(spec, cmd, before);
    }
    ctx.propagate = outer;
    result
}

fn not_built(spec: &CommandSpec) -> CmdError {
    let name = spec.full_name();
    CmdError::text(format!(
        "ERR '{name}' is not supported by slotgate node yet"
    ))
}

/// The handler for a resolved command, if the node implements it.
pub fn handler(spec: &CommandSpec) -> Option<Handler> {
    dispatch().get(spec.id()).copied().flatten()
}

fn dispatch() -> &'static Vec<Option<Handler>> {
    static DISPATCH: OnceLock<Vec<Option<Handler>>> = OnceLock::new();
    DISPATCH.get_or_init(|| {
        let mut by_id = vec![None; table().len_all()];
        for &(name, h) in modules().flatten() {
            let spec = find(name).unwrap_or_else(|| panic!("handler for unknown command {name}"));
            assert!(by_id[spec.id()].is_none(), "two handlers for {name}");
            by_id[spec.id()] = Some(h);
        }
        by_id
    })
}

fn modules() -> impl Iterator<Item = &'static [(&'static str, Handler)]> {
    [
        acl::COMMANDS,
        bitfield::COMMANDS,
        connection::COMMANDS,
        dump::COMMANDS,
        functions::COMMANDS,
        geo::COMMANDS,
        hashes::COMMANDS,
        hyperloglog::COMMANDS,
        keys::COMMANDS,
        latency::COMMANDS,
        lists::COMMANDS,
        memory::COMMANDS,
        persistence::COMMANDS,
        pubsub::COMMANDS,
        scripting::COMMANDS,
        server::COMMANDS,
        replication::COMMANDS,
        sets::COMMANDS,
        sort::COMMANDS,
        streams::COMMANDS,
        strings::COMMANDS,
        tracking::COMMANDS,
        transactions::COMMANDS,
        zsets::COMMANDS,
    ]
    .into_iter()
}

/// A command or subcommand by full name (`get`, `client|list`).
fn find(full_name: &str) -> Option<&'static CommandSpec> {
    match full_name.split_once('|') {
        Some((container, sub)) => table()
            .get(container.as_bytes())?
            .subcommand(sub.as_bytes()),
        None => table().get(full_name.as_bytes()),
    }
}

/// Every command the node implements, by full name.
pub fn implemented() -> impl Iterator<Item = &'static str> {
    modules().flatten().map(|&(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_names_a_known_command_once() {
        assert!(dispatch().iter().filter(|h| h.is_some()).count() >= implemented().count());
    }
}
