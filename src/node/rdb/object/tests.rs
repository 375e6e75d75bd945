//! Payload tests: fixtures DUMPed by redis-server 7.0.15 (Debian's, on this machine, with
//! default settings: `redis-server --save '' --appendonly no`, then the commands named beside
//! each), round trips of every kind, old encodings, and refusals.

use proptest::prelude::*;

use super::*;

use crate::node::rdb::test_bytes::{b, hex};

/// `body` with the footer Redis would put after it.
fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn restore_body(body: &[u8]) -> Result<RdbObject, RdbError> {
    restore_payload(&with_footer(body, RDB_VERSION))
}

/// `SET k <"a" * 100>`; `DUMP k` (LZF-compressed string).
const LZF_STRING: &str = "00c3094064016161e057000161610a00e8a3b507b06df271";
/// `RPUSH list a bb 1 -5 300 70000 -9000000000 hello`; quicklist-2 with one listpack node.
const LIST: &str = "1201022c2c0000000800816102826262030101dffb02c12c02f270110104f400e68ee7fdffffff098568656c6c6f06ff0a007934ad482d0a390a";
/// `SADD iset 1 2 3 -7 100000`.
const INTSET: &str =
    "0b1c0400000005000000f9ffffff010000000200000003000000a08601000a0029b97dfc0598e506";
/// `SADD sset a b c`.
const SET: &str = "02030163016201610a005ea67e5623750bab";
/// `HSET h f1 v1 f2 2 num 123456`; listpack.
const HASH_LISTPACK: &str =
    "101f1f00000006008266310382763103826632030201836e756d04f240e20104ff0a007b01f07b3c19c1c0";
/// `ZADD z 1 a 2.5 b -3 c 1e300 d`; listpack, itself LZF-compressed.
const ZSET_LISTPACK: &str = "11c32d361f360000000800816302dffd02816102010181620283322e350481640297312e30e005000731652b33303018ff0a005c81725c034e0b0f";
/// `HSET hh f1 v1 long <"x" * 70>`; plain hash (the long value is LZF-compressed).
const HASH: &str = "0402046c6f6e67c3094046017878e039000178780266310276310a00999d49ee794dbade";
/// `ZADD zz 1.5 m 2 <"x" * 70>`; `ZSET_2`.
const ZSET_2: &str =
    "0502c3094046017878e039000178780000000000000040016d000000000000f83f0a000fea78fe0b9dc212";
/// `SET s -1`, `SET s 128`, `SET s -32769`, `SET s 2147483648`, `SET s 007`, each DUMPed.
const STRINGS: &[(&str, &str)] = &[
    ("-1", "00c0ff0a000c937e2485089dc5"),
    ("128", "00c180000a00eb7ab3b510cf4b65"),
    ("-32769", "00c2ff7fffff0a00aee34c4d06c68536"),
    ("2147483648", "000a323134373438333634380a00e7b129a34c1d76ee"),
    ("007", "00033030370a007258e27b4c69bad9"),
];

#[test]
fn decodes_what_redis_dumps() {
    assert_eq!(
        restore_payload(&hex(LZF_STRING)).unwrap(),
        RdbObject::Str(vec![b'a'; 100])
    );
    let list = ["a", "bb", "1", "-5", "300", "70000", "-9000000000", "hello"];
    assert_eq!(
        restore_payload(&hex(LIST)).unwrap(),
        RdbObject::List(list.iter().map(|s| b(s)).collect())
    );
    assert_eq!(
        restore_payload(&hex(INTSET)).unwrap(),
        RdbObject::Set(
            ["-7", "1", "2", "3", "100000"]
                .iter()
                .map(|s| b(s))
                .collect()
        )
    );
    assert_eq!(
        restore_payload(&hex(SET)).unwrap(),
        RdbObject::Set(vec![b("c"), b("b"), b("a")])
    );
    assert_eq!(
        restore_payload(&hex(HASH_LISTPACK)).unwrap(),
        RdbObject::Hash(vec![
            (b("f1"), b("v1")),
            (b("f2"), b("2")),
            (b("num"), b("123456"))
        ])
    );
    assert_eq!(
        restore_payload(&hex(ZSET_LISTPACK)).unwrap(),
        RdbObject::ZSet(vec![
            (b("c"), -3.0),
            (b("a"), 1.0),
            (b("b"), 2.5),
            (b("d"), 1e300)
        ])
    );
    assert_eq!(
        restore_payload(&hex(HASH)).unwrap(),
        RdbObject::Hash(vec![(b("long"), vec![b'x'; 70]), (b("f1"), b("v1"))])
    );
    assert_eq!(
        restore_payload(&hex(ZSET_2)).unwrap(),
        RdbObject::ZSet(vec![(vec![b'x'; 70], 2.0), (b("m"), 1.5)])
    );
}

