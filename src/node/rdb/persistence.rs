//! The node's snapshots on disk: `SAVE`, `BGSAVE`, the `save` rules, the save at shutdown,
//! the load at start, and the state `INFO persistence` and `LASTSAVE` report.
//!
//! A snapshot is taken under the keyspace lock, so it is of one instant, as Redis's fork is;
//! `BGSAVE` then writes it on a thread of its own while commands go on. The thread reports
//! back through [`Persistence`], and the cron ([`run`]) reaps the result under the keyspace
//! lock, as Redis's `serverCron` reaps its child: only then do `rdb_bgsave_in_progress` and
//! `rdb_changes_since_last_save` move. Every file is written beside its final name, synced
//! and renamed over it, so a crash mid-write leaves the previous file whole.

use std::fmt::Display;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::file::{
    install, load_snapshot, write_snapshot_with, LoadCounts, SnapshotError, SnapshotExtras,
};
use crate::node::config::NodeConfig;
use crate::node::keyspace::Keyspace;
use crate::node::server::{unix_ms, Node};

/// How long after a failed background save the `save` rules wait before trying again
/// (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
const RETRY_DELAY_SECS: i64 = 5;
/// How often the cron checks the `save` rules and reaps a finished background save (Redis
/// does both in `serverCron`, 10 times a second by default).
const CRON_PERIOD: Duration = Duration::from_millis(100);

/// The node's save state, shared with the background save's thread.
#[derive(Debug)]
pub struct Persistence {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Taken inside the keyspace lock, never the other way round; the background thread takes
    /// it alone.
    state: Mutex<State>,
    /// The generation of the newest snapshot renamed into place. Renames happen under it, so
    /// that a background save finishing after a newer save (at shutdown, after `FLUSHALL`)
    /// never puts older data back.
    disk: Mutex<u64>,
    /// Woken when a background save finishes, so that the cron reaps it at once.
    done: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    /// Unix seconds of the last successful save; the start time until then (`LASTSAVE`).
    last_save: i64,
    /// `rdb_last_bgsave_status`: whether the last save, of either kind, worked.
    last_ok: bool,
    /// `rdb_last_bgsave_time_sec`: how long the last background save took (-1: none yet).
    last_bgsave_secs: i64,
    /// Unix seconds when a background save last started, for the retry delay.
    last_bgsave_try: i64,
    /// `rdb_saves`: saves started (background ones count when they start, as in Redis).
    saves: u64,
    /// Numbers snapshots in the order they were taken.
    generation: u64,
    running: Option<Running>,
    /// The running save's outcome, once its thread is done and until the cron reaps it.
    finished: Option<(u64, io::Result<()>)>,
    /// `BGSAVE SCHEDULE` (or `BGSAVE` in a transaction): start one when none runs.
    scheduled: bool,
    /// What the load at start found (`rdb_last_load_keys_*`).
    loaded: LoadCounts,
    /// `SHUTDOWN` has saved (or was told not to): the node's exit does not save again.
    exit_handled: bool,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    generation: u64,
    started: Instant,
    /// `rdb_changes_since_last_save` when the snapshot was taken: what the save covers.
    dirty_at_start: u64,
}

/// Why `BGSAVE` did not start one.
#[derive(Debug, thiserror::Error)]
pub enum BgsaveError {
    #[error("ERR Background save already in progress")]
    InProgress,
    #[error("ERR could not start the background save thread: {0}")]
    Spawn(io::Error),
}

/// Why the file could not be loaded at start. (The causes are shown in the text, not chained
/// as sources: the binary prints the whole chain, which would say them twice.)
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: io::Error },
    #[error("cannot load {path}: {error}")]
    Snapshot { path: String, error: SnapshotError },
    #[error("cannot load the function library in {path}: {why}")]
    Function { path: String, why: String },
}

impl Persistence {
    /// The state at start: as in Redis, the data counts as saved at that time.
    pub fn new(now_secs: i64) -> Persistence {
        Persistence {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    last_save: now_secs,
                    last_ok: true,
                    last_bgsave_secs: -1,
                    last_bgsave_try: 0,
                    saves: 0,
                    generation: 0,
                    running: None,
                    finished: None,
                    scheduled: false,
                    loaded: LoadCounts::default(),
                    exit_handled: false,
                }),
                disk: Mutex::new(0),
                done: tokio::sync::Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `LASTSAVE`: unix seconds of the last successful save.
    pub fn last_save(&self) -> i64 {
        self.state().last_save
    }

    /// Whether a background save is running (or done but not yet reaped).
    pub fn bgsave_in_progress(&self) -> bool {
        self.state().running.is_some()
    }

