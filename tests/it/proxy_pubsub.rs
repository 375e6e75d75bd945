//! Classic pub/sub through the proxy: subscribed mode must answer byte for byte what one
//! `redis-server` answers, a subscriber must hear what is published anywhere in the cluster, and
//! `PUBSUB` must count the proxy's subscribers as the cluster sees them.

use std::io;
use std::time::Duration;

use crate::harness::{
    assert_eventually, encode_command, Proxy, RawConn, RedisCluster, RedisNode, Reply,
};

/// How long a test waits for a reply it expects before calling the proxy stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the reference server must stay silent for its answer to a command to be complete.
const QUIET: Duration = Duration::from_millis(150);
/// How long `PUBSUB` counts may take to follow subscribers coming and going.
const SETTLE: Duration = Duration::from_secs(5);

/// Command sequences whose every reply must match a standalone `redis-server`'s, byte for byte.
/// Keys share the `{p}` tag, so normal-mode commands all go to one slot.
const SEQUENCES: &[(&str, &[&[&str]])] = &[
    (
        "subscribe, refused commands, ping, unsubscribe back to normal mode",
        &[
            &["SUBSCRIBE", "a", "b"],
            &["GET", "{p}x"],
            &["gEt", "{p}x"],
            &["SET", "{p}k", "v"],
            &["NOSUCHCOMMAND", "x"],
            &["CONFIG", "GET", "maxmemory"],
            &["PING"],
            &["PING", "hi"],
            &["PSUBSCRIBE", "p*"],
            &["SUBSCRIBE", "a"],
            &["UNSUBSCRIBE", "a"],
            &["UNSUBSCRIBE", "nosuch"],
            &["PUNSUBSCRIBE"],
            &["UNSUBSCRIBE"],
            &["SET", "{p}k", "v"],
            &["GET", "{p}k"],
            &["PING"],
            &["PING", "hi"],
        ],
    ),
    (
        "patterns only, then everything at once",
        &[
            &["PSUBSCRIBE", "x*", "y*", "x*"],
            &["ECHO", "hi"],
            &["SUBSCRIBE", "c"],
            &["PUNSUBSCRIBE", "y*"],
            &["PUNSUBSCRIBE"],
            &["PING"],
            &["UNSUBSCRIBE"],
            &["PING"],
        ],
    ),
    (
        "RESET leaves subscribed mode",
        &[
            &["SUBSCRIBE", "a"],
            &["PSUBSCRIBE", "x*"],
            &["RESET"],
            &["PING"],
            &["GET", "{p}k"],
            &["SUBSCRIBE", "c"],
            &["PING"],
            &["UNSUBSCRIBE", "c"],
            &["PING"],
        ],
    ),
    (
        "sharded: subscribe, refused commands, ping, unsubscribe back to normal mode",
        &[
            &["SSUBSCRIBE", "{s}a", "{s}b"],
            &["GET", "{p}x"],
            &["NOSUCHCOMMAND", "x"],
            &["PING"],
            &["PING", "hi"],
            &["SSUBSCRIBE", "{s}a"],
            &["SSUBSCRIBE", "{s}c"],
            &["SUNSUBSCRIBE", "{s}a"],
            &["SUNSUBSCRIBE", "nosuch"],
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE", "x*"],
            &["SUNSUBSCRIBE", "{s}c"],
            &["SUNSUBSCRIBE"],
            &["SET", "{p}k", "v"],
            &["GET", "{p}k"],
            &["PING"],
        ],
    ),
    (
        "sharded: RESET and unsubscribing when not subscribed",
        &[
            &["SUNSUBSCRIBE"],
            &["SUNSUBSCRIBE", "{s}a", "{s}b"],
            &["SSUBSCRIBE", "{s}a"],
            &["RESET"],
            &["PING"],
            &["GET", "{p}k"],
            &["SSUBSCRIBE", "{s}b"],
            &["SUNSUBSCRIBE", "{s}b"],
            &["PING"],
        ],
    ),
    (
        "unsubscribing when not subscribed",
        &[
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE"],
            &["UNSUBSCRIBE", "a", "b"],
            &["PING"],
            &["GET", "{p}k"],
        ],
    ),
];

