//! `slotgate node`: string commands, compared byte for byte with redis-server.

use std::time::Duration;

use proptest::prelude::*;

use crate::harness::{assert_eventually, Differential};

#[test]
fn set_family_matches_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "k", "v"],
        &["SET", "k", "w", "NX"],
        &["SET", "k", "w", "XX"],
        &["SET", "new", "w", "XX"],
        &["SET", "k", "x", "GET"],
        &["SET", "missing", "x", "NX", "GET"],
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "EX", "0"],
        &["SET", "k", "v", "EX", "-5"],
        &["SET", "k", "v", "EX", "x"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "ex", "100"],
        &["SET", "k", "v", "KEEPTTL"],
        &["SET", "k", "v", "EXAT", "99999999999"],
        &["SET", "k", "v", "PXAT", "99999999999000"],
        &["SETNX", "k", "x"],
        &["SETNX", "n1", "x"],
        &["SETEX", "k", "100", "v"],
        &["SETEX", "k", "0", "v"],
        &["SETEX", "k", "x", "v"],
        &["PSETEX", "k", "100000", "v"],
        &["PSETEX", "k", "-1", "v"],
        &["GETSET", "k", "g"],
        &["GETSET", "nokey", "g"],
        &["GETDEL", "k"],
        &["GETDEL", "k"],
        &["LPUSH", "list", "a"],
        &["GET", "list"],
        &["SET", "list", "v", "GET"],
        &["GETSET", "list", "v"],
        &["GETDEL", "list"],
        &["SET", "k", "v"],
        &["GETEX", "k"],
        &["GETEX", "k", "EX", "100"],
        &["GETEX", "k", "PERSIST"],
        &["GETEX", "k", "EX", "0"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "FOO"],
        &["GETEX", "missing", "EX", "10"],
        &["GETEX", "list"],
        &["MSET", "a", "1", "b", "2"],
        &["MSET", "a", "1", "b"],
        &["MGET", "a", "b", "missing", "list"],
        &["MSETNX", "a", "1", "zz", "2"],
        &["MSETNX", "y1", "1", "y2", "2"],
        &["MSETNX", "y1"],
        &["MGET", "y1", "y2"],
    ]);
}

#[test]
fn counters_and_ranges_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["INCR", "n"],
        &["INCRBY", "n", "41"],
        &["DECR", "n"],
        &["DECRBY", "n", "-10"],
        &["DECRBY", "n", "-9223372036854775808"],
        &["GET", "n"],
        &["SET", "big", "9223372036854775807"],
        &["INCR", "big"],
        &["SET", "small", "-9223372036854775808"],
        &["DECR", "small"],
        &["SET", "s", "abc"],
        &["INCR", "s"],
        &["INCRBY", "n", "x"],
        &["SET", "sp", " 1"],
        &["INCR", "sp"],
        &["SET", "lz", "01"],
        &["INCR", "lz"],
        &["INCRBYFLOAT", "f", "10.5"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "-5"],
        &["INCRBYFLOAT", "f", "0x10"],
        &["INCRBYFLOAT", "f", "-0x1.8p1"],
        &["INCRBYFLOAT", "f", "inf"],
        &["INCRBYFLOAT", "f", "1e5000"],
        &["INCRBYFLOAT", "f", "nan"],
        &["INCRBYFLOAT", "f", "x"],
        &["INCRBYFLOAT", "f", "inf"],
        &["INCRBYFLOAT", "s", "1"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["INCRBYFLOAT", "f3", "5.0e3"],
        &["APPEND", "ap", "hello"],
        &["APPEND", "ap", " world"],
        &["APPEND", "n", "0"],
        &["STRLEN", "ap"],
        &["STRLEN", "n"],
        &["STRLEN", "missing"],
        &["GETRANGE", "ap", "0", "4"],
        &["GETRANGE", "ap", "-5", "-1"],
        &["GETRANGE", "ap", "-1", "-5"],
        &["GETRANGE", "ap", "5", "2"],
        &["GETRANGE", "ap", "0", "100"],
        &["GETRANGE", "ap", "x", "1"],
        &["GETRANGE", "missing", "0", "-1"],
        &["SUBSTR", "ap", "1", "3"],
        &["SETRANGE", "ap", "6", "WORLD"],
        &["SETRANGE", "sr", "5", "x"],
        &["GET", "sr"],
        &["SETRANGE", "none", "3", ""],
        &["EXISTS", "none"],
        &["SETRANGE", "ap", "-1", "x"],
        &["SETRANGE", "ap", "536870911", "xx"],
        &["SETRANGE", "n", "0", "9"],
        &["GET", "n"],
        &["LPUSH", "l", "x"],
        &["INCR", "l"],
        &["APPEND", "l", "x"],
        &["GETRANGE", "l", "0", "1"],
        &["SETRANGE", "l", "0", "x"],
        &["STRLEN", "l"],
    ]);
}

