//! Prometheus metrics (`GET /metrics`) and a health check (`GET /health`) on `metrics-listen`.
//!
//! Counters on the request path are the `metrics` facade's, recorded by
//! `metrics-exporter-prometheus`. Gauges that describe state (slot coverage, known nodes,
//! connections, held requests, the process's memory and file descriptors) are read when
//! Prometheus scrapes, so keeping them costs the request path nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::ProxyContext;
use crate::slot::SLOT_COUNT;

/// Latency histogram buckets, in seconds: 50 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Largest HTTP request head the endpoint reads.
const MAX_REQUEST: usize = 8 * 1024;
/// How long one HTTP exchange may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the process's metrics recorder (once; later calls get the same handle).
pub fn install() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            describe();
            register_at_zero();
            handle
        })
        .clone()
}

/// Serves `/metrics` and `/health` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
    ctx: Arc<ProxyContext>,
    shutdown: CancellationToken,
) {
    // Histogram samples wait in the recorder until upkeep folds them in: often enough that
    // they stay few.
    let mut upkeep = tokio::time::interval(Duration::from_secs(1));
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = upkeep.tick() => {
                handle.run_upkeep();
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (handle, ctx) = (handle.clone(), ctx.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(HTTP_TIMEOUT, exchange(stream, &handle, &ctx)).await;
        });
    }
}

/// One HTTP request and its response; the connection closes after it.
async fn exchange(mut stream: TcpStream, handle: &PrometheusHandle, ctx: &ProxyContext) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_REQUEST {
            let _ = respond(&mut stream, 431, "text/plain", "request head too large\n").await;
            return;
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        (b"GET", b"/metrics") => {
            record_state(ctx);
            (200, "text/plain; version=0.0.4", handle.render())
        }
        (b"GET", b"/health") => match health(ctx) {
            Ok(()) => (200, "text/plain", "ok\n".to_string()),
            Err(reason) => (503, "text/plain", format!("{reason}\n")),
        },
        (b"GET", _) => (
            404,
            "text/plain",
            "not found: try /metrics or /health\n".into(),
        ),
        _ => (405, "text/plain", "only GET is served\n".into()),
    };
    let _ = respond(&mut stream, status, content_type, &body).await;
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Healthy when every slot has a master the proxy can reach; otherwise why not.
pub fn health(ctx: &ProxyContext) -> Result<(), String> {
    let covered = ctx.router.slot_map().covered_slots();
    if covered < SLOT_COUNT {
        return Err(format!(
            "{} of {SLOT_COUNT} slots have no master",
            SLOT_COUNT - covered
        ));
    }
    let down = ctx.router.unreachable_masters();
    if !down.is_empty() {
        let names: Vec<String> = down.iter().map(ToString::to_string).collect();
        return Err(format!("unreachable masters: {}", names.join(", ")));
    }
    Ok(())
}

