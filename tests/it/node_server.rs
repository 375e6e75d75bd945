//! `slotgate node`: server, client and config commands, and the limits they configure.

use std::time::Duration;

use crate::harness::{assert_eventually, Differential, Reply, SlotgateNode};

#[test]
fn config_and_command_replies_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "GET", "maxmemory-policy"],
        &["CONFIG", "GET", "hash-max-ziplist-entries"],
        &["CONFIG", "GET", "nosuchthing"],
        &["CONFIG", "SET", "maxmemory", "10mb"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        &["CONFIG", "SET", "maxmemory-policy", "bogus"],
        &["CONFIG", "SET", "nosuchthing", "1"],
        &["CONFIG", "SET", "databases", "4"],
        &["CONFIG", "SET", "maxmemory", "0", "maxmemory"],
        &["CONFIG", "SET", "timeout", "x"],
        &["CONFIG", "SET", "maxmemory", "0", "timeout", "0"],
        &["COMMAND", "COUNT"],
        &["COMMAND", "INFO", "get", "nosuch", "client|list"],
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
        &["COMMAND", "GETKEYS", "PING"],
        &["COMMAND", "GETKEYS", "NOSUCH", "x"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "has space"],
        &["CLIENT", "SETNAME", "worker-1"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "NOSUCH"],
        &["SET", "a", "1"],
        &["DBSIZE"],
        &["FLUSHDB", "BOGUS"],
        &["FLUSHALL", "ASYNC"],
        &["DBSIZE"],
        &["SLOWLOG", "GET", "-2"],
        &["WAIT", "0", "0"],
        &["WAIT", "0", "-1"],
    ]);
}

/// `COMMAND GETKEYS` and `GETKEYSANDFLAGS` follow Redis's key specs, fall back to the
/// command's own key finder where Redis does (a `numkeys` only `atoi` reads, `SET … GET`,
/// read-only `BITFIELD`, `SORT … STORE`, `MIGRATE … KEYS`), and answer Redis's errors; the
/// flags come as a set under RESP3.
#[test]
fn command_getkeys_and_flags_match_redis() {
    let mut d = Differential::start();
    let cases: &[&[&str]] = &[
        &["MSET", "a", "1", "b", "2"],
        &["SET", "k", "v"],
        &["SET", "k", "v", "get"],
        &["SET", "k", "v", "GE"],
        &["BITFIELD", "k", "GET", "u8", "0"],
        &["BITFIELD", "k", "GET", "u8", "0", "INCRBY", "u8", "0", "1"],
        &["BITFIELD", "k", "OVERFLOW", "SAT", "GET", "u8"],
        &["SORT", "k", "LIMIT", "0", "1", "STORE", "d"],
        &["SORT_RO", "k", "BY", "w*"],
        &["ZUNIONSTORE", "d", "2", "a", "b"],
        &["ZUNIONSTORE", "d", "1abc", "a", "b"],
        &["ZUNIONSTORE", "d", "x", "a"],
        &["EVAL", "s", "0"],
        &["EVAL", "s", "2", "a", "b"],
        &["EVAL", "s", "3", "a"],
        &[
            "MIGRATE", "h", "1", "", "0", "1", "AUTH", "p", "KEYS", "a", "b",
        ],
        &["MIGRATE", "h", "1", "k", "0", "1", "KEYS", "a"],
        &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "1", "2"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "1"],
        &[
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "a",
            "STOREDIST",
            "b",
        ],
        &["LMPOP", "2", "a", "b", "LEFT"],
        &["SPUBLISH", "ch", "m"],
        &["GET"],
        &["GET", "a", "b"],
        &["PING", "x"],
        &["NOSUCH", "x"],
        &["CLIENT", "KILL"],
        &["CONFIG", "GET", "x"],
        &["OBJECT", "ENCODING", "k"],
    ];
    for case in cases {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut request = vec!["COMMAND", sub];
            request.extend_from_slice(case);
            d.check(&request);
        }
    }
    // The HELLO replies name the servers, so they are not compared.
    for conn in [&mut d.ours_conn, &mut d.redis_conn] {
        conn.send(&crate::harness::encode_command(&["HELLO", "3"]));
        conn.read_raw_reply();
    }
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET"]);
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"]);
}

