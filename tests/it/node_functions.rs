//! `slotgate node`: functions (FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS, FCALL)
//! against redis-server 7.0, including payloads moved between the two servers both ways.

use crate::harness::{Differential, RawConn, Reply};

const LIB: &str = "#!lua name=mylib\n\
redis.register_function('echo', function(keys, args) return {keys[1], args[1], #keys, #args} end)";

const LIB_RO: &str = "#!lua name=rolib\n\
redis.register_function{function_name='getter', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes', 'allow-oom'}, description='reads a key'}";

const LIB_WRITE: &str = "#!lua name=wlib\n\
redis.register_function('setter', function(keys, args) return redis.call('SET', keys[1], args[1]) end)";

fn dump(conn: &mut RawConn) -> Vec<u8> {
    match conn.request(&["FUNCTION", "DUMP"]) {
        Reply::Bulk(Some(payload)) => payload,
        other => panic!("FUNCTION DUMP answered {other:?}"),
    }
}

#[test]
fn load_call_list_delete() {
    let mut d = Differential::start();
    d.check(&["FUNCTION", "LOAD", LIB]);
    d.check(&["FUNCTION", "LOAD", LIB]);
    d.check(&["FUNCTION", "LOAD", "REPLACE", LIB]);
    d.check(&["FUNCTION", "LOAD", "BOGUS", LIB]);
    d.check(&["FCALL", "echo", "1", "k", "a"]);
    d.check(&["FCALL", "echo", "0"]);
    d.check(&["FCALL", "echo", "2", "k"]);
    d.check(&["FCALL", "echo", "-1"]);
    d.check(&["FCALL", "echo", "x"]);
    d.check(&["FCALL", "nosuch", "0"]);
    d.check(&["FCALL_RO", "echo", "0"]);
    d.check(&["FUNCTION", "HELP"]);
    d.check(&["FUNCTION", "LIST"]);
    d.check(&["FUNCTION", "LIST", "WITHCODE"]);
    d.check(&["FUNCTION", "LIST", "LIBRARYNAME", "my*"]);
    d.check(&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"]);
    d.check(&["FUNCTION", "LIST", "LIBRARYNAME"]);
    d.check(&["FUNCTION", "LIST", "BOGUS"]);
    d.check(&["FUNCTION", "STATS"]);
    d.check(&["FUNCTION", "DELETE", "nosuch"]);
    d.check(&["FUNCTION", "DELETE", "mylib"]);
    d.check(&["FCALL", "echo", "0"]);
    d.check(&["FUNCTION", "LOAD", LIB_RO]);
    d.check(&["FUNCTION", "LIST"]);
    d.check(&["SET", "k", "v"]);
    d.check(&["FCALL", "getter", "1", "k"]);
    d.check(&["FCALL_RO", "getter", "1", "k"]);
    d.check(&["FUNCTION", "DELETE", "rolib"]);
    d.check(&["FUNCTION", "LOAD", LIB_WRITE]);
    d.check(&["FCALL", "setter", "1", "k", "new"]);
    d.check(&["FCALL_RO", "setter", "1", "k", "new"]);
    d.check(&["GET", "k"]);
    d.check(&["FUNCTION", "FLUSH", "BOGUS"]);
    d.check(&["FUNCTION", "FLUSH", "ASYNC"]);
    d.check(&["FUNCTION", "FLUSH"]);
    d.check(&["FUNCTION", "LIST"]);
    d.check(&["FUNCTION", "STATS"]);
    d.check(&["FUNCTION", "KILL"]);
}

#[test]
fn load_errors_match_redis() {
    let mut d = Differential::start();
    d.check(&["FUNCTION", "LOAD", LIB]);
    for code in [
        "return 1",
        "#!lua",
        "#!lua\n",
        "#!lua name=a name=b\n",
        "#!lua foo=bar\n",
        "#!js name=x\n",
        "#!lua name=bad-name\n",
        "#!lua name=b\nreturn 1",
        "#!lua name=c\nredis.register_function('x')",
        "#!lua name=c\nredis.register_function()",
        "#!lua name=c\nredis.register_function(1, 2, 3)",
        "#!lua name=c\nredis.register_function(1, 2)",
        "#!lua name=c\nredis.register_function({}, 2)",
        "#!lua name=c\nredis.register_function{}",
        "#!lua name=c\nredis.register_function{function_name='f'}",
        "#!lua name=c\nredis.register_function{callback=function() end}",
        "#!lua name=c\nredis.register_function{function_name={}, callback=function() end}",
        "#!lua name=c\nredis.register_function{function_name='f', callback=1}",
        "#!lua name=c\nredis.register_function{function_name='f', callback=function() end, flags='x'}",
        "#!lua name=c\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
        "#!lua name=c\nredis.register_function{function_name='f', callback=function() end, description={}}",
        "#!lua name=c\nredis.register_function{function_name='f', callback=function() end, foo=1}",
        "#!lua name=c\nredis.register_function('bad name', function() end)",
        "#!lua name=c\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
        "#!lua name=c\nredis.register_function('echo', function() end)",
        "#!lua name=c\nredis.call('SET', 'a', 'b')",
        "#!lua name=c\nreturn x",
        "#!lua name=c\nerror('at load')",
        "#!lua name=c\nsyntax error",
        "#!lua name=c\nx = 1",
        "#!lua name=spin\nwhile true do end",
    ] {
        d.check(&["FUNCTION", "LOAD", code]);
    }
    d.check(&["FUNCTION", "LIST"]);
    d.check(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=r\nredis.register_function('err', function() return redis.call('nosuch') end)",
    ]);
    d.check(&["FCALL", "err", "0"]);
    d.check(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=r2\nredis.register_function('boom', function() error('boom') end)",
    ]);
    d.check(&["FCALL", "boom", "0"]);
    d.check(&["FUNCTION", "LOAD", "#!lua name=r3\nlocal helper = 5\nredis.register_function('uses', function(keys, args) return helper + #args end)"]);
    d.check(&["FCALL", "uses", "0", "a", "b"]);
}