#[test]
fn bits_and_lcs_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "0"],
        &["SETBIT", "b", "100", "1"],
        &["SETBIT", "b", "-1", "1"],
        &["SETBIT", "b", "4294967296", "1"],
        &["SETBIT", "b", "1", "2"],
        &["SETBIT", "b", "x", "1"],
        &["GETBIT", "b", "100"],
        &["GETBIT", "b", "10000"],
        &["GETBIT", "missing", "3"],
        &["GET", "b"],
        &["SET", "s", "foobar"],
        &["BITCOUNT", "s"],
        &["BITCOUNT", "s", "1", "1"],
        &["BITCOUNT", "s", "-2", "-1"],
        &["BITCOUNT", "s", "5", "30", "BIT"],
        &["BITCOUNT", "s", "0", "-1", "byte"],
        &["BITCOUNT", "s", "0"],
        &["BITCOUNT", "s", "0", "1", "FOO"],
        &["BITCOUNT", "missing"],
        &["SET", "p", "\u{ff}\u{f0}\u{0}"],
        &["BITPOS", "p", "0"],
        &["BITPOS", "p", "1"],
        &["BITPOS", "p", "1", "2"],
        &["BITPOS", "p", "0", "0", "-1", "BIT"],
        &["BITPOS", "p", "2"],
        &["BITPOS", "p", "x"],
        &["SET", "ones", "\u{7f}"],
        &["BITPOS", "missing", "0"],
        &["BITPOS", "missing", "1"],
        &["SET", "k1", "foobar"],
        &["SET", "k2", "abcdef"],
        &["BITOP", "AND", "dest", "k1", "k2"],
        &["GET", "dest"],
        &["BITOP", "OR", "dest", "k1", "k2", "missing"],
        &["GET", "dest"],
        &["BITOP", "XOR", "dest", "k1", "k2"],
        &["BITOP", "NOT", "dest", "k1"],
        &["GET", "dest"],
        &["BITOP", "NOT", "dest", "k1", "k2"],
        &["BITOP", "NAND", "dest", "k1"],
        &["BITOP", "AND", "dest", "missing"],
        &["EXISTS", "dest"],
        &["SET", "l1", "ohmytext"],
        &["SET", "l2", "mynewtext"],
        &["LCS", "l1", "l2"],
        &["LCS", "l1", "l2", "LEN"],
        &["LCS", "l1", "l2", "IDX"],
        &["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4"],
        &["LCS", "l1", "l2", "IDX", "WITHMATCHLEN"],
        &["LCS", "l1", "l2", "LEN", "IDX"],
        &["LCS", "l1", "missing"],
        &["LCS", "l1", "l2", "FOO"],
    ]);
}

#[test]
fn resp3_and_encodings() {
    let mut d = Differential::start();
    // Client ids differ between the two servers: switch both to RESP3 without comparing.
    d.both(&["HELLO", "3"]);
    d.check_all(&[
        &["GET", "missing"],
        &["SET", "k", "v", "GET"],
        &["MGET", "k", "missing"],
        &["SET", "l1", "ohmytext"],
        &["SET", "l2", "mynewtext"],
        &["LCS", "l1", "l2", "IDX", "WITHMATCHLEN"],
    ]);
}

#[test]
fn set_with_expiry_expires() {
    let mut d = Differential::start();
    d.check(&["SET", "k", "v", "PX", "50"]);
    d.check(&["SETEX", "j", "100", "v"]);
    assert_eventually(Duration::from_secs(5), "k expires", || {
        d.ours_conn.request_raw(&["GET", "k"]) == b"$-1\r\n"
    });
    assert_eq!(d.ours_conn.request_raw(&["GET", "j"]), b"$1\r\nv\r\n");
    // INCR keeps the expiry, SET drops it.
    d.ours_conn.request(&["SET", "c", "1", "PX", "100"]);
    d.ours_conn.request(&["INCR", "c"]);
    assert_eventually(Duration::from_secs(5), "c expires", || {
        d.ours_conn.request_raw(&["GET", "c"]) == b"$-1\r\n"
    });
}

