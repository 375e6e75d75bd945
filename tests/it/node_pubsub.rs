//! `slotgate node`: pub/sub, compared with redis-server where replies can be — confirmations,
//! counts, subscribed-mode errors, RESP3 pushes, messages delivered across connections — plus
//! what only the node is checked for: cleanup on disconnect and the output buffer limit.

use std::time::Duration;

use proptest::prelude::*;

use crate::harness::{encode_command, wait_for, Differential, RawConn, Reply, SlotgateNode};

/// One connection to our node and one to redis-server, driven in step.
struct Pair {
    ours: RawConn,
    redis: RawConn,
}

impl Pair {
    fn new(d: &Differential) -> Pair {
        Pair {
            ours: d.ours.raw(),
            redis: d.redis.raw(),
        }
    }

    fn send(&mut self, command: &[&str]) {
        let bytes = encode_command(command);
        self.ours.send(&bytes);
        self.redis.send(&bytes);
    }

    /// Reads `n` replies (or pushes) from each side.
    fn read(&mut self, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let ours = (0..n).map(|_| self.ours.read_raw_reply()).collect();
        let redis = (0..n).map(|_| self.redis.read_raw_reply()).collect();
        (ours, redis)
    }

    /// Reads `n` frames from each side and requires the same bytes.
    #[track_caller]
    fn expect(&mut self, n: usize, what: &str) {
        let (ours, redis) = self.read(n);
        assert_eq!(lossy(&ours), lossy(&redis), "frames differ for {what}");
    }

    /// [`expect`](Self::expect) for frames whose order Redis does not fix.
    #[track_caller]
    fn expect_sorted(&mut self, n: usize, what: &str) {
        let (mut ours, mut redis) = self.read(n);
        ours.sort();
        redis.sort();
        assert_eq!(lossy(&ours), lossy(&redis), "frames differ for {what}");
    }

    /// Sends `command` to both and requires the same `n` frames back.
    #[track_caller]
    fn check(&mut self, command: &[&str], n: usize) {
        self.send(command);
        self.expect(n, &command.join(" "));
    }

    /// Sends `command` and requires the same reply once array elements are sorted (replies
    /// Redis builds by walking a hash table).
    #[track_caller]
    fn check_sorted(&mut self, command: &[&str]) {
        self.send(command);
        let ours = sorted(self.ours.read_reply());
        let redis = sorted(self.redis.read_reply());
        assert_eq!(ours, redis, "sorted replies differ for {command:?}");
    }
}