/// A `CONFIG SET` takes effect for the very next command, even one pipelined behind it in the
/// same read or queued behind it in the same transaction, as in Redis.
#[test]
fn config_set_applies_to_the_commands_right_behind_it() {
    let mut d = Differential::start();
    d.check_pipeline(&[
        &["RPUSH", "before", "a", "b", "c", "d", "e"],
        &["CONFIG", "SET", "list-max-listpack-size", "4"],
        &["RPUSH", "after", "a", "b", "c", "d", "e"],
        &["OBJECT", "ENCODING", "before"],
        &["OBJECT", "ENCODING", "after"],
        &["CONFIG", "SET", "set-max-intset-entries", "2"],
        &["SADD", "ints", "1", "2", "3"],
        &["OBJECT", "ENCODING", "ints"],
    ]);
    d.check_pipeline(&[
        &["MULTI"],
        &["CONFIG", "SET", "hash-max-listpack-entries", "1"],
        &["HSET", "h", "f1", "v", "f2", "v"],
        &["OBJECT", "ENCODING", "h"],
        &["CONFIG", "SET", "hash-max-listpack-entries", "128"],
        &["EXEC"],
    ]);
}

/// `COMMAND LIST` with each filter names the same commands as redis-server (in its own order).
#[test]
fn command_list_filters_match_redis() {
    fn sorted(reply: crate::harness::Reply) -> Vec<Vec<u8>> {
        let crate::harness::Reply::Array(Some(items)) = reply else {
            panic!("not an array: {reply:?}");
        };
        let mut names: Vec<Vec<u8>> = items
            .into_iter()
            .map(|r| r.as_bytes().expect("a name").to_vec())
            .collect();
        names.sort();
        names
    }
    let mut d = Differential::start();
    for filter in [
        &["COMMAND", "LIST"][..],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "list"],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "HyperLogLog"],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"],
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "fakemod"],
    ] {
        let ours = sorted(d.ours_conn.request(filter));
        let theirs = sorted(d.redis_conn.request(filter));
        assert_eq!(ours, theirs, "{filter:?}");
    }
    d.check_all(&[
        &["COMMAND", "LIST", "FILTERBY", "NOPE", "x"],
        &[
            "COMMAND", "LIST", "FILTERBY", "ACLCAT", "list", "PATTERN", "l*",
        ],
    ]);
}

/// `COMMAND DOCS` answers Redis 7.0's own documentation, byte for byte, in RESP2 and RESP3.
#[test]
fn command_docs_match_redis() {
    let mut d = Differential::start();
    let named: &[&str] = &[
        "COMMAND",
        "DOCS",
        "get",
        "SET",
        "client|kill",
        "nosuch",
        "zadd",
    ];
    d.check(named);
    d.check(&["COMMAND", "DOCS", "nosuch"]);
    d.both(&["HELLO", "3"]);
    d.check(named);
    d.check(&["COMMAND", "DOCS", "georadius", "xadd", "bitfield"]);
}

fn idle(c: &mut crate::harness::RawConn, key: &str) -> i64 {
    match c.request(&["OBJECT", "IDLETIME", key]) {
        crate::harness::Reply::Integer(n) => n,
        r => panic!("OBJECT IDLETIME answered {r:?}"),
    }
}

/// `OBJECT IDLETIME` counts seconds since a command used the key; looking at it (OBJECT, TYPE,
/// EXISTS, TTL) is not a use, reading it is.
#[test]
fn idle_time_counts_from_the_last_use() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    c.request(&["SET", "k", "v"]);
    assert_eq!(idle(&mut c, "k"), 0);
    assert_eventually(Duration::from_secs(5), "k idle for a second", || {
        idle(&mut c, "k") >= 1
    });
    c.request(&["TYPE", "k"]);
    c.request(&["EXISTS", "k"]);
    c.request(&["TTL", "k"]);
    c.request(&["OBJECT", "ENCODING", "k"]);
    assert!(idle(&mut c, "k") >= 1, "looking at a key is not a use");
    c.request(&["GET", "k"]);
    assert_eq!(idle(&mut c, "k"), 0);
    assert_eq!(c.request_raw(&["OBJECT", "IDLETIME", "nosuch"]), b"$-1\r\n");
}

