//! The commands that hold a connection, seen by the clients that rely on them: `MULTI` … `EXEC`
//! with `WATCH`, and the blocking commands (`BLPOP` and friends, `XREAD BLOCK`). A transaction
//! through the proxy must answer byte for byte what one `redis-server` answers; a blocked client
//! must wait as long as Redis makes it wait, get exactly its own element, and leave nothing
//! popped for nobody when it goes away.

use std::time::{Duration, Instant};

use redis::Commands;

use crate::harness::{
    assert_eventually, encode_command, Proxy, RawConn, RedisCluster, RedisNode, Reply,
};

/// How long a test waits for a reply it expects before calling the proxy stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a blocked command must stay unanswered to count as blocked: about what a client
/// would notice, and long enough for any wrongly sent reply to arrive.
const STILL_BLOCKED_FOR: Duration = Duration::from_millis(300);

const EXECABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";
const CROSSSLOT: &[u8] = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n";
/// `EXEC`'s answer when a watched key changed: a nil array.
const NIL_ARRAY: &[u8] = b"*-1\r\n";

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

/// Command sequences whose every reply must match a standalone `redis-server`'s, byte for byte.
/// `{t}` in an argument becomes a hash tag of the sequence's own, so all its keys share a slot.
const TRANSACTIONS: &[(&str, &[&[&str]])] = &[
    (
        "EXEC runs the queued commands",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["INCR", "{t}a"],
            &["GET", "{t}a"],
            &["RPUSH", "{t}list", "x", "y"],
            &["LRANGE", "{t}list", "0", "-1"],
            &["EXEC"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "DISCARD drops the queued commands",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["DISCARD"],
            &["GET", "{t}a"],
            &["DISCARD"],
        ],
    ),
    ("an empty transaction", &[&["MULTI"], &["EXEC"]]),
    (
        "keyless commands are queued with the keyed ones",
        &[
            &["MULTI"],
            &["PING"],
            &["ECHO", "hi"],
            &["PING", "hello"],
            &["SET", "{t}a", "1"],
            &["PING"],
            &["EXEC"],
            &["MULTI"],
            &["PING"],
            &["ECHO", "only keyless"],
            &["EXEC"],
        ],
    ),
    (
        "an unknown command aborts the transaction",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["NOSUCHCOMMAND", "{t}a"],
            &["SET", "{t}b", "2"],
            &["EXEC"],
            &["GET", "{t}a"],
            &["GET", "{t}b"],
        ],
    ),
    (
        "an unknown command before the first key aborts the transaction",
        &[
            &["MULTI"],
            &["NOSUCHCOMMAND"],
            &["SET", "{t}a", "1"],
            &["EXEC"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "a wrong number of arguments aborts the transaction",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["GET"],
            &["EXEC"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "runtime errors stay inside EXEC's reply",
        &[
            &["SET", "{t}text", "not a number"],
            &["MULTI"],
            &["INCR", "{t}text"],
            &["LPUSH", "{t}text", "x"],
            &["SET", "{t}a", "v", "EX", "soon"],
            &["SET", "{t}b", "written"],
            &["EXEC"],
            &["GET", "{t}a"],
            &["GET", "{t}b"],
            &["GET", "{t}text"],
        ],
    ),
    (
        "MULTI inside MULTI",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["MULTI"],
            &["INCR", "{t}a"],
            &["EXEC"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "transaction commands without MULTI",
        &[
            &["EXEC"],
            &["DISCARD"],
            &["UNWATCH"],
            &["MULTI"],
            &["INCR", "{t}n"],
            &["EXEC"],
            &["EXEC"],
        ],
    ),
    (
        "WATCH and UNWATCH without interference",
        &[
            &["WATCH", "{t}a"],
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["EXEC"],
            &["WATCH", "{t}a", "{t}b"],
            &["UNWATCH"],
            &["MULTI"],
            &["GET", "{t}a"],
            &["EXEC"],
            &["WATCH", "{t}a"],
            &["MULTI"],
            &["DISCARD"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "WATCH inside MULTI",
        &[
            &["MULTI"],
            &["SET", "{t}a", "1"],
            &["WATCH", "{t}a"],
            &["UNWATCH"],
            &["EXEC"],
            &["GET", "{t}a"],
        ],
    ),
    (
        "blocking commands inside MULTI do not block",
        &[
            &["MULTI"],
            &["BLPOP", "{t}list", "0"],
            &["RPUSH", "{t}list", "x"],
            &["BLPOP", "{t}list", "0"],
            &["EXEC"],
        ],
    ),
];

#[test]
fn transactions_answer_exactly_like_redis() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();

    // Every sequence runs even when an earlier one differs, so one run names every difference.
    let mut differences = Vec::new();
    for (index, (name, commands)) in TRANSACTIONS.iter().enumerate() {
        let with_tag = |tag: &str| -> Vec<Vec<String>> {
            commands
                .iter()
                .map(|args| args.iter().map(|a| a.replace("{t}", tag)).collect())
                .collect()
        };

        // One command at a time, as an interactive client sends them.
        let commands = with_tag(&format!("{{tx{index}}}"));
        let mut redis = reference.raw();
        let mut raw = proxy.raw();
        for (step, command) in commands.iter().enumerate() {
            redis.send_command(command);
            let want = redis.read_raw_reply();
            raw.send_command(command);
            let got = raw.read_raw_reply();
            if got != want {
                differences.push(difference(name, step, command, &got, &want));
                break;
            }
        }

        // All at once, as a pipelining client sends them, on keys of their own.
        let commands = with_tag(&format!("{{tx{index}-pipelined}}"));
        let pipeline: Vec<u8> = commands.iter().flat_map(|c| encode_command(c)).collect();
        let mut redis = reference.raw();
        let mut raw = proxy.raw();
        redis.send(&pipeline);
        raw.send(&pipeline);
        for (step, command) in commands.iter().enumerate() {
            let want = redis.read_raw_reply();
            let got = raw.read_raw_reply();
            if got != want {
                let name = format!("{name} (pipelined)");
                differences.push(difference(&name, step, command, &got, &want));
                break;
            }
        }
    }
    assert!(
        differences.is_empty(),
        "the proxy answered differently from redis-server:\n{}",
        differences.join("\n")
    );
}

/// Describes the first reply of a sequence that differs from Redis's.
fn difference(name: &str, step: usize, command: &[String], got: &[u8], want: &[u8]) -> String {
    format!(
        "{name}: command {step} {command:?}\n    proxy:        {}\n    redis-server: {}",
        got.escape_ascii(),
        want.escape_ascii()
    )
}

#[test]
fn transaction_across_slots_is_refused_and_writes_nothing() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let [a, b] = [0, 1].map(|m| tag_on(&cluster, &cluster.masters()[m], "cross"));
    // Another slot on the first key's master: one node could run it, but not as one slot.
    let same_node = tag_on_other_slot(&cluster, &a, "near");
    let key = |tag: &str, name: &str| format!("{tag}{name}");
    let mut raw = proxy.raw();

    assert_eq!(raw.request(&["MULTI"]), Reply::Simple("OK".into()));
    assert_eq!(
        raw.request(&["SET", &key(&a, "k"), "1"]),
        Reply::Simple("QUEUED".into())
    );
    for command in [
        vec!["SET".to_string(), key(&b, "k"), "2".into()],
        vec!["SET".into(), key(&same_node, "k"), "3".into()],
        vec![
            "MSET".into(),
            key(&a, "m"),
            "1".into(),
            key(&b, "m"),
            "2".into(),
        ],
    ] {
        raw.send_command(&command);
        assert_raw_eq(raw.read_raw_reply(), CROSSSLOT, &format!("{command:?}"));
    }
    assert_eq!(
        raw.request(&["INCR", &key(&a, "n")]),
        Reply::Simple("QUEUED".into())
    );
    raw.send_command(&["EXEC"]);
    assert_raw_eq(raw.read_raw_reply(), EXECABORT, "EXEC");

    // WATCH pins the transaction to the watched keys' slot.
    raw.send_command(&["WATCH", &key(&a, "k"), &key(&b, "k")]);
    assert_raw_eq(raw.read_raw_reply(), CROSSSLOT, "WATCH across slots");
    assert_eq!(
        raw.request(&["WATCH", &key(&a, "k")]),
        Reply::Simple("OK".into())
    );
    assert_eq!(raw.request(&["MULTI"]), Reply::Simple("OK".into()));
    raw.send_command(&["SET", &key(&b, "k"), "4"]);
    assert_raw_eq(
        raw.read_raw_reply(),
        CROSSSLOT,
        "a command off the WATCHed slot",
    );
    assert_eq!(
        raw.request(&["SET", &key(&a, "k"), "5"]),
        Reply::Simple("QUEUED".into())
    );
    raw.send_command(&["EXEC"]);
    assert_raw_eq(raw.read_raw_reply(), EXECABORT, "EXEC after WATCH");

    // Nothing was written, on any master.
    assert_eq!(keys_per_master(&cluster), [0, 0, 0]);

    // The client is not stuck in the refused transaction: the next one runs on another slot.
    assert_eq!(raw.request(&["MULTI"]), Reply::Simple("OK".into()));
    assert_eq!(
        raw.request(&["SET", &key(&b, "k"), "after"]),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(
        raw.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::Simple("OK".into())]))
    );
    let owner = cluster.node_for_slot(cluster.key_slot(&b));
    let stored: Option<String> = owner.client().get(key(&b, "k")).unwrap();
    assert_eq!(stored.as_deref(), Some("after"));
}

#[test]
fn commands_needing_every_master_abort_a_transaction() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{fan}"));
    let mut raw = proxy.raw();

    // After the transaction's first key, and before it.
    for first in [Some(["SET", "{fan}k", "1"]), None] {
        assert_eq!(raw.request(&["MULTI"]), Reply::Simple("OK".into()));
        if let Some(command) = first {
            assert_eq!(raw.request(&command), Reply::Simple("QUEUED".into()));
        }
        for command in [&["DBSIZE"][..], &["KEYS", "*"], &["SCAN", "0"]] {
            let reply = raw.request(command);
            assert!(
                reply.as_error().is_some_and(|e| e.starts_with("ERR ")),
                "{command:?} inside MULTI (first {first:?}): {reply:?}"
            );
        }
        assert_eq!(
            raw.request(&["SET", "{fan}k", "2"]),
            Reply::Simple("QUEUED".into())
        );
        raw.send_command(&["EXEC"]);
        assert_raw_eq(raw.read_raw_reply(), EXECABORT, "EXEC");
        let stored: Option<String> = owner.client().get("{fan}k").unwrap();
        assert_eq!(stored, None, "{{fan}}k after the aborted transaction");
    }
    // Outside a transaction the same client still gets them answered.
    assert_eq!(raw.request(&["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn watch_aborts_exec_when_another_client_changes_the_key() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{w}"));
    let stored = |key: &str| -> Option<String> { owner.client().get(key).unwrap() };
    let mut watcher = proxy.raw();
    let mut other = proxy.raw();
    assert_eq!(
        other.request(&["SET", "{w}k", "initial"]),
        Reply::Simple("OK".into())
    );

    // Another client of the proxy writes the watched key: the transaction does not run.
    assert_eq!(
        watcher.request(&["WATCH", "{w}k"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(watcher.request(&["GET", "{w}k"]), Reply::bulk("initial"));
    assert_eq!(
        other.request(&["SET", "{w}k", "theirs"]),
        Reply::Simple("OK".into())
    );
    open_transaction(&mut watcher, &[&["SET", "{w}k", "mine"], &["INCR", "{w}n"]]);
    watcher.send_command(&["EXEC"]);
    assert_raw_eq(watcher.read_raw_reply(), NIL_ARRAY, "EXEC after a change");
    assert_eq!(stored("{w}k").as_deref(), Some("theirs"));
    assert_eq!(stored("{w}n"), None);

    // A write straight to the node counts too.
    assert_eq!(
        watcher.request(&["WATCH", "{w}k"]),
        Reply::Simple("OK".into())
    );
    let () = owner.client().set("{w}k", "direct").unwrap();
    open_transaction(&mut watcher, &[&["SET", "{w}k", "mine"]]);
    watcher.send_command(&["EXEC"]);
    assert_raw_eq(
        watcher.read_raw_reply(),
        NIL_ARRAY,
        "EXEC after a direct change",
    );
    assert_eq!(stored("{w}k").as_deref(), Some("direct"));

    // Without interference the transaction runs.
    assert_eq!(
        watcher.request(&["WATCH", "{w}k"]),
        Reply::Simple("OK".into())
    );
    open_transaction(&mut watcher, &[&["SET", "{w}k", "mine"], &["INCR", "{w}n"]]);
    assert_eq!(
        watcher.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::Simple("OK".into()), Reply::Integer(1)]))
    );
    assert_eq!(stored("{w}k").as_deref(), Some("mine"));
    assert_eq!(stored("{w}n").as_deref(), Some("1"));

    // UNWATCH forgets the watched keys.
    assert_eq!(
        watcher.request(&["WATCH", "{w}k"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        other.request(&["SET", "{w}k", "theirs again"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(watcher.request(&["UNWATCH"]), Reply::Simple("OK".into()));
    open_transaction(&mut watcher, &[&["SET", "{w}k", "mine again"]]);
    assert_eq!(
        watcher.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::Simple("OK".into())]))
    );
    assert_eq!(stored("{w}k").as_deref(), Some("mine again"));

    // A failed EXEC unwatches too: the next transaction runs despite a write before it.
    assert_eq!(
        watcher.request(&["WATCH", "{w}k"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        other.request(&["SET", "{w}k", "theirs"]),
        Reply::Simple("OK".into())
    );
    open_transaction(&mut watcher, &[&["SET", "{w}k", "lost"]]);
    watcher.send_command(&["EXEC"]);
    assert_raw_eq(watcher.read_raw_reply(), NIL_ARRAY, "EXEC after a change");
    assert_eq!(
        other.request(&["SET", "{w}k", "theirs once more"]),
        Reply::Simple("OK".into())
    );
    open_transaction(&mut watcher, &[&["SET", "{w}k", "last"]]);
    assert_eq!(
        watcher.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::Simple("OK".into())]))
    );
    assert_eq!(stored("{w}k").as_deref(), Some("last"));
}

#[test]
fn slot_moving_under_an_open_transaction_aborts_it_without_a_redirect() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let slot = cluster.key_slot("{mig}");
    let from = cluster.node_for_slot(slot);
    let to = cluster.other_master(from);
    let mut raw = proxy.raw();

    // The slot moves after the transaction's first command was queued on its old owner.
    open_transaction(&mut raw, &[&["SET", "{mig}a", "1"]]);
    cluster.migrate_slot(slot, from, to);
    let reply = raw.request(&["SET", "{mig}b", "2"]);
    assert_no_redirect(&reply, "a command queued after the slot moved");
    assert!(
        reply.as_error().is_some_and(|e| e.starts_with("ERR ")),
        "queued after the slot moved: {reply:?}"
    );
    raw.send_command(&["EXEC"]);
    assert_raw_eq(raw.read_raw_reply(), EXECABORT, "EXEC after the slot moved");
    assert_eq!(keys_per_master(&cluster), [0, 0, 0], "after the abort");

    // An ordinary command teaches the proxy the new owner (it follows MOVED itself).
    assert_eq!(raw.request(&["GET", "{mig}a"]), Reply::Bulk(None));

    // The slot starts moving back: its owner answers ASK for a key it lacks.
    open_transaction(&mut raw, &[&["SET", "{mig}c", "3"]]);
    cluster.begin_migration(slot, to, from);
    let reply = raw.request(&["SET", "{mig}d", "4"]);
    assert_no_redirect(&reply, "a command queued on a migrating slot");
    assert!(
        reply.as_error().is_some_and(|e| e.starts_with("ERR ")),
        "queued on a migrating slot: {reply:?}"
    );
    raw.send_command(&["EXEC"]);
    assert_raw_eq(raw.read_raw_reply(), EXECABORT, "EXEC on a migrating slot");
    assert_eq!(keys_per_master(&cluster), [0, 0, 0], "after the abort");
    cluster.finish_migration(slot, to, from);

    // Once the proxy knows the slot's owner, the retried transaction runs there.
    assert_eq!(raw.request(&["GET", "{mig}a"]), Reply::Bulk(None));
    open_transaction(
        &mut raw,
        &[&["SET", "{mig}a", "1"], &["SET", "{mig}b", "2"]],
    );
    assert_eq!(
        raw.request(&["EXEC"]),
        Reply::Array(Some(vec![
            Reply::Simple("OK".into()),
            Reply::Simple("OK".into())
        ]))
    );
    let stored: Vec<Option<String>> = from.client().mget(&["{mig}a", "{mig}b"]).unwrap();
    assert_eq!(stored, [Some("1".into()), Some("2".into())]);
}

// ---------------------------------------------------------------------------------------------
// Blocking commands
// ---------------------------------------------------------------------------------------------

#[test]
fn blocking_pops_wait_for_a_push_from_another_client() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{pop}"));
    let mut pusher = proxy.raw();

    struct Case {
        blocking: &'static [&'static str],
        push: &'static [&'static str],
        pushed: Reply,
        popped: Reply,
    }
    let cases = [
        Case {
            blocking: &["BLPOP", "{pop}blpop", "0"],
            push: &["RPUSH", "{pop}blpop", "first", "second"],
            pushed: Reply::Integer(2),
            popped: Reply::bulks(["{pop}blpop", "first"]),
        },
        Case {
            blocking: &["BRPOP", "{pop}missing", "{pop}brpop", "0"],
            push: &["RPUSH", "{pop}brpop", "first", "second"],
            pushed: Reply::Integer(2),
            popped: Reply::bulks(["{pop}brpop", "second"]),
        },
        Case {
            blocking: &["BLMOVE", "{pop}src", "{pop}dst", "LEFT", "RIGHT", "0"],
            push: &["RPUSH", "{pop}src", "moved"],
            pushed: Reply::Integer(1),
            popped: Reply::bulk("moved"),
        },
        Case {
            blocking: &["BZPOPMIN", "{pop}zset", "0"],
            push: &["ZADD", "{pop}zset", "2", "two", "1", "one"],
            pushed: Reply::Integer(2),
            popped: Reply::bulks(["{pop}zset", "one", "1"]),
        },
        Case {
            blocking: &["BLMPOP", "0", "1", "{pop}blmpop", "RIGHT", "COUNT", "2"],
            push: &["RPUSH", "{pop}blmpop", "a", "b", "c"],
            pushed: Reply::Integer(3),
            popped: Reply::Array(Some(vec![
                Reply::bulk("{pop}blmpop"),
                Reply::bulks(["c", "b"]),
            ])),
        },
    ];
    for case in cases {
        let mut popper = proxy.raw();
        popper.send_command(case.blocking);
        wait_until_blocked(owner, 1);
        popper.assert_no_reply_within(STILL_BLOCKED_FOR, case.blocking);
        assert_eq!(pusher.request(case.push), case.pushed, "{:?}", case.push);
        assert_eq!(
            read_reply_within(&mut popper, REPLY_TIMEOUT),
            case.popped,
            "{:?}",
            case.blocking
        );
        // The client goes on as usual after its blocking command.
        assert_eq!(popper.request(&["PING"]), Reply::Simple("PONG".into()));
    }

    let mut con = owner.client();
    let rest: Vec<String> = con.lrange("{pop}blpop", 0, -1).unwrap();
    assert_eq!(rest, ["second"]);
    let rest: Vec<String> = con.lrange("{pop}brpop", 0, -1).unwrap();
    assert_eq!(rest, ["first"]);
    let rest: Vec<String> = con.lrange("{pop}dst", 0, -1).unwrap();
    assert_eq!(rest, ["moved"], "BLMOVE's destination");
    let rest: Vec<String> = con.zrange("{pop}zset", 0, -1).unwrap();
    assert_eq!(rest, ["two"]);
    let rest: Vec<String> = con.lrange("{pop}blmpop", 0, -1).unwrap();
    assert_eq!(rest, ["a"]);
}

