//! `slotgate node`: stream commands, compared byte for byte with redis-server (with explicit
//! IDs: auto IDs depend on the clock), consumer group flows, and blocking reads across real
//! connections. Replies that hold times (idle, delivery and seen times) and Redis's radix tree
//! node count are compared with those values masked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::harness::{Differential, RawConn, Reply, SlotgateNode};

#[test]
fn stream_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["XADD", "s", "1-1", "f", "v", "a", "b"],
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "0-0", "f", "v"],
        &["XADD", "nope", "0-0", "f", "v"],
        &["XADD", "s", "1-*", "f", "v"],
        &["XADD", "s", "5-*", "f", "v"],
        &["XADD", "s", "5-*", "g", "w"],
        &["XADD", "s", "6", "f", "v"],
        &["XADD", "s", "bad", "f", "v"],
        &["XADD", "s", "1", "f"],
        &["XADD", "s", "7-1", "f", "v", "extra"],
        &["XADD", "s", "-", "f", "v"],
        &["XADD", "s", "+", "f", "v"],
        &["XADD", "s", "(8", "f", "v"],
        &["XADD", "s", "MAXLEN", "-1", "9-1", "f", "v"],
        &["XADD", "s", "MAXLEN", "x", "9-1", "f", "v"],
        &["XADD", "s", "MAXLEN", "10", "LIMIT", "5", "9-1", "f", "v"],
        &[
            "XADD", "s", "MAXLEN", "~", "10", "LIMIT", "-1", "9-1", "f", "v",
        ],
        &["XADD", "s", "MINID", "5", "MAXLEN", "5", "9-1", "f", "v"],
        &["XADD", "s", "MINID", "bad", "9-1", "f", "v"],
        &["XADD", "s", "LIMIT", "5", "9-1", "f", "v"],
        &["XADD", "s", "LIMIT", "0", "9-1", "f", "v"],
        &["XADD", "s", "MAXLEN", "=", "4", "10-1", "f", "v"],
        &[
            "XADD", "s", "MAXLEN", "~", "2", "LIMIT", "100", "11-1", "f", "v",
        ],
        &["XADD", "s", "MINID", "=", "9", "12-1", "f", "v"],
        &["XADD", "nope", "NOMKSTREAM", "1-1", "f", "v"],
        &["XADD", "nope", "NOMKSTREAM", "*", "f", "v"],
        &["EXISTS", "nope"],
        &["SET", "str", "x"],
        &["XADD", "str", "1-1", "f", "v"],
        &["XADD", "str", "NOMKSTREAM", "1-1", "f", "v"],
        &[
            "XADD",
            "m",
            "18446744073709551615-18446744073709551615",
            "f",
            "v",
        ],
        &["XADD", "m", "*", "f", "v"],
        &["XADD", "m", "18446744073709551615-*", "f", "v"],
        &["XADD", "m2", "18446744073709551615-*", "f", "v"],
        &["XADD", "m2", "18446744073709551615-*", "f", "v"],
        &["TYPE", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["XLEN", "s"],
        &["XLEN", "nope"],
        &["XLEN", "str"],
        &["XRANGE", "s", "-", "+"],
        &["XRANGE", "s", "-", "+", "COUNT", "2"],
        &["XRANGE", "s", "-", "+", "COUNT", "0"],
        &["XRANGE", "s", "-", "+", "COUNT", "-1"],
        &["XRANGE", "s", "-", "+", "COUNT"],
        &["XRANGE", "s", "-", "+", "COUNT", "x"],
        &["XRANGE", "s", "-", "+", "FOO", "1"],
        &["XRANGE", "s", "(10-1", "+"],
        &["XRANGE", "s", "10", "(12-1"],
        &["XRANGE", "s", "11", "11"],
        &["XRANGE", "s", "(", "+"],
        &["XRANGE", "s", "(-", "+"],
        &["XRANGE", "s", "-", "(0-0"],
        &[
            "XRANGE",
            "s",
            "(18446744073709551615-18446744073709551615",
            "+",
        ],
        &["XRANGE", "s", "+", "-"],
        &["XRANGE", "s", "bad", "+"],
        &["XRANGE", "nope", "-", "+"],
        &["XRANGE", "nope", "-", "+", "COUNT", "0"],
        &["XRANGE", "str", "-", "+"],
        &["XREVRANGE", "s", "+", "-"],
        &["XREVRANGE", "s", "+", "-", "COUNT", "1"],
        &["XREVRANGE", "s", "(12-1", "(10-1"],
        &["XREVRANGE", "s", "-", "+"],
        &["XDEL", "s", "11-1", "99-1"],
        &["XDEL", "s", "bad"],
        &["XDEL", "nope", "bad"],
        &["XDEL", "str", "1-1"],
        &["XDEL", "s", "11-1"],
        &["XTRIM", "s"],
        &["XTRIM", "s", "FOO", "1"],
        &["XTRIM", "s", "MAXLEN"],
        &["XTRIM", "s", "LIMIT", "1"],
        &["XTRIM", "s", "NOMKSTREAM", "MAXLEN", "1"],
        &["XTRIM", "s", "MAXLEN", "1", "LIMIT", "1"],
        &["XTRIM", "nope", "MAXLEN", "1"],
        &["XTRIM", "str", "MAXLEN", "1"],
        &["XTRIM", "s", "MAXLEN", "~", "0"],
        &["XTRIM", "s", "MINID", "12-1"],
        &["XRANGE", "s", "-", "+"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XLEN", "s"],
        &["EXISTS", "s"],
        &["XSETID", "s", "bad"],
        &["XSETID", "nope", "1-1"],
        &["XSETID", "str", "1-1"],
        &["XSETID", "s", "1-1"],
        &["XSETID", "s", "100-1", "ENTRIESADDED", "-1"],
        &["XSETID", "s", "100-1", "ENTRIESADDED", "x"],
        &["XSETID", "s", "100-1", "MAXDELETEDID", "200-1"],
        &["XSETID", "s", "100-1", "MAXDELETEDID", "bad"],
        &["XSETID", "s", "100-1", "FOO"],
        &[
            "XSETID",
            "s",
            "100-1",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "90-1",
        ],
        &["XADD", "s", "100-1", "f", "v"],
        &["XADD", "s", "100-2", "f", "v"],
        &["XSETID", "s", "100-1"],
        &["XSETID", "s", "100-3", "ENTRIESADDED", "0"],
        &["XSETID", "s", "100-3"],
        &["XADD", "s", "100-*", "f", "v"],
        &["DUMP", "nope"],
    ]);
    for key in ["s", "m", "m2"] {
        check_masked(&mut d, &["XINFO", "STREAM", key]);
    }
}

