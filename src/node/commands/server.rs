//! Server and client commands: INFO CONFIG CLIENT COMMAND SLOWLOG DBSIZE FLUSHDB FLUSHALL TIME
//! DEBUG SHUTDOWN WAIT.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Ctx, Handler};
use crate::command::{table, AclCategories, Flags};
use crate::node::client::ReplyMode;
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::keyspace::PauseKind;
use crate::node::latency;
use crate::node::memory;
use crate::node::rdb::persistence;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("info", info),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("time", time),
    ("lolwut", lolwut),
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("client|id", client_id),
    ("client|setname", client_setname),
    ("client|getname", client_getname),
    ("client|list", client_list),
    ("client|info", client_info),
    ("client|kill", client_kill),
    ("client|unblock", client_unblock),
    ("client|pause", client_pause),
    ("client|unpause", client_unpause),
    ("client|reply", client_reply),
    ("client|no-evict", client_no_evict),
    ("command", command),
    ("command|count", command_count),
    ("command|info", command_info),
    ("command|list", command_list),
    ("command|getkeys", command_getkeys),
    ("command|getkeysandflags", command_getkeysandflags),
    ("command|docs", command_docs),
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("debug", debug),
    ("monitor", monitor),
    ("module|list", module_list),
    ("shutdown", shutdown),
];