#[test]
fn small_strings_dump_exactly_as_redis() {
    for (text, payload) in STRINGS {
        let obj = RdbObject::Str(b(text));
        assert_eq!(dump_payload(&obj), hex(payload), "{text}");
        assert_eq!(restore_payload(&hex(payload)).unwrap(), obj);
    }
}

#[test]
fn reencodes_redis_payloads_byte_for_byte() {
    // Where Redis's encoding choice is ours too, decoding and encoding again gives its bytes
    // (LZF included). Small hashes and sorted sets differ: Redis writes listpacks, we plain.
    for fixture in [LZF_STRING, LIST, INTSET, SET, HASH, ZSET_2] {
        let payload = hex(fixture);
        assert_eq!(dump_payload(&restore_payload(&payload).unwrap()), payload);
    }
}

#[test]
fn every_kind_round_trips() {
    let long = vec![b'q'; 20_000];
    let many: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("item-{i}").into_bytes())
        .collect();
    let objects = vec![
        RdbObject::Str(vec![]),
        RdbObject::Str(b("hello")),
        RdbObject::Str(b("-2147483648")),
        RdbObject::Str(b("9223372036854775807")),
        RdbObject::Str(long.clone()),
        RdbObject::List(vec![
            b("a"),
            b(""),
            b("17"),
            long.clone(),
            b("-99999999999"),
        ]),
        RdbObject::List(many.clone()),
        RdbObject::Set(vec![b("1"), b("-5"), b("40000000000")]),
        RdbObject::Set(vec![b("1"), b("x"), long.clone()]),
        RdbObject::Set(many.clone()),
        RdbObject::Set((0..600).map(decimal).collect()),
        RdbObject::Hash(vec![(b("f"), b("v")), (b("n"), b("12")), (b("big"), long)]),
        RdbObject::ZSet(vec![
            (b("a"), 1.5),
            (b("b"), f64::INFINITY),
            (b("c"), f64::NEG_INFINITY),
            (b("d"), -0.0),
            (b("e"), 1e-300),
        ]),
    ];
    for obj in objects {
        let back = restore_payload(&dump_payload(&obj)).unwrap();
        match (&obj, &back) {
            // Intsets come back sorted.
            (RdbObject::Set(a), RdbObject::Set(b)) => {
                let (mut a, mut b) = (a.clone(), b.clone());
                a.sort();
                b.sort();
                assert_eq!(a, b);
            }
            _ => assert_eq!(back, obj),
        }
    }
}

#[test]
fn long_lists_are_cut_into_nodes() {
    let items: Vec<Vec<u8>> = (0..5000)
        .map(|i| format!("value-{i}").into_bytes())
        .collect();
    let payload = dump_payload(&RdbObject::List(items.clone()));
    let mut r = Reader::new(&payload[1..]);
    assert!(r.len().unwrap() > 1, "several nodes");
    assert_eq!(restore_payload(&payload).unwrap(), RdbObject::List(items));
}

#[test]
fn reads_older_encodings() {
    let items: Vec<&[u8]> = vec![b"a", b"1", b"300"];
    let zl = ziplist::build(items.iter().copied());
    let want_list = RdbObject::List(items.iter().map(|i| i.to_vec()).collect());

    let mut body = vec![types::LIST_ZIPLIST];
    write_string(&mut body, &zl);
    assert_eq!(restore_body(&body).unwrap(), want_list);

    let mut body = vec![types::LIST_QUICKLIST, 2];
    write_string(&mut body, &zl);
    write_string(&mut body, &ziplist::build([&b"z"[..]]));
    let mut longer: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
    longer.push(b("z"));
    assert_eq!(restore_body(&body).unwrap(), RdbObject::List(longer));

    let mut body = vec![types::LIST, 2];
    write_string(&mut body, b"x");
    write_string(&mut body, b"5");
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::List(vec![b("x"), b("5")])
    );

    let hz = ziplist::build([&b"f"[..], b"v", b"g", b"7"]);
    let mut body = vec![types::HASH_ZIPLIST];
    write_string(&mut body, &hz);
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::Hash(vec![(b("f"), b("v")), (b("g"), b("7"))])
    );

    let zz = ziplist::build([&b"m"[..], b"3", b"n", b"1.25"]);
    let mut body = vec![types::ZSET_ZIPLIST];
    write_string(&mut body, &zz);
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::ZSet(vec![(b("m"), 3.0), (b("n"), 1.25)])
    );

    // The old ZSET type: scores as text, 254 for +inf.
    let body = [types::ZSET, 2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254];
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::ZSet(vec![(b("a"), 1.5), (b("b"), f64::INFINITY)])
    );

    // A zipmap: count, "f" -> "v" with one free byte, "k" -> "" , end.
    let zm = [2, 1, b'f', 1, 1, b'v', 0, 1, b'k', 0, 0, 255];
    let mut body = vec![types::HASH_ZIPMAP];
    write_string(&mut body, &zm);
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::Hash(vec![(b("f"), b("v")), (b("k"), b(""))])
    );

    // Quicklist-2 with a plain node and a packed one.
    let mut body = vec![types::LIST_QUICKLIST_2, 2, 1];
    write_string(&mut body, b"plain");
    write_len(&mut body, 2);
    write_string(&mut body, &listpack::build([&b"p"[..]]));
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::List(vec![b("plain"), b("p")])
    );

    let mut body = vec![types::ZSET_LISTPACK];
    write_string(
        &mut body,
        &listpack::build([&b"m"[..], b"-2", b"n", b"inf"]),
    );
    assert_eq!(
        restore_body(&body).unwrap(),
        RdbObject::ZSet(vec![(b("m"), -2.0), (b("n"), f64::INFINITY)])
    );
}