#[test]
fn reads_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["XADD", "a", "1-1", "f", "v"],
        &["XADD", "a", "2-1", "f", "w", "g", "x"],
        &["XADD", "b", "3-1", "k", "1"],
        &["SET", "str", "x"],
        &["XREAD", "STREAMS", "a", "b", "0", "0"],
        &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
        &["XREAD", "COUNT", "-5", "STREAMS", "a", "0"],
        &["XREAD", "STREAMS", "a", "b", "1-1", "$"],
        &["XREAD", "STREAMS", "a", "b", "$", "$"],
        &["XREAD", "STREAMS", "a", "nope", "0", "0"],
        &["XREAD", "STREAMS", "nope", "0"],
        &["XREAD", "STREAMS", "a", "str", "0", "0"],
        &["XREAD", "STREAMS", "a", "b", "0"],
        &["XREAD", "STREAMS", "a", ">"],
        &["XREAD", "STREAMS", "a", "bad"],
        &["XREAD", "STREAMS", "a", "-"],
        &["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"],
        &["XREAD", "NOACK", "STREAMS", "a", "0"],
        &["XREAD", "FOO", "STREAMS", "a", "0"],
        &["XREAD", "COUNT", "x", "STREAMS", "a", "0"],
        &["XREAD", "BLOCK", "x", "STREAMS", "a", "0"],
        &["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"],
        &["XREAD", "BLOCK", "1.5", "STREAMS", "a", "0"],
        &["XREAD", "BLOCK", "10", "STREAMS", "a", "0"],
        &["XREAD", "COUNT", "1", "a", "0"],
        &["MULTI"],
        &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
        &["EXEC"],
    ]);
    d.both(&["HELLO", "3"]);
    d.check_all(&[
        &["XREAD", "STREAMS", "a", "b", "0", "0"],
        &["XREAD", "STREAMS", "a", "$"],
        &["XRANGE", "a", "-", "+"],
    ]);
}

