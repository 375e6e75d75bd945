//! Reads from replicas: `read-from`, a client's own `READONLY`/`READWRITE`, reads during a
//! live slot migration (which must never answer nil for a key that exists), and a replica
//! that dies under reads. Where reads landed is checked on the nodes themselves, with
//! `INFO commandstats`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::harness::{
    assert_eventually, wait_for, ClusterOptions, Proxy, RedisCluster, RedisNode, Reply,
};

const SETTLE: Duration = Duration::from_secs(10);

/// How many `GET`s `node` has served since its stats were last reset.
fn gets_served(node: &RedisNode) -> u64 {
    let stats = node.query_string(&["INFO", "commandstats"]);
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn reset_stats(cluster: &RedisCluster) {
    for node in cluster.nodes() {
        assert_eq!(node.query_string(&["CONFIG", "RESETSTAT"]), "OK");
    }
}

/// GETs served by the masters and by the replicas since the last reset.
fn gets_by_role(cluster: &RedisCluster) -> (u64, u64) {
    let masters = cluster.masters().iter().map(gets_served).sum();
    let replicas = cluster.replicas().iter().map(gets_served).sum();
    (masters, replicas)
}

/// Writes `keys` through the proxy and waits until every replica has them.
fn write_and_replicate(proxy: &Proxy, keys: &[String]) {
    let mut raw = proxy.raw();
    for key in keys {
        assert_eq!(raw.request(&["SET", key, key]), Reply::Simple("OK".into()));
    }
    assert_eq!(raw.request(&["WAIT", "1", "5000"]), Reply::Integer(1));
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

#[test]
fn read_from_replica_sends_reads_to_replicas_and_writes_to_masters() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--read-from", "replica"]);
    let keys = keys("rr", 60);
    write_and_replicate(&proxy, &keys);
    // Wait until the proxy has checked the replicas' health once.
    let mut raw = proxy.raw();
    reset_stats(&cluster);
    for key in &keys {
        assert_eq!(raw.request(&["GET", key]), Reply::bulk(key), "GET {key}");
    }
    // MGET across slots: each part is a read, also served by replicas.
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().take(10).cloned());
    let reply = raw.request(&mget);
    assert_eq!(reply, Reply::bulks(keys.iter().take(10)));
    let (on_masters, on_replicas) = gets_by_role(&cluster);
    assert_eq!(on_masters, 0, "GETs served by masters");
    assert_eq!(on_replicas, keys.len() as u64);

    // Writes still go to the masters; a write reply is the master's.
    assert_eq!(
        raw.request(&["SET", &keys[0], "new"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(raw.request(&["INCR", "rr:counter"]), Reply::Integer(1));
    // Inside MULTI everything goes to the master.
    reset_stats(&cluster);
    raw.request(&["MULTI"]);
    raw.request(&["GET", &keys[0]]);
    assert_eq!(
        raw.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::bulk("new")]))
    );
    assert_eq!(gets_by_role(&cluster), (1, 0));
    let info =
        String::from_utf8_lossy(raw.request(&["INFO", "cluster"]).as_bytes().unwrap()).into_owned();
    assert!(info.contains("slotgate_read_from:replica"), "{info}");

    // A client that says READWRITE reads from the masters, whatever the configuration says.
    let mut own = proxy.raw();
    assert_eq!(own.request(&["READWRITE"]), Reply::Simple("OK".into()));
    reset_stats(&cluster);
    for key in keys.iter().skip(1).take(10) {
        assert_eq!(own.request(&["GET", key]), Reply::bulk(key));
    }
    assert_eq!(gets_by_role(&cluster), (10, 0));
}

#[test]
fn readonly_and_readwrite_switch_one_clients_reads() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let keys = keys("ro", 30);
    write_and_replicate(&proxy, &keys);
    let mut reader = proxy.raw();
    let mut other = proxy.raw();

    reset_stats(&cluster);
    assert_eq!(reader.request(&["READONLY"]), Reply::Simple("OK".into()));
    for key in &keys {
        assert_eq!(reader.request(&["GET", key]), Reply::bulk(key));
    }
    assert_eq!(gets_by_role(&cluster), (0, keys.len() as u64));

    // Another client's reads are untouched by the first one's READONLY.
    reset_stats(&cluster);
    for key in &keys {
        assert_eq!(other.request(&["GET", key]), Reply::bulk(key));
    }
    assert_eq!(gets_by_role(&cluster), (keys.len() as u64, 0));

    reset_stats(&cluster);
    assert_eq!(reader.request(&["READWRITE"]), Reply::Simple("OK".into()));
    for key in &keys {
        assert_eq!(reader.request(&["GET", key]), Reply::bulk(key));
    }
    assert_eq!(gets_by_role(&cluster), (keys.len() as u64, 0));
}