#[test]
fn footer_errors() {
    let good = dump_payload(&RdbObject::Str(b("v")));
    assert_eq!(
        restore_payload(&good[..9]),
        Err(RdbError::VersionOrChecksum)
    );
    assert_eq!(restore_payload(&[]), Err(RdbError::VersionOrChecksum));
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        assert_eq!(
            restore_payload(&bad),
            Err(RdbError::VersionOrChecksum),
            "byte {i}"
        );
    }
    let body = [types::STRING, 1, b'v'];
    assert_eq!(
        restore_payload(&with_footer(&body, 11)),
        Err(RdbError::VersionOrChecksum)
    );
    assert!(
        restore_payload(&with_footer(&body, 9)).is_ok(),
        "older versions load"
    );
    assert_eq!(
        RdbError::VersionOrChecksum.to_string(),
        "ERR DUMP payload version or checksum are wrong"
    );
}

#[test]
fn bad_bodies_are_bad_data() {
    let bad = |body: &[u8]| match restore_body(body) {
        Err(e @ RdbError::BadData { .. }) => assert_eq!(e.to_string(), "ERR Bad data format"),
        other => panic!("{body:?} gave {other:?}"),
    };
    bad(&[]);
    bad(&[15, 0]); // a stream
    bad(&[7, 0]); // a module
    bad(&[types::STRING, 2, b'a']); // truncated
    bad(&[types::STRING, 1, b'a', b'b']); // trailing bytes
    bad(&[types::LIST, 0]); // empty
    bad(&[types::SET, 2, 1, b'a', 1, b'a']); // repeated member
    bad(&[types::HASH, 2, 1, b'a', 0, 1, b'a', 0]); // repeated field
    bad(&[types::ZSET, 1, 1, b'a', 253]); // NaN score
    bad(&[types::ZSET, 1, 1, b'a', 1, b'x']); // not a number
    bad(&[types::LIST_QUICKLIST_2, 1, 3, 1, b'a']); // unknown container
    bad(&[types::LIST, 0x80, 0xff, 0xff, 0xff, 0xff]); // count beyond the payload
    let mut body = vec![types::HASH_LISTPACK];
    write_string(&mut body, &listpack::build([&b"f"[..]]));
    bad(&body); // odd entries
    let mut body = vec![types::SET_INTSET];
    write_string(&mut body, &intset::build(&[]));
    bad(&body); // empty intset
}

/// Valid payloads of every kind, for mutation.
fn samples() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        LZF_STRING,
        LIST,
        INTSET,
        SET,
        HASH_LISTPACK,
        ZSET_LISTPACK,
        HASH,
        ZSET_2,
    ]
    .iter()
    .map(|h| hex(h))
    .collect();
    out.push(dump_payload(&RdbObject::List(vec![b("a"), b("12")])));
    let mut body = vec![types::LIST_QUICKLIST];
    write_len(&mut body, 1);
    write_string(&mut body, &ziplist::build([&b"a"[..], b"100000"]));
    out.push(with_footer(&body, RDB_VERSION));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = restore_body(&body);
        let _ = restore_payload(&body);
    }

    #[test]
    fn mutated_payloads_never_panic(
        pick in 0usize..10,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let samples = samples();
        let payload = &samples[pick % samples.len()];
        let mut body = payload[..payload.len() - FOOTER_SIZE].to_vec();
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = restore_body(&body);
        let _ = restore_body(&body[..cut.index(body.len() + 1)]);
    }
}