    /// Asks for a background save as soon as none runs (`BGSAVE SCHEDULE`).
    pub fn schedule(&self) {
        self.state().scheduled = true;
    }

    /// `SAVE`: writes the snapshot now, holding the keyspace. A background save still running
    /// is abandoned (its file will not replace this one), as Redis kills its child.
    pub fn save(&self, node: &Node, ks: &mut Keyspace, now_ms: i64) -> io::Result<()> {
        let generation = {
            let mut state = self.state();
            state.running = None;
            state.finished = None;
            state.generation += 1;
            state.generation
        };
        let bytes = snapshot(node, ks, now_ms);
        let result = write_file(
            &self.shared,
            &rdb_path(&node.config.load()),
            &bytes,
            generation,
        );
        let mut state = self.state();
        state.saves += 1;
        match &result {
            Ok(()) => {
                tracing::info!("DB saved on disk");
                ks.stats.dirty = 0;
                state.last_save = now_ms / 1000;
                state.last_ok = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Write error saving DB on disk");
                state.last_ok = false;
            }
        }
        result
    }

    /// `BGSAVE`: takes the snapshot now, holding the keyspace, and writes it on a thread.
    pub fn bgsave(&self, node: &Node, ks: &Keyspace, now_ms: i64) -> Result<(), BgsaveError> {
        let generation = {
            let mut state = self.state();
            if state.running.is_some() {
                return Err(BgsaveError::InProgress);
            }
            state.generation += 1;
            state.last_bgsave_try = now_ms / 1000;
            // Running before the thread exists, so that it always finds itself when done.
            state.running = Some(Running {
                generation: state.generation,
                started: Instant::now(),
                dirty_at_start: ks.stats.dirty,
            });
            state.generation
        };
        let bytes = snapshot(node, ks, now_ms);
        let path = rdb_path(&node.config.load());
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("slotgate-bgsave".into())
            .spawn(move || {
                let result = write_file(&shared, &path, &bytes, generation);
                let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                if state.running.is_some_and(|r| r.generation == generation) {
                    state.finished = Some((generation, result));
                    shared.done.notify_one();
                }
            });
        let mut state = self.state();
        if let Err(e) = spawned {
            state.running = None;
            return Err(BgsaveError::Spawn(e));
        }
        state.saves += 1;
        state.scheduled = false;
        tracing::info!("Background saving started");
        Ok(())
    }

    /// Takes in a finished background save's outcome (Redis's `backgroundSaveDoneHandler`):
    /// on success, the changes it covered are no longer unsaved.
    pub fn reap(&self, ks: &mut Keyspace, now_ms: i64) {
        let mut state = self.state();
        let Some((generation, result)) = state.finished.take() else {
            return;
        };
        let Some(running) = state.running.filter(|r| r.generation == generation) else {
            return;
        };
        state.running = None;
        state.last_bgsave_secs = running.started.elapsed().as_secs() as i64;
        match result {
            Ok(()) => {
                tracing::info!("Background saving terminated with success");
                ks.stats.dirty = ks.stats.dirty.saturating_sub(running.dirty_at_start);
                state.last_save = now_ms / 1000;
                state.last_ok = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Background saving error");
                state.last_ok = false;
            }
        }
    }

    /// Whether a background save is due: one was scheduled, or a `save` rule (`seconds
    /// changes`) holds: at least `changes` changes and more than `seconds` since the last save.
    /// After a failure, not again before the retry delay.
    fn due(&self, rules: &[(i64, u64)], dirty: u64, now_secs: i64) -> Option<String> {
        let state = self.state();
        if state.running.is_some() {
            return None;
        }
        let may_try = state.last_ok || now_secs - state.last_bgsave_try > RETRY_DELAY_SECS;
        if !may_try {
            return None;
        }
        if state.scheduled {
            return Some("Background saving scheduled".into());
        }
        rules
            .iter()
            .find(|&&(secs, changes)| dirty >= changes && now_secs - state.last_save > secs)
            .map(|(secs, changes)| format!("{changes} changes in {secs} seconds. Saving..."))
    }

    /// Marks the exit as handled: `SHUTDOWN` saved, or was told not to.
    pub fn exit_handled(&self) {
        self.state().exit_handled = true;
    }

