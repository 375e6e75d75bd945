//! Which script runs now, since when, and whether someone asked to kill it.
//!
//! A script runs inside one command, under the keyspace lock, so while it runs no other
//! command can. Redis answers other clients `-BUSY` once a script has run longer than
//! `busy-reply-threshold`, and lets them stop it with `SCRIPT KILL` / `FUNCTION KILL`. Those
//! clients cannot take the keyspace lock to learn any of this, so the running script is
//! described here, behind a small lock of its own that is only ever held for a field update:
//!
//! - the script's runner calls [`ScriptWatch::start`] before it enters Lua and drops the
//!   returned guard when Lua returns; it calls [`ScriptWatch::note_write`] when the script
//!   calls a write command (a script that wrote cannot be killed: its effects are partial);
//! - each session, before it takes the keyspace lock, asks [`ScriptWatch::busy`]: if a script
//!   has run past the threshold, the session answers its command itself (`-BUSY`, or the
//!   kill) without the lock; under the threshold it waits, as Redis's clients do;
//! - the Lua state's instruction-count hook polls [`ScriptWatch::kill_requested`] and raises
//!   an error that ends the script.
//!
//! With `io-threads 1` every session shares one runtime thread, so a script must not run on
//! it: a session hands a script command to a blocking thread ([`ScriptWatch::dispatch`]
//! counts it in flight) and awaits it. While a script command is in flight, other sessions
//! never block on the keyspace lock: they wait for the flight to end ([`ScriptWatch::landed`])
//! or for the threshold to pass, then answer `-BUSY` themselves.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The running script, if any.
#[derive(Debug, Default)]
pub struct ScriptWatch {
    running: Mutex<Option<Running>>,
    /// Set by a successful kill; read by the Lua hook without taking the lock.
    kill: AtomicBool,
    /// When a `FUNCTION LOAD` in progress must give up (Redis allows a library's code 500 ms).
    load_deadline: Mutex<Option<Instant>>,
    /// Script commands handed to blocking threads and not finished.
    in_flight: AtomicUsize,
    /// Unix ms after which a script running on a session's own thread gives way (0: it runs
    /// to its end); see [`should_yield`](Self::should_yield).
    yield_at: AtomicU64,
    /// The running script gave way: it must not write, and its command runs again.
    yielded: AtomicBool,
    /// Woken when a script command in flight finishes.
    landed: tokio::sync::Notify,
}

/// Counts a script command in flight until dropped.
#[derive(Debug)]
pub struct FlightGuard {
    watch: Arc<ScriptWatch>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.watch.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.watch.landed.notify_waiters();
    }
}

#[derive(Debug, Clone)]
struct Running {
    started: Instant,
    /// `EVAL`-family (killed by `SCRIPT KILL`) rather than `FCALL` (`FUNCTION KILL`).
    eval: bool,
    wrote: bool,
    /// For `FUNCTION STATS`: the function's name and the command that called it.
    name: Vec<u8>,
    command: Vec<Vec<u8>>,
}

/// What a session sees of a script that has run past the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// The script is an `EVAL` (else a function).
    pub eval: bool,
}

/// A running function, as `FUNCTION STATS` shows it.
#[derive(Debug, Clone)]
pub struct RunningFunction {
    pub name: Vec<u8>,
    pub command: Vec<Vec<u8>>,
    pub duration: Duration,
}

/// Marks a script as running until dropped.
#[derive(Debug)]
pub struct RunGuard<'a> {
    watch: &'a ScriptWatch,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        *self.watch.lock() = None;
        self.watch.kill.store(false, Ordering::SeqCst);
    }
}

