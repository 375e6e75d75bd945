//! `slotgate node`: ACL users against a real redis-server — rules round-tripping through
//! `ACL SETUSER` → `GETUSER` / `LIST`, every error text, `AUTH` and `HELLO … AUTH`, `NOPERM`
//! for commands, keys and channels (also inside `MULTI`/`EXEC`), the ACL log, `ACL CAT`,
//! `ACL DRYRUN`, and the ACL file.
//!
//! Redis lists single-command rules (`+get +set`) in its hash table's order, which changes
//! from one process to the next; rule texts are compared with those tokens sorted.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::{
    assert_eventually, Differential, RawConn, RedisNode, Reply, SlotgateNode, TempDir,
};

/// Sorts the single-command rules of every rule text in a reply (see the module doc).
fn normalize(reply: Reply) -> Reply {
    match reply {
        Reply::Bulk(Some(b)) => Reply::Bulk(Some(normalize_rules(&b))),
        Reply::Array(Some(items)) => Reply::Array(Some(items.into_iter().map(normalize).collect())),
        Reply::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (normalize(k), normalize(v)))
                .collect(),
        ),
        Reply::Set(items) => Reply::Set(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// `… -@all +@read +set +get (~a -@all +incr)` → the same with `+get +set` sorted, per
/// selector.
fn normalize_rules(text: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(text);
    let looks_like_rules =
        s.starts_with("user ") || s.starts_with("+@all") || s.starts_with("-@all");
    if !looks_like_rules {
        return text.to_vec();
    }
    let mut out = String::new();
    for (i, part) in s.split(" (").enumerate() {
        let (body, close) = match part.strip_suffix(')') {
            Some(b) if i > 0 => (b, ")"),
            _ => (part, ""),
        };
        let mut tokens: Vec<&str> = body.split(' ').collect();
        let last_cat = tokens
            .iter()
            .rposition(|t| t.starts_with("+@") || t.starts_with("-@"))
            .map_or(tokens.len(), |p| p + 1);
        tokens[last_cat..].sort_unstable();
        if i > 0 {
            out.push_str(" (");
        }
        out.push_str(&tokens.join(" "));
        out.push_str(close);
    }
    out.into_bytes()
}

fn parse(raw: &[u8]) -> Reply {
    Reply::parse(raw).expect("a whole reply").0
}

/// Sends `cmd` to both servers on these connections; the replies, normalized, must match.
#[track_caller]
fn check_rules(ours: &mut RawConn, redis: &mut RawConn, cmd: &[&str]) {
    let a = normalize(parse(&ours.request_raw(cmd)));
    let b = normalize(parse(&redis.request_raw(cmd)));
    assert_eq!(
        format!("{a:?}"),
        format!("{b:?}"),
        "replies differ for {cmd:?}"
    );
}

/// Sends `cmd` to both; the reply bytes must match.
#[track_caller]
fn check_on(ours: &mut RawConn, redis: &mut RawConn, cmd: &[&str]) -> Vec<u8> {
    let a = ours.request_raw(cmd);
    let b = redis.request_raw(cmd);
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "replies differ for {cmd:?}"
    );
    b
}

/// New connections to both servers, logged in as `user`.
fn login(d: &Differential, user: &str, pass: &str) -> (RawConn, RawConn) {
    let mut ours = d.ours.raw();
    let mut redis = d.redis.raw();
    check_on(&mut ours, &mut redis, &["AUTH", user, pass]);
    (ours, redis)
}

/// Sets a user on both servers and compares how each then describes it.
#[track_caller]
fn set_and_compare(d: &mut Differential, name: &str, rules: &[&str]) {
    let mut cmd = vec!["ACL", "SETUSER", name];
    cmd.extend_from_slice(rules);
    d.check(&cmd);
    check_rules(
        &mut d.ours_conn,
        &mut d.redis_conn,
        &["ACL", "GETUSER", name],
    );
    check_rules(&mut d.ours_conn, &mut d.redis_conn, &["ACL", "LIST"]);
}

