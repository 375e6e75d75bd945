//! DUMP and RESTORE: a key's value as Redis's serialized payload, and back.
//!
//! The payload format lives in [`crate::node::rdb`], which speaks [`RdbObject`]; this file
//! converts between it and the keyspace's values ([`to_rdb`], [`from_rdb`]) through the value
//! types' public methods.

use super::{Ctx, Handler};
use crate::node::config::NodeConfig;
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::hash::{Hash, HashLimits};
use crate::node::keyspace::list::List;
use crate::node::keyspace::set::Set;
use crate::node::keyspace::stream::Stream;
use crate::node::keyspace::string::Str;
use crate::node::keyspace::zset::{ZSet, ZSetLimits};
use crate::node::keyspace::Value;
use crate::node::notify::Events;
use crate::node::rdb::{dump_payload, restore_payload, RdbObject};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[("dump", dump), ("restore", restore)];

/// `DUMP key`: the payload, or a null reply when the key does not exist.
fn dump(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let obj = match ctx.db().value(cmd.arg(1), now) {
        Some(value) => Some(to_rdb(value)?),
        None => None,
    };
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
    let value = from_rdb(obj, &ctx.config)?;

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

/// A value as an [`RdbObject`].
fn to_rdb(value: &Value) -> Result<RdbObject, CmdError> {
    match value {
        Value::Str(s) => Ok(RdbObject::Str(s.to_vec())),
        Value::List(l) => Ok(RdbObject::List(l.iter().map(<[u8]>::to_vec).collect())),
        Value::Set(set) => Ok(RdbObject::Set(set.iter().map(|m| m.into_owned()).collect())),
        Value::Hash(h) => {
            let pairs = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            Ok(match h.encoding() {
                "listpack" => RdbObject::HashListpack(pairs),
                _ => RdbObject::Hash(pairs),
            })
        }
        Value::ZSet(z) => {
            let pairs = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            Ok(match z.encoding() {
                "listpack" => RdbObject::ZSetListpack(pairs),
                _ => RdbObject::ZSet(pairs),
            })
        }
        Value::Stream(s) => Ok(RdbObject::Stream(Box::new(s.to_rdb()))),
    }
}

/// An [`RdbObject`] as a value, encoded by `config`'s thresholds as Redis would after loading.
fn from_rdb(obj: RdbObject, config: &NodeConfig) -> Result<Value, CmdError> {
    match obj {
        RdbObject::Str(bytes) => Ok(Value::Str(Str::from_bytes(&bytes))),
        RdbObject::List(items) => Ok(Value::List(Box::new(List::from_items(
            config.int("list-max-listpack-size"),
            items,
        )))),
        RdbObject::Set(members) => Ok(Value::Set(Box::new(Set::from_members(
            members,
            config.usize("set-max-intset-entries"),
        )))),
        RdbObject::Hash(pairs) | RdbObject::HashListpack(pairs) => Ok(Value::Hash(Box::new(
            Hash::from_pairs(pairs, &HashLimits::from_config(config)),
        ))),
        RdbObject::Stream(rdb) => Stream::from_rdb(*rdb)
            .map(|s| Value::Stream(Box::new(s)))
            .map_err(|_| CmdError::text("ERR Bad data format")),
        RdbObject::ZSet(pairs) | RdbObject::ZSetListpack(pairs) => {
            Ok(Value::ZSet(Box::new(ZSet::from_pairs(
                pairs,
                ZSetLimits {
                    entries: config.usize("zset-max-listpack-entries"),
                    value: config.usize("zset-max-listpack-value"),
                },
            ))))
        }
    }
}