#[test]
fn subscribed_mode_answers_exactly_like_redis() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();

    let mut differences = Vec::new();
    for (name, commands) in SEQUENCES {
        // One command at a time: the reference's answer is whatever it sends until it is quiet,
        // and the proxy must send exactly as many frames, with the same bytes.
        let mut redis = reference.raw();
        let mut raw = proxy.raw();
        'sequence: for (step, command) in commands.iter().enumerate() {
            redis.send_command(command);
            raw.send_command(command);
            let want = read_until_quiet(&mut redis);
            assert!(!want.is_empty(), "redis-server did not answer {command:?}");
            for frame in &want {
                let got = read_frame(&mut raw);
                if &got != frame {
                    differences.push(difference(name, step, command, &got, frame));
                    break 'sequence;
                }
            }
        }
        let extra = read_until_quiet(&mut raw);
        if differences.is_empty() && !extra.is_empty() {
            differences.push(format!(
                "{name}: proxy sent extra frames {:?}",
                frames(&extra)
            ));
        }

        // All at once, as a pipelining client sends them: same bytes, same order.
        let pipeline: Vec<u8> = commands.iter().flat_map(|c| encode_command(c)).collect();
        let mut redis = reference.raw();
        let mut raw = proxy.raw();
        redis.send(&pipeline);
        raw.send(&pipeline);
        let want = read_until_quiet(&mut redis).concat();
        let mut got = Vec::new();
        while got.len() < want.len() {
            match read_frame_or_none(&mut raw) {
                Some(frame) => got.extend(frame),
                None => break,
            }
        }
        got.extend(read_until_quiet(&mut raw).concat());
        if got != want {
            differences.push(format!(
                "{name} (pipelined)\n    proxy:        {}\n    redis-server: {}",
                got.escape_ascii(),
                want.escape_ascii()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the proxy answered differently from redis-server:\n{}",
        differences.join("\n")
    );
}

#[test]
fn subscriber_hears_publishes_from_the_proxy_and_every_master() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut sub = proxy.raw();
    sub.set_read_timeout(REPLY_TIMEOUT);

    sub.send_command(&["SUBSCRIBE", "ch", "news.sub"]);
    assert_eq!(sub.read_reply(), event("subscribe", "ch", 1));
    assert_eq!(sub.read_reply(), event("subscribe", "news.sub", 2));
    assert_eq!(
        sub.request(&["PSUBSCRIBE", "news.*"]),
        event("psubscribe", "news.*", 3)
    );

    // Through the proxy, from another client.
    let mut publisher = proxy.raw();
    for i in 0..3 {
        let reply = publisher.request(&["PUBLISH", "ch", &format!("via-proxy-{i}")]);
        assert!(
            matches!(reply, Reply::Integer(_)),
            "PUBLISH answered {reply:?}"
        );
    }
    for i in 0..3 {
        assert_eq!(sub.read_reply(), message("ch", &format!("via-proxy-{i}")));
    }

    // Straight on each master: cluster PUBLISH reaches the proxy's subscription wherever it is.
    for master in cluster.masters() {
        let port = master.port();
        let mut direct = master.raw();
        for i in 0..3 {
            direct.send_command(&["PUBLISH", "ch", &format!("on-{port}-{i}")]);
        }
        direct.send_command(&["PUBLISH", "news.sub", &format!("both-{port}")]);
        direct.send_command(&["PUBLISH", "news.other", &format!("pattern-{port}")]);
        direct.send_command(&["PUBLISH", "unheard", "nobody listens"]);
        for _ in 0..6 {
            let reply = direct.read_reply();
            assert!(
                matches!(reply, Reply::Integer(_)),
                "PUBLISH answered {reply:?}"
            );
        }
        for i in 0..3 {
            assert_eq!(
                sub.read_reply(),
                message("ch", &format!("on-{port}-{i}")),
                "published on {port}"
            );
        }
        let both = format!("both-{port}");
        assert_eq!(sub.read_reply(), message("news.sub", &both));
        assert_eq!(sub.read_reply(), pmessage("news.*", "news.sub", &both));
        assert_eq!(
            sub.read_reply(),
            pmessage("news.*", "news.other", &format!("pattern-{port}"))
        );
    }

    // Nothing else arrived, and the subscription still answers in order.
    assert_eq!(
        sub.request(&["PING"]),
        Reply::bulks(["pong", ""]),
        "a stray message arrived before the PING reply"
    );
}