#[test]
fn rules_round_trip_through_setuser_getuser_and_list() {
    let mut d = Differential::start();
    let cases: &[&[&str]] = &[
        &[],
        &[
            "on", ">p1", "+get", "+set", "~k*", "%R~r*", "%W~w*", "%RW~x*", "&ch*",
        ],
        &["(+incr ~z*)", "(~a", "+get)"],
        &["clearselectors"],
        &["+@read", "-get", "+client|list", "+select|0"],
        &["+@read", "-get", "+@hyperloglog"],
        &["+@all", "-@string", "+get"],
        &["reset", "+@all", "-client", "+client|id"],
        &["reset", "+client|id", "+config"],
        &["reset", "+@read", "+@write", "-@admin"],
        &[
            "reset", "%R~a", "%W~a", "%RW~b", "~c", "%R~c", "%WR~d", "%R",
        ],
        &["reset", "+select", "+select|1"],
        &["reset", "+select|1", "+select|2", "+SELECT|1"],
        &["reset", "+@all", "-select", "+select|1"],
        &["skip-sanitize-payload"],
        &["sanitize-payload", "nopass"],
        &[
            "resetpass",
            ">a",
            ">a",
            ">b",
            "<a",
            "#2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        ],
        &["!2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"],
        &["resetchannels", "&a", "&a", "allchannels"],
        &["resetkeys", "%R~*", "~*"],
        &["()", "( )", "(&x -@all +@geo)"],
        &[
            "clearselectors",
            "(+get \"x)",
            "(+get \"~a\")",
            "(+get '~b')",
            "(~a\\x41)",
        ],
        &["-@ALL", "+@Read", "nocommands", "+get|x", "+CLIENT|LIST"],
        &["allcommands", "-@dangerous", "-@slow", "+@fast"],
        &[
            "nocommands",
            "+@keyspace",
            "+@pubsub",
            "-@connection",
            "+@scripting",
            "+@transaction",
        ],
        &["off", "reset", "on", "+@all", "allkeys", "allchannels"],
        &[""],
    ];
    for (i, rules) in cases.iter().enumerate() {
        set_and_compare(&mut d, &format!("u{}", i % 3), rules);
    }
    set_and_compare(&mut d, "default", &["-@dangerous"]);
    d.check_all(&[
        &["ACL", "USERS"],
        &["ACL", "GETUSER", "nosuchuser"],
        &["ACL", "DELUSER", "u0", "u1", "nosuch"],
        &["ACL", "USERS"],
        &["ACL", "WHOAMI"],
    ]);
    // acl-pubsub-default: new users and selectors start with all channels.
    d.check(&["CONFIG", "SET", "acl-pubsub-default", "allchannels"]);
    set_and_compare(&mut d, "p", &["(+get)"]);
    set_and_compare(&mut d, "p", &["reset"]);
    d.check(&["CONFIG", "SET", "acl-pubsub-default", "resetchannels"]);
    set_and_compare(&mut d, "p", &["reset", "(+get)"]);
    // RESP3: maps and sets.
    hello_on(&mut d.ours_conn, &mut d.redis_conn, &["HELLO", "3"]);
    set_and_compare(&mut d, "p", &["on", ">x", "~a", "(+set %W~b)", "(+incr)"]);
    check_rules(
        &mut d.ours_conn,
        &mut d.redis_conn,
        &["ACL", "GETUSER", "default"],
    );
    d.check_all(&[
        &["ACL", "USERS"],
        &["ACL", "CAT"],
        &["ACL", "GETUSER", "nosuch"],
    ]);
}

/// Rules a random user is built from.
const POOL: &[&str] = &[
    "on",
    "off",
    "nopass",
    "resetpass",
    ">pw1",
    ">pw2",
    "<pw1",
    "#2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    "!2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    "~k*",
    "%R~r*",
    "%W~w*",
    "%RW~x",
    "allkeys",
    "resetkeys",
    "~*",
    "&ch*",
    "&news",
    "allchannels",
    "resetchannels",
    "allcommands",
    "nocommands",
    "+@all",
    "-@all",
    "reset",
    "+get",
    "-get",
    "+set",
    "-set",
    "+client",
    "-client",
    "+client|list",
    "-client|kill",
    "+config|get",
    "+select|0",
    "+select|3",
    "+debug|object",
    "+acl",
    "-acl|setuser",
    "+xadd",
    "-ping",
    "(+get ~a)",
    "(+@read %R~r*)",
    "(&x +publish)",
    "clearselectors",
    "sanitize-payload",
    "skip-sanitize-payload",
    "+@nosuch",
    "+nosuch",
    "~a b",
];

const CATS: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

#[test]
fn random_rule_sequences_describe_like_redis() {
    let mut d = Differential::start();
    let mut rng = StdRng::seed_from_u64(0xAC1);
    for round in 0..150 {
        let n = rng.gen_range(1..7);
        let mut rules: Vec<String> = Vec::new();
        for _ in 0..n {
            let rule = if rng.gen_bool(0.35) {
                let sign = if rng.gen_bool(0.5) { '+' } else { '-' };
                format!("{sign}@{}", CATS[rng.gen_range(0..CATS.len())])
            } else {
                POOL[rng.gen_range(0..POOL.len())].to_string()
            };
            rules.push(rule);
        }
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        let name = format!("r{}", round % 4);
        set_and_compare(&mut d, &name, &rules);
    }
}

#[test]
fn acl_error_texts_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["ACL"],
        &["ACL", "NOSUCH"],
        &["ACL", "SETUSER"],
        &["ACL", "SETUSER", "a b"],
        &["ACL", "SETUSER", "u", "(~a"],
        &["ACL", "SETUSER", "u", "on", ">x", "("],
        &["ACL", "SETUSER", "u", "(+get", "~a)", "x"],
        &["ACL", "SETUSER", "u", "%X~a"],
        &["ACL", "SETUSER", "u", "%~a"],
        &["ACL", "SETUSER", "u", "%RR~a"],
        &["ACL", "SETUSER", "u", "#abc"],
        &["ACL", "SETUSER", "u", "<zz"],
        &["ACL", "SETUSER", "u", "!zz"],
        &["ACL", "SETUSER", "u", "~*", "~a"],
        &["ACL", "SETUSER", "u", "&*", "&a"],
        &["ACL", "SETUSER", "u", "+nocmd"],
        &["ACL", "SETUSER", "u", "+@nocat"],
        &["ACL", "SETUSER", "u", "-@"],
        &["ACL", "SETUSER", "u", "+"],
        &["ACL", "SETUSER", "u", "+client|list|x"],
        &["ACL", "SETUSER", "u", "+get|"],
        &["ACL", "SETUSER", "u", "-select|1"],
        &["ACL", "SETUSER", "u", "+client|nosub"],
        &["ACL", "SETUSER", "u", "(on)"],
        &["ACL", "SETUSER", "u", "bogus"],
        &["ACL", "SETUSER", "u", "~a b"],
        &["ACL", "SETUSER", "u", "(+get \"\")"],
        &["ACL", "SETUSER", "u", "~a\0"],
        &["ACL", "SETUSER", "u\tx"],
        // Nothing of a refused SETUSER is applied.
        &["ACL", "SETUSER", "v", "on", "+get", "bogus"],
        &["ACL", "USERS"],
        &["ACL", "GETUSER"],
        &["ACL", "GETUSER", "a", "b"],
        &["ACL", "DELUSER"],
        &["ACL", "DELUSER", "default", "u"],
        &["ACL", "DELUSER", "u", "default"],
        &["ACL", "LIST", "x"],
        &["ACL", "USERS", "x"],
        &["ACL", "WHOAMI", "x"],
        &["ACL", "CAT", "nocat"],
        &["ACL", "CAT", "a", "b"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "4097"],
        &["ACL", "GENPASS", "-1"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "GENPASS", "1", "2"],
        &["ACL", "LOG", "x"],
        &["ACL", "LOG", "-1"],
        &["ACL", "LOG", "1", "2"],
        &["ACL", "SAVE"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE", "x"],
        &["ACL", "DRYRUN"],
        &["ACL", "DRYRUN", "default"],
        &["ACL", "DRYRUN", "nouser", "get", "a"],
        &["ACL", "DRYRUN", "default", "nocmd"],
        &["ACL", "DRYRUN", "default", "get"],
        &["ACL", "DRYRUN", "default", "client", "lisx"],
        &["ACL", "HELP"],
        &["ACL", "HELP", "x"],
        &["AUTH", "x"],
        &["AUTH", "a", "b"],
        &["AUTH", "a", "b", "c"],
        &["CLIENT", "KILL", "USER", "nosuch"],
    ]);
    // GENPASS lengths: hex characters for the bits, rounded up.
    for bits in ["1", "4", "5", "255", "4096"] {
        let (ours, theirs) = d.both(&["ACL", "GENPASS", bits]);
        assert_eq!(ours.len(), theirs.len(), "GENPASS {bits}");
    }
    let (ours, theirs) = d.both(&["ACL", "GENPASS"]);
    assert_eq!(ours.len(), theirs.len());
    assert_ne!(d.both(&["ACL", "GENPASS"]).0, ours, "passwords are random");
}