#[test]
fn blocking_timeouts_are_the_commands_own_not_the_proxys() {
    let cluster = RedisCluster::start(3, 0);
    // A request timeout far shorter than the blocking commands below wait.
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--request-timeout-ms", "300"]);
    let owner = cluster.node_for_slot(cluster.key_slot("{timeout}"));
    let mut raw = proxy.raw();

    let started = Instant::now();
    raw.send_command(&["BLPOP", "{timeout}empty", "1"]);
    let reply = read_reply_within(&mut raw, REPLY_TIMEOUT);
    let waited = started.elapsed();
    assert_eq!(reply, Reply::Array(None), "BLPOP on an empty list");
    assert!(
        waited >= Duration::from_millis(900),
        "BLPOP with a 1 s timeout returned after {waited:?}"
    );
    let started = Instant::now();
    raw.send_command(&["BZPOPMAX", "{timeout}zset", "0.5"]);
    let reply = read_reply_within(&mut raw, REPLY_TIMEOUT);
    let waited = started.elapsed();
    assert_eq!(reply, Reply::Array(None), "BZPOPMAX on an empty sorted set");
    assert!(
        waited >= Duration::from_millis(400),
        "BZPOPMAX with a 0.5 s timeout returned after {waited:?}"
    );

    // Timeout 0 waits for data however long it takes, past the proxy's request timeout.
    raw.send_command(&["BLPOP", "{timeout}list", "0"]);
    wait_until_blocked(owner, 1);
    raw.assert_no_reply_within(Duration::from_secs(1), &["BLPOP", "…", "0"]);
    assert_eq!(
        proxy.raw().request(&["LPUSH", "{timeout}list", "late"]),
        Reply::Integer(1)
    );
    assert_eq!(
        read_reply_within(&mut raw, REPLY_TIMEOUT),
        Reply::bulks(["{timeout}list", "late"])
    );
}

