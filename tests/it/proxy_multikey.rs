//! Commands that need more than one master, through `slotgate proxy` in front of a real 3-master
//! cluster: cross-slot MGET/MSET/DEL/UNLINK/EXISTS/TOUCH split by slot and merged, keyless
//! commands fanned out to every master (or node), SCAN across masters, and scripts that every
//! node must know. What one Redis server answers is the reference wherever it has an answer.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::harness::{
    assert_eventually, encode_command, wait_for, Proxy, RawConn, RedisCluster, RedisNode, Reply,
};

/// How long replicas may take to apply what their master did.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(10);

/// How soon a command with a part on a dead master must get its error, given
/// [`FAST_FAILURE_ARGS`]: the connect and request timeouts plus the proxy's bounded retries,
/// with room to spare on a slow machine. A hang fails the test instead of blocking it.
const DEAD_PART_REPLY_WITHIN: Duration = Duration::from_secs(8);
const FAST_FAILURE_ARGS: [&str; 6] = [
    "--request-timeout-ms",
    "1000",
    "--connect-timeout-ms",
    "500",
    // No replica can take over here: hold requests only briefly before answering the error.
    "--failover-hold-ms",
    "1000",
];

// ---------------------------------------------------------------------------------------------
// Split multi-key commands
// ---------------------------------------------------------------------------------------------

/// Keys of the differential test: plain keys land all over the slot space, `{diff}` keys share
/// one slot, so commands mix same-slot and cross-slot parts.
fn differential_keys() -> Vec<String> {
    (0..24)
        .map(|n| format!("diff:{n}"))
        .chain((0..6).map(|n| format!("{{diff}}:{n}")))
        .collect()
}

/// Values that make INCR succeed, fail on a non-integer or overflow, and bytes that look like
/// RESP.
const DIFFERENTIAL_VALUES: [&[u8]; 8] = [
    b"0",
    b"1",
    b"-7",
    b"42",
    b"hello",
    b"",
    b"a\0b\r\n$3\r\n",
    b"99999999999999999999",
];

/// One random command of the differential workload.
fn random_command(rng: &mut StdRng, keys: &[String]) -> Vec<Vec<u8>> {
    let key = |rng: &mut StdRng| keys.choose(rng).expect("keys").as_bytes().to_vec();
    let value = |rng: &mut StdRng| DIFFERENTIAL_VALUES.choose(rng).expect("values").to_vec();
    let name = |name: &str| name.as_bytes().to_vec();
    // Multi-key commands take 1 to 8 keys, repeats allowed: EXISTS counts a repeated key each
    // time, DEL deletes it once, MSET keeps its last value.
    let many_keys = |rng: &mut StdRng, command: &str| {
        let count = rng.gen_range(1..=8);
        std::iter::once(name(command))
            .chain((0..count).map(|_| key(rng)))
            .collect::<Vec<_>>()
    };
    match rng.gen_range(0..100) {
        0..=11 => vec![name("SET"), key(rng), value(rng)],
        12..=23 => vec![name("GET"), key(rng)],
        24..=37 => many_keys(rng, "MGET"),
        38..=49 => {
            let pairs = rng.gen_range(1..=6);
            let mut args = vec![name("MSET")];
            for _ in 0..pairs {
                args.push(key(rng));
                args.push(value(rng));
            }
            args
        }
        50..=57 => many_keys(rng, "DEL"),
        58..=62 => many_keys(rng, "UNLINK"),
        63..=71 => many_keys(rng, "EXISTS"),
        72..=76 => many_keys(rng, "TOUCH"),
        77..=84 => vec![name("INCR"), key(rng)],
        85..=90 => vec![name("LPUSH"), key(rng), value(rng)],
        91..=96 => vec![name("SADD"), key(rng), value(rng)],
        // Wrong arity (a value or every key missing): Redis's arity error, whatever the slots.
        97 => vec![name("MSET"), key(rng), value(rng), key(rng)],
        98 => vec![name("MGET")],
        _ => vec![name("DEL")],
    }
}

/// Sends `commands` in one write on both connections and compares every reply byte for byte.
#[track_caller]
fn assert_same_replies(
    proxy: &mut RawConn,
    redis: &mut RawConn,
    commands: &[Vec<Vec<u8>>],
    context: &str,
) {
    let batch: Vec<u8> = commands.iter().flat_map(|c| encode_command(c)).collect();
    proxy.send(&batch);
    redis.send(&batch);
    for (i, command) in commands.iter().enumerate() {
        let want = redis.read_raw_reply();
        let got = match proxy.try_read_raw_reply() {
            Ok(Some(got)) => got,
            // The proxy stopped answering somewhere in the pipeline: show all of it.
            outcome => panic!(
                "{context}: the proxy gave no reply to command {i} ({}; redis-server replied {}); \
                 the pipeline was:\n  {}",
                match outcome {
                    Err(e) => format!("read failed: {e}"),
                    _ => "connection closed".to_string(),
                },
                want.escape_ascii(),
                commands
                    .iter()
                    .map(|c| show_command(c))
                    .collect::<Vec<_>>()
                    .join("\n  "),
            ),
        };
        assert!(
            got == want,
            "{context}, command {i} of {}: {}\n  redis-server replied {}\n  the proxy replied  {}",
            commands.len(),
            show_command(command),
            want.escape_ascii(),
            got.escape_ascii(),
        );
    }
}

