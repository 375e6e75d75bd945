//! `slotgate node`: client-side caching (`CLIENT TRACKING`), compared with redis-server.
//!
//! Each test opens the same connections to both servers. A step sends commands on one
//! connection, then `PING tracking-sentinel`, and reads every frame up to the sentinel's
//! answer: the replies and the invalidation pushes or messages that arrived meanwhile, in
//! order. Both servers must send the same frames. Client ids differ between the servers, so
//! `{n}` in a command stands for connection n's id there, and ids in frames are written back
//! as `{n}` before comparing.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::harness::{assert_eventually, encode_command, wait_for, Differential, RawConn};

const SENTINEL: &str = "tracking-sentinel";

/// One connection to each server, with its client id on each.
struct Conn {
    ours: RawConn,
    redis: RawConn,
    ours_id: i64,
    redis_id: i64,
}

/// Both servers and the connections a test opened to them.
struct Pair {
    d: Differential,
    conns: Vec<Conn>,
}

fn client_id(conn: &mut RawConn) -> i64 {
    let raw = conn.request_raw(&["CLIENT", "ID"]);
    let text = String::from_utf8_lossy(&raw);
    text.trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("CLIENT ID answered {text:?}"))
}

impl Pair {
    fn start() -> Pair {
        Pair::start_with(&[])
    }

    fn start_with(directives: &[(&str, &str)]) -> Pair {
        Pair {
            d: Differential::start_with(directives),
            conns: Vec::new(),
        }
    }

    /// Opens connection n (the next index) to both servers; `resp3` says `HELLO 3` first.
    fn open(&mut self, resp3: bool) -> usize {
        let mut ours = self.d.ours.raw();
        let mut redis = self.d.redis.raw();
        if resp3 {
            for conn in [&mut ours, &mut redis] {
                let hello = conn.request_raw(&["HELLO", "3"]);
                assert!(hello.starts_with(b"%"), "HELLO 3 answered {hello:?}");
            }
        }
        let ours_id = client_id(&mut ours);
        let redis_id = client_id(&mut redis);
        self.conns.push(Conn {
            ours,
            redis,
            ours_id,
            redis_id,
        });
        self.conns.len() - 1
    }

    /// Closes connection n on both servers and waits until both have let it go.
    fn close(&mut self, n: usize) {
        let (ours_id, redis_id) = (self.conns[n].ours_id, self.conns[n].redis_id);
        // Replace the connections by fresh ones to the same servers: dropping closes them.
        self.conns[n].ours = self.d.ours.raw();
        self.conns[n].redis = self.d.redis.raw();
        for (conn, id) in [
            (&mut self.d.ours_conn, ours_id),
            (&mut self.d.redis_conn, redis_id),
        ] {
            assert_eventually(Duration::from_secs(5), "the closed client to go", || {
                let list = conn.request_raw(&["CLIENT", "LIST", "ID", &id.to_string()]);
                !String::from_utf8_lossy(&list).contains(&format!("id={id} "))
            });
        }
    }

    /// `args` with `{n}` replaced by connection n's id on one side.
    fn substitute(&self, args: &[&str], ours: bool) -> Vec<String> {
        args.iter()
            .map(|a| {
                let mut s = a.to_string();
                for (n, c) in self.conns.iter().enumerate() {
                    let id = if ours { c.ours_id } else { c.redis_id };
                    s = s.replace(&format!("{{{n}}}"), &id.to_string());
                }
                s
            })
            .collect()
    }

    /// A frame with the client ids of one side written as `{n}`: only in the frames that can
    /// hold one (`CLIENT GETREDIR`'s answer, `TRACKINGINFO`, a broken redirect's push), so
    /// that a count equal to some id stays as it is.
    fn normalize(&self, frame: &[u8], ours: bool, getredir: bool) -> String {
        let mut s = String::from_utf8_lossy(frame).into_owned();
        let holds_id =
            getredir || s.contains("redirect\r\n") || s.contains("tracking-redir-broken");
        if !holds_id {
            return s;
        }
        for (n, c) in self.conns.iter().enumerate() {
            let id = if ours { c.ours_id } else { c.redis_id };
            s = s.replace(&format!(":{id}\r\n"), &format!(":{{{n}}}\r\n"));
        }
        s
    }