#[test]
fn commands_pipelined_around_a_blocking_pop_run_in_order() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{pipe}"));
    let mut raw = proxy.raw();

    let pipeline: Vec<u8> = [
        &["SET", "{pipe}before", "1"][..],
        &["BLPOP", "{pipe}list", "0"],
        &["SET", "{pipe}after", "1"],
        &["GET", "{pipe}before"],
        &["INCR", "{pipe}counter"],
        &["LLEN", "{pipe}list"],
    ]
    .iter()
    .flat_map(|command| encode_command(command))
    .collect();
    raw.send(&pipeline);
    assert_eq!(
        read_reply_within(&mut raw, REPLY_TIMEOUT),
        Reply::Simple("OK".into()),
        "the command before BLPOP"
    );
    wait_until_blocked(owner, 1);
    raw.assert_no_reply_within(STILL_BLOCKED_FOR, &["BLPOP", "{pipe}list", "0"]);
    // A command sent while the client is blocked waits too.
    raw.send_command(&["SET", "{pipe}while", "1"]);
    raw.assert_no_reply_within(STILL_BLOCKED_FOR, &["BLPOP", "{pipe}list", "0"]);
    // As on one Redis server, what follows the blocked command waits for it.
    let mut con = owner.client();
    let exists: usize = con.exists(&["{pipe}after", "{pipe}while"]).unwrap();
    assert_eq!(
        exists, 0,
        "commands after BLPOP ran while BLPOP was blocked"
    );

    assert_eq!(
        proxy.raw().request(&["RPUSH", "{pipe}list", "x", "y"]),
        Reply::Integer(2)
    );
    let replies: Vec<Reply> = (0..6)
        .map(|_| read_reply_within(&mut raw, REPLY_TIMEOUT))
        .collect();
    assert_eq!(
        replies,
        [
            Reply::bulks(["{pipe}list", "x"]),
            Reply::Simple("OK".into()),
            Reply::bulk("1"),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Simple("OK".into()),
        ]
    );
}

