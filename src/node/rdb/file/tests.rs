use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::node::keyspace::Keyspace;

/// `SAVE` of redis-server 7.0.15 under `maxmemory-policy allkeys-lru` (so keys carry IDLE
/// records), holding: `s` (string, PEXPIREAT 4102444800000), `n` (12345), list `l` [a b 3],
/// intset `is` {1 2 3}, set `ss` {x y}, hash `h` {f: v}, zset `z` {m: 1.5, n: 2}, stream
/// `st` (entry 1-1 f=v, group g with consumer c owning it), and `other` = 1 in DB 2; plus the
/// function library `lib`.
const REDIS_FILE: &str = "524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa056374696d65c2c801106bfa08757365642d6d656dc288301200fa08616f662d62617365c000f5404423216c7561206e616d653d6c69620a72656469732e72656769737465725f66756e6374696f6e282766272c2066756e6374696f6e28292072657475726e203120656e6429fe00fb0801fc00d8c32cbb030000f8000001730568656c6c6ff80000016ec13930f80012016c01020f0f00000003008161028162020301fff800020273730201790178f800130273740110000000000000000100000000000000011d1d0000000a0001010001010181660200010201000100018176020401ff010101010100000101016701010101000000000000000100000000000000019af88636a2010000010101639af88636a20100000100000000000000010000000000000001f80011017a14140000000400816d0283312e3504816e020201fff8000b0269730e0200000003000000010002000300f8001001680d0d0000000200816602817602fffe02fb0100f80000056f74686572c001ffd3fe9527172f3ad1";

const FAR_FUTURE_MS: i64 = 4_102_444_800_000;

use crate::node::rdb::test_bytes::{b, hex};

/// Every key of `ks` as (db, key) → (comparable object, expiry).
fn contents(ks: &Keyspace) -> BTreeMap<(usize, Vec<u8>), (String, Option<i64>)> {
    let mut out = BTreeMap::new();
    for (i, db) in ks.dbs().iter().enumerate() {
        for (key, entry) in db.iter() {
            out.insert(
                (i, key.key().to_vec()),
                (comparable(to_rdb(&entry.value)), entry.expire_at()),
            );
        }
    }
    out
}

/// An object as text that does not depend on its encoding or on the order of unordered
/// elements.
fn comparable(obj: RdbObject) -> String {
    match obj {
        RdbObject::Set(mut members) => {
            members.sort();
            format!("{:?}", RdbObject::Set(members))
        }
        RdbObject::Hash(mut pairs) | RdbObject::HashListpack(mut pairs) => {
            pairs.sort();
            format!("{:?}", RdbObject::Hash(pairs))
        }
        RdbObject::ZSet(pairs) | RdbObject::ZSetListpack(pairs) => {
            format!("{:?}", RdbObject::ZSet(pairs))
        }
        other => format!("{other:?}"),
    }
}

fn loaded(bytes: &[u8]) -> Keyspace {
    let snapshot = load_snapshot(bytes).unwrap();
    let mut ks = Keyspace::new(16);
    install(&mut ks, snapshot.keys, &NodeConfig::default(), 0).unwrap();
    ks
}

