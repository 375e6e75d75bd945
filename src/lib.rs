//! slotgate: a Redis Cluster smart proxy.
//!
//! A request's path through the crate:
//!
//! 1. [`proxy`] accepts a client connection; its session reads bytes and [`resp`]'s
//!    `RequestParser` cuts them into `Command`s that still point at the client's own bytes.
//! 2. [`command`]'s table names the command's keys (and its arity and flags); [`slot`] hashes
//!    each key to one of the 16384 slots.
//! 3. [`topology`]'s `SlotMap`, an immutable snapshot swapped whole when the cluster changes,
//!    names the shard that owns the slot.
//! 4. The proxy's router hands the command to a shared, pipelined backend connection to that
//!    shard's master; the reply's end is found by `resp`'s `FrameScanner` and its bytes go back
//!    to the client unchanged, in request order. `MOVED`/`ASK` replies are followed inside the
//!    proxy and never reach the client.
//!
//! Dependencies point one way: `resp` ← `command`, `slot` ← `topology` ← `proxy`.

#![forbid(unsafe_code)]

pub mod command;
pub mod proxy;
pub mod resp;
pub mod slot;
pub mod topology;