/// `allkeys-lru` evicts keys idle longest: keys used just before memory runs out survive.
#[test]
fn lru_eviction_keeps_recently_used_keys() {
    let node = SlotgateNode::start_with(&[
        "--maxmemory",
        "2mb",
        "--maxmemory-policy",
        "allkeys-lru",
        "--maxmemory-samples",
        "64",
    ]);
    let mut c = node.raw();
    let value = "x".repeat(1000);
    for i in 0..1000 {
        c.request(&["SET", &format!("old{i}"), &value]);
    }
    assert_eventually(Duration::from_secs(5), "old keys idle", || {
        idle(&mut c, "old0") >= 1
    });
    for i in 0..50 {
        c.request(&["SET", &format!("hot{i}"), &value]);
    }
    // Write on until a hundred keys were evicted (fewer than the idle ones).
    let mut evicted = 0;
    for i in 0..5000 {
        assert!(!c.request(&["SET", &format!("new{i}"), &value]).is_error());
        if i % 50 == 0 {
            evicted = info_field(&mut c, "stats", "evicted_keys").parse().unwrap();
            if evicted >= 100 {
                break;
            }
        }
    }
    assert!(evicted >= 100, "only {evicted} keys were evicted");
    for i in 0..50 {
        assert_eq!(
            c.request_raw(&["EXISTS", &format!("hot{i}")]),
            b":1\r\n",
            "hot{i} was evicted before idle keys"
        );
    }
}

/// `LOLWUT` answers Redis 7.0's version line, in RESP2 and RESP3.
#[test]
fn lolwut_matches_redis() {
    let mut d = Differential::start();
    let forms: &[&[&str]] = &[
        &["LOLWUT"],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "VERSION", "1", "10", "20"],
        &["LOLWUT", "VERSION"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "foo"],
    ];
    d.check_all(forms);
    d.both(&["HELLO", "3"]);
    d.check_all(forms);
}

fn info_field(conn: &mut crate::harness::RawConn, section: &str, field: &str) -> String {
    let raw = conn.request_raw(&["INFO", section]);
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

#[test]
fn info_reports_what_happened() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    assert_eq!(info_field(&mut c, "server", "redis_version"), "7.0.15");
    assert_eq!(
        info_field(&mut c, "server", "tcp_port"),
        node.port().to_string()
    );
    c.request(&["SET", "k", "v"]);
    c.request(&["GET", "k"]);
    c.request(&["GET", "missing"]);
    assert_eq!(info_field(&mut c, "stats", "keyspace_hits"), "1");
    assert_eq!(info_field(&mut c, "stats", "keyspace_misses"), "1");
    assert_eq!(
        info_field(&mut c, "keyspace", "db0"),
        "keys=1,expires=0,avg_ttl=0"
    );
    assert_eq!(info_field(&mut c, "clients", "connected_clients"), "1");
    assert!(info_field(&mut c, "commandstats", "cmdstat_get").starts_with("calls=2,"));
    c.request(&["INCR", "k"]);
    assert_eq!(info_field(&mut c, "errorstats", "errorstat_ERR"), "count=1");
    assert!(info_field(&mut c, "commandstats", "cmdstat_incr").ends_with("failed_calls=1"));
    assert_eq!(c.request_raw(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "stats", "keyspace_hits"), "0");
    assert!(
        info_field(&mut c, "memory", "used_memory")
            .parse::<u64>()
            .unwrap()
            > 0
    );
}

