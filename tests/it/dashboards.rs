//! Every metric the dashboards and alert rules in `dashboards/` query is one a running proxy
//! really exports: a dashboard that names a metric nobody exports shows nothing, silently.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::{Proxy, RedisCluster, Reply};
use crate::proxy_metrics::http_get;

/// The `slotgate_…` metric names in a PromQL expression (or any text).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("slotgate_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// Every `expr` string anywhere in a Grafana dashboard.
fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The metric families a scrape exports (histograms by their family name).
fn exported(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("# TYPE ").unwrap_or(l);
            if l.starts_with('#') || l.is_empty() {
                return None;
            }
            let end = l.find(['{', ' ']).unwrap_or(l.len());
            Some(l[..end].to_string())
        })
        .collect()
}

#[test]
fn dashboards_and_alerts_query_only_exported_metrics() {
    let cluster = RedisCluster::start(3, 0);
    let proxy = Proxy::start(&cluster);
    // Some traffic, so that per-command, per-group and per-node series exist.
    let mut raw = proxy.raw();
    assert_eq!(
        raw.request(&["SET", "d:1", "v"]),
        Reply::Simple("OK".into())
    );
    raw.request(&["GET", "d:1"]);
    raw.request(&["INCR", "d:1"]);
    raw.request(&["MGET", "d:1", "d:2", "d:3"]);
    let (status, scrape) = http_get(proxy.metrics_addr(), "/metrics");
    assert_eq!(status, 200);
    let exported = exported(&scrape);

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut checked = 0;
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("dashboards/ exists") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let names = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let dashboard: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
                assert!(
                    dashboard["panels"]
                        .as_array()
                        .is_some_and(|p| !p.is_empty()),
                    "{} has no panels",
                    path.display()
                );
                let mut all = Vec::new();
                exprs(&dashboard, &mut all);
                all.iter().flat_map(|e| metric_names(e)).collect()
            }
            Some("yml" | "yaml") => text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .flat_map(metric_names)
                .collect::<BTreeSet<_>>(),
            _ => continue,
        };
        assert!(
            !names.is_empty(),
            "{} queries no slotgate metric",
            path.display()
        );
        for name in names {
            checked += 1;
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| exported.contains(*f)))
                .unwrap_or(&name);
            if !exported.contains(family) {
                missing.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} metric names found in the dashboards"
    );
    assert!(
        missing.is_empty(),
        "queried but not exported:\n{}\n\nexported: {exported:?}",
        missing.join("\n")
    );
}
