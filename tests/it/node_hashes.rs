//! `slotgate node`: hash commands, compared byte for byte with redis-server.

use proptest::prelude::*;

use crate::harness::Differential;

#[test]
fn hash_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "h", "a", "10", "c", "3"],
        &["HSET", "h", "odd"],
        &["HMSET", "h", "d", "4"],
        &["HSETNX", "h", "a", "x"],
        &["HSETNX", "h", "e", "5"],
        &["HGET", "h", "a"],
        &["HGET", "h", "zz"],
        &["HGET", "nope", "a"],
        &["HMGET", "h", "a", "zz", "b"],
        &["HLEN", "h"],
        &["HSTRLEN", "h", "a"],
        &["HEXISTS", "h", "b"],
        &["HEXISTS", "h", "zz"],
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HGETALL", "h"],
        &["HGETALL", "nope"],
        &["HDEL", "h", "a", "zz"],
        &["HINCRBY", "h", "n", "5"],
        &["HINCRBY", "h", "n", "-7"],
        &["HINCRBY", "h", "n", "x"],
        &["HSET", "h", "s", "abc"],
        &["HINCRBY", "h", "s", "1"],
        &["HSET", "h", "big", "9223372036854775807"],
        &["HINCRBY", "h", "big", "1"],
        &["HINCRBYFLOAT", "h", "f", "10.5"],
        &["HINCRBYFLOAT", "h", "f", "0.1"],
        &["HINCRBYFLOAT", "h", "s", "1"],
        &["HINCRBYFLOAT", "h", "f", "x"],
        &["HINCRBYFLOAT", "h", "f", "inf"],
        &["HINCRBYFLOAT", "h", "f", "0x10"],
        &["HINCRBYFLOAT", "h", "f", "1e5000"],
        &["HINCRBYFLOAT", "h", "f", " 1"],
        &["HRANDFIELD", "nope"],
        &["HRANDFIELD", "nope", "3"],
        &["HRANDFIELD", "h", "0"],
        &["HRANDFIELD", "h", "x"],
        &["HRANDFIELD", "h", "1", "FOO"],
        &["HSCAN", "h", "0"],
        &["HSCAN", "h", "0", "MATCH", "b*"],
        &["HSCAN", "h", "x"],
        &["HSCAN", "nope", "0"],
        &["HDEL", "h", "b", "c", "d", "e", "n", "s", "big", "f"],
        &["EXISTS", "h"],
        &["SET", "str", "x"],
        &["HSET", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HGETALL", "str"],
        &["HDEL", "str", "a"],
        &["HLEN", "str"],
    ]);
}

#[test]
fn hash_replies_in_resp3() {
    let mut d = Differential::start();
    d.both(&["HELLO", "3"]);
    d.check_all(&[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HGETALL", "h"],
        &["HGETALL", "nope"],
        &["HGET", "h", "zz"],
        &["HRANDFIELD", "nope"],
    ]);
}

#[test]
fn big_hashes_scan_every_field_once() {
    let node = crate::harness::SlotgateNode::start();
    let mut c = node.raw();
    for i in 0..500 {
        c.request(&["HSET", "big", &format!("f{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..10_000 {
        let reply = c.request(&["HSCAN", "big", &cursor, "COUNT", "20"]);
        let parts = reply.as_array().unwrap();
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        for pair in parts[1].as_array().unwrap().chunks(2) {
            seen.insert(pair[0].as_bytes().unwrap().to_vec());
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0");
    assert_eq!(seen.len(), 500);
}

fn hash_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b"]).prop_map(str::to_string);
    let field = prop::sample::select(vec!["f", "g", "h"]).prop_map(str::to_string);
    let val = prop::sample::select(vec!["1", "-2", "x", "3.5"]).prop_map(str::to_string);
    prop_oneof![
        (key.clone(), field.clone(), val.clone()).prop_map(|(k, f, v)| vec![
            "HSET".into(),
            k,
            f,
            v
        ]),
        (key.clone(), field.clone(), val.clone()).prop_map(|(k, f, v)| vec![
            "HSETNX".into(),
            k,
            f,
            v
        ]),
        (key.clone(), field.clone()).prop_map(|(k, f)| vec!["HGET".into(), k, f]),
        (key.clone(), field.clone()).prop_map(|(k, f)| vec!["HDEL".into(), k, f]),
        (key.clone(), field.clone()).prop_map(|(k, f)| vec!["HINCRBY".into(), k, f, "3".into()]),
        (key.clone(), field.clone()).prop_map(|(k, f)| vec![
            "HINCRBYFLOAT".into(),
            k,
            f,
            "1.5".into()
        ]),
        key.clone().prop_map(|k| vec!["HGETALL".into(), k]),
        key.clone().prop_map(|k| vec!["HLEN".into(), k]),
        (key.clone(), field).prop_map(|(k, f)| vec!["HSTRLEN".into(), k, f]),
        (key, val).prop_map(|(k, v)| vec!["SET".into(), k, v]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_hash_commands_match_redis(commands in prop::collection::vec(hash_command(), 1..60)) {
        let mut d = Differential::start();
        for command in &commands {
            d.check(command);
        }
    }
}

/// `HSCAN`, `SSCAN` and `ZSCAN` read their cursor as Redis does (`strtoul`: empty is 0, a sign
/// is allowed, space and overflow are not), and look the key up before reading the options.
#[test]
fn scan_cursors_and_options_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["HSET", "h", "f", "v", "g", "w"],
        &["SADD", "s", "1", "2", "3"],
        &["ZADD", "z", "1", "a", "2", "b"],
    ]);
    for (scan, key) in [("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")] {
        for cursor in [
            "",
            "+0",
            "-1",
            "7",
            " 1",
            "1 ",
            "0x1",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            d.check(&[scan, key, cursor]);
        }
        d.check(&[scan, key, "0", "MATCH", "*", "COUNT", "1"]);
        d.check(&[scan, key, "0", "COUNT", "0"]);
        d.check(&[scan, key, "0", "COUNT"]);
        d.check(&[scan, key, "0", "BOGUS", "1"]);
        // A missing key answers an empty scan whatever the options say.
        d.check(&[scan, "nope", "0", "COUNT", "0"]);
        d.check(&[scan, "nope", "0", "BOGUS"]);
        d.check(&[scan, "nope", "x"]);
    }
    // A key of another type: WRONGTYPE before the options are read.
    d.check(&["HSCAN", "s", "0", "BOGUS"]);
    d.check(&["ZSCAN", "h", "0", "COUNT", "0"]);
}
