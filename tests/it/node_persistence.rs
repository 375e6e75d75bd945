//! `slotgate node`: RDB snapshots on disk.
//!
//! Files our node saves are loaded by redis-server 7.0.15 and files redis-server saves are
//! loaded by our node, and the two are compared key by key through commands (type, encoding,
//! expiry, value, stream groups and pending entries, functions). Data survives a SIGKILL after
//! SAVE or BGSAVE, a SHUTDOWN, and a `save` rule firing; a bad file stops the start with a
//! clear error.

use std::time::Duration;

use crate::harness::{
    assert_eventually, assert_same_dataset, dataset, run_node_to_exit, RawConn, RedisNode, Reply,
    SlotgateNode, TempDir,
};

/// The databases [`fill`] writes to.
const DBS: [&str; 3] = ["0", "1", "5"];
/// How long a background save or a `save` rule may take to land on disk.
const SAVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node given a bad file may take to give up.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
const FAR_FUTURE_MS: &str = "4102444800000";

const LIBRARY: &str =
    "#!lua name=persisted\nredis.register_function('answer', function() return 42 end)";

#[track_caller]
fn run(conn: &mut RawConn, args: &[String]) {
    let reply = conn.request(args);
    assert!(!reply.is_error(), "{args:?} answered {reply:?}");
}

#[track_caller]
fn cmd(conn: &mut RawConn, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run(conn, &args);
}

/// `head` followed by `items`, as one command.
fn with(head: &[&str], items: impl IntoIterator<Item = String>) -> Vec<String> {
    head.iter().map(|h| h.to_string()).chain(items).collect()
}

/// Every type in small and large encodings, expiries, three databases and a function.
fn fill(conn: &mut RawConn) {
    cmd(conn, &["SELECT", "0"]);
    cmd(conn, &["SET", "str:raw", "hello world"]);
    cmd(conn, &["SET", "str:int", "12345"]);
    cmd(conn, &["SET", "str:neg", "-70000"]);
    cmd(conn, &["SET", "str:i64", "9223372036854775807"]);
    cmd(conn, &["SET", "str:zero-padded", "007"]);
    run(conn, &with(&["SET", "str:long"], ["abcdefgh".repeat(500)]));
    cmd(conn, &["SET", "str:binary", "\u{0}\u{1}\r\n\u{7f}"]);
    cmd(conn, &["RPUSH", "list:small", "a", "b", "3", "-4", ""]);
    run(
        conn,
        &with(
            &["RPUSH", "list:large"],
            (0..600).map(|i| format!("element-{i}-{}", "x".repeat(i % 40))),
        ),
    );
    run(conn, &with(&["RPUSH", "list:large"], ["y".repeat(10_000)]));
    cmd(conn, &["SADD", "set:intset", "1", "2", "3", "-5", "100000"]);
    run(
        conn,
        &with(
            &["SADD", "set:many-ints"],
            (0..600).map(|i| (i * 7).to_string()),
        ),
    );
    cmd(conn, &["SADD", "set:strings", "a", "b", "c", "1"]);
    cmd(conn, &["HSET", "hash:small", "f1", "v1", "f2", "2"]);
    run(
        conn,
        &with(
            &["HSET", "hash:large"],
            (0..200).flat_map(|i| [format!("field{i}"), format!("value{i}")]),
        ),
    );
    run(
        conn,
        &with(&["HSET", "hash:long-value", "f"], ["v".repeat(100)]),
    );
    cmd(
        conn,
        &["ZADD", "zset:small", "1", "a", "2.5", "b", "-3", "c"],
    );
    cmd(
        conn,
        &["ZADD", "zset:inf", "+inf", "x", "-inf", "y", "0", "z"],
    );
    run(
        conn,
        &with(
            &["ZADD", "zset:large"],
            (0..200).flat_map(|i| [format!("{}.25", i * 3), format!("member{i}")]),
        ),
    );
    cmd(conn, &["XADD", "stream:s", "1-1", "f", "v"]);
    cmd(conn, &["XADD", "stream:s", "2-1", "a", "b", "c", "d"]);
    cmd(conn, &["XADD", "stream:s", "3-0", "f", "w"]);
    cmd(conn, &["XADD", "stream:s", "4-0", "g", "h"]);
    cmd(conn, &["XDEL", "stream:s", "2-1"]);
    cmd(conn, &["XGROUP", "CREATE", "stream:s", "g1", "0"]);
    cmd(
        conn,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "stream:s",
            ">",
        ],
    );
    cmd(conn, &["XGROUP", "CREATECONSUMER", "stream:s", "g1", "bob"]);
    cmd(conn, &["XGROUP", "CREATE", "stream:s", "g2", "$"]);
    cmd(conn, &["XADD", "stream:empty", "5-5", "f", "v"]);
    cmd(conn, &["XDEL", "stream:empty", "5-5"]);
    cmd(conn, &["PFADD", "hll:sparse", "a", "b", "c"]);
    run(
        conn,
        &with(&["PFADD", "hll:dense"], (0..3000).map(|i| format!("e{i}"))),
    );
    cmd(conn, &["SET", "ttl:px", "v", "PX", "5000000"]);
    cmd(conn, &["EXPIRE", "hash:small", "100000"]);
    cmd(conn, &["PEXPIREAT", "list:small", FAR_FUTURE_MS]);
    cmd(conn, &["PEXPIREAT", "zset:large", FAR_FUTURE_MS]);
    cmd(conn, &["SELECT", "1"]);
    cmd(conn, &["SET", "k1", "v"]);
    cmd(conn, &["RPUSH", "l", "x"]);
    cmd(conn, &["SELECT", "5"]);
    cmd(conn, &["HSET", "h", "a", "b"]);
    cmd(conn, &["SET", "ttl", "v", "EX", "99999"]);
    cmd(conn, &["SELECT", "0"]);
    cmd(conn, &["FUNCTION", "LOAD", LIBRARY]);
}

