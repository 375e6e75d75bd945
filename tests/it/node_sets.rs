//! `slotgate node`: set commands, compared byte for byte with redis-server (sorted where a
//! hash-table set's order is arbitrary in both).

use proptest::prelude::*;

use std::collections::HashSet;

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

fn members_of(reply: &Reply) -> Vec<Vec<u8>> {
    reply
        .as_array()
        .expect("an array of members")
        .iter()
        .map(|r| r.as_bytes().expect("a member").to_vec())
        .collect()
}

/// A large set is scanned a step at a time, and a full scan returns every member that was
/// there from start to end, even while members are added meanwhile; random picks and pops
/// stay within the set.
#[test]
fn big_sets_scan_in_steps_and_pick_at_random() {
    let node = crate::harness::SlotgateNode::start();
    let mut c = node.raw();
    let original: HashSet<Vec<u8>> = (0..2000).map(|i| format!("m{i}").into_bytes()).collect();
    for chunk in original.iter().collect::<Vec<_>>().chunks(100) {
        let mut sadd: Vec<&[u8]> = vec![b"SADD", b"big"];
        sadd.extend(chunk.iter().map(|m| &m[..]));
        c.request(&sadd);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut steps = 0;
    for _ in 0..10_000 {
        let reply = c.request(&["SSCAN", "big", &cursor, "COUNT", "20"]);
        let parts = reply.as_array().unwrap();
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        let members = members_of(&parts[1]);
        assert!(members.len() < 200, "a step of {} members", members.len());
        seen.extend(members);
        steps += 1;
        // Growing the set meanwhile (its table doubles) loses no original member.
        c.request(&["SADD", "big", &format!("new{steps}")]);
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the scan ends");
    assert!(steps > 50, "a 2000-member set scanned in {steps} steps");
    let missing = original.difference(&seen).count();
    assert_eq!(missing, 0, "members never returned by the scan");

    let size = 2000 + steps;
    let picked = members_of(&c.request(&["SRANDMEMBER", "big", "10"]));
    let distinct: HashSet<&Vec<u8>> = picked.iter().collect();
    assert_eq!(distinct.len(), 10);
    let picked = members_of(&c.request(&["SRANDMEMBER", "big", "-3000"]));
    assert_eq!(picked.len(), 3000);
    for m in &picked {
        assert_eq!(
            c.request(&[&b"SISMEMBER"[..], b"big", m]),
            Reply::Integer(1)
        );
    }
    let popped = members_of(&c.request(&["SPOP", "big", "1500"]));
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 1500);
    assert_eq!(
        c.request(&["SCARD", "big"]),
        Reply::Integer(size as i64 - 1500)
    );
    for m in popped.iter().take(50) {
        assert_eq!(
            c.request(&[&b"SISMEMBER"[..], b"big", m]),
            Reply::Integer(0)
        );
    }
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
