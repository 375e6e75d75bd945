//! `slotgate node`: HyperLogLog commands, compared byte for byte with redis-server 7.0 — the
//! replies and, through `GET`, the HLL strings themselves (sparse opcodes, dense registers and
//! the cached cardinality).

use rand::{Rng, SeedableRng};

use crate::harness::{Differential, Reply};

/// The string at `key` on redis-server.
fn redis_bytes(d: &mut Differential, key: &str) -> Vec<u8> {
    match d.redis_conn.request(&["GET", key]) {
        Reply::Bulk(Some(bytes)) => bytes,
        other => panic!("GET {key} on redis-server answered {other:?}"),
    }
}

/// Requires `key` to hold the same bytes on both servers.
#[track_caller]
fn same_bytes(d: &mut Differential, key: &str) {
    d.check(&["GET", key]);
}

/// An HLL header followed by `data`; `encoding` 1 is sparse, 0 dense.
fn hll_with(encoding: u8, data: &[u8]) -> Vec<u8> {
    let mut hll = b"HYLL".to_vec();
    hll.push(encoding);
    hll.extend_from_slice(&[0; 3]);
    hll.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
    hll.extend_from_slice(data);
    hll
}

/// A dense HLL with every register at `value`.
fn dense_all(value: u8) -> Vec<u8> {
    let v = u32::from(value);
    let group = [
        (v | v << 6) as u8,
        (v >> 2 | v << 4) as u8,
        (v >> 4 | v << 2) as u8,
    ];
    hll_with(0, &group.repeat(4096))
}

#[test]
fn pf_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["PFADD", "h", "a", "b", "c"],
        &["TYPE", "h"],
        &["OBJECT", "ENCODING", "h"],
        &["GET", "h"],
        &["PFCOUNT", "h"],
        // The count is now cached in the header.
        &["GET", "h"],
        &["PFCOUNT", "h"],
        &["PFADD", "h", "a"],
        &["GET", "h"],
        &["PFADD", "h", "d"],
        &["GET", "h"],
        &["PFADD", "h"],
        &["PFADD", "empty"],
        &["GET", "empty"],
        &["PFCOUNT", "empty"],
        &["GET", "empty"],
        &["PFCOUNT", "missing"],
        &["EXISTS", "missing"],
        &["PFADD", "other", "c", "d", "e", "f"],
        &["PFCOUNT", "h", "other"],
        &["PFCOUNT", "h", "other", "missing", "h"],
        &["GET", "h"],
        &["PFMERGE", "dest", "h", "other"],
        &["GET", "dest"],
        &["PFCOUNT", "dest"],
        &["PFMERGE", "dest"],
        &["GET", "dest"],
        &["PFMERGE", "fresh"],
        &["GET", "fresh"],
        &["PFMERGE", "fresh2", "missing", "missing2"],
        &["GET", "fresh2"],
        &["PFMERGE", "h", "other"],
        &["GET", "h"],
        &["PFDEBUG", "ENCODING", "h"],
        &["PFDEBUG", "DECODE", "h"],
        &["PFDEBUG", "decode", "empty"],
        &["PFDEBUG", "GETREG", "other"],
        &["PFDEBUG", "ENCODING", "other"],
        &["GET", "other"],
        &["PFDEBUG", "DECODE", "other"],
        &["PFDEBUG", "TODENSE", "other"],
        &["PFDEBUG", "TODENSE", "h"],
        &["PFDEBUG", "TODENSE", "h"],
        &["GET", "h"],
        &["PFCOUNT", "h"],
        &["PFADD", "h", "zz"],
        &["GET", "h"],
        &["PFMERGE", "dest2", "h", "dest"],
        &["PFDEBUG", "ENCODING", "dest2"],
        &["GET", "dest2"],
        &["PFCOUNT", "dest2", "dest"],
        &["PFDEBUG", "FOO", "h"],
        &["PFDEBUG", "FOO", "missing"],
        &["PFDEBUG", "GETREG", "missing"],
        &["OBJECT", "ENCODING", "dest2"],
        // Changed in place: the expiry stays.
        &["PFADD", "ttl", "a"],
        &["EXPIRE", "ttl", "100"],
        &["PFADD", "ttl", "b"],
        &["TTL", "ttl"],
        &["PFMERGE", "ttl", "h"],
        &["TTL", "ttl"],
        &["PFCOUNT", "ttl"],
        &["TTL", "ttl"],
        &["PFDEBUG", "TODENSE", "ttl"],
        &["TTL", "ttl"],
    ]);
}

