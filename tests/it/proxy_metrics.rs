//! The Prometheus endpoint and the health check, scraped from a running proxy while real
//! traffic (a MOVED, a dead backend) goes through it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::harness::{assert_eventually, Proxy, RedisCluster, Reply};

/// `GET path` on the proxy's metrics endpoint: status code and body.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: slotgate\r\n\r\n").unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of the sample `name` (with its labels, exactly as rendered), if exported.
pub(crate) fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        (series == name).then(|| value.parse().ok())?
    })
}

#[test]
fn metrics_follow_traffic_redirects_and_a_dead_master() {
    let mut cluster = RedisCluster::start_without_failover();
    let proxy = Proxy::start_with(
        &cluster.master_addrs(),
        &["--failover-hold-ms", "500", "--connect-timeout-ms", "500"],
    );
    let endpoint = proxy.metrics_addr();

    let (status, body) = http_get(endpoint, "/health");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, metrics) = http_get(endpoint, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(sample(&metrics, "slotgate_slots_covered"), Some(16384.0));
    assert_eq!(sample(&metrics, "slotgate_masters_known"), Some(3.0));
    assert_eq!(http_get(endpoint, "/nope").0, 404);

    // Traffic, and a slot moved behind the proxy's back: one MOVED, never seen by the client.
    let mut raw = proxy.raw();
    let key = cluster.keys_on(&cluster.masters()[0], "m", 1).remove(0);
    assert_eq!(raw.request(&["SET", &key, "v"]), Reply::Simple("OK".into()));
    let slot = cluster.key_slot(&key);
    cluster.migrate_slot(slot, &cluster.masters()[0], &cluster.masters()[1]);
    assert_eq!(raw.request(&["GET", &key]), Reply::bulk("v"));
    let (_, metrics) = http_get(endpoint, "/metrics");
    assert!(
        sample(&metrics, "slotgate_redirects_total{kind=\"moved\"}").unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
    assert!(sample(&metrics, "slotgate_commands_processed_total").unwrap_or(0.0) >= 2.0);
    let first = cluster.masters()[0].addr();
    assert_eq!(
        sample(
            &metrics,
            &format!("slotgate_backend_info{{node=\"{first}\",role=\"master\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eventually(
        Duration::from_secs(5),
        "a refresh triggered by MOVED",
        || {
            let (_, metrics) = http_get(endpoint, "/metrics");
            metrics
                .lines()
                .any(|l| l.starts_with("slotgate_topology_refreshes_total{trigger=\"moved\""))
        },
    );
    assert!(sample(&metrics, "slotgate_client_connections").unwrap_or(0.0) >= 1.0);
    assert!(sample(&metrics, "slotgate_process_resident_memory_bytes").unwrap_or(0.0) > 0.0);

    // A master with no replica dies: health turns 503 naming it, its backend is down.
    let dead = cluster.masters()[2].addr();
    let dead_key = cluster.keys_on(&cluster.masters()[2], "d", 1).remove(0);
    cluster.master_mut(2).kill();
    let reply = raw.request(&["GET", &dead_key]);
    assert!(reply.is_error(), "GET on a dead master answered {reply:?}");
    assert_eventually(Duration::from_secs(10), "health to turn 503", || {
        let (status, body) = http_get(endpoint, "/health");
        status == 503 && body.contains(&dead.to_string())
    });
    let (_, metrics) = http_get(endpoint, "/metrics");
    let node = format!("node=\"{dead}\"");
    assert_eq!(
        sample(&metrics, &format!("slotgate_backend_up{{{node}}}")),
        Some(0.0),
        "{metrics}"
    );
    let errors = metrics
        .lines()
        .filter(|l| l.starts_with("slotgate_backend_errors_total{") && l.contains(&node))
        .count();
    assert!(
        errors >= 1,
        "no backend error counted for {dead}: {metrics}"
    );
    assert!(sample(&metrics, "slotgate_failover_held_total").unwrap_or(0.0) >= 1.0);
}

fn info_text(reply: Reply) -> String {
    String::from_utf8_lossy(reply.as_bytes().expect("INFO answers a bulk string")).into_owned()
}

#[test]
fn commandstats_slowlog_and_command_metrics() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    let mut raw = proxy.raw();
    for i in 0..5 {
        raw.request(&["SET", &format!("cs:{i}"), "v"]);
        raw.request(&["GET", &format!("cs:{i}")]);
    }
    let reply = raw.request(&["INCR", "cs:0"]);
    assert!(reply.is_error(), "INCR of a non-number answered {reply:?}");
    raw.request(&["MGET", "cs:1", "cs:2", "cs:3"]);
    let reply = raw.request(&["NOSUCHCOMMAND", "x"]);
    assert!(reply.is_error());

    // INFO commandstats, as Redis names the fields; not in the default INFO.
    let stats = info_text(raw.request(&["INFO", "commandstats"]));
    assert!(stats.starts_with("# Commandstats\r\n"), "{stats}");
    let line = |name: &str| {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} line in {stats}"))
            .to_string()
    };
    assert!(
        line("get").starts_with("cmdstat_get:calls=5,usec="),
        "{stats}"
    );
    assert!(line("get").ends_with("rejected_calls=0,failed_calls=0"));
    assert!(line("incr").contains("calls=1,") && line("incr").ends_with("failed_calls=1"));
    assert!(line("mget").starts_with("cmdstat_mget:calls=1,"));
    assert!(!info_text(raw.request(&["INFO"])).contains("# Commandstats"));
    assert!(info_text(raw.request(&["INFO", "all"])).contains("# Commandstats"));
    let stats = info_text(raw.request(&["INFO", "stats"]));
    for field in [
        "instantaneous_ops_per_sec:",
        "total_net_input_bytes:",
        "total_net_output_bytes:",
        "total_error_replies:",
    ] {
        assert!(stats.contains(field), "no {field} in {stats}");
    }
    let input: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("total_net_input_bytes:"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(input > 100, "{stats}");
    // Errors by class, as Redis's INFO errorstats names them.
    let errors = info_text(raw.request(&["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_ERR:count="), "{errors}");

    // A command slower than the default 10 ms threshold lands in the slow log.
    assert_eq!(
        raw.request(&["SLOWLOG", "RESET"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        raw.request(&["BLPOP", "cs:empty", "0.2"]),
        Reply::Array(None)
    );
    assert_eq!(raw.request(&["SLOWLOG", "LEN"]), Reply::Integer(1));
    let log = raw.request(&["SLOWLOG", "GET"]);
    let entries = log.as_array().expect("SLOWLOG GET answers an array");
    let entry = entries[0].as_array().expect("an entry is an array");
    assert_eq!(entry.len(), 6);
    match &entry[2] {
        Reply::Integer(us) => assert!(*us >= 150_000, "BLPOP logged as {us} µs"),
        other => panic!("duration {other:?}"),
    }
    assert_eq!(entry[3], Reply::bulks(["BLPOP", "cs:empty", "0.2"]));
    let peer = raw.stream().local_addr().unwrap().to_string();
    assert_eq!(entry[4], Reply::bulk(&peer));
    assert_eq!(
        raw.request(&["SLOWLOG", "RESET"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(raw.request(&["SLOWLOG", "LEN"]), Reply::Integer(0));

    // Connections closed by QUIT and by a protocol error, counted by reason.
    let mut quitter = proxy.raw();
    assert_eq!(quitter.request(&["QUIT"]), Reply::Simple("OK".into()));
    quitter.assert_closed();
    let mut broken = proxy.raw();
    broken.send(b"*1\r\n$abc\r\n");
    assert!(broken.read_reply().is_error());
    broken.assert_closed();

    // The same counts on /metrics, and latency by group.
    let endpoint = proxy.metrics_addr();
    let mut metrics = String::new();
    assert_eventually(Duration::from_secs(5), "both closes counted", || {
        metrics = http_get(endpoint, "/metrics").1;
        sample(
            &metrics,
            "slotgate_client_connections_closed_total{reason=\"quit\"}",
        ) == Some(1.0)
            && sample(
                &metrics,
                "slotgate_client_connections_closed_total{reason=\"protocol_error\"}",
            ) == Some(1.0)
    });
    assert!(sample(&metrics, "slotgate_client_bytes_received_total").unwrap_or(0.0) > 100.0);
    assert!(sample(&metrics, "slotgate_client_bytes_sent_total").unwrap_or(0.0) > 50.0);
    assert_eq!(
        sample(&metrics, "slotgate_split_subrequests_count"),
        Some(1.0)
    );
    let answered: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("slotgate_backend_requests_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert!(
        answered >= 13.0,
        "backends answered {answered} requests: {metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "slotgate_commands_total{command=\"get\",result=\"ok\"}"
        ),
        Some(5.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "slotgate_commands_total{command=\"incr\",result=\"error\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "slotgate_commands_total{command=\"unknown\",result=\"error\"}"
        ),
        Some(1.0)
    );
    assert!(
        sample(&metrics, "slotgate_errors_total{class=\"ERR\"}").unwrap_or(0.0) >= 2.0,
        "{metrics}"
    );
    for group in ["read", "write", "multi-key", "blocking"] {
        let count = sample(
            &metrics,
            &format!("slotgate_command_duration_seconds_count{{group=\"{group}\"}}"),
        );
        assert!(count.unwrap_or(0.0) >= 1.0, "no {group} latency: {metrics}");
    }
}

#[test]
fn idle_clients_are_closed_after_timeout_but_subscribers_stay() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start_with(&cluster.master_addrs(), &["--timeout", "1"]);
    let mut idle = proxy.raw();
    assert_eq!(idle.request(&["PING"]), Reply::Simple("PONG".into()));
    let mut subscriber = proxy.raw();
    subscriber.request(&["SUBSCRIBE", "idle-news"]);
    let started = std::time::Instant::now();
    idle.set_read_timeout(Duration::from_secs(10));
    idle.assert_closed();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    // The subscriber outlived the timeout and still answers.
    assert_eq!(subscriber.request(&["PING"]), Reply::bulks(["pong", ""]));
    let (_, metrics) = http_get(proxy.metrics_addr(), "/metrics");
    assert_eq!(
        sample(
            &metrics,
            "slotgate_client_connections_closed_total{reason=\"idle_timeout\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
}
