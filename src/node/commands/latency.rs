//! `LATENCY`: the latency monitor's events and the per-command latency histograms (see
//! [`crate::node::latency`]).

use super::{Ctx, Handler};
use crate::command::table;
use crate::node::error::{CmdError, CmdResult};
use crate::node::latency::{self, DoctorContext};
use crate::node::server::unix_ms;
use crate::resp::Command;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("latency|latest", latest),
    ("latency|history", history),
    ("latency|reset", reset),
    ("latency|doctor", doctor),
    ("latency|graph", graph),
    ("latency|histogram", histogram),
    ("latency|help", help),
];

/// `LATENCY LATEST`: per event, `[name, time of the last sample, its ms, all-time worst ms]`.
fn latest(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let events = ctx.node.latency.lock();
    ctx.out.array(events.len());
    for (name, series) in events.iter() {
        let (time, ms) = series.latest();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(time);
        ctx.out.int(ms as i64);
        ctx.out.int(series.max as i64);
    }
    Ok(())
}

/// `LATENCY HISTORY event`: `[time, ms]` pairs, oldest first (empty for an unknown event).
fn history(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let events = ctx.node.latency.lock();
    let Some((_, series)) = events.iter().find(|(n, _)| n.as_bytes() == cmd.arg(2)) else {
        ctx.out.array(0);
        return Ok(());
    };
    let samples: Vec<(i64, u64)> = series.samples().collect();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// `LATENCY RESET [event …]`: how many events were forgotten.
fn reset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let n = if cmd.argc() == 2 {
        ctx.node.latency.reset(None)
    } else {
        cmd.args()
            .skip(2)
            .map(|e| ctx.node.latency.reset(Some(e)))
            .sum()
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn doctor(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let cx = DoctorContext {
        threshold_ms: ctx.config.latency_monitor_threshold(),
        slowlog_log_slower_than: ctx.config.slowlog_log_slower_than(),
        hz: ctx.config.int("hz"),
        appendfsync_always: ctx.config.get("appendfsync") == "always",
        anon_huge_pages: latency::has_anon_huge_pages(),
        now_secs: unix_ms() / 1000,
    };
    let report = latency::doctor(&ctx.node.latency.lock(), cx);
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

fn graph(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let events = ctx.node.latency.lock();
    let Some((name, series)) = events.iter().find(|(n, _)| n.as_bytes() == cmd.arg(2)) else {
        return Err(CmdError::text(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(cmd.arg(2))
        )));
    };
    let text = latency::graph(name, series, unix_ms() / 1000);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// `LATENCY HISTOGRAM [command …]`: per command, its calls and the cumulative distribution
/// of its latencies. Unknown names and commands never called are left out.
fn histogram(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let calls = ctx.node.stats.calls();
    let all: Vec<_> = calls.histograms().collect();
    let chosen: Vec<_> = if cmd.argc() == 2 {
        all
    } else {
        // As Redis: each name in turn (`config|get` names a subcommand; a container stands for
        // itself and its subcommands); unknown names are skipped, repeats answered again.
        let mut chosen = Vec::new();
        for name in cmd.args().skip(2) {
            let mut parts = name.splitn(2, |&b| b == b'|');
            let top = table().get(parts.next().unwrap_or_default());
            let wanted = match (top, parts.next()) {
                (Some(top), Some(sub)) => top.subcommand(sub),
                (top, None) => top,
                (None, Some(_)) => None,
            };
            let Some(wanted) = wanted else { continue };
            for &(spec, h) in &all {
                if std::ptr::eq(spec, wanted) || spec.container_name() == Some(wanted.full_name()) {
                    chosen.push((spec, h));
                }
            }
        }
        chosen
    };
    ctx.out.map(chosen.len());
    for (spec, h) in chosen {
        ctx.out.bulk(spec.full_name().as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.len() as i64);
        ctx.out.bulk(b"histogram_usec");
        let buckets = latency::cumulative_buckets(h);
        ctx.out.map(buckets.len());
        for (micros, count) in buckets {
            ctx.out.int(micros as i64);
            ctx.out.int(count as i64);
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(HELP);
    Ok(())
}
