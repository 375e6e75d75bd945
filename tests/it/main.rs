//! slotgate's integration tests: one test binary, real processes on free loopback ports.
//!
//! `harness` starts Redis clusters, the proxy and the node; each other module covers one area.

mod command_table;
mod dashboards;
mod harness;
mod node_acl;
mod node_basics;
mod node_dump;
mod node_functions;
mod node_geo;
mod node_hashes;
mod node_hyperloglog;
mod node_introspection;
mod node_keys;
mod node_lists;
mod node_notify;
mod node_persistence;
mod node_pubsub;
mod node_replication;
mod node_scripting;
mod node_server;
mod node_sets;
mod node_streams;
mod node_strings;
mod node_tracking;
mod node_zsets;
mod proxy_auth;
mod proxy_backend_auth;
mod proxy_clients;
mod proxy_core;
mod proxy_failover;
mod proxy_logs;
mod proxy_metrics;
mod proxy_multikey;
mod proxy_pubsub;
mod proxy_replicas;
mod proxy_resp3;
mod proxy_sharded_pubsub;
mod proxy_stateful;
mod slots;
