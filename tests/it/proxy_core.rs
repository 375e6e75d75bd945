//! `slotgate proxy` in front of a real Redis Cluster, seen by the clients that rely on it:
//! routing, pipelines, concurrency, slot migrations, failures, bad input and the proxy's own
//! commands. Where Redis defines the answer, a real `redis-server` gives the expected bytes.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use redis::Commands;

use crate::harness::{
    encode_command, free_port, loopback, run_proxy_to_exit, wait_for, Proxy, RawConn, RedisCluster,
    RedisNode, Reply,
};

/// How long a test waits for a client thread to make progress before calling it stuck.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[test]
fn routes_each_key_to_the_master_owning_its_slot() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let mut rng = StdRng::seed_from_u64(1);
    let mut keys = HashSet::new();
    while keys.len() < 3000 {
        keys.insert(random_key(&mut rng));
    }
    let entries: Vec<(Vec<u8>, Vec<u8>)> = keys
        .into_iter()
        .map(|key| {
            let mut value = vec![0; rng.gen_range(0..64)];
            rng.fill_bytes(&mut value);
            (key, value)
        })
        .collect();

    let mut con = proxy.client();
    for (key, value) in &entries {
        let () = con.set(key, value).expect("SET through the proxy");
    }
    for (key, value) in &entries {
        let read: Vec<u8> = con.get(key).expect("GET through the proxy");
        assert_eq!(&read, value, "value of key {:?}", key.escape_ascii());
    }

    // Each key sits on the master that owns its slot, and only there.
    let keys: Vec<&[u8]> = entries.iter().map(|(key, _)| key.as_slice()).collect();
    let slots = cluster.key_slots(&keys);
    let owners = cluster.slot_owners();
    for master in cluster.masters() {
        let mine: Vec<usize> = (0..entries.len())
            .filter(|&i| owners[usize::from(slots[i])].port() == master.port())
            .collect();
        assert!(!mine.is_empty(), "no key landed on {master:?}");
        let mut pipe = redis::pipe();
        for &i in &mine {
            pipe.get(&entries[i].0);
        }
        let stored: Vec<Option<Vec<u8>>> = pipe.query(&mut master.client()).unwrap();
        for (&i, stored) in mine.iter().zip(stored) {
            assert_eq!(
                stored.as_ref(),
                Some(&entries[i].1),
                "key {:?} (slot {}) on its owner {master:?}",
                entries[i].0.escape_ascii(),
                slots[i]
            );
        }
        let dbsize: usize = redis::cmd("DBSIZE").query(&mut master.client()).unwrap();
        assert_eq!(dbsize, mine.len(), "keys on {master:?}");
    }
}

#[test]
fn values_are_binary_safe() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut big = vec![0u8; 1024 * 1024];
    StdRng::seed_from_u64(2).fill_bytes(&mut big);
    let values: Vec<(&str, Vec<u8>)> = vec![
        ("bin:nul", b"a\0b\0".to_vec()),
        ("bin:crlf", b"line\r\nbreak\r\n".to_vec()),
        ("bin:resp", b"$5\r\nhello\r\n*1\r\n".to_vec()),
        ("bin:empty", Vec::new()),
        ("bin:all-bytes", (0..=255).collect()),
        ("bin:1MiB", big),
    ];

    let mut con = proxy.client();
    for (key, value) in &values {
        let () = con.set(key, value).unwrap();
    }
    for (key, value) in &values {
        let through_proxy: Vec<u8> = con.get(key).unwrap();
        assert!(through_proxy == *value, "{key} read through the proxy");
        let owner = cluster.node_for_slot(cluster.key_slot(key));
        let direct: Vec<u8> = owner.client().get(key).unwrap();
        assert!(direct == *value, "{key} read from its owner");
    }
    let missing: Option<Vec<u8>> = con.get("bin:missing").unwrap();
    assert_eq!(missing, None);
}