    /// Sends `commands` on connection n to both servers, and returns the frames each sent back
    /// up to the sentinel (normalized), requiring them to be the same.
    #[track_caller]
    fn step(&mut self, n: usize, commands: &[&[&str]]) -> Vec<String> {
        let ours = self.exchange(n, commands, true);
        let redis = self.exchange(n, commands, false);
        assert_eq!(
            ours, redis,
            "frames differ on connection {n} for {commands:?}"
        );
        redis
    }

    /// [`step`](Self::step) with one command.
    #[track_caller]
    fn check(&mut self, n: usize, command: &[&str]) -> Vec<String> {
        self.step(n, &[command])
    }

    /// What arrived on connection n without sending it anything but the sentinel.
    #[track_caller]
    fn drain(&mut self, n: usize) -> Vec<String> {
        self.step(n, &[])
    }

    fn exchange(&mut self, n: usize, commands: &[&[&str]], ours: bool) -> Vec<String> {
        let mut bytes = Vec::new();
        for c in commands {
            bytes.extend(encode_command(&self.substitute(c, ours)));
        }
        bytes.extend(encode_command(&["PING", SENTINEL]));
        let conn = if ours {
            &mut self.conns[n].ours
        } else {
            &mut self.conns[n].redis
        };
        conn.send(&bytes);
        let mut raw = Vec::new();
        for _ in 0..10_000 {
            let frame = conn.read_raw_reply();
            if frame.ends_with(format!("{SENTINEL}\r\n").as_bytes()) {
                let getredir = commands
                    .iter()
                    .any(|c| c.iter().any(|a| a.eq_ignore_ascii_case("getredir")));
                return raw
                    .iter()
                    .map(|f: &Vec<u8>| self.normalize(f, ours, getredir))
                    .collect();
            }
            raw.push(frame);
        }
        panic!("no sentinel after 10000 frames");
    }

    /// A field of `CLIENT INFO` on connection n, on each side.
    fn info_field(&mut self, n: usize, field: &str) -> (String, String) {
        let get = |conn: &mut RawConn| {
            let raw = conn.request_raw(&["CLIENT", "INFO"]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            text.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{field}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("no {field} in {text:?}"))
        };
        let ours = get(&mut self.conns[n].ours);
        let redis = get(&mut self.conns[n].redis);
        (ours, redis)
    }

