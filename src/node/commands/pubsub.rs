//! Pub/sub: SUBSCRIBE PUBLISH PUBSUB … and the sharded SSUBSCRIBE SPUBLISH.
//!
//! The registry lives in [`crate::node::pubsub`]; these handlers change it and write the
//! confirmations: one `[verb, name, count]` event per name, a push frame for a RESP3 client.
//! On a node without cluster mode the shard channels work as Redis 7.0 standalone has them: a
//! namespace of their own that only `SPUBLISH` reaches, with no slot checks.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::pubsub::{Kind, OutputLimit, Publisher, Registry};
use crate::node::reply::Reply;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub|channels", pubsub_channels),
    ("pubsub|shardchannels", pubsub_shardchannels),
    ("pubsub|numsub", pubsub_numsub),
    ("pubsub|shardnumsub", pubsub_shardnumsub),
    ("pubsub|numpat", pubsub_numpat),
    ("pubsub|help", pubsub_help),
];

fn subscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    add(ctx, cmd, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    add(ctx, cmd, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    // Redis 7.0 lets the older SUBSCRIBE and PSUBSCRIBE run inside EXEC, for compatibility,
    // but not SSUBSCRIBE.
    if ctx.client.in_exec {
        return Err(CmdError::text(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    add(ctx, cmd, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    remove(ctx, cmd, Kind::Channel);
    Ok(())
}

fn punsubscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    remove(ctx, cmd, Kind::Pattern);
    Ok(())
}

fn sunsubscribe(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    remove(ctx, cmd, Kind::Shard);
    Ok(())
}

/// The confirmation's first element for each kind: (subscribe, unsubscribe).
fn verbs(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

/// The count a confirmation carries: channels and patterns together, shard channels apart.
fn count(registry: &Registry, id: u64, kind: Kind) -> usize {
    let (sub, psub, ssub) = registry.client_counts(id);
    match kind {
        Kind::Channel | Kind::Pattern => sub + psub,
        Kind::Shard => ssub,
    }
}

fn add(ctx: &mut Ctx<'_>, cmd: &Command, kind: Kind) -> CmdResult {
    let node = ctx.node;
    let mut registry = node.pubsub.lock();
    let id = ctx.client.id;
    for name in cmd.args().skip(1) {
        registry.subscribe(&ctx.client.handle, kind, name);
        let n = count(&registry, id, kind);
        event(ctx.out, verbs(kind).0, Some(name), n);
    }
    ctx.client.subscriber = registry.is_subscriber(id);
    Ok(())
}

fn remove(ctx: &mut Ctx<'_>, cmd: &Command, kind: Kind) {
    let node = ctx.node;
    let mut registry = node.pubsub.lock();
    let id = ctx.client.id;
    let verb = verbs(kind).1;
    let names: Vec<Vec<u8>> = if cmd.argc() > 1 {
        cmd.args().skip(1).map(<[u8]>::to_vec).collect()
    } else {
        registry.subscriptions(id, kind)
    };
    if names.is_empty() {
        // Nothing of this kind to leave: one event without a name.
        event(ctx.out, verb, None, count(&registry, id, kind));
    }
    for name in &names {
        registry.unsubscribe(id, kind, name);
        let n = count(&registry, id, kind);
        event(ctx.out, verb, Some(name), n);
    }
    ctx.client.subscriber = registry.is_subscriber(id);
}

/// A confirmation `[verb, name, count]`: a push in RESP3 (where a missing name is `_`), an
/// array in RESP2. (`resp::write_subscription_event` always writes a RESP2 nil, which Redis
/// 7.0 sends only to RESP2 clients.)
fn event(out: &mut Reply, verb: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(verb);
    match name {
        Some(name) => out.bulk(name),
        None => out.null(),
    }
    out.int(count as i64);
}

fn publish(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    deliver(ctx, cmd, false)
}

fn spublish(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    deliver(ctx, cmd, true)
}

fn deliver(ctx: &mut Ctx<'_>, cmd: &Command, sharded: bool) -> CmdResult {
    let node = ctx.node;
    let limit = OutputLimit::from_config(&node.config.load());
    let receivers = node.pubsub.lock().publish(
        cmd.arg(1),
        cmd.arg(2),
        sharded,
        Some(Publisher {
            id: ctx.client.id,
            out: &mut *ctx.out,
        }),
        limit,
    );
    ctx.out.int(receivers as i64);
    // Outside a cluster a replica's subscribers hear what the master's hear; in a cluster the
    // bus carries messages instead.
    if ctx.replicating() && ctx.config.get("cluster-enabled") != "yes" {
        ctx.force_propagate();
    }
    Ok(())
}

/// `PUBSUB CHANNELS [pattern]`, `PUBSUB SHARDCHANNELS [pattern]`.
fn active(ctx: &mut Ctx<'_>, cmd: &Command, kind: Kind) -> CmdResult {
    if cmd.argc() > 3 {
        return Err(subcommand_syntax(cmd));
    }
    let node = ctx.node;
    let registry = node.pubsub.lock();
    let names = registry.active(kind, cmd.get(2));
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    active(ctx, cmd, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    active(ctx, cmd, Kind::Shard)
}

/// `PUBSUB NUMSUB [channel …]`, `PUBSUB SHARDNUMSUB [channel …]`: a flat array of pairs in
/// both protocols, as Redis 7.0 answers.
fn numsub(ctx: &mut Ctx<'_>, cmd: &Command, kind: Kind) -> CmdResult {
    let node = ctx.node;
    let registry = node.pubsub.lock();
    ctx.out.array((cmd.argc() - 2) * 2);
    for name in cmd.args().skip(2) {
        ctx.out.bulk(name);
        ctx.out.int(registry.numsub(kind, name) as i64);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    numsub(ctx, cmd, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    numsub(ctx, cmd, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let n = ctx.node.pubsub.lock().numpat();
    ctx.out.int(n as i64);
    Ok(())
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub_help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(HELP);
    Ok(())
}

/// Redis's `addReplySubcommandSyntaxError`: the subcommand quoted as the client sent it.
fn subcommand_syntax(cmd: &Command) -> CmdError {
    let sub = cmd.arg(1);
    let sub = &sub[..sub.len().min(128)];
    CmdError::text(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(sub)
    ))
}