/// One random string command over a small alphabet of keys and values.
fn string_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string);
    let val = prop::sample::select(vec![
        "",
        "0",
        "1",
        "-7",
        "12",
        "x",
        "hello",
        "3.5",
        "99999999999999999999",
    ])
    .prop_map(str::to_string);
    let int = (-12i64..12).prop_map(|n| n.to_string());
    prop_oneof![
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec![
            "SET".into(),
            k,
            v,
            "NX".into(),
            "GET".into()
        ]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["SET".into(), k, v, "XX".into()]),
        key.clone().prop_map(|k| vec!["GET".into(), k]),
        key.clone().prop_map(|k| vec!["INCR".into(), k]),
        (key.clone(), int.clone()).prop_map(|(k, n)| vec!["INCRBY".into(), k, n]),
        (key.clone(), int.clone()).prop_map(|(k, n)| vec!["DECRBY".into(), k, n]),
        (key.clone(), val.clone()).prop_map(|(k, v)| vec!["APPEND".into(), k, v]),
        key.clone().prop_map(|k| vec!["STRLEN".into(), k]),
        (key.clone(), int.clone(), int.clone()).prop_map(|(k, a, b)| vec![
            "GETRANGE".into(),
            k,
            a,
            b
        ]),
        (key.clone(), 0u8..20, val.clone()).prop_map(|(k, o, v)| vec![
            "SETRANGE".into(),
            k,
            o.to_string(),
            v
        ]),
        (key.clone(), 0u8..40, 0u8..2).prop_map(|(k, o, b)| vec![
            "SETBIT".into(),
            k,
            o.to_string(),
            b.to_string()
        ]),
        (key.clone(), int.clone(), int.clone()).prop_map(|(k, a, b)| vec![
            "BITCOUNT".into(),
            k,
            a,
            b
        ]),
        (key.clone(), 0u8..2).prop_map(|(k, b)| vec!["BITPOS".into(), k, b.to_string()]),
        key.clone().prop_map(|k| vec!["GETDEL".into(), k]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["MGET".into(), a, b]),
        (key.clone(), val.clone(), key.clone(), val).prop_map(|(a, x, b, y)| vec![
            "MSETNX".into(),
            a,
            x,
            b,
            y
        ]),
        (key.clone(), key).prop_map(|(a, b)| vec!["LCS".into(), a, b]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn random_string_commands_match_redis(commands in prop::collection::vec(string_command(), 1..60)) {
        let mut d = Differential::start();
        for command in &commands {
            d.check(command);
        }
    }
}

/// `INCRBYFLOAT` and `HINCRBYFLOAT` compute in 80-bit long doubles and print with `%.17Lf`, as
/// redis-server does: the same text for everyday sums (0.1 + 0.2 is "0.3", not an f64's
/// 0.30000000000000004), for huge, tiny and hexadecimal values, and for 400 random ones.
#[test]
fn float_increments_compute_as_long_doubles_like_redis() {
    use rand::{Rng, SeedableRng};
    let mut d = Differential::start();
    let fixed = [
        "0.1",
        "0.2",
        "1e-17",
        "3.0e3",
        "5.0e-5",
        "1.1",
        "-1.23456789012345678",
        "1e400",
        "-1e400",
        "1e-400",
        "0x1p-16000",
        "1.",
        ".5",
        "1e4930",
        "-1e4930",
        "0x1.fffffffffffffffep16383",
        "123456789012345678901234567890",
        "-0.0",
        "7",
        "1e20",
        "-3.5e-7",
    ];
    for (i, by) in fixed.iter().enumerate() {
        d.check(&["INCRBYFLOAT", "f", by]);
        d.check(&["HINCRBYFLOAT", "h", "f", by]);
        d.check(&["SET", &format!("s{i}"), by]);
        d.check(&["INCRBYFLOAT", &format!("s{i}"), "0"]);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5107_6a7e);
    for _ in 0..200 {
        let mantissa: i64 = rng.gen_range(-1_000_000_000..1_000_000_000);
        let point = rng.gen_range(0..10);
        let exp = rng.gen_range(-25..25);
        let digits = format!("{}", mantissa.unsigned_abs());
        let at = digits.len().saturating_sub(point);
        let sign = if mantissa < 0 { "-" } else { "" };
        let by = format!("{sign}{}.{}e{exp}", &digits[..at], &digits[at..]);
        d.check(&["INCRBYFLOAT", "r", &by]);
        d.check(&["HINCRBYFLOAT", "hr", "f", &by]);
    }
}

