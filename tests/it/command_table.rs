//! The command table against a real Redis 7.0: every command's keys against `COMMAND GETKEYS`,
//! every lookup error against the server's own reply, the table's size against `COMMAND COUNT`,
//! every entry against `COMMAND INFO`, the flags Redis hides from `COMMAND` against the server's
//! behaviour, and the places where the table deliberately differs from `COMMAND GETKEYS`
//! against a cluster node's own routing.
//!
//! Nothing here executes a command that could change more than a throwaway server's data: the
//! corpus goes to the server only inside `COMMAND GETKEYS`, except commands the table rejects
//! (which the server must reject too) and the flag probes, which skip anything dangerous.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use slotgate::command::{table, CommandError, CommandSpec, Flags};
use slotgate::resp::{Command, Frame, Limits};
use slotgate::slot::Slot;

use crate::harness::{encode_command, NodeOptions, RawConn, RedisNode, Reply, TempDir};

/// A valid EVALSHA digest length (40); no script has it.
const SHA: &str = "0123456789012345678901234567890123456789";

/// Argument lists, beyond the generated ones, for commands whose keys depend on their
/// arguments: valid forms, and every way of getting the key-locating arguments wrong.
const SAMPLES: &[(&str, &[&[&str]])] = &[
    (
        "eval",
        &[
            &["EVAL", "return 1", "0"],
            &["EVAL", "s", "2", "k1", "k2", "a1"],
            &["eval", "s", "1", "k1"],
            &["EVAL", "s", "3", "k1", "k2"],
            &["EVAL", "s", "-1"],
            &["EVAL", "s", "x", "k1"],
            &["EVAL", "s", "2x", "k1", "k2"],
            &["EVAL", "s", "01", "k1"],
        ],
    ),
    (
        "eval_ro",
        &[
            &["EVAL_RO", "return 1", "1", "k1"],
            &["EVAL_RO", "s", "5", "k1"],
        ],
    ),
    (
        "evalsha",
        &[
            &["EVALSHA", SHA, "2", "k1", "k2"],
            &["EVALSHA", SHA, "3", "k1"],
            &["EVALSHA", SHA, "-2"],
            &["EVALSHA", SHA, "y"],
            &["EVALSHA", "abc", "3", "k1"],
            &["EVALSHA", "abc", "1", "k1"],
        ],
    ),
    (
        "evalsha_ro",
        &[
            &["EVALSHA_RO", SHA, "1", "k1", "a1"],
            &["EVALSHA_RO", "abc", "x"],
        ],
    ),
    (
        "fcall",
        &[
            &["FCALL", "f", "2", "k1", "k2", "a1"],
            &["FCALL", "f", "0"],
            &["FCALL", "f", "5", "k1"],
            &["FCALL", "f", "x"],
            &["FCALL", "f", "-1"],
        ],
    ),
    (
        "fcall_ro",
        &[&["FCALL_RO", "f", "1", "k1"], &["FCALL_RO", "f", "3", "k1"]],
    ),
    (
        "zunionstore",
        &[
            &["ZUNIONSTORE", "d", "2", "k1", "k2"],
            &[
                "ZUNIONSTORE",
                "d",
                "2",
                "k1",
                "k2",
                "WEIGHTS",
                "1",
                "2",
                "AGGREGATE",
                "MAX",
            ],
            &["ZUNIONSTORE", "d", "0", "k1"],
            &["ZUNIONSTORE", "d", "-1", "k1"],
            &["ZUNIONSTORE", "d", "3", "k1", "k2"],
            &["ZUNIONSTORE", "d", "x", "k1"],
            &["ZUNIONSTORE", "d", "99999999999", "k1"],
        ],
    ),
    (
        "zinterstore",
        &[
            &["ZINTERSTORE", "d", "1", "k1"],
            &["ZINTERSTORE", "d", "0", "k1"],
        ],
    ),
    (
        "zdiffstore",
        &[
            &["ZDIFFSTORE", "d", "2", "k1", "k2"],
            &["ZDIFFSTORE", "d", "4", "k1"],
        ],
    ),
    (
        "zunion",
        &[
            &["ZUNION", "2", "k1", "k2", "WITHSCORES"],
            &["ZUNION", "0", "k1"],
            &["ZUNION", "3", "k1", "k2"],
            &["ZUNION", "x", "k1"],
        ],
    ),
    ("zinter", &[&["ZINTER", "1", "k1"], &["ZINTER", "5", "k1"]]),
    (
        "zdiff",
        &[&["ZDIFF", "2", "k1", "k2"], &["ZDIFF", "0", "k1"]],
    ),
    (
        "zintercard",
        &[
            &["ZINTERCARD", "2", "k1", "k2", "LIMIT", "5"],
            &["ZINTERCARD", "0", "k1"],
            &["ZINTERCARD", "2", "k1"],
            &["ZINTERCARD", "x", "k1"],
        ],
    ),
    (
        "sintercard",
        &[
            &["SINTERCARD", "2", "k1", "k2"],
            &["SINTERCARD", "2", "k1", "k2", "LIMIT", "1"],
            &["SINTERCARD", "0", "k1"],
            &["SINTERCARD", "3", "k1"],
            &["SINTERCARD", "x", "k1"],
            &["SINTERCARD", "-1", "k1"],
            &["SINTERCARD", "9223372036854775807", "k1"],
        ],
    ),
    (
        "lmpop",
        &[
            &["LMPOP", "2", "k1", "k2", "LEFT"],
            &["LMPOP", "1", "k1", "RIGHT", "COUNT", "2"],
            &["LMPOP", "1", "k1", "MIDDLE"],
            &["LMPOP", "0", "k1", "LEFT"],
            &["LMPOP", "2", "k1", "LEFT"],
            &["LMPOP", "x", "k1", "LEFT"],
            &["LMPOP", "9223372036854775807", "k1", "LEFT"],
        ],
    ),
    (
        "zmpop",
        &[
            &["ZMPOP", "2", "k1", "k2", "MIN"],
            &["ZMPOP", "3", "k1", "MIN"],
            &["ZMPOP", "0", "k1", "MAX"],
        ],
    ),
    (
        "blmpop",
        &[
            &["BLMPOP", "0.01", "2", "k1", "k2", "LEFT"],
            &["BLMPOP", "0.01", "3", "k1", "LEFT"],
            &["BLMPOP", "0.01", "0", "k1", "LEFT"],
            &["BLMPOP", "x", "0", "k1", "LEFT"],
            &["BLMPOP", "0.01", "x", "k1", "LEFT"],
        ],
    ),
    (
        "bzmpop",
        &[
            &["BZMPOP", "0.01", "1", "k1", "MIN", "COUNT", "3"],
            &["BZMPOP", "0.01", "5", "k1", "MIN"],
            &["BZMPOP", "0.01", "0", "k1", "MIN"],
        ],
    ),
    (
        "sort",
        &[
            &["SORT", "k1"],
            &["SORT", "k1", "STORE", "d"],
            &[
                "SORT", "k1", "BY", "w_*", "GET", "#", "GET", "o_*", "LIMIT", "0", "10", "ALPHA",
                "DESC", "STORE", "d",
            ],
            &["SORT", "k1", "BY", "store", "STORE", "d"],
            &["SORT", "k1", "STORE", "d1", "STORE", "d2"],
            &["SORT", "k1", "STORE"],
            &["SORT", "k1", "LIMIT", "store", "d", "STORE", "x"],
        ],
    ),
    (
        "sort_ro",
        &[
            &["SORT_RO", "k1", "BY", "w_*", "GET", "#"],
            &["SORT_RO", "k1", "STORE", "d"],
        ],
    ),
    (
        "migrate",
        &[
            &["MIGRATE", "h", "6379", "k1", "0", "5000"],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "COPY", "REPLACE", "KEYS", "k1", "k2",
                "k3",
            ],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "pw", "KEYS", "k1",
            ],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "u", "p", "KEYS", "k1", "k2",
            ],
            &["MIGRATE", "h", "6379", "k1", "0", "5000", "KEYS", "k2"],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "keys", "KEYS", "k1",
            ],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "AUTH2", "keys", "keys", "KEYS", "k1",
                "k2",
            ],
            &[
                "MIGRATE", "h", "6379", "", "0", "5000", "COPY", "keys", "KEYS", "k1",
            ],
            &["MIGRATE", "h", "6379", "", "0", "5000", "FOO", "KEYS", "k1"],
            &["MIGRATE", "h", "6379", "k1", "0", "5000", "AUTH"],
        ],
    ),
    (
        "georadius",
        &[
            &["GEORADIUS", "k1", "0", "0", "10", "km"],
            &[
                "GEORADIUS",
                "k1",
                "0",
                "0",
                "10",
                "km",
                "WITHDIST",
                "STORE",
                "d",
            ],
            &["GEORADIUS", "k1", "0", "0", "10", "km", "STOREDIST", "d"],
            &[
                "GEORADIUS",
                "k1",
                "0",
                "0",
                "10",
                "km",
                "COUNT",
                "3",
                "STORE",
                "d1",
            ],
        ],
    ),
    (
        "georadiusbymember",
        &[
            &["GEORADIUSBYMEMBER", "k1", "m", "10", "km"],
            &["GEORADIUSBYMEMBER", "k1", "m", "10", "km", "STORE", "d"],
        ],
    ),
    (
        "xread",
        &[
            &["XREAD", "STREAMS", "s1", "0"],
            &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
            &["XREAD", "BLOCK", "10", "STREAMS", "s1", "$"],
            &["XREAD", "STREAMS", "STREAMS", "s1", "0", "0"],
            &["XREAD", "STREAMS", "s1", "s2", "0"],
            &["XREAD", "COUNT", "x", "STREAMS", "s1", "0"],
            &["XREAD", "GROUP", "g", "c", "STREAMS", "s1", "0"],
            &["XREAD", "NOACK", "STREAMS", "s1", "0"],
            &["XREAD", "FOO", "STREAMS", "s1", "0"],
            &["XREAD", "COUNT", "1", "s1", "0"],
            &["XREAD", "COUNT", "1", "STREAMS"],
            &["XREAD", "BLOCK", "-1", "STREAMS", "s1", "0"],
            &["XREAD", "BLOCK", "x", "STREAMS", "s1", "0"],
            &[
                "XREAD",
                "BLOCK",
                "9223372036854775807",
                "STREAMS",
                "s1",
                "0",
            ],
        ],
    ),
    (
        "xreadgroup",
        &[
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "1",
                "BLOCK",
                "10",
                "NOACK",
                "STREAMS",
                "s1",
                "s2",
                ">",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g", "streams", "STREAMS", "s1", ">"],
            &[
                "XREADGROUP",
                "COUNT",
                "1",
                "BLOCK",
                "0",
                "STREAMS",
                "s1",
                "0",
            ],
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", "s2", ">"],
            &["XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s1", ">"],
        ],
    ),
    ("object|encoding", &[&["OBJECT", "ENCODING", "k1"]]),
    (
        "memory|usage",
        &[&["MEMORY", "USAGE", "k1", "SAMPLES", "5"]],
    ),
    (
        "xinfo|stream",
        &[&["XINFO", "STREAM", "s1", "FULL", "COUNT", "10"]],
    ),
    ("xinfo|consumers", &[&["XINFO", "CONSUMERS", "s1", "g"]]),
    ("bitop", &[&["BITOP", "AND", "d", "k1", "k2", "k3"]]),
    ("blpop", &[&["BLPOP", "k1", "k2", "k3", "0"]]),
    ("mset", &[&["MSET", "k1", "v1", "k2", "v2", "k3", "v3"]]),
    (
        "geosearchstore",
        &[&[
            "GEOSEARCHSTORE",
            "d",
            "k1",
            "FROMMEMBER",
            "m",
            "BYRADIUS",
            "1",
            "km",
        ]],
    ),
    ("client|kill", &[&["CLIENT", "KILL", "ID", "987654"]]),
];