    /// `INFO persistence`, in Redis 7.0's order; `dirty` is the keyspace's change count.
    pub fn write_info(&self, dirty: u64, line: &mut dyn FnMut(&str, &dyn Display)) {
        let state = self.state();
        for zero in [
            "loading",
            "async_loading",
            "current_cow_peak",
            "current_cow_size",
            "current_cow_size_age",
        ] {
            line(zero, &0);
        }
        line("current_fork_perc", &"0.00");
        line("current_save_keys_processed", &0);
        line("current_save_keys_total", &0);
        line("rdb_changes_since_last_save", &dirty);
        line("rdb_bgsave_in_progress", &u8::from(state.running.is_some()));
        line("rdb_last_save_time", &state.last_save);
        line(
            "rdb_last_bgsave_status",
            &if state.last_ok { "ok" } else { "err" },
        );
        line("rdb_last_bgsave_time_sec", &state.last_bgsave_secs);
        let current = state
            .running
            .map_or(-1, |r| r.started.elapsed().as_secs() as i64);
        line("rdb_current_bgsave_time_sec", &current);
        line("rdb_saves", &state.saves);
        line("rdb_last_cow_size", &0);
        line("rdb_last_load_keys_expired", &state.loaded.expired);
        line("rdb_last_load_keys_loaded", &state.loaded.loaded);
    }
}

/// The file snapshots go to: `dbfilename` in `dir` (the working directory when unset).
pub fn rdb_path(config: &NodeConfig) -> PathBuf {
    let dir = config.get("dir");
    let dir = if dir.is_empty() { "." } else { dir };
    Path::new(dir).join(config.get("dbfilename"))
}

/// The `save` rules, as (seconds, changes) pairs; none when saving is off (`save ""`).
pub fn save_rules(config: &NodeConfig) -> Vec<(i64, u64)> {
    let words: Vec<&str> = config.get("save").split_whitespace().collect();
    words
        .chunks_exact(2)
        .filter_map(|pair| Some((pair[0].parse().ok()?, pair[1].parse().ok()?)))
        .collect()
}

