//! `slotgate node` as a master, with a real `redis-server` 7.0 as its replica.
//!
//! The replica loads the node's snapshot and applies its replication stream; after each
//! scenario every key of every database must read the same on both (value, type and absolute
//! expiry). The scenarios are the commands whose propagation is not the command as sent:
//! relative expiries, chance (`SPOP`), floating point, blocking pops served later, stream IDs
//! and consumer groups, transactions, and scripts, which replicate the writes they make rather
//! than themselves (so a script that uses `math.random` or `TIME` leaves the replica as the
//! master is).

use std::time::Duration;

use crate::harness::{
    assert_same_dataset, dataset, wait_for_ok, Differential, RawConn, RedisNode, Reply,
    SlotgateNode,
};

const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

struct Pair {
    master: SlotgateNode,
    replica: RedisNode,
}

impl Pair {
    fn start() -> Pair {
        Pair::start_with(&[])
    }

    fn start_with(master_args: &[&str]) -> Pair {
        let master = SlotgateNode::start_with(master_args);
        let replicaof = format!("127.0.0.1 {}", master.port());
        let replica = RedisNode::standalone_with(&[("replicaof", &replicaof)]);
        let pair = Pair { master, replica };
        pair.wait_synced();
        pair
    }

    /// Waits until the replica's link is up and it has applied everything the master sent.
    fn wait_synced(&self) {
        let mut master = self.master.raw();
        let mut replica = RawConn::connect(self.replica.addr());
        wait_for_ok(SYNC_TIMEOUT, "the replica to catch up", || {
            let m = info(&mut master, "replication");
            let r = info(&mut replica, "replication");
            if field(&r, "master_link_status") != Some("up") {
                return Err(format!("replica link not up:\n{r}"));
            }
            let sent = field(&m, "master_repl_offset");
            let applied = field(&r, "slave_repl_offset");
            if sent != applied {
                return Err(format!("master at {sent:?}, replica at {applied:?}"));
            }
            Ok(())
        });
    }

    /// Runs `f` while the replica is stopped (SIGSTOP), and lets it go on a few milliseconds
    /// later: it applies what `f` did on the master later than the master did it, as a
    /// replica across a network does. (The pause is the point here, not a wait for a
    /// condition.)
    fn with_replica_lagging(&self, f: impl FnOnce()) {
        let pid = self.replica.pid().expect("the replica runs").to_string();
        let signal = |sig: &str| {
            let status = std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill {sig} {pid} failed");
        };
        signal("-STOP");
        f();
        std::thread::sleep(Duration::from_millis(25));
        signal("-CONT");
    }

    /// Waits for the replica to catch up, then checks that every key reads the same on both.
    #[track_caller]
    fn assert_same_data(&self) {
        self.wait_synced();
        let replica = dataset(&mut RawConn::connect(self.replica.addr()));
        let master = dataset(&mut self.master.raw());
        assert_same_dataset(&replica, &master);
    }
}