impl ScriptWatch {
    /// A script command is about to run on a blocking thread.
    pub fn dispatch(self: &Arc<Self>) -> FlightGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        FlightGuard {
            watch: self.clone(),
        }
    }

    /// Completes once no script command is in flight: what must take the keyspace lock from
    /// the runtime thread (active expiry, a leaving client's cleanup) waits for this rather
    /// than block the thread every session shares.
    pub async fn idle(&self) {
        loop {
            let landed = self.landed();
            if !self.in_flight() {
                return;
            }
            landed.await;
        }
    }

    /// Whether a script command runs (or is about to) on a blocking thread.
    pub fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Completes when a script command in flight finishes (create it before checking
    /// [`in_flight`](Self::in_flight), so that no finish is missed).
    pub fn landed(&self) -> tokio::sync::futures::Notified<'_> {
        self.landed.notified()
    }

    /// Marks a script as running from now on.
    pub fn start(&self, eval: bool, name: &[u8], command: Vec<Vec<u8>>) -> RunGuard<'_> {
        self.kill.store(false, Ordering::SeqCst);
        *self.lock() = Some(Running {
            started: Instant::now(),
            eval,
            wrote: false,
            name: name.to_vec(),
            command,
        });
        RunGuard { watch: self }
    }

    /// A script starts on a session's thread (`at_ms`: when it gives way if it has not
    /// written by then) or on a blocking thread (None: it runs to its end).
    pub fn set_yield_at(&self, at_ms: Option<u64>) {
        self.yield_at.store(at_ms.unwrap_or(0), Ordering::Relaxed);
        self.yielded.store(false, Ordering::Relaxed);
    }

    /// Whether the running script must give way now (the Lua hook asks); notes that it did.
    pub fn should_yield(&self, now_ms: u64) -> bool {
        let at = self.yield_at.load(Ordering::Relaxed);
        if at != 0 && now_ms >= at {
            self.yielded.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Whether the script gave way (and so may not write any more).
    pub fn yielded(&self) -> bool {
        self.yielded.load(Ordering::Relaxed)
    }

    /// The running script called a write command: it can no longer be killed.
    pub fn note_write(&self) {
        // Nor give way: what it wrote stays written, so its run must finish here.
        self.yield_at.store(0, Ordering::Relaxed);
        if let Some(r) = self.lock().as_mut() {
            r.wrote = true;
        }
    }

    /// Whether the running script should stop now.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// A library's code starts running (`None`: it finished); it may run until `deadline`.
    pub fn set_load_deadline(&self, deadline: Option<Instant>) {
        *self.load_deadline.lock().unwrap_or_else(|p| p.into_inner()) = deadline;
    }

    /// Whether a library's code has run past its time.
    pub fn load_timed_out(&self) -> bool {
        self.load_deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|d| Instant::now() >= d)
    }

    /// How long the running script has run, if one runs.
    pub fn running_for(&self) -> Option<Duration> {
        self.lock().as_ref().map(|r| r.started.elapsed())
    }

    /// The running script when it has run for at least `threshold`.
    pub fn busy(&self, threshold: Duration) -> Option<Busy> {
        let running = self.lock();
        let r = running.as_ref()?;
        (r.started.elapsed() >= threshold).then_some(Busy { eval: r.eval })
    }

    /// The running function, for `FUNCTION STATS` (an `EVAL` script is not shown).
    pub fn running_function(&self) -> Option<RunningFunction> {
        let running = self.lock();
        let r = running.as_ref().filter(|r| !r.eval)?;
        Some(RunningFunction {
            name: r.name.clone(),
            command: r.command.clone(),
            duration: r.started.elapsed(),
        })
    }

    /// `SCRIPT KILL` (`from_eval`) or `FUNCTION KILL`: `Ok` when the script will stop, else
    /// Redis's error text for why not.
    pub fn kill(&self, from_eval: bool) -> Result<(), &'static str> {
        let running = self.lock();
        let Some(r) = running.as_ref() else {
            return Err("NOTBUSY No scripts in execution right now.");
        };
        if r.wrote {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        if from_eval && !r.eval {
            return Err(busy_text(false));
        }
        if !from_eval && r.eval {
            return Err(busy_text(true));
        }
        self.kill.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `-BUSY` text for a running `EVAL` script (`eval`) or function.
pub fn busy_text(eval: bool) -> &'static str {
    if eval {
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    } else {
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_rules() {
        let w = ScriptWatch::default();
        assert!(w.kill(true).unwrap_err().starts_with("NOTBUSY"));
        {
            let _g = w.start(true, b"", Vec::new());
            assert!(w.busy(Duration::ZERO).is_some());
            assert!(w.busy(Duration::from_secs(3600)).is_none());
            assert!(w.kill(false).unwrap_err().contains("SCRIPT KILL"));
            assert!(w.kill(true).is_ok());
            assert!(w.kill_requested());
        }
        assert!(!w.kill_requested());
        let _g = w.start(false, b"f", Vec::new());
        w.note_write();
        assert!(w.kill(false).unwrap_err().starts_with("UNKILLABLE"));
    }
}
