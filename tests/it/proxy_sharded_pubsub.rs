//! Sharded pub/sub (Redis 7's `SSUBSCRIBE`/`SPUBLISH`) through the proxy: a shard channel lives
//! in its slot, so the proxy subscribes on the slot's master, refuses channels of several slots
//! in one command as a cluster node does, and keeps a subscriber subscribed when the slot moves
//! to another master.

use std::time::Duration;

use crate::harness::{
    assert_eventually, ClusterOptions, Proxy, RawConn, RedisCluster, RedisNode, Reply,
};
use crate::proxy_pubsub::{event, sorted};

const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `PUBSUB` counts and resubscriptions may take to follow the cluster.
const SETTLE: Duration = Duration::from_secs(10);
/// How long a replica may take to be elected and the proxy to subscribe on it.
const FAILOVER: Duration = Duration::from_secs(20);

fn smessage(channel: &str, payload: &str) -> Reply {
    Reply::bulks(["smessage", channel, payload])
}

/// One shard channel per master, each in a different slot.
fn channel_per_master(cluster: &RedisCluster) -> Vec<String> {
    cluster
        .masters()
        .iter()
        .map(|m| cluster.keys_on(m, "news", 1).remove(0))
        .collect()
}

/// `SPUBLISH` straight on `node`; how many subscribers the node says it reached.
fn spublish_on(node: &RedisNode, channel: &str, payload: &str) -> Reply {
    node.raw().request(&["SPUBLISH", channel, payload])
}