#[test]
fn pubsub_introspection_counts_proxy_subscribers() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut admin = proxy.raw();
    admin.set_read_timeout(REPLY_TIMEOUT);

    assert_eq!(admin.request(&["PUBSUB", "NUMPAT"]), Reply::Integer(0));
    assert_eq!(
        admin.request(&["PUBSUB", "CHANNELS"]),
        Reply::Array(Some(vec![]))
    );

    let mut s1 = proxy.raw();
    s1.send_command(&["SUBSCRIBE", "c1", "c2"]);
    s1.read_reply();
    s1.read_reply();
    s1.request(&["PSUBSCRIBE", "p*"]);
    let mut s2 = proxy.raw();
    s2.request(&["SUBSCRIBE", "c1"]);
    // A subscriber straight on a master that does not hold slot 0: the proxy must sum it in.
    let slot0 = cluster.node_for_slot(0).port();
    let other = cluster
        .masters()
        .iter()
        .find(|m| m.port() != slot0)
        .expect("a second master");
    let mut direct = other.raw();
    direct.request(&["SUBSCRIBE", "c1"]);

    let numsub = |admin: &mut RawConn| admin.request(&["PUBSUB", "NUMSUB", "c1", "c2", "c3"]);
    let counts = |c1, c2| {
        Reply::Array(Some(vec![
            Reply::bulk("c1"),
            Reply::Integer(c1),
            Reply::bulk("c2"),
            Reply::Integer(c2),
            Reply::bulk("c3"),
            Reply::Integer(0),
        ]))
    };
    assert_eventually(SETTLE, "NUMSUB c1=3 c2=1 c3=0", || {
        numsub(&mut admin) == counts(3, 1)
    });
    assert_eq!(admin.request(&["PUBSUB", "NUMPAT"]), Reply::Integer(1));
    assert_eq!(
        sorted(admin.request(&["PUBSUB", "CHANNELS"])),
        vec!["c1", "c2"]
    );
    assert_eq!(
        sorted(admin.request(&["PUBSUB", "CHANNELS", "*2"])),
        vec!["c2"]
    );

    // Leaving, by disconnecting and by unsubscribing, shows in the counts.
    drop(s2);
    assert_eventually(SETTLE, "NUMSUB c1=2 after a subscriber left", || {
        numsub(&mut admin) == counts(2, 1)
    });
    s1.request(&["PUNSUBSCRIBE"]);
    assert_eventually(SETTLE, "NUMPAT 0", || {
        admin.request(&["PUBSUB", "NUMPAT"]) == Reply::Integer(0)
    });
    // Unsubscribing from everything names each channel, in no set order, counting down to 0.
    s1.send_command(&["UNSUBSCRIBE"]);
    let [first, last] = [s1.read_reply(), s1.read_reply()];
    let both = [first.clone(), last.clone()];
    assert!(
        both == [event("unsubscribe", "c1", 1), event("unsubscribe", "c2", 0)]
            || both == [event("unsubscribe", "c2", 1), event("unsubscribe", "c1", 0)],
        "UNSUBSCRIBE answered {first:?} then {last:?}"
    );
    assert_eq!(s1.request(&["PING"]), Reply::Simple("PONG".into()));
    assert_eventually(SETTLE, "only the direct subscriber left", || {
        numsub(&mut admin) == counts(1, 0)
    });
    assert_eq!(sorted(admin.request(&["PUBSUB", "CHANNELS"])), vec!["c1"]);
}