    /// `INFO` fields by name, on each side.
    fn info_numbers(&mut self, names: &[&str]) -> (Vec<String>, Vec<String>) {
        let pick = |raw: Vec<u8>| {
            let text = String::from_utf8_lossy(&raw).into_owned();
            names
                .iter()
                .map(|name| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}:")))
                        .unwrap_or_else(|| panic!("no {name} in INFO"))
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        let (ours, redis) = self.d.both(&["INFO", "everything"]);
        (pick(ours), pick(redis))
    }
}

fn invalidate(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

#[test]
fn default_mode_invalidates_what_a_client_read() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    p.step(
        a,
        &[
            &["GET", "k"],
            &["MGET", "m1", "m2"],
            &["HGET", "h", "f"],
            &["EXISTS", "e"],
            &["STRLEN", "s"],
        ],
    );
    // Writes by another client: one message per key, in the order the keys changed.
    p.check(b, &["MSET", "m2", "1", "m1", "2", "k", "3"]);
    let got = p.drain(a);
    assert_eq!(
        got,
        vec![invalidate(&["m2"]), invalidate(&["m1"]), invalidate(&["k"])]
    );
    // Forgotten once invalidated: no second message until read again.
    p.check(b, &["SET", "k", "4"]);
    assert!(p.drain(a).is_empty());
    p.step(
        b,
        &[
            &["HSET", "h", "f", "v"],
            &["SET", "e", "1"],
            &["APPEND", "s", "x"],
        ],
    );
    assert_eq!(p.drain(a).len(), 3);
    // The client's own write: the message follows its reply.
    let own = p.step(
        a,
        &[
            &["GET", "k"],
            &["SET", "k", "5"],
            &["GET", "k"],
            &["DEL", "k"],
        ],
    );
    assert_eq!(own.len(), 6, "{own:?}");
    // A write a reader never read sends nothing; writes that change nothing send nothing.
    p.step(a, &[&["GET", "list"], &["LPUSHX", "list", "x"]]);
    p.check(b, &["LPUSHX", "list", "x"]);
    p.check(b, &["DEL", "nothing"]);
    assert!(p.drain(a).is_empty());
    // Streams: a range read, then an entry added by another client.
    p.step(a, &[&["XRANGE", "st", "-", "+"], &["XLEN", "st"]]);
    p.check(b, &["XADD", "st", "1-1", "f", "v"]);
    assert_eq!(p.drain(a), vec![invalidate(&["st"])]);
    // A wrong-type read is still remembered.
    p.step(a, &[&["LPUSH", "l", "1"], &["GET", "l"]]);
    p.check(b, &["RPUSH", "l", "2"]);
    p.drain(a);
    let (ours, redis) = p.info_numbers(&[
        "tracking_clients",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
    ]);
    assert_eq!(ours, redis);
}

#[test]
fn transactions_get_their_invalidations_after_exec() {
    let mut p = Pair::start();
    let a = p.open(true);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    let frames = p.step(
        a,
        &[
            &["GET", "k"],
            &["MULTI"],
            &["SET", "k", "1"],
            &["GET", "k"],
            &["SET", "k", "2"],
            &["INCR", "n"],
            &["EXEC"],
        ],
    );
    assert_eq!(frames.last(), Some(&invalidate(&["k"])));
    // WATCH, a changed key, and a failed EXEC still invalidate what changed.
    p.step(
        a,
        &[
            &["GET", "w"],
            &["WATCH", "w"],
            &["SET", "w", "x"],
            &["MULTI"],
            &["GET", "w"],
            &["EXEC"],
        ],
    );
}

#[test]
fn resp2_redirect_to_a_subscriber_gets_messages_on_the_invalidate_channel() {
    let mut p = Pair::start();
    let a = p.open(false);
    let b = p.open(false);
    let c = p.open(false);
    p.check(c, &["SUBSCRIBE", "__redis__:invalidate"]);
    p.check(a, &["CLIENT", "TRACKING", "on", "REDIRECT", "{2}"]);
    p.check(a, &["CLIENT", "GETREDIR"]);
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
    p.step(a, &[&["GET", "k"], &["GET", "j"], &["SET", "j", "1"]]);
    let own = p.drain(c);
    assert_eq!(
        own,
        vec!["*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nj\r\n"]
    );
    p.check(b, &["SET", "k", "v"]);
    assert_eq!(p.drain(c).len(), 1);
    // A flush: a null in the tracking client's protocol.
    p.step(a, &[&["GET", "k"], &["FLUSHALL"]]);
    assert_eq!(
        p.drain(c),
        vec!["*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"]
    );
    // A RESP2 redirect target that is not subscribed gets nothing.
    let d = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on", "REDIRECT", "{3}"]);
    p.check(a, &["GET", "k"]);
    p.check(b, &["SET", "k", "v"]);
    assert!(p.drain(d).is_empty());
    // Nor does a RESP2 client tracking without a redirect.
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    p.step(a, &[&["GET", "k"], &["SET", "k", "1"]]);
    let (ours, redis) = p.info_field(a, "flags");
    assert_eq!(ours, redis);
}

#[test]
fn resp3_redirect_and_a_broken_redirect() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    let c = p.open(true);
    p.check(a, &["CLIENT", "TRACKING", "on", "REDIRECT", "{2}"]);
    p.check(a, &["GET", "k"]);
    p.check(b, &["SET", "k", "1"]);
    assert_eq!(p.drain(c), vec![invalidate(&["k"])]);
    assert!(p.drain(a).is_empty());
    // The redirect target runs the write itself.
    p.check(a, &["GET", "k"]);
    p.check(c, &["SET", "k", "2"]);
    p.drain(c);
    p.check(a, &["GET", "k"]);
    p.close(c);
    p.check(b, &["SET", "k", "3"]);
    assert_eq!(
        p.drain(a),
        vec![">2\r\n$21\r\ntracking-redir-broken\r\n:{2}\r\n"]
    );
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
    let (ours, redis) = p.info_field(a, "flags");
    assert_eq!((ours.as_str(), redis.as_str()), ("tR", "tR"));
    let (ours, redis) = p.info_field(a, "redir");
    assert_eq!(ours.replace(&p.conns[c].ours_id.to_string(), "C"), "C");
    assert_eq!(redis.replace(&p.conns[c].redis_id.to_string(), "C"), "C");
    // Turning tracking on again clears the broken flag.
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
}