#[test]
fn sharded_subscriber_hears_every_shard_and_introspection_counts_it() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let channels = channel_per_master(&cluster);
    let mut sub = proxy.raw();
    sub.set_read_timeout(REPLY_TIMEOUT);

    // Channels of different slots in one command: refused as a cluster node refuses them, and
    // the client stays in normal mode.
    let reply = sub.request(&["SSUBSCRIBE", &channels[0], &channels[1]]);
    assert_eq!(
        reply.as_error(),
        Some("CROSSSLOT Keys in request don't hash to the same slot"),
        "SSUBSCRIBE of two slots answered {reply:?}"
    );
    assert_eq!(sub.request(&["PING"]), Reply::Simple("PONG".into()));

    // One command per slot: each confirmation counts the client's shard channels.
    for (n, ch) in channels.iter().enumerate() {
        let n = i64::try_from(n).unwrap() + 1;
        assert_eq!(sub.request(&["SSUBSCRIBE", ch]), event("ssubscribe", ch, n));
    }
    // Several channels of one slot in one command.
    sub.send_command(&["SSUBSCRIBE", "{t}1", "{t}2"]);
    assert_eq!(sub.read_reply(), event("ssubscribe", "{t}1", 4));
    assert_eq!(sub.read_reply(), event("ssubscribe", "{t}2", 5));

    // Published through the proxy and straight on each owner: the subscriber hears all, and
    // SPUBLISH counts it on the owner.
    let mut publisher = proxy.raw();
    publisher.set_read_timeout(REPLY_TIMEOUT);
    for (ch, master) in channels.iter().zip(cluster.masters()) {
        assert_eq!(
            publisher.request(&["SPUBLISH", ch, "via proxy"]),
            Reply::Integer(1),
            "SPUBLISH {ch} through the proxy"
        );
        assert_eq!(sub.read_reply(), smessage(ch, "via proxy"));
        assert_eq!(spublish_on(master, ch, "direct"), Reply::Integer(1));
        assert_eq!(sub.read_reply(), smessage(ch, "direct"));
    }
    assert_eq!(
        publisher.request(&["SPUBLISH", "{t}2", "tagged"]),
        Reply::Integer(1)
    );
    assert_eq!(sub.read_reply(), smessage("{t}2", "tagged"));
    // A classic PUBLISH to the same name is another channel.
    publisher.request(&["PUBLISH", &channels[0], "classic"]);

    // Introspection through the proxy asks every master.
    let mut all: Vec<String> = channels.clone();
    all.extend(["{t}1".to_string(), "{t}2".to_string()]);
    all.sort();
    assert_eq!(sorted(publisher.request(&["PUBSUB", "SHARDCHANNELS"])), all);
    assert_eq!(
        sorted(publisher.request(&["PUBSUB", "SHARDCHANNELS", "{t}*"])),
        vec!["{t}1", "{t}2"]
    );
    assert_eq!(
        publisher.request(&["PUBSUB", "SHARDNUMSUB", &channels[0], &channels[2], "none"]),
        Reply::Array(Some(vec![
            Reply::bulk(&channels[0]),
            Reply::Integer(1),
            Reply::bulk(&channels[2]),
            Reply::Integer(1),
            Reply::bulk("none"),
            Reply::Integer(0),
        ]))
    );

    // Mixing classic and sharded subscriptions on one connection is refused, in its turn.
    let reply = sub.request(&["SUBSCRIBE", "classic"]);
    assert!(
        reply
            .as_error()
            .is_some_and(|e| e.starts_with("ERR") && e.contains("SSUBSCRIBE")),
        "SUBSCRIBE of a sharded subscriber answered {reply:?}"
    );
    assert_eq!(sub.request(&["PING"]), Reply::bulks(["pong", ""]));

    // Unsubscribing one channel stops its messages; unsubscribing the rest ends the mode.
    assert_eq!(
        sub.request(&["SUNSUBSCRIBE", &channels[0]]),
        event("sunsubscribe", &channels[0], 4)
    );
    assert_eventually(SETTLE, "the owner forgets the unsubscribed channel", || {
        spublish_on(&cluster.masters()[0], &channels[0], "gone") == Reply::Integer(0)
    });
    sub.send_command(&["SUNSUBSCRIBE"]);
    let mut left: Vec<String> = Vec::new();
    for count in (0..4).rev() {
        let reply = sub.read_reply();
        let parts = reply.as_array().expect("an sunsubscribe event").to_vec();
        assert_eq!(parts[0], Reply::bulk("sunsubscribe"));
        assert_eq!(parts[2], Reply::Integer(count));
        left.push(String::from_utf8_lossy(parts[1].as_bytes().unwrap()).into_owned());
    }
    left.sort();
    let mut rest = all.clone();
    rest.retain(|c| *c != channels[0]);
    assert_eq!(left, rest);
    assert_eq!(
        sub.request(&["SET", "{t}k", "v"]),
        Reply::Simple("OK".into())
    );
    assert_eventually(SETTLE, "no shard subscribers left", || {
        sorted(publisher.request(&["PUBSUB", "SHARDCHANNELS"])).is_empty()
    });
}

