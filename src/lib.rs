//! slotgate: a Redis Cluster smart proxy, and the Redis-compatible node it fronts.
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
//! [`node`] is the other face: a Redis-compatible server. Its sessions parse with the same
//! `resp` parser, resolve commands with the same `command` table (one id per command picks the
//! handler), and run them one at a time against the keyspace, whose keys are ordered by
//! [`slot`] so a slot's keys can be walked together.
//!
//! Dependencies point one way: `resp` ← `command`, `slot` ← `topology` ← {`proxy`, `node`};
//! `proxy` and `node` never import each other.

#![forbid(unsafe_code)]

pub mod command;
pub mod node;
pub mod proxy;
pub mod resp;
pub mod slot;
pub mod topology;