#[test]
fn blocking_pop_follows_its_slot_to_another_master() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let slot = cluster.key_slot("{bmove}");
    let first = cluster.node_for_slot(slot);
    let second = cluster
        .masters()
        .iter()
        .find(|m| m.port() != first.port())
        .expect("a second master");
    let mut raw = proxy.raw();
    let mut pusher = proxy.raw();
    assert_eq!(raw.request(&["LLEN", "{bmove}list"]), Reply::Integer(0));

    // The slot moved before the pop: the proxy still names the old owner, which redirects.
    cluster.migrate_slot(slot, first, second);
    raw.send_command(&["BLPOP", "{bmove}list", "0"]);
    wait_until_blocked(second, 1);
    raw.assert_no_reply_within(STILL_BLOCKED_FOR, &["BLPOP", "{bmove}list", "0"]);
    assert_eq!(
        pusher.request(&["RPUSH", "{bmove}list", "one"]),
        Reply::Integer(1)
    );
    assert_eq!(
        read_reply_within(&mut raw, REPLY_TIMEOUT),
        Reply::bulks(["{bmove}list", "one"])
    );

    // The slot moves while the client is blocked: its node unblocks it with MOVED, which the
    // client never sees; the pop waits on the new owner instead.
    raw.send_command(&["BLPOP", "{bmove}list", "0"]);
    wait_until_blocked(second, 1);
    cluster.migrate_slot(slot, second, first);
    assert_eventually(
        REPLY_TIMEOUT,
        "the pop to wait on the slot's new owner",
        || blocked_clients(first) == 1 && blocked_clients(second) == 0,
    );
    raw.assert_no_reply_within(STILL_BLOCKED_FOR, &["BLPOP", "{bmove}list", "0"]);
    assert_eq!(
        pusher.request(&["RPUSH", "{bmove}list", "two"]),
        Reply::Integer(1)
    );
    assert_eq!(
        read_reply_within(&mut raw, REPLY_TIMEOUT),
        Reply::bulks(["{bmove}list", "two"])
    );
}

