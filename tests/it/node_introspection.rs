//! `slotgate node`: `LATENCY` and `MEMORY`, compared with redis-server where the replies can be
//! the same (help, errors, empty states, report texts), and by shape where they carry times or
//! sizes (samples, histograms, byte counts).

use crate::harness::{Differential, Reply};

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(
        reply
            .as_bytes()
            .unwrap_or_else(|| panic!("not text: {reply:?}")),
    )
    .into_owned()
}

fn int(reply: &Reply) -> i64 {
    match reply {
        Reply::Integer(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn items(reply: &Reply) -> &[Reply] {
    reply
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {reply:?}"))
}

/// A flattened RESP2 map's keys.
fn keys(reply: &Reply) -> Vec<String> {
    items(reply).iter().step_by(2).map(text).collect()
}

fn both(d: &mut Differential, command: &[&str]) -> (Reply, Reply) {
    (d.ours_conn.request(command), d.redis_conn.request(command))
}

#[test]
fn latency_monitor_matches_redis() {
    let mut d = Differential::start_with(&[("enable-debug-command", "yes")]);
    d.check_all(&[
        &["LATENCY", "HELP"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "HISTORY", "command"],
        &["LATENCY", "GRAPH", "command"],
        &["LATENCY", "RESET"],
        &["LATENCY", "RESET", "command", "nothing"],
        &["LATENCY", "DOCTOR"],
        &["LATENCY", "NOPE"],
        &["LATENCY", "HISTORY"],
        &["CONFIG", "SET", "latency-monitor-threshold", "20"],
        // Under the threshold: nothing is recorded.
        &["GET", "k"],
        &["LATENCY", "LATEST"],
    ]);
    for conn in [&mut d.ours_conn, &mut d.redis_conn] {
        assert_eq!(
            conn.request(&["DEBUG", "SLEEP", "0.05"]),
            Reply::Simple("OK".into())
        );
    }
    let (ours, redis) = both(&mut d, &["LATENCY", "LATEST"]);
    for latest in [&ours, &redis] {
        let events = items(latest);
        assert_eq!(events.len(), 1, "{latest:?}");
        let e = items(&events[0]);
        assert_eq!(text(&e[0]), "command");
        assert!(int(&e[1]) > 1_600_000_000, "a unix time: {e:?}");
        assert!(int(&e[2]) >= 50 && int(&e[3]) == int(&e[2]), "{e:?}");
    }
    let (ours, redis) = both(&mut d, &["LATENCY", "HISTORY", "command"]);
    assert_eq!(items(&ours).len(), 1);
    assert_eq!(items(&redis).len(), 1);
    let (ours, redis) = both(&mut d, &["LATENCY", "GRAPH", "command"]);
    let (ours, redis) = (text(&ours), text(&redis));
    // Same shape: title, rule, four sparkline rows, the margin, the age label ("0s").
    assert_eq!(
        ours.lines().count(),
        redis.lines().count(),
        "{ours}\n{redis}"
    );
    assert_eq!(ours.lines().nth(1), redis.lines().nth(1));
    assert!(ours.starts_with("command - high "), "{ours}");
    let (ours, redis) = both(&mut d, &["LATENCY", "DOCTOR"]);
    for report in [text(&ours), text(&redis)] {
        assert!(
            report.starts_with("Dave, I have observed latency spikes"),
            "{report}"
        );
        assert!(
            report.contains("1. command: 1 latency spikes (average "),
            "{report}"
        );
        assert!(report.contains("- Check your Slow Log"), "{report}");
    }
    d.check(&["LATENCY", "RESET", "COMMAND"]);
    d.check(&["LATENCY", "LATEST"]);
}

#[test]
fn latency_histograms_and_latencystats_have_redis_shape() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "k", "v"],
        &["SET", "k", "w"],
        &["GET", "k"],
        &["CONFIG", "GET", "maxmemory"],
    ]);
    let asked = [
        "LATENCY",
        "HISTOGRAM",
        "set",
        "GET",
        "nosuchcommand",
        "config|get",
        "client|nosuch",
    ];
    let (ours, redis) = both(&mut d, &asked);
    assert_eq!(keys(&ours), keys(&redis));
    assert_eq!(keys(&ours), ["set", "get", "config|get"]);
    for (name, entry) in keys(&ours)
        .iter()
        .zip(items(&ours).iter().skip(1).step_by(2))
    {
        let fields = items(entry);
        assert_eq!(text(&fields[0]), "calls");
        assert_eq!(text(&fields[2]), "histogram_usec");
        let calls = int(&fields[1]);
        assert_eq!(calls, if name == "set" { 2 } else { 1 });
        let buckets: Vec<i64> = items(&fields[3]).iter().map(int).collect();
        let counts: Vec<i64> = buckets.iter().skip(1).step_by(2).copied().collect();
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        assert_eq!(counts.last(), Some(&calls), "{buckets:?}");
        // Labels are Redis's power-of-two buckets: 1, 2, 4, 8, 16, 33, 66, 132, …
        let labels: Vec<i64> = buckets.iter().step_by(2).copied().collect();
        let redis_labels = [
            1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454,
        ];
        assert!(
            labels.iter().all(|l| redis_labels.contains(l) || *l > 8454),
            "{labels:?}"
        );
    }
    // All histograms: every command called so far, ours and theirs alike.
    let (ours, redis) = both(&mut d, &["LATENCY", "HISTOGRAM"]);
    let mut ours_names = keys(&ours);
    let mut redis_names = keys(&redis);
    ours_names.sort();
    redis_names.sort();
    assert_eq!(ours_names, redis_names);

    d.check(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "50 99.99 0 100",
    ]);
    let (ours, redis) = both(&mut d, &["INFO", "latencystats"]);
    let shape = |info: &Reply| -> Vec<String> {
        text(info)
            .lines()
            .map(|l| {
                // Keep the names, drop the numbers: `name:p50=,p99.99=,…`.
                l.split(',')
                    .map(|part| part.split('=').next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    let (mut ours_shape, mut redis_shape) = (shape(&ours), shape(&redis));
    ours_shape.sort();
    redis_shape.sort();
    assert_eq!(ours_shape, redis_shape);
    assert!(
        ours_shape.contains(&"latency_percentiles_usec_set:p50,p99.99,p0,p100".to_string()),
        "{ours_shape:?}"
    );
    d.check(&["CONFIG", "SET", "latency-tracking", "no"]);
    d.check(&["CONFIG", "RESETSTAT"]);
    d.check(&["SET", "k", "v"]);
    d.check(&["LATENCY", "HISTOGRAM", "set"]);
}

#[test]
fn memory_command_matches_redis() {
    let mut d = Differential::start();
    d.check_all(&[
        &["MEMORY", "HELP"],
        &["MEMORY", "USAGE", "missing"],
        &["MEMORY", "USAGE", "missing", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "missing", "SAMPLES", "-1"],
        &["MEMORY", "USAGE", "missing", "SAMPLES"],
        &["MEMORY", "USAGE", "missing", "FOO", "1"],
        &["MEMORY", "USAGE"],
        &["MEMORY", "DOCTOR"],
        &["MEMORY", "PURGE"],
        &["MEMORY", "NOPE"],
        &["SET", "big", &"x".repeat(10_000)],
        &["SET", "small", "v"],
    ]);
    let ratio = |d: &mut Differential, command: &[&str]| {
        let (ours, redis) = both(d, command);
        int(&ours) as f64 / int(&redis) as f64
    };
    let r = ratio(&mut d, &["MEMORY", "USAGE", "big"]);
    assert!((0.8..1.25).contains(&r), "a 10 kB string: {r}");
    let r = ratio(&mut d, &["MEMORY", "USAGE", "small"]);
    assert!((0.5..2.0).contains(&r), "a small string: {r}");
    let members: Vec<String> = (0..2000).map(|i| format!("member:{i:08}")).collect();
    let mut sadd = vec!["SADD", "set"];
    sadd.extend(members.iter().map(String::as_str));
    d.check(&sadd);
    let r = ratio(&mut d, &["MEMORY", "USAGE", "set", "SAMPLES", "0"]);
    assert!((0.5..2.0).contains(&r), "a 2000-member set: {r}");

    // The same fields, in the same order; `db.0` is a map of its own.
    let (ours, redis) = both(&mut d, &["MEMORY", "STATS"]);
    assert_eq!(keys(&ours), keys(&redis));
    let stats: Vec<&Reply> = items(&ours).iter().collect();
    let field = |name: &str| {
        let at = stats
            .iter()
            .position(|r| r.as_bytes() == Some(name.as_bytes()))
            .unwrap();
        stats[at + 1].clone()
    };
    assert_eq!(int(&field("keys.count")), 3);
    assert_eq!(
        keys(&field("db.0")),
        keys(&{
            let all = items(&redis);
            let at = all
                .iter()
                .position(|r| r.as_bytes() == Some(b"db.0"))
                .unwrap();
            all[at + 1].clone()
        })
    );
    assert!(int(&field("peak.allocated")) >= int(&field("total.allocated")));
}
