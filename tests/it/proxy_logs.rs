//! The proxy's logs: `--log-format json` writes one JSON object per line, a dead backend is
//! warned about once (not once per attempt) and its return is said, and secrets never appear.

use std::time::Duration;

use crate::harness::{assert_eventually, Proxy, RedisCluster};

/// The log's lines as JSON objects; panics on a line that is not one.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect()
}

fn messages<'a>(lines: &'a [serde_json::Value], text: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["fields"]["message"].as_str() == Some(text))
        .collect()
}

#[test]
fn json_logs_say_a_backend_went_down_once_and_came_back() {
    let mut cluster = RedisCluster::start_without_failover();
    let secret = "log-secret-93b1";
    let proxy = Proxy::start_with(
        &cluster.master_addrs(),
        &[
            "--log-format",
            "json",
            "--failover-hold-ms",
            "300",
            "--requirepass",
            secret,
        ],
    );
    let dead = cluster.masters()[0].addr().to_string();
    let key = cluster.keys_on(&cluster.masters()[0], "log", 1).remove(0);
    let mut raw = proxy.raw();
    raw.request(&["AUTH", secret]);

    cluster.master_mut(0).kill();
    for _ in 0..5 {
        assert!(raw.request(&["GET", &key]).is_error());
    }
    assert_eventually(Duration::from_secs(10), "a 'backend down' warning", || {
        !messages(&json_lines(&proxy.log()), "backend down").is_empty()
    });
    cluster.master_mut(0).restart();
    assert_eventually(
        Duration::from_secs(20),
        "the backend to serve again",
        || !raw.request(&["GET", &key]).is_error(),
    );
    assert_eventually(Duration::from_secs(10), "a 'backend up again' line", || {
        !messages(&json_lines(&proxy.log()), "backend up again").is_empty()
    });

    let log = proxy.log();
    let lines = json_lines(&log);
    let down = messages(&lines, "backend down");
    assert_eq!(down.len(), 1, "warned more than once: {down:?}");
    assert_eq!(down[0]["level"], "WARN");
    assert_eq!(down[0]["fields"]["peer_addr"], dead.as_str());
    assert!(!messages(&lines, "slot map changed").is_empty());
    assert!(!log.contains(secret), "the password reached the log");
}