#[test]
fn bcast_prefixes_noloop_and_batches() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    let n = p.open(true);
    p.check(
        a,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
        ],
    );
    p.check(n, &["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]);
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
    p.check(n, &["CLIENT", "TRACKINGINFO"]);
    // One batch of writes: one message per prefix, keys in byte order.
    p.step(
        b,
        &[
            &["SET", "user:2", "x"],
            &["SET", "user:1", "x"],
            &["SET", "other", "x"],
            &["HSET", "obj:9", "f", "v"],
            &["SET", "user:2", "y"],
        ],
    );
    let got = p.drain(a);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(p.drain(n).len(), 1);
    // NOLOOP: the client's own writes are left out; when nothing is left, no message.
    p.step(n, &[&["SET", "mine", "1"], &["DEL", "mine"]]);
    p.step(n, &[&["SET", "x:1", "1"]]);
    p.check(b, &["SET", "x:1", "2"]);
    p.drain(n);
    // Without NOLOOP the writer gets its own keys, after its replies.
    p.step(a, &[&["SET", "user:me", "1"], &["GET", "user:me"]]);
    p.drain(a);
    let (ours, redis) = p.info_numbers(&["tracking_total_prefixes", "tracking_clients"]);
    assert_eq!(ours, redis);
    let (ours, redis) = p.info_field(a, "flags");
    assert_eq!((ours.as_str(), redis.as_str()), ("tB", "tB"));
    // A BCAST client that goes away releases its prefixes.
    p.close(n);
    let (ours, redis) = p.info_numbers(&["tracking_total_prefixes", "tracking_clients"]);
    assert_eq!(ours, redis);
    assert_eq!(redis, vec!["2", "1"]);
    // Adding prefixes while on, then off: the prefixes are released.
    p.check(a, &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "z"]);
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
    p.check(a, &["CLIENT", "TRACKING", "off"]);
    let (ours, redis) = p.info_numbers(&["tracking_total_prefixes", "tracking_clients"]);
    assert_eq!(ours, redis);
    assert_eq!(redis, vec!["0", "0"]);
}

#[test]
fn optin_optout_and_caching() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    p.step(
        a,
        &[
            &["GET", "not-cached"],
            &["CLIENT", "CACHING", "yes"],
            &["GET", "cached"],
        ],
    );
    p.check(a, &["CLIENT", "TRACKINGINFO"]);
    p.step(
        a,
        &[&["CLIENT", "CACHING", "yes"], &["CLIENT", "TRACKINGINFO"]],
    );
    // CACHING YES lasts one command (and through a queued transaction).
    p.step(
        a,
        &[
            &["CLIENT", "CACHING", "yes"],
            &["MULTI"],
            &["GET", "in-multi"],
            &["EXEC"],
            &["GET", "after"],
        ],
    );
    p.step(
        b,
        &[
            &["SET", "not-cached", "1"],
            &["SET", "cached", "1"],
            &["SET", "in-multi", "1"],
            &["SET", "after", "1"],
        ],
    );
    assert_eq!(
        p.drain(a),
        vec![invalidate(&["cached"]), invalidate(&["in-multi"])]
    );
    p.check(a, &["CLIENT", "TRACKING", "off"]);
    p.check(a, &["CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP"]);
    p.step(
        a,
        &[
            &["GET", "o1"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "TRACKINGINFO"],
            &["GET", "o2"],
            &["SET", "o1", "mine"],
        ],
    );
    p.step(b, &[&["SET", "o1", "1"], &["SET", "o2", "1"]]);
    p.drain(a);
    p.step(a, &[&["GET", "o1"]]);
    p.step(b, &[&["SET", "o1", "2"]]);
    assert_eq!(p.drain(a), vec![invalidate(&["o1"])]);
}