#[test]
fn sharded_subscriber_survives_a_slot_migration() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let from = &cluster.masters()[0];
    let to = &cluster.masters()[1];
    let channel = cluster.keys_on(from, "moving", 1).remove(0);
    let slot = cluster.key_slot(&channel);
    let stays = cluster
        .keys_on(&cluster.masters()[2], "staying", 1)
        .remove(0);

    let mut sub = proxy.raw();
    sub.set_read_timeout(REPLY_TIMEOUT);
    assert_eq!(
        sub.request(&["SSUBSCRIBE", &channel]),
        event("ssubscribe", &channel, 1)
    );
    assert_eq!(
        sub.request(&["SSUBSCRIBE", &stays]),
        event("ssubscribe", &stays, 2)
    );
    assert_eq!(spublish_on(from, &channel, "before"), Reply::Integer(1));
    assert_eq!(sub.read_reply(), smessage(&channel, "before"));

    // The slot moves: its old owner drops the subscription with an `sunsubscribe` of its own.
    // The proxy must subscribe again on the new owner instead of passing that on.
    cluster.migrate_slot(slot, from, to);
    assert_eventually(SETTLE, "the new owner has the subscriber", || {
        spublish_on(to, &channel, "after") == Reply::Integer(1)
    });
    // The first frame the client sees is a message on the new owner, not an unsubscribe.
    assert_eq!(sub.read_reply(), smessage(&channel, "after"));
    assert_eq!(
        spublish_on(from, &channel, "stale"),
        Reply::Error(format!("MOVED {slot} 127.0.0.1:{}", to.port()))
    );

    // The other shard's channel was never disturbed, and the client's count is still 2.
    assert_eq!(
        spublish_on(&cluster.masters()[2], &stays, "here"),
        Reply::Integer(1)
    );
    assert_eq!(sub.read_reply(), smessage(&stays, "here"));
    assert_eq!(
        sub.request(&["SSUBSCRIBE", &channel]),
        event("ssubscribe", &channel, 2)
    );
    assert_eq!(sub.request(&["PING"]), Reply::bulks(["pong", ""]));

    // Through the proxy too, and unsubscribing reaches the new owner.
    let mut publisher = proxy.raw();
    publisher.set_read_timeout(REPLY_TIMEOUT);
    assert_eventually(SETTLE, "the proxy routes SPUBLISH to the new owner", || {
        publisher.request(&["SPUBLISH", &channel, "routed"]) == Reply::Integer(1)
    });
    assert_eq!(sub.read_reply(), smessage(&channel, "routed"));
    assert_eq!(
        sub.request(&["SUNSUBSCRIBE", &channel]),
        event("sunsubscribe", &channel, 1)
    );
    assert_eventually(SETTLE, "the new owner drops the subscriber", || {
        spublish_on(to, &channel, "gone") == Reply::Integer(0)
    });
}

#[test]
fn sharded_subscriber_with_resp3_gets_push_frames() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut sub: RawConn = proxy.raw();
    sub.set_read_timeout(REPLY_TIMEOUT);
    let hello = sub.request(&["HELLO", "3"]);
    assert!(!hello.is_error(), "HELLO 3 answered {hello:?}");

    sub.send_command(&["SSUBSCRIBE", "{r}a"]);
    assert_eq!(
        sub.read_raw_reply(),
        b">3\r\n$10\r\nssubscribe\r\n$4\r\n{r}a\r\n:1\r\n".to_vec()
    );
    // A RESP3 subscriber's PING is answered as any RESP3 PING.
    sub.send_command(&["PING"]);
    assert_eq!(sub.read_raw_reply(), b"+PONG\r\n".to_vec());
    let mut publisher = proxy.raw();
    publisher.request(&["SPUBLISH", "{r}a", "hi"]);
    assert_eq!(
        sub.read_raw_reply(),
        b">3\r\n$8\r\nsmessage\r\n$4\r\n{r}a\r\n$2\r\nhi\r\n".to_vec()
    );
}

#[test]
fn sharded_subscriber_survives_a_failover() {
    let mut cluster = RedisCluster::start_with(ClusterOptions::new(3, 1).node_timeout_ms(1000));
    let proxy = Proxy::start(&cluster);
    let channel = cluster.keys_on(&cluster.masters()[0], "fo", 1).remove(0);
    let mut sub = proxy.raw();
    sub.set_read_timeout(REPLY_TIMEOUT);
    assert_eq!(
        sub.request(&["SSUBSCRIBE", &channel]),
        event("ssubscribe", &channel, 1)
    );

    // The master dies; its replica takes the slot over. The proxy's subscription connection
    // is lost, and the proxy subscribes on the new master once the map names it.
    cluster.master_mut(0).kill();
    let replica = cluster.replicas_of(0).next().expect("a replica").addr();
    let new_master = cluster
        .nodes()
        .find(|n| n.addr() == replica)
        .expect("the replica's node");
    assert_eventually(FAILOVER, "the new master has the subscriber", || {
        spublish_on(new_master, &channel, "after failover") == Reply::Integer(1)
    });
    assert_eq!(sub.read_reply(), smessage(&channel, "after failover"));
    assert_eq!(sub.request(&["PING"]), Reply::bulks(["pong", ""]));
}
