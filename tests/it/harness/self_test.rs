//! The harness checked against real Redis, so that a failing proxy test points at the proxy.

use std::time::Duration;

use redis::Commands;

use super::{assert_eventually, RedisCluster, RedisNode, Reply, SLOTS};

#[test]
fn cluster_of_three_masters_and_three_replicas_covers_every_slot() {
    let cluster = RedisCluster::start(3, 1);
    assert_eq!(cluster.masters().len(), 3);
    assert_eq!(cluster.replicas().len(), 3);

    let owners = cluster.slot_owners();
    assert_eq!(owners.len(), usize::from(SLOTS));
    for master in cluster.masters() {
        let owned = owners.iter().filter(|o| o.port() == master.port()).count();
        assert!(
            (5460..=5462).contains(&owned),
            "{master:?} owns {owned} slots"
        );
    }
    for (i, master) in cluster.masters().iter().enumerate() {
        let replicas: Vec<_> = cluster.replicas_of(i).collect();
        assert_eq!(replicas.len(), 1, "replicas of {master:?}");
        let replication = replicas[0].query_string(&["INFO", "replication"]);
        assert!(replication.contains("role:slave"), "{replication}");
    }

    // A write to a slot's owner reaches that master's replica.
    let slot = cluster.key_slot("hello");
    let owner = cluster.node_for_slot(slot);
    let () = owner.client().set("hello", "world").unwrap();
    let master_index = cluster
        .masters()
        .iter()
        .position(|m| m.port() == owner.port())
        .unwrap();
    let replica = cluster.replicas_of(master_index).next().unwrap();
    let mut replica_con = replica.client();
    assert_eventually(
        Duration::from_secs(10),
        "the replica to get the write",
        || {
            let reply: Option<String> = redis::pipe()
                .cmd("READONLY")
                .ignore()
                .cmd("GET")
                .arg("hello")
                .query::<(Option<String>,)>(&mut replica_con)
                .unwrap()
                .0;
            reply.as_deref() == Some("world")
        },
    );
}

#[test]
fn migrate_slot_moves_every_key_and_the_slot() {
    let cluster = RedisCluster::start(3, 0);
    let slot = cluster.key_slot("{move}");
    let from = cluster.node_for_slot(slot);
    let to = cluster
        .masters()
        .iter()
        .find(|m| m.port() != from.port())
        .unwrap();
    let keys: Vec<String> = (0..250).map(|i| format!("{{move}}:{i}")).collect();
    let mut from_con = from.client();
    for key in &keys {
        let () = from_con.set(key, format!("value of {key}")).unwrap();
    }

    cluster.migrate_slot(slot, from, to);

    assert_eq!(cluster.node_for_slot(slot).port(), to.port());
    for master in cluster.masters() {
        let owner = cluster.slot_owners()[usize::from(slot)].port();
        assert_eq!(owner, to.port(), "{master:?} disagrees on the owner");
    }
    let mut to_con = to.client();
    for key in &keys {
        let value: String = to_con.get(key).unwrap();
        assert_eq!(value, format!("value of {key}"));
    }
    let left: u64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut from_con)
        .unwrap();
    assert_eq!(left, 0);
    let moved = from.raw().request(&["GET", "{move}:0"]);
    assert_eq!(
        moved,
        Reply::Error(format!("MOVED {slot} {}", to.addr())),
        "the old owner redirects"
    );
}

#[test]
fn half_migrated_slot_answers_ask_for_moved_keys() {
    let cluster = RedisCluster::start(2, 0);
    let slot = cluster.key_slot("{half}");
    let from = cluster.node_for_slot(slot);
    let to = cluster
        .masters()
        .iter()
        .find(|m| m.port() != from.port())
        .unwrap();
    let mut from_con = from.client();
    for i in 0..30 {
        let () = from_con.set(format!("{{half}}:{i}"), i).unwrap();
    }

    cluster.begin_migration(slot, from, to);
    assert_eq!(cluster.move_keys(slot, from, to, 10), 10);

    let mut raw = from.raw();
    let (mut asked, mut served) = (0, 0);
    for i in 0..30 {
        match raw.request(&["GET", &format!("{{half}}:{i}")]) {
            Reply::Error(e) => {
                assert_eq!(e, format!("ASK {slot} {}", to.addr()));
                asked += 1;
            }
            Reply::Bulk(Some(value)) => {
                assert_eq!(value, i.to_string().as_bytes());
                served += 1;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert_eq!((asked, served), (10, 20));

    cluster.finish_migration(slot, from, to);
    assert_eq!(cluster.node_for_slot(slot).port(), to.port());
    let mut to_con = to.client();
    for i in 0..30 {
        let value: i64 = to_con.get(format!("{{half}}:{i}")).unwrap();
        assert_eq!(value, i);
    }
}

#[test]
fn killed_node_restarts_with_its_identity() {
    let mut cluster = RedisCluster::start(3, 0);
    let id = cluster.masters()[0].node_id().to_string();
    let addr = cluster.masters()[0].addr();

    let master = cluster.master_mut(0);
    master.kill();
    assert!(!master.is_running());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
    master.restart();

    assert_eq!(master.query_string(&["CLUSTER", "MYID"]), id);
    assert_eq!(master.addr(), addr);
}

/// The protocol behaviour the proxy tests hold the proxy to is real Redis's own.
#[test]
fn raw_connection_sees_redis_protocol_errors_and_close() {
    let redis = RedisNode::standalone();
    let mut raw = redis.raw();
    raw.send(b"PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n");
    assert_eq!(raw.read_reply(), Reply::Simple("PONG".into()));
    assert_eq!(raw.read_reply(), Reply::bulk(b"a\0b"));

    for malformed in [&b"*1\r\n$abc\r\n"[..], b"*2\r\n+foo\r\n"] {
        let mut raw = redis.raw();
        raw.send(malformed);
        let reply = raw.read_reply();
        let error = reply.as_error().unwrap_or_default();
        assert!(error.starts_with("ERR Protocol error:"), "{reply:?}");
        raw.assert_closed();
    }
}