#[test]
fn flushes_send_a_null_and_empty_the_table() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    let c = p.open(true);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    p.check(c, &["CLIENT", "TRACKING", "on", "BCAST"]);
    p.step(a, &[&["GET", "k"], &["GET", "j"]]);
    p.check(b, &["FLUSHALL"]);
    assert_eq!(p.drain(a), vec![">2\r\n$10\r\ninvalidate\r\n_\r\n"]);
    p.drain(c);
    p.step(a, &[&["GET", "k"], &["FLUSHDB"], &["SET", "k", "1"]]);
    p.drain(c);
    let (ours, redis) = p.info_numbers(&["tracking_total_keys", "tracking_total_items"]);
    assert_eq!(ours, redis);
    // SWAPDB invalidates nothing.
    p.step(a, &[&["GET", "k"], &["SWAPDB", "0", "1"]]);
    p.drain(c);
}

#[test]
fn expired_keys_are_invalidated() {
    let mut p = Pair::start_with(&[("enable-debug-command", "yes")]);
    let a = p.open(true);
    let b = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    // Lazy expiry: the writer's lookup finds the key expired, the reader is told.
    p.check(b, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    p.check(b, &["SET", "lazy", "1", "PX", "20"]);
    p.check(a, &["GET", "lazy"]);
    assert_eventually(Duration::from_secs(5), "the key to expire", || {
        let ours = p.conns[b].ours.request_raw(&["PTTL", "lazy"]);
        let redis = p.conns[b].redis.request_raw(&["PTTL", "lazy"]);
        ours == b":-2\r\n" && redis == b":-2\r\n"
    });
    assert_eq!(p.drain(a), vec![invalidate(&["lazy"])]);
    // The reader's own read expiring a key it tracks: the message after its reply.
    p.step(a, &[&["SET", "own", "1", "PX", "20"], &["GET", "own"]]);
    p.drain(a);
    assert_eventually(Duration::from_secs(5), "the key to expire", || {
        let ours = p.conns[b].ours.request_raw(&["PTTL", "own"]);
        let redis = p.conns[b].redis.request_raw(&["PTTL", "own"]);
        ours == b":-2\r\n" && redis == b":-2\r\n"
    });
    p.drain(a);
    p.check(b, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    // Active expiry: the message comes by itself.
    p.step(
        b,
        &[&["SET", "active", "1", "PX", "50"], &["SET", "plain", "1"]],
    );
    p.step(a, &[&["GET", "active"], &["GET", "plain"]]);
    for ours in [true, false] {
        let conn = if ours {
            &mut p.conns[a].ours
        } else {
            &mut p.conns[a].redis
        };
        let frame = wait_for(Duration::from_secs(5), "the expiry's invalidation", || {
            conn.set_read_timeout(Duration::from_millis(50));
            let got = conn.try_read_raw_reply().ok().flatten();
            conn.set_read_timeout(Duration::from_secs(10));
            got
        });
        assert_eq!(String::from_utf8_lossy(&frame), invalidate(&["active"]));
    }
    assert!(p.drain(a).is_empty());
}

#[test]
fn errors_and_info_replies() {
    let mut p = Pair::start();
    let a = p.open(false);
    let cases: &[&[&str]] = &[
        &["CLIENT", "TRACKING"],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING", "on", "garbage"],
        &["CLIENT", "TRACKING", "on", "PREFIX", "p"],
        &["CLIENT", "TRACKING", "on", "PREFIX"],
        &["CLIENT", "TRACKING", "on", "REDIRECT"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "abc"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "0"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "-1"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "99999"],
        &[
            "CLIENT", "TRACKING", "on", "REDIRECT", "{0}", "REDIRECT", "{0}",
        ],
        &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "on", "BCAST", "OPTOUT"],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "foo", "PREFIX", "foobar",
        ],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "foobar", "PREFIX", "foo",
        ],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "a",
        ],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "", "PREFIX", "a",
        ],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "CACHING"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR", "x"],
        &["CLIENT", "TRACKINGINFO", "x"],
        &["CLIENT", "TRACKING", "off", "PREFIX", "p"],
        &["CLIENT", "TRACKING", "off", "BCAST"],
        &["CLIENT", "TRACKING", "off", "garbage"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "on", "OPTIN"],
        &["CLIENT", "TRACKING", "on"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "no"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "on", "OPTIN"],
        &["CLIENT", "CACHING", "no"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "TRACKING", "on", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "BCAST"],
        &[
            "CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP", "REDIRECT", "{0}",
        ],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "on", "OPTOUT"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "no"],
        &["CLIENT", "TRACKINGINFO"],
        &[
            "CLIENT", "TRACKING", "ON", "bcast", "prefix", "x", "prefix", "y", "noloop",
        ],
        &["CLIENT", "TRACKING", "off"],
        &[
            "CLIENT", "TRACKING", "ON", "bcast", "prefix", "x", "prefix", "y", "noloop",
        ],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["RESET"],
        &["CLIENT", "TRACKINGINFO"],
    ];
    for case in cases {
        p.check(a, case);
    }
    let (ours, redis) = p.info_field(a, "flags");
    assert_eq!(ours, redis);
    let (ours, redis) = p.info_field(a, "redir");
    assert_eq!(ours, redis);
    // RESP3: TRACKINGINFO is a map with a set of flags.
    let r = p.open(true);
    p.check(r, &["CLIENT", "TRACKINGINFO"]);
    p.check(r, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    p.step(
        r,
        &[&["CLIENT", "CACHING", "yes"], &["CLIENT", "TRACKINGINFO"]],
    );
}

