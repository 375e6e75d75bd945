//! The integration tests' harness: real `redis-server` clusters and the real `slotgate` binary,
//! on free loopback ports, with deadlines instead of sleeps.
//!
//! - [`RedisNode`]: one `redis-server`, cluster node or standalone reference server.
//! - [`RedisCluster`]: masters and replicas joined by hand, plus slot migration step by step.
//! - [`SlotgateNode`]: `slotgate node`; [`Differential`]: it and a `redis-server` side by side.
//! - [`Proxy`]: `slotgate proxy` in front of a cluster, with `redis` and raw RESP clients.
//! - [`RawConn`] / [`Reply`]: any bytes out, exact replies in.
//! - [`assert_eventually`], [`wait_for`], [`wait_for_ok`]: polling with a deadline.
//!
//! Every process is SIGKILLed and reaped when its handle drops, and every scratch directory is
//! removed, unless the test panicked: then the directories stay and the proxy's log tail is
//! printed.

// Not every test module uses every helper: the harness is written ahead of some of its users.
#![allow(dead_code, unused_imports)]

mod cluster;
mod dataset;
mod node;
mod ports;
mod proxy;
mod redis_node;
mod resp;
mod self_test;
mod temp_dir;
mod wait;

pub use cluster::{ClusterOptions, RedisCluster, SLOTS};
pub use dataset::{assert_same_dataset, dataset};
pub use node::{run_node_to_exit, Differential, SlotgateNode};
pub use ports::{free_port, loopback};
pub use proxy::{run_proxy_to_exit, Proxy};
pub use redis_node::{NodeOptions, RedisNode};
pub use resp::{assert_same_replies, encode_command, RawConn, Reply};
pub use temp_dir::TempDir;
pub use wait::{assert_eventually, wait_for, wait_for_ok};
