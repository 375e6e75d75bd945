//! `slotgate node`: generic key commands, compared with redis-server; SCAN's guarantee.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;

use crate::harness::{assert_eventually, Differential, RawConn, Reply, SlotgateNode};

#[test]
fn expiry_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "k", "v"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["TTL", "nope"],
        &["EXPIRETIME", "k"],
        &["EXPIRE", "nope", "10"],
        &["EXPIRE", "k", "100", "XX"],
        &["EXPIRE", "k", "100", "GT"],
        &["EXPIRE", "k", "100", "NX"],
        &["EXPIRE", "k", "200", "NX"],
        &["TTL", "k"],
        &["EXPIRE", "k", "50", "GT"],
        &["EXPIRE", "k", "500", "GT"],
        &["EXPIRE", "k", "1000", "LT"],
        &["EXPIRE", "k", "300", "LT"],
        &["TTL", "k"],
        &["EXPIRE", "k", "10", "NX", "XX"],
        &["EXPIRE", "k", "10", "GT", "LT"],
        &["EXPIRE", "k", "10", "FOO"],
        &["EXPIRE", "k", "x"],
        &["EXPIRE", "k", "9223372036854775807"],
        &["PEXPIRE", "k", "9223372036854775807"],
        &["EXPIREAT", "k", "99999999999"],
        &["EXPIRETIME", "k"],
        &["PEXPIREAT", "k", "99999999999000"],
        &["PEXPIRETIME", "k"],
        &["PERSIST", "k"],
        &["PERSIST", "k"],
        &["TTL", "k"],
        &["EXPIRE", "k", "-1"],
        &["EXISTS", "k"],
        &["SET", "g", "v"],
        &["PEXPIREAT", "g", "1"],
        &["GET", "g"],
    ]);
}

#[test]
fn key_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["MSET", "a", "1", "b", "2", "c", "3"],
        &["TOUCH", "a", "b", "nope"],
        &["RENAME", "nope", "x"],
        &["RENAME", "a", "a"],
        &["RENAME", "a", "a2"],
        &["RENAMENX", "a2", "b"],
        &["RENAMENX", "a2", "a3"],
        &["RENAMENX", "a3", "a3"],
        &["SET", "t", "v", "EX", "100"],
        &["RENAME", "t", "t2"],
        &["TTL", "t2"],
        &["COPY", "b", "b2"],
        &["COPY", "b", "c"],
        &["COPY", "b", "c", "REPLACE"],
        &["COPY", "b", "b"],
        &["COPY", "b", "b", "DB", "1"],
        &["COPY", "b", "x", "DB", "99"],
        &["COPY", "b", "x", "FOO"],
        &["COPY", "nope", "x"],
        &["MOVE", "b", "1"],
        &["MOVE", "b", "1"],
        &["MOVE", "c", "0"],
        &["MOVE", "c", "x"],
        &["MOVE", "c", "99"],
        &["SELECT", "1"],
        &["GET", "b"],
        &["SELECT", "0"],
        &["SWAPDB", "0", "1"],
        &["GET", "b"],
        &["SWAPDB", "0", "x"],
        &["SWAPDB", "0", "99"],
        &["SWAPDB", "1", "0"],
        &["RPUSH", "l", "a"],
        &["SADD", "si", "1"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "z", "1", "m"],
        &["SET", "n", "12"],
        &["SET", "e", "hello"],
        &["SET", "r", "0123456789012345678901234567890123456789012345"],
        &["OBJECT", "ENCODING", "l"],
        &["OBJECT", "ENCODING", "si"],
        &["OBJECT", "ENCODING", "h"],
        &["OBJECT", "ENCODING", "z"],
        &["OBJECT", "ENCODING", "n"],
        &["OBJECT", "ENCODING", "e"],
        &["OBJECT", "ENCODING", "r"],
        &["OBJECT", "ENCODING", "nope"],
        &["OBJECT", "REFCOUNT", "n"],
        &["OBJECT", "REFCOUNT", "e"],
        &["OBJECT", "FREQ", "e"],
        &["TYPE", "l"],
        &["TYPE", "z"],
        &["SCAN", "x"],
        &["SCAN", "0", "COUNT", "0"],
        &["SCAN", "0", "FOO", "1"],
    ]);
}

fn sorted_keys(reply: &Reply) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = reply
        .as_array()
        .expect("array")
        .iter()
        .map(|k| k.as_bytes().unwrap().to_vec())
        .collect();
    keys.sort();
    keys
}

#[test]
fn keys_and_scan_find_what_redis_finds() {
    let mut d = Differential::start();
    for i in 0..50 {
        let key = format!("user:{i}");
        d.check(&["SET", key.as_str(), "v"]);
    }
    d.check_all(&[&["RPUSH", "list:1", "x"], &["SADD", "set:1", "x"]]);
    for pattern in ["*", "user:1*", "*:1", "nothing*"] {
        let ours = d.ours_conn.request(&["KEYS", pattern]);
        let theirs = d.redis_conn.request(&["KEYS", pattern]);
        assert_eq!(sorted_keys(&ours), sorted_keys(&theirs), "{pattern}");
    }
    for filters in [
        &[][..],
        &["MATCH", "user:2*"][..],
        &["TYPE", "list"][..],
        &["TYPE", "nosuch"][..],
    ] {
        assert_eq!(
            scan_all(&mut d.ours_conn, filters),
            scan_all(&mut d.redis_conn, filters),
            "{filters:?}"
        );
    }
}