#[test]
fn tracking_table_max_keys_evicts_with_invalidations() {
    let mut p = Pair::start();
    let a = p.open(true);
    p.d.check(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    // Which keys go is random on both servers: compare the shape (replies and invalidations,
    // in order) and the table's size.
    let gets: Vec<[&str; 2]> = ["k1", "k2", "k3", "k4", "k5"].map(|k| ["GET", k]).into();
    let mut commands: Vec<&[&str]> = gets.iter().map(|c| &c[..]).collect();
    commands.push(&["PING"]);
    let mut shapes = Vec::new();
    for ours in [true, false] {
        let frames = p.exchange(a, &commands, ours);
        let shape: Vec<&str> = frames
            .iter()
            .map(|f| {
                if f.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n") {
                    "invalidate"
                } else {
                    "reply"
                }
            })
            .collect();
        shapes.push(shape.join(" "));
    }
    let counts: Vec<usize> = shapes
        .iter()
        .map(|s| s.matches("invalidate").count())
        .collect();
    assert_eq!(shapes[0], shapes[1]);
    assert_eq!(counts[0], counts[1]);
    assert!(counts[0] >= 2, "{counts:?}");
    let (ours, redis) = p.info_numbers(&["tracking_total_keys", "tracking_total_items"]);
    assert_eq!(ours, redis);
}

#[test]
fn randomized_reads_and_writes_invalidate_as_redis() {
    for seed in [0x07ac_41e9, 1, 2, 3, 4] {
        randomized_run(seed);
    }
}