fn info(conn: &mut RawConn, section: &str) -> String {
    match conn.request(&["INFO", section]) {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        Reply::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO answered {other:?}"),
    }
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[track_caller]
fn run(conn: &mut RawConn, commands: &[&[&str]]) {
    for command in commands {
        let reply = conn.request(command);
        assert!(!reply.is_error(), "{command:?} answered {reply:?}");
    }
}

#[test]
fn a_redis_server_replica_loads_the_stream_of_plain_writes() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    run(
        &mut m,
        &[
            &["SET", "s", "v"],
            &["APPEND", "s", "w"],
            &["SETRANGE", "s", "5", "x"],
            &["INCR", "n"],
            &["INCRBY", "n", "41"],
            &["MSET", "a", "1", "b", "2"],
            &["RPUSH", "l", "a", "b", "c", "d"],
            &["LSET", "l", "0", "z"],
            &["LTRIM", "l", "0", "2"],
            &["LINSERT", "l", "BEFORE", "b", "y"],
            &["SADD", "set", "1", "2", "3", "x"],
            &["SREM", "set", "2"],
            &["HSET", "h", "f", "1", "g", "2"],
            &["HINCRBY", "h", "f", "5"],
            &["ZADD", "z", "1", "a", "2.5", "b", "3", "c"],
            &["ZINCRBY", "z", "0.1", "a"],
            &["ZREM", "z", "c"],
            &["SETBIT", "bits", "100", "1"],
            &[
                "BITFIELD", "bf", "SET", "u8", "0", "200", "INCRBY", "u8", "0", "100",
            ],
            &["PFADD", "hll", "a", "b", "c"],
            &["GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
            &["SELECT", "3"],
            &["SET", "in3", "yes"],
            &["COPY", "in3", "copied", "DB", "4"],
            &["MOVE", "in3", "5"],
            &["SELECT", "0"],
            &["RENAME", "a", "renamed"],
            &["DEL", "b"],
            &["SORT", "l", "ALPHA", "STORE", "sorted"],
            &["SINTERSTORE", "inter", "set", "set"],
            &["ZUNIONSTORE", "zu", "1", "z"],
        ],
    );
    pair.assert_same_data();
    run(&mut m, &[&["FLUSHDB"], &["SET", "after", "flush"]]);
    pair.assert_same_data();
}

#[test]
fn relative_expiries_and_clock_dependent_writes_reach_the_replica_as_absolute_times() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    pair.with_replica_lagging(|| {
        run(
            &mut m,
            &[
                &["SET", "ex", "v", "EX", "1000"],
                &["SET", "px", "v", "PX", "900000"],
                &["SETEX", "setex", "1000", "v"],
                &["PSETEX", "psetex", "900000", "v"],
                &["SET", "e", "v"],
                &["EXPIRE", "e", "500"],
                &["SET", "pe", "v"],
                &["PEXPIRE", "pe", "500000"],
                &["SET", "gt", "v", "EX", "100"],
                &["EXPIRE", "gt", "50", "GT"],
                &["EXPIRE", "gt", "200", "GT"],
                &["SET", "ea", "v"],
                &["EXPIREAT", "ea", "4000000000"],
                &["SET", "getex", "v"],
                &["GETEX", "getex", "EX", "300"],
                &["SET", "persist", "v", "EX", "100"],
                &["GETEX", "persist", "PERSIST"],
                &["SET", "gone", "v"],
                &["EXPIRE", "gone", "-1"],
                &["SET", "gd", "v"],
                &["GETDEL", "gd"],
                &["SET", "f", "10.5"],
                &["INCRBYFLOAT", "f", "0.1"],
                &["EXPIRE", "f", "100"],
                &["INCRBYFLOAT", "f", "1e3"],
                &["HSET", "hf", "x", "1.5"],
                &["HINCRBYFLOAT", "hf", "x", "2.25"],
            ],
        )
    });
    let payload = match m.request(&["DUMP", "e"]) {
        Reply::Bulk(Some(p)) => p,
        other => panic!("DUMP answered {other:?}"),
    };
    let restore: &[&[u8]] = &[b"RESTORE", b"restored", b"700000", &payload];
    pair.with_replica_lagging(|| assert!(!m.request(restore).is_error()));
    pair.assert_same_data();
}

#[test]
fn expired_and_chosen_by_chance_keys_are_propagated_as_what_happened() {
    let pair = Pair::start_with(&["--enable-debug-command", "yes"]);
    let mut m = pair.master.raw();
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD", "pool"];
    sadd.extend(members.iter().map(String::as_str));
    run(&mut m, &[&sadd]);
    run(
        &mut m,
        &[
            &["SPOP", "pool"],
            &["SPOP", "pool", "7"],
            &["SADD", "small", "a", "b"],
            &["SPOP", "small", "10"],
            &["SET", "soon", "v", "PX", "30"],
            &["SADD", "soonset", "a", "b"],
            &["PEXPIRE", "soonset", "30"],
        ],
    );
    pair.assert_same_data();
    // The lazy path: with active expiry off, the next write to the expired set must not add to
    // its old members on the replica.
    run(&mut m, &[&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]]);
    run(
        &mut m,
        &[
            &["SADD", "lazy", "old1", "old2"],
            &["PEXPIRE", "lazy", "20"],
        ],
    );
    std::thread::sleep(Duration::from_millis(40));
    run(&mut m, &[&["SADD", "lazy", "new"]]);
    pair.assert_same_data();
    run(&mut m, &[&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]]);
    // Active expiry deletes "soon" on the master, which tells the replica.
    let mut r = RawConn::connect(pair.replica.addr());
    wait_for_ok(
        SYNC_TIMEOUT,
        "expired keys deleted on the replica",
        || match r.request(&["DBSIZE"]) {
            Reply::Integer(2) => Ok(()),
            other => Err(format!("replica DBSIZE {other:?}")),
        },
    );
    pair.assert_same_data();
}