#[test]
fn split_commands_answer_byte_for_byte_as_one_redis_server() {
    const SEQUENCES: usize = 400;
    // A fixed seed, so a failure repeats; SLOTGATE_TEST_SEED tries others.
    let seed: u64 = match std::env::var("SLOTGATE_TEST_SEED") {
        Ok(seed) => seed.parse().expect("SLOTGATE_TEST_SEED is a number"),
        Err(_) => 0x5107_6a7e,
    };
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let keys = differential_keys();
    let owners: BTreeSet<usize> = master_indexes(&cluster, &keys).into_iter().collect();
    assert_eq!(owners.len(), 3, "the test's keys cover every master");

    let mut rng = StdRng::seed_from_u64(seed);
    let mut through_proxy = proxy.raw();
    let mut redis = reference.raw();
    for sequence in 0..SEQUENCES {
        // Now and then both sides start over from empty (FLUSHALL fans out to every master),
        // so that sequences meet missing keys as well as full ones.
        let mut commands = Vec::new();
        if sequence % 100 == 0 {
            commands.push(vec![b"FLUSHALL".to_vec()]);
        }
        let length = rng.gen_range(1..=12);
        commands.extend((0..length).map(|_| random_command(&mut rng, &keys)));
        // A sequence is one pipelined write: the merged replies must keep their places.
        assert_same_replies(
            &mut through_proxy,
            &mut redis,
            &commands,
            &format!("seed {seed}, sequence {sequence}"),
        );
    }

    // What the sequences left behind is the same too.
    let types: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| vec![b"TYPE".to_vec(), k.as_bytes().to_vec()])
        .collect();
    assert_same_replies(&mut through_proxy, &mut redis, &types, "final TYPEs");
    let all: Vec<Vec<u8>> = std::iter::once(b"EXISTS".to_vec())
        .chain(keys.iter().map(|k| k.as_bytes().to_vec()))
        .collect();
    assert_same_replies(&mut through_proxy, &mut redis, &[all], "final EXISTS");
}

#[test]
fn cross_slot_mset_with_a_missing_value_gets_redis_arity_error() {
    // MSET's arity in the command table only says "at least 3 arguments": the pairing is
    // checked by the command itself, so a proxy that splits MSET must check it first.
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    assert_ne!(cluster.key_slot("a"), cluster.key_slot("b"));
    let mut raw = proxy.raw();
    let mut redis = reference.raw();
    let bystander_before = proxy.raw();

    for command in [
        &["MSET", "a", "1", "b"][..],
        &["MSET", "a", "1", "b", "2", "c"],
        &["MSET", "{t}a", "1", "{t}b"],
    ] {
        let command: Vec<Vec<u8>> = command.iter().map(|a| a.as_bytes().to_vec()).collect();
        assert_same_replies(
            &mut raw,
            &mut redis,
            &[command],
            "MSET with a missing value",
        );
    }
    // Nothing was written, and every client, old or new, is still served.
    assert_eq!(
        raw.request(&["MGET", "a", "b", "c"]),
        Reply::Array(Some(vec![Reply::Bulk(None); 3]))
    );
    for mut client in [bystander_before, proxy.raw()] {
        assert_eq!(client.request(&["PING"]), Reply::Simple("PONG".into()));
    }
}

#[test]
fn cross_slot_mset_and_mget_of_a_thousand_keys() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let keys: Vec<String> = (0..1000).map(|n| format!("many:{n}")).collect();
    let mut raw = proxy.raw();

    let mut mset: Vec<String> = vec!["MSET".into()];
    for key in &keys {
        mset.push(key.clone());
        mset.push(format!("value of {key}"));
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));

    // Every key is on the master that owns its slot.
    let owners = master_indexes(&cluster, &keys);
    for (m, master) in cluster.masters().iter().enumerate() {
        let mine: Vec<&String> = keys
            .iter()
            .zip(&owners)
            .filter(|(_, &o)| o == m)
            .map(|(k, _)| k)
            .collect();
        assert!(mine.len() > 100, "only {} keys on {master:?}", mine.len());
        // A node answers MGET only for one slot: one GET per key, pipelined.
        let mut pipe = redis::pipe();
        for key in &mine {
            pipe.get(key.as_str());
        }
        let stored: Vec<Option<String>> = pipe
            .query(&mut master.client())
            .unwrap_or_else(|e| panic!("GETs on {master:?}: {e}"));
        let expected: Vec<Option<String>> =
            mine.iter().map(|k| Some(format!("value of {k}"))).collect();
        assert!(stored == expected, "values on {master:?}: {stored:?}");
        let mut direct = master.raw();
        assert_eq!(
            direct.request(&["DBSIZE"]),
            Reply::Integer(i64::try_from(mine.len()).unwrap())
        );
    }

    // MGET answers in the client's order, whatever order the masters answer in, with nil for
    // a missing key and for a key that holds no string, and a repeated key in each place.
    assert_eq!(raw.request(&["SADD", "many:set", "m"]), Reply::Integer(1));
    let mut rng = StdRng::seed_from_u64(7);
    let mut asked: Vec<String> = keys.clone();
    asked.extend((0..50).map(|n| format!("many:missing:{n}")));
    asked.push("many:set".into());
    asked.extend(keys[..20].iter().cloned());
    asked.shuffle(&mut rng);
    let expected: Vec<Reply> = asked
        .iter()
        .map(|k| {
            if k.starts_with("many:missing:") || k == "many:set" {
                Reply::Bulk(None)
            } else {
                Reply::bulk(format!("value of {k}"))
            }
        })
        .collect();
    let command: Vec<&str> = std::iter::once("MGET")
        .chain(asked.iter().map(String::as_str))
        .collect();
    assert_eq!(raw.request(&command), Reply::Array(Some(expected)));

    // Counting commands sum their parts.
    let mut counted: Vec<&str> = keys.iter().map(String::as_str).collect();
    counted.extend(["many:missing:0", "many:set", "many:0", "many:1"]);
    for name in ["EXISTS", "TOUCH"] {
        let command = [&[name][..], &counted].concat();
        assert_eq!(raw.request(&command), Reply::Integer(1003), "{name}");
    }
    let half: Vec<&str> = keys[..500].iter().map(String::as_str).collect();
    assert_eq!(
        raw.request(&[&["DEL"][..], &half, &["many:missing:0"]].concat()),
        Reply::Integer(500)
    );
    let rest: Vec<&str> = keys[500..].iter().map(String::as_str).collect();
    assert_eq!(
        raw.request(&[&["UNLINK"][..], &rest, &["many:set"]].concat()),
        Reply::Integer(501)
    );
    for master in cluster.masters() {
        assert_eq!(master.raw().request(&["DBSIZE"]), Reply::Integer(0));
    }
}

