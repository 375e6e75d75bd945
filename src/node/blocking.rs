//! Clients blocked on keys (`BLPOP`, `BLMOVE`, `BZPOPMIN`, …), served in arrival order.
//!
//! A blocking command that finds nothing to take asks to block ([`super::commands::Ctx::block_on`]);
//! the session then registers a [`Waiter`] on each key, under the keyspace lock, and waits for
//! its reply, its deadline, or the client going away. Every change to a key with waiters puts
//! the key on its database's ready list; after each command the session that made the change
//! serves the ready keys before releasing the lock: each waiter's own command runs again, oldest
//! waiter first, and a waiter whose command now replies is unblocked with that reply. This is
//! Redis's `handleClientsBlockedOnKeys`: no other command can slip in between the push and the
//! pop it wakes.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::oneshot;

use super::error::CmdError;
use super::number::parse_long_double;
use crate::resp::Command;

/// What a blocked command answers when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` (RESP3 `_`): `BLPOP`, `BRPOP`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`.
    NullArray,
    /// `$-1` (RESP3 `_`): `BLMOVE`, `BRPOPLPUSH`.
    Null,
}

/// A blocking command's request to wait.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// None: wait forever (`timeout 0`).
    pub timeout: Option<Duration>,
    pub on_timeout: TimeoutReply,
    /// The command to run again when a key is ready, if not the one that blocked: `XREAD`
    /// waits for entries after the last ID at the time it blocked, so its `$` is replaced by
    /// that ID.
    pub rewritten: Option<Command>,
}

/// A client waiting on keys of one database.
#[derive(Debug)]
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    pub command: Command,
    pub resp3: bool,
    /// What it answers if it times out (or is unblocked with `CLIENT UNBLOCK … TIMEOUT`).
    pub on_timeout: TimeoutReply,
    pub reply: oneshot::Sender<BytesMut>,
}

/// Every waiter, by id. Ids grow, so a lower id arrived earlier.
#[derive(Debug, Default)]
pub struct Waiters {
    by_id: HashMap<u64, Waiter>,
    next_id: u64,
}

impl Waiters {
    /// Stores `waiter` and returns its id; the caller registers the id on the keys.
    pub fn add(&mut self, waiter: Waiter) -> u64 {
        self.next_id += 1;
        self.by_id.insert(self.next_id, waiter);
        self.next_id
    }

    /// Returns a waiter taken out with [`remove`](Self::remove) under its old id, keeping its
    /// place in line.
    pub fn put_back(&mut self, id: u64, waiter: Waiter) {
        self.by_id.insert(id, waiter);
    }

    pub fn get(&self, id: u64) -> Option<&Waiter> {
        self.by_id.get(&id)
    }

    /// The id of the wait of client `client_id`, if it is blocked.
    pub fn of_client(&self, client_id: u64) -> Option<u64> {
        self.by_id
            .iter()
            .find(|(_, w)| w.client_id == client_id)
            .map(|(&id, _)| id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Waiter> {
        self.by_id.remove(&id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// A blocking command's timeout argument, in seconds with decimals, as Redis 7.0 reads it
/// (`getTimeoutFromObjectOrReply`): a long double, times 1000, truncated to whole
/// milliseconds, so anything under a millisecond (`0.0001`) means "forever" like `0`; values a
/// 64-bit integer cannot hold (`inf`, `1e30`) come out negative there, and are refused as
/// negative here too. Redis 7.0 has no "out of range" check yet: any other huge value blocks.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = parse_long_double(arg).ok_or_else(not_a_float)?;
    let ms = secs * 1000.0;
    // C's out-of-range float-to-integer conversion gives i64::MIN on x86-64.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let ms = if (-TWO_POW_63..TWO_POW_63).contains(&ms) {
        ms.trunc() as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(CmdError::text("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    // Redis 7.0 adds the current time without an overflow check; such a client stays blocked,
    // and so does this one, for as long as a Duration holds.
    Ok(Some(Duration::from_millis(ms as u64)))
}

fn not_a_float() -> CmdError {
    CmdError::text("ERR timeout is not a float or out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_timeout(b"0.0001").unwrap(), None);
        assert_eq!(parse_timeout(b"-0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0x10").unwrap(),
            Some(Duration::from_secs(16))
        );
        for negative in [
            &b"inf"[..],
            b"+inf",
            b"-inf",
            b"1e30",
            b"9223372036854775807",
        ] {
            assert_eq!(
                parse_timeout(negative).unwrap_err().to_string(),
                "ERR timeout is negative"
            );
        }
        assert!(parse_timeout(b"9223372036854774")
            .unwrap()
            .is_some_and(|d| d.as_secs() > 9_000_000_000_000_000));
        assert_eq!(
            parse_timeout(b"-1").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
        assert_eq!(
            parse_timeout(b"abc").unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
    }
}