#[test]
fn consumer_groups_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "str", "x"],
        &["XGROUP", "CREATE", "s", "g", "$"],
        &["XGROUP", "CREATE", "str", "g", "$"],
        &["XGROUP", "CREATE", "s", "g", "$", "FOO"],
        &[
            "XGROUP",
            "CREATE",
            "s",
            "g",
            "$",
            "ENTRIESREAD",
            "-2",
            "MKSTREAM",
        ],
        &["XGROUP", "CREATE", "s", "g", "$", "ENTRIESREAD", "x"],
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATE", "s", "g2", "-"],
        &["XGROUP", "CREATE", "s", "g2", "bad"],
        &[
            "XGROUP", "CREATE", "s", "g2", "0", "MKSTREAM", "MKSTREAM", "MKSTREAM", "MKSTREAM",
        ],
        &["XGROUP", "SETID", "s", "nog", "0"],
        &["XGROUP", "SETID", "nope", "g", "0"],
        &["XGROUP", "SETID", "s", "g", "bad"],
        &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-5"],
        &["XGROUP", "SETID", "s", "g", "0", "FOO", "1"],
        &["XGROUP", "CREATECONSUMER", "s", "nog", "c"],
        &["XGROUP", "DELCONSUMER", "s", "nog", "c"],
        &["XGROUP", "DESTROY", "nope", "g"],
        &["XGROUP", "DESTROY", "s", "nog"],
        &["XGROUP", "FOO", "s", "g"],
        &["EXISTS", "s"],
        &["XADD", "s", "1-1", "f", "1"],
        &["XADD", "s", "2-1", "f", "2"],
        &["XADD", "s", "3-1", "f", "3"],
        &["XADD", "s", "4-1", "f", "4"],
        &["XGROUP", "CREATE", "s", "g0", "0"],
        &["XGROUP", "CREATE", "s", "late", "$"],
        &["XGROUP", "CREATE", "s", "er", "0", "ENTRIESREAD", "2"],
        &["XINFO", "GROUPS", "s"],
        &["XREADGROUP", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g0", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "s", "bad"],
        &["XREADGROUP", "GROUP", "nog", "c1", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "nope", ">"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "str", ">"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "s"],
        &[
            "XREADGROUP",
            "GROUP",
            "g0",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g0",
            "c2",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g0",
            "c3",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g0", "c3", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g0", "c1", "STREAMS", "s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g0",
            "c1",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            "1-1",
        ],
        &["XREADGROUP", "GROUP", "g0", "c9", "STREAMS", "s", "0"],
        &["XINFO", "GROUPS", "s"],
        &["XPENDING", "s", "g0"],
        &["XPENDING", "s", "late"],
        &["XPENDING", "s", "nog"],
        &["XPENDING", "nope", "g0"],
        &["XPENDING", "str", "g0"],
        &["XPENDING", "s", "g0", "-"],
        &["XPENDING", "s", "g0", "-", "+"],
        &["XPENDING", "s", "g0", "-", "+", "x"],
        &["XPENDING", "s", "g0", "IDLE", "x", "-", "+", "10"],
        &["XPENDING", "s", "g0", "IDLE", "10", "-", "+"],
        &["XPENDING", "s", "g0", "bad", "+", "10"],
        &[
            "XPENDING",
            "s",
            "g0",
            "(18446744073709551615-18446744073709551615",
            "+",
            "10",
        ],
        &["XPENDING", "s", "g0", "-", "+", "10", "nobody"],
        &["XPENDING", "s", "g0", "-", "+", "0"],
        &["XPENDING", "s", "g0", "IDLE", "100000", "-", "+", "10"],
        &["XACK", "nope", "g0", "bad"],
        &["XACK", "s", "nog", "bad"],
        &["XACK", "str", "g0", "1-1"],
        &["XACK", "s", "g0", "bad"],
        &["XACK", "s", "g0", "1-1", "1-1", "9-9"],
        &["XPENDING", "s", "g0"],
        &["XCLAIM", "nope", "g0", "c", "0", "2-1"],
        &["XCLAIM", "s", "nog", "c", "0", "2-1"],
        &["XCLAIM", "s", "g0", "c", "x", "2-1"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "IDLE", "x"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "TIME", "x"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "RETRYCOUNT", "x"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "LASTID", "bad"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "FOO"],
        &["XCLAIM", "s", "g0", "c", "0", "2-1", "JUSTID", "3-1"],
        &["XCLAIM", "s", "g0", "c", "100000", "2-1"],
        &["XCLAIM", "s", "g0", "c4", "0", "2-1", "JUSTID"],
        &[
            "XCLAIM",
            "s",
            "g0",
            "c4",
            "0",
            "2-1",
            "3-1",
            "RETRYCOUNT",
            "7",
        ],
        &["XCLAIM", "s", "g0", "c4", "0", "4-1", "FORCE", "JUSTID"],
        &["XCLAIM", "s", "g0", "c4", "0", "9-9", "FORCE"],
        &["XCLAIM", "s", "g0", "c5", "0", "1-1", "LASTID", "50-1"],
        &["XINFO", "GROUPS", "s"],
        &["XPENDING", "s", "g0"],
        &["XDEL", "s", "3-1"],
        &["XAUTOCLAIM", "s", "g0", "c6", "x", "0"],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "bad"],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "0", "COUNT", "0"],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "0", "COUNT", "x"],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "0", "FOO"],
        &["XAUTOCLAIM", "nope", "g0", "c6", "0", "0"],
        &["XAUTOCLAIM", "s", "nog", "c6", "0", "0"],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "0", "COUNT", "1"],
        &[
            "XAUTOCLAIM",
            "s",
            "g0",
            "c6",
            "0",
            "0",
            "COUNT",
            "1",
            "JUSTID",
        ],
        &["XAUTOCLAIM", "s", "g0", "c6", "0", "(2-1"],
        &["XAUTOCLAIM", "s", "g0", "c6", "100000", "0"],
        &["XPENDING", "s", "g0"],
        &["XINFO", "GROUPS", "s"],
        &["XGROUP", "CREATECONSUMER", "s", "g0", "c6"],
        &["XGROUP", "CREATECONSUMER", "s", "g0", "fresh"],
        &["XGROUP", "DELCONSUMER", "s", "g0", "c6"],
        &["XGROUP", "DELCONSUMER", "s", "g0", "nobody"],
        &["XPENDING", "s", "g0"],
        &["XGROUP", "SETID", "s", "g0", "$"],
        &["XGROUP", "SETID", "s", "er", "1-1", "ENTRIESREAD", "1"],
        &["XGROUP", "SETID", "s", "late", "+"],
        &["XINFO", "GROUPS", "s"],
        &["XINFO", "CONSUMERS", "s", "nog"],
        &["XINFO", "CONSUMERS", "nope", "g0"],
        &["XINFO", "CONSUMERS", "str", "g0"],
        &["XINFO", "GROUPS", "nope"],
        &["XINFO", "STREAM", "s", "FOO"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "x"],
        &["XINFO", "FOO", "s"],
        &["XINFO", "HELP"],
        &["XGROUP", "HELP"],
        &["XINFO", "HELP", "extra"],
        &["XGROUP", "HELP", "extra"],
        &["XGROUP", "DESTROY", "s", "g0"],
        &["XGROUP", "DESTROY", "s", "g0"],
        &["XINFO", "GROUPS", "s"],
    ]);
    check_masked(&mut d, &["XINFO", "CONSUMERS", "s", "er"]);
    check_masked(&mut d, &["XINFO", "STREAM", "s"]);
    check_masked(&mut d, &["XINFO", "STREAM", "s", "FULL"]);
    check_masked(&mut d, &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"]);
    check_masked_rows(&mut d, &["XPENDING", "s", "g0", "-", "+", "10"]);
    check_masked_rows(&mut d, &["XPENDING", "s", "g0", "-", "+", "10", "c4"]);
    check_masked_rows(&mut d, &["XPENDING", "s", "late", "-", "+", "10"]);
}

