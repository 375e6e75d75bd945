//! The proxy's own clients (`CLIENT LIST`, `CLIENT INFO`, `CLIENT KILL`) and `INFO`'s
//! keyspace, summed over the masters.

use std::time::Duration;

use crate::harness::{assert_eventually, encode_command, Proxy, RedisCluster, Reply};

fn text(reply: Reply) -> String {
    String::from_utf8(reply.as_bytes().expect("a bulk string").to_vec()).expect("utf-8")
}

fn client_id(reply: Reply) -> i64 {
    match reply {
        Reply::Integer(n) => n,
        other => panic!("CLIENT ID answered {other:?}"),
    }
}

#[test]
fn client_list_info_and_kill_are_about_the_proxys_clients() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut a = proxy.raw();
    let mut b = proxy.raw();
    let a_id = client_id(a.request(&["CLIENT", "ID"]));
    let b_id = client_id(b.request(&["CLIENT", "ID"]));
    assert_eq!(
        b.request(&["CLIENT", "SETNAME", "worker"]),
        Reply::Simple("OK".into())
    );

    let list = text(a.request(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let line_a = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={a_id} ")))
        .expect("a's line");
    assert!(line_a.contains(" cmd=client|list "), "{line_a}");
    assert!(line_a.contains(&format!("addr={} ", a.stream().local_addr().unwrap())));
    let line_b = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={b_id} ")))
        .expect("b's line");
    assert!(line_b.contains(" name=worker "), "{line_b}");

    let info = text(a.request(&["CLIENT", "INFO"]));
    assert!(info.starts_with(&format!("id={a_id} ")), "{info}");
    assert!(info.ends_with('\n'));
    let only_b = text(a.request(&["CLIENT", "LIST", "ID", &b_id.to_string()]));
    assert_eq!(only_b.lines().count(), 1);
    assert!(only_b.contains("name=worker"));

    // Redis's errors for bad filters.
    assert_eq!(
        a.request(&["CLIENT", "KILL", "ID", "0"]),
        Reply::Error("ERR client-id should be greater than 0".into())
    );
    assert_eq!(
        a.request(&["CLIENT", "KILL", "127.0.0.1:1"]),
        Reply::Error("ERR No such client".into())
    );
    assert_eq!(
        a.request(&["CLIENT", "KILL", "BOGUS", "x"]),
        Reply::Error("ERR syntax error".into())
    );
    // SKIPME is on by default: a client does not kill itself by id.
    assert_eq!(
        a.request(&["CLIENT", "KILL", "ID", &a_id.to_string()]),
        Reply::Integer(0)
    );
    assert_eq!(
        a.request(&["CLIENT", "KILL", "ID", &b_id.to_string()]),
        Reply::Integer(1)
    );
    b.assert_closed();
    assert_eventually(Duration::from_secs(5), "the killed client is gone", || {
        text(a.request(&["CLIENT", "LIST"])).lines().count() == 1
    });
}

#[test]
fn client_kill_ends_a_blocked_client() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut blocked = proxy.raw();
    let blocked_id = client_id(blocked.request(&["CLIENT", "ID"]));
    blocked.send(&encode_command(&["BLPOP", "nothing-here", "0"]));
    let mut admin = proxy.raw();
    assert_eventually(Duration::from_secs(5), "the pop is blocked", || {
        cluster.masters().iter().any(|m| {
            m.query_string(&["INFO", "clients"])
                .contains("blocked_clients:1")
        })
    });
    assert_eq!(
        admin.request(&["CLIENT", "KILL", "ID", &blocked_id.to_string()]),
        Reply::Integer(1)
    );
    blocked.assert_closed();
    // Its dedicated connection is closed too: nobody is blocked on the node any more.
    assert_eventually(
        Duration::from_secs(5),
        "the node's blocked client is gone",
        || {
            cluster.masters().iter().all(|m| {
                m.query_string(&["INFO", "clients"])
                    .contains("blocked_clients:0")
            })
        },
    );
}

#[test]
fn client_kill_ends_subscribers() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut admin = proxy.raw();
    let mut classic = proxy.raw();
    let classic_id = client_id(classic.request(&["CLIENT", "ID"]));
    classic.request(&["SUBSCRIBE", "killed-classic"]);
    let mut sharded = proxy.raw();
    let sharded_id = client_id(sharded.request(&["CLIENT", "ID"]));
    sharded.request(&["SSUBSCRIBE", "killed-sharded"]);
    for id in [classic_id, sharded_id] {
        assert_eq!(
            admin.request(&["CLIENT", "KILL", "ID", &id.to_string()]),
            Reply::Integer(1)
        );
    }
    classic.assert_closed();
    sharded.assert_closed();
    // Their subscriptions on the nodes end with them.
    assert_eventually(Duration::from_secs(5), "no subscribers left", || {
        admin.request(&["PUBSUB", "NUMSUB", "killed-classic"])
            == Reply::Array(Some(vec![Reply::bulk("killed-classic"), Reply::Integer(0)]))
            && admin.request(&["PUBSUB", "SHARDNUMSUB", "killed-sharded"])
                == Reply::Array(Some(vec![Reply::bulk("killed-sharded"), Reply::Integer(0)]))
    });
}

#[test]
fn info_keyspace_sums_the_masters() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut raw = proxy.raw();
    assert!(text(raw.request(&["INFO", "keyspace"])).starts_with("# Keyspace"));
    for i in 0..100 {
        let key = format!("ks:{i}");
        let reply = if i % 10 == 0 {
            raw.request(&["SET", &key, "v", "EX", "1000"])
        } else {
            raw.request(&["SET", &key, "v"])
        };
        assert_eq!(reply, Reply::Simple("OK".into()));
    }
    let keyspace = text(raw.request(&["INFO", "keyspace"]));
    assert!(
        keyspace.contains("db0:keys=100,expires=10,avg_ttl="),
        "{keyspace}"
    );
    // The keys really are spread: every master holds some.
    for m in cluster.masters() {
        assert!(m.query_string(&["INFO", "keyspace"]).contains("db0:keys="));
    }
    let everything = text(raw.request(&["INFO"]));
    for section in [
        "# Server",
        "# Clients",
        "# Stats",
        "# Keyspace",
        "db0:keys=100,",
    ] {
        assert!(everything.contains(section), "{section} in {everything}");
    }
    assert!(!text(raw.request(&["INFO", "server"])).contains("# Keyspace"));
}
