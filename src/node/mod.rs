//! `slotgate node`: a Redis-compatible server.
//!
//! A command's path: [`server`] accepts the connection; [`session`] reads bytes, cuts them into
//! commands with `resp`'s parser and resolves each with the shared command table (arity,
//! unknown names); [`commands`] finds the handler by the command's id and runs it with a
//! [`commands::Ctx`] over the [`keyspace`], holding the node's one keyspace lock, so commands
//! are atomic as in Redis. Replies are written by [`reply::Reply`] in the client's protocol
//! (RESP2 or RESP3). Blocking commands park in [`blocking`] and are served when their keys
//! change; [`pubsub`] delivers published messages and [`notify`] the keyspace events;
//! [`tracking`] remembers who caches which keys and sends their invalidations; [`lua`] runs
//! scripts and functions; [`acl`] holds the users and what each may run; [`latency`] keeps the
//! latency monitor and histograms; [`config`] holds the `redis.conf` directives; [`rdb`]
//! serializes values (`DUMP`, `RESTORE`) and whole snapshot files, which
//! [`rdb::persistence`] saves (`SAVE`, `BGSAVE`, the `save` rules, shutdown) and loads at
//! start.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod glob;
pub mod keyspace;
pub mod latency;
pub mod lua;
pub mod memory;
pub mod monitor;
pub mod notify;
pub mod number;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod reply;
pub mod server;
pub mod session;
pub mod stats;
pub mod tracking;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::NodeConfig;
pub use server::Node;

/// The Redis version the node speaks for: replies, error texts and `INFO` follow Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.15";

/// Runs a node until `shutdown` is cancelled (or `SHUTDOWN` is called).
pub async fn run(config: NodeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let acl = acl::Acl::from_config(&config).map_err(|e| anyhow::anyhow!("ACL: {e}"))?;
    let node = Arc::new(Node::new(config, acl, shutdown));
    rdb::persistence::load_at_start(&node)?;
    server::run(node).await
}