#[test]
fn client_leaving_while_blocked_pops_nothing() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{gone}"));
    let mut pusher = proxy.raw();

    let cases: [(&[&str], &str); 2] = [
        (&["BLPOP", "{gone}list", "0"], "{gone}list"),
        (
            &["BLMOVE", "{gone}src", "{gone}dst", "LEFT", "LEFT", "0"],
            "{gone}src",
        ),
    ];
    for (blocking, list) in cases {
        let mut popper = proxy.raw();
        popper.send_command(blocking);
        wait_until_blocked(owner, 1);
        drop(popper);
        assert_eventually(
            REPLY_TIMEOUT,
            "the node to drop the departed client's blocked command",
            || blocked_clients(owner) == 0,
        );
        assert_eq!(
            pusher.request(&["RPUSH", list, "kept"]),
            Reply::Integer(1),
            "RPUSH after {blocking:?}'s client left"
        );
        let mut con = owner.client();
        let stored: Vec<String> = con.lrange(list, 0, -1).unwrap();
        assert_eq!(stored, ["kept"], "{list} after {blocking:?}'s client left");
    }
    let moved: usize = owner.client().llen("{gone}dst").unwrap();
    assert_eq!(moved, 0, "BLMOVE moved an element for a client that left");
}

#[test]
fn many_blocked_clients_each_get_their_own_element() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let keys: Vec<String> = cluster
        .masters()
        .iter()
        .flat_map(|master| cluster.keys_on(master, "many", 7))
        .take(20)
        .collect();

    let mut poppers: Vec<RawConn> = keys
        .iter()
        .map(|key| {
            let mut popper = proxy.raw();
            popper.send_command(&["BLPOP", key, "0"]);
            popper
        })
        .collect();
    assert_eventually(REPLY_TIMEOUT, "20 clients to block on the masters", || {
        total_blocked(&cluster) == 20
    });
    // Three more on one key, each blocked before the next: Redis serves them in that order.
    let mut queue_of_three: Vec<RawConn> = (1..=3)
        .map(|n| {
            let mut popper = proxy.raw();
            popper.send_command(&["BLPOP", "{shared}list", "0"]);
            assert_eventually(REPLY_TIMEOUT, "the shared list's popper to block", || {
                total_blocked(&cluster) == 20 + n
            });
            popper
        })
        .collect();
    for popper in poppers.iter_mut().chain(&mut queue_of_three) {
        popper.assert_no_reply_within(Duration::from_millis(10), &["BLPOP", "…", "0"]);
    }

    let mut pusher = proxy.raw();
    let pushes: Vec<u8> = keys
        .iter()
        .enumerate()
        .flat_map(|(i, key)| encode_command(&["RPUSH", key, &format!("value {i}")]))
        .chain(encode_command(&[
            "RPUSH",
            "{shared}list",
            "1st",
            "2nd",
            "3rd",
        ]))
        .collect();
    pusher.send(&pushes);
    for key in &keys {
        assert_eq!(pusher.read_reply(), Reply::Integer(1), "RPUSH {key}");
    }
    assert_eq!(
        pusher.read_reply(),
        Reply::Integer(3),
        "RPUSH {{shared}}list"
    );

    for (i, (key, popper)) in keys.iter().zip(&mut poppers).enumerate() {
        assert_eq!(
            read_reply_within(popper, REPLY_TIMEOUT),
            Reply::bulks([key.as_str(), &format!("value {i}")]),
            "client {i}"
        );
    }
    for (popper, want) in queue_of_three.iter_mut().zip(["1st", "2nd", "3rd"]) {
        assert_eq!(
            read_reply_within(popper, REPLY_TIMEOUT),
            Reply::bulks(["{shared}list", want])
        );
    }
    let mut raw = proxy.raw();
    for key in keys.iter().map(String::as_str).chain(["{shared}list"]) {
        assert_eq!(raw.request(&["LLEN", key]), Reply::Integer(0), "LLEN {key}");
    }
}

