//! DUMP and RESTORE: a key's value as Redis's serialized payload, and back.
//!
//! The payload format lives in [`crate::node::rdb`], which speaks
//! [`RdbObject`](crate::node::rdb::RdbObject); [`crate::node::rdb::value`] converts between it
//! and the keyspace's values, for snapshots as for these commands.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::notify::Events;
use crate::node::rdb::value::{from_rdb, to_rdb};
use crate::node::rdb::{dump_payload, restore_payload};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[("dump", dump), ("restore", restore)];

/// `DUMP key`: the payload, or a null reply when the key does not exist.
fn dump(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let obj = ctx.db().value(cmd.arg(1), now).map(to_rdb);
    match obj {
        Some(obj) => {
            ctx.ks.stats.hits += 1;
            ctx.out.bulk(&dump_payload(&obj));
        }
        None => {
            ctx.ks.stats.misses += 1;
            ctx.out.null();
        }
    }
    Ok(())
}

/// What `RESTORE`'s options asked for.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    /// `IDLETIME` (applied under an LRU or no policy) and `FREQ` (under an LFU policy).
    idle: Option<i64>,
    freq: Option<i64>,
}

fn restore_options(cmd: &Command) -> Result<RestoreOptions, CmdError> {
    let mut o = RestoreOptions::default();
    let mut j = 4;
    while j < cmd.argc() {
        let arg = cmd.arg(j);
        let has_value = j + 1 < cmd.argc();
        if arg.eq_ignore_ascii_case(b"replace") {
            o.replace = true;
        } else if arg.eq_ignore_ascii_case(b"absttl") {
            o.absttl = true;
        } else if arg.eq_ignore_ascii_case(b"idletime") && has_value && o.freq.is_none() {
            let idle = parse_i64(cmd.arg(j + 1)).ok_or(CmdError::NotInteger)?;
            if idle < 0 {
                return Err(CmdError::text("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(idle);
            j += 1;
        } else if arg.eq_ignore_ascii_case(b"freq") && has_value && o.idle.is_none() {
            let freq = parse_i64(cmd.arg(j + 1)).ok_or(CmdError::NotInteger)?;
            if !(0..=255).contains(&freq) {
                return Err(CmdError::text(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            o.freq = Some(freq);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`, checked in Redis 7.0's
/// order: options, existing key, TTL, payload footer, payload body.
fn restore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    let options = restore_options(cmd)?;
    if !options.replace && ctx.db().contains(key, now) {
        return Err(CmdError::text("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    if ttl < 0 {
        return Err(CmdError::text("ERR Invalid TTL value, must be >= 0"));
    }
    let obj = restore_payload(cmd.arg(3)).map_err(|e| CmdError::text(e.to_string()))?;
    let value = from_rdb(obj, &ctx.config).map_err(|e| CmdError::text(e.to_string()))?;

    let deleted = options.replace && ctx.db().remove(key, now).is_some();
    let expire_at = match ttl {
        0 => None,
        ttl if options.absttl => Some(ttl),
        ttl => Some(ttl.saturating_add(now)),
    };
    if expire_at.is_some_and(|at| at <= now) {
        // Already expired: Redis answers OK and leaves no key (deleting the old one).
        if deleted {
            ctx.dirty(1);
            ctx.notify(Events::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    ctx.db().set_with_expiry(key, value, expire_at, now);
    ctx.db().restore_use(key, options.idle, options.freq);
    ctx.dirty(1);
    if let (Some(at), false) = (expire_at, options.absttl) {
        // A relative TTL propagates as the absolute time it gave.
        let mut args: Vec<&[u8]> = cmd.args().collect();
        let mut n = itoa::Buffer::new();
        args[2] = n.format(at).as_bytes();
        args.push(b"ABSTTL");
        ctx.propagate_as(args);
    }
    ctx.notify(Events::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