#[test]
fn streams_are_a_type_of_their_own() {
    let mut d = Differential::start();
    d.check_all(&[
        &["XADD", "s", "1-1", "f", "v"],
        &["TYPE", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["SCAN", "0", "TYPE", "stream"],
        &["SCAN", "0", "TYPE", "string"],
        &["GET", "s"],
        &["LPUSH", "s", "x"],
        &["HGET", "s", "f"],
        &["SORT", "s"],
        &["RENAME", "s", "s2"],
        &["COPY", "s2", "s3"],
        &["XRANGE", "s3", "-", "+"],
        &["EXPIRE", "s3", "100"],
        &["TTL", "s3"],
        &["SADD", "set", "a"],
        &["XADD", "set", "1-1", "f", "v"],
        &["XRANGE", "set", "-", "+"],
        &["XREVRANGE", "set", "+", "-"],
        &["XREAD", "STREAMS", "set", "0"],
        &["XINFO", "STREAM", "set"],
        &["XINFO", "GROUPS", "set"],
        &["XGROUP", "DESTROY", "set", "g"],
        &["XACK", "set", "g", "1-1"],
        &["XPENDING", "set", "g"],
        &["XCLAIM", "set", "g", "c", "0", "1-1"],
        &["XAUTOCLAIM", "set", "g", "c", "0", "0"],
        &["XTRIM", "set", "MAXLEN", "0"],
        &["XSETID", "set", "1-1"],
        &["XDEL", "set", "1-1"],
    ]);
}

/// `DUMP` payloads (RDB type 19) cross both ways: Redis loads ours and we load Redis's, with
/// entries, counters, groups, pending entries and consumers intact.
#[test]
fn dump_payloads_cross_between_redis_and_us() {
    let mut d = Differential::start();
    d.check(&["CONFIG", "SET", "stream-node-max-entries", "3"]);
    for i in 1..=10 {
        let id = format!("{i}-1");
        let value = format!("v{i}");
        if i % 3 == 0 {
            d.check(&["XADD", "s", &id, "other", &value]);
        } else {
            d.check(&["XADD", "s", &id, "f", &value, "g", "w"]);
        }
    }
    d.check_all(&[
        &["XADD", "s", "20-18446744073709551615", "f", "big"],
        &["XDEL", "s", "2-1", "7-1"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XGROUP", "CREATECONSUMER", "s", "g", "carol"],
        &["XGROUP", "CREATE", "s", "later", "$", "ENTRIESREAD", "4"],
        &["XGROUP", "CREATE", "s", "unknown", "5-1"],
        &["XSETID", "s", "30-1", "MAXDELETEDID", "25-1"],
    ]);
    let payload = |raw: &[u8]| {
        Reply::parse(raw)
            .and_then(|(r, _)| r.as_bytes().map(<[u8]>::to_vec))
            .expect("DUMP answers a payload")
    };
    let (ours, theirs) = d.both(&["DUMP", "s"]);
    let (ours, theirs) = (payload(&ours), payload(&theirs));
    for (conn, from_redis, from_us) in [
        (&mut d.ours_conn, &theirs, &ours),
        (&mut d.redis_conn, &theirs, &ours),
    ] {
        let restore = |conn: &mut RawConn, key: &str, p: &[u8]| {
            conn.request_raw(&[b"RESTORE".as_slice(), key.as_bytes(), b"0", p])
        };
        assert_eq!(restore(conn, "from-redis", from_redis), b"+OK\r\n");
        assert_eq!(restore(conn, "from-us", from_us), b"+OK\r\n");
    }
    for key in ["s", "from-redis", "from-us"] {
        d.check(&["XRANGE", key, "-", "+"]);
        d.check(&["XINFO", "GROUPS", key]);
        d.check(&["XPENDING", key, "g"]);
        check_masked(&mut d, &["XINFO", "STREAM", key, "FULL"]);
        // The restored stream goes on as the original would.
        d.check(&["XADD", key, "40-1", "f", "v"]);
        d.check(&["XTRIM", key, "MAXLEN", "~", "2"]);
        d.check(&["XRANGE", key, "-", "+"]);
    }
    // Malformed stream bodies with a valid footer are refused, never loaded or panicked on.
    for body in [
        &[19u8, 1][..],
        &[19, 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..],
        &[19, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0][..],
    ] {
        let mut payload = body.to_vec();
        payload.extend_from_slice(&10u16.to_le_bytes());
        let crc = slotgate::node::rdb::crc64::crc64(0, &payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            d.ours_conn
                .request_raw(&[b"RESTORE".as_slice(), b"bad", b"0", &payload]),
            b"-ERR Bad data format\r\n"
        );
    }
}

#[test]
fn blocked_readers_are_served_in_resp3_like_redis() {
    same_blocking_behaviour(|addr| {
        let mut reader = RawConn::connect(addr);
        let mut group_reader = RawConn::connect(addr);
        let mut writer = RawConn::connect(addr);
        reader.request_raw(&["HELLO", "3"]);
        group_reader.request_raw(&["HELLO", "3"]);
        let mut out = vec![writer.request_raw(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])];
        reader.send_command(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut writer, 1);
        group_reader.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 2);
        out.push(writer.request_raw(&["XADD", "s", "1-1", "f", "v"]));
        out.push(reader.read_raw_reply());
        out.push(group_reader.read_raw_reply());
        out
    });
}

