//! `slotgate node`: DUMP and RESTORE, against redis-server 7.0 both ways.
//!
//! Strings go through both servers' commands; for lists, sets, hashes and sorted sets (not yet
//! wired to the node's keyspace) the payloads real redis-server DUMPs are decoded by
//! `slotgate::node::rdb`, and the payloads it writes are RESTOREd by real redis-server.

use proptest::prelude::*;
use slotgate::node::rdb::{dump_payload, restore_payload, RdbObject};

use crate::harness::{Differential, RawConn, Reply};

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn dump(conn: &mut RawConn, key: &str) -> Vec<u8> {
    match conn.request(&["DUMP", key]) {
        Reply::Bulk(Some(payload)) => payload,
        other => panic!("DUMP {key} answered {other:?}"),
    }
}

fn restore(conn: &mut RawConn, key: &str, payload: &[u8], extra: &[&str]) -> Reply {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), b"0", payload];
    args.extend(extra.iter().map(|a| a.as_bytes()));
    conn.request(&args)
}

const STRINGS: &[&str] = &[
    "",
    "v",
    "0",
    "-1",
    "127",
    "128",
    "-32768",
    "-32769",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "007",
    "1.5",
    "twenty-byte-string!!",
];

/// Compressible strings around liblzf's limits (Redis compresses strings over 20 bytes when
/// LZF saves at least 4): DUMP's bytes, compressed or raw, are redis-server's for each.
#[test]
fn lzf_decisions_match_redis() {
    let mut d = Differential::start();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for n in 0..400 {
        let len = 21 + n % 60;
        let value: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                if (seed >> 33).is_multiple_of(2 + (n as u64 % 3)) {
                    b'a'
                } else {
                    b'b'
                }
            })
            .collect();
        d.check(&[&b"SET"[..], b"k", &value]);
        d.check(&["DUMP", "k"]);
    }
}

#[test]
fn strings_dump_byte_for_byte_like_redis() {
    let mut d = Differential::start();
    d.check(&["DUMP", "missing"]);
    let long: Vec<String> = vec![
        "a".repeat(21),
        "a".repeat(100),
        "abc".repeat(400),
        "hello world, hello world, hello world".into(),
        (0..2000).map(|i| format!("{}", i % 97)).collect(),
        "not compressible at all: 0123456789".into(),
    ];
    for value in STRINGS
        .iter()
        .copied()
        .chain(long.iter().map(|s| s.as_str()))
    {
        d.check(&["SET", "k", value]);
        d.check(&["DUMP", "k"]);
    }
}

#[test]
fn strings_cross_between_redis_and_slotgate() {
    let mut d = Differential::start();
    let long = "abc".repeat(400);
    let values: Vec<String> = STRINGS
        .iter()
        .map(|s| s.to_string())
        .chain([long.clone(), "x".repeat(100), format!("{long}xyz{long}")])
        .collect();
    for value in &values {
        // redis-server's payload (LZF-compressed when long) restored on ours…
        d.redis_conn.request(&["SET", "k", value.as_str()]);
        let theirs = dump(&mut d.redis_conn, "k");
        assert_eq!(restore(&mut d.ours_conn, "k", &theirs, &["REPLACE"]), ok());
        assert_eq!(
            d.ours_conn.request(&["GET", "k"]),
            Reply::bulk(value),
            "{value}"
        );
        // …and ours restored on redis-server.
        let ours = dump(&mut d.ours_conn, "k");
        assert_eq!(restore(&mut d.redis_conn, "r", &ours, &["REPLACE"]), ok());
        assert_eq!(d.redis_conn.request(&["GET", "r"]), Reply::bulk(value));
    }
}