/// Where the table deliberately differs from `COMMAND GETKEYS`: Redis Cluster routes these by
/// the command's own key finder (`getKeysFromCommand`), and so does the table.
const DIVERGENT: &[(&[&str], &[&str], &str)] = &[
    (
        &[
            "GEORADIUS",
            "{t}k",
            "0",
            "0",
            "10",
            "km",
            "STORE",
            "{u}a",
            "STOREDIST",
            "{t}b",
        ],
        &["{t}k", "{t}b"],
        "only the last of STORE/STOREDIST is written (GETKEYS names both)",
    ),
    (
        &[
            "GEORADIUSBYMEMBER",
            "{t}k",
            "m",
            "10",
            "km",
            "STOREDIST",
            "{u}a",
            "STORE",
            "{t}b",
        ],
        &["{t}k", "{t}b"],
        "only the last of STORE/STOREDIST is written (GETKEYS names both)",
    ),
    (
        &[
            "XREADGROUP",
            "COUNT",
            "1",
            "GROUP",
            "g",
            "streams",
            "STREAMS",
            "{t}a",
            "{t}b",
            ">",
            ">",
        ],
        &["{t}a", "{t}b"],
        "a consumer called 'streams' is not the STREAMS keyword (GETKEYS takes it for one)",
    ),
    (
        &["MIGRATE", "h", "6379", "", "0", "5000", "KEYS"],
        &[],
        "KEYS with no key after it names no key (GETKEYS names the empty key argument)",
    ),
];