/// A successful `HELLO` on both: the same reply but for the client id.
#[track_caller]
fn hello_on(ours: &mut RawConn, redis: &mut RawConn, cmd: &[&str]) {
    let strip = |raw: Vec<u8>| {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let at = text.find("$2\r\nid\r\n:").expect("an id field") + 9;
        let end = at + text[at..].find("\r\n").expect("the id's end");
        format!("{}{}", &text[..at], &text[end..])
    };
    let a = strip(ours.request_raw(cmd));
    let b = strip(redis.request_raw(cmd));
    assert_eq!(a, b, "replies differ for {cmd:?}");
}

#[test]
fn auth_flows_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["ACL", "SETUSER", "alice", "on", ">wonder", "+@all", "~*"],
        &["ACL", "SETUSER", "bob", "off", ">builder", "+@all", "~*"],
        &["ACL", "SETUSER", "carol", "on", "nopass", "+acl|whoami"],
        &["AUTH", "alice", "wrong"],
        &["AUTH", "bob", "builder"],
        &["AUTH", "nosuch", "x"],
        &["AUTH", "carol", "anything"],
        &["ACL", "WHOAMI"],
        &["GET", "x"],
        &["AUTH", "alice", "wonder"],
        &["ACL", "WHOAMI"],
        &["HELLO", "2", "AUTH", "alice", "bad"],
        &["HELLO", "2", "AUTH", "carol", "x", "SETNAME", "a b"],
        &["ACL", "WHOAMI"],
    ]);
    hello_on(
        &mut d.ours_conn,
        &mut d.redis_conn,
        &["HELLO", "3", "AUTH", "alice", "wonder"],
    );
    d.check(&["ACL", "WHOAMI"]);
    hello_on(
        &mut d.ours_conn,
        &mut d.redis_conn,
        &["HELLO", "2", "AUTH", "alice", "wonder"],
    );
    d.check_all(&[&["RESET"], &["ACL", "WHOAMI"]]);
    // requirepass is the default user's password.
    d.check_all(&[
        &["CONFIG", "SET", "requirepass", "foo"],
        &["ACL", "LIST"],
        &["ACL", "GETUSER", "default"],
    ]);
    let mut ours = d.ours.raw();
    let mut redis = d.redis.raw();
    for cmd in [
        &["GET", "x"][..],
        &["ACL", "WHOAMI"],
        &["HELLO", "2"],
        &["HELLO", "2", "AUTH", "default", "bar"],
        &["AUTH", "bar"],
        &["AUTH", "foo"],
        &["GET", "x"],
        &["RESET"],
        &["PING"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
    hello_on(
        &mut ours,
        &mut redis,
        &["HELLO", "2", "AUTH", "alice", "wonder", "SETNAME", "al"],
    );
    for cmd in [
        &["CLIENT", "GETNAME"][..],
        &["ACL", "WHOAMI"],
        &["RESET"],
        &["AUTH", "default", "foo"],
        &["CONFIG", "SET", "requirepass", ""],
        &["ACL", "LIST"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
    // With the default user nopass again, a client that never authenticated may run commands.
    let mut ours = d.ours.raw();
    let mut redis = d.redis.raw();
    check_on(&mut ours, &mut redis, &["PING"]);
    check_on(&mut ours, &mut redis, &["AUTH", "x"]);
    // A disabled default user: nobody gets in without AUTH, and AUTH as default fails.
    d.check(&["ACL", "SETUSER", "default", "off"]);
    let mut ours = d.ours.raw();
    let mut redis = d.redis.raw();
    check_on(&mut ours, &mut redis, &["PING"]);
    check_on(&mut ours, &mut redis, &["AUTH", "default", "x"]);
    check_on(&mut ours, &mut redis, &["AUTH", "alice", "wonder"]);
    check_on(&mut ours, &mut redis, &["PING"]);
}

#[test]
fn noperm_for_commands_keys_and_channels_matches_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "k1", "v"],
        &["SET", "r1", "v"],
        &["SET", "w1", "v"],
        &[
            "ACL",
            "SETUSER",
            "u",
            "on",
            "nopass",
            "+@read",
            "+@write",
            "+@pubsub",
            "-del",
            "+select|0",
            "+client|getname",
            "~k*",
            "%R~r*",
            "%W~w*",
            "&ch*",
            "&lit*",
            "(+del ~d*)",
        ],
    ]);
    let (mut ours, mut redis) = login(&d, "u", "x");
    for cmd in [
        &["GET", "k1"][..],
        &["GET", "x"],
        &["GET", "r1"],
        &["SET", "r1", "x"],
        &["SET", "w1", "x"],
        &["GET", "w1"],
        &["COPY", "r1", "w2"],
        &["COPY", "w1", "r2"],
        &["MGET", "k1", "x", "r1"],
        &["MSET", "k1", "1", "x", "2"],
        &["EXISTS", "r1", "w1"],
        &["DEL", "k1"],
        &["DEL", "d1"],
        &["DEL", "d1", "k1"],
        &["SELECT", "0"],
        &["SELECT", "1"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "ID"],
        &["FLUSHALL"],
        &["CONFIG", "GET", "x"],
        &["PUBLISH", "ch1", "m"],
        &["PUBLISH", "other", "m"],
        &["SPUBLISH", "other", "m"],
        &["PSUBSCRIBE", "ch*", "x*"],
        &["SUBSCRIBE", "other"],
        &["PSUBSCRIBE", "lit*"],
        &["SUBSCRIBE", "ch1", "litx"],
        &["PING"],
        &["UNSUBSCRIBE", "ch1", "litx"],
        &["PUNSUBSCRIBE", "lit*"],
        &["ACL", "WHOAMI"],
        &["AUTH", "u", "x"],
        &["NOSUCH"],
        &["GET"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
    // The user's rights change under a connected client.
    d.check(&["ACL", "SETUSER", "u", "-get"]);
    check_on(&mut ours, &mut redis, &["GET", "k1"]);
    d.check(&["ACL", "SETUSER", "u", "+get", "allkeys"]);
    check_on(&mut ours, &mut redis, &["GET", "zzz"]);
}

#[test]
fn multi_exec_checks_rights_when_queueing_and_at_exec() {
    let mut d = Differential::start();
    d.check(&[
        "ACL", "SETUSER", "u", "on", "nopass", "+@all", "-set", "~a*", "&*",
    ]);
    let (mut ours, mut redis) = login(&d, "u", "x");
    for cmd in [
        &["MULTI"][..],
        &["GET", "b"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "a"],
        &["INCR", "a1"],
        &["LPUSH", "a2", "x"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
    // Rights taken away between queueing and EXEC: those commands fail inside EXEC.
    d.check(&["ACL", "SETUSER", "u", "-incr", "resetkeys", "~a", "~a1"]);
    check_on(&mut ours, &mut redis, &["EXEC"]);
    check_on(&mut ours, &mut redis, &["GET", "a1"]);
    let (a, b) = d.both(&["ACL", "LOG", "1"]);
    assert_same_log(&a, &b);
    // A transaction that takes its own user's rights away: later commands fail at EXEC.
    d.check(&["ACL", "SETUSER", "u", "+@all", "allkeys"]);
    for cmd in [
        &["MULTI"][..],
        &["GET", "a"],
        &["ACL", "SETUSER", "u", "-get"],
        &["GET", "a"],
        &["EXEC"],
        &["GET", "a"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
}

/// ACL LOG replies with the same entries: the fields that do not depend on time or
/// connection equal, `client-info` with the same fields.
#[track_caller]
fn assert_same_log(ours: &[u8], theirs: &[u8]) {
    let ours = parse(ours);
    let theirs = parse(theirs);
    let (Some(a), Some(b)) = (ours.as_array(), theirs.as_array()) else {
        panic!("not arrays: {ours:?} / {theirs:?}");
    };
    assert_eq!(a.len(), b.len(), "entries: {ours:?} / {theirs:?}");
    for (ea, eb) in a.iter().zip(b) {
        let (fa, fb) = (ea.as_array().unwrap(), eb.as_array().unwrap());
        assert_eq!(fa.len(), 14);
        assert_eq!(fa.len(), fb.len());
        for i in (0..14).step_by(2) {
            let key = String::from_utf8_lossy(fa[i].as_bytes().unwrap()).into_owned();
            assert_eq!(fa[i], fb[i]);
            match key.as_str() {
                "age-seconds" => {
                    let age: f64 = String::from_utf8_lossy(fa[i + 1].as_bytes().unwrap())
                        .parse()
                        .unwrap();
                    assert!((0.0..30.0).contains(&age), "{age}");
                }
                "client-info" => {
                    let fields = |r: &Reply| -> Vec<String> {
                        String::from_utf8_lossy(r.as_bytes().unwrap())
                            .split(' ')
                            .map(|f| {
                                let (k, v) = f.split_once('=').unwrap_or((f, ""));
                                // The fields whose values must agree.
                                if matches!(k, "user" | "cmd" | "db" | "flags" | "resp") {
                                    format!("{k}={v}")
                                } else {
                                    k.to_string()
                                }
                            })
                            .collect()
                    };
                    assert_eq!(fields(&fa[i + 1]), fields(&fb[i + 1]));
                }
                _ => assert_eq!(fa[i + 1], fb[i + 1], "{key}"),
            }
        }
    }
}

#[test]
fn acl_log_entries_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["ACL", "LOG"],
        &[
            "ACL", "SETUSER", "u", "on", ">p", "+get", "+set", "+publish", "+multi", "~a*", "&c*",
        ],
    ]);
    let (mut ours, mut redis) = login(&d, "u", "p");
    for cmd in [
        &["GET", "b"][..],
        &["GET", "b"],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["PUBLISH", "d", "m"],
        &["GET", "a1"],
        &["MULTI"],
        &["INCR", "a"],
        &["AUTH", "u", "wrong"],
        &["AUTH", "nosuch", "wrong"],
    ] {
        check_on(&mut ours, &mut redis, cmd);
    }
    let mut plain_o = d.ours.raw();
    let mut plain_r = d.redis.raw();
    check_on(
        &mut plain_o,
        &mut plain_r,
        &["HELLO", "2", "AUTH", "u", "bad"],
    );
    for n in [
        &["ACL", "LOG"][..],
        &["ACL", "LOG", "2"],
        &["ACL", "LOG", "0"],
        &["ACL", "LOG", "100"],
    ] {
        let (a, b) = d.both(n);
        assert_same_log(&a, &b);
    }
    d.check_all(&[
        &["CONFIG", "SET", "acllog-max-len", "2"],
        &["ACL", "SETUSER", "u", "-get"],
    ]);
    check_on(&mut ours, &mut redis, &["GET", "a"]);
    let (a, b) = d.both(&["ACL", "LOG"]);
    assert_same_log(&a, &b);
    d.check_all(&[&["ACL", "LOG", "RESET"], &["ACL", "LOG"]]);
}

#[test]
fn acl_cat_lists_match_redis() {
    let mut d = Differential::start();
    d.check(&["ACL", "CAT"]);
    for cat in CATS.iter().chain(&["READ", "Geo"]) {
        let (ours, theirs) = d.both(&["ACL", "CAT", cat]);
        let sorted = |raw: &[u8]| {
            let mut v: Vec<Vec<u8>> = parse(raw)
                .as_array()
                .expect("an array")
                .iter()
                .map(|r| r.as_bytes().unwrap().to_vec())
                .collect();
            v.sort();
            v
        };
        assert_eq!(sorted(&ours), sorted(&theirs), "ACL CAT {cat}");
    }
}

#[test]
fn acl_dryrun_matches_redis() {
    let mut d = Differential::start();
    d.check(&[
        "ACL",
        "SETUSER",
        "u",
        "on",
        "nopass",
        "+get",
        "+set",
        "+publish",
        "+psubscribe",
        "~a*",
        "%R~r*",
        "&c*",
        "(+incr ~z*)",
    ]);
    for cmd in [
        &["ACL", "DRYRUN", "u", "get", "a"][..],
        &["ACL", "DRYRUN", "u", "get", "b"],
        &["ACL", "DRYRUN", "u", "get", "r"],
        &["ACL", "DRYRUN", "u", "set", "r", "1"],
        &["ACL", "DRYRUN", "u", "incr", "z"],
        &["ACL", "DRYRUN", "u", "incr", "a"],
        &["ACL", "DRYRUN", "u", "del", "a"],
        &["ACL", "DRYRUN", "u", "publish", "c1", "m"],
        &["ACL", "DRYRUN", "u", "publish", "d", "m"],
        &["ACL", "DRYRUN", "u", "psubscribe", "c*"],
        &["ACL", "DRYRUN", "u", "psubscribe", "c1"],
        &["ACL", "DRYRUN", "u", "client", "list"],
        &["ACL", "DRYRUN", "u", "CLIENT", "LIST"],
        &["ACL", "DRYRUN", "default", "flushall"],
        &["ACL", "DRYRUN", "u", "auth", "x"],
    ] {
        check_on(&mut d.ours_conn, &mut d.redis_conn, cmd);
    }
}

/// Both servers, each with its own ACL file holding `text`.
fn with_aclfiles(text: &str) -> (Differential, TempDir) {
    let dir = TempDir::new("aclfiles");
    let ours_file = dir.path().join("ours.acl");
    let redis_file = dir.path().join("redis.acl");
    std::fs::write(&ours_file, text).unwrap();
    std::fs::write(&redis_file, text).unwrap();
    let ours = SlotgateNode::start_with(&["--aclfile", ours_file.to_str().unwrap()]);
    let redis = RedisNode::standalone_with(&[("aclfile", redis_file.to_str().unwrap())]);
    let ours_conn = ours.raw();
    let redis_conn = redis.raw();
    (
        Differential {
            ours,
            redis,
            ours_conn,
            redis_conn,
        },
        dir,
    )
}

#[test]
fn acl_save_and_load_with_an_aclfile() {
    let (mut d, dir) = with_aclfiles(
        "user default on nopass ~* &* +@all\nuser alice on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~a* resetchannels -@all +get (+set ~b*)\n",
    );
    check_rules(&mut d.ours_conn, &mut d.redis_conn, &["ACL", "LIST"]);
    let (mut alice_o, mut alice_r) = login(&d, "alice", "foo");
    check_on(&mut alice_o, &mut alice_r, &["GET", "a1"]);
    d.check_all(&[
        &["ACL", "SETUSER", "bob", "on", ">b", "+@read", "~*"],
        &["ACL", "SAVE"],
        &["ACL", "SETUSER", "carol", "on"],
        &["ACL", "LOAD"],
        &["ACL", "USERS"],
    ]);
    let saved = |name: &str| {
        let text = std::fs::read(dir.path().join(name)).unwrap();
        String::from_utf8(normalize_rules_lines(&text)).unwrap()
    };
    assert_eq!(saved("ours.acl"), saved("redis.acl"));
    // The clients authenticated as alice were closed by the load, on both.
    alice_o.assert_closed();
    alice_r.assert_closed();
    // A bad file changes nothing and says why, line by line.
    for name in ["ours.acl", "redis.acl"] {
        std::fs::write(
            dir.path().join(name),
            "user x on +nocmd\nbogus\nuser x on\nuser y (~a\n",
        )
        .unwrap();
    }
    let (a, b) = d.both(&["ACL", "LOAD"]);
    let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
    let strip =
        |s: &str, name: &str| s.replace(&dir.path().join(name).display().to_string(), "FILE");
    assert_eq!(strip(&a, "ours.acl"), strip(&b, "redis.acl"));
    check_rules(&mut d.ours_conn, &mut d.redis_conn, &["ACL", "LIST"]);
    // A file that is gone.
    for name in ["ours.acl", "redis.acl"] {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    let (a, b) = d.both(&["ACL", "LOAD"]);
    let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
    assert_eq!(strip(&a, "ours.acl"), strip(&b, "redis.acl"));
}

fn normalize_rules_lines(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        out.extend_from_slice(&normalize_rules(line));
        out.push(b'\n');
    }
    out
}

#[test]
fn user_directives_and_aclfile_load_at_start() {
    let node = SlotgateNode::start_with(&[
        "--user",
        "alice",
        "on",
        ">pw",
        "~*",
        "+@all",
        "--user",
        "default",
        "on",
        "nopass",
        "+ping",
        "--requirepass",
        "ignored-by-user-default",
    ]);
    let mut c = node.raw();
    assert_eq!(
        c.request(&["ACL", "WHOAMI"])
            .as_error()
            .map(|e| e.starts_with("NOPERM")),
        Some(true)
    );
    assert_eq!(
        c.request(&["AUTH", "alice", "pw"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(c.request(&["ACL", "WHOAMI"]), Reply::bulk("alice"));
    let line = c.request(&["CLIENT", "INFO"]);
    let Reply::Bulk(Some(line)) = line else {
        panic!("{line:?}")
    };
    assert!(String::from_utf8_lossy(&line).contains(" user=alice "));
    assert_eq!(
        c.request(&["ACL", "SAVE"]).as_error(),
        Some("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
    );
}

#[test]
fn deleted_users_clients_are_closed_and_client_kill_user_works() {
    let mut d = Differential::start();
    d.check_all(&[
        &["ACL", "SETUSER", "u", "on", "nopass", "+@all", "~*", "&*"],
        &["ACL", "SETUSER", "v", "on", "nopass", "+@all", "~*", "&*"],
    ]);
    let mut u1 = d.ours.raw();
    u1.request(&["AUTH", "u", "x"]);
    let mut u2 = d.ours.raw();
    u2.request(&["AUTH", "u", "x"]);
    let mut v = d.ours.raw();
    v.request(&["AUTH", "v", "x"]);
    let Reply::Bulk(Some(list)) = d.ours_conn.request(&["CLIENT", "LIST"]) else {
        panic!()
    };
    let list = String::from_utf8_lossy(&list).into_owned();
    assert_eq!(list.matches(" user=u ").count(), 2, "{list}");
    assert_eq!(list.matches(" user=default ").count(), 1, "{list}");
    // SETUSER reset takes the rights away but keeps the connection (Redis 7.0).
    d.check(&["ACL", "SETUSER", "u", "reset"]);
    assert_eq!(
        u1.request(&["PING"]).as_error(),
        Some("NOPERM this user has no permissions to run the 'ping' command")
    );
    d.check(&["ACL", "DELUSER", "u"]);
    u1.assert_closed();
    u2.assert_closed();
    assert_eq!(v.request(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(
        d.ours_conn.request(&["CLIENT", "KILL", "USER", "v"]),
        Reply::Integer(1)
    );
    v.assert_closed();
    // A user deleting itself gets its reply, then the connection closes.
    d.check(&["ACL", "SETUSER", "w", "on", "nopass", "+@all"]);
    let mut w = d.ours.raw();
    w.request(&["AUTH", "w", "x"]);
    assert_eq!(w.request(&["ACL", "DELUSER", "w"]), Reply::Integer(1));
    w.assert_closed();
    // Revoking a subscribed channel closes the subscriber.
    d.check(&[
        "ACL",
        "SETUSER",
        "s",
        "on",
        "nopass",
        "+@all",
        "resetchannels",
        "&a",
        "&b",
    ]);
    let mut s = d.ours.raw();
    s.request(&["AUTH", "s", "x"]);
    s.request(&["SUBSCRIBE", "a"]);
    d.check(&["ACL", "SETUSER", "s", "resetchannels", "&b"]);
    s.assert_closed();
    // Keeping the channel: the subscriber stays.
    d.check(&["ACL", "SETUSER", "s", "&b", "&c"]);
    let mut s = d.ours.raw();
    s.request(&["AUTH", "s", "x"]);
    s.request(&["SUBSCRIBE", "b"]);
    d.check(&["ACL", "SETUSER", "s", "&d"]);
    assert_eventually(
        Duration::from_secs(5),
        "the subscriber still answers",
        || s.request(&["PING"]).as_array().is_some(),
    );
}

#[test]
fn config_rewrite_keeps_the_acl_users() {
    let dir = TempDir::new("aclconf");
    let conf = dir.path().join("node.conf");
    std::fs::write(&conf, "user alice on >pw ~* +@all\n").unwrap();
    let node = SlotgateNode::start_with(&[conf.to_str().unwrap()]);
    let mut c = node.raw();
    assert_eq!(
        c.request(&["AUTH", "alice", "pw"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        c.request(&["ACL", "SETUSER", "bob", "on", ">x", "+get"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        c.request(&["CONFIG", "REWRITE"]),
        Reply::Simple("OK".into())
    );
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("user alice on #") && text.contains(" ~* resetchannels +@all\n"),
        "{text}"
    );
    assert!(text.contains("user bob on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 resetchannels -@all +get\n"), "{text}");
    assert!(
        text.contains("user default on nopass ~* &* +@all\n"),
        "{text}"
    );
    assert_eq!(text.matches("user ").count(), 3, "{text}");
}