#[test]
fn xread_block_is_served_by_another_clients_xadd() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let owner = cluster.node_for_slot(cluster.key_slot("{stream}"));
    let mut writer = proxy.raw();
    let mut reader = proxy.raw();
    let entry = |id: &Reply, value: &str| {
        Reply::Array(Some(vec![id.clone(), Reply::bulks(["field", value])]))
    };
    let read_reply = |stream: &str, id: &Reply, value: &str| {
        Reply::Array(Some(vec![Reply::Array(Some(vec![
            Reply::bulk(stream),
            Reply::Array(Some(vec![entry(id, value)])),
        ]))]))
    };

    reader.send_command(&["XREAD", "BLOCK", "0", "STREAMS", "{stream}s", "$"]);
    wait_until_blocked(owner, 1);
    reader.assert_no_reply_within(STILL_BLOCKED_FOR, &["XREAD", "BLOCK", "0"]);
    let id = writer.request(&["XADD", "{stream}s", "*", "field", "first"]);
    assert!(id.as_bytes().is_some(), "XADD replied {id:?}");
    assert_eq!(
        read_reply_within(&mut reader, REPLY_TIMEOUT),
        read_reply("{stream}s", &id, "first")
    );

    assert_eq!(
        writer.request(&["XGROUP", "CREATE", "{stream}s", "group", "$"]),
        Reply::Simple("OK".into())
    );
    reader.send_command(&[
        "XREADGROUP",
        "GROUP",
        "group",
        "consumer",
        "BLOCK",
        "0",
        "STREAMS",
        "{stream}s",
        ">",
    ]);
    wait_until_blocked(owner, 1);
    reader.assert_no_reply_within(STILL_BLOCKED_FOR, &["XREADGROUP", "BLOCK", "0"]);
    let id = writer.request(&["XADD", "{stream}s", "*", "field", "second"]);
    assert!(id.as_bytes().is_some(), "XADD replied {id:?}");
    assert_eq!(
        read_reply_within(&mut reader, REPLY_TIMEOUT),
        read_reply("{stream}s", &id, "second")
    );
    // The entry was delivered to this consumer, and is pending for it.
    let pending = owner
        .raw()
        .request(&["XPENDING", "{stream}s", "group", "-", "+", "10"]);
    let pending = pending.as_array().expect("XPENDING's entries");
    assert_eq!(pending.len(), 1, "pending entries: {pending:?}");
    let fields = pending[0].as_array().expect("a pending entry");
    assert_eq!((&fields[0], &fields[1]), (&id, &Reply::bulk("consumer")));
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Starts a transaction and queues `commands`, checking that each is queued.
#[track_caller]
fn open_transaction(raw: &mut RawConn, commands: &[&[&str]]) {
    assert_eq!(raw.request(&["MULTI"]), Reply::Simple("OK".into()));
    for command in commands {
        assert_eq!(
            raw.request(command),
            Reply::Simple("QUEUED".into()),
            "{command:?}"
        );
    }
}