/// Sets the gauges that describe the proxy's state, just before a scrape renders them.
fn record_state(ctx: &ProxyContext) {
    let map = ctx.router.slot_map();
    metrics::gauge!("slotgate_slots_covered").set(map.covered_slots() as f64);
    metrics::gauge!("slotgate_masters_known").set(map.shards().count() as f64);
    let replicas: usize = map.shards().map(|s| s.replicas.len()).sum();
    metrics::gauge!("slotgate_replicas_known").set(replicas as f64);
    metrics::gauge!("slotgate_slot_map_version").set(ctx.router.map_version() as f64);
    metrics::gauge!("slotgate_slots_migrating").set(ctx.router.migrating_slots() as f64);
    metrics::gauge!("slotgate_failover_held_bytes").set(ctx.router.held_bytes() as f64);
    metrics::gauge!("slotgate_failover_held_requests").set(ctx.router.held_requests() as f64);
    let stats = &ctx.stats;
    metrics::gauge!("slotgate_client_connections")
        .set(stats.connected_clients.load(Ordering::Relaxed) as f64);
    metrics::counter!("slotgate_client_connections_accepted_total")
        .absolute(stats.total_connections_received.load(Ordering::Relaxed));
    metrics::counter!("slotgate_client_connections_rejected_total")
        .absolute(stats.rejected_connections.load(Ordering::Relaxed));
    metrics::counter!("slotgate_client_bytes_received_total")
        .absolute(stats.net_input_bytes.load(Ordering::Relaxed));
    metrics::counter!("slotgate_client_bytes_sent_total")
        .absolute(stats.net_output_bytes.load(Ordering::Relaxed));
    metrics::counter!("slotgate_commands_processed_total")
        .absolute(stats.total_commands_processed.load(Ordering::Relaxed));
    for (addr, pool) in ctx.router.pools() {
        let node = addr.to_string();
        let role = if map.shards().any(|s| s.master == addr) {
            "master"
        } else if map.shards().any(|s| s.replicas.contains(&addr)) {
            "replica"
        } else {
            "none"
        };
        for r in ["master", "replica", "none"] {
            let is = if r == role { 1.0 } else { 0.0 };
            metrics::gauge!("slotgate_backend_info", "node" => node.clone(), "role" => r).set(is);
        }
        let up = if pool.is_down() { 0.0 } else { 1.0 };
        metrics::gauge!("slotgate_backend_up", "node" => node.clone()).set(up);
        let (open, inflight) = pool.connections();
        metrics::gauge!("slotgate_backend_connections", "node" => node.clone()).set(open as f64);
        metrics::gauge!("slotgate_backend_inflight_requests", "node" => node.clone())
            .set(inflight as f64);
        for kind in ["connect", "lost"] {
            // Exported at 0 until the first error, so that rate() works from the start.
            metrics::counter!("slotgate_backend_errors_total", "node" => node.clone(), "kind" => kind)
                .increment(0);
        }
        metrics::counter!("slotgate_backend_reconnects_total", "node" => node)
            .absolute(pool.reconnects() as u64);
    }
    for (name, calls, failed, _) in stats.commands.snapshot() {
        metrics::counter!("slotgate_commands_total", "command" => name, "result" => "ok")
            .absolute(calls - failed);
        if failed > 0 {
            metrics::counter!("slotgate_commands_total", "command" => name, "result" => "error")
                .absolute(failed);
        }
    }
    metrics::counter!("slotgate_commands_total", "command" => "unknown", "result" => "error")
        .absolute(stats.commands.rejected_count());
    for (class, count) in stats.errors.snapshot() {
        metrics::counter!("slotgate_errors_total", "class" => class).absolute(count);
    }
    metrics::gauge!("slotgate_uptime_seconds").set(stats.started.elapsed().as_secs_f64());
    if let Some(rss) = resident_memory_bytes() {
        metrics::gauge!("slotgate_process_resident_memory_bytes").set(rss as f64);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("slotgate_process_open_fds").set(fds.count() as f64);
    }
}

/// The process's resident set size, from `/proc/self/statm` (Linux).
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Creates the counters and histograms that only move on rare events, so that they are
/// exported (at 0) from the start and `rate()` over them works before the first event.
fn register_at_zero() {
    for name in [
        "slotgate_failover_held_total",
        "slotgate_failovers_observed_total",
        "slotgate_split_partial_failures_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    for kind in ["moved", "ask"] {
        metrics::counter!("slotgate_redirects_total", "kind" => kind).absolute(0);
    }
    for kind in ["tryagain", "clusterdown", "loading"] {
        metrics::counter!("slotgate_retries_total", "kind" => kind).absolute(0);
    }
    for reason in [
        "client",
        "quit",
        "idle_timeout",
        "protocol_error",
        "killed",
        "query_buffer_limit",
        "output_buffer_limit",
    ] {
        metrics::counter!("slotgate_client_connections_closed_total", "reason" => reason)
            .absolute(0);
    }
    let _ = metrics::histogram!("slotgate_failover_hold_seconds");
    let _ = metrics::histogram!("slotgate_split_subrequests");
}