#[test]
fn split_parts_follow_a_slot_that_moved_behind_the_proxys_back() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let moved: Vec<String> = (0..5).map(|n| format!("{{moving}}:{n}")).collect();
    let others: Vec<String> = (0..3)
        .map(|m| cluster.keys_on(&cluster.masters()[m], "still", 1).remove(0))
        .collect();
    let mut raw = proxy.raw();
    let mut mset = vec!["MSET"];
    for key in moved.iter().chain(&others) {
        mset.extend([key.as_str(), key.as_str()]);
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));

    // The slot moves with its keys; the proxy learns of it only from the MOVED its parts get.
    let slot = cluster.key_slot("{moving}");
    let from = cluster.node_for_slot(slot);
    let to = cluster.other_master(from);
    cluster.migrate_slot(slot, from, to);

    let asked: Vec<&str> = others[..1]
        .iter()
        .chain(&moved)
        .chain(&others[1..])
        .map(String::as_str)
        .collect();
    assert_eq!(
        raw.request(&[&["MGET"][..], &asked].concat()),
        Reply::bulks(&asked)
    );
    assert_eq!(
        raw.request(&[&["EXISTS"][..], &asked].concat()),
        Reply::Integer(8)
    );
    let mut mset = vec!["MSET"];
    for key in &asked {
        mset.extend([*key, "again"]);
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));
    let moved: Vec<&str> = moved.iter().map(String::as_str).collect();
    assert_eq!(
        to.raw().request(&[&["MGET"][..], &moved].concat()),
        Reply::bulks(vec!["again"; 5]),
        "the moved keys on their new master"
    );
    assert_eq!(
        raw.request(&[&["DEL"][..], &asked].concat()),
        Reply::Integer(8)
    );
}

// ---------------------------------------------------------------------------------------------
// SCAN across masters
// ---------------------------------------------------------------------------------------------

/// The proxy's SCAN cursor is the master's cursor × this + the master's index among the
/// masters sorted by address (README, "SCAN").
const SCAN_CURSOR_MASTERS: u64 = 1024;

/// One SCAN call: the cursor it was given and the keys it returned.
struct ScanPage {
    cursor: u64,
    keys: Vec<String>,
}

/// A whole SCAN iteration through `conn`, from cursor 0 back to 0, with `options` (MATCH,
/// COUNT, TYPE) on every call; `between_pages` runs after each call.
#[track_caller]
fn full_scan(
    conn: &mut RawConn,
    options: &[&str],
    mut between_pages: impl FnMut(),
) -> Vec<ScanPage> {
    const MAX_PAGES: usize = 100_000;
    let mut pages = Vec::new();
    let mut cursor = 0u64;
    loop {
        let cursor_text = cursor.to_string();
        let command = [&["SCAN", cursor_text.as_str()][..], options].concat();
        let reply = conn.request(&command);
        let (next, keys) = match reply.as_array() {
            Some([next, Reply::Array(Some(keys))]) => (next, keys),
            _ => panic!("{command:?} replied {reply:?}"),
        };
        let next: u64 = next
            .as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{command:?} replied a bad cursor: {reply:?}"));
        let keys = keys
            .iter()
            .map(|k| {
                let bytes = k.as_bytes().expect("SCAN returns keys as bulk strings");
                String::from_utf8(bytes.to_vec()).expect("the test's keys are UTF-8")
            })
            .collect();
        pages.push(ScanPage { cursor, keys });
        between_pages();
        if next == 0 {
            return pages;
        }
        assert!(
            pages.len() < MAX_PAGES,
            "SCAN {options:?} did not end after {MAX_PAGES} calls"
        );
        cursor = next;
    }
}

/// Every key of a whole iteration.
fn scanned_keys(pages: &[ScanPage]) -> HashSet<String> {
    pages.iter().flat_map(|p| p.keys.iter().cloned()).collect()
}

/// The cluster's keyspace of the SCAN test: plain strings, sets, and strings that a MATCH
/// pattern selects.
struct ScanKeys {
    strings: Vec<String>,
    sets: Vec<String>,
    matching: Vec<String>,
}

impl ScanKeys {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.strings.iter().chain(&self.sets).chain(&self.matching)
    }

    /// Writes every key through the proxy, strings with cross-slot MSETs.
    fn write(&self, conn: &mut RawConn) {
        for chunk in self
            .strings
            .iter()
            .chain(&self.matching)
            .collect::<Vec<_>>()
            .chunks(100)
        {
            let mut command = vec!["MSET"];
            for key in chunk {
                command.extend([key.as_str(), "v"]);
            }
            assert_eq!(conn.request(&command), Reply::Simple("OK".into()));
        }
        for key in &self.sets {
            assert_eq!(conn.request(&["SADD", key, "m"]), Reply::Integer(1));
        }
    }
}

