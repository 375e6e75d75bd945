//! `MEMORY`: what a key costs (`USAGE`), where the node's memory goes (`STATS`), and Redis's
//! `DOCTOR` report. Sizes are the node's own accounting ([`crate::node::memory`]): the node
//! has no allocator statistics to ask, so `MALLOC-STATS` says so and `PURGE` has nothing to do.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::memory::{self, BASE_BYTES};
use crate::resp::{parse_i64, Command};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("memory|usage", usage),
    ("memory|stats", stats),
    ("memory|doctor", doctor),
    ("memory|malloc-stats", malloc_stats),
    ("memory|purge", purge),
    ("memory|help", help),
];

/// How many elements of a collection `MEMORY USAGE` looks at by default.
const DEFAULT_SAMPLES: usize = 5;
/// Below this, `MEMORY DOCTOR` has nothing to say (Redis's 5 MB).
const DOCTOR_MIN_BYTES: u64 = 5 * 1024 * 1024;

/// `MEMORY USAGE key [SAMPLES count]`: the key's bytes, or null for a missing key.
fn usage(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut samples = Some(DEFAULT_SAMPLES);
    let mut i = 3;
    while i < cmd.argc() {
        if cmd.arg(i).eq_ignore_ascii_case(b"samples") && i + 1 < cmd.argc() {
            let n = parse_i64(cmd.arg(i + 1)).ok_or(CmdError::NotInteger)?;
            samples = match n {
                n if n < 0 => return Err(CmdError::Syntax),
                // 0: every element.
                0 => None,
                n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // As Redis's dbFind: the key as stored, whether or not its time is up.
    let key = cmd.arg(2);
    match ctx.db().peek(key) {
        Some(entry) => {
            let bytes = memory::key_usage(key, entry, samples);
            ctx.out.int(bytes as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// `MEMORY STATS`: Redis 7.0's fields, from the node's accounting.
fn stats(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let used = memory::used_memory(ctx.ks);
    let peak = memory::note_peak(ctx.node, used);
    let rss = memory::rss_bytes();
    let dbs: Vec<(usize, usize, usize)> = ctx
        .ks
        .dbs()
        .iter()
        .enumerate()
        .filter(|(_, db)| !db.is_empty())
        .map(|(i, db)| (i, db.len(), db.expires_len()))
        .collect();
    // The tables' own cost: a slot per key (and per key with an expiry).
    let table_bytes = |n: usize| (n as u64) * 16;
    let overhead: u64 = BASE_BYTES
        + dbs
            .iter()
            .map(|&(_, k, e)| table_bytes(k) + table_bytes(e))
            .sum::<u64>();
    let keys: u64 = dbs.iter().map(|&(_, k, _)| k as u64).sum();
    let dataset = used.saturating_sub(overhead);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let out = &mut *ctx.out;
    out.map(27 + dbs.len());
    let int = |out: &mut crate::node::reply::Reply, name: &str, n: u64| {
        out.bulk(name.as_bytes());
        out.int(n.min(i64::MAX as u64) as i64);
    };
    int(out, "peak.allocated", peak);
    int(out, "total.allocated", used);
    int(out, "startup.allocated", BASE_BYTES);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", 0);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for &(i, k, e) in &dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", table_bytes(k));
        int(out, "overhead.hashtable.expires", table_bytes(e));
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", overhead);
    int(out, "keys.count", keys);
    int(
        out,
        "keys.bytes-per-key",
        used.saturating_sub(BASE_BYTES)
            .checked_div(keys)
            .unwrap_or(0),
    );
    int(out, "dataset.bytes", dataset);
    let double = |out: &mut crate::node::reply::Reply, name: &str, x: f64| {
        out.bulk(name.as_bytes());
        out.double(x);
    };
    double(
        out,
        "dataset.percentage",
        ratio(dataset * 100, used.saturating_sub(BASE_BYTES).max(1)),
    );
    double(out, "peak.percentage", ratio(used * 100, peak));
    int(out, "allocator.allocated", used);
    int(out, "allocator.active", used);
    int(out, "allocator.resident", rss);
    double(out, "allocator-fragmentation.ratio", 1.0);
    int(out, "allocator-fragmentation.bytes", 0);
    double(out, "allocator-rss.ratio", ratio(rss, used));
    int(out, "allocator-rss.bytes", rss.saturating_sub(used));
    double(out, "rss-overhead.ratio", 1.0);
    int(out, "rss-overhead.bytes", 0);
    double(out, "fragmentation", ratio(rss, used));
    int(out, "fragmentation.bytes", rss.saturating_sub(used));
    Ok(())
}

/// `MEMORY DOCTOR`: Redis's report, for the issues the node can see.
fn doctor(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let used = memory::used_memory(ctx.ks);
    let peak = memory::note_peak(ctx.node, used);
    let report = doctor_report(used, peak);
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

fn doctor_report(used: u64, peak: u64) -> String {
    if used < DOCTOR_MIN_BYTES {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    // A peak over 150% of what is used now.
    if (peak as f64) / (used as f64) <= 1.5 {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\nI'm here to keep you safe, Sam. I want to help you.\n".into()
}

/// `MEMORY MALLOC-STATS`: what Redis answers for an allocator without statistics (libc).
fn malloc_stats(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out
        .verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

/// `MEMORY PURGE`: nothing to give back (Redis does the same without jemalloc).
fn purge(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_speaks_of_the_empty_instance_and_of_a_past_peak() {
        assert!(doctor_report(1 << 20, 1 << 20).starts_with("Hi Sam, this instance is empty"));
        assert!(doctor_report(10 << 20, 12 << 20).starts_with("Hi Sam, I can't find"));
        assert!(doctor_report(10 << 20, 20 << 20).contains(" * Peak memory:"));
    }
}
