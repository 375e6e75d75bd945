//! Client authentication (`requirepass`, `users`): what an unauthenticated client may do,
//! AUTH and HELLO … AUTH, RESET, and the limits on unauthenticated input, compared byte for
//! byte with a `redis-server` whose default user has the same password.

use std::path::PathBuf;
use std::time::Duration;

use redis::Commands;

use crate::harness::{
    assert_eventually, assert_same_replies, encode_command, Proxy, RedisCluster, RedisNode, Reply,
    TempDir,
};

/// The `default` user's password on the proxy and on the reference server.
const PASSWORD: &str = "s3cret-pw";

/// A standalone `redis-server` whose default user needs [`PASSWORD`] and which knows `alice`
/// (password `wonder`), as the proxy started by [`proxy_with_users`] does.
fn reference_with_password() -> RedisNode {
    let node = RedisNode::standalone();
    let mut admin = node.raw();
    assert_eq!(
        admin.request(&["ACL", "SETUSER", "alice", "on", ">wonder", "~*", "&*", "+@all"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        admin.request(&["CONFIG", "SET", "requirepass", PASSWORD]),
        Reply::Simple("OK".into())
    );
    node
}

/// Writes a config file naming `users` (name, password) into `dir`.
fn users_config(dir: &TempDir, users: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("[users]\n");
    for (name, password) in users {
        text.push_str(&format!("{name} = \"{password}\"\n"));
    }
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, text).expect("write the proxy's config");
    path
}

/// A proxy whose default user needs [`PASSWORD`], with `alice` (`wonder`) and `bob`
/// (`builder`) from a config file.
fn proxy_with_users(cluster: &RedisCluster, dir: &TempDir) -> Proxy {
    let config = users_config(dir, &[("alice", "wonder"), ("bob", "builder")]);
    Proxy::start_with(
        &cluster.master_addrs(),
        &[
            "--config",
            config.to_str().expect("a UTF-8 path"),
            "--requirepass",
            PASSWORD,
        ],
    )
}

fn text(reply: Reply) -> String {
    String::from_utf8(reply.as_bytes().expect("a string reply").to_vec()).expect("utf-8")
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

#[test]
fn unauthenticated_clients_get_what_redis_sends() {
    let cluster = RedisCluster::start(3, 0);
    let dir = TempDir::new("auth");
    let proxy = proxy_with_users(&cluster, &dir);
    let reference = reference_with_password();
    let (mut ours, mut theirs) = (proxy.raw(), reference.raw());

    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["GET", "a"],
            &["SET", "a", "1"],
            &["PING"],
            &["ECHO", "x"],
            &["CLIENT", "SETNAME", "x"],
            &["CLIENT", "LIST"],
            &["SELECT", "0"],
            &["MULTI"],
            &["SUBSCRIBE", "ch"],
            &["SSUBSCRIBE", "ch"],
            &["ACL", "WHOAMI"],
            // Unknown commands and wrong arity are told first, as Redis does.
            &["NOSUCHCOMMAND", "x"],
            &["GET"],
            &["HELLO"],
            &["HELLO", "3"],
            &["HELLO", "3", "SETNAME", "app"],
            &["HELLO", "4"],
            &["HELLO", "3", "AUTH", "alice"],
            &["HELLO", "3", "AUTH", "alice", "nope"],
            &["HELLO", "3", "AUTH", "nobody", PASSWORD],
            &["AUTH"],
            &["AUTH", "nope"],
            &["AUTH", "default", "nope"],
            &["AUTH", "alice", "nope"],
            &["AUTH", "alice", PASSWORD],
            &["AUTH", "ALICE", "wonder"],
            &["AUTH", "a", "b", "c"],
            // Still nothing: failed attempts leave the client unauthenticated.
            &["GET", "a"],
            &["AUTH", PASSWORD],
            &["ACL", "WHOAMI"],
            &["AUTH", "alice", "wonder"],
            &["ACL", "WHOAMI"],
            // A failed AUTH leaves an authenticated client as it was.
            &["AUTH", "bob", "nope"],
            &["ACL", "WHOAMI"],
            &["RESET"],
            &["GET", "a"],
            &["ACL", "WHOAMI"],
            &["QUIT"],
        ],
    );
    ours.assert_closed();
    theirs.assert_closed();

    // The proxy answers a failed AUTH itself and never echoes or logs the password.
    let mut other = proxy.raw();
    assert_eq!(other.request(&["AUTH", PASSWORD]), ok());
    let info = text(other.request(&["INFO", "all"]));
    assert!(!info.contains(PASSWORD), "INFO shows the password");
    assert!(!info.contains("wonder"), "INFO shows a password");
    assert!(
        !proxy.log().contains(PASSWORD),
        "the log shows the password"
    );
}