/// Compares a raw reply with the bytes expected, showing both escaped.
#[track_caller]
fn assert_raw_eq(got: Vec<u8>, want: &[u8], what: &str) {
    assert_eq!(
        got.escape_ascii().to_string(),
        want.escape_ascii().to_string(),
        "reply to {what}"
    );
}

#[track_caller]
fn assert_no_redirect(reply: &Reply, what: &str) {
    let error = reply.as_error().unwrap_or_default();
    assert!(
        !error.starts_with("MOVED ") && !error.starts_with("ASK "),
        "{what}: the client got a redirect: {reply:?}"
    );
}

/// Reads one reply, failing if it takes longer than `timeout`.
#[track_caller]
fn read_reply_within(conn: &mut RawConn, timeout: Duration) -> Reply {
    conn.set_read_timeout(timeout);
    conn.read_reply()
}

/// How many clients `node` holds blocked.
fn blocked_clients(node: &RedisNode) -> usize {
    let info = node.query_string(&["INFO", "clients"]);
    info.lines()
        .find_map(|line| line.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocked_clients in INFO clients of {node:?}:\n{info}"))
}

/// `DBSIZE` of each master, asked directly.
fn keys_per_master(cluster: &RedisCluster) -> Vec<usize> {
    cluster
        .masters()
        .iter()
        .map(|m| redis::cmd("DBSIZE").query(&mut m.client()).unwrap())
        .collect()
}

/// How many clients the cluster's masters hold blocked, all told.
fn total_blocked(cluster: &RedisCluster) -> usize {
    cluster.masters().iter().map(blocked_clients).sum()
}

/// Waits until `node` holds exactly `count` clients blocked.
#[track_caller]
fn wait_until_blocked(node: &RedisNode, count: usize) {
    assert_eventually(
        REPLY_TIMEOUT,
        &format!("{count} blocked client(s) on {node:?}"),
        || blocked_clients(node) == count,
    );
}

/// A hash tag (`{prefix:n}`) whose slot `node` owns.
fn tag_on(cluster: &RedisCluster, node: &RedisNode, prefix: &str) -> String {
    let owners = cluster.slot_owners();
    let candidates: Vec<String> = (0..100).map(|n| format!("{{{prefix}:{n}}}")).collect();
    let slots = cluster.key_slots(&candidates);
    candidates
        .into_iter()
        .zip(slots)
        .find(|(_, slot)| owners[usize::from(*slot)].port() == node.port())
        .map(|(tag, _)| tag)
        .unwrap_or_else(|| panic!("no {{{prefix}:n}} tag on {node:?}"))
}

/// A hash tag on the same master as `tag`, in another slot.
fn tag_on_other_slot(cluster: &RedisCluster, tag: &str, prefix: &str) -> String {
    let slot = cluster.key_slot(tag);
    let node = cluster.node_for_slot(slot);
    let owners = cluster.slot_owners();
    let candidates: Vec<String> = (0..100).map(|n| format!("{{{prefix}:{n}}}")).collect();
    let slots = cluster.key_slots(&candidates);
    candidates
        .into_iter()
        .zip(slots)
        .find(|&(_, s)| s != slot && owners[usize::from(s)].port() == node.port())
        .map(|(tag, _)| tag)
        .unwrap_or_else(|| panic!("no {{{prefix}:n}} tag on {node:?} off slot {slot}"))
}
