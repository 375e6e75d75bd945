//! RESP3 clients (`HELLO 3`) get what a Redis 7 server sends a RESP3 client, next to RESP2
//! clients on the same proxy.

use crate::harness::{
    assert_same_replies, encode_command, Proxy, RawConn, RedisCluster, RedisNode, Reply,
};

/// `HELLO 3`'s reply without the `id` field, which differs between any two connections.
fn hello_without_id(conn: &mut RawConn) -> Vec<u8> {
    conn.send(&encode_command(&["HELLO", "3", "SETNAME", "r3"]));
    let raw = conn.read_raw_reply();
    assert!(raw.starts_with(b"%7\r\n"), "HELLO 3 answers a map: {raw:?}");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (before, after) = text.split_once("$2\r\nid\r\n:").expect("an id field");
    let after = after.split_once("\r\n").expect("id ends").1;
    format!("{before}{after}").into_bytes()
}

#[test]
fn resp3_clients_get_redis_7_resp3_replies() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let (mut ours, mut theirs) = (proxy.raw(), reference.raw());

    assert_eq!(hello_without_id(&mut ours), hello_without_id(&mut theirs));
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CLIENT", "GETNAME"],
            &["SET", "a", "1"],
            &["GET", "a"],
            &["GET", "missing"],
            &["HSET", "h", "f1", "v1", "f2", "v2"],
            &["HGETALL", "h"],
            &["HGETALL", "missing"],
            &["SADD", "s", "x"],
            &["SMEMBERS", "s"],
            &["ZADD", "z", "1.5", "m"],
            &["ZSCORE", "z", "m"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["INCRBYFLOAT", "a", "0.5"],
            // Cross-slot, split by the proxy: nulls must be RESP3 nulls.
            &["MGET", "a", "h", "missing", "b"],
            &["EXISTS", "a", "b", "h"],
            &["COMMAND", "INFO", "nosuchcommand"],
            &["UNSUBSCRIBE", "c1"],
            &["NOSUCHCOMMAND", "x"],
            &["GET"],
        ],
    );
    // INFO is a verbatim text string for RESP3 clients.
    ours.send(&encode_command(&["INFO", "server"]));
    let info = ours.read_raw_reply();
    assert!(
        info.starts_with(b"="),
        "{:?}",
        String::from_utf8_lossy(&info)
    );
    assert!(String::from_utf8_lossy(&info).contains("txt:# Server"));

    // A RESP2 client on the same proxy still gets RESP2.
    let mut resp2 = proxy.raw();
    assert_eq!(
        resp2.request(&["HGETALL", "h"]),
        Reply::Array(Some(vec![
            Reply::bulk("f1"),
            Reply::bulk("v1"),
            Reply::bulk("f2"),
            Reply::bulk("v2"),
        ]))
    );
    resp2.send(&encode_command(&["GET", "missing"]));
    assert_eq!(resp2.read_raw_reply(), b"$-1\r\n");
}

#[test]
fn resp3_transactions_and_subscriptions() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let (mut ours, mut theirs) = (proxy.raw(), reference.raw());
    assert_eq!(hello_without_id(&mut ours), hello_without_id(&mut theirs));
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["MULTI"],
            &["HSET", "{t}h", "f", "v"],
            &["HGETALL", "{t}h"],
            &["GET", "{t}nothing"],
            &["EXEC"],
            &["BLPOP", "{t}empty", "0.1"],
        ],
    );

    // Subscriptions: confirmations and messages are push frames.
    assert_same_replies(&mut ours, &mut theirs, &[&["SUBSCRIBE", "news"]]);
    let mut publisher = proxy.raw();
    assert_eq!(
        publisher.request(&["PUBLISH", "news", "hi"]),
        Reply::Integer(1)
    );
    reference.raw().request(&["PUBLISH", "news", "hi"]);
    assert_eq!(
        String::from_utf8_lossy(&ours.read_raw_reply()),
        String::from_utf8_lossy(&theirs.read_raw_reply())
    );
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[&["PING"], &["PING", "x"], &["UNSUBSCRIBE", "news"]],
    );
}
