//! `slotgate node`: set commands, compared byte for byte with redis-server (sorted where a
//! hash-table set's order is arbitrary in both).

use proptest::prelude::*;

use crate::harness::{Differential, Reply};

#[test]
fn set_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SADD", "s", "3", "1", "2", "1"],
        &["SMEMBERS", "s"],
        &["SISMEMBER", "s", "2"],
        &["SISMEMBER", "s", "02"],
        &["SMISMEMBER", "s", "1", "9"],
        &["SCARD", "s"],
        &["SCARD", "nope"],
        &["SREM", "s", "1", "9"],
        &["SADD", "t", "2", "3", "4"],
        &["SINTER", "s", "t"],
        &["SINTER", "s", "nope"],
        &["SUNION", "s", "t"],
        &["SDIFF", "t", "s"],
        &["SINTERSTORE", "d", "s", "t"],
        &["SMEMBERS", "d"],
        &["SUNIONSTORE", "d", "s", "t", "nope"],
        &["SMEMBERS", "d"],
        &["SDIFFSTORE", "d", "s", "t"],
        &["EXISTS", "d"],
        &["SINTERCARD", "2", "s", "t"],
        &["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
        &["SINTERCARD", "0", "s"],
        &["SINTERCARD", "3", "s", "t"],
        &["SINTERCARD", "2", "s", "t", "LIMIT", "-1"],
        &["SMOVE", "s", "t", "2"],
        &["SMOVE", "s", "t", "99"],
        &["SMOVE", "t", "new", "4"],
        &["SMEMBERS", "new"],
        &["SPOP", "nope"],
        &["SPOP", "nope", "2"],
        &["SPOP", "s", "-1"],
        &["SRANDMEMBER", "nope"],
        &["SRANDMEMBER", "nope", "3"],
        &["SRANDMEMBER", "s", "0"],
        &["SSCAN", "nope", "0"],
        &["SSCAN", "s", "x"],
        &["SADD", "w", "x"],
        &["SET", "str", "v"],
        &["SADD", "str", "a"],
        &["SMEMBERS", "str"],
        &["SINTER", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SMOVE", "s", "str", "3"],
    ]);
}

/// Sends to both servers and compares the array replies as sorted lists.
fn check_sorted(d: &mut Differential, command: &[&str]) {
    let (ours, theirs) = d.both(command);
    let sorted = |raw: &[u8]| {
        let (reply, _) = Reply::parse(raw).expect("a reply");
        let mut items: Vec<Vec<u8>> = reply
            .as_array()
            .unwrap_or_else(|| panic!("{command:?}: {reply:?}"))
            .iter()
            .map(|r| r.as_bytes().unwrap().to_vec())
            .collect();
        items.sort();
        items
    };
    assert_eq!(sorted(&ours), sorted(&theirs), "{command:?}");
}

#[test]
fn string_sets_match_redis_as_sets() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SADD", "a", "x", "y", "z", "1"],
        &["SADD", "b", "y", "z", "w"],
    ]);
    for command in [
        &["SMEMBERS", "a"][..],
        &["SINTER", "a", "b"],
        &["SUNION", "a", "b"],
        &["SDIFF", "a", "b"],
    ] {
        check_sorted(&mut d, command);
    }
    // Random picks: right sizes, members of the set.
    let picked = d.ours_conn.request(&["SRANDMEMBER", "a", "-10"]);
    assert_eq!(picked.as_array().unwrap().len(), 10);
    let picked = d.ours_conn.request(&["SRANDMEMBER", "a", "3"]);
    let picked: std::collections::HashSet<Vec<u8>> = picked
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_bytes().unwrap().to_vec())
        .collect();
    assert_eq!(picked.len(), 3);
    let popped = d.ours_conn.request(&["SPOP", "a", "10"]);
    assert_eq!(popped.as_array().unwrap().len(), 4);
    assert_eq!(d.ours_conn.request_raw(&["EXISTS", "a"]), b":0\r\n");
}

fn set_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string);
    let member = prop::sample::select(vec!["1", "2", "3", "10", "-5"]).prop_map(str::to_string);
    prop_oneof![
        (key.clone(), member.clone(), member.clone()).prop_map(|(k, a, b)| vec![
            "SADD".into(),
            k,
            a,
            b
        ]),
        (key.clone(), member.clone()).prop_map(|(k, m)| vec!["SREM".into(), k, m]),
        key.clone().prop_map(|k| vec!["SMEMBERS".into(), k]),
        key.clone().prop_map(|k| vec!["SCARD".into(), k]),
        (key.clone(), member.clone()).prop_map(|(k, m)| vec!["SISMEMBER".into(), k, m]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["SINTER".into(), a, b]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["SUNION".into(), a, b]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["SDIFF".into(), a, b]),
        (key.clone(), key.clone(), key.clone()).prop_map(|(d, a, b)| vec![
            "SUNIONSTORE".into(),
            d,
            a,
            b
        ]),
        (key.clone(), key.clone(), member).prop_map(|(a, b, m)| vec!["SMOVE".into(), a, b, m]),
        key.prop_map(|k| vec!["SET".into(), k, "v".into()]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_set_commands_match_redis(commands in prop::collection::vec(set_command(), 1..60)) {
        let mut d = Differential::start();
        for command in &commands {
            d.check(command);
        }
    }
}