#[test]
fn history_and_claims_of_deleted_entries_match_redis() {
    let mut d = Differential::start();
    for i in 1..=30 {
        d.check(&["XADD", "s", &format!("{i}-1"), "f", "v"]);
    }
    d.check_all(&[
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "5",
            "STREAMS",
            "s",
            ">",
        ],
        &["XDEL", "s", "2-1", "4-1"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            "2",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "NOACK",
            "STREAMS",
            "s",
            "0",
        ],
        &["XCLAIM", "s", "g", "d", "0", "2-1", "3-1", "4-1"],
        &["XPENDING", "s", "g"],
        &["XREAD", "COUNT", "0", "STREAMS", "s", "25"],
        &["XTRIM", "s", "MINID", "~", "15"],
        &["XTRIM", "s", "MINID", "=", "15"],
        &["XSETID", "s", "99999999999999-1"],
        &["XADD", "s", "*", "a", "b"],
        &["XSETID", "s", "5-5"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XSETID", "s", "5-5"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "d"],
        &["XINFO", "GROUPS", "s"],
    ]);
    check_masked(&mut d, &["XINFO", "STREAM", "s", "FULL", "COUNT", "2"]);
    check_masked(&mut d, &["XINFO", "STREAM", "s"]);
}

/// Which stream commands count as changing the key for `WATCH`: as in Redis, entries added
/// or removed do; consumer group bookkeeping does not.
#[test]
fn watch_sees_the_changes_redis_signals() {
    let mut d = Differential::start();
    for i in 1..=5 {
        d.check(&["XADD", "s", &format!("{i}-1"), "f", "v"]);
    }
    d.check_all(&[
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    ]);
    let commands: &[&[&str]] = &[
        &["XTRIM", "s", "MAXLEN", "100"],
        &["XDEL", "s", "99-1"],
        &["XACK", "s", "g", "1-1"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"],
        &["XCLAIM", "s", "g", "d", "0", "2-1", "JUSTID"],
        &["XAUTOCLAIM", "s", "g", "e", "0", "0", "JUSTID"],
        &["XGROUP", "CREATE", "s", "g2", "0"],
        &["XGROUP", "SETID", "s", "g2", "0"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "z"],
        &["XGROUP", "DELCONSUMER", "s", "g", "z"],
        &["XGROUP", "DESTROY", "s", "g2"],
        &["XSETID", "s", "50-1"],
        &["XTRIM", "s", "MAXLEN", "4"],
        &["XDEL", "s", "5-1"],
        &["XADD", "s", "NOMKSTREAM", "MAXLEN", "0", "60-1", "f", "v"],
        &["XGROUP", "CREATE", "fresh", "g", "$", "MKSTREAM"],
    ];
    for command in commands {
        let key = if command.contains(&"fresh") {
            "fresh"
        } else {
            "s"
        };
        d.check_all(&[&["WATCH", key], command, &["MULTI"], &["PING"], &["EXEC"]]);
    }
}

/// Chunks split where Redis's listpack nodes split, by entry count or by
/// `stream-node-max-bytes` (measured as Redis's listpack would weigh the entries), so that
/// approximate trimming removes the same entries.
#[test]
fn chunks_split_where_redis_nodes_split() {
    let mut d = Differential::start();
    let big = "x".repeat(1000);
    let mid = "y".repeat(300);
    let digits = "123456789".repeat(3);
    for max_entries in ["0", "100", "7"] {
        d.check(&["FLUSHALL"]);
        d.check(&["CONFIG", "SET", "stream-node-max-entries", max_entries]);
        for i in 1..=400u64 {
            let n = i.to_string();
            let g = (i % 3).to_string();
            d.check(&["XADD", "s", &format!("{i}-1"), "f", "v"]);
            d.check(&[
                "XADD",
                "t",
                &format!("{}-{i}", i * 1000),
                "f",
                &n,
                "g",
                "77",
            ]);
            d.check(&["XADD", "a", &format!("{i}-1"), "f", &big]);
            d.check(&[
                "XADD",
                "b",
                &format!("{i}-1"),
                &format!("field{g}"),
                &mid,
                "g",
                &n,
            ]);
            d.check(&[
                "XADD",
                "c",
                &format!("{i}-1"),
                "f",
                &digits,
                "n",
                &(i * 1000).to_string(),
            ]);
            d.check(&["XADD", "e", &format!("{i}-{}", i * 7), "f", "12", "g", "-5"]);
        }
        for key in ["s", "t", "a", "b", "c", "e"] {
            check_masked(&mut d, &["XINFO", "STREAM", key]);
            d.check(&["XTRIM", key, "MAXLEN", "~", "150"]);
            d.check(&["XADD", key, "MAXLEN", "~", "20", "900000000-1", "f", "v"]);
            d.check(&["XLEN", key]);
            d.check(&["XRANGE", key, "-", "+", "COUNT", "1"]);
        }
    }
    d.check(&["CONFIG", "SET", "stream-node-max-entries", "100"]);
}

/// Read counters and lag through adds, deletes, trims and `SETID`, as 7.0 keeps them.
#[test]
fn lag_bookkeeping_matches_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["XINFO", "GROUPS", "s"],
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "2-1", "f", "v"],
        &["XADD", "s", "3-1", "f", "v"],
        &["XGROUP", "CREATE", "s", "mid", "2-1"],
        &["XGROUP", "CREATE", "s", "zero", "0"],
        &["XINFO", "GROUPS", "s"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XINFO", "GROUPS", "s"],
        &["XDEL", "s", "2-1"],
        &["XINFO", "GROUPS", "s"],
        &[
            "XREADGROUP",
            "GROUP",
            "zero",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "mid", "c", "STREAMS", "s", ">"],
        &["XINFO", "GROUPS", "s"],
        &["XADD", "s", "4-1", "f", "v"],
        &["XINFO", "GROUPS", "s"],
        &["XDEL", "s", "1-1"],
        &["XINFO", "GROUPS", "s"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XINFO", "GROUPS", "s"],
        &["XADD", "s", "5-1", "f", "v"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["XINFO", "GROUPS", "s"],
        &[
            "XSETID",
            "s",
            "9-1",
            "ENTRIESADDED",
            "20",
            "MAXDELETEDID",
            "8-1",
        ],
        &["XINFO", "GROUPS", "s"],
        &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "3"],
        &["XINFO", "GROUPS", "s"],
        // Told it read more than was ever added: a negative lag, as 7.0 reports it.
        &[
            "XGROUP",
            "CREATE",
            "n",
            "g",
            "$",
            "ENTRIESREAD",
            "5",
            "MKSTREAM",
        ],
        &["XADD", "n", "1-1", "f", "v"],
        &["XINFO", "GROUPS", "n"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "n", ">"],
        &["XINFO", "GROUPS", "n"],
    ]);
    check_masked(&mut d, &["XINFO", "STREAM", "s"]);
}