fn lossy(frames: &[Vec<u8>]) -> Vec<String> {
    frames
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

fn sorted(reply: Reply) -> Reply {
    match reply {
        Reply::Array(Some(mut items)) => {
            items.sort_by_key(|r| format!("{r:?}"));
            Reply::Array(Some(items))
        }
        other => other,
    }
}

#[test]
fn subscribed_mode_matches_redis_in_resp2() {
    let d = Differential::start();
    let mut c = Pair::new(&d);
    c.check(&["PING"], 1);
    c.check(&["UNSUBSCRIBE"], 1);
    c.check(&["PUNSUBSCRIBE", "p*"], 1);
    c.check(&["SUNSUBSCRIBE"], 1);
    c.check(&["SUBSCRIBE"], 1);
    c.check(&["SUBSCRIBE", "a", "b"], 2);
    c.check(&["SUBSCRIBE", "a"], 1);
    c.check(&["PSUBSCRIBE", "x*", "y?"], 2);
    c.check(&["GET", "k"], 1);
    c.check(&["PUBLISH", "a", "m"], 1);
    c.check(&["PUBSUB", "NUMSUB", "a"], 1);
    c.check(&["MULTI"], 1);
    c.check(&["HELLO", "2"], 1);
    c.check(&["NOSUCHCOMMAND"], 1);
    c.check(&["PING"], 1);
    c.check(&["PING", "hi"], 1);
    c.check(&["PING", "a", "b"], 1);
    c.check(&["UNSUBSCRIBE", "zz", "a"], 2);
    c.check(&["PUNSUBSCRIBE", "y?"], 1);
    c.check(&["PUNSUBSCRIBE"], 1);
    c.check(&["SSUBSCRIBE", "s1", "s2", "s1"], 3);
    c.check(&["UNSUBSCRIBE", "b"], 1);
    // Shard channels alone keep the client in subscribed mode.
    c.check(&["GET", "k"], 1);
    c.check(&["SUNSUBSCRIBE", "s2"], 1);
    c.check(&["SUNSUBSCRIBE"], 1);
    c.check(&["GET", "k"], 1);
    c.check(&["PING"], 1);
    c.check(&["SUBSCRIBE", "q"], 1);
    c.check(&["QUIT"], 1);
}

#[test]
fn subscribing_inside_multi_matches_redis() {
    let d = Differential::start();
    let mut c = Pair::new(&d);
    c.check(&["MULTI"], 1);
    c.check(&["PSUBSCRIBE", "a*"], 1);
    c.check(&["UNSUBSCRIBE"], 1);
    c.check(&["SSUBSCRIBE", "b"], 1);
    c.check(&["PUBLISH", "a1", "m"], 1);
    c.check(&["SPUBLISH", "b", "m"], 1);
    c.check(&["SUBSCRIBE", "c"], 1);
    c.check(&["EXEC"], 1);
    // EXEC left it subscribed: a RESP2 client is now in subscribed mode.
    c.check(&["GET", "x"], 1);
    c.check(&["UNSUBSCRIBE"], 1);
    c.check(&["PUNSUBSCRIBE"], 1);
    c.check(&["GET", "x"], 1);
}

#[test]
fn resp3_pushes_match_redis() {
    let d = Differential::start();
    let mut c = Pair::new(&d);
    // HELLO's reply names the client id, which differs.
    c.send(&["HELLO", "3"]);
    c.read(1);
    c.check(&["SUBSCRIBE", "a"], 1);
    // Any command runs while subscribed in RESP3.
    c.check(&["GET", "k"], 1);
    c.check(&["PING"], 1);
    // Its own message comes before the PUBLISH reply.
    c.check(&["PUBLISH", "a", "hi"], 2);
    c.check(&["PSUBSCRIBE", "*"], 1);
    c.check(&["PUBLISH", "a", "yo"], 3);
    c.check(&["PUBSUB", "NUMSUB", "a", "b"], 1);
    c.check(&["PUBSUB", "SHARDNUMSUB", "a"], 1);
    c.check(&["SSUBSCRIBE", "a"], 1);
    c.check(&["SPUBLISH", "a", "m"], 2);
    c.check(&["MULTI"], 1);
    c.check(&["PUBLISH", "a", "in-exec"], 1);
    // Redis writes its own messages inside EXEC's array, between the array's header and the
    // PUBLISH reply: `*1 >3 message…` then `>4 pmessage…` then `:2` read as three frames.
    c.check(&["EXEC"], 3);
    c.check(&["UNSUBSCRIBE"], 1);
    c.check(&["PUNSUBSCRIBE"], 1);
    c.check(&["SUNSUBSCRIBE"], 1);
    c.check(&["PUBLISH", "a", "gone"], 1);
    // Back to RESP2 with nothing subscribed: plain replies again.
    c.send(&["HELLO", "2"]);
    c.read(1);
    c.check(&["SUBSCRIBE", "z"], 1);
    c.check(&["PING"], 1);
}

#[test]
fn pubsub_introspection_matches_redis() {
    let d = Differential::start();
    let mut c = Pair::new(&d);
    c.check(&["PUBSUB", "CHANNELS"], 1);
    c.check(&["PUBSUB", "NUMPAT"], 1);
    c.check(&["PUBSUB", "NUMSUB"], 1);
    c.check(&["PUBSUB", "SHARDCHANNELS"], 1);
    c.check(&["PUBSUB", "SHARDNUMSUB"], 1);
    c.check(&["PUBSUB", "HELP"], 1);
    c.check(&["PUBSUB", "FOO"], 1);
    c.check(&["PUBSUB"], 1);
    c.check(&["pubsub", "channels", "a", "b"], 1);
    c.check(&["PUBSUB", "SHARDCHANNELS", "a", "b"], 1);
    c.check(&["PUBSUB", "NUMPAT", "x"], 1);
    c.check(&["PUBLISH", "a"], 1);
    c.check(&["SPUBLISH", "a", "b", "c"], 1);

    let mut s1 = Pair::new(&d);
    s1.check(&["SUBSCRIBE", "news.eu", "news.us", "sport"], 3);
    s1.check(&["PSUBSCRIBE", "news.*", "n*"], 2);
    let mut s2 = Pair::new(&d);
    s2.check(&["SUBSCRIBE", "news.eu"], 1);
    s2.check(&["PSUBSCRIBE", "news.*"], 1);
    s2.check(&["SSUBSCRIBE", "orders", "users"], 2);

    c.check_sorted(&["PUBSUB", "CHANNELS"]);
    c.check_sorted(&["PUBSUB", "CHANNELS", "news.*"]);
    c.check_sorted(&["PUBSUB", "CHANNELS", "[sx]*"]);
    c.check(
        &["PUBSUB", "NUMSUB", "news.eu", "news.us", "none", "orders"],
        1,
    );
    c.check(&["PUBSUB", "NUMPAT"], 1);
    c.check_sorted(&["PUBSUB", "SHARDCHANNELS"]);
    c.check_sorted(&["PUBSUB", "SHARDCHANNELS", "o*"]);
    c.check(&["PUBSUB", "SHARDNUMSUB", "orders", "news.eu"], 1);
    // Receivers: channel subscribers plus pattern subscribers.
    c.check(&["PUBLISH", "news.eu", "x"], 1);
    c.check(&["PUBLISH", "nothing", "x"], 1);
    c.check(&["SPUBLISH", "orders", "x"], 1);
    c.check(&["SPUBLISH", "news.eu", "x"], 1);

    // What the subscribers received, patterns in no fixed order: news.eu on the channel and
    // both patterns, then "nothing" on n*; news.eu on channel and pattern, then orders.
    s1.expect_sorted(4, "s1's messages");
    s2.expect_sorted(3, "s2's messages");

    s1.check(&["PUNSUBSCRIBE", "news.*"], 1);
    s2.check(&["UNSUBSCRIBE", "news.eu"], 1);
    c.check(&["PUBSUB", "NUMSUB", "news.eu"], 1);
    c.check(&["PUBSUB", "NUMPAT"], 1);
}

#[test]
fn messages_reach_every_subscriber_like_redis() {
    let d = Differential::start();
    let mut publisher = Pair::new(&d);
    let mut plain = Pair::new(&d);
    plain.check(&["SUBSCRIBE", "news", "other"], 2);
    let mut pattern = Pair::new(&d);
    pattern.check(&["PSUBSCRIBE", "n?ws"], 1);
    let mut both = Pair::new(&d);
    both.send(&["HELLO", "3"]);
    both.read(1);
    both.check(&["SUBSCRIBE", "news"], 1);
    both.check(&["PSUBSCRIBE", "*"], 1);
    let mut shard = Pair::new(&d);
    shard.check(&["SSUBSCRIBE", "news"], 1);

    publisher.check(&["PUBLISH", "news", "hello"], 1);
    plain.expect(1, "message on news");
    pattern.expect(1, "pmessage on news");
    both.expect(2, "message then pmessage on news");
    publisher.check(&["PUBLISH", "other", "binary\r\n\0"], 1);
    plain.expect(1, "message on other");
    both.expect(1, "pmessage on other");
    publisher.check(&["SPUBLISH", "news", "sharded"], 1);
    shard.expect(1, "smessage on news");
    // Nothing else is waiting: each subscriber's next frame is the answer to a PING.
    plain.check(&["PING"], 1);
    pattern.check(&["PING"], 1);
    both.check(&["PING"], 1);
    shard.check(&["PING"], 1);
}

#[test]
fn disconnect_unsubscribes_everything() {
    let node = SlotgateNode::start();
    let mut observer = node.raw();
    let mut sub = node.raw();
    sub.send_command(&["SUBSCRIBE", "c1", "c2"]);
    sub.send_command(&["PSUBSCRIBE", "p*"]);
    sub.send_command(&["SSUBSCRIBE", "s1"]);
    for _ in 0..4 {
        sub.read_reply();
    }
    let numsub = |observer: &mut RawConn| {
        (
            observer.request(&["PUBSUB", "NUMSUB", "c1", "c2"]),
            observer.request(&["PUBSUB", "NUMPAT"]),
            observer.request(&["PUBSUB", "SHARDNUMSUB", "s1"]),
        )
    };
    let subscribed = numsub(&mut observer);
    assert_eq!(subscribed.1, Reply::Integer(1));
    drop(sub);
    wait_for(Duration::from_secs(5), "subscriptions released", || {
        let now = numsub(&mut observer);
        (now.0
            == Reply::Array(Some(vec![
                Reply::bulk("c1"),
                Reply::Integer(0),
                Reply::bulk("c2"),
                Reply::Integer(0),
            ]))
            && now.1 == Reply::Integer(0)
            && now.2 == Reply::Array(Some(vec![Reply::bulk("s1"), Reply::Integer(0)])))
        .then_some(())
    });
    assert_eq!(observer.request(&["PUBLISH", "c1", "x"]), Reply::Integer(0));
}

#[test]
fn output_buffer_limit_closes_a_subscriber_that_never_reads() {
    let node = SlotgateNode::start_with(&[
        "--client-output-buffer-limit",
        "pubsub",
        "1mb",
        "256kb",
        "60",
    ]);
    let mut publisher = node.raw();
    let mut slow = node.raw();
    assert_eq!(
        slow.request(&["SUBSCRIBE", "firehose"]),
        Reply::Array(Some(vec![
            Reply::bulk("subscribe"),
            Reply::bulk("firehose"),
            Reply::Integer(1)
        ]))
    );
    // A reader that keeps up is not touched.
    let mut fast = node.raw();
    fast.request(&["SUBSCRIBE", "firehose"]);
    let payload = "x".repeat(64 * 1024);
    let mut closed = false;
    // Socket buffers take a few megabytes before anything waits in the node; 64 MB is far past
    // that and the 1 MB limit.
    for round in 0..1024 {
        let n = publisher.request(&["PUBLISH", "firehose", payload.as_str()]);
        let Reply::Integer(_) = n else {
            panic!("PUBLISH answered {n:?}");
        };
        fast.read_reply();
        if round % 8 == 7
            && publisher.request(&["PUBSUB", "NUMSUB", "firehose"])
                == Reply::Array(Some(vec![Reply::bulk("firehose"), Reply::Integer(1)]))
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the subscriber that never reads was not closed");
    assert!(node.log().contains("client-output-buffer-limit"));
    // The slow subscriber's connection ends after whatever the kernel had buffered.
    slow.set_read_timeout(Duration::from_secs(5));
    let ended = (0..2048).any(|_| !matches!(slow.try_read_raw_reply(), Ok(Some(_))));
    assert!(ended, "the slow subscriber's connection stayed open");
    fast.check_alive();
}

#[test]
fn soft_output_buffer_limit_closes_a_subscriber_that_stays_over_it() {
    let node =
        SlotgateNode::start_with(&["--client-output-buffer-limit", "pubsub", "0", "128kb", "1"]);
    let mut publisher = node.raw();
    let mut slow = node.raw();
    slow.request(&["SUBSCRIBE", "firehose"]);
    let payload = "x".repeat(64 * 1024);
    let started = std::time::Instant::now();
    let mut closed_after = None;
    // Fast until the socket buffers are full, then a trickle that keeps it over the soft limit:
    // the client is closed only once it has stayed over for more than a second.
    for round in 0..2048 {
        publisher.request(&["PUBLISH", "firehose", payload.as_str()]);
        if round > 256 {
            std::thread::sleep(Duration::from_millis(10));
        }
        if round % 8 == 7
            && publisher.request(&["PUBSUB", "NUMSUB", "firehose"])
                == Reply::Array(Some(vec![Reply::bulk("firehose"), Reply::Integer(0)]))
        {
            closed_after = Some(started.elapsed());
            break;
        }
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let closed_after = closed_after.expect("the subscriber over the soft limit was not closed");
    assert!(
        closed_after > Duration::from_secs(1),
        "closed after {closed_after:?}"
    );
}

trait Alive {
    fn check_alive(&mut self);
}

impl Alive for RawConn {
    /// A subscribed RESP2 connection answers PING with `pong`.
    fn check_alive(&mut self) {
        assert_eq!(
            self.request(&["PING"]),
            Reply::Array(Some(vec![Reply::bulk("pong"), Reply::bulk("")]))
        );
    }
}

/// One step of a random session: a subscriber connection (RESP2 or RESP3) changes its
/// subscriptions or runs a command, or a publisher connection publishes or asks PUBSUB.
#[derive(Debug, Clone)]
enum Step {
    Sub(&'static str, Vec<&'static str>),
    Ping,
    Get,
    Publish(&'static str, bool),
    NumSub(Vec<&'static str>),
    NumPat,
}

const CHANNELS: &[&str] = &["a", "b", "ab", "c"];
const PATTERNS: &[&str] = &["a*", "?b", "*", "[ac]"];

fn step() -> impl Strategy<Value = Step> {
    let channels = proptest::sample::subsequence(CHANNELS, 0..=2);
    let patterns = proptest::sample::subsequence(PATTERNS, 0..=2);
    prop_oneof![
        channels.clone().prop_map(|c| Step::Sub("SUBSCRIBE", c)),
        channels.clone().prop_map(|c| Step::Sub("UNSUBSCRIBE", c)),
        patterns.clone().prop_map(|p| Step::Sub("PSUBSCRIBE", p)),
        patterns.prop_map(|p| Step::Sub("PUNSUBSCRIBE", p)),
        channels.clone().prop_map(|c| Step::Sub("SSUBSCRIBE", c)),
        channels.clone().prop_map(|c| Step::Sub("SUNSUBSCRIBE", c)),
        Just(Step::Ping),
        Just(Step::Get),
        (proptest::sample::select(CHANNELS), any::<bool>())
            .prop_map(|(c, sharded)| Step::Publish(c, sharded)),
        channels.prop_map(Step::NumSub),
        Just(Step::NumPat),
    ]
}

/// A subscription command's frames, in a comparable form: Redis answers an argument-less
/// UNSUBSCRIBE in hash-table order, so those are compared as sets of names and of counts.
fn normalize(frames: Vec<Vec<u8>>, unordered: bool) -> Vec<Vec<u8>> {
    if !unordered {
        return frames;
    }
    let mut names = Vec::new();
    let mut counts = Vec::new();
    for f in frames {
        if let Some((Reply::Array(Some(items)) | Reply::Push(items), _)) = Reply::parse(&f) {
            names.push(format!("{:?}{:?}", items[0], items[1]).into_bytes());
            counts.push(format!("{:?}", items[2]).into_bytes());
        }
    }
    names.sort();
    counts.sort();
    names.extend(counts);
    names
}

fn run_session(resp3: bool, steps: &[Step]) {
    let d = Differential::start();
    let mut sub = Pair::new(&d);
    let mut publisher = Pair::new(&d);
    if resp3 {
        sub.send(&["HELLO", "3"]);
        sub.read(1);
    }
    // The subscriber's own bookkeeping, to know how many frames each command answers.
    let mut channels: Vec<&str> = Vec::new();
    let mut patterns: Vec<&str> = Vec::new();
    let mut shards: Vec<&str> = Vec::new();
    for step in steps {
        match step {
            Step::Sub(verb, names) => {
                let set = match *verb {
                    "SUBSCRIBE" | "UNSUBSCRIBE" => &mut channels,
                    "PSUBSCRIBE" | "PUNSUBSCRIBE" => &mut patterns,
                    _ => &mut shards,
                };
                let subscribing = !verb.contains("UNSUB");
                if subscribing && names.is_empty() {
                    sub.check(&[verb], 1);
                    continue;
                }
                let frames = if !subscribing && names.is_empty() {
                    set.len().max(1)
                } else {
                    names.len()
                };
                let unordered = !subscribing && names.is_empty() && set.len() > 1;
                let mut command = vec![*verb];
                command.extend(names.iter().copied());
                sub.send(&command);
                let (ours, redis) = sub.read(frames);
                assert_eq!(
                    lossy(&normalize(ours, unordered)),
                    lossy(&normalize(redis, unordered)),
                    "frames differ for {command:?}"
                );
                if subscribing {
                    for n in names {
                        if !set.contains(n) {
                            set.push(n);
                        }
                    }
                } else if names.is_empty() {
                    set.clear();
                } else {
                    set.retain(|c| !names.contains(c));
                }
            }
            Step::Ping => sub.check(&["PING"], 1),
            Step::Get => sub.check(&["GET", "k"], 1),
            Step::Publish(channel, sharded) => {
                let verb = if *sharded { "SPUBLISH" } else { "PUBLISH" };
                publisher.send(&[verb, channel, "payload"]);
                let (ours, redis) = publisher.read(1);
                assert_eq!(lossy(&ours), lossy(&redis), "{verb} {channel}");
                let Some((Reply::Integer(n), _)) = Reply::parse(&redis[0]) else {
                    panic!("{verb} answered {:?}", lossy(&redis));
                };
                // Every delivery goes to the one subscriber; several patterns may match, in an
                // order Redis does not fix.
                let (mut ours, mut redis) = sub.read(n as usize);
                ours.sort();
                redis.sort();
                assert_eq!(lossy(&ours), lossy(&redis), "messages for {verb} {channel}");
            }
            Step::NumSub(names) => {
                let mut command = vec!["PUBSUB", "NUMSUB"];
                command.extend(names.iter().copied());
                publisher.check(&command, 1);
                command[1] = "SHARDNUMSUB";
                publisher.check(&command, 1);
            }
            Step::NumPat => publisher.check(&["PUBSUB", "NUMPAT"], 1),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn random_pubsub_sessions_match_redis(
        resp3 in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        run_session(resp3, &steps);
    }
}

/// `CLIENT LIST` flags a subscribed client `P`, on the node as on redis-server.
#[test]
fn client_list_flags_subscribers_p() {
    let d = Differential::start();
    let flags_of_subscriber = |port: u16| {
        let mut sub = RawConn::connect(crate::harness::loopback(port));
        sub.request(&["CLIENT", "SETNAME", "listener"]);
        sub.request(&["SUBSCRIBE", "ch"]);
        let mut other = RawConn::connect(crate::harness::loopback(port));
        let list = match other.request(&["CLIENT", "LIST"]) {
            Reply::Bulk(Some(text)) | Reply::Verbatim(_, text) => String::from_utf8(text).unwrap(),
            reply => panic!("CLIENT LIST answered {reply:?}"),
        };
        let line = list
            .lines()
            .find(|l| l.contains("name=listener"))
            .expect("the subscriber is listed")
            .to_string();
        let flags = line
            .split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .unwrap()
            .to_string();
        drop(sub);
        flags
    };
    let (node, redis) = (d.ours.port(), d.redis.port());
    assert_eq!(flags_of_subscriber(node), flags_of_subscriber(redis));
    assert_eq!(flags_of_subscriber(node), "P");
}