/// Every key a full SCAN returns, sorted.
fn scan_all(conn: &mut RawConn, filters: &[&str]) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let mut command = vec!["SCAN", cursor.as_str(), "COUNT", "7"];
        command.extend_from_slice(filters);
        let reply = conn.request(&command);
        let parts = reply.as_array().expect("SCAN reply");
        let next = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        all.extend(sorted_keys(&parts[1]));
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "SCAN did not finish");
    all.sort();
    all.dedup();
    all
}

#[test]
fn scan_returns_every_key_present_throughout_while_others_change() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    let mut writer = node.raw();
    for i in 0..500 {
        c.request(&["SET", &format!("stay:{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let reply = c.request(&["SCAN", &cursor, "COUNT", "25"]);
        let parts = reply.as_array().unwrap();
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        for k in parts[1].as_array().unwrap() {
            seen.insert(k.as_bytes().unwrap().to_vec());
        }
        // Keys come and go between calls.
        writer.request(&["SET", &format!("churn:{round}"), "v"]);
        writer.request(&["DEL", &format!("churn:{}", round / 2)]);
        round += 1;
        assert!(round < 1000, "SCAN did not finish");
        if cursor == "0" {
            break;
        }
    }
    for i in 0..500 {
        assert!(
            seen.contains(format!("stay:{i}").as_bytes()),
            "stay:{i} missed"
        );
    }
}

#[test]
fn keys_expire_actively_without_being_read() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    for i in 0..200 {
        c.request(&["SET", &format!("k{i}"), "v", "PX", "30"]);
    }
    c.request(&["SET", "forever", "v"]);
    assert_eventually(Duration::from_secs(5), "expired keys are removed", || {
        c.request_raw(&["DBSIZE"]) == b":1\r\n"
    });
    let info = String::from_utf8_lossy(&c.request_raw(&["INFO", "stats"])).into_owned();
    assert!(info.contains("expired_keys:200"), "{info}");
    assert_eq!(c.request_raw(&["RANDOMKEY"]), b"$7\r\nforever\r\n");
}

fn key_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string);
    let secs = prop::sample::select(vec!["100", "200", "-1", "0"]).prop_map(str::to_string);
    let opt = prop::sample::select(vec!["", "NX", "XX", "GT", "LT"]).prop_map(str::to_string);
    prop_oneof![
        key.clone().prop_map(|k| vec!["SET".into(), k, "v".into()]),
        (key.clone(), secs, opt).prop_map(|(k, s, o)| {
            let mut c = vec!["EXPIRE".into(), k, s];
            if !o.is_empty() {
                c.push(o);
            }
            c
        }),
        key.clone().prop_map(|k| vec!["TTL".into(), k]),
        key.clone().prop_map(|k| vec!["PERSIST".into(), k]),
        key.clone().prop_map(|k| vec!["EXISTS".into(), k]),
        key.clone().prop_map(|k| vec!["DEL".into(), k]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["RENAMENX".into(), a, b]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["COPY".into(), a, b]),
        key.clone().prop_map(|k| vec!["MOVE".into(), k, "1".into()]),
        key.prop_map(|k| vec!["TYPE".into(), k]),
        Just(vec!["DBSIZE".to_string()]),
        Just(vec!["SWAPDB".to_string(), "0".into(), "1".into()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_key_commands_match_redis(commands in prop::collection::vec(key_command(), 1..60)) {
        let mut d = Differential::start();
        for command in &commands {
            d.check(command);
        }
    }
}

#[test]
fn sort_matches_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["RPUSH", "l", "3", "10", "1", "2.5"],
        &["SORT", "l"],
        &["SORT", "l", "DESC"],
        &["SORT", "l", "LIMIT", "1", "2"],
        &["SORT", "l", "ALPHA"],
        &["RPUSH", "names", "bob", "al", "cy"],
        &["SORT", "names"],
        &["SORT", "names", "ALPHA", "DESC"],
        &["MSET", "w_bob", "3", "w_al", "1", "w_cy", "2"],
        &["SORT", "names", "BY", "w_*"],
        &["SORT", "names", "BY", "nosort"],
        &["HSET", "h_bob", "age", "30"],
        &["HSET", "h_al", "age", "20"],
        &["SORT", "names", "BY", "w_*", "GET", "#", "GET", "h_*->age"],
        &["SORT", "names", "BY", "w_*", "STORE", "out"],
        &["LRANGE", "out", "0", "-1"],
        &["SADD", "s", "5", "1", "3"],
        &["SORT", "s"],
        &["ZADD", "z", "1", "c", "2", "a"],
        &["SORT", "z", "ALPHA"],
        &["SORT", "z", "BY", "nosort", "DESC"],
        &["SORT_RO", "l"],
        &["SORT_RO", "l", "STORE", "x"],
        &["SORT", "l", "FOO"],
        &["SET", "str", "x"],
        &["SORT", "str"],
        &["SORT", "nope"],
    ]);
}
