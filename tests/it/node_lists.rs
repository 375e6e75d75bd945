//! `slotgate node`: list commands, compared byte for byte with redis-server, and blocking pops
//! across real connections.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::harness::{Differential, SlotgateNode};

#[test]
fn list_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["LPUSH", "l", "a", "b", "c"],
        &["RPUSH", "l", "d", "e"],
        &["LPUSHX", "nope", "x"],
        &["RPUSHX", "l", "f"],
        &["LLEN", "l"],
        &["LLEN", "nope"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "l", "-2", "100"],
        &["LRANGE", "l", "5", "1"],
        &["LRANGE", "l", "x", "1"],
        &["LINDEX", "l", "0"],
        &["LINDEX", "l", "-1"],
        &["LINDEX", "l", "99"],
        &["LSET", "l", "1", "B"],
        &["LSET", "l", "99", "x"],
        &["LSET", "nope", "0", "x"],
        &["LINSERT", "l", "BEFORE", "B", "x"],
        &["LINSERT", "l", "AFTER", "zz", "x"],
        &["LINSERT", "l", "MIDDLE", "B", "x"],
        &["LINSERT", "nope", "BEFORE", "a", "x"],
        &["RPUSH", "r", "a", "b", "a", "c", "a"],
        &["LREM", "r", "2", "a"],
        &["LREM", "r", "-1", "a"],
        &["LREM", "r", "0", "zz"],
        &["LRANGE", "r", "0", "-1"],
        &["LTRIM", "l", "1", "-2"],
        &["LRANGE", "l", "0", "-1"],
        &["LTRIM", "l", "5", "1"],
        &["EXISTS", "l"],
        &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"],
        &["LPOS", "p", "c"],
        &["LPOS", "p", "c", "RANK", "2"],
        &["LPOS", "p", "c", "RANK", "-1"],
        &["LPOS", "p", "c", "COUNT", "0"],
        &["LPOS", "p", "c", "COUNT", "2", "MAXLEN", "3"],
        &["LPOS", "p", "c", "RANK", "0"],
        &["LPOS", "p", "c", "COUNT", "-1"],
        &["LPOS", "p", "zz"],
        &["LPOS", "p", "zz", "COUNT", "0"],
        &["LPOP", "p"],
        &["RPOP", "p", "2"],
        &["LPOP", "p", "0"],
        &["LPOP", "p", "-1"],
        &["LPOP", "nope"],
        &["LPOP", "nope", "2"],
        &["RPUSH", "s", "1", "2", "3"],
        &["LMOVE", "s", "d", "LEFT", "RIGHT"],
        &["LMOVE", "s", "s", "RIGHT", "LEFT"],
        &["LMOVE", "s", "d", "UP", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["LRANGE", "s", "0", "-1"],
        &["LMPOP", "2", "nope", "d", "LEFT", "COUNT", "5"],
        &["LMPOP", "1", "nope", "LEFT"],
        &["LMPOP", "0", "d", "LEFT"],
        &["LMPOP", "1", "d", "SIDEWAYS"],
        &["LMPOP", "1", "d", "LEFT", "COUNT", "0"],
        &["SET", "str", "x"],
        &["LPUSH", "str", "a"],
        &["LRANGE", "str", "0", "1"],
        &["LPOP", "str"],
        &["LMOVE", "s", "str", "LEFT", "LEFT"],
        &["BLPOP", "nope", "str", "0"],
        &["BLPOP", "nope", "-1"],
        &["BLPOP", "nope", "x"],
        &["MULTI"],
        &["BLPOP", "nope", "0"],
        &["BLMOVE", "nope", "d", "LEFT", "LEFT", "0"],
        &["EXEC"],
    ]);
}

#[test]
fn list_replies_match_redis_in_resp3() {
    let mut d = Differential::start();
    d.both(&["HELLO", "3"]);
    d.check_all(&[
        &["RPUSH", "l", "a", "b"],
        &["LPOP", "nope"],
        &["LPOP", "nope", "2"],
        &["LPOP", "l", "5"],
        &["LMPOP", "1", "nope", "LEFT"],
        &["RPUSH", "l", "a", "b"],
        &["BLPOP", "l", "0"],
        &["BLMPOP", "1", "1", "l", "RIGHT"],
    ]);
}