#[test]
fn scan_returns_every_key_of_every_master() {
    // Replicas hold copies of the keys: SCAN must walk the masters only.
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let keys = ScanKeys {
        strings: (0..1700).map(|n| format!("scan:str:{n}")).collect(),
        sets: (0..200).map(|n| format!("scan:set:{n}")).collect(),
        matching: (0..100).map(|n| format!("scan:match:{n}")).collect(),
    };
    let mut raw = proxy.raw();
    keys.write(&mut raw);
    let all: HashSet<String> = keys.all().cloned().collect();
    assert_eq!(all.len(), 2000);

    let pages = full_scan(&mut raw, &["COUNT", "100"], || {});
    let scanned = scanned_keys(&pages);
    let missing: Vec<&String> = all.difference(&scanned).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} keys: {missing:?}",
        missing.len()
    );
    let extra: Vec<&String> = scanned.difference(&all).collect();
    assert!(
        extra.is_empty(),
        "SCAN returned keys never written: {extra:?}"
    );

    // One iteration visits the masters one after the other, each once, in address order, and
    // a page holds only its master's keys.
    let by_address = masters_by_address(&cluster);
    let visited: Vec<usize> = pages
        .iter()
        .map(|p| (p.cursor % SCAN_CURSOR_MASTERS) as usize)
        .collect();
    assert!(
        visited.windows(2).all(|w| w[0] <= w[1]),
        "masters visited out of order: {visited:?}"
    );
    assert_eq!(
        visited.iter().copied().collect::<BTreeSet<_>>(),
        (0..3).collect::<BTreeSet<_>>(),
        "masters visited: {visited:?}"
    );
    let ports: Vec<u16> = by_address.iter().map(|m| m.port()).collect();
    for page in &pages {
        if page.keys.is_empty() {
            continue;
        }
        let master = &by_address[(page.cursor % SCAN_CURSOR_MASTERS) as usize];
        let owners = master_indexes(&cluster, &page.keys);
        for (key, owner) in page.keys.iter().zip(owners) {
            assert_eq!(
                cluster.masters()[owner].port(),
                master.port(),
                "{key} returned for cursor {} (masters by address: {ports:?})",
                page.cursor
            );
        }
    }

    // MATCH and TYPE filter on every master.
    let matched = scanned_keys(&full_scan(
        &mut raw,
        &["MATCH", "scan:match:*", "COUNT", "100"],
        || {},
    ));
    assert_eq!(matched, keys.matching.iter().cloned().collect());
    let sets = scanned_keys(&full_scan(
        &mut raw,
        &["TYPE", "set", "COUNT", "100"],
        || {},
    ));
    assert_eq!(sets, keys.sets.iter().cloned().collect());

    // A cursor the proxy never gave gets Redis's own error, and the connection goes on.
    let mut node = cluster.masters()[0].raw();
    for cursor in ["abc", "99999999999999999999999", "1.5"] {
        let from_node = node.request(&["SCAN", cursor]);
        assert_eq!(
            from_node,
            Reply::Error("ERR invalid cursor".into()),
            "a node on SCAN {cursor}"
        );
        assert_eq!(raw.request(&["SCAN", cursor]), from_node, "SCAN {cursor}");
    }
    // Master index 5 of 3.
    assert_eq!(
        raw.request(&["SCAN", "5"]),
        Reply::Error("ERR invalid cursor".into())
    );
    assert_eq!(raw.request(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn scan_returns_every_key_present_for_the_whole_iteration_while_keys_are_added() {
    /// Keys a writer adds while the scan runs: ten times the 2000 there were, so every
    /// master's hash table grows (and rehashes) several times during the iteration. Bounded,
    /// so that the iteration, which walks the grown tables too, ends.
    const NEW_KEYS: usize = 20_000;
    /// New keys written at least between two SCAN calls, while the writer has some left.
    const NEW_KEYS_PER_PAGE: usize = 60;
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let keys = ScanKeys {
        strings: (0..1900).map(|n| format!("scan:old:{n}")).collect(),
        sets: (0..100).map(|n| format!("scan:oldset:{n}")).collect(),
        matching: Vec::new(),
    };
    keys.write(&mut proxy.raw());
    let old: HashSet<String> = keys.all().cloned().collect();

    let written = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let pages = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut conn = proxy.raw();
            let mut n = 0;
            while n < NEW_KEYS && !stop.load(Ordering::Relaxed) {
                let mut command = vec!["MSET".to_string()];
                for _ in 0..10 {
                    command.extend([format!("scan:new:{n}"), "v".into()]);
                    n += 1;
                }
                let reply = conn.request(&command);
                assert_eq!(reply, Reply::Simple("OK".into()), "the writer's MSET");
                written.store(n, Ordering::Relaxed);
            }
        });
        let mut scanner = proxy.raw();
        let pages = full_scan(&mut scanner, &["COUNT", "100"], || {
            let target = written.load(Ordering::Relaxed) + NEW_KEYS_PER_PAGE;
            wait_for(Duration::from_secs(20), "the writer to add keys", || {
                (written.load(Ordering::Relaxed) >= target || writer.is_finished()).then_some(())
            });
        });
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("the writer panicked");
        pages
    });

    let scanned = scanned_keys(&pages);
    let missing: Vec<&String> = old.difference(&scanned).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} of the keys present all along ({} new keys written during it): {missing:?}",
        missing.len(),
        written.load(Ordering::Relaxed)
    );
    let bogus: Vec<&String> = scanned
        .iter()
        .filter(|k| !old.contains(*k) && !k.starts_with("scan:new:"))
        .collect();
    assert!(
        bogus.is_empty(),
        "SCAN returned keys never written: {bogus:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fan-out to every master
// ---------------------------------------------------------------------------------------------

/// Every key of `node`, asked of it directly.
fn keys_of(node: &RedisNode) -> Vec<String> {
    let reply = node.raw().request(&["KEYS", "*"]);
    reply
        .as_array()
        .unwrap_or_else(|| panic!("KEYS * on {node:?} replied {reply:?}"))
        .iter()
        .map(|k| String::from_utf8_lossy(k.as_bytes().expect("a key")).into_owned())
        .collect()
}

fn dbsize(node: &RedisNode) -> i64 {
    match node.raw().request(&["DBSIZE"]) {
        Reply::Integer(n) => n,
        other => panic!("DBSIZE on {node:?} replied {other:?}"),
    }
}

#[test]
fn dbsize_keys_and_randomkey_answer_for_the_whole_cluster() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();

    // An empty cluster answers as an empty server does, byte for byte.
    let empty: Vec<Vec<Vec<u8>>> = [&["DBSIZE"][..], &["KEYS", "*"], &["RANDOMKEY"]]
        .iter()
        .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
        .collect();
    assert_same_replies(&mut raw, &mut redis, &empty, "an empty cluster");

    // Keys on only the master that the proxy asks last: RANDOMKEY still finds one.
    let last = masters_by_address(&cluster)[2];
    let last_index = cluster
        .masters()
        .iter()
        .position(|m| m.port() == last.port())
        .expect("a master");
    let lonely = cluster.keys_on(&cluster.masters()[last_index], "lonely", 5);
    for key in &lonely {
        assert_eq!(raw.request(&["SET", key, "v"]), Reply::Simple("OK".into()));
    }
    for _ in 0..10 {
        let reply = raw.request(&["RANDOMKEY"]);
        let key = reply
            .as_bytes()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        assert!(
            key.as_ref().is_some_and(|k| lonely.contains(k)),
            "RANDOMKEY replied {reply:?}; the only keys are {lonely:?}"
        );
    }

    // Keys everywhere: the answers are the sum and the union of the masters' own.
    let mut mset = vec!["MSET".to_string()];
    for n in 0..300 {
        mset.extend([
            format!("fan:{}:{n}", if n % 3 == 0 { "a" } else { "b" }),
            "v".into(),
        ]);
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));
    let direct_total: i64 = cluster.masters().iter().map(dbsize).sum();
    assert_eq!(direct_total, 305);
    assert!(
        cluster.masters().iter().all(|m| dbsize(m) > 50),
        "keys on every master"
    );
    assert_eq!(raw.request(&["DBSIZE"]), Reply::Integer(direct_total));

    let mut direct_keys: Vec<String> = cluster.masters().iter().flat_map(keys_of).collect();
    direct_keys.sort();
    let mut proxy_keys: Vec<String> = match raw.request(&["KEYS", "*"]) {
        Reply::Array(Some(keys)) => keys
            .iter()
            .map(|k| String::from_utf8_lossy(k.as_bytes().expect("a key")).into_owned())
            .collect(),
        other => panic!("KEYS * replied {other:?}"),
    };
    proxy_keys.sort();
    assert_eq!(proxy_keys, direct_keys, "KEYS * through the proxy");
    let pattern = raw.request(&["KEYS", "fan:a:*"]);
    let pattern: BTreeSet<Vec<u8>> = pattern
        .as_array()
        .expect("KEYS replies with an array")
        .iter()
        .map(|k| k.as_bytes().expect("a key").to_vec())
        .collect();
    let expected: BTreeSet<Vec<u8>> = (0..300)
        .step_by(3)
        .map(|n| format!("fan:a:{n}").into_bytes())
        .collect();
    assert_eq!(pattern, expected, "KEYS fan:a:*");

    let all: HashSet<&String> = direct_keys.iter().collect();
    for _ in 0..20 {
        let reply = raw.request(&["RANDOMKEY"]);
        let key = reply
            .as_bytes()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        assert!(
            key.as_ref().is_some_and(|k| all.contains(k)),
            "RANDOMKEY replied {reply:?}"
        );
    }
}