#[test]
fn restore_errors_match_redis() {
    let mut d = Differential::start();
    d.check(&["SET", "src", "hello"]);
    let payload = d.check(&["DUMP", "src"]);
    let payload = match Reply::parse(&payload) {
        Some((Reply::Bulk(Some(p)), _)) => p,
        other => panic!("{other:?}"),
    };
    let p = payload.as_slice();
    let mut flipped = payload.clone();
    flipped[1] ^= 0x01;
    let mut footer_flipped = payload.clone();
    let last = footer_flipped.len() - 1;
    footer_flipped[last] ^= 0x80;
    let mut newer = payload.clone();
    let at = newer.len() - 10;
    newer[at] = 11;
    let commands: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"src", b"0", p],
        vec![b"RESTORE", b"src", b"x", p],
        vec![b"RESTORE", b"new", b"x", p],
        vec![b"RESTORE", b"new", b"-1", p],
        vec![b"RESTORE", b"new", b"0", p, b"BOGUS"],
        vec![b"RESTORE", b"new", b"0", p, b"IDLETIME"],
        vec![b"RESTORE", b"new", b"0", p, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"new", b"0", p, b"IDLETIME", b"x"],
        vec![b"RESTORE", b"new", b"0", p, b"FREQ", b"256"],
        vec![b"RESTORE", b"new", b"0", p, b"FREQ", b"-1"],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            p,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            p,
            b"FREQ",
            b"1",
            b"IDLETIME",
            b"1",
        ],
        vec![b"RESTORE", b"new", b"0", &flipped],
        vec![b"RESTORE", b"new", b"0", &footer_flipped],
        vec![b"RESTORE", b"new", b"0", &newer],
        vec![b"RESTORE", b"new", b"0", b"short"],
        vec![b"RESTORE", b"new", b"0", b""],
        vec![b"EXISTS", b"new"],
        vec![b"RESTORE", b"new", b"0", p, b"IDLETIME", b"5", b"replace"],
        vec![b"GET", b"new"],
        vec![b"RESTORE", b"new", b"0", p, b"FREQ", b"5", b"REPLACE"],
        vec![b"RESTORE", b"src", b"0", p, b"REPLACE"],
        vec![b"GET", b"src"],
        // An absolute expiry in the past: OK, and no key (the old one is deleted).
        vec![b"RESTORE", b"gone", b"1", p, b"ABSTTL"],
        vec![b"EXISTS", b"gone"],
        vec![b"RESTORE", b"src", b"1", p, b"ABSTTL", b"REPLACE"],
        vec![b"EXISTS", b"src"],
        vec![b"RESTORE", b"ttl", b"100000", p],
        vec![b"EXISTS", b"ttl"],
        vec![b"RESTORE", b"abs", b"99999999999999", p, b"ABSTTL"],
        vec![b"GET", b"abs"],
    ];
    for command in &commands {
        d.check(command);
    }
}

/// A payload with a valid footer around `body`, built the way Redis does.
fn with_footer(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&10u16.to_le_bytes());
    let crc = slotgate::node::rdb::crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn bad_data_format_matches_redis() {
    let mut d = Differential::start();
    let bodies: &[&[u8]] = &[
        // A string far longer than the payload. (Redis reads a body that runs a little short
        // on into the footer's bytes; ours stops at the footer, so that case differs.)
        &[0, 0x40, 100, b'a'],
        &[1, 0],                   // an empty list
        &[2, 2, 1, b'a', 1, b'a'], // a set with a repeated member
        &[0x80],                   // no such type
    ];
    for body in bodies {
        d.check(&[&b"RESTORE"[..], b"k", b"0", &with_footer(body)]);
    }
}