/// Timeout arguments are read as Redis 7.0 reads them: `strtold`'s syntax (hex, `inf`),
/// truncated to milliseconds, out-of-range values refused as negative. With an element waiting
/// every valid timeout pops at once, so each form can be compared without waiting.
#[test]
fn blocking_timeouts_parse_like_redis() {
    let mut d = Differential::start();
    for timeout in [
        "0",
        "1.5",
        "0.0001",
        "-0",
        "0x10",
        "0x1.8p1",
        ".5",
        "1e3",
        "inf",
        "+inf",
        "-inf",
        "1e30",
        "1e400",
        "1e5000",
        "9223372036854775807",
        "9223372036854774",
        "-1",
        "-0.5",
        "nan",
        " 1",
        "1 ",
        "abc",
        "0x",
        "1e",
        "",
    ] {
        d.check(&["RPUSH", "l", "x"]);
        d.check(&["BLPOP", "l", timeout]);
        d.check(&["ZADD", "z", "1", "m"]);
        d.check(&["BZPOPMIN", "z", timeout]);
        d.check(&["DEL", "l", "z"]);
    }
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let node = SlotgateNode::start();
    let mut first = node.raw();
    let mut second = node.raw();
    let mut pusher = node.raw();
    first.send_command(&["BLPOP", "q", "10"]);
    // Make sure the first is blocked before the second arrives.
    wait_blocked(&mut pusher, 1);
    second.send_command(&["BLPOP", "q", "10"]);
    wait_blocked(&mut pusher, 2);
    pusher.request(&["RPUSH", "q", "one"]);
    assert_eq!(first.read_raw_reply(), b"*2\r\n$1\r\nq\r\n$3\r\none\r\n");
    pusher.request(&["RPUSH", "q", "two"]);
    assert_eq!(second.read_raw_reply(), b"*2\r\n$1\r\nq\r\n$3\r\ntwo\r\n");
    assert_eq!(pusher.request_raw(&["LLEN", "q"]), b":0\r\n");
}