#[test]
fn slowlog_keeps_slow_commands() {
    let node =
        SlotgateNode::start_with(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "2"]);
    let mut c = node.raw();
    c.request(&["SET", "a", "1"]);
    c.request(&["GET", "a"]);
    c.request(&["GET", "b"]);
    assert_eq!(c.request_raw(&["SLOWLOG", "LEN"]), b":2\r\n");
    let reply = c.request(&["SLOWLOG", "GET", "1"]);
    let entries = reply.as_array().expect("array");
    assert_eq!(entries.len(), 1);
    let entry = entries[0].as_array().expect("entry");
    assert_eq!(entry.len(), 6);
    assert_eq!(
        entry[3].as_array().unwrap()[0].as_bytes(),
        Some(&b"SLOWLOG"[..])
    );
    c.request(&["SLOWLOG", "RESET"]);
    assert_eq!(c.request_raw(&["SLOWLOG", "LEN"]), b":1\r\n");
}

#[test]
fn client_list_and_kill() {
    let node = SlotgateNode::start();
    let mut admin = node.raw();
    let mut victim = node.raw();
    victim.request(&["CLIENT", "SETNAME", "victim"]);
    let id = String::from_utf8(victim.request_raw(&["CLIENT", "ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    let list = String::from_utf8_lossy(&admin.request_raw(&["CLIENT", "LIST"])).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains("name=victim"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains(&format!("id={id} "))
            && line.contains(" db=0 ")
            && line.contains(" cmd=client|id "),
        "{line}"
    );
    assert_eq!(admin.request_raw(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    victim.assert_closed();
    assert_eq!(admin.request_raw(&["CLIENT", "KILL", "ID", &id]), b":0\r\n");
}

#[test]
fn shutdown_stops_the_node() {
    let mut node = SlotgateNode::start();
    let mut c = node.raw();
    c.send_command(&["SHUTDOWN", "NOSAVE"]);
    assert_eventually(Duration::from_secs(10), "the node exits", || {
        node.exit_status().is_some()
    });
}

#[test]
fn maxclients_refuses_extra_connections() {
    let node = SlotgateNode::start_with(&["--maxclients", "2"]);
    let mut a = node.raw();
    let mut b = node.raw();
    a.request(&["PING"]);
    b.request(&["PING"]);
    let mut c = node.raw();
    assert_eq!(
        c.read_raw_reply(),
        b"-ERR max number of clients reached\r\n"
    );
}

#[test]
fn maxmemory_noeviction_refuses_writes_and_lru_evicts() {
    let node = SlotgateNode::start_with(&["--maxmemory", "2mb"]);
    let mut c = node.raw();
    let value = "x".repeat(1000);
    let mut refused = None;
    for i in 0..10_000 {
        let reply = c.request(&["SET", &format!("k{i}"), &value]);
        if reply.is_error() {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("writes are refused past maxmemory");
    assert_eq!(
        refused.as_error(),
        Some("OOM command not allowed when used memory > 'maxmemory'.")
    );
    // Reads still work; with an evicting policy writes go on and the keyspace stays bounded.
    assert!(!c.request(&["GET", "k1"]).is_error());
    c.request(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    for i in 0..5_000 {
        let reply = c.request(&["SET", &format!("n{i}"), &value]);
        assert!(!reply.is_error(), "{reply:?}");
    }
    let keys: u64 = String::from_utf8_lossy(&c.request_raw(&["DBSIZE"]))
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(keys < 3000, "{keys} keys of 1 KB under a 2 MB limit");
}

/// How long a held-back command is watched to see that no reply comes.
const STILL_HELD_FOR: Duration = Duration::from_millis(300);

/// `CLIENT PAUSE … WRITE` holds back writes (and what is pipelined behind them) while reads and
/// read-only transactions go on; `CLIENT UNPAUSE` lets the held writes run, in order.
#[test]
fn client_pause_write_holds_writes_until_unpause() {
    let node = SlotgateNode::start();
    let mut admin = node.raw();
    let mut writer = node.raw();
    let mut reader = node.raw();
    assert_eq!(admin.request(&["SET", "k", "old"]), ok());
    assert_eq!(admin.request(&["CLIENT", "PAUSE", "60000", "WRITE"]), ok());
    writer.send_command(&["SET", "k", "new"]);
    writer.send_command(&["GET", "k"]);
    writer.assert_no_reply_within(STILL_HELD_FOR, &["SET", "k", "new"]);
    assert_eq!(reader.request(&["GET", "k"]), Reply::bulk("old"));
    // A transaction is held when a write is queued, a read-only one runs.
    assert_eq!(reader.request(&["MULTI"]), ok());
    assert_eq!(
        reader.request(&["GET", "k"]),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(
        reader.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::bulk("old")]))
    );
    // PUBLISH may replicate, so it is held too.
    reader.send_command(&["PUBLISH", "ch", "m"]);
    reader.assert_no_reply_within(STILL_HELD_FOR, &["PUBLISH", "ch", "m"]);
    // A second pause cannot shorten the first.
    assert_eq!(admin.request(&["CLIENT", "PAUSE", "0", "WRITE"]), ok());
    writer.assert_no_reply_within(STILL_HELD_FOR, &["SET", "k", "new"]);
    assert_eq!(admin.request(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(writer.read_reply(), ok());
    assert_eq!(writer.read_reply(), Reply::bulk("new"));
    assert_eq!(reader.read_reply(), Reply::Integer(0));
}

/// `CLIENT PAUSE` (ALL) holds back every command, `CLIENT UNPAUSE` included, until its time
/// is over; then the held commands run.
#[test]
fn client_pause_all_holds_every_command_until_it_ends() {
    let node = SlotgateNode::start();
    let mut admin = node.raw();
    let mut other = node.raw();
    let started = std::time::Instant::now();
    assert_eq!(admin.request(&["CLIENT", "PAUSE", "500"]), ok());
    other.send_command(&["CLIENT", "UNPAUSE"]);
    other.assert_no_reply_within(STILL_HELD_FOR, &["CLIENT", "UNPAUSE"]);
    assert_eq!(admin.request(&["PING"]), Reply::Simple("PONG".into()));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "PING answered {:?} into a 500 ms pause",
        started.elapsed()
    );
    assert_eq!(other.read_reply(), ok());
}

/// While clients are paused the dataset stays as it is: a key whose time has come reads as
/// missing but is not deleted, by a lookup or by active expiry, until the pause ends.
#[test]
fn client_pause_keeps_expired_keys_until_it_ends() {
    let node = SlotgateNode::start_with(&["--hz", "100"]);
    let mut c = node.raw();
    assert_eq!(c.request(&["SET", "live", "1"]), ok());
    assert_eq!(c.request(&["SET", "x", "1", "PX", "50"]), ok());
    assert_eq!(c.request(&["CLIENT", "PAUSE", "60000", "WRITE"]), ok());
    assert_eventually(Duration::from_secs(5), "x reads as expired", || {
        c.request(&["GET", "x"]) == Reply::Bulk(None)
    });
    assert_eq!(c.request(&["EXISTS", "x"]), Reply::Integer(0));
    assert_eq!(c.request(&["DBSIZE"]), Reply::Integer(2));
    assert_eq!(c.request(&["CLIENT", "UNPAUSE"]), ok());
    assert_eventually(Duration::from_secs(5), "x deleted after the pause", || {
        c.request(&["DBSIZE"]) == Reply::Integer(1)
    });
}

#[test]
fn client_pause_errors_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["CLIENT", "PAUSE", "100", "bogus"],
        &["CLIENT", "PAUSE", "bogus", "bogus"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "1.5", "WRITE"],
        &["CLIENT", "PAUSE", "99999999999999999999"],
        &["CLIENT", "PAUSE", "1", "WRITE", "x"],
        &["CLIENT", "PAUSE"],
        &["CLIENT", "UNPAUSE", "x"],
        &["CLIENT", "PAUSE", "0", "write"],
        &["CLIENT", "UNPAUSE"],
        &["SET", "after", "1"],
    ]);
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

/// `DEBUG` and `MODULE` are protected as in Redis 7.0: refused under the default
/// `enable-debug-command no` / `enable-module-command no` (a transaction holding one fails),
/// allowed to loopback clients under `local`.
#[test]
fn protected_commands_follow_their_directives() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "k", "v"],
        &["DEBUG", "OBJECT", "k"],
        &["DEBUG", "SLEEP", "0"],
        &["MODULE", "LIST"],
        &["MODULE", "LOAD", "/nonexistent.so"],
        &["CONFIG", "GET", "enable-debug-command"],
        &["CONFIG", "SET", "enable-debug-command", "yes"],
        &["MULTI"],
        &["DEBUG", "SLEEP", "0"],
        &["EXEC"],
    ]);
    let node = SlotgateNode::start_with(&["--enable-debug-command", "local"]);
    let mut c = node.raw();
    assert_eq!(c.request(&["DEBUG", "SLEEP", "0"]), ok());
    assert_eq!(
        c.request(&["CONFIG", "GET", "enable-debug-command"]),
        Reply::bulks(["enable-debug-command", "local"])
    );
}

