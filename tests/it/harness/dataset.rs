//! A server's whole dataset read through commands, for tests that require two servers to hold
//! the same data (a snapshot loaded elsewhere, a replica and its master).

use super::resp::{RawConn, Reply};

/// Databases a server has by default (`databases 16`).
const DATABASES: usize = 16;

/// Every key of every database as (what, value) lines: type, collection encoding, absolute
/// expiry and value (sets and hashes sorted; HyperLogLogs after a `PFCOUNT`, which caches the
/// count in the value; streams by `XINFO STREAM FULL`), then the function libraries. Nothing
/// in it depends on element order in hash tables or on when it is read.
pub fn dataset(conn: &mut RawConn) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut note =
        |what: String, reply: &dyn std::fmt::Debug| out.push((what, format!("{reply:?}")));
    for db in 0..DATABASES {
        conn.request(&["SELECT", &db.to_string()]);
        let listed = conn.request(&["KEYS", "*"]);
        assert!(listed.as_array().is_some(), "KEYS answered {listed:?}");
        let mut keys: Vec<Vec<u8>> = items(&listed)
            .iter()
            .map(|k| k.as_bytes().expect("a key").to_vec())
            .collect();
        keys.sort();
        for key in &keys {
            let at = |what: &str| format!("db {db} {} {what}", String::from_utf8_lossy(key));
            let ty = conn.request(&[&b"TYPE"[..], key]);
            note(at("type"), &ty);
            let Reply::Simple(ty) = ty else {
                panic!("TYPE answered {ty:?}")
            };
            // A string's encoding may change on a reload in Redis too (a short string HLL
            // commands made `raw` loads as `embstr`); the collections' must not.
            if ty != "string" {
                note(
                    at("encoding"),
                    &conn.request(&[&b"OBJECT"[..], b"ENCODING", key]),
                );
            }
            note(
                at("pexpiretime"),
                &conn.request(&[&b"PEXPIRETIME"[..], key]),
            );
            let value = match ty.as_str() {
                "string" => {
                    let value = conn.request(&[&b"GET"[..], key]);
                    if value.as_bytes().is_some_and(|v| v.starts_with(b"HYLL")) {
                        note(at("pfcount"), &conn.request(&[&b"PFCOUNT"[..], key]));
                        conn.request(&[&b"GET"[..], key])
                    } else {
                        value
                    }
                }
                "list" => conn.request(&[&b"LRANGE"[..], key, b"0", b"-1"]),
                "set" => sorted(items(&conn.request(&[&b"SMEMBERS"[..], key]))),
                "hash" => {
                    let flat = items(&conn.request(&[&b"HGETALL"[..], key]));
                    let pairs: Vec<Reply> = flat
                        .chunks(2)
                        .map(|p| Reply::Array(Some(p.to_vec())))
                        .collect();
                    sorted(pairs)
                }
                "zset" => conn.request(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"]),
                "stream" => {
                    let mut full = conn.request(&[&b"XINFO"[..], b"STREAM", key, b"FULL"]);
                    blank_local_fields(&mut full);
                    full
                }
                other => panic!("unexpected type {other}"),
            };
            note(at("value"), &value);
        }
    }
    conn.request(&["SELECT", "0"]);
    note(
        "functions".into(),
        &conn.request(&["FUNCTION", "LIST", "WITHCODE"]),
    );
    out
}

/// Requires two datasets to be the same, naming the lines only one of them has.
#[track_caller]
pub fn assert_same_dataset(found: &[(String, String)], expected: &[(String, String)]) {
    if found != expected {
        let short = |(what, value): &(String, String)| {
            format!("{what} = {}", value.chars().take(300).collect::<String>())
        };
        let only_found: Vec<_> = found
            .iter()
            .filter(|l| !expected.contains(l))
            .map(short)
            .collect();
        let only_expected: Vec<_> = expected
            .iter()
            .filter(|l| !found.contains(l))
            .map(short)
            .collect();
        panic!(
            "the datasets differ\nonly in the one found: {only_found:#?}\nonly in the one expected: {only_expected:#?}"
        );
    }
}

fn items(reply: &Reply) -> Vec<Reply> {
    reply.as_array().map(<[Reply]>::to_vec).unwrap_or_default()
}

fn sorted(mut v: Vec<Reply>) -> Reply {
    v.sort_by_key(|r| format!("{r:?}"));
    Reply::Array(Some(v))
}

/// A consumer's `seen-time` is when it last acted on the server it is read from (a replica
/// applies the stream a moment later, as redis-server's replicas do); `radix-tree-nodes`
/// describes each server's own memory layout.
fn blank_local_fields(reply: &mut Reply) {
    if let Reply::Array(Some(items)) = reply {
        let mut blank_next = false;
        for item in items.iter_mut() {
            if blank_next {
                *item = Reply::Integer(0);
                blank_next = false;
                continue;
            }
            if matches!(item.as_bytes(), Some(b"seen-time" | b"radix-tree-nodes")) {
                blank_next = true;
                continue;
            }
            blank_local_fields(item);
        }
    }
}