#[test]
fn authenticated_clients_use_the_cluster() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--requirepass", PASSWORD]);

    // A client library that authenticates when it connects.
    let url = format!("redis://:{PASSWORD}@{}/", proxy.addr());
    let mut con = redis::Client::open(url)
        .expect("valid redis URL")
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("the proxy takes the password");
    let keys: Vec<String> = (0..20).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        let () = con.set(key, format!("value of {key}")).unwrap();
    }
    let values: Vec<String> = con.mget(&keys).unwrap();
    assert_eq!(
        values,
        keys.iter()
            .map(|k| format!("value of {k}"))
            .collect::<Vec<_>>()
    );

    // Raw: AUTH and a cross-slot MSET too big for an unauthenticated client in one write.
    let mut raw = proxy.raw();
    let big = "v".repeat(100_000);
    let mut pipeline = encode_command(&["AUTH", PASSWORD]);
    pipeline.extend(encode_command(&[
        "MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", &big,
    ]));
    pipeline.extend(encode_command(&["MGET", "a", "b", "c", "d", "e"]));
    pipeline.extend(encode_command(&["STRLEN", "f"]));
    raw.send(&pipeline);
    assert_eq!(raw.read_reply(), ok());
    assert_eq!(raw.read_reply(), ok());
    assert_eq!(raw.read_reply(), Reply::bulks(["1", "2", "3", "4", "5"]));
    assert_eq!(raw.read_reply(), Reply::Integer(100_000));
    assert_eq!(
        raw.request(&["DEL", "a", "b", "c", "d", "e", "f"]),
        Reply::Integer(6)
    );

    // A wrong password in the URL: the connection is refused.
    let url = format!("redis://:wrong@{}/", proxy.addr());
    let refused = redis::Client::open(url)
        .expect("valid redis URL")
        .get_connection_with_timeout(Duration::from_secs(5));
    assert!(refused.is_err(), "a wrong password connected");
}

#[test]
fn unauthenticated_clients_may_send_only_small_commands() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--requirepass", PASSWORD]);
    let reference = reference_with_password();

    // Refused, with Redis's text, and closed: more than 10 arguments, or one over 16 KiB.
    for input in [
        &b"*11\r\n"[..],
        b"*1\r\n$16385\r\n",
        b"*2\r\n$3\r\nGET\r\n$20000\r\n",
    ] {
        let (mut ours, mut theirs) = (proxy.raw(), reference.raw());
        ours.send(input);
        theirs.send(input);
        let (mine, redis) = (ours.read_raw_reply(), theirs.read_raw_reply());
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&redis),
            "{:?}",
            input.escape_ascii().to_string()
        );
        ours.assert_closed();
        theirs.assert_closed();
    }

    // Ten arguments of 16 KiB are still read, and refused as any command is.
    let arg = "x".repeat(16 * 1024);
    let mut args = vec!["MSET"];
    args.extend(std::iter::repeat_n(arg.as_str(), 9));
    let (mut ours, mut theirs) = (proxy.raw(), reference.raw());
    assert_same_replies(&mut ours, &mut theirs, &[&args]);

    // Authenticated, the same client may send big commands.
    let mut ours = proxy.raw();
    assert_eq!(ours.request(&["AUTH", PASSWORD]), ok());
    let many: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let mut del = vec!["DEL".to_string()];
    del.extend(many);
    assert_eq!(ours.request(&del), Reply::Integer(0));
    let value = "y".repeat(1_000_000);
    assert_eq!(ours.request(&["SET", "big", &value]), ok());
    assert_eq!(ours.request(&["STRLEN", "big"]), Reply::Integer(1_000_000));

    // After RESET the limits are back.
    assert_eq!(ours.request(&["RESET"]), Reply::Simple("RESET".into()));
    ours.send(b"*11\r\n");
    assert_eq!(
        ours.read_reply(),
        Reply::Error("ERR Protocol error: unauthenticated multibulk length".into())
    );
    ours.assert_closed();
}