/// Collections as redis-server 7.0 DUMPs them, in each encoding it picks, decoded by ours;
/// and ours DUMPed for redis-server to RESTORE.
#[test]
fn collections_decode_from_redis_and_restore_on_redis() {
    let mut d = Differential::start();
    let r = &mut d.redis_conn;
    let big: Vec<String> = (0..2000).map(|i| format!("member-{i}")).collect();
    let long = "L".repeat(100);
    let mut setup: Vec<Vec<String>> = vec![
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "1".into(),
            "-70000".into(),
        ],
        vec![
            "SADD".into(),
            "iset".into(),
            "3".into(),
            "-2".into(),
            "40000000000".into(),
        ],
        vec![
            "SADD".into(),
            "sset".into(),
            "a".into(),
            "b".into(),
            "7".into(),
        ],
        vec![
            "HSET".into(),
            "hash".into(),
            "f".into(),
            "v".into(),
            "n".into(),
            "12".into(),
        ],
        vec!["HSET".into(), "bighash".into(), "f".into(), long.clone()],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1.5".into(),
            "a".into(),
            "-3".into(),
            "b".into(),
        ],
        vec![
            "ZADD".into(),
            "bigzset".into(),
            "2".into(),
            long.clone(),
            "inf".into(),
            "c".into(),
        ],
    ];
    setup.push([&["RPUSH".to_string(), "biglist".into()][..], &big].concat());
    let mut zadd = vec!["ZADD".to_string(), "manyz".into()];
    for (i, m) in big.iter().enumerate() {
        zadd.push(i.to_string());
        zadd.push(m.clone());
    }
    setup.push(zadd);
    for command in &setup {
        assert!(!r.request(command).is_error(), "{command:?}");
    }
    let sorted = |mut v: Vec<Vec<u8>>| {
        v.sort();
        v
    };
    let b = |s: &str| s.as_bytes().to_vec();
    let expect = |key: &str| -> RdbObject {
        match key {
            "list" => RdbObject::List(vec![b("a"), b("1"), b("-70000")]),
            "biglist" => RdbObject::List(big.iter().map(|s| b(s)).collect()),
            _ => unreachable!(),
        }
    };
    for key in ["list", "biglist"] {
        let obj = restore_payload(&dump(r, key)).unwrap();
        assert_eq!(obj, expect(key));
        assert_eq!(restore(r, "copy", &dump_payload(&obj), &["REPLACE"]), ok());
        assert_eq!(
            r.request(&["LRANGE", "copy", "0", "-1"]),
            r.request(&["LRANGE", key, "0", "-1"])
        );
    }
    for (key, members) in [
        ("iset", vec!["3", "-2", "40000000000"]),
        ("sset", vec!["a", "b", "7"]),
    ] {
        let obj = restore_payload(&dump(r, key)).unwrap();
        let RdbObject::Set(got) = &obj else {
            panic!("{obj:?}")
        };
        assert_eq!(
            sorted(got.clone()),
            sorted(members.iter().map(|s| b(s)).collect())
        );
        assert_eq!(restore(r, "copy", &dump_payload(&obj), &["REPLACE"]), ok());
        assert_eq!(
            r.request(&["SINTERCARD", "2", "copy", key]),
            Reply::Integer(3)
        );
        assert_eq!(r.request(&["SCARD", "copy"]), Reply::Integer(3));
    }
    for (key, want) in [
        ("hash", vec![(b("f"), b("v")), (b("n"), b("12"))]),
        ("bighash", vec![(b("f"), b(&long))]),
    ] {
        let obj = restore_payload(&dump(r, key)).unwrap();
        let RdbObject::Hash(mut got) = obj.clone() else {
            panic!("{obj:?}")
        };
        got.sort();
        assert_eq!(got, want);
        assert_eq!(restore(r, "copy", &dump_payload(&obj), &["REPLACE"]), ok());
        assert_eq!(
            r.request(&["HGETALL", "copy"]).as_array().map(|a| a.len()),
            Some(want.len() * 2)
        );
        assert_eq!(
            r.request(&["HGET", "copy", "f"]),
            r.request(&["HGET", key, "f"])
        );
    }
    for (key, want) in [
        ("zset", vec![(b("a"), 1.5), (b("b"), -3.0)]),
        ("bigzset", vec![(b(&long), 2.0), (b("c"), f64::INFINITY)]),
    ] {
        let obj = restore_payload(&dump(r, key)).unwrap();
        let RdbObject::ZSet(mut got) = obj.clone() else {
            panic!("{obj:?}")
        };
        got.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(got, want);
        assert_eq!(restore(r, "copy", &dump_payload(&obj), &["REPLACE"]), ok());
        assert_eq!(
            r.request(&["ZRANGE", "copy", "0", "-1", "WITHSCORES"]),
            r.request(&["ZRANGE", key, "0", "-1", "WITHSCORES"])
        );
    }
    let obj = restore_payload(&dump(r, "manyz")).unwrap();
    assert_eq!(restore(r, "copy", &dump_payload(&obj), &["REPLACE"]), ok());
    assert_eq!(
        r.request(&["ZRANGE", "copy", "0", "-1", "WITHSCORES"]),
        r.request(&["ZRANGE", "manyz", "0", "-1", "WITHSCORES"])
    );
    assert_eq!(
        r.request(&["OBJECT", "ENCODING", "copy"]),
        Reply::bulk("skiplist")
    );

    // Lists travel both ways between the node and redis-server.
    let payload = dump(&mut d.redis_conn, "list");
    assert_eq!(restore(&mut d.ours_conn, "list", &payload, &[]), ok());
    let range = ["LRANGE", "list", "0", "-1"];
    assert_eq!(d.ours_conn.request(&range), d.redis_conn.request(&range));
    let ours = dump(&mut d.ours_conn, "list");
    assert_eq!(restore(&mut d.redis_conn, "back", &ours, &[]), ok());
    assert_eq!(
        d.redis_conn.request(&["LRANGE", "back", "0", "-1"]),
        d.redis_conn.request(&range)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Random strings DUMP to the same bytes on both servers and travel both ways; random
    /// corruptions of a payload get the same reply from both.
    #[test]
    fn random_strings_and_corruptions(
        values in proptest::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(prop::sample::select(b"ab".to_vec()), 0..300),
            ],
            1..8,
        ),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
    ) {
        let mut d = Differential::start();
        for value in &values {
            d.check(&[&b"SET"[..], b"k", value]);
            d.check(&["DUMP", "k"]);
            let theirs = dump(&mut d.redis_conn, "k");
            prop_assert_eq!(restore(&mut d.ours_conn, "t", &theirs, &["REPLACE"]), ok());
            let ours = dump(&mut d.ours_conn, "k");
            prop_assert_eq!(restore(&mut d.redis_conn, "t", &ours, &["REPLACE"]), ok());
            d.check(&["GET", "t"]);
            for &(at, x) in &flips {
                let mut bad = theirs.clone();
                let i = at.index(bad.len());
                bad[i] ^= x;
                d.check(&[&b"RESTORE"[..], b"c", b"0", &bad]);
            }
        }
    }
}