/// `MONITOR` shows every command the node runs, after it ran, as Redis 7.0 writes it: time,
/// database and client address, then each argument quoted; administrative commands are left
/// out, a transaction shows its commands at `EXEC`, and `RESET` ends monitoring.
#[test]
fn monitor_shows_commands_as_redis_does() {
    let node = SlotgateNode::start();
    let mut monitor = node.raw();
    let mut c = node.raw();
    assert_eq!(monitor.request(&["MONITOR"]), ok());
    let addr = c.stream().local_addr().unwrap();
    c.request(&["SET", "k y", "a\"b\n"]);
    c.request(&["CONFIG", "GET", "maxmemory"]);
    c.request(&["SELECT", "2"]);
    c.request(&["MULTI"]);
    c.request(&["INCR", "n"]);
    c.request(&["EXEC"]);
    c.request(&["GET", "nope"]);
    let expected = [
        format!("[0 {addr}] \"SET\" \"k y\" \"a\\\"b\\n\""),
        format!("[2 {addr}] \"SELECT\" \"2\""),
        format!("[2 {addr}] \"MULTI\""),
        format!("[2 {addr}] \"INCR\" \"n\""),
        format!("[2 {addr}] \"EXEC\""),
        format!("[2 {addr}] \"GET\" \"nope\""),
    ];
    for want in &expected {
        let Reply::Simple(line) = monitor.read_reply() else {
            panic!("a monitor line is a simple string");
        };
        let (time, rest) = line.split_once(' ').expect("time, then the rest");
        let (secs, micros) = time.split_once('.').expect("seconds.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        assert_eq!(rest, want);
    }
    // RESET ends monitor mode: nothing more arrives.
    assert_eq!(monitor.request(&["RESET"]), Reply::Simple("RESET".into()));
    c.request(&["PING"]);
    monitor.assert_no_reply_within(STILL_HELD_FOR, &["PING"]);
}

#[test]
fn monitor_inside_a_transaction_is_refused_like_redis() {
    let mut d = Differential::start();
    d.check_all(&[&["MULTI"], &["MONITOR"], &["EXEC"]]);
}

/// Under an LFU policy keys count their uses as Redis counts them: a new key starts at 5 and,
/// with `lfu-log-factor 0`, every use adds one (a larger factor makes growth logarithmic and
/// random); OBJECT FREQ reads without counting, and IDLETIME is refused.
#[test]
fn lfu_counters_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
        &["CONFIG", "SET", "lfu-log-factor", "0"],
        &["SET", "k", "v"],
        &["OBJECT", "FREQ", "k"],
        &["GET", "k"],
        &["GET", "k"],
        &["EXISTS", "k"],
        &["OBJECT", "FREQ", "k"],
        &["SET", "k", "w"],
        &["OBJECT", "FREQ", "k"],
        &["MSET", "k", "x", "m", "y"],
        &["OBJECT", "FREQ", "k"],
        &["OBJECT", "FREQ", "m"],
        &["APPEND", "k", "z"],
        &["OBJECT", "FREQ", "k"],
        &["GETRANGE", "k", "0", "1"],
        &["SETRANGE", "k", "0", "q"],
        &["STRLEN", "k"],
        &["OBJECT", "FREQ", "k"],
        &["SET", "n", "100000"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["OBJECT", "FREQ", "n"],
        &["RPUSH", "l", "a"],
        &["LPUSH", "l", "b"],
        &["LRANGE", "l", "0", "-1"],
        &["LPOP", "l"],
        &["LLEN", "l"],
        &["OBJECT", "FREQ", "l"],
        &["SADD", "s", "a"],
        &["SADD", "s", "b"],
        &["SISMEMBER", "s", "a"],
        &["OBJECT", "FREQ", "s"],
        &["HSET", "h", "f", "v"],
        &["HSET", "h", "g", "w"],
        &["HGET", "h", "f"],
        &["HINCRBY", "h", "n", "1"],
        &["OBJECT", "FREQ", "h"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "2", "b"],
        &["ZSCORE", "z", "a"],
        &["ZINCRBY", "z", "1", "a"],
        &["OBJECT", "FREQ", "z"],
        &["EXPIRE", "z", "100"],
        &["OBJECT", "FREQ", "z"],
        &["OBJECT", "FREQ", "missing"],
        &["OBJECT", "IDLETIME", "k"],
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        &["OBJECT", "FREQ", "k"],
    ]);
}