#[test]
fn quit_and_disconnect_while_subscribed() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);

    // QUIT: +OK, then the proxy closes the connection.
    let mut quitter = proxy.raw();
    quitter.set_read_timeout(REPLY_TIMEOUT);
    quitter.request(&["SUBSCRIBE", "room"]);
    assert_eq!(quitter.request(&["QUIT"]), Reply::Simple("OK".into()));
    quitter.assert_closed();

    // Clients vanishing while subscribed, one of them before reading its confirmation.
    let mut stays = proxy.raw();
    stays.set_read_timeout(REPLY_TIMEOUT);
    assert_eq!(
        stays.request(&["SUBSCRIBE", "room"]),
        event("subscribe", "room", 1)
    );
    let mut leaver = proxy.raw();
    leaver.request(&["SUBSCRIBE", "room"]);
    leaver.request(&["PSUBSCRIBE", "r*"]);
    drop(leaver);
    let mut hasty = proxy.raw();
    hasty.send_command(&["SUBSCRIBE", "room", "hall"]);
    drop(hasty);

    let mut publisher = proxy.raw();
    assert_eventually(SETTLE, "only one subscriber left on room", || {
        publisher.request(&["PUBSUB", "NUMSUB", "room"])
            == Reply::Array(Some(vec![Reply::bulk("room"), Reply::Integer(1)]))
    });
    assert_eq!(publisher.request(&["PUBSUB", "NUMPAT"]), Reply::Integer(0));
    publisher.request(&["PUBLISH", "room", "still here"]);
    assert_eq!(stays.read_reply(), message("room", "still here"));

    // New subscribers and normal clients are served as before.
    let mut newcomer = proxy.raw();
    newcomer.set_read_timeout(REPLY_TIMEOUT);
    assert_eq!(
        newcomer.request(&["SUBSCRIBE", "room"]),
        event("subscribe", "room", 1)
    );
    assert_eventually(SETTLE, "two subscribers on room", || {
        publisher.request(&["PUBSUB", "NUMSUB", "room"])
            == Reply::Array(Some(vec![Reply::bulk("room"), Reply::Integer(2)]))
    });
    publisher.request(&["PUBLISH", "room", "hello both"]);
    assert_eq!(stays.read_reply(), message("room", "hello both"));
    assert_eq!(newcomer.read_reply(), message("room", "hello both"));
    assert_eq!(
        publisher.request(&["SET", "{q}k", "v"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(publisher.request(&["GET", "{q}k"]), Reply::bulk("v"));
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A `subscribe`-style confirmation: kind, channel or pattern, subscription count.
pub(crate) fn event(kind: &str, name: &str, count: i64) -> Reply {
    Reply::Array(Some(vec![
        Reply::bulk(kind),
        Reply::bulk(name),
        Reply::Integer(count),
    ]))
}

fn message(channel: &str, payload: &str) -> Reply {
    Reply::bulks(["message", channel, payload])
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> Reply {
    Reply::bulks(["pmessage", pattern, channel, payload])
}

/// A `PUBSUB CHANNELS` answer as sorted strings.
pub(crate) fn sorted(reply: Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {reply:?}"))
        .iter()
        .map(|r| String::from_utf8_lossy(r.as_bytes().expect("a bulk")).into_owned())
        .collect();
    names.sort();
    names
}

/// Every frame that arrives until the connection has been quiet for [`QUIET`] (or closes).
fn read_until_quiet(conn: &mut RawConn) -> Vec<Vec<u8>> {
    conn.set_read_timeout(QUIET);
    let mut frames = Vec::new();
    loop {
        match conn.try_read_raw_reply() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("reading failed: {e}"),
        }
    }
    conn.set_read_timeout(REPLY_TIMEOUT);
    frames
}

/// One frame's bytes, or a description of why there was none.
fn read_frame(conn: &mut RawConn) -> Vec<u8> {
    read_frame_or_none(conn).unwrap_or_else(|| b"<no reply>".to_vec())
}

fn read_frame_or_none(conn: &mut RawConn) -> Option<Vec<u8>> {
    conn.set_read_timeout(REPLY_TIMEOUT);
    conn.try_read_raw_reply().ok().flatten()
}

fn frames(frames: &[Vec<u8>]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f.escape_ascii().to_string())
        .collect()
}

/// Describes the first reply of a sequence that differs from Redis's.
fn difference(name: &str, step: usize, command: &[&str], got: &[u8], want: &[u8]) -> String {
    format!(
        "{name}: command {step} {command:?}\n    proxy:        {}\n    redis-server: {}",
        got.escape_ascii(),
        want.escape_ascii()
    )
}