fn randomized_run(seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut p = Pair::start();
    let reader = p.open(true);
    let noloop = p.open(true);
    let writer = p.open(false);
    let sub = p.open(false);
    let redirected = p.open(false);
    p.check(sub, &["SUBSCRIBE", "__redis__:invalidate"]);
    p.check(reader, &["CLIENT", "TRACKING", "on"]);
    p.check(noloop, &["CLIENT", "TRACKING", "on", "NOLOOP", "OPTOUT"]);
    p.check(redirected, &["CLIENT", "TRACKING", "on", "REDIRECT", "{3}"]);
    let bcast = p.open(true);
    p.check(
        bcast,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP", "PREFIX", "a", "PREFIX", "c",
        ],
    );
    let keys = ["a", "b", "c", "d", "e"];
    let reads: &[&[&str]] = &[
        &["GET", "K"],
        &["EXISTS", "K"],
        &["STRLEN", "K"],
        &["TYPE", "K"],
        &["LRANGE", "K", "0", "-1"],
        &["HGETALL", "K"],
        &["MGET", "K", "a"],
        &["TTL", "K"],
    ];
    let writes: &[&[&str]] = &[
        &["SET", "K", "v"],
        &["DEL", "K"],
        &["INCR", "K"],
        &["LPUSH", "K", "x"],
        &["HSET", "K", "f", "v"],
        &["EXPIRE", "K", "100"],
        &["PERSIST", "K"],
        &["APPEND", "K", "z"],
        &["RENAME", "K", "e"],
        &["GETDEL", "K"],
        &["SETNX", "K", "1"],
        &["UNLINK", "K", "a"],
        &["COPY", "K", "b"],
    ];
    let clients = [reader, noloop, writer, redirected, bcast];
    let mut seen = 0;
    for step in 0..400 {
        let who = clients[rng.gen_range(0..clients.len())];
        let mut batch: Vec<Vec<String>> = Vec::new();
        for _ in 0..rng.gen_range(1..4) {
            let key = keys[rng.gen_range(0..keys.len())];
            let template = if rng.gen_bool(0.5) {
                reads[rng.gen_range(0..reads.len())]
            } else {
                writes[rng.gen_range(0..writes.len())]
            };
            batch.push(
                template
                    .iter()
                    .map(|a| {
                        if *a == "K" {
                            key.to_string()
                        } else {
                            a.to_string()
                        }
                    })
                    .collect(),
            );
            if who == noloop && rng.gen_bool(0.2) {
                batch.push(vec!["CLIENT".into(), "CACHING".into(), "no".into()]);
            }
        }
        if step % 97 == 96 {
            batch.push(vec!["FLUSHDB".into()]);
        }
        if who != writer && rng.gen_bool(0.15) {
            batch.insert(0, vec!["MULTI".into()]);
            batch.push(vec!["EXEC".into()]);
        }
        let batch: Vec<Vec<&str>> = batch
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        let batch: Vec<&[&str]> = batch.iter().map(Vec::as_slice).collect();
        for frame in p.step(who, &batch) {
            seen += usize::from(frame.contains("invalidate"));
        }
        for other in [reader, noloop, sub, bcast] {
            for frame in p.drain(other) {
                seen += usize::from(frame.contains("invalidate"));
            }
        }
    }
    assert!(seen > 100, "only {seen} invalidations in the whole run");
    let (ours, redis) = p.info_numbers(&[
        "tracking_clients",
        "tracking_total_keys",
        "tracking_total_items",
    ]);
    assert_eq!(ours, redis);
}

#[test]
fn caching_ends_with_any_command_even_a_refused_one() {
    let mut p = Pair::start();
    let a = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    p.step(
        a,
        &[
            &["CLIENT", "CACHING", "yes"],
            &["FOO"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "CACHING", "yes"],
            &["GET"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "TRACKINGINFO"],
            &["PING"],
            &["CLIENT", "TRACKINGINFO"],
        ],
    );
    let (ours, redis) = p.info_numbers(&["tracking_total_keys"]);
    assert_eq!(ours, redis);
}

#[test]
fn blocked_pops_and_a_resp3_tracker_redirected_to_a_resp2_subscriber() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    let c = p.open(false);
    let w = p.open(false);
    p.check(c, &["SUBSCRIBE", "__redis__:invalidate"]);
    p.check(a, &["CLIENT", "TRACKING", "on", "REDIRECT", "{2}"]);
    p.step(a, &[&["LRANGE", "q", "0", "-1"], &["GET", "s"]]);
    // A flush sends the tracking client's (RESP3) null, on the RESP2 subscriber's channel.
    p.check(b, &["FLUSHALL"]);
    assert_eq!(
        p.drain(c),
        vec!["*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n_\r\n"]
    );
    p.step(a, &[&["LRANGE", "q", "0", "-1"]]);
    // A blocked pop served by another client's push: both change the list.
    for ours in [true, false] {
        let conn = if ours {
            &mut p.conns[w].ours
        } else {
            &mut p.conns[w].redis
        };
        conn.send_command(&["BLPOP", "q", "0"]);
    }
    for (ours, id) in [(true, p.conns[w].ours_id), (false, p.conns[w].redis_id)] {
        let conn = if ours {
            &mut p.d.ours_conn
        } else {
            &mut p.d.redis_conn
        };
        assert_eventually(Duration::from_secs(5), "BLPOP to block", || {
            let list = conn.request_raw(&["CLIENT", "LIST", "ID", &id.to_string()]);
            String::from_utf8_lossy(&list).contains("cmd=blpop")
        });
    }
    p.check(b, &["RPUSH", "q", "x"]);
    let popped = p.drain(w);
    assert_eq!(popped, vec!["*2\r\n$1\r\nq\r\n$1\r\nx\r\n"]);
    assert_eq!(p.drain(c).len(), 1);
}