#[test]
fn served_blocking_pops_replicate_as_plain_pops() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    let mut waiters = Vec::new();
    for command in [
        &["BLPOP", "bl", "0"][..],
        &["BRPOP", "br", "0"],
        &["BLMOVE", "bm", "dest", "LEFT", "RIGHT", "0"],
        &["BZPOPMIN", "bz", "0"],
        &["BLMPOP", "0", "1", "blm", "LEFT", "COUNT", "2"],
    ] {
        let mut w = pair.master.raw();
        w.send_command(command);
        waiters.push(w);
    }
    // The waiters are blocked before the pushes arrive.
    wait_for_ok(SYNC_TIMEOUT, "five blocked clients", || {
        let clients = info(&mut m, "clients");
        match field(&clients, "blocked_clients") {
            Some("5") => Ok(()),
            other => Err(format!("blocked_clients {other:?}")),
        }
    });
    run(
        &mut m,
        &[
            &["RPUSH", "bl", "1", "2"],
            &["RPUSH", "br", "1", "2"],
            &["RPUSH", "bm", "1", "2"],
            &["ZADD", "bz", "1", "a", "2", "b"],
            &["RPUSH", "blm", "1", "2", "3"],
            &["LPUSH", "now", "x", "y"],
            &["BLPOP", "now", "0"],
            &["ZADD", "znow", "1", "a", "2", "b"],
            &["BZPOPMAX", "znow", "0"],
            &["LMPOP", "1", "now", "RIGHT"],
            &["ZMPOP", "1", "znow", "MIN"],
        ],
    );
    for w in &mut waiters {
        assert!(!w.read_reply().is_error());
    }
    pair.assert_same_data();
}

#[test]
fn streams_replicate_ids_trimming_and_consumer_groups() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    for i in 0..300 {
        let v = i.to_string();
        run(
            &mut m,
            &[&["XADD", "s", "MAXLEN", "~", "150", "*", "f", &v]],
        );
    }
    pair.with_replica_lagging(|| {
        run(
            &mut m,
            &[
                &["XADD", "s", "5000000000000-*", "f", "partial"],
                &["XTRIM", "s", "MAXLEN", "~", "120"],
                &["XGROUP", "CREATE", "s", "g", "0"],
                &["XGROUP", "CREATECONSUMER", "s", "g", "idle"],
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c1",
                    "COUNT",
                    "5",
                    "STREAMS",
                    "s",
                    ">",
                ],
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c2",
                    "COUNT",
                    "3",
                    "NOACK",
                    "STREAMS",
                    "s",
                    ">",
                ],
                &["XCLAIM", "s", "g", "c3", "0", "0-0"],
            ],
        )
    });
    let Reply::Array(Some(pending)) = m.request(&["XPENDING", "s", "g", "-", "+", "10"]) else {
        panic!("XPENDING failed");
    };
    let first = pending[0].as_array().unwrap()[0]
        .as_bytes()
        .unwrap()
        .to_vec();
    let first = String::from_utf8(first).unwrap();
    pair.with_replica_lagging(|| {
        run(
            &mut m,
            &[
                &["XCLAIM", "s", "g", "c3", "0", &first],
                &["XACK", "s", "g", &first],
                &["XAUTOCLAIM", "s", "g", "c4", "0", "0-0", "COUNT", "2"],
                &["XDEL", "s", &first],
                &["XADD", "s2", "NOMKSTREAM", "*", "f", "v"],
                &["XGROUP", "CREATE", "s3", "g", "$", "MKSTREAM"],
                &["XADD", "s3", "*", "a", "1"],
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s3", ">"],
                &["XGROUP", "SETID", "s3", "g", "0", "ENTRIESREAD", "0"],
                &["XGROUP", "DELCONSUMER", "s", "g", "idle"],
            ],
        )
    });
    pair.assert_same_data();
}