/// `BITFIELD` and `BITFIELD_RO` answer as redis-server does: every width signed and unsigned,
/// `#` offsets, the three overflow modes, growth of the string, and every error, then 300
/// random operations whose replies and resulting bytes must match.
#[test]
fn bitfield_matches_redis() {
    use rand::{Rng, SeedableRng};
    let mut d = Differential::start();
    d.check_all(&[
        &["BITFIELD", "b", "GET", "u8", "0"],
        &["BITFIELD", "b", "SET", "u8", "0", "255", "GET", "u8", "0"],
        &[
            "BITFIELD", "b", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102",
            "5",
        ],
        &[
            "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "i8", "#3", "200", "GET", "i8", "#3",
        ],
        &[
            "BITFIELD",
            "b",
            "SET",
            "i64",
            "64",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "64",
            "-1",
        ],
        &[
            "BITFIELD", "b", "SET", "u63", "1", "-1", "OVERFLOW", "SAT", "SET", "u3", "0", "-1",
        ],
        &["GET", "b"],
        &["STRLEN", "b"],
        &["BITFIELD", "b"],
        &["BITFIELD_RO", "b", "GET", "i5", "3", "GET", "u1", "#7"],
        &["BITFIELD_RO", "b", "SET", "u8", "0", "1"],
        &["BITFIELD", "b", "GET", "u64", "0"],
        &["BITFIELD", "b", "GET", "i65", "0"],
        &["BITFIELD", "b", "GET", "x8", "0"],
        &["BITFIELD", "b", "GET", "u0", "0"],
        &["BITFIELD", "b", "GET", "u8", "-1"],
        &["BITFIELD", "b", "GET", "u8", "#-1"],
        &["BITFIELD", "b", "GET", "u8", "4294967296"],
        &["BITFIELD", "b", "SET", "u8", "0", "x"],
        &["BITFIELD", "b", "OVERFLOW", "SOMETIMES"],
        &["BITFIELD", "b", "GET", "u8"],
        &["BITFIELD", "b", "FOO", "u8", "0"],
        &["BITFIELD", "b", "GET", "u8", "0", "SET", "u8", "x", "1"],
        &["BITFIELD", "missing", "GET", "i16", "100"],
        &["EXISTS", "missing"],
        &[
            "BITFIELD", "grown", "OVERFLOW", "FAIL", "INCRBY", "u4", "100", "99",
        ],
        &["GET", "grown"],
        &["LPUSH", "l", "x"],
        &["BITFIELD", "l", "GET", "u8", "0"],
        &["BITFIELD", "l", "SET", "u8", "0", "1"],
        &["BITFIELD_RO", "l", "GET", "u8", "0"],
    ]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xb17f_1e1d);
    for _ in 0..300 {
        let signed = rng.gen_bool(0.5);
        let bits = rng.gen_range(1..=if signed { 64 } else { 63 });
        let ty = format!("{}{bits}", if signed { 'i' } else { 'u' });
        let offset = if rng.gen_bool(0.3) {
            format!("#{}", rng.gen_range(0..8))
        } else {
            rng.gen_range(0..200).to_string()
        };
        let value: i64 = match rng.gen_range(0..3) {
            0 => rng.gen_range(-300..300),
            1 => rng.gen(),
            _ => 1 << rng.gen_range(0..63),
        };
        let overflow = ["WRAP", "SAT", "FAIL"][rng.gen_range(0..3)];
        let op = ["GET", "SET", "INCRBY"][rng.gen_range(0..3)];
        let mut command = vec![
            "BITFIELD".to_string(),
            "r".into(),
            "OVERFLOW".into(),
            overflow.into(),
            op.into(),
            ty,
            offset,
        ];
        if op != "GET" {
            command.push(value.to_string());
        }
        d.check(&command);
        d.check(&["GET", "r"]);
    }
}