/// Redis merges equal neighbouring `VAL`s over at most five opcodes from the one before the
/// change: a crafted HLL where the fifth one matters ("foobar" raises register 1910 to 4).
#[test]
fn sparse_merges_reach_as_far_as_redis() {
    let mut d = Differential::start();
    let data = [0x47, 0x72, 0x88, 0x8b, 0x88, 0x88, 0x78, 0x85];
    d.check(&[b"SET".as_slice(), b"m", &hll_with(1, &data)]);
    d.check_all(&[
        &["PFDEBUG", "DECODE", "m"],
        &["PFADD", "m", "foobar"],
        &["PFDEBUG", "DECODE", "m"],
        &["GET", "m"],
        &["PFCOUNT", "m"],
    ]);
}

#[test]
fn pf_errors_match_redis() {
    let mut d = Differential::start();
    let mut corrupt = hll_with(1, &[0x7f, 0xff]);
    corrupt.pop();
    let mut overlong = hll_with(1, &[0x7f, 0xff]);
    overlong.push(0x80);
    let wrong_len_dense = hll_with(0, &[0; 100]);
    let bad_encoding = hll_with(2, &[0x7f, 0xff]);
    let mut bad_magic = hll_with(1, &[0x7f, 0xff]);
    bad_magic[0] = b'h';
    let values: &[(&str, &[u8])] = &[
        ("corrupt", &corrupt),
        ("overlong", &overlong),
        ("wronglen", &wrong_len_dense),
        ("badenc", &bad_encoding),
        ("badmagic", &bad_magic),
        ("short", b"HYLL"),
        ("int", b"12345678901234567"),
        ("text", b"not an hll at all, just text"),
    ];
    for (key, value) in values {
        d.check(&[b"SET", key.as_bytes(), value]);
    }
    d.check(&["RPUSH", "list", "x"]);
    d.check(&["PFADD", "good", "x"]);
    for (key, _) in values
        .iter()
        .chain([&("list", &b""[..]), &("good", &b""[..])])
    {
        d.check_all(&[
            &["PFADD", key, "x", "y"],
            &["PFADD", key],
            &["PFCOUNT", key],
            &["PFCOUNT", key, "good"],
            &["PFCOUNT", "good", key],
            &["PFMERGE", key, "good"],
            &["PFMERGE", "target", key],
            &["EXISTS", "target"],
            &["PFDEBUG", "GETREG", key],
            &["PFDEBUG", "DECODE", key],
            &["PFDEBUG", "ENCODING", key],
            &["PFDEBUG", "TODENSE", key],
            &["PFDEBUG", "NOPE", key],
            &["OBJECT", "ENCODING", key],
            &["GET", key],
        ]);
    }
    // A corrupt sparse HLL whose first opcodes still take a PFADD before the bad end is found.
    let mut tail = hll_with(1, &[0x7f, 0xfe]);
    tail.push(0x80);
    tail.push(0x80);
    d.check(&[b"SET".as_slice(), b"tail", &tail]);
    d.check_all(&[
        &["PFADD", "tail", "a", "b", "c", "d", "e", "f", "g"],
        &["GET", "tail"],
        &["PFCOUNT", "tail"],
    ]);
    // Opcodes that overrun the 16384 registers, wherever the overrun is; an `XZERO` cut short
    // reads its missing byte as the string's terminator.
    let overruns: &[(&str, &[u8])] = &[
        ("xz_zero", &[0x7f, 0xff, 0x00]),
        ("zero_xz", &[0x00, 0x7f, 0xff]),
        ("val_xz", &[0x80, 0x7f, 0xff]),
        ("xz_trunc", &[0x7f, 0xfe, 0x40]),
        ("val_over", &[0x7f, 0xfc, 0x83, 0x80]),
    ];
    for (key, data) in overruns {
        for command in [
            &["PFCOUNT", key][..],
            &["PFCOUNT", key, "good"],
            &["PFMERGE", "t", key],
            &["PFDEBUG", "TODENSE", key],
            &["PFDEBUG", "DECODE", key],
            &["PFADD", key, "a", "b", "c"],
        ] {
            d.check(&[b"SET".as_slice(), key.as_bytes(), &hll_with(1, data)]);
            d.check(command);
            d.check(&["GET", key]);
        }
    }
    d.check_all(&[
        &["PFADD"],
        &["PFCOUNT"],
        &["PFMERGE"],
        &["PFDEBUG", "GETREG"],
        &["PFDEBUG", "GETREG", "good", "extra"],
        &["PFSELFTEST", "extra"],
    ]);
    // Every register at 51: Redis's estimator divides by zero and answers LLONG_MIN.
    d.check(&[b"SET".as_slice(), b"max", &dense_all(51)]);
    d.check_all(&[
        &["PFCOUNT", "max"],
        &["GET", "max"],
        &["PFCOUNT", "max"],
        &["PFCOUNT", "max", "good"],
    ]);
}