fn dbsize(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// `[ASYNC|SYNC]`: both accepted; the work is done at once either way.
fn flush_mode(cmd: &Command) -> CmdResult {
    match cmd.get(1) {
        None => Ok(()),
        Some(m) if m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC") => {
            if cmd.argc() > 2 {
                Err(CmdError::Syntax)
            } else {
                Ok(())
            }
        }
        Some(_) => Err(CmdError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    flush_mode(cmd)?;
    let n = ctx.db().len() as u64;
    ctx.db().clear();
    ctx.dirty(n);
    ctx.invalidate_all();
    ctx.out.ok();
    Ok(())
}

/// `FLUSHALL [ASYNC|SYNC]`. With `save` rules set, Redis also saves the now empty dataset at
/// once, so that a restart does not bring the keys back; a failed save does not fail it. Not
/// from inside a script: the script holds the function libraries the snapshot needs (the
/// `save` rules save the change soon after).
fn flushall(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    flush_mode(cmd)?;
    let mut n = 0;
    for db in ctx.ks.dbs_mut() {
        n += db.len() as u64;
        db.clear();
    }
    ctx.dirty(n);
    let in_script = ctx.node.scripting.watch.running_for().is_some();
    if !in_script && !persistence::save_rules(&ctx.config).is_empty() {
        let node = ctx.node;
        let _ = node.persistence.save(node, ctx.ks, ctx.now);
    }
    ctx.dirty(1);
    ctx.invalidate_all();
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(now.as_secs().to_string().as_bytes());
    ctx.out.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// `LOLWUT [VERSION v]`: Redis 7.0's own version answers its version line; the generative
/// art of versions 5 and 6 is not drawn.
fn lolwut(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut version = 7;
    if cmd.argc() >= 3 && cmd.arg(1).eq_ignore_ascii_case(b"version") {
        version = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    }
    if version == 5 || version == 6 {
        return Err(CmdError::text(
            "ERR LOLWUT VERSION 5 and 6 (generative art) are not supported by slotgate node yet",
        ));
    }
    let text = format!("Redis ver. {}\n", crate::node::REDIS_VERSION);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

// ----------------------------------------------------------------------------------- INFO

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

fn info(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut wanted: Vec<String> = cmd
        .args()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
        wanted.push("commandstats".into());
        wanted.push("latencystats".into());
    }
    let mut text = String::new();
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
    ] {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(ctx, section, &mut text);
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn write_section(ctx: &mut Ctx<'_>, section: &str, t: &mut String) {
    let node = ctx.node;
    let config = node.config.load();
    let stats = &node.stats;
    let uptime = node.started.elapsed().as_secs();
    let mut title = section.to_string();
    title[..1].make_ascii_uppercase();
    if section == "commandstats" {
        title = "Commandstats".into();
    }
    let _ = write!(t, "# {title}\r\n");
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(t, "{k}:{v}\r\n");
    };
    match section {
        "server" => {
            line("redis_version", &crate::node::REDIS_VERSION);
            line("redis_git_sha1", &"00000000");
            line("redis_git_dirty", &0);
            line("redis_mode", &"standalone");
            line("os", &std::env::consts::OS);
            line("arch_bits", &64);
            line("multiplexing_api", &"epoll");
            line("server_name", &"slotgate");
            line("slotgate_version", &env!("CARGO_PKG_VERSION"));
            line("process_id", &std::process::id());
            line("run_id", &node.run_id);
            line("tcp_port", &config.int("port"));
            line("uptime_in_seconds", &uptime);
            line("uptime_in_days", &(uptime / 86400));
            line("hz", &config.int("hz"));
            line(
                "executable",
                &std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            line(
                "config_file",
                &config
                    .file()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
        }
        "clients" => {
            line("connected_clients", &node.clients.len());
            line("maxclients", &config.int("maxclients"));
            line("blocked_clients", &ctx.ks.waiters.len());
            line("tracking_clients", &ctx.ks.tracking.client_count());
            line("clients_in_timeout_table", &ctx.ks.waiters.len());
        }
        "memory" => {
            let used = memory::used_memory(ctx.ks);
            let peak = memory::note_peak(node, used);
            let rss = memory::rss_bytes();
            line("used_memory", &used);
            line("used_memory_human", &human(used));
            line("used_memory_peak", &peak);
            line("used_memory_peak_human", &human(peak));
            line("used_memory_rss", &rss);
            line("used_memory_rss_human", &human(rss));
            // One Lua state serves scripts and functions (Redis 7.0 has one each).
            let (lua, scripts, cached) = {
                let engine = ctx.node.scripting.engine();
                (
                    engine.used_memory() as u64,
                    engine.scripts_bytes() as u64,
                    engine.scripts.len(),
                )
            };
            line("used_memory_lua", &lua);
            line("used_memory_lua_human", &human(lua));
            line("number_of_cached_scripts", &cached);
            line("used_memory_scripts", &scripts);
            line("used_memory_scripts_human", &human(scripts));
            line("maxmemory", &config.int("maxmemory"));
            line(
                "maxmemory_human",
                &human(config.int("maxmemory").max(0) as u64),
            );
            line("maxmemory_policy", &config.get("maxmemory-policy"));
            line("mem_allocator", &"libc");
        }
        "persistence" => {
            node.persistence.write_info(ctx.ks.stats.dirty, &mut line);
            // No append-only file yet: what Redis says with `appendonly no`.
            for (name, value) in [
                ("aof_enabled", "0"),
                ("aof_rewrite_in_progress", "0"),
                ("aof_rewrite_scheduled", "0"),
                ("aof_last_rewrite_time_sec", "-1"),
                ("aof_current_rewrite_time_sec", "-1"),
                ("aof_last_bgrewrite_status", "ok"),
                ("aof_rewrites", "0"),
                ("aof_rewrites_consecutive_failures", "0"),
                ("aof_last_write_status", "ok"),
                ("aof_last_cow_size", "0"),
                ("module_fork_in_progress", "0"),
                ("module_fork_last_cow_size", "0"),
            ] {
                line(name, &value);
            }
        }
        "stats" => {
            ctx.ks.collect_expired();
            let calls = stats.calls();
            line(
                "total_connections_received",
                &stats.connections_received.load(Ordering::Relaxed),
            );
            line(
                "total_commands_processed",
                &stats.commands_processed.load(Ordering::Relaxed),
            );
            line("instantaneous_ops_per_sec", &0);
            line(
                "total_net_input_bytes",
                &stats.net_input_bytes.load(Ordering::Relaxed),
            );
            line(
                "total_net_output_bytes",
                &stats.net_output_bytes.load(Ordering::Relaxed),
            );
            line(
                "rejected_connections",
                &stats.rejected_connections.load(Ordering::Relaxed),
            );
            line("sync_full", &stats.sync_full.load(Ordering::Relaxed));
            line(
                "sync_partial_ok",
                &stats.sync_partial_ok.load(Ordering::Relaxed),
            );
            line(
                "sync_partial_err",
                &stats.sync_partial_err.load(Ordering::Relaxed),
            );
            line("expired_keys", &ctx.ks.stats.expired_keys);
            line("evicted_keys", &stats.evicted_keys.load(Ordering::Relaxed));
            line("keyspace_hits", &ctx.ks.stats.hits);
            line("keyspace_misses", &ctx.ks.stats.misses);
            let (channels, patterns, shard_channels) = node.pubsub.lock().totals();
            line("pubsub_channels", &channels);
            line("pubsub_patterns", &patterns);
            line("pubsubshard_channels", &shard_channels);
            let (keys, items, prefixes) = ctx.ks.tracking.totals();
            line("tracking_total_keys", &keys);
            line("tracking_total_items", &items);
            line("tracking_total_prefixes", &prefixes);
            line(
                "client_query_buffer_limit_disconnections",
                &stats
                    .client_query_buffer_limit_disconnections
                    .load(Ordering::Relaxed),
            );
            line(
                "client_output_buffer_limit_disconnections",
                &stats
                    .client_output_limit_disconnections
                    .load(Ordering::Relaxed),
            );
            line("total_error_replies", &calls.total_error_replies);
        }
        "replication" => {
            let repl = &ctx.ks.repl;
            line("role", &"master");
            line("connected_slaves", &repl.replicas.len());
            for (i, r) in repl.replicas.iter().enumerate() {
                line(
                    &format!("slave{i}"),
                    &format!(
                        "ip={},port={},state=online,offset={},lag={}",
                        r.ip,
                        r.listening_port,
                        r.ack,
                        r.last_ack.elapsed().as_secs()
                    ),
                );
            }
            line("master_failover_state", &"no-failover");
            line("master_replid", &repl.replid);
            line(
                "master_replid2",
                &"0000000000000000000000000000000000000000",
            );
            line("master_repl_offset", &repl.offset);
            line("second_repl_offset", &-1);
            let backlog = repl.backlog();
            line("repl_backlog_active", &u8::from(backlog.is_some()));
            line(
                "repl_backlog_size",
                &backlog.map_or(ctx.config.int("repl-backlog-size") as u64, |b| {
                    b.capacity() as u64
                }),
            );
            line(
                "repl_backlog_first_byte_offset",
                &backlog.map_or(0, |b| b.first_offset()),
            );
            line("repl_backlog_histlen", &backlog.map_or(0, |b| b.len()));
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            line("used_cpu_sys", &format!("{sys:.6}"));
            line("used_cpu_user", &format!("{user:.6}"));
        }
        "commandstats" => {
            let calls = stats.calls();
            for (spec, s) in calls.commands() {
                let per_call = if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    t,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    spec.full_name(),
                    s.calls,
                    s.usec,
                    per_call,
                    s.rejected_calls,
                    s.failed_calls
                );
            }
        }
        "errorstats" => {
            let calls = stats.calls();
            for (code, n) in &calls.errors {
                let _ = write!(t, "errorstat_{code}:count={n}\r\n");
            }
        }
        "latencystats" => {
            let percentiles: Vec<f64> = config
                .get("latency-tracking-info-percentiles")
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            let calls = stats.calls();
            for (spec, h) in calls.histograms() {
                let values: Vec<String> = percentiles
                    .iter()
                    .map(|&p| {
                        // Redis prints the percentile with "%f" and trims the zeros.
                        let name = format!("{p:.6}");
                        let name = name.trim_end_matches('0').trim_end_matches('.');
                        format!("p{name}={:.3}", latency::percentile_usec(h, p))
                    })
                    .collect();
                let _ = write!(
                    t,
                    "latency_percentiles_usec_{}:{}\r\n",
                    spec.full_name(),
                    values.join(",")
                );
            }
        }
        "cluster" => line("cluster_enabled", &0),
        "keyspace" => {
            let now = ctx.now;
            for (i, db) in ctx.ks.dbs().iter().enumerate() {
                if db.is_empty() {
                    continue;
                }
                let _ = now;
                let _ = write!(
                    t,
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    db.len(),
                    db.expires_len()
                );
            }
        }
        _ => {}
    }
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// The process's resident set, from /proc (0 where there is none).
/// User and system CPU seconds of the process, from /proc/self/stat.
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let Some(close) = stat.rfind(')') else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(11), ticks(12))
}

// --------------------------------------------------------------------------------- CONFIG

fn config_get(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let config = ctx.node.config.load();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pattern in cmd.args().skip(2) {
        let lower = pattern.to_ascii_lowercase();
        let exact = config
            .lookup(&String::from_utf8_lossy(&lower))
            .filter(|_| !lower.iter().any(|b| b"*?[".contains(b)));
        match exact {
            // An alias or exact name answers under the name asked for, as Redis 7.0 does.
            Some((_, v)) => {
                let asked = String::from_utf8_lossy(&lower).into_owned();
                if !pairs.iter().any(|(n, _)| *n == asked) {
                    pairs.push((asked, v.to_string()));
                }
            }
            None => {
                for (name, value) in config.matching(&lower) {
                    if !pairs.iter().any(|(n, _)| n == name) {
                        pairs.push((name.to_string(), value.to_string()));
                    }
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if !cmd.argc().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let args: Vec<String> = cmd
        .args()
        .skip(2)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = args
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    let mut next = (**ctx.node.config.load()).clone();
    next.set_many(&pairs)
        .map_err(|e| CmdError::text(format!("ERR {e}")))?;
    if pairs
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("requirepass"))
    {
        // `requirepass` is the default user's password, as in Redis.
        let mut acl = ctx.node.acl.lock();
        acl.set_default_password(next.get("requirepass"));
        ctx.node.acl.committed(&acl);
    }
    let next = std::sync::Arc::new(next);
    ctx.node.config.store(next.clone());
    // The commands behind this one (in the pipeline, in the transaction) see the change.
    ctx.config = next;
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.node.stats.reset();
    ctx.ks.stats.hits = 0;
    ctx.ks.stats.misses = 0;
    ctx.ks.stats.expired_keys = 0;
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let config = ctx.node.config.load();
    let users: Vec<String> = ctx
        .node
        .acl
        .lock()
        .users()
        .map(|u| String::from_utf8_lossy(&u.line()).into_owned())
        .collect();
    config
        .rewrite(&users)
        .map_err(|e| CmdError::text(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

// --------------------------------------------------------------------------------- CLIENT

fn client_id(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let name = cmd.arg(2);
    if name.iter().any(|&b| b <= b' ' || b > b'~') {
        return Err(CmdError::text(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.client
        .handle
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .name = (!name.is_empty()).then(|| name.to_vec());
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let name = ctx
        .client
        .handle
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .name
        .clone();
    match name {
        Some(name) => ctx.out.bulk(&name),
        None => ctx.out.null(),
    }
    Ok(())
}

/// One `CLIENT LIST` line, with Redis 7.0's fields.
/// What a `CLIENT LIST` line's first flag letter says of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Normal,
    /// In `MONITOR` mode (`O`).
    Monitor,
    /// A replica of this node (`S`).
    Replica,
}

impl LineKind {
    fn of(ctx: &Ctx<'_>, id: u64) -> LineKind {
        if ctx.node.monitors.contains(id) {
            LineKind::Monitor
        } else if ctx.ks.repl.replicas.iter().any(|r| r.handle.id == id) {
            LineKind::Replica
        } else {
            LineKind::Normal
        }
    }
}

fn client_line(
    h: &crate::node::client::ClientHandle,
    own: Option<&crate::node::client::Client>,
    subs: (usize, usize, usize),
    kind: LineKind,
    tracking: Option<&crate::node::tracking::ClientTracking>,
) -> String {
    client_line_running(h, own, subs, kind, None, tracking)
}

/// A client's `CLIENT LIST` line without its newline, as the ACL log keeps it: `cmd=` names
/// the command being refused.
pub(crate) fn client_info_for_log(
    node: &crate::node::Node,
    client: &crate::node::client::Client,
    running: &'static str,
) -> String {
    let subs = node.pubsub.lock().client_counts(client.id);
    let mut line = client_line_running(
        &client.handle,
        Some(client),
        subs,
        if client.monitor {
            LineKind::Monitor
        } else {
            LineKind::Normal
        },
        Some(running),
        None,
    );
    line.pop();
    line
}

fn client_line_running(
    h: &crate::node::client::ClientHandle,
    own: Option<&crate::node::client::Client>,
    subs: (usize, usize, usize),
    kind: LineKind,
    running: Option<&'static str>,
    tracking: Option<&crate::node::tracking::ClientTracking>,
) -> String {
    let mut info = h.info.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(running) = running {
        info.last_command = running;
    }
    let idle = info.last_active.map_or(0, |t| t.elapsed().as_secs());
    let multi = own
        .and_then(|c| c.multi.as_ref())
        .map_or(-1, |m| m.queued.len() as i64);
    // Redis's letters in its order: a monitor (`O`) or a replica (`S`), subscribed (`P`), in a
    // transaction (`x`), tracking (`t`), a broken redirect (`R`), broadcast (`B`).
    let mut flags = String::new();
    match kind {
        LineKind::Monitor => flags.push('O'),
        LineKind::Replica => flags.push('S'),
        LineKind::Normal => {}
    }
    if subs.0 + subs.1 + subs.2 > 0 {
        flags.push('P');
    }
    if multi >= 0 {
        flags.push('x');
    }
    if let Some(t) = tracking {
        flags.push('t');
        if t.broken_redirect {
            flags.push('R');
        }
        if t.bcast {
            flags.push('B');
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let redir = tracking.map_or(-1, |t| t.redirect as i64);
    format!(
        "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={}\n",
        h.id,
        h.peer,
        h.local,
        String::from_utf8_lossy(info.name.as_deref().unwrap_or_default()),
        h.created.elapsed().as_secs(),
        idle,
        flags,
        info.db,
        subs.0,
        subs.1,
        subs.2,
        multi,
        if info.last_command.is_empty() { "NULL" } else { &info.last_command },
        String::from_utf8_lossy(info.user_name()),
        redir,
        info.resp.max(2),
    )
}

/// A client's type, as `CLIENT LIST TYPE` and `CLIENT KILL TYPE` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    /// The node's own master link (none: the node is never a replica yet).
    Master,
    Replica,
    Pubsub,
}

impl ClientType {
    fn parse(arg: &[u8]) -> Result<ClientType, CmdError> {
        match arg.to_ascii_lowercase().as_slice() {
            b"normal" => Ok(ClientType::Normal),
            b"master" => Ok(ClientType::Master),
            b"replica" | b"slave" => Ok(ClientType::Replica),
            b"pubsub" => Ok(ClientType::Pubsub),
            _ => Err(CmdError::text(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(arg)
            ))),
        }
    }

    /// Client `id`'s type: a replica, a subscriber, or normal (monitors are normal, as in
    /// Redis's `getClientType`).
    fn of(ctx: &Ctx<'_>, id: u64) -> ClientType {
        if ctx.ks.repl.replicas.iter().any(|r| r.handle.id == id) {
            return ClientType::Replica;
        }
        let (channels, patterns, shard) = ctx.node.pubsub.lock().client_counts(id);
        if channels + patterns + shard > 0 {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }
}

fn client_list(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<ClientType> = None;
    let mut i = 2;
    while i < cmd.argc() {
        let opt = cmd.arg(i).to_ascii_uppercase();
        match opt.as_slice() {
            b"TYPE" if i + 1 < cmd.argc() => {
                kind = Some(ClientType::parse(cmd.arg(i + 1))?);
                i += 2;
            }
            b"ID" if i + 1 < cmd.argc() => {
                let mut list = Vec::new();
                for a in cmd.args().skip(i + 1) {
                    let id = parse_i64(a)
                        .filter(|n| *n > 0)
                        .ok_or_else(|| CmdError::text("ERR Invalid client ID"))?;
                    list.push(id as u64);
                }
                ids = Some(list);
                i = cmd.argc();
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let mut text = String::new();
    for h in ctx.node.clients.all() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&h.id))
            || kind.is_some_and(|k| ClientType::of(ctx, h.id) != k)
        {
            continue;
        }
        let own = (h.id == ctx.client.id).then_some(&*ctx.client);
        let subs = ctx.node.pubsub.lock().client_counts(h.id);
        let kind = LineKind::of(ctx, h.id);
        let tracking = ctx.ks.tracking.client(h.id);
        text.push_str(&client_line(&h, own, subs, kind, tracking));
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let subs = ctx.node.pubsub.lock().client_counts(ctx.client.id);
    let kind = LineKind::of(ctx, ctx.client.id);
    let tracking = ctx.ks.tracking.client(ctx.client.id);
    let line = client_line(
        &ctx.client.handle.clone(),
        Some(ctx.client),
        subs,
        kind,
        tracking,
    );
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: ends another client's blocking command as if it
/// timed out, or with an `-UNBLOCKED` error; 1 if that client was blocked.
/// `CLIENT PAUSE timeout [WRITE|ALL]`: hold back every command (`ALL`, the default) or
/// those that may write, for `timeout` milliseconds; a pause in force is extended.
fn client_pause(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 4 {
        return Err(CmdError::text(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(cmd.arg(1))
        )));
    }
    let kind = match cmd.get(3) {
        None => PauseKind::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => PauseKind::Write,
        Some(m) if m.eq_ignore_ascii_case(b"all") => PauseKind::All,
        Some(_) => return Err(CmdError::text("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = parse_ms_timeout(cmd.arg(2))?;
    let end = if timeout > 0 {
        ctx.now.saturating_add(timeout)
    } else {
        0
    };
    ctx.ks.pause(kind, end);
    ctx.out.ok();
    Ok(())
}

/// `CLIENT UNPAUSE`: ends the pause; the commands it held back run.
fn client_unpause(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.ks.unpause();
    ctx.node.unpaused.send_modify(|n| *n += 1);
    ctx.out.ok();
    Ok(())
}

fn client_unblock(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 4 {
        return Err(CmdError::text(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(cmd.arg(1))
        )));
    }
    let as_error = match cmd.get(3) {
        None => false,
        Some(r) if r.eq_ignore_ascii_case(b"timeout") => false,
        Some(r) if r.eq_ignore_ascii_case(b"error") => true,
        Some(_) => {
            return Err(CmdError::text(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let id = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    let waiting = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.ks.waiters.of_client(id));
    let Some(waiter) = waiting.and_then(|w| ctx.ks.waiters.remove(w).map(|it| (w, it))) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (waiter_id, waiter) = waiter;
    for key in &waiter.keys {
        ctx.ks.db(waiter.db).remove_waiter(key, waiter_id);
    }
    let mut reply = crate::node::reply::Reply::new(waiter.resp3);
    if as_error {
        reply.error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        super::write_timeout_reply(&mut reply, waiter.on_timeout);
    }
    let _ = waiter.reply.send(reply.take());
    ctx.out.int(1);
    Ok(())
}

/// `CLIENT KILL addr` or `CLIENT KILL [ID id] [ADDR addr] [LADDR addr] [SKIPME yes|no] …`.
fn client_kill(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let clients = ctx.node.clients.all();
    if cmd.argc() == 3 {
        let addr = String::from_utf8_lossy(cmd.arg(2)).into_owned();
        let Some(h) = clients.iter().find(|h| h.peer.to_string() == addr) else {
            return Err(CmdError::text("ERR No such client"));
        };
        h.kill.cancel();
        ctx.out.ok();
        return Ok(());
    }
    if !cmd.argc().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    let mut kind: Option<ClientType> = None;
    let mut user: Option<Vec<u8>> = None;
    for pair in (2..cmd.argc()).step_by(2) {
        let value = cmd.arg(pair + 1);
        match cmd.arg(pair).to_ascii_uppercase().as_slice() {
            b"ID" => {
                id = Some(
                    parse_i64(value)
                        .filter(|n| *n > 0)
                        .ok_or_else(|| CmdError::text("ERR client-id should be greater than 0"))?
                        as u64,
                )
            }
            b"ADDR" => addr = Some(String::from_utf8_lossy(value).into_owned()),
            b"LADDR" => laddr = Some(String::from_utf8_lossy(value).into_owned()),
            b"SKIPME" => {
                skipme = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(CmdError::Syntax),
                }
            }
            b"USER" => {
                if ctx.node.acl.user(value).is_none() {
                    return Err(CmdError::text(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
                user = Some(value.to_vec());
            }
            // (`MAXAGE` came with Redis 7.4: 7.0 answers a syntax error.)
            b"TYPE" => kind = Some(ClientType::parse(value)?),
            _ => return Err(CmdError::Syntax),
        }
    }
    let mut killed = 0;
    for h in clients {
        if id.is_some_and(|id| id != h.id)
            || addr.as_ref().is_some_and(|a| *a != h.peer.to_string())
            || laddr.as_ref().is_some_and(|a| *a != h.local.to_string())
            || (skipme && h.id == ctx.client.id)
            || kind.is_some_and(|k| ClientType::of(ctx, h.id) != k)
            || user.as_ref().is_some_and(|u| {
                h.info.lock().unwrap_or_else(|p| p.into_inner()).user_name() != u.as_slice()
            })
        {
            continue;
        }
        h.kill.cancel();
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

fn client_reply(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mode = cmd.arg(2).to_ascii_uppercase();
    ctx.client.reply_mode = match mode.as_slice() {
        b"ON" => ReplyMode::On,
        b"OFF" => ReplyMode::Off,
        b"SKIP" => ReplyMode::Skip,
        _ => return Err(CmdError::Syntax),
    };
    if ctx.client.reply_mode == ReplyMode::On {
        ctx.out.ok();
    }
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    match cmd.arg(2).to_ascii_uppercase().as_slice() {
        b"ON" | b"OFF" => {
            ctx.out.ok();
            Ok(())
        }
        _ => Err(CmdError::Syntax),
    }
}

// -------------------------------------------------------------------------------- COMMAND

fn command(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let t = table();
    ctx.out.array(t.len());
    for spec in t.iter() {
        ctx.out.raw(spec.info_bytes());
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.int(table().len() as i64);
    Ok(())
}

fn command_info(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() == 2 {
        return command(ctx, cmd);
    }
    ctx.out.array(cmd.argc() - 2);
    for name in cmd.args().skip(2) {
        match find_spec(name) {
            Some(spec) => ctx.out.raw(spec.info_bytes()),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A command by name, or a subcommand as `container|sub`.
fn find_spec(name: &[u8]) -> Option<&'static crate::command::CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => table().get(&name[..bar])?.subcommand(&name[bar + 1..]),
        None => table().get(name),
    }
}

fn command_list(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    enum Filter {
        All,
        Pattern(Vec<u8>),
        /// Commands of this ACL category; an unknown category matches nothing, as in Redis.
        Category(Option<AclCategories>),
        /// Commands of a module: slotgate loads none.
        Module,
    }
    let filter = match cmd.argc() {
        2 => Filter::All,
        5 if cmd.arg(2).eq_ignore_ascii_case(b"FILTERBY") => {
            let by = cmd.arg(3);
            if by.eq_ignore_ascii_case(b"PATTERN") {
                Filter::Pattern(cmd.arg(4).to_vec())
            } else if by.eq_ignore_ascii_case(b"ACLCAT") {
                let name = String::from_utf8_lossy(cmd.arg(4)).to_ascii_lowercase();
                Filter::Category(AclCategories::from_name(&name))
            } else if by.eq_ignore_ascii_case(b"MODULE") {
                Filter::Module
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = table()
        .iter_all()
        .filter(|spec| match &filter {
            Filter::All => true,
            Filter::Pattern(p) => glob::matches(p, spec.full_name().as_bytes(), true),
            Filter::Category(c) => c.is_some_and(|c| spec.acl_categories().contains(c)),
            Filter::Module => false,
        })
        .map(|spec| spec.full_name())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    getkeys(ctx, cmd, false)
}

fn command_getkeysandflags(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    getkeys(ctx, cmd, true)
}

/// `COMMAND GETKEYS|GETKEYSANDFLAGS command arg…`: the keys Redis's key specs (or the
/// command's own key finder) name, with their access flags when asked.
fn getkeys(ctx: &mut Ctx<'_>, cmd: &Command, with_flags: bool) -> CmdResult {
    let inner = Command::from_args(cmd.args().skip(2));
    let spec = table()
        .resolve(&inner)
        .map_err(|_| CmdError::text("ERR Invalid command specified"))?;
    if !spec.has_keys() {
        return Err(CmdError::text("ERR The command has no key arguments"));
    }
    if !spec.arity_accepts(inner.argc()) {
        return Err(CmdError::text(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = spec.keys_and_flags(&inner);
    if keys.is_empty() && !spec.flags().contains(Flags::NO_MANDATORY_KEYS) {
        return Err(CmdError::text(
            "ERR Invalid arguments specified for command",
        ));
    }
    ctx.out.array(keys.len());
    for (at, flags) in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(inner.arg(at));
            ctx.out.set(flags.names().count());
            for name in flags.names() {
                ctx.out.simple(name.as_bytes());
            }
        } else {
            ctx.out.bulk(inner.arg(at));
        }
    }
    Ok(())
}

/// `COMMAND DOCS`: the table carries no documentation, so each command known maps to an empty
/// doc map (clients use the names; the texts are Redis's documentation, not the server's).
/// `COMMAND DOCS [name …]`: Redis 7.0's own documentation of each command (every top-level
/// command when none is named); unknown names are left out, as in Redis.
fn command_docs(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let names: Vec<&str> = if cmd.argc() == 2 {
        table().iter().map(|s| s.full_name()).collect()
    } else {
        cmd.args()
            .skip(2)
            .filter_map(find_spec)
            .map(|s| s.full_name())
            .collect()
    };
    let found: Vec<(&str, &crate::resp::Frame)> = names
        .into_iter()
        .filter_map(|n| Some((n, crate::command::docs(n)?)))
        .collect();
    ctx.out.map(found.len());
    for (name, doc) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.frame(doc);
    }
    Ok(())
}

// -------------------------------------------------------------------------------- SLOWLOG

fn slowlog_get(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let count = match cmd.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(CmdError::text(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
    };
    let calls = ctx.node.stats.calls();
    let entries: Vec<_> = calls.slowlog.iter().take(count).cloned().collect();
    drop(calls);
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let n = ctx.node.stats.calls().slowlog.len();
    ctx.out.int(n as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.node.stats.calls().slowlog.clear();
    ctx.out.ok();
    Ok(())
}

// ------------------------------------------------------------------------ DEBUG, SHUTDOWN

/// `MONITOR`: from now on the client is shown every command the node runs (see
/// [`crate::node::monitor`]). A second `MONITOR` is ignored without a reply, as in Redis.
fn monitor(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    if ctx.client.in_exec {
        return Err(CmdError::text(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.client.monitor {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.node.monitors.add(ctx.client.handle.clone());
    ctx.out.ok();
    Ok(())
}

/// `MODULE LIST`: the node loads no modules (`MODULE LOAD` is refused under the default
/// `enable-module-command no`, and not built otherwise).
fn module_list(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// `DEBUG SLEEP seconds`, `DEBUG OBJECT key`, `DEBUG SET-ACTIVE-EXPIRE 0|1`, `DEBUG RELOAD`
/// (save, empty the databases, load the file back); others refused.
fn debug(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let sub = cmd.arg(1).to_ascii_uppercase();
    match (sub.as_slice(), cmd.argc()) {
        (b"SLEEP", 3) => {
            let secs: f64 = std::str::from_utf8(cmd.arg(2))
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or(CmdError::NotFloat)?;
            // Holds the keyspace like Redis's single thread would: that is what it is for.
            std::thread::sleep(Duration::from_secs_f64(secs.min(60.0)));
            ctx.out.ok();
            Ok(())
        }
        (b"OBJECT", 3) => {
            let now = ctx.now;
            let encoding = ctx
                .db()
                .value(cmd.arg(2), now)
                .map(|v| v.encoding())
                .ok_or(CmdError::NoSuchKey)?;
            let text = format!(
                "Value at:0x0 refcount:1 encoding:{encoding} serializedlength:0 lru:0 lru_seconds_idle:0"
            );
            ctx.out.simple(text.as_bytes());
            Ok(())
        }
        (b"RELOAD", 2) => {
            let node = ctx.node;
            if node.persistence.bgsave_in_progress() {
                return Err(CmdError::text("ERR Background save already in progress"));
            }
            persistence::reload(node, ctx.ks, ctx.now).map_err(CmdError::text)?;
            ctx.invalidate_all();
            ctx.out.ok();
            Ok(())
        }
        (b"SET-ACTIVE-EXPIRE", 3) => {
            // Redis reads the flag with atoi: anything but a non-zero number turns it off.
            let on = parse_i64(cmd.arg(2)).is_some_and(|n| n != 0);
            ctx.node.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok();
            Ok(())
        }
        _ => Err(CmdError::text(format!(
            "ERR DEBUG {} is not supported by slotgate node",
            String::from_utf8_lossy(cmd.arg(1))
        ))),
    }
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: saves a snapshot when `save` rules are set
/// (or SAVE says so; NOSAVE says not to), then stops the node. A failed save keeps the node
/// running unless FORCE. Like Redis, a successful shutdown replies nothing.
fn shutdown(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (mut abort, mut save, mut nosave, mut force, mut now) = (false, false, false, false, false);
    for a in cmd.args().skip(1) {
        match a.to_ascii_uppercase().as_slice() {
            b"NOSAVE" => nosave = true,
            b"SAVE" => save = true,
            b"FORCE" => force = true,
            b"NOW" => now = true,
            b"ABORT" => abort = true,
            _ => return Err(CmdError::Syntax),
        }
    }
    if (abort && (save || nosave || force || now)) || (save && nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::text("ERR No shutdown in progress."));
    }
    tracing::info!("SHUTDOWN requested by a client");
    let node = ctx.node;
    if save || (!nosave && !persistence::save_rules(&ctx.config).is_empty()) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if node.persistence.save(node, ctx.ks, ctx.now).is_err() && !force {
            return Err(CmdError::text("ERR Errors trying to SHUTDOWN. Check logs."));
        }
    }
    node.persistence.exit_handled();
    node.shutdown.cancel();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// A timeout in milliseconds as Redis's `getTimeoutFromObjectOrReply` reads one: an integer,
/// not negative.
pub(super) fn parse_ms_timeout(arg: &[u8]) -> Result<i64, CmdError> {
    let ms = parse_i64(arg)
        .ok_or_else(|| CmdError::text("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::text("ERR timeout is negative"));
    }
    Ok(ms)
}