fn request(conn: &mut RawConn, args: &[&str]) -> Reply {
    conn.request(args)
}

/// The `INFO persistence` field `name`.
fn info_field(conn: &mut RawConn, name: &str) -> Option<String> {
    let info = request(conn, &["INFO", "persistence"]);
    let text = match &info {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("INFO answered {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

/// Waits until no background save runs and every change is saved.
#[track_caller]
fn wait_saved(conn: &mut RawConn) {
    assert_eventually(SAVE_TIMEOUT, "the snapshot on disk", || {
        info_field(conn, "rdb_bgsave_in_progress").as_deref() == Some("0")
            && info_field(conn, "rdb_changes_since_last_save").as_deref() == Some("0")
    });
}

#[test]
fn redis_server_loads_what_the_node_saves() {
    let node = SlotgateNode::start();
    let mut ours = node.raw();
    fill(&mut ours);
    assert_eq!(request(&mut ours, &["SAVE"]), Reply::Simple("OK".into()));
    let expected = dataset(&mut ours);

    let mut redis = RedisNode::standalone();
    redis.kill();
    std::fs::copy(node.dir().join("dump.rdb"), redis.dir().join("dump.rdb"))
        .expect("copy the node's dump.rdb");
    redis.restart();
    assert_same_dataset(&dataset(&mut redis.raw()), &expected);
}

#[test]
fn the_node_loads_what_redis_server_saves() {
    let redis = RedisNode::standalone();
    let mut theirs = redis.raw();
    fill(&mut theirs);
    assert_eq!(request(&mut theirs, &["SAVE"]), Reply::Simple("OK".into()));
    let expected = dataset(&mut theirs);

    let dir = TempDir::new("from-redis");
    std::fs::copy(redis.dir().join("dump.rdb"), dir.path().join("dump.rdb"))
        .expect("copy redis-server's dump.rdb");
    let node = SlotgateNode::start_in(dir, &[]);
    let mut ours = node.raw();
    assert_same_dataset(&dataset(&mut ours), &expected);
    let loaded = info_field(&mut ours, "rdb_last_load_keys_loaded").unwrap();
    let keys: usize = DBS
        .iter()
        .map(|db| {
            request(&mut ours, &["SELECT", db]);
            match request(&mut ours, &["DBSIZE"]) {
                Reply::Integer(n) => n as usize,
                other => panic!("DBSIZE answered {other:?}"),
            }
        })
        .sum();
    assert_eq!(loaded, keys.to_string());
}

#[test]
fn data_survives_a_kill_after_save_and_bgsave() {
    let mut node = SlotgateNode::start();
    let mut conn = node.raw();
    fill(&mut conn);
    let lastsave = |conn: &mut RawConn| match request(conn, &["LASTSAVE"]) {
        Reply::Integer(t) => t,
        other => panic!("LASTSAVE answered {other:?}"),
    };
    let before_save = lastsave(&mut conn);
    assert_eq!(request(&mut conn, &["SAVE"]), Reply::Simple("OK".into()));
    assert_eq!(
        info_field(&mut conn, "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    assert_eq!(
        info_field(&mut conn, "rdb_last_bgsave_status").as_deref(),
        Some("ok")
    );
    assert!(lastsave(&mut conn) >= before_save);

    // More writes, then a background save.
    cmd(&mut conn, &["SET", "after:save", "1"]);
    cmd(&mut conn, &["SELECT", "1"]);
    cmd(&mut conn, &["DEL", "k1"]);
    cmd(&mut conn, &["SELECT", "0"]);
    assert_eq!(
        request(&mut conn, &["BGSAVE"]),
        Reply::Simple("Background saving started".into())
    );
    wait_saved(&mut conn);
    let expected = dataset(&mut conn);

    node.kill();
    node.restart();
    assert_same_dataset(&dataset(&mut node.raw()), &expected);
}

#[test]
fn shutdown_saves_unless_told_not_to() {
    let mut node = SlotgateNode::start();
    let mut conn = node.raw();
    cmd(&mut conn, &["SET", "saved", "1"]);
    conn.send_command(&["SHUTDOWN"]);
    conn.assert_closed();
    assert_eventually(SAVE_TIMEOUT, "the node to exit", || {
        node.exit_status().is_some()
    });
    node.restart();
    let mut conn = node.raw();
    assert_eq!(request(&mut conn, &["GET", "saved"]), Reply::bulk("1"));

    cmd(&mut conn, &["SET", "not-saved", "1"]);
    conn.send_command(&["SHUTDOWN", "NOSAVE"]);
    conn.assert_closed();
    assert_eventually(SAVE_TIMEOUT, "the node to exit", || {
        node.exit_status().is_some()
    });
    node.restart();
    let mut conn = node.raw();
    assert_eq!(request(&mut conn, &["GET", "saved"]), Reply::bulk("1"));
    assert_eq!(request(&mut conn, &["GET", "not-saved"]), Reply::Bulk(None));
}

#[test]
fn a_save_rule_saves_in_the_background() {
    let mut node = SlotgateNode::start_with(&["--save", "1 2"]);
    let mut conn = node.raw();
    cmd(&mut conn, &["SET", "a", "1"]);
    cmd(&mut conn, &["SET", "b", "2"]);
    wait_saved(&mut conn);
    assert_eq!(
        info_field(&mut conn, "rdb_saves").as_deref(),
        Some("1"),
        "one background save"
    );
    node.kill();
    node.restart();
    assert_eq!(
        request(&mut node.raw(), &["MGET", "a", "b"]),
        Reply::bulks(["1", "2"])
    );
}

#[test]
fn debug_reload_saves_and_loads_back() {
    let node = SlotgateNode::start_with(&["--enable-debug-command", "yes"]);
    let mut conn = node.raw();
    fill(&mut conn);
    let expected = dataset(&mut conn);
    assert_eq!(
        request(&mut conn, &["DEBUG", "RELOAD"]),
        Reply::Simple("OK".into())
    );
    assert_same_dataset(&dataset(&mut conn), &expected);
}

#[test]
fn flushall_saves_the_empty_dataset() {
    let mut node = SlotgateNode::start();
    let mut conn = node.raw();
    cmd(&mut conn, &["SET", "k", "v"]);
    assert_eq!(request(&mut conn, &["SAVE"]), Reply::Simple("OK".into()));
    cmd(&mut conn, &["FLUSHALL"]);
    node.kill();
    node.restart();
    assert_eq!(request(&mut node.raw(), &["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn flushall_in_a_script_does_not_wait_on_the_script() {
    let node = SlotgateNode::start();
    let mut conn = node.raw();
    cmd(&mut conn, &["SET", "k", "v"]);
    assert_eq!(
        request(&mut conn, &["EVAL", "return redis.call('FLUSHALL')", "0"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(request(&mut conn, &["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn sigterm_saves_when_rules_are_set() {
    let mut node = SlotgateNode::start();
    let mut conn = node.raw();
    cmd(&mut conn, &["SET", "saved-on-sigterm", "1"]);
    let pid = node.pid().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert_eventually(SAVE_TIMEOUT, "the node to exit", || {
        node.exit_status().is_some()
    });
    node.restart();
    assert_eq!(
        request(&mut node.raw(), &["GET", "saved-on-sigterm"]),
        Reply::bulk("1")
    );
}

#[test]
fn info_persistence_names_the_fields_redis_does() {
    let node = SlotgateNode::start();
    let redis = RedisNode::standalone();
    let names = |conn: &mut RawConn| -> Vec<String> {
        let info = request(conn, &["INFO", "persistence"]);
        let text = match &info {
            Reply::Bulk(Some(b)) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("INFO answered {other:?}"),
        };
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    assert_eq!(names(&mut node.raw()), names(&mut redis.raw()));
}

#[test]
fn save_and_bgsave_answer_as_redis_does() {
    let node = SlotgateNode::start();
    let redis = RedisNode::standalone();
    for args in [
        &["BGSAVE", "now"][..],
        &["BGSAVE", "SCHEDULE", "x"],
        &["SAVE", "x"],
        &["LASTSAVE", "x"],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
    ] {
        assert_eq!(
            request(&mut node.raw(), args),
            request(&mut redis.raw(), args),
            "{args:?}"
        );
    }
    // In a transaction, BGSAVE is scheduled rather than started.
    let mut conn = node.raw();
    cmd(&mut conn, &["MULTI"]);
    request(&mut conn, &["BGSAVE"]);
    assert_eq!(
        request(&mut conn, &["EXEC"]),
        Reply::Array(Some(vec![Reply::Simple(
            "Background saving scheduled".into()
        )]))
    );
    assert_eventually(SAVE_TIMEOUT, "the scheduled save", || {
        info_field(&mut conn, "rdb_saves").as_deref() == Some("1")
            && info_field(&mut conn, "rdb_bgsave_in_progress").as_deref() == Some("0")
    });
}

#[test]
fn a_bad_file_stops_the_start_with_a_clear_error() {
    let source = SlotgateNode::start();
    let mut conn = source.raw();
    fill(&mut conn);
    assert_eq!(request(&mut conn, &["SAVE"]), Reply::Simple("OK".into()));
    let good = std::fs::read(source.dir().join("dump.rdb")).expect("read dump.rdb");

    let mut bad_checksum = good.clone();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] ^= 0xff;
    let mut bad_version = good.clone();
    bad_version[5..9].copy_from_slice(b"0011");
    for (what, bytes, says) in [
        ("truncated", good[..good.len() / 2].to_vec(), "Short read"),
        ("checksum", bad_checksum, "Wrong RDB checksum"),
        ("version", bad_version, "Can't handle RDB format version 11"),
        ("not rdb", b"hello world".to_vec(), "Wrong signature"),
    ] {
        let dir = TempDir::new(what);
        std::fs::write(dir.path().join("dump.rdb"), bytes).expect("write dump.rdb");
        let (status, log) = run_node_to_exit(dir.path(), &[], EXIT_TIMEOUT);
        assert!(!status.success(), "{what}: exited with {status}");
        assert!(log.contains(says), "{what}: log says:\n{log}");
        assert!(!log.contains("panicked"), "{what}: log says:\n{log}");
    }
}