#[test]
fn replica_reads_during_a_live_migration_never_miss_a_key() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--read-from", "replica"]);
    let keys = keys("{mig}", 40);
    let slot = cluster.key_slot(&keys[0]);
    let from = cluster.node_for_slot(slot);
    let to = cluster.other_master(from);
    write_and_replicate(&proxy, &keys);
    let mut raw = proxy.raw();
    let mut admin = proxy.raw();

    cluster.begin_migration(slot, from, to);
    assert_eventually(SETTLE, "the proxy to see the migration", || {
        let info = admin.request(&["INFO", "cluster"]);
        String::from_utf8_lossy(info.as_bytes().unwrap()).contains("slotgate_slots_migrating:1")
    });
    // Half the keys move: neither side's replica has them all.
    cluster.move_keys(slot, from, to, keys.len() / 2);
    for key in &keys {
        assert_eq!(
            raw.request(&["GET", key]),
            Reply::bulk(key),
            "GET {key} mid-migration"
        );
    }
    cluster.finish_migration(slot, from, to);
    // Right after the hand-over the proxy's map may still name the old owner: its replica's
    // MOVED must lead to the new owner, never to the client.
    for key in &keys {
        assert_eq!(
            raw.request(&["GET", key]),
            Reply::bulk(key),
            "GET {key} after"
        );
    }
    assert_eventually(SETTLE, "the migration to end in the proxy's view", || {
        let info = admin.request(&["INFO", "cluster"]);
        String::from_utf8_lossy(info.as_bytes().unwrap()).contains("slotgate_slots_migrating:0")
    });
}

#[test]
fn a_replica_killed_under_reads_costs_no_errors() {
    let mut cluster = RedisCluster::start_with(ClusterOptions::new(3, 1).node_timeout_ms(2000));
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--read-from", "replica"]);
    let keys = Arc::new(keys("rk", 60));
    write_and_replicate(&proxy, &keys);

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|t| {
            let mut conn = proxy.raw();
            conn.set_read_timeout(Duration::from_secs(30));
            let (keys, stop) = (keys.clone(), stop.clone());
            thread::spawn(move || {
                let (mut reads, mut errors) = (0u64, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let key = &keys[(reads as usize * 3 + t) % keys.len()];
                    let reply = conn.request(&["GET", key]);
                    if reply != Reply::bulk(key) {
                        errors.push(format!("GET {key}: {reply:?}"));
                    }
                    reads += 1;
                }
                (reads, errors)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    cluster.replica_mut(0).kill();
    // Reads keep being served (by the master) while the cluster notices the dead replica.
    let alive = cluster.masters()[1].addr();
    wait_for(
        Duration::from_secs(20),
        "the cluster to mark the replica failed",
        || {
            let node = cluster.nodes().find(|n| n.addr() == alive)?;
            node.query_string(&["CLUSTER", "NODES"])
                .contains("slave,fail ")
                .then_some(())
        },
    );
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for reader in readers {
        let (reads, errors) = reader.join().expect("a reader panicked");
        assert!(errors.is_empty(), "reads failed: {errors:?}");
        total += reads;
    }
    assert!(total > 100, "only {total} reads ran");
}

#[test]
fn read_from_any_and_nearest_serve_correct_reads() {
    let cluster = RedisCluster::start(3, 1);
    let keys = keys("any", 60);
    for (policy, both_roles) in [("any", true), ("nearest", false)] {
        let proxy = Proxy::start_with(&cluster.master_addrs(), &["--read-from", policy]);
        write_and_replicate(&proxy, &keys);
        let mut raw = proxy.raw();
        reset_stats(&cluster);
        for key in &keys {
            assert_eq!(
                raw.request(&["GET", key]),
                Reply::bulk(key),
                "{policy}: GET {key}"
            );
        }
        let (on_masters, on_replicas) = gets_by_role(&cluster);
        assert_eq!(on_masters + on_replicas, keys.len() as u64, "{policy}");
        if both_roles {
            // Round-robin over the master and its replica: both take a share.
            assert!(
                on_masters > 0 && on_replicas > 0,
                "{policy}: masters {on_masters}, replicas {on_replicas}"
            );
        }
    }
}