#[test]
fn named_users_authenticate_with_auth_and_hello() {
    let cluster = RedisCluster::start(3, 0);
    let dir = TempDir::new("auth");
    // Only named users: the default user cannot authenticate at all.
    let config = users_config(&dir, &[("alice", "wonder"), ("bob", "builder")]);
    let proxy = Proxy::start_with(
        &cluster.master_addrs(),
        &["--config", config.to_str().expect("a UTF-8 path")],
    );
    let wrongpass =
        Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into());

    let mut alice = proxy.raw();
    assert_eq!(alice.request(&["GET", "k"]), noauth());
    assert_eq!(alice.request(&["AUTH", "wonder"]), wrongpass);
    assert_eq!(alice.request(&["AUTH", "default", ""]), wrongpass);
    assert_eq!(alice.request(&["AUTH", "alice", "builder"]), wrongpass);
    // HELLO … AUTH authenticates, names the client and switches to RESP3 in one go.
    let hello = alice.request(&["HELLO", "3", "AUTH", "alice", "wonder", "SETNAME", "app"]);
    let Reply::Map(fields) = hello else {
        panic!("HELLO 3 answers a map: {hello:?}")
    };
    assert!(fields.contains(&(Reply::bulk("proto"), Reply::Integer(3))));
    let info = text(alice.request(&["CLIENT", "INFO"]));
    assert!(info.contains(" name=app "), "{info}");
    assert!(info.contains(" user=alice resp=3\n"), "{info}");
    assert_eq!(alice.request(&["SET", "k", "v"]), ok());
    assert_eq!(alice.request(&["ACL", "WHOAMI"]), Reply::bulk("alice"));

    // As in Redis, a good AUTH in HELLO holds even when a later option is refused.
    let mut bob = proxy.raw();
    assert_eq!(
        bob.request(&["HELLO", "2", "AUTH", "bob", "builder", "BOGUS"]),
        Reply::Error("ERR Syntax error in HELLO option 'BOGUS'".into())
    );
    assert_eq!(bob.request(&["GET", "k"]), Reply::bulk("v"));

    let list = text(bob.request(&["CLIENT", "LIST"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(" user=alice "), "{list}");
    assert!(list.contains(" user=bob "), "{list}");

    assert_eq!(
        bob.request(&["CLIENT", "KILL", "USER", "nobody"]),
        Reply::Error("ERR No such user 'nobody'".into())
    );
    assert_eq!(
        bob.request(&["CLIENT", "KILL", "USER", "alice"]),
        Reply::Integer(1)
    );
    alice.assert_closed();
    assert_eventually(Duration::from_secs(5), "alice's client is gone", || {
        text(bob.request(&["CLIENT", "LIST"])).lines().count() == 1
    });
}

#[test]
fn reset_makes_the_client_authenticate_again() {
    let cluster = RedisCluster::start(3, 0);
    let dir = TempDir::new("auth");
    let proxy = proxy_with_users(&cluster, &dir);

    let mut client = proxy.raw();
    assert_eq!(client.request(&["AUTH", "alice", "wonder"]), ok());
    assert_eq!(client.request(&["CLIENT", "SETNAME", "app"]), ok());
    assert_eq!(client.request(&["RESET"]), Reply::Simple("RESET".into()));
    assert_eq!(client.request(&["GET", "k"]), noauth());
    assert_eq!(client.request(&["AUTH", PASSWORD]), ok());
    let info = text(client.request(&["CLIENT", "INFO"]));
    assert!(info.contains(" name= "), "{info}");
    assert!(info.contains(" user=default "), "{info}");

    // From subscribed mode too, classic and sharded.
    for subscribe in ["SUBSCRIBE", "SSUBSCRIBE"] {
        let mut client = proxy.raw();
        assert_eq!(client.request(&["AUTH", "bob", "builder"]), ok());
        let confirmation = client.request(&[subscribe, "news"]);
        assert!(confirmation.as_array().is_some(), "{confirmation:?}");
        assert_eq!(client.request(&["RESET"]), Reply::Simple("RESET".into()));
        assert_eq!(client.request(&["GET", "k"]), noauth(), "after {subscribe}");
        client.send(b"*11\r\n");
        assert_eq!(
            client.read_reply(),
            Reply::Error("ERR Protocol error: unauthenticated multibulk length".into())
        );
        client.assert_closed();
    }
}

#[test]
fn without_passwords_auth_answers_as_redis_does() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let reference = RedisNode::standalone();
    let (mut ours, mut theirs) = (proxy.raw(), reference.raw());
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["AUTH", "anything"],
            &["AUTH", "default", "anything"],
            &["AUTH", "alice", "anything"],
            &["AUTH", "a", "b", "c"],
            &["HELLO", "2", "AUTH", "alice", "x"],
            &["ACL", "WHOAMI"],
            &["RESET"],
            &["ACL", "WHOAMI"],
            &["SET", "k", "v"],
            &["GET", "k"],
            &["DEL", "k", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
        ],
    );
    let info = text(ours.request(&["CLIENT", "INFO"]));
    assert!(info.contains(" user=default "), "{info}");
}