#[test]
fn auto_ids_grow_with_the_clock() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    let before = unix_ms();
    let mut last = (0u64, 0u64);
    for _ in 0..50 {
        let id = bulk_text(&c.request(&["XADD", "s", "*", "f", "v"]));
        let (ms, seq) = split_id(&id);
        assert!((ms, seq) > last, "{id} after {last:?}");
        assert!(ms >= before && ms <= unix_ms(), "{id} is not now");
        last = (ms, seq);
    }
    // A partial ID takes the next sequence in its millisecond, or 0 in a later one.
    let next = format!("{}-*", last.0);
    assert_eq!(
        bulk_text(&c.request(&["XADD", "s", &next, "f", "v"])),
        format!("{}-{}", last.0, last.1 + 1)
    );
    let later = format!("{}-*", last.0 + 1000);
    assert_eq!(
        bulk_text(&c.request(&["XADD", "s", &later, "f", "v"])),
        format!("{}-0", last.0 + 1000)
    );
    // The clock is behind the last ID now: `*` keeps counting in its millisecond.
    assert_eq!(
        bulk_text(&c.request(&["XADD", "s", "*", "f", "v"])),
        format!("{}-1", last.0 + 1000)
    );
    assert_eq!(
        c.request_raw(&["XLEN", "s"]),
        format!(":{}\r\n", 53).into_bytes()
    );
}

// ---- blocking ----

/// Runs `scenario` against our node and redis-server and requires the same replies.
fn same_blocking_behaviour(scenario: fn(SocketAddr) -> Vec<Vec<u8>>) {
    let d = Differential::start();
    let ours = scenario(d.ours.addr());
    let theirs = scenario(d.redis.addr());
    let show = |v: &[Vec<u8>]| {
        v.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&ours), show(&theirs));
}

#[test]
fn xread_is_woken_by_xadd_with_dollar_resolved_when_blocking() {
    same_blocking_behaviour(|addr| {
        let mut first = RawConn::connect(addr);
        let mut second = RawConn::connect(addr);
        let mut writer = RawConn::connect(addr);
        let mut out = vec![writer.request_raw(&["XADD", "s", "1-1", "old", "x"])];
        first.send_command(&["XREAD", "BLOCK", "0", "STREAMS", "s", "other", "$", "$"]);
        wait_blocked(&mut writer, 1);
        second.send_command(&["XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "s", "$"]);
        wait_blocked(&mut writer, 2);
        out.push(writer.request_raw(&["XADD", "s", "2-1", "new", "y"]));
        out.push(first.read_raw_reply());
        out.push(second.read_raw_reply());
        // Woken by a key it waits on other than the first.
        first.send_command(&["XREAD", "BLOCK", "0", "STREAMS", "s", "other", "$", "0"]);
        wait_blocked(&mut writer, 1);
        out.push(writer.request_raw(&["SET", "unrelated", "x"]));
        out.push(writer.request_raw(&["XADD", "other", "5-1", "k", "v"]));
        out.push(first.read_raw_reply());
        out
    });
}

#[test]
fn xread_times_out_with_a_null_array() {
    same_blocking_behaviour(|addr| {
        let mut c = RawConn::connect(addr);
        let started = Instant::now();
        let mut out = vec![c.request_raw(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"])];
        assert!(started.elapsed() >= Duration::from_millis(50));
        c.request_raw(&["HELLO", "3"]);
        out.push(c.request_raw(&["XREAD", "BLOCK", "20", "STREAMS", "s", "0"]));
        out.push(c.request_raw(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "20",
            "STREAMS",
            "s",
            ">",
        ]));
        out
    });
}

#[test]
fn xreadgroup_waiters_are_served_in_arrival_order() {
    same_blocking_behaviour(|addr| {
        let mut first = RawConn::connect(addr);
        let mut second = RawConn::connect(addr);
        let mut writer = RawConn::connect(addr);
        let mut out = vec![writer.request_raw(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])];
        first.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 1);
        second.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 2);
        out.push(writer.request_raw(&["XADD", "s", "1-1", "f", "1"]));
        out.push(first.read_raw_reply());
        out.push(writer.request_raw(&["XADD", "s", "2-1", "f", "2"]));
        out.push(second.read_raw_reply());
        out.push(writer.request_raw(&["XPENDING", "s", "g"]));
        out.push(writer.request_raw(&["XINFO", "GROUPS", "s"]));
        out
    });
}

