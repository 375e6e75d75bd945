//! The keyspace: numbered databases of typed values with expiry.
//!
//! One `Keyspace` per node, behind one lock (see [`crate::node::server`]): commands run one at a
//! time against it, as in Redis, so a command is atomic and a pipelined batch takes the lock
//! once. Every change goes through [`Db`]'s methods, which keep the expiry index, `WATCH`
//! versions and blocked clients' ready list right; later, replication and the append-only file
//! will replay the same commands against the same methods.

mod db;
pub mod geo_shape;
pub mod geohash;
pub mod hash;
pub mod hyperloglog;
pub mod key;
pub mod list;
pub mod pause;
pub mod set;
pub mod stream;
pub mod string;
mod value;
pub mod zset;

pub use db::{begin_command, set_access_clock, Db, Entry, KeyAt, LfuSettings};
pub use pause::{Pause, PauseKind};
pub use value::{Kind, Value};

use crate::node::blocking::Waiters;
use crate::node::notify::{Events, Noted};
use crate::node::replication::{self, Replication};
use crate::node::tracking::Tracking;

/// Counters the keyspace keeps as commands run (`INFO stats`).
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub hits: u64,
    pub misses: u64,
    pub expired_keys: u64,
    /// Changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
}

/// Every database of the node, and the clients blocked on their keys.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Db>,
    pub waiters: Waiters,
    pub stats: KeyspaceStats,
    /// The `CLIENT PAUSE` in force, if any.
    pause: Option<Pause>,
    /// The notification classes the databases' journals note.
    journaled: Events,
    /// Client-side caching: who may cache which keys (see [`crate::node::tracking`]).
    pub tracking: Tracking,
    /// What commands change, for the replicas (see [`crate::node::replication`]).
    pub repl: Replication,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
            waiters: Waiters::default(),
            stats: KeyspaceStats::default(),
            pause: None,
            journaled: Events::NONE,
            tracking: Tracking::default(),
            repl: Replication::new(replication::new_replid()),
        }
    }

    /// From now on, keys deleted by expiry or eviction are noted, to be propagated.
    pub fn note_deletions(&mut self) {
        for db in &mut self.dbs {
            db.note_deletions(true);
        }
    }

    /// Sends the keys expiry deleted outside any command (the active expiry cycle), each as
    /// its own `DEL`.
    pub fn send_deletions(&mut self, hard_limit: u64) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            for key in db.take_deletions() {
                self.repl.send_now(i, replication::del(&key), hard_limit);
            }
        }
    }

    /// Changes signalled in every database so far: a command changed data when this moved.
    pub fn changes(&self) -> u64 {
        self.dbs.iter().map(Db::changes).sum()
    }

    /// Records the keys expiry and eviction deleted since the last call, as `DEL`s in the
    /// current replication unit.
    pub fn record_deletions(&mut self) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            for key in db.take_deletions() {
                self.repl.record(i, replication::del(&key));
            }
        }
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`. Panics if out of range: `SELECT` checks before a client can use it.
    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    pub fn dbs_mut(&mut self) -> &mut [Db] {
        &mut self.dbs
    }

    /// Two distinct databases at once (`MOVE`, `SWAPDB`, `COPY … DB`).
    pub fn two_dbs(&mut self, a: usize, b: usize) -> (&mut Db, &mut Db) {
        assert_ne!(a, b, "two_dbs needs two different databases");
        if a < b {
            let (left, right) = self.dbs.split_at_mut(b);
            (&mut left[a], &mut right[0])
        } else {
            let (left, right) = self.dbs.split_at_mut(a);
            (&mut right[0], &mut left[b])
        }
    }

    /// Starts a pause, or extends the one in force (Redis's `pauseClients`).
    pub fn pause(&mut self, kind: PauseKind, end: i64) {
        self.pause = Some(match self.pause {
            Some(p) => p.extend(kind, end),
            None => Pause { kind, end },
        });
        for db in &mut self.dbs {
            db.hold_expired(true);
        }
    }

    /// Ends the pause, if any (`CLIENT UNPAUSE`, or its time is over).
    pub fn unpause(&mut self) {
        if self.pause.take().is_some() {
            for db in &mut self.dbs {
                db.hold_expired(false);
            }
        }
    }

    /// The pause in force at `now`; one whose time is over ends here.
    pub fn paused(&mut self, now: i64) -> Option<Pause> {
        match self.pause {
            Some(p) if p.is_over(now) => {
                self.unpause();
                None
            }
            p => p,
        }
    }

    /// One step of active expiry over every database: at most `budget` keys deleted; none
    /// while clients are paused.
    pub fn expire_cycle(&mut self, now: i64, budget: usize) -> usize {
        if self.paused(now).is_some() {
            return 0;
        }
        let mut done = 0;
        for db in &mut self.dbs {
            done += db.expire_due(now, budget - done);
            if done >= budget {
                break;
            }
        }
        self.collect_expired();
        done
    }

    /// Which notification classes the databases note by themselves (`new`, `expired`,
    /// `keymiss`, `evicted`), from `notify-keyspace-events`; cheap when unchanged.
    pub fn set_notify(&mut self, events: Events) {
        let journaled = events.journaled();
        if journaled != self.journaled {
            self.journaled = journaled;
            for db in &mut self.dbs {
                db.journal().set_classes(journaled);
            }
        }
    }

    /// A command starts on database `selected`: only its lookups there can be reads that note
    /// `keymiss` (and only if `reads`).
    pub fn begin_journals(&mut self, selected: usize, reads: bool) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            db.journal().begin_command(reads && i == selected);
        }
    }

    /// Whether any database notes events by itself.
    pub fn journals_on(&self) -> bool {
        self.journaled != Events::NONE
    }

    /// The events every database noted, each with its database, in each one's order.
    pub fn take_noted(&mut self) -> Vec<(usize, Noted)> {
        let mut all = Vec::new();
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if !db.journal().is_empty() {
                all.extend(db.journal().take().into_iter().map(|n| (i, n)));
            }
        }
        all
    }

    /// Whether the databases note changed keys for client tracking: the one check a command
    /// pays when nobody tracks.
    pub fn tracking_live(&self) -> bool {
        self.dbs[0].notes_changes()
    }

    /// Makes the databases note changed keys exactly while tracking is live; call after
    /// anything that may change that.
    pub fn sync_tracking(&mut self) {
        let live = self.tracking.is_live();
        if live != self.tracking_live() {
            for db in &mut self.dbs {
                db.note_changes(live);
            }
        }
    }

    /// The keys every database changed since the last call.
    pub fn take_changes(&mut self) -> Vec<Box<[u8]>> {
        let mut keys = Vec::new();
        for db in &mut self.dbs {
            db.take_changes(&mut keys);
        }
        keys
    }

    /// Moves the databases' expired-key counts into the stats.
    pub fn collect_expired(&mut self) {
        for db in &mut self.dbs {
            self.stats.expired_keys += db.take_expired_count();
        }
    }
}
