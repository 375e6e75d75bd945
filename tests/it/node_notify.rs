//! `slotgate node`: keyspace notifications, compared with redis-server. A subscriber on each
//! server listens on `__key*__:*`; every command runs on both, and the events each published
//! (channel, message, in order) must be the same.

use std::time::Duration;

use crate::harness::{encode_command, wait_for, Differential, RawConn};

/// A differential pair plus one `PSUBSCRIBE`d connection to each server.
struct Watched {
    d: Differential,
    ours: RawConn,
    redis: RawConn,
}

impl Watched {
    /// Both servers with `notify-keyspace-events` set to `classes`.
    fn start(classes: &str) -> Watched {
        let mut d = Differential::start_with(&[("enable-debug-command", "yes")]);
        d.check(&["CONFIG", "SET", "notify-keyspace-events", classes]);
        let mut ours = d.ours.raw();
        let mut redis = d.redis.raw();
        for conn in [&mut ours, &mut redis] {
            conn.send(&encode_command(&["PSUBSCRIBE", "__key*__:*"]));
            conn.read_raw_reply();
        }
        Watched { d, ours, redis }
    }

    /// Runs `command` on both (same reply) and requires the same events.
    #[track_caller]
    fn check(&mut self, command: &[&str]) {
        self.d.check(command);
        self.same_events(&command.join(" "));
    }

    /// Runs `command` on both without comparing replies, then compares the events.
    #[track_caller]
    fn run(&mut self, command: &[&str]) {
        self.d.both(command);
        self.same_events(&command.join(" "));
    }

    #[track_caller]
    fn same_events(&mut self, what: &str) {
        let ours = events(&mut self.ours);
        let redis = events(&mut self.redis);
        assert_eq!(ours, redis, "events differ after {what}");
    }
}

/// The events a subscriber received since last asked: a `PING` in subscribed mode answers
/// `pong` after every message published before it.
fn events(conn: &mut RawConn) -> Vec<String> {
    conn.send(&encode_command(&["PING"]));
    let pong = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let frame = conn.read_raw_reply();
        if frame == pong {
            return seen;
        }
        seen.push(String::from_utf8_lossy(&frame).replace("\r\n", " "));
    }
    panic!("no pong after 10000 frames");
}

#[test]
fn every_class_publishes_what_redis_publishes() {
    every_command_under("KEA");
}

#[test]
fn every_command_publishes_new_and_keymiss_as_redis() {
    every_command_under("KEAnm");
}