#[test]
fn the_sparse_limit_is_a_config_directive() {
    let mut d = Differential::start();
    d.check_all(&[
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "60"],
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "-1"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "1kb"],
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "60"],
    ]);
    for i in 0..40 {
        d.check(&["PFADD", "s", &format!("e{i}")]);
        d.check(&["PFDEBUG", "ENCODING", "s"]);
        same_bytes(&mut d, "s");
    }
    d.check(&["PFCOUNT", "s"]);
    same_bytes(&mut d, "s");
}

/// Random `PFADD`/`PFMERGE`/`PFCOUNT` over a few keys, with the sparse limit moved around so
/// that keys turn dense at different sizes; every key's bytes are compared as it goes.
#[test]
fn random_sequences_write_the_same_bytes() {
    let mut d = Differential::start();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x4879_4c4c);
    let keys = ["k0", "k1", "k2", "k3", "k4"];
    for round in 0..400 {
        if round % 100 == 0 {
            let limit = ["3000", "200", "700", "0"][round / 100];
            d.check(&["CONFIG", "SET", "hll-sparse-max-bytes", limit]);
        }
        let key = keys[rng.gen_range(0..keys.len())];
        match rng.gen_range(0..10) {
            0..=5 => {
                let n = rng.gen_range(0..30);
                let spread = [50, 1000, 100_000][rng.gen_range(0..3)];
                let mut command = vec!["PFADD".to_string(), key.to_string()];
                command.extend((0..n).map(|_| format!("m{}", rng.gen_range(0..spread))));
                d.check(&command);
            }
            6 => {
                let mut command = vec!["PFMERGE".to_string(), key.to_string()];
                let sources = rng.gen_range(0..4);
                command.extend((0..sources).map(|_| keys[rng.gen_range(0..keys.len())].into()));
                d.check(&command);
            }
            7 => {
                d.check(&["PFCOUNT", key]);
            }
            8 => {
                let other = keys[rng.gen_range(0..keys.len())];
                d.check(&["PFCOUNT", key, other, "nokey"]);
            }
            _ => {
                d.check(&["PFDEBUG", "ENCODING", key]);
            }
        }
        same_bytes(&mut d, key);
    }
    for key in keys {
        d.check(&["PFCOUNT", key]);
        same_bytes(&mut d, key);
    }
}

/// Large sets: the sparse form grows to the limit, turns dense, and counts stay identical.
#[test]
fn large_sets_turn_dense_identically() {
    let mut d = Differential::start();
    for batch in 0..60 {
        let mut command = vec!["PFADD".to_string(), "big".to_string()];
        command.extend((0..500).map(|i| format!("item:{}", batch * 500 + i)));
        d.check(&command);
        if batch % 3 == 0 {
            d.check(&["PFDEBUG", "ENCODING", "big"]);
            d.check(&["PFCOUNT", "big"]);
            d.check(&["STRLEN", "big"]);
            same_bytes(&mut d, "big");
        }
    }
    d.check(&["PFADD", "small", "item:1", "other"]);
    d.check(&["PFMERGE", "small", "big"]);
    same_bytes(&mut d, "small");
    d.check(&["PFCOUNT", "small", "big"]);
    d.check(&["PFCOUNT", "small"]);
    same_bytes(&mut d, "big");
    same_bytes(&mut d, "small");
    // The payloads too: strings, LZF-compressed as redis-server compresses them.
    d.check(&["DUMP", "big"]);
    d.check(&["PFADD", "sparse", "a", "b", "c"]);
    d.check(&["DUMP", "sparse"]);
}

