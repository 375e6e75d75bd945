//! Failover that clients do not see: a master is SIGKILLed under a steady load of reads and
//! writes through the proxy; the proxy holds the dead shard's requests until its replica is
//! promoted, retries `CLUSTERDOWN` from the healthy shards while the cluster elects, and sends
//! everything to the new master. Only writes that were in flight at the kill may fail.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{wait_for, ClusterOptions, Proxy, RedisCluster, RedisNode, Reply};

/// What the load threads saw.
#[derive(Debug, Default)]
struct LoadReport {
    reads: u64,
    writes: u64,
    read_errors: Vec<String>,
    /// (when, error) of failed writes.
    write_errors: Vec<(Instant, String)>,
    /// The slowest single command.
    slowest: Duration,
    /// Successful writes to the killed master's keys, with when they were answered.
    dead_shard_writes: Vec<Instant>,
}

/// Sequential SET/GET pairs over `keys` from `threads` clients until `stop`; `dead_keys` are
/// the keys of the master that will be killed.
fn run_load(
    proxy: &Proxy,
    keys: Arc<Vec<String>>,
    dead_keys: Arc<Vec<String>>,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<LoadReport>> {
    (0..threads)
        .map(|t| {
            let mut conn = proxy.raw();
            conn.set_read_timeout(Duration::from_secs(30));
            let (keys, dead_keys, stop) = (keys.clone(), dead_keys.clone(), stop.clone());
            thread::spawn(move || {
                let mut report = LoadReport::default();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let key = &keys[(n * 7 + t) % keys.len()];
                    let value = format!("v{t}-{n}");
                    let started = Instant::now();
                    let reply = conn.request(&["SET", key, &value]);
                    report.writes += 1;
                    match reply {
                        Reply::Simple(ok) if ok == "OK" => {
                            if dead_keys.contains(key) {
                                report.dead_shard_writes.push(Instant::now());
                            }
                        }
                        other => report
                            .write_errors
                            .push((Instant::now(), format!("{other:?}"))),
                    }
                    let reply = conn.request(&["GET", key]);
                    report.reads += 1;
                    if matches!(reply, Reply::Error(_)) {
                        report.read_errors.push(format!("GET {key}: {reply:?}"));
                    }
                    report.slowest = report.slowest.max(started.elapsed());
                    n += 1;
                }
                report
            })
        })
        .collect()
}

/// What `ROLE` says `node` is: "master" or "slave".
fn role(node: &RedisNode) -> String {
    let reply = node.raw().request(&["ROLE"]);
    let first = reply
        .as_array()
        .and_then(|a| a.first())
        .and_then(Reply::as_bytes);
    String::from_utf8_lossy(first.unwrap_or_default()).into_owned()
}

/// Waits until `node` says it is a master.
fn wait_until_master(node: &RedisNode, within: Duration) -> Instant {
    wait_for(within, "the replica to be promoted", || {
        (role(node) == "master").then(Instant::now)
    })
}

#[test]
fn master_killed_under_load_costs_clients_nothing_but_in_flight_writes() {
    const THREADS: usize = 4;
    let mut cluster = RedisCluster::start_with(ClusterOptions::new(3, 1).node_timeout_ms(2000));
    let proxy = Proxy::start(&cluster);
    let dead_keys: Vec<String> = cluster.keys_on(&cluster.masters()[0], "fo", 20);
    let mut keys = dead_keys.clone();
    for m in 1..3 {
        keys.extend(cluster.keys_on(&cluster.masters()[m], "fo", 20));
    }
    let replica_addr = cluster.replicas_of(0).next().expect("a replica").addr();

    let stop = Arc::new(AtomicBool::new(false));
    let load = run_load(
        &proxy,
        Arc::new(keys),
        Arc::new(dead_keys),
        THREADS,
        stop.clone(),
    );
    thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    cluster.master_mut(0).kill();
    let replica = cluster
        .nodes()
        .find(|n| n.addr() == replica_addr)
        .expect("the replica");
    let promoted_at = wait_until_master(replica, Duration::from_secs(30));
    // Load keeps running past the promotion, then while the old master comes back as a
    // replica of the new one.
    thread::sleep(Duration::from_secs(2));
    cluster.master_mut(0).restart();
    let back = cluster.masters()[0].addr();
    let returned = cluster
        .nodes()
        .find(|n| n.addr() == back)
        .expect("the old master");
    wait_for(
        Duration::from_secs(30),
        "the old master to rejoin as a replica",
        || (role(returned) == "slave").then_some(()),
    );
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);

    let reports: Vec<LoadReport> = load
        .into_iter()
        .map(|h| h.join().expect("a load thread panicked"))
        .collect();
    let reads: u64 = reports.iter().map(|r| r.reads).sum();
    let writes: u64 = reports.iter().map(|r| r.writes).sum();
    let read_errors: Vec<&String> = reports.iter().flat_map(|r| &r.read_errors).collect();
    let write_errors: Vec<&(Instant, String)> =
        reports.iter().flat_map(|r| &r.write_errors).collect();
    let slowest = reports.iter().map(|r| r.slowest).max().unwrap_or_default();
    let first_write_after_promotion = reports
        .iter()
        .flat_map(|r| &r.dead_shard_writes)
        .filter(|&&at| at > promoted_at)
        .min()
        .map(|&at| at - promoted_at);
    eprintln!(
        "failover under load: {reads} reads, {writes} writes, {} read errors, {} write errors, \
         promotion {:?} after the kill, first write to the shard {:?} after promotion, \
         slowest command {slowest:?}",
        read_errors.len(),
        write_errors.len(),
        promoted_at - killed_at,
        first_write_after_promotion,
    );
    assert!(read_errors.is_empty(), "reads failed: {read_errors:?}");
    // Each thread has at most one write in flight when the master dies.
    assert!(
        write_errors.len() <= THREADS,
        "more write errors than writes in flight at the kill: {write_errors:?}"
    );
    for (at, error) in &write_errors {
        assert!(
            *at < killed_at + Duration::from_millis(500),
            "a write issued after the kill failed: {error}"
        );
        assert!(
            error.contains("may or may not have been applied"),
            "unexpected write error: {error}"
        );
    }
    let first = first_write_after_promotion.expect("no write reached the new master");
    assert!(
        first < Duration::from_secs(1),
        "the first write to the failed shard came {first:?} after the promotion"
    );
    assert!(
        slowest < Duration::from_secs(15),
        "a command took {slowest:?}"
    );
}
