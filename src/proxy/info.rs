//! The proxy's `INFO` text, in Redis's format and field names.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::local::REDIS_VERSION;
use super::ProxyContext;
use crate::slot::SLOT_COUNT;

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "stats",
    "commandstats",
    "errorstats",
    "cluster",
];

/// Whether `INFO <section>` includes the keyspace, which the masters must be asked for.
pub fn wants_keyspace(section: Option<&[u8]>) -> bool {
    match section.map(|s| String::from_utf8_lossy(s).to_lowercase()) {
        None => true,
        Some(s) => matches!(s.as_str(), "keyspace" | "default" | "all" | "everything"),
    }
}

/// The `# Keyspace` section of the cluster: the masters' `db0` lines summed (`avg_ttl`
/// weighted by each master's keys with an expiry).
pub fn keyspace(masters_info: &[&str]) -> String {
    let (mut keys, mut expires, mut ttl_weighted) = (0u64, 0u64, 0u128);
    for text in masters_info {
        for line in text.lines() {
            let Some(fields) = line.strip_prefix("db0:") else {
                continue;
            };
            let field = |name: &str| -> u64 {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let (k, e) = (field("keys"), field("expires"));
            keys += k;
            expires += e;
            ttl_weighted += u128::from(field("avg_ttl")) * u128::from(e);
        }
    }
    let mut out = String::from("# Keyspace\r\n");
    if keys > 0 {
        let avg_ttl = if expires > 0 {
            ttl_weighted / u128::from(expires)
        } else {
            0
        };
        let _ = write!(
            out,
            "db0:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
        );
    }
    out
}

/// Renders the sections `section` asks for (`None`, `default`, `all` and `everything` mean
/// all of the proxy's sections), as `INFO` does.
pub fn render(ctx: &ProxyContext, section: Option<&[u8]>) -> String {
    let wanted = section.map(|s| String::from_utf8_lossy(s).to_lowercase());
    let all = matches!(
        wanted.as_deref(),
        None | Some("default" | "all" | "everything")
    );
    let mut out = String::new();
    // As in Redis, `commandstats` is in `all` and `everything` but not in the default set.
    let every = matches!(wanted.as_deref(), Some("all" | "everything"));
    for &name in SECTIONS {
        let included = if matches!(name, "commandstats" | "errorstats") {
            every || wanted.as_deref() == Some(name)
        } else {
            all || wanted.as_deref() == Some(name)
        };
        if !included {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match name {
            "server" => server(ctx, &mut out),
            "clients" => clients(ctx, &mut out),
            "stats" => stats(ctx, &mut out),
            "commandstats" => commandstats(ctx, &mut out),
            "errorstats" => {
                out.push_str("# Errorstats\r\n");
                for (class, count) in ctx.stats.errors.snapshot() {
                    let _ = write!(out, "errorstat_{class}:count={count}\r\n");
                }
            }
            _ => cluster(ctx, &mut out),
        }
    }
    out
}

fn server(ctx: &ProxyContext, out: &mut String) {
    let uptime = ctx.stats.started.elapsed().as_secs();
    let port = ctx.config.listen.rsplit(':').next().unwrap_or("");
    let _ = write!(
        out,
        "# Server\r\n\
         redis_version:{REDIS_VERSION}\r\n\
         slotgate_version:{}\r\n\
         redis_mode:standalone\r\n\
         os:{} {}\r\n\
         arch_bits:{}\r\n\
         multiplexing_api:tokio\r\n\
         process_id:{}\r\n\
         tcp_port:{port}\r\n\
         uptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{}\r\n\
         executable:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        uptime / 86400,
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
}

fn clients(ctx: &ProxyContext, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\n\
         connected_clients:{}\r\n\
         maxclients:{}\r\n\
         blocked_clients:0\r\n",
        ctx.stats.connected_clients.load(Ordering::Relaxed),
        ctx.config.max_clients,
    );
}

fn stats(ctx: &ProxyContext, out: &mut String) {
    let s = &ctx.stats;
    let _ = write!(
        out,
        "# Stats\r\n\
         total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         rejected_connections:{}\r\n\
         total_error_replies:{}\r\n\
         slotgate_slowlog_len:{}\r\n",
        s.total_connections_received.load(Ordering::Relaxed),
        s.total_commands_processed.load(Ordering::Relaxed),
        s.instantaneous_ops_per_sec(),
        s.net_input_bytes.load(Ordering::Relaxed),
        s.net_output_bytes.load(Ordering::Relaxed),
        s.rejected_connections.load(Ordering::Relaxed),
        s.commands.snapshot().iter().map(|c| c.2).sum::<u64>(),
        s.slowlog.len(),
    );
}

/// Redis's `# Commandstats`: calls, time and failures per command, measured by the proxy
/// from reading the command to writing its reply.
fn commandstats(ctx: &ProxyContext, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (name, calls, failed, usec) in ctx.stats.commands.snapshot() {
        let per_call = usec as f64 / calls as f64;
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls=0,failed_calls={failed}\r\n"
        );
    }
}

fn cluster(ctx: &ProxyContext, out: &mut String) {
    let map = ctx.router.slot_map();
    let covered = map.covered_slots();
    let _ = write!(
        out,
        "# Cluster\r\n\
         cluster_enabled:0\r\n\
         slotgate_cluster_state:{}\r\n\
         slotgate_slots_covered:{covered}\r\n\
         slotgate_masters:{}\r\n\
         slotgate_nodes:{}\r\n\
         slotgate_slot_map_version:{}\r\n\
         slotgate_slots_migrating:{}\r\n\
         slotgate_read_from:{}\r\n\
         slotgate_requests_held_bytes:{}\r\n",
        if covered == SLOT_COUNT { "ok" } else { "fail" },
        map.shards().count(),
        map.nodes().count(),
        ctx.router.map_version(),
        ctx.router.migrating_slots(),
        ctx.config.read_from.name(),
        ctx.router.held_bytes(),
    );
}