#[test]
fn dump_and_restore_match_redis() {
    let mut d = Differential::start();
    d.check(&["FUNCTION", "LOAD", LIB]);
    // Same libraries, same payload bytes (LZF included).
    d.check(&["FUNCTION", "DUMP"]);
    let payload = dump(&mut d.redis_conn);
    d.check(&["FUNCTION", "RESTORE", "garbage"]);
    d.check(&[
        "FUNCTION",
        "RESTORE",
        &String::from_utf8_lossy(b"0123456789abc"),
    ]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload, b"BOGUS"]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload, b"APPEND"]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload, b"REPLACE"]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload, b"FLUSH"]);
    d.check(&["FUNCTION", "LIST"]);
    d.check(&["FUNCTION", "FLUSH"]);
    d.check(&["FUNCTION", "DUMP"]);
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &payload]);
    d.check(&["FCALL", "echo", "1", "k", "a"]);
    let mut corrupt = payload.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &corrupt]);
}

/// A payload redis-server dumps restores into our node and runs; ours restores into
/// redis-server and runs there.
#[test]
fn payloads_cross_between_servers() {
    let mut d = Differential::start();
    let libs = [LIB, LIB_RO, LIB_WRITE];
    for lib in libs {
        assert_eq!(
            d.redis_conn.request(&["FUNCTION", "LOAD", lib]),
            Reply::bulk(lib.split_once('=').unwrap().1.split_once('\n').unwrap().0)
        );
    }
    let from_redis = dump(&mut d.redis_conn);
    assert_eq!(
        d.ours_conn
            .request(&[b"FUNCTION".as_slice(), b"RESTORE", &from_redis]),
        Reply::Simple("OK".into())
    );
    d.check(&["FCALL", "echo", "1", "k", "a"]);
    d.check(&["FCALL", "setter", "1", "k", "v"]);
    d.check(&["FCALL_RO", "getter", "1", "k"]);
    d.check(&["FUNCTION", "STATS"]);
    // And back: ours to a flushed redis-server.
    let from_ours = dump(&mut d.ours_conn);
    d.check(&["FUNCTION", "FLUSH"]);
    assert_eq!(
        d.redis_conn
            .request(&[b"FUNCTION".as_slice(), b"RESTORE", &from_ours]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        d.ours_conn
            .request(&[b"FUNCTION".as_slice(), b"RESTORE", &from_ours]),
        Reply::Simple("OK".into())
    );
    d.check(&["FCALL", "echo", "1", "k2", "b"]);
    d.check(&["FUNCTION", "STATS"]);
    // A payload holding libraries both already have: APPEND refuses (naming whichever
    // library redis-server's hash order meets first), REPLACE accepts.
    let (ours, theirs) = d.both(&[b"FUNCTION".as_slice(), b"RESTORE", &from_redis, b"APPEND"]);
    for reply in [ours, theirs] {
        let text = String::from_utf8_lossy(&reply).into_owned();
        assert!(
            text.starts_with("-ERR Library ") && text.ends_with(" already exists\r\n"),
            "{text}"
        );
    }
    d.check(&[b"FUNCTION".as_slice(), b"RESTORE", &from_redis, b"REPLACE"]);
}