#[test]
fn xreadgroup_waiters_learn_their_stream_or_group_went_away() {
    same_blocking_behaviour(|addr| {
        let mut reader = RawConn::connect(addr);
        let mut writer = RawConn::connect(addr);
        let mut out = vec![writer.request_raw(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])];
        reader.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 1);
        out.push(writer.request_raw(&["DEL", "s"]));
        out.push(reader.read_raw_reply());
        out.push(writer.request_raw(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]));
        reader.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 1);
        out.push(writer.request_raw(&["XGROUP", "DESTROY", "s", "g"]));
        out.push(reader.read_raw_reply());
        out.push(writer.request_raw(&["XGROUP", "CREATE", "s", "g", "$"]));
        reader.send_command(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        wait_blocked(&mut writer, 1);
        out.push(writer.request_raw(&["SET", "s", "now a string"]));
        out.push(reader.read_raw_reply());
        // A plain XREAD keeps waiting when its stream is replaced.
        out.push(writer.request_raw(&["DEL", "s"]));
        reader.send_command(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&mut writer, 1);
        out.push(writer.request_raw(&["SET", "s", "x"]));
        out.push(writer.request_raw(&["DEL", "s"]));
        out.push(writer.request_raw(&["XADD", "s", "1-1", "f", "v"]));
        out.push(reader.read_raw_reply());
        out
    });
}

// ---- randomized ----

fn stream_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b"]).prop_map(str::to_string);
    let id = (1u64..40, 0u64..3).prop_map(|(ms, seq)| format!("{ms}-{seq}"));
    let bound = prop_oneof![
        Just("-".to_string()),
        Just("+".to_string()),
        (1u64..40).prop_map(|ms| ms.to_string()),
        (1u64..40, 0u64..3).prop_map(|(ms, seq)| format!("({ms}-{seq}")),
    ];
    let field = prop::sample::select(vec!["f", "g", "h"]).prop_map(str::to_string);
    let approx = prop::sample::select(vec!["=", "~"]).prop_map(str::to_string);
    prop_oneof![
        4 => (key.clone(), id.clone(), field.clone(), field.clone())
            .prop_map(|(k, i, f, g)| vec!["XADD".into(), k, i, f, "1".into(), g, "2".into()]),
        3 => (key.clone(), id.clone(), field.clone())
            .prop_map(|(k, i, f)| vec!["XADD".into(), k, i, f, "v".into()]),
        1 => (key.clone(), approx.clone(), 0u64..8, id.clone(), field.clone())
            .prop_map(|(k, a, n, i, f)| vec!["XADD".into(), k, "MAXLEN".into(), a, n.to_string(), i, f, "v".into()]),
        2 => (key.clone(), id.clone(), id.clone())
            .prop_map(|(k, a, b)| vec!["XDEL".into(), k, a, b]),
        1 => (key.clone(), approx.clone(), 0u64..10)
            .prop_map(|(k, a, n)| vec!["XTRIM".into(), k, "MAXLEN".into(), a, n.to_string()]),
        1 => (key.clone(), approx, id.clone())
            .prop_map(|(k, a, i)| vec!["XTRIM".into(), k, "MINID".into(), a, i]),
        1 => (key.clone(), 1u64..4)
            .prop_map(|(k, n)| vec!["XTRIM".into(), k, "MAXLEN".into(), "~".into(), "0".into(), "LIMIT".into(), n.to_string()]),
        2 => (key.clone(), bound.clone(), bound.clone(), 0u64..4)
            .prop_map(|(k, a, b, n)| vec!["XRANGE".into(), k, a, b, "COUNT".into(), n.to_string()]),
        2 => (key.clone(), bound.clone(), bound)
            .prop_map(|(k, a, b)| vec!["XREVRANGE".into(), k, a, b]),
        1 => key.clone().prop_map(|k| vec!["XLEN".into(), k]),
        1 => (key.clone(), id)
            .prop_map(|(k, i)| vec!["XREAD".into(), "COUNT".into(), "3".into(), "STREAMS".into(), k, i]),
        1 => key.clone().prop_map(|k| vec!["XINFO".into(), "STREAM".into(), k]),
        1 => key.prop_map(|k| vec!["XINFO".into(), "GROUPS".into(), k]),
    ]
}