#[test]
fn a_blocked_tracker_gets_its_invalidations_before_the_blocked_reply() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    let pipeline: Vec<u8> = [
        encode_command(&["GET", "k"]),
        encode_command(&["BLPOP", "q", "0"]),
        encode_command(&["PING", SENTINEL]),
    ]
    .concat();
    p.conns[a].ours.send(&pipeline);
    p.conns[a].redis.send(&pipeline);
    for (ours, id) in [(true, p.conns[a].ours_id), (false, p.conns[a].redis_id)] {
        let conn = if ours {
            &mut p.d.ours_conn
        } else {
            &mut p.d.redis_conn
        };
        assert_eventually(Duration::from_secs(5), "BLPOP to block", || {
            let list = conn.request_raw(&["CLIENT", "LIST", "ID", &id.to_string()]);
            String::from_utf8_lossy(&list).contains("cmd=blpop")
        });
    }
    p.check(b, &["SET", "k", "1"]);
    p.check(b, &["RPUSH", "q", "x"]);
    let mut frames = Vec::new();
    for ours in [true, false] {
        let conn = if ours {
            &mut p.conns[a].ours
        } else {
            &mut p.conns[a].redis
        };
        let mut got = Vec::new();
        loop {
            let frame = String::from_utf8_lossy(&conn.read_raw_reply()).into_owned();
            if frame.ends_with(&format!("{SENTINEL}\r\n")) {
                break;
            }
            got.push(frame);
        }
        frames.push(got);
    }
    assert_eq!(frames[0], frames[1]);
    assert_eq!(frames[1][1], invalidate(&["k"]));
}

#[test]
fn invalidations_are_pushed_even_with_replies_off() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    p.check(a, &["GET", "k"]);
    let bytes: Vec<u8> = [
        encode_command(&["CLIENT", "REPLY", "OFF"]),
        encode_command(&["SET", "k", "1"]),
        encode_command(&["GET", "k"]),
    ]
    .concat();
    p.conns[a].ours.send(&bytes);
    p.conns[a].redis.send(&bytes);
    p.check(b, &["SET", "k", "2"]);
    let frames = p.check(a, &["CLIENT", "REPLY", "ON"]);
    assert_eq!(
        frames,
        vec![
            invalidate(&["k"]),
            invalidate(&["k"]),
            "+OK\r\n".to_string()
        ]
    );
}

#[test]
fn evicted_keys_are_invalidated() {
    let mut p = Pair::start();
    let a = p.open(true);
    let b = p.open(false);
    let keys = ["e1", "e2", "e3", "e4", "e5"];
    for k in keys {
        p.check(b, &["SET", k, "value"]);
    }
    p.check(a, &["CLIENT", "TRACKING", "on"]);
    let reads: Vec<[&str; 2]> = keys.map(|k| ["GET", k]).into();
    let reads: Vec<&[&str]> = reads.iter().map(|c| &c[..]).collect();
    p.step(a, &reads);
    p.d.check(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    p.d.check(&["CONFIG", "SET", "maxmemory", "1"]);
    // Every key goes to make room (and the write is refused): which order is random, the
    // set of invalidated keys is not.
    p.d.both(&["SET", "x", "1"]);
    p.d.check(&["CONFIG", "SET", "maxmemory", "0"]);
    let mut got = Vec::new();
    for ours in [true, false] {
        let mut frames = p.exchange(a, &[], ours);
        frames.sort();
        got.push(frames);
    }
    assert_eq!(got[0], got[1]);
    let mut expected: Vec<String> = keys.iter().map(|k| invalidate(&[k])).collect();
    expected.sort();
    assert_eq!(got[1], expected);
}
