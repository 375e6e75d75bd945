//! Our key → slot hashing against a real Redis node's `CLUSTER KEYSLOT`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slotgate::slot::Slot;

use crate::harness::{encode_command, RedisCluster, Reply};

/// Keys that exercise every hash-tag rule: empty tags, unclosed braces, nested and repeated
/// braces, binary bytes.
fn tricky_keys() -> Vec<Vec<u8>> {
    [
        "",
        "{",
        "}",
        "{}",
        "}{",
        "{a",
        "a}",
        "a{}{b}",
        "{}{b}",
        "{a}{b}",
        "{{a}}",
        "a{b{c}d}",
        "foo{}bar",
        "foo{bar}zap",
        "{user1000}.following",
        "{user1000}.followers",
        "x{y}",
        "{\u{0}}",
        "a{\r\n}b",
        "{ }",
        "{{",
        "}}",
        "{}}",
        "{{}",
    ]
    .iter()
    .map(|k| k.as_bytes().to_vec())
    .chain([
        vec![0xff, b'{', 0x00, b'}'],
        vec![b'{', 0x80, 0x81, b'}', 0x7f],
    ])
    .collect()
}

fn random_key(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(0..24);
    (0..len)
        .map(|_| {
            // Braces often, so tags of every shape appear.
            if rng.gen_bool(0.2) {
                if rng.gen_bool(0.5) {
                    b'{'
                } else {
                    b'}'
                }
            } else {
                rng.gen()
            }
        })
        .collect()
}

#[test]
fn slots_match_cluster_keyslot_of_a_real_node() {
    let cluster = RedisCluster::start(1, 0);
    let node = &cluster.masters()[0];
    let mut rng = StdRng::seed_from_u64(0x510_7a7e);
    let mut keys = tricky_keys();
    keys.extend((0..5000).map(|_| random_key(&mut rng)));

    // One pipelined write, then every reply in order.
    let mut conn = node.raw();
    let mut wire = Vec::new();
    for k in &keys {
        wire.extend(encode_command(&[&b"CLUSTER"[..], b"KEYSLOT", k]));
    }
    conn.send(&wire);
    for key in &keys {
        let real = match conn.read_reply() {
            Reply::Integer(n) => n,
            other => panic!("CLUSTER KEYSLOT {key:?} answered {other:?}"),
        };
        assert_eq!(
            i64::from(Slot::of_key(key).get()),
            real,
            "slot of key {:?}",
            String::from_utf8_lossy(key)
        );
    }
}