#[test]
fn flushdb_and_flushall_empty_every_master_and_replica() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let mut raw = proxy.raw();
    for flush in ["FLUSHDB", "FLUSHALL"] {
        let mut mset = vec!["MSET".to_string()];
        for n in 0..300 {
            mset.extend([format!("flush:{n}"), "v".into()]);
        }
        assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));
        assert!(
            cluster.masters().iter().all(|m| dbsize(m) > 50),
            "keys on every master"
        );
        assert_eq!(raw.request(&["DBSIZE"]), Reply::Integer(300));

        assert_eq!(raw.request(&[flush]), Reply::Simple("OK".into()), "{flush}");
        assert_eq!(raw.request(&["DBSIZE"]), Reply::Integer(0), "after {flush}");
        for master in cluster.masters() {
            assert_eq!(dbsize(master), 0, "{master:?} after {flush}");
        }
        for replica in cluster.replicas() {
            assert_eventually(REPLICATION_TIMEOUT, "replicas to be empty", || {
                dbsize(replica) == 0
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scripts and functions
// ---------------------------------------------------------------------------------------------

const INCR_SCRIPT: &str = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

/// What `SCRIPT EXISTS <shas>` answers on `node`.
fn script_exists(node: &RedisNode, shas: &[&str]) -> Reply {
    node.raw()
        .request(&[&["SCRIPT", "EXISTS"][..], shas].concat())
}

/// An array of integers, as SCRIPT EXISTS answers.
fn integers(values: &[i64]) -> Reply {
    Reply::Array(Some(values.iter().map(|&v| Reply::Integer(v)).collect()))
}

#[test]
fn scripts_loaded_through_the_proxy_run_on_every_master() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();

    // SCRIPT LOAD answers the SHA1 one server answers, and every node, replicas included,
    // has the script.
    redis.send_command(&["SCRIPT", "LOAD", INCR_SCRIPT]);
    let want = redis.read_raw_reply();
    raw.send_command(&["SCRIPT", "LOAD", INCR_SCRIPT]);
    assert_eq!(
        raw.read_raw_reply().escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "SCRIPT LOAD"
    );
    let sha = match Reply::parse(&want) {
        Some((Reply::Bulk(Some(sha)), _)) => String::from_utf8(sha).expect("hex"),
        other => panic!("SCRIPT LOAD on redis-server replied {other:?}"),
    };
    for node in cluster.nodes() {
        assert_eq!(
            script_exists(node, &[sha.as_str()]),
            integers(&[1]),
            "{node:?}"
        );
    }
    // A script that does not compile fails on every node, with the one server's error.
    let broken = ["SCRIPT", "LOAD", "return +"];
    redis.send_command(&broken);
    let want = redis.read_raw_reply();
    assert!(want.starts_with(b"-ERR "), "{}", want.escape_ascii());
    raw.send_command(&broken);
    assert_eq!(
        raw.read_raw_reply().escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "SCRIPT LOAD of a broken script"
    );

    let unknown = "0123456789012345678901234567890123456789";
    assert_eq!(
        raw.request(&["SCRIPT", "EXISTS", &sha, unknown]),
        integers(&[1, 0])
    );

    // EVALSHA runs on the master of its key, whichever master that is.
    for m in 0..3 {
        let key = &cluster.keys_on(&cluster.masters()[m], "script", 1)[0];
        assert_eq!(
            raw.request(&["EVALSHA", &sha, "1", key, "5"]),
            Reply::Integer(5)
        );
        assert_eq!(
            cluster.masters()[m].raw().request(&["GET", key]),
            Reply::bulk("5")
        );
    }

    // A master that lost its scripts behind the proxy's back: SCRIPT EXISTS is false for the
    // cluster, and EVALSHA for a key there still works, the proxy loading the script again.
    let flushed = &cluster.masters()[1];
    assert_eq!(
        flushed.raw().request(&["SCRIPT", "FLUSH"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(script_exists(flushed, &[sha.as_str()]), integers(&[0]));
    assert_eq!(raw.request(&["SCRIPT", "EXISTS", &sha]), integers(&[0]));
    let key = &cluster.keys_on(&cluster.masters()[1], "script", 1)[0];
    assert_eq!(
        raw.request(&["EVALSHA", &sha, "1", key, "10"]),
        Reply::Integer(15)
    );
    assert_eq!(script_exists(flushed, &[sha.as_str()]), integers(&[1]));
    assert_eq!(raw.request(&["SCRIPT", "EXISTS", &sha]), integers(&[1]));

    // A script the proxy saw only in an EVAL, on another master, runs by its SHA1 anywhere.
    let body = "return redis.call('SET', KEYS[1], ARGV[1])";
    let eval_key = &cluster.keys_on(&cluster.masters()[0], "eval", 1)[0];
    assert_eq!(
        raw.request(&["EVAL", body, "1", eval_key, "x"]),
        Reply::Simple("OK".into())
    );
    let body_sha = match redis.request(&["SCRIPT", "LOAD", body]) {
        Reply::Bulk(Some(sha)) => String::from_utf8(sha).expect("hex"),
        other => panic!("SCRIPT LOAD replied {other:?}"),
    };
    let elsewhere = &cluster.masters()[2];
    assert_eq!(
        script_exists(elsewhere, &[body_sha.as_str()]),
        integers(&[0])
    );
    let far_key = &cluster.keys_on(&cluster.masters()[2], "eval", 1)[0];
    assert_eq!(
        raw.request(&["EVALSHA", &body_sha, "1", far_key, "y"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(elsewhere.raw().request(&["GET", far_key]), Reply::bulk("y"));

    // A keyless EVAL runs on the master of slot 0.
    let info = raw.request(&["EVAL", "return redis.call('INFO', 'server')", "0"]);
    let info = String::from_utf8_lossy(info.as_bytes().expect("INFO text")).into_owned();
    let slot_zero = cluster.node_for_slot(0).port();
    assert!(
        info.contains(&format!("tcp_port:{slot_zero}\r\n")),
        "keyless EVAL did not run on the master of slot 0 ({slot_zero}):\n{info}"
    );

    // A SHA1 nobody ever loaded gets Redis's NOSCRIPT, byte for byte.
    for command in [
        &["EVALSHA", unknown, "0"][..],
        &["EVALSHA", unknown, "1", key],
    ] {
        redis.send_command(command);
        let want = redis.read_raw_reply();
        assert!(want.starts_with(b"-NOSCRIPT "), "{}", want.escape_ascii());
        raw.send_command(command);
        assert_eq!(
            raw.read_raw_reply().escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "{command:?}"
        );
    }
}

#[test]
fn script_flush_through_the_proxy_empties_every_node_like_one_server() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();
    let key = &cluster.keys_on(&cluster.masters()[1], "flush", 1)[0];

    let sha = match raw.request(&["SCRIPT", "LOAD", INCR_SCRIPT]) {
        Reply::Bulk(Some(sha)) => String::from_utf8(sha).expect("hex"),
        other => panic!("SCRIPT LOAD replied {other:?}"),
    };
    assert_eq!(
        redis.request(&["SCRIPT", "LOAD", INCR_SCRIPT]),
        Reply::bulk(&sha)
    );
    assert_eq!(
        raw.request(&["EVALSHA", &sha, "1", key, "1"]),
        Reply::Integer(1)
    );

    assert_eq!(
        raw.request(&["SCRIPT", "FLUSH"]),
        Reply::Simple("OK".into())
    );
    for node in cluster.nodes() {
        assert_eq!(
            script_exists(node, &[sha.as_str()]),
            integers(&[0]),
            "{node:?}"
        );
    }
    assert_eq!(raw.request(&["SCRIPT", "EXISTS", &sha]), integers(&[0]));

    // After SCRIPT FLUSH one server no longer knows the script, and neither does the cluster.
    assert_eq!(
        redis.request(&["SCRIPT", "FLUSH"]),
        Reply::Simple("OK".into())
    );
    let command = ["EVALSHA", sha.as_str(), "1", key.as_str(), "1"];
    redis.send_command(&command);
    let want = redis.read_raw_reply();
    raw.send_command(&command);
    assert_eq!(
        raw.read_raw_reply().escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "EVALSHA after SCRIPT FLUSH"
    );
}

#[test]
fn functions_loaded_through_the_proxy_run_on_every_master() {
    const LIBRARY: &str = "#!lua name=mklib\n\
        redis.register_function('mk_incr', function(keys, args) \
        return redis.call('INCRBY', keys[1], args[1]) end)";
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let mut raw = proxy.raw();
    let mut redis = reference.raw();
    let keys: Vec<String> = (0..3)
        .map(|m| cluster.keys_on(&cluster.masters()[m], "fn", 1).remove(0))
        .collect();
    let same = |raw: &mut RawConn, redis: &mut RawConn, command: &[&str]| {
        let command: Vec<Vec<u8>> = command.iter().map(|a| a.as_bytes().to_vec()).collect();
        assert_same_replies(raw, redis, &[command], "functions");
    };

    same(&mut raw, &mut redis, &["FUNCTION", "LOAD", LIBRARY]);
    for master in cluster.masters() {
        let list = master.raw().request(&["FUNCTION", "LIST"]);
        assert!(
            format!("{list:?}").contains("mklib"),
            "FUNCTION LIST on {master:?}: {list:?}"
        );
    }
    for key in &keys {
        assert_eq!(
            raw.request(&["FCALL", "mk_incr", "1", key, "3"]),
            Reply::Integer(3),
            "FCALL for {key}"
        );
    }
    // Loading it again fails on every master, as on one server.
    same(&mut raw, &mut redis, &["FUNCTION", "LOAD", LIBRARY]);

    same(&mut raw, &mut redis, &["FUNCTION", "DELETE", "mklib"]);
    for master in cluster.masters() {
        assert_eq!(
            master.raw().request(&["FUNCTION", "LIST"]),
            Reply::Array(Some(vec![])),
            "{master:?}"
        );
    }
    same(
        &mut raw,
        &mut redis,
        &["FCALL", "mk_incr", "1", &keys[0], "3"],
    );
    same(&mut raw, &mut redis, &["FUNCTION", "DELETE", "mklib"]);

    same(&mut raw, &mut redis, &["FUNCTION", "LOAD", LIBRARY]);
    same(&mut raw, &mut redis, &["FUNCTION", "FLUSH"]);
    for master in cluster.masters() {
        assert_eq!(
            master.raw().request(&["FUNCTION", "LIST"]),
            Reply::Array(Some(vec![])),
            "{master:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Failures of one part
// ---------------------------------------------------------------------------------------------

#[test]
fn a_dead_master_fails_the_commands_that_need_it_and_only_those() {
    let mut cluster = RedisCluster::start_without_failover();
    let proxy = Proxy::start_with(&cluster.master_addrs(), &FAST_FAILURE_ARGS);
    let dead: Vec<String> = cluster.keys_on(&cluster.masters()[0], "dead", 2);
    let live: Vec<String> = [1, 2]
        .into_iter()
        .flat_map(|m| cluster.keys_on(&cluster.masters()[m], "live", 3))
        .collect();
    let mut raw = proxy.raw();
    let mut mset = vec!["MSET"];
    for key in dead.iter().chain(&live) {
        mset.extend([key.as_str(), "before"]);
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));

    cluster.master_mut(0).kill();

    // Every command with a part on the dead master gets an error, soon, and no partial answer.
    let mixed: Vec<&str> = live[..2]
        .iter()
        .chain(&dead[..1])
        .chain(&live[3..])
        .map(String::as_str)
        .collect();
    for command in [
        [&["MGET"][..], &mixed].concat(),
        [&["EXISTS"][..], &mixed].concat(),
        vec!["DBSIZE"],
        vec!["KEYS", "*"],
    ] {
        let started = Instant::now();
        let reply = raw.request(&command);
        let elapsed = started.elapsed();
        assert!(
            reply.as_error().is_some_and(|e| e.starts_with("ERR")),
            "{command:?} replied {reply:?}"
        );
        assert!(
            elapsed < DEAD_PART_REPLY_WITHIN,
            "{command:?}: the error took {elapsed:?}"
        );
    }

    // Commands for the live masters alone work, split across them.
    let live_only: Vec<&str> = live.iter().map(String::as_str).collect();
    let before = vec![Reply::bulk("before"); live.len()];
    assert_eq!(
        raw.request(&[&["MGET"][..], &live_only].concat()),
        Reply::Array(Some(before))
    );
    let mut mset = vec!["MSET"];
    for key in &live {
        mset.extend([key.as_str(), "after"]);
    }
    assert_eq!(raw.request(&mset), Reply::Simple("OK".into()));

    // In a pipeline the failed command's error takes its place between the others' replies.
    raw.send(
        &[
            encode_command(&[&["MGET"][..], &live_only].concat()),
            encode_command(&[&["MGET"][..], &mixed].concat()),
            encode_command(&["EXISTS", &live[0], &live[5]]),
        ]
        .concat(),
    );
    let after = vec![Reply::bulk("after"); live.len()];
    assert_eq!(raw.read_reply(), Reply::Array(Some(after)));
    let reply = raw.read_reply();
    assert!(
        reply.as_error().is_some_and(|e| e.starts_with("ERR")),
        "MGET with a dead part replied {reply:?}"
    );
    assert_eq!(raw.read_reply(), Reply::Integer(2));
}

#[test]
fn a_part_refused_by_its_master_is_the_reply() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let full = &cluster.masters()[2];
    let refused = &cluster.keys_on(&cluster.masters()[2], "full", 1)[0];
    let accepted = &cluster.keys_on(&cluster.masters()[0], "roomy", 1)[0];
    let mut raw = proxy.raw();
    assert_eq!(
        raw.request(&["MSET", refused, "before", accepted, "before"]),
        Reply::Simple("OK".into())
    );

    // The master answers OOM to every write; the client gets exactly that error.
    assert_eq!(
        full.raw().request(&["CONFIG", "SET", "maxmemory", "1"]),
        Reply::Simple("OK".into())
    );
    let node_says = full.raw().request(&["MSET", refused, "after"]);
    assert!(
        node_says.as_error().is_some_and(|e| e.starts_with("OOM")),
        "the full master replied {node_says:?}"
    );
    for command in [
        &["MSET", accepted, "after", refused, "after"][..],
        &["MSET", refused, "after", accepted, "after"],
    ] {
        assert_eq!(raw.request(command), node_says, "{command:?}");
    }
    // Reads still work there, and the refused part changed nothing.
    assert_eq!(
        raw.request(&["MGET", accepted, refused])
            .as_array()
            .map(|a| a[1].clone()),
        Some(Reply::bulk("before"))
    );
}

// ---------------------------------------------------------------------------------------------
// Commands the proxy cannot run yet
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_counts_the_replicas_of_the_masters_the_client_wrote_to() {
    let cluster = RedisCluster::start(3, 1);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--request-timeout-ms", "2000"]);
    let mut raw = proxy.raw();
    // Writes on two of the three masters.
    let keys: Vec<String> = [0, 1]
        .iter()
        .flat_map(|&m| cluster.keys_on(&cluster.masters()[m], "wait", 1))
        .collect();
    for key in &keys {
        assert_eq!(raw.request(&["SET", key, "v"]), Reply::Simple("OK".into()));
    }
    // Each master has one replica: one acknowledgement is reached at once.
    let started = Instant::now();
    assert_eq!(raw.request(&["WAIT", "1", "5000"]), Reply::Integer(1));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Two cannot be reached: WAIT answers what it has at its timeout.
    let started = Instant::now();
    assert_eq!(raw.request(&["WAIT", "2", "200"]), Reply::Integer(1));
    assert!(started.elapsed() >= Duration::from_millis(190));

    // WAIT 0 (forever) would hold a connection other clients share: the proxy caps it below
    // the request timeout (here 2 s, so 1.5 s), and the answer is what was reached by then.
    // Commands other clients send to those masters meanwhile wait behind it, but no longer.
    let started = Instant::now();
    let mut other = proxy.raw();
    other.send(&encode_command(&["WAIT", "2", "0"]));
    assert_eq!(raw.request(&["GET", &keys[0]]), Reply::bulk("v"));
    assert_eq!(other.read_reply(), Reply::Integer(1));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Bad arguments get Redis's own errors.
    assert_eq!(
        raw.request(&["WAIT", "1", "-1"]),
        Reply::Error("ERR timeout is negative".into())
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// For each key, the index in `cluster.masters()` of the master that owns its slot.
fn master_indexes<K: AsRef<[u8]>>(cluster: &RedisCluster, keys: &[K]) -> Vec<usize> {
    let owners = cluster.slot_owners();
    cluster
        .key_slots(keys)
        .into_iter()
        .map(|slot| {
            let owner = owners[usize::from(slot)];
            cluster
                .masters()
                .iter()
                .position(|m| m.port() == owner.port())
                .expect("slots are owned by masters")
        })
        .collect()
}

/// The masters in the order the proxy walks them for SCAN and fan-out: by address.
fn masters_by_address(cluster: &RedisCluster) -> Vec<&RedisNode> {
    let mut masters: Vec<&RedisNode> = cluster.masters().iter().collect();
    masters.sort_by_key(|m| m.addr().to_string());
    masters
}

fn show_command(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", a.escape_ascii()))
        .collect::<Vec<_>>()
        .join(" ")
}
