//! `slotgate node` basics: it starts like redis-server, answers connection commands and
//! transactions byte for byte like redis-server 7.0, and refuses bad configuration.

use std::process::Command;

use crate::harness::{Differential, SlotgateNode};

#[test]
fn connection_commands_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["PING"],
        &["PING", "hello"],
        &["PING", "a", "b"],
        &["ECHO", "x y"],
        &["SELECT", "15"],
        &["SELECT", "16"],
        &["SELECT", "-1"],
        &["SELECT", "x"],
        &["SELECT", "0"],
        &["AUTH", "pw"],
        &["AUTH", "default", "pw"],
        &["HELLO", "4"],
        &["HELLO", "x"],
        &["NOSUCHCOMMAND", "a"],
        &["GET"],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["TYPE", "k"],
        &["TYPE", "missing"],
        &["EXISTS", "k", "k", "missing"],
        &["DEL", "k", "missing"],
        &["GET", "k"],
    ]);
}

#[test]
fn transactions_match_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["MULTI"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["EXEC"],
        // A command that fails to queue aborts the transaction.
        &["MULTI"],
        &["SET", "a", "2"],
        &["GET"],
        &["EXEC"],
        &["GET", "a"],
        &["MULTI"],
        &["WATCH", "a"],
        &["DISCARD"],
        // Runtime errors inside EXEC do not abort the others.
        &["SET", "s", "x"],
        &["MULTI"],
        &["TYPE", "s"],
        &["SELECT", "99"],
        &["GET", "s"],
        &["EXEC"],
    ]);
}

#[test]
fn watch_fails_exec_after_another_client_writes() {
    let node = SlotgateNode::start();
    let mut a = node.raw();
    let mut b = node.raw();
    a.request(&["SET", "k", "1"]);
    assert_eq!(a.request(&["WATCH", "k"]).as_bytes(), Some(&b"OK"[..]));
    b.request(&["SET", "k", "2"]);
    a.request(&["MULTI"]);
    a.request(&["SET", "k", "3"]);
    assert_eq!(a.request_raw(&["EXEC"]), b"*-1\r\n");
    assert_eq!(a.request(&["GET", "k"]).as_bytes(), Some(&b"2"[..]));
    // Watching again and nobody writing: EXEC runs.
    a.request(&["WATCH", "k"]);
    a.request(&["MULTI"]);
    a.request(&["SET", "k", "3"]);
    assert_eq!(a.request_raw(&["EXEC"]), b"*1\r\n+OK\r\n");
    assert_eq!(b.request(&["GET", "k"]).as_bytes(), Some(&b"3"[..]));
}

/// With `io-threads 4` clients are served from several threads: concurrent writers still
/// apply every command exactly once, and a blocked client is woken by a writer on another
/// connection.
#[test]
fn several_io_threads_serve_concurrent_clients() {
    let node = SlotgateNode::start_with(&["--io-threads", "4"]);
    let pid = node.pid().expect("the node runs");
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the node's /proc entry")
        .count();
    assert!(threads >= 4, "io-threads 4 runs {threads} threads");
    let mut waiter = node.raw();
    waiter.send(&crate::harness::encode_command(&["BLPOP", "jobs", "10"]));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = node.raw();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    c.request(&["INCR", "counter"]);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    assert_eq!(
        node.raw().request(&["GET", "counter"]).as_bytes(),
        Some(&b"2000"[..])
    );
    node.raw().request(&["RPUSH", "jobs", "j1"]);
    assert_eq!(waiter.read_raw_reply(), b"*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n");
    assert_eq!(
        node.raw().request_raw(&["CONFIG", "GET", "io-threads"]),
        b"*2\r\n$10\r\nio-threads\r\n$1\r\n4\r\n"
    );
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let node = SlotgateNode::start_with(&["--requirepass", "s3cret"]);
    let mut c = node.raw();
    assert_eq!(
        c.request(&["GET", "k"]).as_error(),
        Some("NOAUTH Authentication required.")
    );
    assert_eq!(
        c.request(&["AUTH", "wrong"]).as_error(),
        Some("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(c.request(&["AUTH", "s3cret"]).as_bytes(), Some(&b"OK"[..]));
    assert!(!c.request(&["GET", "k"]).is_error());
    let mut d = node.raw();
    assert!(!d
        .request(&["HELLO", "3", "AUTH", "default", "s3cret"])
        .is_error());
    assert!(!d.request(&["GET", "k"]).is_error());
}

#[test]
fn hello_3_switches_to_resp3() {
    let node = SlotgateNode::start();
    let mut c = node.raw();
    let hello = c.request_raw(&["HELLO", "3"]);
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello:?}"
    );
    assert_eq!(c.request_raw(&["GET", "missing"]), b"_\r\n");
    let mut r2 = node.raw();
    assert_eq!(r2.request_raw(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn unknown_directive_stops_start_naming_it() {
    let dir = crate::harness::TempDir::new("badconf");
    let conf = dir.path().join("node.conf");
    std::fs::write(&conf, "port 0\nnot-a-directive yes\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slotgate"))
        .arg("node")
        .arg(&conf)
        .output()
        .expect("run slotgate node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2")
            && err.contains("not-a-directive yes")
            && err.contains("Bad directive"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_slotgate"))
        .args(["node", "--daemonize", "yes"])
        .output()
        .expect("run slotgate node");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemonize"));
}