#[test]
fn transactions_and_scripts_replicate_their_effects() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    run(&mut m, &[&["MULTI"]]);
    for command in [
        &["SET", "t1", "a"][..],
        &["INCR", "t2"],
        &["SADD", "tp", "a", "b", "c", "d"],
        &["SPOP", "tp"],
        &["EXPIRE", "t1", "100"],
    ] {
        assert_eq!(m.request(command), Reply::Simple("QUEUED".into()));
    }
    pair.with_replica_lagging(|| assert!(matches!(m.request(&["EXEC"]), Reply::Array(Some(_)))));
    // A script whose writes depend on chance and on the clock: the replica must end with what
    // the master computed, which it can only do if it gets the writes, not the script.
    let script = "
        math.randomseed(tonumber(redis.call('TIME')[2]))
        local n = math.random(1000000)
        redis.call('SET', KEYS[1], n)
        redis.call('SET', KEYS[2], redis.call('TIME')[2])
        redis.call('SADD', KEYS[3], 'a', 'b', 'c', 'd', 'e')
        redis.call('SPOP', KEYS[3])
        redis.call('SELECT', 2)
        redis.call('HSET', KEYS[4], 'n', n)
        redis.call('EXPIRE', KEYS[4], 1000)
        return n";
    for _ in 0..3 {
        let reply = m.request(&["EVAL", script, "4", "r1", "r2", "r3", "r4"]);
        assert!(matches!(reply, Reply::Integer(_)), "{reply:?}");
    }
    // Scripts that only read propagate nothing; a read-only script call too.
    assert!(!m
        .request(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "r1"])
        .is_error());
    let library = "#!lua name=lib\nredis.register_function('bump', function(keys, args) \
                   redis.call('INCRBY', keys[1], args[1]); return redis.call('SPOP', keys[2]) end)";
    run(
        &mut m,
        &[
            &["FUNCTION", "LOAD", library],
            &["SADD", "fs", "a", "b", "c"],
            &["FCALL", "bump", "2", "fc", "fs", "5"],
            &["FCALL", "bump", "2", "fc", "fs", "5"],
        ],
    );
    pair.assert_same_data();
    // The library was propagated too: the replica can run the function.
    let mut r = RawConn::connect(pair.replica.addr());
    let listed = r.request(&["FUNCTION", "LIST"]);
    assert!(
        format!("{listed:?}").contains("bump"),
        "the replica has no function: {listed:?}"
    );
}

#[test]
fn publish_reaches_the_replicas_subscribers() {
    let pair = Pair::start();
    let mut sub = RawConn::connect(pair.replica.addr());
    sub.request(&["SUBSCRIBE", "news"]);
    let mut m = pair.master.raw();
    assert_eq!(m.request(&["PUBLISH", "news", "hello"]), Reply::Integer(0));
    let message = sub.read_reply();
    assert_eq!(
        message,
        Reply::Array(Some(vec![
            Reply::bulk("message"),
            Reply::bulk("news"),
            Reply::bulk("hello")
        ]))
    );
}

#[test]
fn role_info_and_a_reconnecting_replica_continue_from_the_backlog() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    run(&mut m, &[&["SET", "k", "1"]]);
    pair.wait_synced();
    let replication = info(&mut m, "replication");
    assert_eq!(field(&replication, "role"), Some("master"));
    assert_eq!(field(&replication, "connected_slaves"), Some("1"));
    let slave0 = field(&replication, "slave0").expect("a slave0 line");
    let port = pair.replica.port().to_string();
    assert!(
        slave0.contains(&format!("port={port},state=online")),
        "{slave0}"
    );
    let offset: i64 = field(&replication, "master_repl_offset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset > 0);
    // The replica acknowledges what it applied once a second.
    let role = wait_for_ok(SYNC_TIMEOUT, "the replica's acknowledgement", || {
        let role = m.request(&["ROLE"]);
        match format!("{role:?}").contains(&format!("\"{offset}\"]]]")) {
            true => Ok(role),
            false => Err(format!("ROLE {role:?}")),
        }
    });
    assert_eq!(
        role,
        Reply::Array(Some(vec![
            Reply::bulk("master"),
            Reply::Integer(offset),
            Reply::Array(Some(vec![Reply::Array(Some(vec![
                Reply::bulk("127.0.0.1"),
                Reply::bulk(&port),
                Reply::bulk(offset.to_string()),
            ]))])),
        ]))
    );
    let listed = match m.request(&["CLIENT", "LIST", "TYPE", "replica"]) {
        Reply::Bulk(Some(text)) | Reply::Verbatim(_, text) => String::from_utf8(text).unwrap(),
        other => panic!("CLIENT LIST answered {other:?}"),
    };
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("cmd=replconf"), "{listed}");
    assert!(listed.contains("flags=S "), "{listed}");
    assert_eq!(
        m.request(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        Reply::Integer(0)
    );
    assert_eq!(
        m.request(&["REPLICAOF", "NO", "ONE"]),
        Reply::Simple("OK".into())
    );
    // Cut the link: the replica reconnects and continues with PSYNC from its offset.
    let killed = m.request(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, Reply::Integer(1));
    run(&mut m, &[&["SET", "k", "2"], &["SET", "j", "3"]]);
    pair.assert_same_data();
    let stats = info(&mut m, "stats");
    assert_eq!(field(&stats, "sync_full"), Some("1"), "{stats}");
    assert_eq!(field(&stats, "sync_partial_ok"), Some("1"), "{stats}");
    // The backlog follows CONFIG SET.
    run(&mut m, &[&["CONFIG", "SET", "repl-backlog-size", "16kb"]]);
    wait_for_ok(SYNC_TIMEOUT, "the backlog to shrink", || {
        let replication = info(&mut m, "replication");
        match field(&replication, "repl_backlog_size") {
            Some("16384") => Ok(()),
            other => Err(format!("repl_backlog_size {other:?}")),
        }
    });
}