/// allkeys-lfu evicts the keys used least: keys read many times survive a flood of new ones.
#[test]
fn lfu_eviction_keeps_frequently_used_keys() {
    let node = SlotgateNode::start_with(&[
        "--maxmemory",
        "2mb",
        "--maxmemory-policy",
        "allkeys-lfu",
        "--maxmemory-samples",
        "64",
        "--lfu-log-factor",
        "0",
    ]);
    let mut c = node.raw();
    let value = "x".repeat(1000);
    for i in 0..50 {
        c.request(&["SET", &format!("hot{i}"), &value]);
        for _ in 0..20 {
            c.request(&["GET", &format!("hot{i}")]);
        }
    }
    let mut evicted = 0;
    for i in 0..5000 {
        assert!(!c.request(&["SET", &format!("new{i}"), &value]).is_error());
        if i % 50 == 0 {
            evicted = info_field(&mut c, "stats", "evicted_keys").parse().unwrap();
            if evicted >= 500 {
                break;
            }
        }
    }
    assert!(evicted >= 500, "only {evicted} keys were evicted");
    for i in 0..50 {
        assert_eq!(
            c.request_raw(&["EXISTS", &format!("hot{i}")]),
            b":1\r\n",
            "hot{i} was evicted before keys used once"
        );
    }
}