/// Hashes, sets and sorted sets, small and large (both encodings), DUMPed by redis-server
/// restore on the node with the same contents and encoding, and the node's DUMPs restore on
/// redis-server.
#[test]
fn every_type_travels_both_ways() {
    let mut d = Differential::start();
    let big: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut setup: Vec<Vec<String>> = vec![
        vec![
            "HSET".into(),
            "h".into(),
            "a".into(),
            "1".into(),
            "b".into(),
            "2".into(),
        ],
        vec![
            "SADD".into(),
            "si".into(),
            "1".into(),
            "2".into(),
            "3".into(),
        ],
        vec!["SADD".into(), "ss".into(), "x".into(), "y".into()],
        vec![
            "ZADD".into(),
            "z".into(),
            "1".into(),
            "a".into(),
            "2.5".into(),
            "b".into(),
        ],
    ];
    let mut hbig = vec!["HSET".to_string(), "hbig".into()];
    let mut zbig = vec!["ZADD".to_string(), "zbig".into()];
    for (i, m) in big.iter().enumerate() {
        hbig.extend([m.clone(), i.to_string()]);
        zbig.extend([i.to_string(), m.clone()]);
    }
    setup.push(hbig);
    setup.push(zbig);
    for command in &setup {
        d.redis_conn.request(command);
    }
    let reads: &[(&str, &[&str])] = &[
        ("h", &["HGETALL", "h"]),
        ("si", &["SMEMBERS", "si"]),
        ("ss", &["SINTERCARD", "1", "ss"]),
        ("z", &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ("hbig", &["HLEN", "hbig"]),
        ("zbig", &["ZRANGE", "zbig", "0", "-1", "WITHSCORES"]),
    ];
    for (key, read) in reads {
        let payload = dump(&mut d.redis_conn, key);
        assert_eq!(restore(&mut d.ours_conn, key, &payload, &[]), ok(), "{key}");
        assert_eq!(
            d.ours_conn.request(read),
            d.redis_conn.request(read),
            "{key}"
        );
        let ours = dump(&mut d.ours_conn, key);
        assert_eq!(
            restore(&mut d.redis_conn, "back", &ours, &["REPLACE"]),
            ok(),
            "{key}"
        );
        let back: Vec<&str> = read
            .iter()
            .map(|a| if a == key { "back" } else { a })
            .collect();
        assert_eq!(
            d.redis_conn.request(&back),
            d.redis_conn.request(read),
            "{key}"
        );
    }
}

/// Small collections DUMP byte for byte as redis-server dumps them: hashes and sorted sets as
/// listpacks (integer-looking fields and scores as listpack integers, other scores as
/// `%.17g`), sets of integers as intsets, lists as quicklists of listpacks.
#[test]
fn small_collections_dump_byte_for_byte_like_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &[
            "HSET",
            "h",
            "f",
            "v",
            "n",
            "12",
            "x",
            "-70000",
            "big",
            "9223372036854775807",
        ],
        &["HSET", "h", "long", &"L".repeat(63)],
        &[
            "ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "1e20", "d", "0.1", "e",
        ],
        &["ZADD", "z", "4611686018427387904", "f", "-inf", "g"],
        &["SADD", "s", "3", "-2", "40000000000"],
        &["RPUSH", "l", "a", "1", "-70000", "hello"],
    ]);
    for key in ["h", "z", "s", "l"] {
        d.check(&["OBJECT", "ENCODING", key]);
        d.check(&["DUMP", key]);
    }
}