/// The node's snapshot: the keyspace and the function libraries, at `now_ms`: what a full
/// sync sends a replica too. The caller holds the keyspace, and the scripting engine is locked
/// inside it, as everywhere; so never call this from inside a script, which holds the engine
/// (SAVE, BGSAVE, SHUTDOWN and DEBUG are refused in scripts, as in Redis).
pub fn snapshot(node: &Node, ks: &Keyspace, now_ms: i64) -> Vec<u8> {
    let engine = node.scripting.engine();
    let extras = SnapshotExtras {
        functions: engine.libraries.iter().map(|l| l.code.as_slice()).collect(),
        aux: Vec::new(),
    };
    write_snapshot_with(ks, &extras, now_ms)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`,
/// unless a newer snapshot than `generation` is already there (then the temporary file is
/// removed and nothing changes).
fn write_file(shared: &Shared, path: &Path, bytes: &[u8], generation: u64) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let temp = dir.join(format!("temp-{}-{generation}.rdb", std::process::id()));
    let written = File::create(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io::Error::new(
            e.kind(),
            format!("failed writing the temp RDB file {}: {e}", temp.display()),
        ));
    }
    let mut newest = shared.disk.lock().unwrap_or_else(|p| p.into_inner());
    if *newest > generation {
        let _ = std::fs::remove_file(&temp);
        return Ok(());
    }
    if let Err(e) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(io::Error::new(
            e.kind(),
            format!(
                "failed renaming {} to {}: {e}",
                temp.display(),
                path.display()
            ),
        ));
    }
    *newest = generation;
    // The rename itself is durable once the directory is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The snapshot cron: reaps finished background saves and starts the ones the `save` rules
/// or `BGSAVE SCHEDULE` ask for, until the node shuts down.
pub async fn run(node: Arc<Node>) {
    loop {
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = node.persistence.shared.done.notified() => {}
            _ = tokio::time::sleep(CRON_PERIOD) => {}
        }
        // Not while a script runs: it holds the keyspace, and Redis saves nothing meanwhile.
        node.scripting.watch.idle().await;
        let rules = save_rules(&node.config.load());
        let mut ks = node.keyspace();
        let now = unix_ms();
        node.persistence.reap(&mut ks, now);
        if let Some(why) = node.persistence.due(&rules, ks.stats.dirty, now / 1000) {
            tracing::info!("{why}");
            if let Err(e) = node.persistence.bgsave(&node, &ks, now) {
                tracing::warn!(error = %e, "cannot start the background save");
            }
        }
    }
}

/// The save at exit, after the clients are gone: what `SHUTDOWN` does when it was a signal
/// that stopped the node. Saves when `save` rules are set, as Redis does by default.
pub fn save_on_exit(node: &Node) {
    if node.persistence.state().exit_handled || save_rules(&node.config.load()).is_empty() {
        return;
    }
    tracing::info!("Saving the final RDB snapshot before exiting.");
    let mut ks = node.keyspace();
    if let Err(e) = node.persistence.save(node, &mut ks, unix_ms()) {
        tracing::warn!(error = %e, "Error trying to save the DB, exiting anyway");
    }
}

/// Reads `dir`/`dbfilename` into the node's empty keyspace and function library, if the file
/// exists, as redis-server does at start; a bad file stops the start.
pub fn load_at_start(node: &Node) -> Result<(), LoadError> {
    let config = node.config.load();
    let path = rdb_path(&config);
    let shown = path.display().to_string();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(LoadError::Read { path: shown, error }),
    };
    let started = Instant::now();
    let mut ks = node.keyspace();
    let counts = load_bytes(node, &mut ks, &bytes, true).map_err(|e| match e {
        Loading::Snapshot(error) => LoadError::Snapshot {
            path: shown.clone(),
            error,
        },
        Loading::Function(why) => LoadError::Function {
            path: shown.clone(),
            why,
        },
    })?;
    node.persistence.state().loaded = counts;
    tracing::info!(
        keys_loaded = counts.loaded,
        keys_expired = counts.expired,
        seconds = started.elapsed().as_secs_f64(),
        path = %shown,
        "DB loaded from disk"
    );
    Ok(())
}

/// What went wrong putting a file's contents in place.
enum Loading {
    Snapshot(SnapshotError),
    Function(String),
}

/// Parses `bytes` and installs its keys (and, if `functions`, its libraries, which must not
/// clash with the ones loaded).
fn load_bytes(
    node: &Node,
    ks: &mut Keyspace,
    bytes: &[u8],
    functions: bool,
) -> Result<LoadCounts, Loading> {
    let snapshot = load_snapshot(bytes).map_err(Loading::Snapshot)?;
    if let Some((_, v)) = snapshot.aux.iter().find(|(k, _)| k == b"redis-ver") {
        tracing::info!(version = %String::from_utf8_lossy(v), "Loading RDB");
    }
    if functions && !snapshot.functions.is_empty() {
        let mut engine = node.scripting.engine();
        let mut libs = Vec::with_capacity(snapshot.functions.len());
        for code in &snapshot.functions {
            libs.push(engine.build_library(code).map_err(Loading::Function)?);
        }
        engine
            .libraries
            .join(libs, false)
            .map_err(Loading::Function)?;
    }
    let config = node.config.load();
    install(ks, snapshot.keys, &config, unix_ms()).map_err(Loading::Snapshot)
}

/// `DEBUG RELOAD`: saves, empties the databases and loads the file back (the function
/// libraries stay as they are: the file holds the same ones).
pub fn reload(node: &Node, ks: &mut Keyspace, now_ms: i64) -> Result<(), String> {
    node.persistence
        .save(node, ks, now_ms)
        .map_err(|_| "ERR".to_string())?;
    let failed = |why: String| {
        tracing::warn!(error = %why, "DEBUG RELOAD failed to load the RDB file");
        "ERR Error trying to load the RDB dump, check server logs.".to_string()
    };
    let bytes = std::fs::read(rdb_path(&node.config.load())).map_err(|e| failed(e.to_string()))?;
    for db in ks.dbs_mut() {
        db.clear();
    }
    load_bytes(node, ks, &bytes, false).map_err(|e| match e {
        Loading::Snapshot(e) => failed(e.to_string()),
        Loading::Function(why) => failed(why),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_rules_are_pairs() {
        let mut config = NodeConfig::default();
        assert_eq!(
            save_rules(&config),
            vec![(3600, 1), (300, 100), (60, 10000)]
        );
        config.set("save", "").unwrap();
        assert!(save_rules(&config).is_empty());
        config.set("save", "10 2").unwrap();
        assert_eq!(save_rules(&config), vec![(10, 2)]);
    }

    #[test]
    fn rules_fire_on_changes_and_time_and_wait_after_a_failure() {
        let p = Persistence::new(1000);
        let rules = [(60, 10)];
        assert!(p.due(&rules, 10, 1060).is_none(), "not more than 60 s yet");
        assert!(p.due(&rules, 9, 2000).is_none(), "too few changes");
        assert!(p.due(&rules, 10, 1061).is_some());
        {
            let mut s = p.state();
            s.last_ok = false;
            s.last_bgsave_try = 1061;
        }
        assert!(p.due(&rules, 10, 1066).is_none(), "within the retry delay");
        assert!(p.due(&rules, 10, 1067).is_some());
        p.schedule();
        assert!(p.due(&[], 0, 1067).is_some(), "scheduled");
    }

    #[test]
    fn an_older_snapshot_never_replaces_a_newer_one() {
        let dir = std::env::temp_dir().join(format!("slotgate-rdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.rdb");
        let p = Persistence::new(0);
        write_file(&p.shared, &path, b"new", 2).unwrap();
        write_file(&p.shared, &path, b"old", 1).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