#[test]
fn reads_what_redis_saves() {
    let snapshot = load_snapshot(&hex(REDIS_FILE)).unwrap();
    assert_eq!(snapshot.version, 10);
    assert!(snapshot.aux.contains(&(b("redis-ver"), b("7.0.15"))));
    assert_eq!(snapshot.functions.len(), 1);
    assert!(snapshot.functions[0].starts_with(b"#!lua name=lib\n"));
    let names: Vec<(usize, &[u8])> = snapshot
        .keys
        .iter()
        .map(|k| (k.db, k.key.as_slice()))
        .collect();
    assert_eq!(names.len(), 9);
    assert!(names.contains(&(2, b"other")));
    let s = snapshot.keys.iter().find(|k| k.key == b"s").unwrap();
    assert_eq!(s.expire_at, Some(FAR_FUTURE_MS));
    assert_eq!(s.idle, Some(0));
    assert_eq!(s.object, RdbObject::Str(b("hello")));

    let ks = loaded(&hex(REDIS_FILE));
    let c = contents(&ks);
    assert_eq!(c.len(), 9);
    let get = |db: usize, key: &str| c[&(db, b(key))].clone();
    assert_eq!(get(0, "n").0, format!("{:?}", RdbObject::Str(b("12345"))));
    assert_eq!(
        get(0, "l").0,
        format!("{:?}", RdbObject::List(vec![b("a"), b("b"), b("3")]))
    );
    assert_eq!(
        get(0, "z").0,
        format!("{:?}", RdbObject::ZSet(vec![(b("m"), 1.5), (b("n"), 2.0)]))
    );
    assert_eq!(get(0, "s").1, Some(FAR_FUTURE_MS));
    assert_eq!(get(2, "other").0, format!("{:?}", RdbObject::Str(b("1"))));
}

#[test]
fn what_it_writes_reads_back_the_same() {
    let ks = loaded(&hex(REDIS_FILE));
    let again = loaded(&write_snapshot(&ks, 0));
    assert_eq!(contents(&again), contents(&ks));
}