#[test]
fn blocking_pop_times_out_with_null() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    let started = Instant::now();
    assert_eq!(c.request_raw(&["BLPOP", "q", "0.2"]), b"*-1\r\n");
    assert_eq!(
        c.request_raw(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"]),
        b"$-1\r\n"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // The connection keeps working, and a pipelined command behind a blocked one waits its turn.
    c.send(
        &[
            b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$3\r\n0.1\r\n".as_slice(),
            b"*1\r\n$4\r\nPING\r\n",
        ]
        .concat(),
    );
    assert_eq!(c.read_raw_reply(), b"*-1\r\n");
    assert_eq!(c.read_raw_reply(), b"+PONG\r\n");
}

#[test]
fn blmove_wakes_a_client_blocked_on_its_destination() {
    let node = SlotgateNode::start();
    let mut on_dest = node.raw();
    let mut mover = node.raw();
    let mut pusher = node.raw();
    on_dest.send_command(&["BLPOP", "dest", "10"]);
    wait_blocked(&mut pusher, 1);
    mover.send_command(&["BLMOVE", "src", "dest", "LEFT", "RIGHT", "10"]);
    wait_blocked(&mut pusher, 2);
    pusher.request(&["RPUSH", "src", "x"]);
    assert_eq!(mover.read_raw_reply(), b"$1\r\nx\r\n");
    assert_eq!(on_dest.read_raw_reply(), b"*2\r\n$4\r\ndest\r\n$1\r\nx\r\n");
    assert_eq!(pusher.request_raw(&["EXISTS", "src", "dest"]), b":0\r\n");
}

/// `CLIENT UNBLOCK` ends another client's blocking pop as a timeout or with `-UNBLOCKED`, and
/// the unblocked connection goes on working; its argument errors are Redis's.
#[test]
fn client_unblock_ends_a_blocking_pop() {
    let node = SlotgateNode::start();
    let mut blocked = node.raw();
    let mut other = node.raw();
    let id = match blocked.request(&["CLIENT", "ID"]) {
        crate::harness::Reply::Integer(id) => id.to_string(),
        r => panic!("CLIENT ID answered {r:?}"),
    };
    blocked.send_command(&["BLPOP", "l", "0"]);
    wait_blocked(&mut other, 1);
    assert_eq!(other.request_raw(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(blocked.read_raw_reply(), b"*-1\r\n");
    blocked.send_command(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut other, 1);
    assert_eq!(
        other.request_raw(&["CLIENT", "UNBLOCK", &id, "error"]),
        b":1\r\n"
    );
    assert_eq!(
        blocked.read_raw_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    wait_blocked(&mut other, 0);
    assert_eq!(other.request_raw(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
    assert_eq!(blocked.request_raw(&["RPUSH", "l", "x"]), b":1\r\n");

    let mut d = Differential::start();
    d.check_all(&[
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "UNBLOCK", "999999", "TIMEOUT"],
        &["CLIENT", "UNBLOCK", "abc"],
        &["CLIENT", "UNBLOCK", "abc", "nope"],
        &["CLIENT", "UNBLOCK", "1", "nope"],
        &["CLIENT", "UNBLOCK", "1", "error", "extra"],
        &["CLIENT", "UNBLOCK"],
    ]);
}

#[test]
fn a_waiter_that_disconnects_loses_nothing() {
    let node = SlotgateNode::start();
    let mut pusher = node.raw();
    {
        let mut gone = node.raw();
        gone.send_command(&["BLPOP", "q", "0"]);
        wait_blocked(&mut pusher, 1);
    }
    let mut stays = node.raw();
    stays.send_command(&["BLPOP", "q", "0"]);
    // The closed client's wait is dropped; the push goes to the live one.
    wait_blocked(&mut pusher, 1);
    pusher.request(&["RPUSH", "q", "v"]);
    assert_eq!(stays.read_raw_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
}

/// Waits until `n` clients are blocked, by asking the node with a deadline.
fn wait_blocked(conn: &mut crate::harness::RawConn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // INFO counts the clients blocked right now.
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

fn list_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b"]).prop_map(str::to_string);
    let val = prop::sample::select(vec!["x", "y", "1", "zz"]).prop_map(str::to_string);
    let idx = (-4i64..5).prop_map(|n| n.to_string());
    let side = prop::sample::select(vec!["LEFT", "RIGHT"]).prop_map(str::to_string);
    prop_oneof![
        (key.clone(), val.clone(), val.clone()).prop_map(|(k, a, b)| vec!["LPUSH".into(), k, a, b]),
        (key.clone(), val.clone()).prop_map(|(k, a)| vec!["RPUSH".into(), k, a]),
        key.clone().prop_map(|k| vec!["LPOP".into(), k]),
        (key.clone(), 0u8..4).prop_map(|(k, n)| vec!["RPOP".into(), k, n.to_string()]),
        (key.clone(), idx.clone(), idx.clone()).prop_map(|(k, a, b)| vec![
            "LRANGE".into(),
            k,
            a,
            b
        ]),
        (key.clone(), idx.clone()).prop_map(|(k, i)| vec!["LINDEX".into(), k, i]),
        (key.clone(), idx.clone(), val.clone()).prop_map(|(k, i, v)| vec!["LSET".into(), k, i, v]),
        (key.clone(), idx.clone(), val.clone()).prop_map(|(k, i, v)| vec!["LREM".into(), k, i, v]),
        (key.clone(), idx.clone(), idx.clone()).prop_map(|(k, a, b)| vec!["LTRIM".into(), k, a, b]),
        (key.clone(), val.clone(), val.clone()).prop_map(|(k, p, v)| vec![
            "LINSERT".into(),
            k,
            "AFTER".into(),
            p,
            v
        ]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec![
            "LPOS".into(),
            k,
            v,
            "COUNT".into(),
            "0".into()
        ]),
        (key.clone(), key.clone(), side.clone(), side).prop_map(|(a, b, x, y)| vec![
            "LMOVE".into(),
            a,
            b,
            x,
            y
        ]),
        key.clone().prop_map(|k| vec!["LLEN".into(), k]),
        (key, val).prop_map(|(k, v)| vec!["SET".into(), k, v]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_list_commands_match_redis(commands in prop::collection::vec(list_command(), 1..60)) {
        let mut d = Differential::start();
        for command in &commands {
            d.check(command);
        }
    }
}