#[test]
fn the_snapshot_carries_existing_data_to_a_new_replica() {
    let master = SlotgateNode::start();
    let mut m = master.raw();
    run(
        &mut m,
        &[
            &["SET", "s", "v", "EX", "1000"],
            &["RPUSH", "l", "a", "b"],
            &["SADD", "set", "1", "x"],
            &["HSET", "h", "f", "v"],
            &["ZADD", "z", "1.5", "a"],
            &["XADD", "st", "1-1", "f", "v"],
            &["XGROUP", "CREATE", "st", "g", "0"],
            &["SELECT", "7"],
            &["SET", "in7", "v"],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=snaplib\nredis.register_function('f', function() return 1 end)",
            ],
        ],
    );
    let replicaof = format!("127.0.0.1 {}", master.port());
    let replica = RedisNode::standalone_with(&[("replicaof", &replicaof)]);
    let pair = Pair { master, replica };
    pair.assert_same_data();
    // The function libraries travel in the snapshot too.
    let listed = RawConn::connect(pair.replica.addr()).request(&["FUNCTION", "LIST"]);
    assert!(format!("{listed:?}").contains("snaplib"), "{listed:?}");
    run(
        &mut m,
        &[&["SET", "after", "sync"], &["SELECT", "0"], &["DEL", "l"]],
    );
    pair.assert_same_data();
}

#[test]
fn wait_counts_the_replicas_that_acknowledged_the_writes() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    run(&mut m, &[&["SET", "k", "v"]]);
    // (That the master asks for the acknowledgement is checked by the next test.)
    assert_eq!(m.request(&["WAIT", "1", "5000"]), Reply::Integer(1));
    // Two cannot be reached: the timeout ends it with the one that acknowledged.
    run(&mut m, &[&["SET", "k", "w"]]);
    assert_eq!(m.request(&["WAIT", "2", "200"]), Reply::Integer(1));
    assert_eq!(
        m.request(&["WAIT", "x", "0"]),
        Reply::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        m.request(&["WAIT", "1", "-1"]),
        Reply::Error("ERR timeout is negative".into())
    );
    // Without replicas, WAIT answers 0 at once when none is asked for.
    let alone = SlotgateNode::start();
    assert_eq!(alone.raw().request(&["WAIT", "0", "0"]), Reply::Integer(0));
    assert_eq!(alone.raw().request(&["WAIT", "1", "50"]), Reply::Integer(0));
}

#[test]
fn a_script_can_keep_its_writes_from_the_replicas_with_set_repl() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    let script = "
        redis.set_repl(redis.REPL_NONE)
        redis.call('SET', KEYS[1], 'master only')
        redis.set_repl(redis.REPL_AOF)
        redis.call('SET', KEYS[2], 'master only too')
        redis.set_repl(redis.REPL_ALL)
        redis.call('SET', KEYS[3], 'everywhere')
        return 1";
    assert_eq!(
        m.request(&["EVAL", script, "3", "none", "aof", "all"]),
        Reply::Integer(1)
    );
    pair.wait_synced();
    let mut r = RawConn::connect(pair.replica.addr());
    assert_eq!(r.request(&["GET", "none"]), Reply::Bulk(None));
    assert_eq!(r.request(&["GET", "aof"]), Reply::Bulk(None));
    assert_eq!(r.request(&["GET", "all"]), Reply::bulk("everywhere"));
    assert_eq!(m.request(&["GET", "none"]), Reply::bulk("master only"));
    // The next script starts with REPL_ALL again.
    run(
        &mut m,
        &[&["EVAL", "redis.call('SET', KEYS[1], 'v')", "1", "later"]],
    );
    pair.wait_synced();
    assert_eq!(r.request(&["GET", "later"]), Reply::bulk("v"));
}