/// Help texts for every metric the proxy exports.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("slotgate_client_connections", "Client connections open now");
    describe_counter!(
        "slotgate_client_connections_accepted_total",
        "Client connections accepted"
    );
    describe_counter!(
        "slotgate_client_connections_rejected_total",
        "Client connections refused (max-clients)"
    );
    describe_counter!(
        "slotgate_client_connections_closed_total",
        "Client connections closed, by reason"
    );
    describe_counter!(
        "slotgate_commands_processed_total",
        "Commands read from clients"
    );
    describe_counter!(
        "slotgate_commands_total",
        "Commands answered, by command and result (ok, or error when the reply was one)"
    );
    describe_counter!(
        "slotgate_errors_total",
        "Error replies to clients, by error code (ERR, WRONGTYPE, …; OTHER for the rest)"
    );
    describe_histogram!(
        "slotgate_command_duration_seconds",
        Unit::Seconds,
        "Time from reading a command to writing its reply, by command group"
    );
    describe_counter!(
        "slotgate_redirects_total",
        "MOVED and ASK redirects received from nodes (never passed to clients)"
    );
    describe_counter!(
        "slotgate_retries_total",
        "TRYAGAIN, CLUSTERDOWN and LOADING replies retried"
    );
    describe_counter!(
        "slotgate_topology_refreshes_total",
        "Slot map refreshes, by result"
    );
    describe_counter!(
        "slotgate_failovers_observed_total",
        "Slot map changes in which a shard's master changed"
    );
    describe_counter!(
        "slotgate_failover_held_total",
        "Requests held because their master was unreachable"
    );
    describe_histogram!(
        "slotgate_failover_hold_seconds",
        Unit::Seconds,
        "How long held requests waited before being sent again"
    );
    describe_gauge!("slotgate_failover_held_requests", "Requests held now");
    describe_gauge!(
        "slotgate_failover_held_bytes",
        "Bytes of requests held now (bounded by failover-hold-max-bytes)"
    );
    describe_gauge!("slotgate_slots_covered", "Slots with a known master");
    describe_gauge!("slotgate_masters_known", "Masters in the slot map");
    describe_gauge!("slotgate_replicas_known", "Replicas in the slot map");
    describe_gauge!("slotgate_slot_map_version", "Slot map changes since start");
    describe_gauge!("slotgate_slots_migrating", "Slots known to be migrating");
    describe_gauge!(
        "slotgate_backend_up",
        "1 when the last connection attempt to the node succeeded"
    );
    describe_counter!(
        "slotgate_client_bytes_received_total",
        Unit::Bytes,
        "Bytes read from clients"
    );
    describe_counter!(
        "slotgate_client_bytes_sent_total",
        Unit::Bytes,
        "Bytes written to clients"
    );
    describe_gauge!(
        "slotgate_backend_info",
        "1 for each node's current role in the slot map (master, replica, none); join on node"
    );
    describe_counter!(
        "slotgate_backend_requests_total",
        "Requests answered by each node"
    );
    describe_histogram!(
        "slotgate_backend_request_duration_seconds",
        Unit::Seconds,
        "Time from writing a request to a node to reading its reply, by node"
    );
    describe_gauge!(
        "slotgate_backend_connections",
        "Open pooled connections per node"
    );
    describe_gauge!(
        "slotgate_backend_inflight_requests",
        "Requests written to a node and not yet answered"
    );
    describe_histogram!(
        "slotgate_split_subrequests",
        "Sub-commands (slots) a split multi-key command was sent as"
    );
    describe_counter!(
        "slotgate_split_partial_failures_total",
        "Split commands with some parts failed and others applied"
    );
    describe_counter!(
        "slotgate_backend_reconnects_total",
        "Backend connections opened again after one closed"
    );
    describe_counter!(
        "slotgate_backend_errors_total",
        "Backend connection failures, by node and kind"
    );
    describe_gauge!("slotgate_uptime_seconds", Unit::Seconds, "Time since start");
    describe_gauge!(
        "slotgate_process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory"
    );
    describe_gauge!("slotgate_process_open_fds", "Open file descriptors");
}
