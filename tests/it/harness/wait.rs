//! Waiting on conditions with a deadline, never a fixed sleep.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How often a condition is polled: short, so that waits end soon after the condition holds.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Some`, and returns that value; panics naming `what` if
/// `timeout` passes first.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Polls `condition` until it holds; panics naming `what` if `timeout` passes first.
#[track_caller]
pub fn assert_eventually(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(timeout, what, || condition().then_some(()));
}

/// Polls `probe` until it returns `Ok`, and returns that value; panics naming `what` and the
/// last error `probe` gave if `timeout` passes first. For conditions with many ways to be false,
/// where the failure message should say which one was.
#[track_caller]
pub fn wait_for_ok<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let problem = match probe() {
            Ok(value) => return value,
            Err(problem) => problem,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last problem: {problem}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits for `child` to exit by itself and returns its status; SIGKILLs and reaps it and panics
/// naming `what` if it still runs after `within`.
#[track_caller]
pub fn wait_for_exit(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait on the child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still runs after {within:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