/// Commands never sent to a server outside `COMMAND GETKEYS`, whatever the table says.
const NEVER_RUN: &[&str] = &[
    "shutdown",
    "monitor",
    "sync",
    "psync",
    "debug",
    "failover",
    "replicaof",
    "slaveof",
    "quit",
    "reset",
    "flushall",
    "flushdb",
    "swapdb",
    "client|pause",
    "client|unpause",
    "client|kill",
    "client|reply",
];

type Args = Vec<Vec<u8>>;

fn args(strs: &[&str]) -> Args {
    strs.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// Arguments for `spec`: a name (upper case for top-level commands, so lookups see case) and
/// distinct placeholders up to the arity, and for variadic commands a few more.
fn generated(spec: &CommandSpec) -> Vec<Args> {
    let mut name: Vec<Vec<u8>> = spec
        .full_name()
        .split('|')
        .map(|p| p.as_bytes().to_vec())
        .collect();
    if name.len() == 1 {
        name[0].make_ascii_uppercase();
    }
    let min = spec.arity().unsigned_abs() as usize;
    let lengths: &[usize] = if spec.arity() > 0 {
        &[0]
    } else {
        &[0, 1, 2, 5]
    };
    lengths
        .iter()
        .map(|extra| {
            let mut a = name.clone();
            while a.len() < (min + extra).max(name.len()) {
                a.push(format!("a{}", a.len()).into_bytes());
            }
            a
        })
        .collect()
}

/// Every command and subcommand with generated arguments, plus the hand-picked samples.
fn corpus() -> Vec<Args> {
    let mut out: Vec<Args> = Vec::new();
    for spec in table().iter_all() {
        if spec.is_container() {
            continue;
        }
        out.extend(generated(spec));
    }
    for (_, samples) in SAMPLES {
        out.extend(samples.iter().map(|s| args(s)));
    }
    out
}

fn command(args: &Args) -> Command {
    Command::from_args(args)
}

fn show(args: &[Vec<u8>]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    format!("{parts:?}")
}

/// Sends every request on one connection, pipelined, and returns the replies in order.
fn pipeline(conn: &mut RawConn, requests: &[Args]) -> Vec<Reply> {
    let mut bytes = Vec::new();
    for r in requests {
        bytes.extend(encode_command(r));
    }
    conn.send(&bytes);
    requests.iter().map(|_| conn.read_reply()).collect()
}

fn bulks(reply: &Reply) -> Option<Vec<Vec<u8>>> {
    reply
        .as_array()?
        .iter()
        .map(|r| r.as_bytes().map(<[u8]>::to_vec))
        .collect()
}

#[test]
fn len_is_command_count() {
    let server = RedisNode::standalone();
    let count = server.raw().request(&["COMMAND", "COUNT"]);
    assert_eq!(count, Reply::Integer(table().len() as i64));
}

#[test]
fn info_bytes_are_command_info() {
    let server = RedisNode::standalone();
    let specs: Vec<&CommandSpec> = table().iter_all().collect();
    let requests: Vec<Args> = specs
        .iter()
        .map(|s| args(&["COMMAND", "INFO", s.full_name()]))
        .collect();
    let mut conn = server.raw();
    let mut raw = Vec::new();
    let mut bytes = Vec::new();
    for r in &requests {
        bytes.extend(encode_command(r));
    }
    conn.send(&bytes);
    for _ in &requests {
        raw.push(conn.read_raw_reply());
    }
    let mut failures = Vec::new();
    for (spec, reply) in specs.iter().zip(raw) {
        let (frame, _) = Frame::decode(&Bytes::from(reply), Limits::default())
            .expect("valid RESP")
            .expect("whole reply");
        let Some([entry]) = frame.as_array() else {
            failures.push(format!(
                "{}: COMMAND INFO answered {frame:?}",
                spec.full_name()
            ));
            continue;
        };
        // Redis lists subcommands in hash-table order; the table sorts them by name.
        let entry = match entry {
            Frame::Array(fields) if fields.len() == 10 => {
                let mut fields = fields.clone();
                if let Frame::Array(subs) = &mut fields[9] {
                    subs.sort_by_key(|s| s.as_array().and_then(|f| f[0].as_bytes()).cloned());
                }
                Frame::Array(fields)
            }
            other => other.clone(),
        };
        if entry.to_bytes() != spec.info_bytes() {
            failures.push(format!(
                "{}: entry differs from COMMAND INFO",
                spec.full_name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn keys_match_command_getkeys() {
    let server = RedisNode::standalone();
    let corpus = corpus();
    let mut to_ask = Vec::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for a in &corpus {
        let cmd = command(a);
        let spec = match table().lookup(&cmd) {
            Ok(spec) => spec,
            Err(e) => {
                failures.push(format!("{}: lookup failed: {e}", show(a)));
                continue;
            }
        };
        let ours = spec.keys(&cmd);
        if a.len() < 2 {
            // COMMAND GETKEYS needs the command and at least one argument.
            assert_eq!(ours.as_deref(), Ok(&[][..]), "{}", show(a));
            continue;
        }
        to_ask.push((a.clone(), spec, ours));
    }
    let requests: Vec<Args> = to_ask
        .iter()
        .map(|(a, _, _)| {
            let mut r = args(&["COMMAND", "GETKEYS"]);
            r.extend(a.iter().cloned());
            r
        })
        .collect();
    let replies = pipeline(&mut server.raw(), &requests);
    let mut rejected = Vec::new();
    for ((a, spec, ours), reply) in to_ask.into_iter().zip(replies) {
        checked += 1;
        match ours {
            Err(e) => rejected.push((a, e)),
            Ok(keys) => {
                let ours: Vec<Vec<u8>> = keys.iter().map(|&i| a[i].clone()).collect();
                let theirs = match (&reply, bulks(&reply)) {
                    (_, Some(names)) => names,
                    (Reply::Error(e), _)
                        if e == "ERR The command has no key arguments"
                            || e == "ERR Invalid arguments specified for command" =>
                    {
                        Vec::new()
                    }
                    _ => {
                        failures.push(format!("{}: GETKEYS answered {reply:?}", show(&a)));
                        continue;
                    }
                };
                if ours != theirs {
                    failures.push(format!(
                        "{} ({}): ours {} GETKEYS {}",
                        show(&a),
                        spec.full_name(),
                        show(&ours),
                        show(&theirs)
                    ));
                }
            }
        }
    }
    // Where the table rejects the key arguments, the command itself must fail the same way.
    let mut conn = server.raw();
    conn.set_read_timeout(Duration::from_secs(5));
    for (a, e) in &rejected {
        let name = table().lookup(&command(a)).unwrap().full_name();
        assert!(!NEVER_RUN.contains(&name), "{name} is never run");
        let reply = conn.request(a);
        if reply.as_error().map(str::as_bytes) != Some(&e.message_bytes()[..]) {
            failures.push(format!("{}: ours '{e}', Redis {reply:?}", show(a)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 600, "only {checked} commands checked");
    assert!(
        rejected.len() > 40,
        "only {} rejections checked",
        rejected.len()
    );
}

/// `keys_and_flags` is Redis's `getKeysFromCommandWithSpecs`: for every command in the corpus,
/// and forms that make the specs give up so that Redis's own key finders answer, the same
/// keys with the same access flags as `COMMAND GETKEYSANDFLAGS`.
#[test]
fn keys_and_flags_match_command_getkeysandflags() {
    let server = RedisNode::standalone();
    let mut corpus = corpus();
    corpus.extend(
        [
            &["ZUNIONSTORE", "d", "1abc", "a", "b"][..],
            &["ZINTER", " 2", "a", "b"],
            &["EVAL", "s", "+1x", "k"],
            &["SET", "k", "v", "NX", "GET"],
            &["BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "WRAP"],
            &["BITFIELD", "k", "GET", "u8"],
            &["SORT", "k", "STORE", "a", "STORE", "b"],
            &["SORT", "k", "GET", "store", "STORE"],
            &[
                "MIGRATE", "h", "1", "k", "0", "1", "COPY", "AUTH2", "u", "p",
            ],
            &["MIGRATE", "h", "1", "", "0", "1", "BOGUS", "KEYS", "a"],
            &["XREAD", "STREAMS", "a", "streams", "b"],
        ]
        .iter()
        .map(|a| args(a)),
    );
    let asked: Vec<&Args> = corpus.iter().filter(|a| a.len() >= 2).collect();
    let requests: Vec<Args> = asked
        .iter()
        .map(|a| {
            let mut r = args(&["COMMAND", "GETKEYSANDFLAGS"]);
            r.extend(a.iter().cloned());
            r
        })
        .collect();
    let replies = pipeline(&mut server.raw(), &requests);
    let mut failures = Vec::new();
    let mut with_flags = 0;
    for (a, reply) in asked.iter().zip(&replies) {
        let cmd = command(a);
        let Ok(spec) = table().lookup(&cmd) else {
            continue;
        };
        let ours: Vec<(Vec<u8>, Vec<String>)> = spec
            .keys_and_flags(&cmd)
            .iter()
            .map(|&(at, flags)| (a[at].clone(), flags.names().map(String::from).collect()))
            .collect();
        let theirs: Vec<(Vec<u8>, Vec<String>)> = match reply {
            Reply::Error(e)
                if e == "ERR The command has no key arguments"
                    || e == "ERR Invalid arguments specified for command" =>
            {
                Vec::new()
            }
            Reply::Array(Some(entries)) => entries
                .iter()
                .map(|entry| {
                    let pair = entry.as_array().expect("[key, flags]");
                    let flags = pair[1].as_array().expect("flags").iter();
                    let names = flags.map(|f| match f {
                        Reply::Simple(name) => name.clone(),
                        other => panic!("flag {other:?}"),
                    });
                    (pair[0].as_bytes().expect("key").to_vec(), names.collect())
                })
                .collect(),
            other => {
                failures.push(format!("{}: GETKEYSANDFLAGS answered {other:?}", show(a)));
                continue;
            }
        };
        with_flags += usize::from(theirs.iter().any(|(_, f)| !f.is_empty()));
        if ours != theirs {
            failures.push(format!("{}: ours {ours:?} Redis {theirs:?}", show(a)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(with_flags > 300, "only {with_flags} replies carried flags");
}

#[test]
fn divergences_from_getkeys_follow_cluster_routing() {
    // A cluster node that owns every slot refuses keys from two slots with CROSSSLOT before it
    // looks at anything else, and so shows which keys it routes a command by.
    let dir = TempDir::new("cluster");
    let node = RedisNode::start(dir.path(), &NodeOptions::default());
    let mut conn = node.raw();
    assert_eq!(
        conn.request(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        Reply::Simple("OK".into())
    );
    let getkeys_server = RedisNode::standalone();
    let mut getkeys = getkeys_server.raw();
    for (a, expected, why) in DIVERGENT {
        let cmd = Command::from_args(*a);
        let ours: Vec<&[u8]> = table()
            .lookup(&cmd)
            .unwrap()
            .keys(&cmd)
            .unwrap()
            .iter()
            .map(|&i| cmd.arg(i))
            .collect();
        let expected: Vec<&[u8]> = expected.iter().map(|k| k.as_bytes()).collect();
        assert_eq!(ours, expected, "{a:?}: {why}");
        let mut request = vec!["COMMAND", "GETKEYS"];
        request.extend_from_slice(a);
        let theirs = getkeys.request(&request);
        assert_ne!(
            bulks(&theirs).unwrap_or_default(),
            expected.iter().map(|k| k.to_vec()).collect::<Vec<_>>(),
            "{a:?} no longer differs from GETKEYS"
        );
        let slots: BTreeSet<Slot> = ours.iter().map(|k| Slot::of_key(k)).collect();
        let getkeys_slots: BTreeSet<Slot> = bulks(&theirs)
            .unwrap_or_default()
            .iter()
            .map(|k| Slot::of_key(k))
            .collect();
        if a[0] == "MIGRATE" {
            continue; // One key either way: nothing for CROSSSLOT to tell.
        }
        assert!(
            slots.len() == 1 && getkeys_slots.len() > 1,
            "{a:?} tells nothing"
        );
        let reply = conn.request(a);
        assert!(
            !reply.as_error().is_some_and(|e| e.starts_with("CROSSSLOT")),
            "{a:?}: the cluster routes by GETKEYS' keys after all: {reply:?}"
        );
    }
    // Shard channels are routed like keys.
    let cmd = Command::from_args(["SSUBSCRIBE", "{t}a", "{u}b"]);
    let spec = table().lookup(&cmd).unwrap();
    assert!(spec.keys(&cmd).unwrap().is_empty());
    assert_eq!(spec.shard_channels(&cmd).as_slice(), &[1, 2]);
    let reply = node.raw().request(&["SSUBSCRIBE", "{t}a", "{u}b"]);
    assert_eq!(
        reply.as_error(),
        Some("CROSSSLOT Keys in request don't hash to the same slot")
    );
}

/// Wrong names, wrong subcommands and wrong arities, each a way Redis rejects a command.
fn rejected_corpus() -> Vec<Args> {
    let long_x = vec![b'x'; 200];
    let long_y = vec![b'y'; 200];
    let mut out: Vec<Args> = vec![
        args(&["foobar", "a", "b"]),
        args(&["foobar"]),
        args(&["GETT", "k"]),
        args(&["FooBar\r\nx", "a\nb"]),
        vec![long_x.clone(), long_y],
        vec![
            b"x".to_vec(),
            vec![b'y'; 100],
            vec![b'z'; 100],
            b"never".to_vec(),
        ],
        vec![b"x".to_vec(), vec![b'y'; 126], vec![b'z'; 100]],
        std::iter::once(b"x".to_vec())
            .chain(std::iter::repeat_n(b"ab".to_vec(), 60))
            .collect(),
        vec![b"get\0x".to_vec(), b"a\0b".to_vec(), b"c".to_vec()],
        args(&["", "a"]),
        vec![b"x".to_vec(), b"\xff\xfe".to_vec()],
        vec![b"\xc3\xa9t\xe9".to_vec(), b"\xe9".to_vec()],
        args(&["CLIENT", "a\r\nb"]),
        vec![b"client".to_vec(), b"xYz\0q".to_vec(), b"a".to_vec()],
        vec![b"CONFIG".to_vec(), long_x],
    ];
    for spec in table().iter_all() {
        if NEVER_RUN.contains(&spec.full_name()) {
            continue;
        }
        let name: Vec<Vec<u8>> = spec
            .full_name()
            .split('|')
            .map(|p| p.as_bytes().to_vec())
            .collect();
        if spec.is_container() {
            out.push(vec![name[0].clone(), b"nosuchsub".to_vec()]);
            out.push(vec![
                name[0].to_ascii_uppercase(),
                b"".to_vec(),
                b"a".to_vec(),
            ]);
        }
        let min = spec.arity().unsigned_abs() as usize;
        let mut lengths = vec![min.saturating_sub(1)];
        if spec.arity() > 0 {
            lengths.push(min + 1);
        }
        for len in lengths {
            if len < name.len() || (len == name.len() && spec.arity_accepts(len)) {
                continue;
            }
            let mut a = name.clone();
            while a.len() < len {
                a.push(format!("a{}", a.len()).into_bytes());
            }
            out.push(a);
        }
    }
    out
}

#[test]
fn lookup_errors_match_redis() {
    let server = RedisNode::standalone();
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for a in rejected_corpus() {
        match table().lookup(&command(&a)) {
            Err(e) => {
                expected.push(e);
                requests.push(a);
            }
            Ok(spec) => panic!("{} resolved to {}", show(&a), spec.full_name()),
        }
    }
    let kinds: BTreeSet<&str> = expected
        .iter()
        .map(|e| match e {
            CommandError::Unknown { .. } => "unknown",
            CommandError::UnknownSubcommand { .. } => "subcommand",
            CommandError::WrongArity { .. } => "arity",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let mut conn = server.raw();
    conn.set_read_timeout(Duration::from_secs(10));
    let mut bytes = Vec::new();
    for r in &requests {
        bytes.extend(encode_command(r));
    }
    conn.send(&bytes);
    let mut failures = Vec::new();
    for (a, e) in requests.iter().zip(&expected) {
        let raw = conn.read_raw_reply();
        let mut ours = b"-".to_vec();
        ours.extend(e.message_bytes());
        ours.extend_from_slice(b"\r\n");
        if raw != ours {
            failures.push(format!(
                "{}: ours {:?}, Redis {:?}",
                show(a),
                ours.escape_ascii().to_string(),
                raw.escape_ascii().to_string()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        requests.len(),
        failures.join("\n")
    );
    assert!(requests.len() > 300, "only {} rejections", requests.len());
}

/// Commands the flag probe never sends: they stop or reconfigure the server, change the
/// probe's own connection beyond a reply, or end the pause the probe relies on.
const PROBE_SKIP: &[&str] = &[
    "shutdown",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
    "client|pause",
    "client|unpause",
    "client|reply",
];

/// How Redis refuses a PROTECTED command it is not configured to allow.
const NOT_ALLOWED: &[u8] = b"command not allowed. If the enable-";

#[test]
fn hidden_flags_match_server_behaviour() {
    // Under CLIENT PAUSE WRITE, Redis holds back every write and MAY_REPLICATE command before
    // running it, and answers the rest; PROTECTED commands are refused before that.
    let server = RedisNode::standalone();
    let mut control = server.raw();
    assert_eq!(
        control.request(&["CLIENT", "PAUSE", "60000", "WRITE"]),
        Reply::Simple("OK".into())
    );
    let corpus = corpus();
    let mut probes = Vec::new();
    for spec in table().iter_all() {
        if spec.is_container()
            || spec.is_write()
            || spec.is_blocking()
            || PROBE_SKIP.contains(&spec.full_name())
        {
            continue;
        }
        let Some(a) = corpus.iter().find(|a| {
            let cmd = command(a);
            table()
                .lookup(&cmd)
                .is_ok_and(|s| std::ptr::eq(s, spec) && s.keys(&cmd).is_ok())
        }) else {
            panic!("no valid sample for {}", spec.full_name());
        };
        let mut conn = server.raw();
        conn.send(&encode_command(a));
        probes.push((spec, conn));
    }
    // Poll until every probe has answered or sits held back: Redis lists a client it holds
    // back as blocked (flag `b`). A slow command delays CLIENT LIST until it has answered.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut replies: Vec<Option<Vec<u8>>> = vec![None; probes.len()];
    let held = loop {
        for ((_, conn), reply) in probes.iter_mut().zip(&mut replies) {
            if reply.is_none() {
                conn.set_read_timeout(Duration::from_millis(1));
                if let Ok(Some(raw)) = conn.try_read_raw_reply() {
                    *reply = Some(raw);
                }
            }
        }
        let blocked = blocked_clients(&mut control);
        let held: Vec<bool> = probes
            .iter()
            .map(|(_, conn)| blocked.contains(&conn.stream().local_addr().unwrap().to_string()))
            .collect();
        if replies.iter().zip(&held).all(|(r, h)| r.is_some() || *h) {
            break held;
        }
        assert!(
            Instant::now() < deadline,
            "probes neither answered nor held back"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut failures = Vec::new();
    for (((spec, _), reply), held) in probes.iter().zip(&replies).zip(held) {
        if held != spec.flags().contains(Flags::MAY_REPLICATE) {
            failures.push(format!(
                "{}: held back {held}, MAY_REPLICATE {}",
                spec.full_name(),
                spec.flags().contains(Flags::MAY_REPLICATE)
            ));
        }
        let refused = reply
            .as_ref()
            .is_some_and(|raw| raw.windows(NOT_ALLOWED.len()).any(|w| w == NOT_ALLOWED));
        if refused != spec.flags().contains(Flags::PROTECTED) {
            failures.push(format!(
                "{}: refused as protected {refused}",
                spec.full_name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(probes.len() > 200, "only {} probes", probes.len());
}

/// The addresses (`ip:port`) of the clients `CLIENT LIST` shows as blocked.
fn blocked_clients(control: &mut RawConn) -> BTreeSet<String> {
    let list = control.request(&["CLIENT", "LIST"]);
    let text = String::from_utf8_lossy(list.as_bytes().expect("CLIENT LIST is a string"));
    text.lines()
        .filter_map(|line| {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            };
            field("flags")?
                .contains('b')
                .then(|| field("addr").map(str::to_owned))?
        })
        .collect()
}