fn every_command_under(classes: &str) {
    let mut w = Watched::start(classes);
    let corpus: &[&[&str]] = &[
        // Strings.
        &["SET", "s", "1"],
        &["SET", "s", "2", "EX", "100"],
        &["SET", "s", "3", "KEEPTTL"],
        &["SET", "s", "4", "NX"],
        &["SET", "s", "5", "XX", "GET"],
        &["SETNX", "s2", "x"],
        &["SETNX", "s2", "y"],
        &["SETEX", "s3", "100", "v"],
        &["PSETEX", "s4", "100000", "v"],
        &["GETSET", "s", "g"],
        &["MSET", "m1", "a", "m2", "b"],
        &["MSETNX", "m3", "a", "m4", "b"],
        &["MSETNX", "m3", "a", "m5", "b"],
        &["APPEND", "s", "tail"],
        &["APPEND", "ap", "new"],
        &["SETRANGE", "s", "2", "xy"],
        &["SETRANGE", "sr", "0", ""],
        &["SETRANGE", "sr2", "3", "z"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "2"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["INCR", "s"],
        &["GETEX", "s", "EX", "100"],
        &["GETEX", "s", "PERSIST"],
        &["GETEX", "s"],
        &["GETDEL", "s"],
        &["GETDEL", "s"],
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "1"],
        &["BITOP", "OR", "bo", "b", "m1"],
        &["BITOP", "AND", "bo", "nothing", "none"],
        &["BITFIELD", "bf", "SET", "u8", "0", "255"],
        &["BITFIELD", "bf", "GET", "u8", "0"],
        &["BITFIELD", "bf", "INCRBY", "u8", "0", "1"],
        // Generic.
        &["EXPIRE", "m1", "100"],
        &["PEXPIRE", "m1", "100000"],
        &["EXPIREAT", "m1", "99999999999"],
        &["EXPIRE", "m1", "100", "NX"],
        &["PERSIST", "m1"],
        &["PERSIST", "m1"],
        &["EXPIRE", "m2", "-1"],
        &["EXPIRE", "missing", "10"],
        &["RENAME", "m3", "r1"],
        &["RENAME", "r1", "r1"],
        &["RENAMENX", "r1", "m4"],
        &["RENAMENX", "r1", "r2"],
        &["SET", "over", "x"],
        &["RENAME", "r2", "over"],
        &["RENAME", "over", "r2"],
        &["COPY", "r2", "c1"],
        &["COPY", "r2", "c1"],
        &["COPY", "r2", "c1", "REPLACE"],
        &["COPY", "r2", "c1", "DB", "1"],
        &["MOVE", "c1", "2"],
        &["DEL", "c1", "r2", "missing"],
        &["UNLINK", "m4", "nothing"],
        &["TOUCH", "n", "nothing"],
        &["SET", "d", "v"],
        // Lists.
        &["LPUSH", "l", "a", "b", "c"],
        &["RPUSH", "l", "d"],
        &["LPUSHX", "l", "e"],
        &["RPUSHX", "l", "f"],
        &["LPUSHX", "nolist", "e"],
        &["LINSERT", "l", "BEFORE", "a", "z"],
        &["LINSERT", "l", "BEFORE", "nope", "z"],
        &["LSET", "l", "0", "x"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LREM", "l", "0", "z"],
        &["LTRIM", "l", "0", "1"],
        &["RPOPLPUSH", "l", "l2"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["LMOVE", "l2", "l2", "LEFT", "LEFT"],
        &["LMPOP", "2", "nolist", "l2", "LEFT", "COUNT", "5"],
        &["RPUSH", "l3", "a", "b", "c"],
        &["LTRIM", "l3", "5", "10"],
        &["RPUSH", "l3", "a", "b"],
        &["LREM", "l3", "0", "a"],
        &["LREM", "l3", "0", "b"],
        &["RPUSH", "l4", "1"],
        &["BLPOP", "l4", "0"],
        &["RPUSH", "l4", "1", "2"],
        &["BRPOPLPUSH", "l4", "l5", "0"],
        &["BLMPOP", "0", "1", "l4", "RIGHT"],
        // Hashes.
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "h", "a", "1"],
        &["HMSET", "h", "c", "3"],
        &["HSETNX", "h", "a", "x"],
        &["HSETNX", "h", "n", "x"],
        &["HINCRBY", "h", "i", "3"],
        &["HINCRBYFLOAT", "h", "f", "1.5"],
        &["HDEL", "h", "a", "zz"],
        &["HDEL", "h", "zz"],
        &["HDEL", "h", "b", "c", "n", "i", "f"],
        // Sets.
        &["SADD", "st", "a", "b", "c"],
        &["SADD", "st", "a"],
        &["SREM", "st", "a", "zz"],
        &["SREM", "st", "zz"],
        &["SMOVE", "st", "st2", "b"],
        &["SMOVE", "st", "st2", "zz"],
        &["SMOVE", "st", "st2", "c"],
        &["SADD", "x1", "1", "2", "3"],
        &["SADD", "x2", "2", "3", "4"],
        &["SINTERSTORE", "xi", "x1", "x2"],
        &["SUNIONSTORE", "xu", "x1", "x2"],
        &["SDIFFSTORE", "xd", "x1", "x2"],
        &["SINTERSTORE", "xi", "x1", "nothing"],
        &["SDIFFSTORE", "xd", "nothing", "x1"],
        &["SADD", "x3", "only"],
        &["SPOP", "x3"],
        // Sorted sets.
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "INCR", "1", "a"],
        &["ZADD", "z", "NX", "INCR", "1", "a"],
        &["ZINCRBY", "z", "1", "b"],
        &["ZREM", "z", "a", "zz"],
        &["ZREM", "z", "zz"],
        &["ZREMRANGEBYSCORE", "z", "0", "2.5"],
        &["ZREMRANGEBYSCORE", "z", "100", "200"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZADD", "zl", "0", "a", "0", "b", "0", "c"],
        &["ZREMRANGEBYLEX", "zl", "[a", "[b"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "5"],
        &["ZPOPMAX", "z"],
        &["ZADD", "za", "1", "a", "2", "b"],
        &["ZADD", "zb", "2", "b", "3", "c"],
        &["ZUNIONSTORE", "zu", "2", "za", "zb"],
        &["ZINTERSTORE", "zi", "2", "za", "zb"],
        &["ZDIFFSTORE", "zd", "2", "za", "zb"],
        &["ZINTERSTORE", "zi", "2", "za", "nothing"],
        &["ZRANGESTORE", "zr", "za", "0", "-1"],
        &["ZRANGESTORE", "zr", "za", "5", "10"],
        &["ZMPOP", "1", "zb", "MIN", "COUNT", "10"],
        &["ZADD", "zc", "1", "a"],
        &["BZPOPMIN", "zc", "0"],
        &["ZADD", "zc", "1", "a"],
        &["BZMPOP", "0", "1", "zc", "MAX"],
        // HyperLogLog.
        &["PFADD", "hll", "a", "b"],
        &["PFADD", "hll", "a"],
        &["PFADD", "hll2"],
        &["PFCOUNT", "hll", "hll2"],
        &["PFMERGE", "hll3", "hll", "hll2"],
        // Geo.
        &[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
        &[
            "GEOSEARCHSTORE",
            "gs",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "gs",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "gr"],
        &[
            "GEORADIUS",
            "nothing",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "gr",
        ],
        // Streams.
        &["XADD", "x", "1-1", "f", "v"],
        &["XADD", "x", "2-1", "f", "v"],
        &["XADD", "x", "MAXLEN", "1", "3-1", "f", "v"],
        &["XADD", "nostream", "NOMKSTREAM", "1-1", "f", "v"],
        &["XTRIM", "x", "MAXLEN", "5"],
        &["XADD", "x", "4-1", "f", "v"],
        &["XTRIM", "x", "MAXLEN", "1"],
        &["XDEL", "x", "1-1"],
        &["XADD", "x", "5-1", "f", "v"],
        &["XDEL", "x", "4-1"],
        &["XSETID", "x", "9-9"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &["XGROUP", "CREATE", "xm", "g", "$", "MKSTREAM"],
        &["XGROUP", "SETID", "x", "g", "0"],
        &["XGROUP", "CREATECONSUMER", "x", "g", "c1"],
        &["XGROUP", "CREATECONSUMER", "x", "g", "c1"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", ">"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", "0"],
        &["XCLAIM", "x", "g", "c3", "0", "5-1"],
        &["XAUTOCLAIM", "x", "g", "c4", "0", "0"],
        &["XACK", "x", "g", "5-1"],
        &["XGROUP", "DELCONSUMER", "x", "g", "c1"],
        &["XGROUP", "DELCONSUMER", "x", "g", "nobody"],
        &["XGROUP", "DESTROY", "x", "g"],
        &["XGROUP", "DESTROY", "x", "g"],
        &["XDEL", "x", "5-1"],
        // Sort, dump/restore.
        &["RPUSH", "sl", "3", "1", "2"],
        &["SORT", "sl", "STORE", "sorted"],
        &["SORT", "nothing", "STORE", "sorted"],
        &["SET", "tobedumped", "v"],
        // Flushes and swaps publish nothing.
        &["SWAPDB", "0", "1"],
        &["SWAPDB", "0", "1"],
        &["FLUSHDB"],
    ];
    for command in corpus {
        w.check(command);
    }
    // The members come back in no promised order: only the events are compared.
    w.run(&["SPOP", "x1", "5"]);
    w.check(&["SET", "d", "v"]);
    let payload = w.d.redis_conn.request(&["DUMP", "d"]);
    let payload = payload.as_bytes().expect("a DUMP payload").to_vec();
    for replace in [false, true] {
        let mut restore: Vec<&[u8]> = vec![b"RESTORE", b"restored", b"0", &payload];
        if replace {
            restore.push(b"REPLACE");
        }
        w.d.check(&restore);
        w.same_events("RESTORE");
    }
}

#[test]
fn new_and_keymiss_classes_and_single_channels() {
    let mut w = Watched::start("KEnm");
    for command in [
        &["SET", "a", "1"][..],
        &["SET", "a", "2"],
        &["GET", "a"],
        &["GET", "nothing"],
        &["MGET", "a", "x", "y", "x"],
        &["EXISTS", "nothing"],
        &["TYPE", "nothing"],
        &["STRLEN", "nothing"],
        &["LRANGE", "nothing", "0", "-1"],
        &["HGET", "nothing", "f"],
        &["ZSCORE", "nothing", "m"],
        &["SMEMBERS", "nothing"],
        &["LPUSH", "l", "a"],
        &["SADD", "s", "a"],
        &["DEL", "nothing"],
        &["INCR", "counter"],
    ] {
        w.check(command);
    }
    // Keyspace channel only; then event channel only.
    w.check(&["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    w.check(&["SET", "a", "3"]);
    w.check(&["LPUSH", "l", "b"]);
    w.check(&["CONFIG", "SET", "notify-keyspace-events", "El"]);
    w.check(&["SET", "a", "3"]);
    w.check(&["LPUSH", "l", "b"]);
    w.check(&["CONFIG", "SET", "notify-keyspace-events", "gl"]);
    w.check(&["LPUSH", "l", "c"]);
    w.check(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    w.check(&["DEL", "l"]);
}

#[test]
fn expired_keys_publish_expired_lazily_and_actively() {
    let mut w = Watched::start("KEA");
    // Lazily: the key is found expired by a read, or by a write that replaces it.
    w.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    w.check(&["SET", "lazy", "v", "PX", "1"]);
    w.check(&["SET", "over", "v", "PX", "1"]);
    w.check(&["LPUSH", "list", "a"]);
    w.check(&["PEXPIRE", "list", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    w.check(&["GET", "lazy"]);
    w.check(&["SET", "over", "new"]);
    w.check(&["LPUSH", "list", "b"]);
    w.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);

    // Actively: nobody touches the key; the expiry cycle deletes it and publishes.
    let mut d = Differential::start();
    d.check(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut sub = d.ours.raw();
    sub.send(&encode_command(&["SUBSCRIBE", "__keyevent@0__:expired"]));
    sub.read_raw_reply();
    d.ours_conn.request(&["SET", "gone", "v", "PX", "30"]);
    sub.set_read_timeout(Duration::from_secs(10));
    let message = sub.read_reply();
    assert_eq!(
        format!("{message:?}"),
        format!(
            "{:?}",
            crate::harness::Reply::bulks(["message", "__keyevent@0__:expired", "gone"])
        )
    );
    wait_for(Duration::from_secs(5), "the expired key gone", || {
        (d.ours_conn.request(&["DBSIZE"]) == crate::harness::Reply::Integer(0)).then_some(())
    });
}