#[test]
fn replication_commands_answer_as_redis_does_outside_a_replica_link() {
    let mut d = Differential::start();
    d.check_all(&[
        &["MULTI"],
        &["PSYNC", "?", "-1"],
        &["SET", "a", "1"],
        &["EXEC"],
        &["MULTI"],
        &["SYNC"],
        &["DISCARD"],
        &["REPLCONF", "listening-port", "x"],
        &["REPLCONF", "listening-port", "7000"],
        &["REPLCONF", "capa", "eof", "capa", "psync2"],
        &["REPLCONF", "bogus", "1"],
        &["REPLCONF", "capa"],
        &["ROLE"],
        &["WAIT", "0", "0"],
        &["REPLICAOF", "NO", "ONE"],
        &["SLAVEOF", "no", "one"],
        &["CONFIG", "SET", "min-replicas-to-write", "1"],
        &["SET", "b", "1"],
        &["GET", "b"],
        &["EVAL", "return 1", "0"],
        &["CONFIG", "SET", "min-replicas-to-write", "0"],
        &["SET", "b", "1"],
        &["CLIENT", "KILL", "TYPE", "bogus"],
        &["CLIENT", "KILL", "TYPE", "master"],
        &["CLIENT", "KILL", "TYPE", "replica"],
        &["CLIENT", "KILL", "MAXAGE", "100"],
        &["CLIENT", "LIST", "TYPE", "replica"],
    ]);
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_good_replicas() {
    let pair = Pair::start();
    let mut m = pair.master.raw();
    run(&mut m, &[&["CONFIG", "SET", "min-replicas-to-write", "2"]]);
    assert_eq!(
        m.request(&["SET", "k", "v"]),
        Reply::Error("NOREPLICAS Not enough good replicas to write.".into())
    );
    assert_eq!(
        m.request(&["GET", "k"]),
        Reply::Bulk(None),
        "reads still work"
    );
    // A transaction with a refused write is aborted.
    run(&mut m, &[&["MULTI"]]);
    assert!(m.request(&["SET", "k", "v"]).is_error());
    assert!(matches!(m.request(&["EXEC"]), Reply::Error(e) if e.starts_with("EXECABORT")));
    // One replica that acknowledges in time is enough for 1.
    run(&mut m, &[&["CONFIG", "SET", "min-replicas-to-write", "1"]]);
    wait_for_ok(SYNC_TIMEOUT, "the write to be taken", || {
        match m.request(&["SET", "k", "v"]) {
            Reply::Simple(s) if s == "OK" => Ok(()),
            other => Err(format!("SET answered {other:?}")),
        }
    });
    pair.assert_same_data();
}

/// Reads from a replica's link until `needle` has arrived (or the read timeout fails the test).
fn read_stream_until(link: &RawConn, seen: &mut Vec<u8>, needle: &[u8]) {
    use std::io::Read;
    let mut buf = [0u8; 16 * 1024];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = link.stream().read(&mut buf).unwrap_or_else(|e| {
            panic!("no {:?} on the link: {e}", String::from_utf8_lossy(needle))
        });
        assert!(n > 0, "the master closed the link");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn wait_asks_the_replicas_to_acknowledge_at_once() {
    let master = SlotgateNode::start();
    // A replica played by hand, so that what the master sends it can be read.
    let mut link = master.raw();
    assert_eq!(
        link.request(&["REPLCONF", "listening-port", "6390"]),
        Reply::Simple("OK".into())
    );
    link.send_command(&["PSYNC", "?", "-1"]);
    let mut seen = Vec::new();
    read_stream_until(&link, &mut seen, b"+FULLRESYNC");
    let mut m = master.raw();
    run(&mut m, &[&["SET", "k", "v"]]);
    read_stream_until(&link, &mut seen, b"$1\r\nk\r\n$1\r\nv\r\n");
    let mut waiter = master.raw();
    waiter.send_command(&["WAIT", "1", "0"]);
    // The master asks rather than wait for the replica's acknowledgement of its next second.
    read_stream_until(&link, &mut seen, b"$6\r\nGETACK\r\n");
    let offset = field(&info(&mut m, "replication"), "master_repl_offset")
        .unwrap()
        .to_string();
    link.send_command(&["REPLCONF", "ACK", &offset]);
    assert_eq!(waiter.read_reply(), Reply::Integer(1));
}