#[test]
fn files_are_laid_out_as_redis_lays_them_out() {
    let mut ks = Keyspace::new(16);
    let config = NodeConfig::default();
    let value = |o| from_rdb(o, &config).unwrap();
    ks.db(3)
        .set_with_expiry(b"k", value(RdbObject::Str(b("v"))), Some(5000), 0);
    ks.db(3).set(b"j", value(RdbObject::Str(b("w"))), 0);
    let bytes = write_snapshot(&ks, 1000);
    assert!(bytes.starts_with(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40"));
    let body = &bytes[..bytes.len() - 8];
    let db3 = [SELECTDB, 3, RESIZEDB, 2, 1];
    assert!(body.windows(db3.len()).any(|w| w == db3), "{body:x?}");
    assert!(body.ends_with(&[EOF]));
    let crc = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
    assert_eq!(crc, crc64(0, body));
    // `k`: its expiry, then type, key and value.
    let mut k = vec![EXPIRETIME_MS];
    k.extend_from_slice(&5000i64.to_le_bytes());
    k.extend_from_slice(&[0, 1, b'k', 1, b'v']);
    assert!(body.windows(k.len()).any(|w| w == k));
}

#[test]
fn expired_keys_and_empty_databases_are_left_out() {
    let mut ks = Keyspace::new(16);
    let config = NodeConfig::default();
    let value = || from_rdb(RdbObject::Str(b("v")), &config).unwrap();
    ks.db(0).set_with_expiry(b"gone", value(), Some(1000), 0);
    ks.db(1).set_with_expiry(b"gone", value(), Some(1000), 0);
    ks.db(1).set_with_expiry(b"kept", value(), Some(3000), 0);
    let snapshot = load_snapshot(&write_snapshot(&ks, 2000)).unwrap();
    let keys: Vec<_> = snapshot
        .keys
        .iter()
        .map(|k| (k.db, k.key.clone()))
        .collect();
    assert_eq!(keys, vec![(1, b("kept"))]);
    // DB 0 holds only an expired key: no SELECTDB for it.
    let bytes = write_snapshot(&ks, 2000);
    assert!(!bytes.windows(2).any(|w| w == [SELECTDB, 0]));
    // Loading drops what has expired since the save.
    let mut target = Keyspace::new(16);
    let counts = install(&mut target, snapshot.keys, &config, 5000).unwrap();
    assert_eq!(
        counts,
        LoadCounts {
            loaded: 0,
            expired: 1
        }
    );
}

#[test]
fn functions_and_aux_fields_are_written_when_given() {
    let ks = Keyspace::new(1);
    let code: &[u8] = b"#!lua name=x\nredis.register_function('x', function() return 1 end)";
    let extras = SnapshotExtras {
        functions: vec![code],
        aux: vec![("repl-stream-db", "0".into())],
    };
    let snapshot = load_snapshot(&write_snapshot_with(&ks, &extras, 0)).unwrap();
    assert_eq!(snapshot.functions, vec![code.to_vec()]);
    let names: Vec<&[u8]> = snapshot.aux.iter().map(|(k, _)| k.as_slice()).collect();
    let expected: [&[u8]; 6] = [
        b"redis-ver",
        b"redis-bits",
        b"ctime",
        b"used-mem",
        b"repl-stream-db",
        b"aof-base",
    ];
    assert_eq!(names, expected);
}

#[test]
fn bad_headers_and_checksums_are_refused() {
    let good = hex(REDIS_FILE);
    assert_eq!(load_snapshot(b"REDIS"), Err(SnapshotError::Signature));
    assert_eq!(
        load_snapshot(b"RUBIS0010\xff"),
        Err(SnapshotError::Signature)
    );
    let mut newer = good.clone();
    newer[5..9].copy_from_slice(b"0011");
    assert_eq!(load_snapshot(&newer), Err(SnapshotError::Version(11)));
    let mut flipped = good.clone();
    let at = good.len() - 20;
    flipped[at] ^= 0x01;
    assert!(load_snapshot(&flipped).is_err());
    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    assert!(matches!(
        load_snapshot(&bad_crc),
        Err(SnapshotError::Checksum { .. })
    ));
    // A zero checksum is "not computed" (`rdbchecksum no`).
    let mut unchecked = good.clone();
    let n = unchecked.len();
    unchecked[n - 8..].fill(0);
    assert!(load_snapshot(&unchecked).is_ok());
    // Files before version 5 have no checksum at all.
    let old = b"REDIS0004\xfe\x00\x00\x01k\x01v\xff";
    assert_eq!(load_snapshot(old).unwrap().keys.len(), 1);
}

#[test]
fn every_truncation_is_an_error() {
    let good = hex(REDIS_FILE);
    for len in 0..good.len() {
        assert!(load_snapshot(&good[..len]).is_err(), "{len} bytes loaded");
    }
    assert_eq!(
        load_snapshot(&good[..good.len() - 3]),
        Err(SnapshotError::Truncated {
            offset: good.len() - 8
        })
    );
}

#[test]
fn modules_and_pre_release_functions_are_refused_clearly() {
    for (byte, what) in [
        (MODULE_AUX, "module data"),
        (FUNCTION_PRE_GA, "pre-release"),
    ] {
        let file = [b"REDIS0010".as_slice(), &[byte, 0, 0, 0]].concat();
        let err = load_snapshot(&file).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Unsupported { offset: 10, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(what), "{err}");
    }
}

#[test]
fn databases_the_node_lacks_and_repeated_keys_are_refused() {
    let key = |db, name: &str| LoadedKey {
        db,
        key: b(name),
        object: RdbObject::Str(b("v")),
        expire_at: None,
        idle: None,
        freq: None,
    };
    let config = NodeConfig::default();
    let mut ks = Keyspace::new(4);
    assert_eq!(
        install(&mut ks, vec![key(4, "k")], &config, 0),
        Err(SnapshotError::Database {
            db: 4,
            databases: 4
        })
    );
    assert_eq!(
        install(&mut ks, vec![key(1, "k"), key(1, "k")], &config, 0),
        Err(SnapshotError::Duplicate {
            db: 1,
            key: "k".into()
        })
    );
}

proptest! {
    #[test]
    fn mutated_files_never_panic(
        at in 0usize..431,
        byte in any::<u8>(),
        cut in 0usize..431,
    ) {
        let mut file = hex(REDIS_FILE);
        let at = at % file.len();
        file[at] = byte;
        file.truncate(cut.max(at + 1));
        if let Ok(snapshot) = load_snapshot(&file) {
            let mut ks = Keyspace::new(16);
            let _ = install(&mut ks, snapshot.keys, &NodeConfig::default(), 0);
        }
    }

    #[test]
    fn random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let file = [b"REDIS0010".as_slice(), &body].concat();
        let _ = load_snapshot(&file);
    }
}