/// HLLs written by redis-server, copied into our node by `GET`/`SET` and by `DUMP`/`RESTORE`,
/// count the same and keep changing the same way.
#[test]
fn hlls_from_redis_count_the_same() {
    let mut d = Differential::start();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xc0b1);
    let sizes = [1usize, 10, 300, 2000, 50_000];
    for (n, size) in sizes.iter().enumerate() {
        let key = format!("src{n}");
        for chunk in (0..*size).collect::<Vec<_>>().chunks(1000) {
            let mut command = vec!["PFADD".to_string(), key.clone()];
            command.extend(chunk.iter().map(|i| format!("{}:{i}", rng.gen::<u32>())));
            d.redis_conn.request(&command);
        }
        let bytes = redis_bytes(&mut d, &key);
        // By value: the same string on our side (and stored anew on redis-server's, so that
        // both hold a freshly set string).
        d.check(&[b"SET", key.as_bytes(), &bytes]);
        same_bytes(&mut d, &key);
        d.check(&["OBJECT", "ENCODING", &key]);
        d.check(&["PFCOUNT", &key]);
        // Even a read turns the string raw in place, as Redis unshares it.
        d.check(&["OBJECT", "ENCODING", &key]);
        same_bytes(&mut d, &key);
        // By DUMP payload.
        let copy = format!("copy{n}");
        let payload = match d.redis_conn.request(&["DUMP", &key]) {
            Reply::Bulk(Some(payload)) => payload,
            other => panic!("DUMP answered {other:?}"),
        };
        d.redis_conn
            .request(&[b"RESTORE", copy.as_bytes(), b"0", &payload]);
        assert_eq!(
            d.ours_conn
                .request(&[b"RESTORE", copy.as_bytes(), b"0", &payload]),
            Reply::Simple("OK".into())
        );
        d.check(&["PFCOUNT", &copy]);
        d.check(&["PFADD", &copy, "more", "elements", "here"]);
        same_bytes(&mut d, &copy);
        d.check(&["PFCOUNT", &copy, &key]);
        d.check(&["PFDEBUG", "ENCODING", &copy]);
    }
    d.check(&["PFMERGE", "all", "src0", "src1", "src2", "src3", "src4"]);
    same_bytes(&mut d, "all");
    d.check(&["PFCOUNT", "all"]);
}

/// Which commands count as changing the key: a `PFADD` that changes nothing leaves a `WATCH`
/// intact, a `PFCOUNT` that stores a fresh cache breaks it, one that reads the cache does not.
#[test]
fn watch_sees_the_changes_redis_signals() {
    let mut d = Differential::start();
    d.check(&["PFADD", "w", "a", "b"]);
    let transaction = |d: &mut Differential, inside: &[&str]| {
        d.check(&["WATCH", "w"]);
        d.check(inside);
        d.check(&["MULTI"]);
        d.check(&["PING"]);
        d.check(&["EXEC"]);
    };
    transaction(&mut d, &["PFADD", "w", "a"]);
    transaction(&mut d, &["PFCOUNT", "w"]);
    transaction(&mut d, &["PFCOUNT", "w"]);
    transaction(&mut d, &["PFADD", "w", "c"]);
    transaction(&mut d, &["PFDEBUG", "TODENSE", "w"]);
    transaction(&mut d, &["PFMERGE", "w"]);
}

#[test]
fn pfselftest_passes() {
    let mut d = Differential::start();
    d.check(&["PFSELFTEST"]);
}

/// Random bytes after a sparse header: whatever they decode to, both servers answer the same
/// and leave the same bytes (PFADD walks and splits corrupt opcodes as Redis does).
#[test]
fn random_sparse_bytes_are_handled_like_redis() {
    let mut d = Differential::start();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x005b_a55e);
    d.check(&["PFADD", "good", "x", "y"]);
    for round in 0..150 {
        let mut data: Vec<u8> = (0..rng.gen_range(0..10)).map(|_| rng.gen()).collect();
        if round % 3 == 0 {
            // Mostly whole: a real empty HLL with a few random opcodes spliced in.
            data = [&[0x7f, 0xff][..], &data].concat();
        }
        let value = hll_with(1, &data);
        d.check(&[b"SET".as_slice(), b"r", &value]);
        let element = format!("e{}", rng.gen_range(0..1000));
        let command: &[&str] = match round % 5 {
            0 => &["PFADD", "r", &element, "f", "g", "h"],
            1 => &["PFCOUNT", "r"],
            2 => &["PFCOUNT", "r", "good"],
            3 => &["PFMERGE", "r", "good"],
            _ => &["PFDEBUG", "DECODE", "r"],
        };
        d.check(command);
        d.check(&["GET", "r"]);
    }
}