#[test]
fn multi_key_commands_on_one_slot_work() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut raw = proxy.raw();

    let reply = raw.request(&["MSET", "{user1}:a", "1", "{user1}:b", "", "{user1}:c", "3"]);
    assert_eq!(reply, Reply::Simple("OK".into()));
    let reply = raw.request(&[
        "MGET",
        "{user1}:a",
        "{user1}:b",
        "{user1}:missing",
        "{user1}:c",
    ]);
    assert_eq!(
        reply,
        Reply::Array(Some(vec![
            Reply::bulk("1"),
            Reply::bulk(""),
            Reply::Bulk(None),
            Reply::bulk("3"),
        ]))
    );

    let owner = cluster.node_for_slot(cluster.key_slot("{user1}"));
    let direct: Vec<Option<String>> = owner
        .client()
        .mget(&["{user1}:a", "{user1}:b", "{user1}:c"])
        .unwrap();
    assert_eq!(
        direct,
        [Some("1".into()), Some(String::new()), Some("3".into())]
    );

    let reply = raw.request(&["DEL", "{user1}:a", "{user1}:c", "{user1}:missing"]);
    assert_eq!(reply, Reply::Integer(2));
}

/// Until the proxy splits multi-key commands by slot, it refuses them exactly as a cluster node
/// does. When splitting lands, this test changes into one that checks the merged replies.
#[test]
fn atomic_cross_slot_commands_are_rejected_with_crossslot() {
    // Commands whose meaning needs all their keys at once cannot be split across nodes: the
    // proxy answers what a cluster node answers, and writes nothing.
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    assert_ne!(cluster.key_slot("a"), cluster.key_slot("b"));
    let crossslot = Reply::Error("CROSSSLOT Keys in request don't hash to the same slot".into());
    let mut raw = proxy.raw();
    let mut node = cluster.masters()[0].raw();

    for command in [
        &["MSETNX", "a", "1", "b", "2"][..],
        &["RENAME", "a", "b"],
        &["SMOVE", "a", "b", "m"],
        &["LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["SINTERSTORE", "a", "b"],
        &["ZUNIONSTORE", "a", "1", "b"],
        &["BITOP", "AND", "a", "b"],
        &["COPY", "a", "b"],
        &["EVAL", "return 1", "2", "a", "b"],
    ] {
        assert_eq!(raw.request(command), crossslot, "{command:?}");
        assert_eq!(
            node.request(command),
            crossslot,
            "a real node on {command:?}"
        );
    }
    // The connection is still usable, and nothing was written.
    assert_eq!(raw.request(&["GET", "a"]), Reply::Bulk(None));
    assert_eq!(raw.request(&["GET", "b"]), Reply::Bulk(None));
}

// ---------------------------------------------------------------------------------------------
// Pipelines and concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn pipeline_of_ten_thousand_commands_in_one_write_keeps_order() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut rng = StdRng::seed_from_u64(3);
    let mut strings: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<String, i64> = HashMap::new();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        match rng.gen_range(0..3) {
            0 => {
                let key = format!("pipe:str:{}", rng.gen_range(0..2000));
                let value = format!("value-{i}");
                request.extend(encode_command(&["SET", &key, &value]));
                expected.push(Reply::Simple("OK".into()));
                strings.insert(key, value);
            }
            1 => {
                let key = format!("pipe:str:{}", rng.gen_range(0..2000));
                request.extend(encode_command(&["GET", &key]));
                expected.push(Reply::Bulk(
                    strings.get(&key).map(|v| v.clone().into_bytes()),
                ));
            }
            _ => {
                let key = format!("pipe:counter:{}", rng.gen_range(0..500));
                let counter = counters.entry(key.clone()).or_default();
                *counter += 1;
                request.extend(encode_command(&["INCR", &key]));
                expected.push(Reply::Integer(*counter));
            }
        }
    }

    let mut raw = proxy.raw();
    // One write of the whole pipeline, from another thread so that replies are read while the
    // proxy is still reading requests, as a real pipelining client does.
    let mut writer = raw.stream().try_clone().unwrap();
    let write = std::thread::spawn(move || writer.write_all(&request));
    for (i, want) in expected.iter().enumerate() {
        let got = raw.read_reply();
        assert_eq!(&got, want, "reply {i} of the pipeline");
    }
    write.join().unwrap().expect("writing the pipeline");
    assert_eq!(raw.request(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn concurrent_clients_get_their_own_replies() {
    const CLIENTS: usize = 50;
    const COMMANDS: usize = 500;
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);

    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let proxy = &proxy;
                scope.spawn(move || {
                    let mut con = proxy.client();
                    let mut last: HashMap<String, String> = HashMap::new();
                    let mut counter = 0;
                    for i in 0..COMMANDS {
                        let key = format!("client:{client}:key:{}", i % 20);
                        let outcome = match i % 3 {
                            0 => {
                                let value = format!("{client}:{i}");
                                let result: redis::RedisResult<()> = con.set(&key, &value);
                                last.insert(key, value);
                                result.map(|()| None)
                            }
                            1 => con.get::<_, Option<String>>(&key).map(|got| {
                                let want = last.get(&key);
                                (got.as_ref() != want)
                                    .then(|| format!("GET {key}: {got:?}, want {want:?}"))
                            }),
                            _ => {
                                counter += 1;
                                let counter_key = format!("client:{client}:counter");
                                con.incr::<_, _, i64>(&counter_key, 1).map(|got| {
                                    (got != counter).then(|| format!("INCR: {got}, want {counter}"))
                                })
                            }
                        };
                        match outcome {
                            Ok(None) => {}
                            Ok(Some(mismatch)) => {
                                return Some(format!("client {client}: {mismatch}"))
                            }
                            Err(e) => return Some(format!("client {client} command {i}: {e}")),
                        }
                    }
                    None
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|worker| worker.join().expect("client thread panicked"))
            .collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------------
// Slot migration
// ---------------------------------------------------------------------------------------------

/// A client that loops over `keys` through the proxy: SET a fresh value, GET it back. It runs
/// until told to stop, or until it has seen enough failures to explain what went wrong.
struct BusyClient {
    round_trips: AtomicUsize,
    stop: AtomicBool,
    gave_up: AtomicBool,
}

/// What a [`BusyClient`] saw: every error or wrong value, and the last value it wrote per key.
struct BusyReport {
    failures: Vec<String>,
    last_written: HashMap<String, String>,
}

impl BusyClient {
    const MAX_FAILURES: usize = 10;

    fn new() -> BusyClient {
        BusyClient {
            round_trips: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
        }
    }

    fn run(&self, proxy: &Proxy, keys: &[String]) -> BusyReport {
        let mut con = proxy.client();
        let mut rng = StdRng::seed_from_u64(4);
        let mut report = BusyReport {
            failures: Vec::new(),
            last_written: HashMap::new(),
        };
        for n in 0.. {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if report.failures.len() >= Self::MAX_FAILURES {
                self.gave_up.store(true, Ordering::Relaxed);
                break;
            }
            let key = &keys[rng.gen_range(0..keys.len())];
            let value = format!("value-{n}");
            match con.set::<_, _, ()>(key, &value) {
                Ok(()) => {
                    report.last_written.insert(key.clone(), value.clone());
                }
                Err(e) => {
                    report.failures.push(format!("SET {key}: {e}"));
                    continue;
                }
            }
            match con.get::<_, Option<String>>(key) {
                Ok(Some(read)) if read == value => {}
                Ok(other) => report
                    .failures
                    .push(format!("GET {key}: {other:?}, wrote {value}")),
                Err(e) => report.failures.push(format!("GET {key}: {e}")),
            }
            self.round_trips.fetch_add(1, Ordering::Relaxed);
        }
        report
    }

    /// Waits until the client has done `more` more SET+GET round trips than now, or has given
    /// up (its failures then explain the test's failure).
    fn wait_for_progress(&self, more: usize) {
        let target = self.round_trips.load(Ordering::Relaxed) + more;
        wait_for(PROGRESS_TIMEOUT, "the client to make progress", || {
            let done = self.round_trips.load(Ordering::Relaxed) >= target
                || self.gave_up.load(Ordering::Relaxed);
            done.then_some(())
        });
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn live_slot_migration_is_invisible_to_clients() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let slot = cluster.key_slot("{live}");
    let from = cluster.node_for_slot(slot);
    let to = other_master(&cluster, from);
    let keys: Vec<String> = (0..200).map(|i| format!("{{live}}:{i}")).collect();
    let mut con = proxy.client();
    for key in &keys {
        let () = con.set(key, "initial").unwrap();
    }

    let client = BusyClient::new();
    let report = std::thread::scope(|scope| {
        let worker = scope.spawn(|| client.run(&proxy, &keys));
        client.wait_for_progress(50);
        cluster.begin_migration(slot, from, to);
        // Move the keys a few at a time, letting the client work in between, so that it meets
        // the slot in every state: some keys moved, most moved, all moved, slot handed over.
        while cluster.move_keys(slot, from, to, 10) > 0 {
            client.wait_for_progress(10);
        }
        cluster.finish_migration(slot, from, to);
        client.wait_for_progress(200);
        client.stop();
        worker.join().expect("client thread panicked")
    });

    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(cluster.node_for_slot(slot).port(), to.port());
    let mut direct = to.client();
    for key in &keys {
        let want = report
            .last_written
            .get(key)
            .map_or("initial", String::as_str);
        let stored: String = direct.get(key).unwrap();
        assert_eq!(stored, want, "{key} on the new owner");
    }
}

#[test]
fn half_migrated_slot_is_served_through_ask() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let slot = cluster.key_slot("{half}");
    let from = cluster.node_for_slot(slot);
    let to = other_master(&cluster, from);
    let keys: Vec<String> = (0..100).map(|i| format!("{{half}}:{i}")).collect();
    let mut raw = proxy.raw();
    for key in &keys {
        assert_eq!(raw.request(&["SET", key, key]), Reply::Simple("OK".into()));
    }

    cluster.begin_migration(slot, from, to);
    assert_eq!(cluster.move_keys(slot, from, to, 50), 50);
    // The migrating node redirects for the keys it no longer has.
    let mut source = from.raw();
    let moved: HashSet<&String> = keys
        .iter()
        .filter(|key| source.request(&["GET", key]).is_error())
        .collect();
    assert_eq!(moved.len(), 50, "half the keys are on the importing node");

    // Reads of moved and unmoved keys, and writes of new and existing ones: no redirect
    // reaches the client.
    for key in &keys {
        assert_eq!(raw.request(&["GET", key]), Reply::bulk(key), "GET {key}");
    }
    assert_eq!(
        raw.request(&["SET", "{half}:new", "fresh"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(raw.request(&["GET", "{half}:new"]), Reply::bulk("fresh"));
    for key in &keys {
        let value = format!("updated {key}");
        assert_eq!(
            raw.request(&["SET", key, &value]),
            Reply::Simple("OK".into())
        );
        assert_eq!(raw.request(&["GET", key]), Reply::bulk(&value));
    }

    // A new key in a migrating slot belongs to the importing node; moved keys stayed there.
    let mut target = to.raw();
    for key in moved.iter().map(|k| k.as_str()).chain(["{half}:new"]) {
        target.send(
            &[
                encode_command(&["ASKING"]),
                encode_command(&["EXISTS", key]),
            ]
            .concat(),
        );
        assert_eq!(target.read_reply(), Reply::Simple("OK".into()));
        assert_eq!(
            target.read_reply(),
            Reply::Integer(1),
            "{key} on the importing node"
        );
    }

    cluster.finish_migration(slot, from, to);
    for key in &keys {
        assert_eq!(
            raw.request(&["GET", key]),
            Reply::bulk(format!("updated {key}"))
        );
    }
}

#[test]
fn redis_cli_reshard_is_invisible_to_clients() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let keys: Vec<String> = (0..3000).map(|i| format!("reshard:{i}")).collect();
    let mut con = proxy.client();
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.set(key, "initial").ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let (from, to) = (&cluster.masters()[0], &cluster.masters()[1]);
    let output_path = cluster.dir().path().join("reshard.out");

    let client = BusyClient::new();
    let report = std::thread::scope(|scope| {
        let worker = scope.spawn(|| client.run(&proxy, &keys));
        client.wait_for_progress(50);
        let output = std::fs::File::create(&output_path).unwrap();
        let status = Command::new("redis-cli")
            .args(["--cluster", "reshard", &from.addr().to_string()])
            .args(["--cluster-from", from.node_id()])
            .args(["--cluster-to", to.node_id()])
            .args(["--cluster-slots", "1000", "--cluster-yes"])
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .status()
            .expect("run redis-cli");
        assert!(
            status.success(),
            "redis-cli --cluster reshard failed: {status}\n{}",
            std::fs::read_to_string(&output_path).unwrap_or_default()
        );
        client.wait_for_progress(200);
        client.stop();
        worker.join().expect("client thread panicked")
    });

    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let owners = cluster.slot_owners();
    assert_eq!(
        owners.iter().filter(|o| o.port() == to.port()).count(),
        5461 + 1000
    );
    let slots = cluster.key_slots(&keys);
    for (key, slot) in keys.iter().zip(slots) {
        let want = report
            .last_written
            .get(key)
            .map_or("initial", String::as_str);
        let stored: Option<String> = owners[usize::from(slot)].client().get(key).unwrap();
        assert_eq!(stored.as_deref(), Some(want), "{key} on its owner");
    }
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

/// How soon a request for a dead master's slot must get its error, given the proxy flags below:
/// the request timeout plus the connect timeout plus the proxy's bounded retries, with room to
/// spare on a slow machine. A hang fails the test instead of blocking it.
const DEAD_MASTER_REPLY_WITHIN: Duration = Duration::from_secs(8);
const FAST_FAILURE_ARGS: [&str; 6] = [
    "--request-timeout-ms",
    "1000",
    "--connect-timeout-ms",
    "500",
    // No replica can take over here: hold requests only briefly before answering the error.
    "--failover-hold-ms",
    "1000",
];

#[test]
fn killed_master_gets_errors_fast_while_other_masters_keep_serving() {
    let mut cluster = RedisCluster::start_without_failover();
    let proxy = Proxy::start_with(&cluster.master_addrs(), &FAST_FAILURE_ARGS);
    let dead_key = &cluster.keys_on(&cluster.masters()[0], "dead", 1)[0];
    let live_keys: Vec<String> = [1, 2]
        .iter()
        .flat_map(|&m| cluster.keys_on(&cluster.masters()[m], "live", 5))
        .collect();
    let mut raw = proxy.raw();
    for key in live_keys.iter().chain([dead_key]) {
        assert_eq!(
            raw.request(&["SET", key, "before"]),
            Reply::Simple("OK".into())
        );
    }

    cluster.master_mut(0).kill();

    for attempt in 0..2 {
        let started = Instant::now();
        let reply = raw.request(&["GET", dead_key]);
        let elapsed = started.elapsed();
        assert_backend_down_error(&reply);
        assert!(
            elapsed < DEAD_MASTER_REPLY_WITHIN,
            "attempt {attempt}: the error took {elapsed:?}"
        );
    }
    for key in &live_keys {
        assert_eq!(
            raw.request(&["GET", key]),
            Reply::bulk("before"),
            "GET {key}"
        );
        assert_eq!(
            raw.request(&["SET", key, "after"]),
            Reply::Simple("OK".into())
        );
    }

    // In a pipeline the dead key's error takes its place between the live replies.
    let (first, last) = (&live_keys[0], &live_keys[live_keys.len() - 1]);
    raw.send(
        &[
            encode_command(&["GET", first]),
            encode_command(&["GET", dead_key]),
            encode_command(&["GET", last]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), Reply::bulk("after"));
    assert_backend_down_error(&raw.read_reply());
    assert_eq!(raw.read_reply(), Reply::bulk("after"));

    let mut fresh = proxy.raw();
    assert_eq!(fresh.request(&["GET", first]), Reply::bulk("after"));
}

#[test]
fn proxy_starts_when_the_first_seed_is_down() {
    let cluster = RedisCluster::start(3, 0);
    let dead_seed = loopback(free_port());
    let proxy = Proxy::start_with(&[dead_seed, cluster.masters()[0].addr()], &[]);
    let mut raw = proxy.raw();
    for master in cluster.masters() {
        for key in cluster.keys_on(master, "seed", 3) {
            assert_eq!(raw.request(&["SET", &key, "v"]), Reply::Simple("OK".into()));
            assert_eq!(raw.request(&["GET", &key]), Reply::bulk("v"));
        }
    }
}

#[test]
fn proxy_serves_reachable_masters_when_one_is_down_at_start() {
    let mut cluster = RedisCluster::start_without_failover();
    let dead_keys = cluster.keys_on(&cluster.masters()[0], "down", 3);
    let live_keys: Vec<String> = [1, 2]
        .iter()
        .flat_map(|&m| cluster.keys_on(&cluster.masters()[m], "up", 3))
        .collect();
    cluster.master_mut(0).kill();

    // The dead master is the first seed too.
    let proxy = Proxy::start_with(&cluster.master_addrs(), &FAST_FAILURE_ARGS);
    let mut raw = proxy.raw();
    for key in &live_keys {
        assert_eq!(raw.request(&["SET", key, "v"]), Reply::Simple("OK".into()));
        assert_eq!(raw.request(&["GET", key]), Reply::bulk("v"));
    }
    for key in &dead_keys {
        let started = Instant::now();
        assert_backend_down_error(&raw.request(&["GET", key]));
        assert!(started.elapsed() < DEAD_MASTER_REPLY_WITHIN);
    }
}

#[test]
fn proxy_refuses_unknown_flags_at_start() {
    let (status, log) =
        run_proxy_to_exit("127.0.0.1:1", &["--no-such-flag"], Duration::from_secs(10));
    assert!(!status.success(), "slotgate accepted an unknown flag");
    assert!(log.contains("--no-such-flag"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn protocol_errors_get_an_error_reply_and_a_close() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut bystander = proxy.raw();
    assert_eq!(
        bystander.request(&["SET", "bystander", "1"]),
        Reply::Simple("OK".into())
    );

    let malformed: [&[u8]; 5] = [
        b"*1\r\n$abc\r\n",
        b"*2\r\n+foo\r\n",
        // Over the default bulk length limit (Redis's proto-max-bulk-len, 512 MiB).
        b"*2\r\n$3\r\nGET\r\n$600000000\r\n",
        b"*abc\r\n",
        b"SET \"unbalanced\r\n",
    ];
    for input in malformed {
        for (who, addr) in [("redis-server", reference.addr()), ("proxy", proxy.addr())] {
            let mut raw = RawConn::connect(addr);
            raw.send(input);
            let reply = raw.read_reply();
            assert!(
                reply
                    .as_error()
                    .is_some_and(|e| e.starts_with("ERR Protocol error:")),
                "{who} replied {reply:?} to {:?}",
                input.escape_ascii()
            );
            raw.assert_closed();
        }
        // Another client of the proxy is unaffected.
        assert_eq!(bystander.request(&["GET", "bystander"]), Reply::bulk("1"));
    }
}

#[test]
fn command_errors_match_redis_and_keep_the_connection() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();

    let cases: [(&[&str], &[u8]); 5] = [
        (
            &["foobar", "a", "b"],
            b"-ERR unknown command 'foobar', with args beginning with: 'a' 'b' \r\n",
        ),
        (
            &["foobar"],
            b"-ERR unknown command 'foobar', with args beginning with: \r\n",
        ),
        (
            &["GET"],
            b"-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            &["SET", "k"],
            b"-ERR wrong number of arguments for 'set' command\r\n",
        ),
        (
            &["MGET"],
            b"-ERR wrong number of arguments for 'mget' command\r\n",
        ),
    ];
    for (command, expected) in cases {
        redis.send_command(command);
        let from_redis = redis.read_raw_reply();
        assert_eq!(
            from_redis.escape_ascii().to_string(),
            expected.escape_ascii().to_string(),
            "redis-server's own answer to {command:?}"
        );
        raw.send_command(command);
        assert_eq!(
            raw.read_raw_reply().escape_ascii().to_string(),
            from_redis.escape_ascii().to_string(),
            "the proxy's answer to {command:?}"
        );
        assert_eq!(raw.request(&["PING"]), Reply::Simple("PONG".into()));
    }
}

#[test]
fn inline_commands_work_as_in_redis() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();

    let lines: [&[u8]; 7] = [
        b"PING\r\n",
        b"SET inline:a b\r\n",
        b"GET inline:a\r\n",
        b"SET \"inline:hello world\" \"x y\"\r\n",
        b"GET 'inline:hello world'\r\n",
        b"SET inline:escaped \"tab\\there\\x41\"\r\n",
        b"  GET    inline:escaped  \r\n",
    ];
    for line in lines {
        redis.send(line);
        let want = redis.read_raw_reply();
        raw.send(line);
        assert_eq!(
            raw.read_raw_reply().escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "reply to {:?}",
            line.escape_ascii()
        );
    }
    // What inline commands wrote is what RESP commands read.
    assert_eq!(
        raw.request(&["GET", "inline:hello world"]),
        Reply::bulk("x y")
    );
    assert_eq!(
        raw.request(&["GET", "inline:escaped"]),
        Reply::bulk("tab\thereA")
    );
}

// ---------------------------------------------------------------------------------------------
// The proxy's own commands
// ---------------------------------------------------------------------------------------------

#[test]
fn proxy_answers_connection_commands() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut raw = proxy.raw();

    assert_eq!(raw.request(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(raw.request(&["PING", "hello"]), Reply::bulk("hello"));
    assert_eq!(raw.request(&["ECHO", "a\r\nb"]), Reply::bulk("a\r\nb"));
    assert_eq!(raw.request(&["SELECT", "0"]), Reply::Simple("OK".into()));
    let node_says = cluster.masters()[0].raw().request(&["SELECT", "1"]);
    assert!(node_says.is_error(), "a cluster node refuses SELECT 1");
    assert_eq!(raw.request(&["SELECT", "1"]), node_says);

    assert_eq!(raw.request(&["CLIENT", "GETNAME"]), Reply::Bulk(None));
    assert_eq!(
        raw.request(&["CLIENT", "SETNAME", "my-client"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        raw.request(&["CLIENT", "GETNAME"]),
        Reply::bulk("my-client")
    );
    let id = raw.request(&["CLIENT", "ID"]);
    assert!(
        matches!(id, Reply::Integer(n) if n > 0),
        "CLIENT ID: {id:?}"
    );
    let other_id = proxy.raw().request(&["CLIENT", "ID"]);
    assert_ne!(id, other_id, "two clients share an id");

    let hello = raw.request(&["HELLO", "2"]);
    let fields = hello.as_array().expect("HELLO 2 replies with a flat array");
    let proto = fields
        .chunks(2)
        .find(|pair| pair[0].as_bytes() == Some(b"proto"))
        .map(|pair| pair[1].clone());
    assert_eq!(proto, Some(Reply::Integer(2)), "HELLO 2: {hello:?}");
    assert_eq!(
        raw.request(&["SET", "after-hello", "1"]),
        Reply::Simple("OK".into())
    );

    assert_eq!(raw.request(&["QUIT"]), Reply::Simple("OK".into()));
    raw.assert_closed();
}

#[test]
fn proxy_answers_introspection_commands_like_redis() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();

    let count = raw.request(&["COMMAND", "COUNT"]);
    assert!(
        matches!(count, Reply::Integer(_)),
        "COMMAND COUNT: {count:?}"
    );
    assert_eq!(count, redis.request(&["COMMAND", "COUNT"]));
    assert_eq!(
        raw.request(&["COMMAND", "INFO", "get"]),
        redis.request(&["COMMAND", "INFO", "get"])
    );

    let info = raw.request(&["INFO"]);
    let text = String::from_utf8_lossy(info.as_bytes().expect("INFO replies with a bulk string"));
    for section in ["# Server", "# Clients"] {
        assert!(text.contains(section), "INFO lacks {section}:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A random key: mostly printable, sometimes any bytes, sometimes with a hash tag.
fn random_key(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(1..40);
    let mut key: Vec<u8> = match rng.gen_range(0..4) {
        0 => {
            let mut bytes = vec![0; len];
            rng.fill_bytes(&mut bytes);
            bytes
        }
        _ => (0..len).map(|_| rng.gen_range(b'!'..=b'~')).collect(),
    };
    if rng.gen_ratio(1, 5) {
        key.extend_from_slice(format!("{{tag{}}}", rng.gen_range(0..50)).as_bytes());
    }
    key
}

/// Another master than `node`.
fn other_master<'a>(cluster: &'a RedisCluster, node: &RedisNode) -> &'a RedisNode {
    cluster
        .masters()
        .iter()
        .find(|m| m.port() != node.port())
        .expect("a second master")
}

/// The error a client gets for a slot whose master cannot be reached.
#[track_caller]
fn assert_backend_down_error(reply: &Reply) {
    let error = reply.as_error().unwrap_or_default();
    assert!(
        error.starts_with("ERR") || error.starts_with("CLUSTERDOWN"),
        "expected an ERR or CLUSTERDOWN error, got {reply:?}"
    );
}