/// `RESTORE … IDLETIME` sets how long ago the key was used (under an LRU or no policy) and
/// `RESTORE … FREQ` its LFU counter (under an LFU policy), as in Redis.
#[test]
fn restore_sets_idle_time_and_frequency_like_redis() {
    let mut d = Differential::start();
    let payload = d.check(&["DUMP", "missing"]);
    assert_eq!(payload, b"$-1\r\n");
    d.check(&["SET", "src", "v"]);
    let payload = d.redis_conn.request(&["DUMP", "src"]);
    let payload = payload.as_bytes().unwrap().to_vec();
    for conn in [&mut d.ours_conn, &mut d.redis_conn] {
        assert_eq!(
            conn.request(&[&b"RESTORE"[..], b"a", b"0", &payload, b"IDLETIME", b"1000"]),
            ok()
        );
    }
    // A second may tick between RESTORE and the question, on either server.
    for conn in [&mut d.ours_conn, &mut d.redis_conn] {
        let Reply::Integer(idle) = conn.request(&["OBJECT", "IDLETIME", "a"]) else {
            panic!("OBJECT IDLETIME answers an integer");
        };
        assert!((1000..=1001).contains(&idle), "idle {idle}");
    }
    d.check(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    for conn in [&mut d.ours_conn, &mut d.redis_conn] {
        assert_eq!(
            conn.request(&[&b"RESTORE"[..], b"b", b"0", &payload, b"FREQ", b"42"]),
            ok()
        );
    }
    d.check(&["OBJECT", "FREQ", "b"]);
}