fn group_command() -> impl Strategy<Value = Vec<String>> {
    let id = (1u64..20, 0u64..2).prop_map(|(ms, seq)| format!("{ms}-{seq}"));
    let consumer = prop::sample::select(vec!["c1", "c2"]).prop_map(str::to_string);
    let group = prop::sample::select(vec!["g1", "g2"]).prop_map(str::to_string);
    prop_oneof![
        3 => (id.clone()).prop_map(|i| vec!["XADD".into(), "s".into(), i, "f".into(), "v".into()]),
        1 => (id.clone(), id.clone()).prop_map(|(a, b)| vec!["XDEL".into(), "s".into(), a, b]),
        3 => (group.clone(), consumer.clone(), 1u64..3).prop_map(|(g, c, n)| vec![
            "XREADGROUP".into(), "GROUP".into(), g, c, "COUNT".into(), n.to_string(),
            "STREAMS".into(), "s".into(), ">".into()]),
        1 => (group.clone(), consumer.clone()).prop_map(|(g, c)| vec![
            "XREADGROUP".into(), "GROUP".into(), g, c, "STREAMS".into(), "s".into(), "0".into()]),
        2 => (group.clone(), id.clone()).prop_map(|(g, i)| vec!["XACK".into(), "s".into(), g, i]),
        1 => (group.clone(), consumer.clone(), id.clone()).prop_map(|(g, c, i)| vec![
            "XCLAIM".into(), "s".into(), g, c, "0".into(), i, "JUSTID".into()]),
        1 => (group.clone(), consumer, 1u64..4).prop_map(|(g, c, n)| vec![
            "XAUTOCLAIM".into(), "s".into(), g, c, "0".into(), "0".into(), "COUNT".into(),
            n.to_string(), "JUSTID".into()]),
        1 => (group.clone(), id).prop_map(|(g, i)| vec!["XGROUP".into(), "SETID".into(), "s".into(), g, i]),
        1 => (0u64..6).prop_map(|n| vec!["XTRIM".into(), "s".into(), "MAXLEN".into(), n.to_string()]),
        2 => group.clone().prop_map(|g| vec!["XPENDING".into(), "s".into(), g]),
        2 => Just(vec!["XINFO".into(), "GROUPS".into(), "s".into()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_stream_commands_match_redis(
        commands in prop::collection::vec(stream_command(), 1..120)
    ) {
        let mut d = Differential::start();
        // Small chunks, so that chunk boundaries (and `~` trimming) matter.
        d.check(&["CONFIG", "SET", "stream-node-max-entries", "4"]);
        for command in &commands {
            if command[0] == "XINFO" && command[1] == "STREAM" {
                check_masked(&mut d, command);
            } else {
                d.check(command);
            }
        }
        check_masked(&mut d, &["XINFO", "STREAM", "a"]);
        check_masked(&mut d, &["XINFO", "STREAM", "b"]);
    }

    #[test]
    fn random_group_flows_match_redis(
        commands in prop::collection::vec(group_command(), 1..80)
    ) {
        let mut d = Differential::start();
        d.check_all(&[
            &["XGROUP", "CREATE", "s", "g1", "0", "MKSTREAM"],
            &["XGROUP", "CREATE", "s", "g2", "$"],
        ]);
        for command in &commands {
            d.check(command);
        }
        check_masked(&mut d, &["XINFO", "STREAM", "s", "FULL"]);
    }
}

// ---- helpers ----

/// Compares a reply with Redis's after masking what differs by nature: times (idle,
/// delivery, seen) and the radix tree's node count.
#[track_caller]
fn check_masked<A: AsRef<[u8]>>(d: &mut Differential, command: &[A]) {
    check_masked_as(d, command, false);
}

/// As [`check_masked`], for a reply that is a list of PEL rows (`XPENDING … start end n`).
#[track_caller]
fn check_masked_rows<A: AsRef<[u8]>>(d: &mut Differential, command: &[A]) {
    check_masked_as(d, command, true);
}

#[track_caller]
fn check_masked_as<A: AsRef<[u8]>>(d: &mut Differential, command: &[A], rows: bool) {
    let (ours, theirs) = d.both(command);
    let parse = |raw: &[u8]| Reply::parse(raw).map(|(r, _)| mask(&r, rows));
    assert_eq!(
        parse(&ours),
        parse(&theirs),
        "replies differ for {:?}",
        command
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect::<Vec<_>>()
    );
}

/// The reply as text, times and node counts replaced by `<n>`. With `rows`, the reply is a
/// list of PEL rows (`[id, consumer, time, count]` or `[id, time, count]`) whose times are
/// masked.
fn mask(reply: &Reply, rows: bool) -> String {
    const TIMED: [&[u8]; 3] = [b"idle", b"seen-time", b"radix-tree-nodes"];
    let Some(items) = reply.as_array() else {
        return format!("{reply:?}");
    };
    let mut parts = Vec::new();
    if rows {
        for row in items {
            match row.as_array() {
                Some(cells) if cells.len() >= 3 => {
                    let mut texts: Vec<String> = cells.iter().map(|c| mask(c, false)).collect();
                    let at = texts.len() - 2;
                    texts[at] = "<n>".to_string();
                    parts.push(format!("[{}]", texts.join(", ")));
                }
                _ => parts.push(mask(row, false)),
            }
        }
        return format!("[{}]", parts.join(", "));
    }
    let mut previous: &[u8] = b"";
    for item in items {
        if TIMED.contains(&previous) {
            parts.push("<n>".to_string());
        } else {
            parts.push(mask(item, previous == b"pending"));
        }
        previous = item.as_bytes().unwrap_or_default();
    }
    format!("[{}]", parts.join(", "))
}

fn wait_blocked(conn: &mut RawConn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = conn.request_raw(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(&info);
        if let Some(line) = text.lines().find(|l| l.starts_with("blocked_clients:")) {
            if line["blocked_clients:".len()..].trim() == n.to_string() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{n} clients were not blocked in time: {text}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bulk_text(reply: &Reply) -> String {
    String::from_utf8_lossy(reply.as_bytes().unwrap_or_default()).into_owned()
}

fn split_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}
