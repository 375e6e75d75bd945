//! The proxy's own credentials on the cluster's nodes: `backend-password` (the default user)
//! or `backend-user` + `backend-password` (an ACL user), used on every connection the proxy
//! opens — pooled, dedicated (blocking, transactions, pub/sub), replica and refresher ones —
//! and a wrong password stopping the proxy at start with a clear error, never looping.

use std::time::Duration;

use crate::harness::{run_proxy_to_exit, Proxy, RawConn, RedisCluster, RedisNode, Reply};

const NODE_PASSWORD: &str = "node-pass-8f3a";
const ACL_USER: &str = "slotgate";
const ACL_PASSWORD: &str = "acl-pass-51c2";

/// A raw connection to `node` that has authenticated.
fn authed(node: &RedisNode) -> RawConn {
    let mut raw = node.raw();
    assert_eq!(
        raw.request(&["AUTH", NODE_PASSWORD]),
        Reply::Simple("OK".into())
    );
    raw
}

/// Puts a password on every node (replicas authenticate to their masters with it) and adds
/// an ACL user for the proxy.
fn protect(cluster: &RedisCluster) {
    for node in cluster.nodes() {
        let mut raw = node.raw();
        let ok = Reply::Simple("OK".into());
        assert_eq!(
            raw.request(&["CONFIG", "SET", "masterauth", NODE_PASSWORD]),
            ok
        );
        assert_eq!(
            raw.request(&[
                "ACL",
                "SETUSER",
                ACL_USER,
                "on",
                &format!(">{ACL_PASSWORD}"),
                "~*",
                "&*",
                "+@all"
            ]),
            ok
        );
        assert_eq!(
            raw.request(&["CONFIG", "SET", "requirepass", NODE_PASSWORD]),
            ok
        );
    }
}

fn exercise(proxy: &Proxy) {
    let mut raw = proxy.raw();
    raw.set_read_timeout(Duration::from_secs(10));
    let ok = Reply::Simple("OK".into());
    // Pooled connections, across slots.
    assert_eq!(raw.request(&["MSET", "a", "1", "b", "2", "c", "3"]), ok);
    assert_eq!(
        raw.request(&["MGET", "a", "b", "c"]),
        Reply::bulks(["1", "2", "3"])
    );
    assert_eq!(raw.request(&["DBSIZE"]), Reply::Integer(3));
    // A transaction and a blocking pop: dedicated connections.
    raw.request(&["MULTI"]);
    raw.request(&["INCR", "{t}n"]);
    assert_eq!(
        raw.request(&["EXEC"]),
        Reply::Array(Some(vec![Reply::Integer(1)]))
    );
    raw.request(&["RPUSH", "q", "job"]);
    assert_eq!(
        raw.request(&["BLPOP", "q", "1"]),
        Reply::bulks(["q", "job"])
    );
    // A subscriber's connection.
    let mut sub = proxy.raw();
    sub.set_read_timeout(Duration::from_secs(10));
    sub.request(&["SUBSCRIBE", "news"]);
    assert_eq!(raw.request(&["PUBLISH", "news", "hi"]), Reply::Integer(1));
    assert_eq!(sub.read_reply(), Reply::bulks(["message", "news", "hi"]));
    // A replica read (READONLY for this client).
    assert_eq!(raw.request(&["READONLY"]), ok);
    assert_eq!(raw.request(&["WAIT", "1", "5000"]), Reply::Integer(1));
    assert_eq!(raw.request(&["GET", "a"]), Reply::bulk("1"));
}

#[test]
fn backend_credentials_are_used_on_every_connection() {
    let cluster = RedisCluster::start(3, 1);
    protect(&cluster);
    let seeds = cluster.master_addrs();

    let proxy = Proxy::start_with(&seeds, &["--backend-password", NODE_PASSWORD]);
    exercise(&proxy);
    assert!(
        !proxy.log().contains(NODE_PASSWORD),
        "the password reached the log"
    );
    for master in cluster.masters() {
        authed(master).request(&["FLUSHALL"]);
    }

    let acl_proxy = Proxy::start_with(
        &seeds,
        &[
            "--backend-user",
            ACL_USER,
            "--backend-password",
            ACL_PASSWORD,
        ],
    );
    exercise(&acl_proxy);
    // The nodes saw the ACL user.
    let clients = String::from_utf8_lossy(
        authed(&cluster.masters()[0])
            .request(&["CLIENT", "LIST"])
            .as_bytes()
            .unwrap(),
    )
    .into_owned();
    assert!(clients.contains(&format!("user={ACL_USER}")), "{clients}");
}

/// Runs the proxy expecting it to stop at start: whether it exited successfully, and its log.
fn run_until_exit(seeds: &str, args: &[&str]) -> (bool, String) {
    let (status, log) = run_proxy_to_exit(seeds, args, Duration::from_secs(20));
    (status.success(), log)
}

#[test]
fn wrong_or_missing_backend_credentials_stop_the_proxy_at_start() {
    let cluster = RedisCluster::start(3, 0);
    protect(&cluster);
    let seeds = cluster.masters()[0].addr().to_string();

    let wrong = "not-the-password-77";
    let (ok, log) = run_until_exit(&seeds, &["--backend-password", wrong]);
    assert!(!ok, "the proxy started with a wrong password");
    assert!(
        log.contains("refused the proxy") && log.contains("WRONGPASS"),
        "{log}"
    );
    assert!(!log.contains(wrong), "the password reached the log: {log}");

    let (ok, log) = run_until_exit(&seeds, &[]);
    assert!(!ok, "the proxy started without the nodes' password");
    assert!(log.contains("NOAUTH"), "{log}");
}
