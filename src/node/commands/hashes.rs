//! Hash commands: HSET HGET HMGET HDEL HGETALL HINCRBY HRANDFIELD HSCAN …

use super::scan::{parse_cursor, scan_options, write_empty_scan};
use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::keyspace::hash::{Hash, HashLimits};
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::node::number::LongDouble;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hexists", hexists),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

/// The hash at `key`: None if missing, `WRONGTYPE` if another type.
fn read<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<Option<&'d Hash>, CmdError> {
    match db.value(key, now) {
        Some(v) => Ok(Some(v.as_hash()?)),
        None => Ok(None),
    }
}

/// The hash at `key`, created empty when missing; `WRONGTYPE` if another type.
fn write<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<&'d mut Hash, CmdError> {
    read(db, key, now)?;
    db.get_or_insert_with(key, now, || Value::Hash(Box::default()))
        .as_hash_mut()
}

fn limits(ctx: &Ctx<'_>) -> HashLimits {
    HashLimits::from_config(&ctx.config)
}

fn set_pairs(ctx: &mut Ctx<'_>, cmd: &Command, name: &str) -> Result<usize, CmdError> {
    if !(cmd.argc() - 2).is_multiple_of(2) {
        return Err(CmdError::arity(name));
    }
    let limits = limits(ctx);
    let now = ctx.now;
    let hash = write(ctx.db(), cmd.arg(1), now)?;
    let mut added = 0;
    for i in (2..cmd.argc()).step_by(2) {
        if hash.insert(cmd.arg(i), cmd.arg(i + 1), &limits) {
            added += 1;
        }
    }
    ctx.dirty(1);
    ctx.notify(Events::HASH, "hset", cmd.arg(1));
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let added = set_pairs(ctx, cmd, "hset")?;
    ctx.out.int(added as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_pairs(ctx, cmd, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let limits = limits(ctx);
    let now = ctx.now;
    if read(ctx.db(), cmd.arg(1), now)?.is_some_and(|h| h.contains(cmd.arg(2))) {
        ctx.out.int(0);
        return Ok(());
    }
    write(ctx.db(), cmd.arg(1), now)?.insert(cmd.arg(2), cmd.arg(3), &limits);
    ctx.dirty(1);
    ctx.notify(Events::HASH, "hset", cmd.arg(1));
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match read(db, cmd.arg(1), now)?.and_then(|h| h.get(cmd.arg(2))) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let hash = read(db, cmd.arg(1), now)?;
    out.array(cmd.argc() - 2);
    for field in cmd.args().skip(2) {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    if read(ctx.db(), key, now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let hash = write(ctx.db(), key, now)?;
    let removed = cmd.args().skip(2).filter(|f| hash.remove(f)).count();
    if removed > 0 {
        ctx.notify(Events::HASH, "hdel", key);
        ctx.remove_if_empty(key);
    }
    ctx.dirty(removed as u64);
    ctx.out.int(removed as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?.map_or(0, Hash::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?
        .and_then(|h| h.get(cmd.arg(2)))
        .map_or(0, <[u8]>::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let found = read(ctx.db(), cmd.arg(1), now)?.is_some_and(|h| h.contains(cmd.arg(2)));
    ctx.out.int(i64::from(found));
    Ok(())
}

/// Which parts of each pair `HKEYS`, `HVALS` and `HGETALL` answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

fn hkeys(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_all(ctx, cmd, Parts::Fields)
}

fn hvals(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_all(ctx, cmd, Parts::Values)
}

fn hgetall(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_all(ctx, cmd, Parts::Both)
}

fn reply_all(ctx: &mut Ctx<'_>, cmd: &Command, parts: Parts) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let hash = read(db, cmd.arg(1), now)?;
    let len = hash.map_or(0, Hash::len);
    if parts == Parts::Both {
        out.map(len);
    } else {
        out.array(len);
    }
    for (f, v) in hash.into_iter().flat_map(Hash::iter) {
        if parts != Parts::Values {
            out.bulk(f);
        }
        if parts != Parts::Fields {
            out.bulk(v);
        }
    }
    Ok(())
}

fn hincrby(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let by = parse_i64(cmd.arg(3)).ok_or(CmdError::NotInteger)?;
    let now = ctx.now;
    let current = match read(ctx.db(), cmd.arg(1), now)?.and_then(|h| h.get(cmd.arg(2))) {
        Some(v) => {
            parse_i64(v).ok_or_else(|| CmdError::text("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let new = current.checked_add(by).ok_or(CmdError::Overflow)?;
    let limits = limits(ctx);
    let text = itoa::Buffer::new().format(new).to_string();
    write(ctx.db(), cmd.arg(1), now)?.insert(cmd.arg(2), text.as_bytes(), &limits);
    ctx.dirty(1);
    ctx.notify(Events::HASH, "hincrby", cmd.arg(1));
    ctx.out.int(new);
    Ok(())
}

/// `HINCRBYFLOAT key field increment`, in 80-bit long doubles as Redis computes it.
fn hincrbyfloat(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let by = LongDouble::parse(cmd.arg(3)).ok_or(CmdError::NotFloat)?;
    if !by.is_finite() {
        return Err(CmdError::text("ERR value is NaN or Infinity"));
    }
    let now = ctx.now;
    let current = match read(ctx.db(), cmd.arg(1), now)?.and_then(|h| h.get(cmd.arg(2))) {
        Some(v) => {
            LongDouble::parse(v).ok_or_else(|| CmdError::text("ERR hash value is not a float"))?
        }
        None => LongDouble::ZERO,
    };
    let new = current + by;
    if !new.is_finite() {
        return Err(CmdError::text(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = new.to_human();
    let limits = limits(ctx);
    write(ctx.db(), cmd.arg(1), now)?.insert(cmd.arg(2), text.as_bytes(), &limits);
    ctx.dirty(1);
    ctx.propagate_as([&b"HSET"[..], cmd.arg(1), cmd.arg(2), text.as_bytes()]);
    ctx.notify(Events::HASH, "hincrbyfloat", cmd.arg(1));
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
fn hrandfield(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let count = cmd
        .get(2)
        .map(|a| parse_i64(a).ok_or(CmdError::NotInteger))
        .transpose()?;
    let with_values = match cmd.get(3) {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"WITHVALUES") && cmd.argc() == 4 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if let Some(n) = count {
        if n.unsigned_abs() > (i64::MAX as u64) / 2 {
            return Err(CmdError::text("ERR value is out of range"));
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let hash = read(db, cmd.arg(1), now)?;
    let mut rng = rand::thread_rng();
    let Some(count) = count else {
        match hash.and_then(|h| h.random(&mut rng)) {
            Some((f, _)) => out.bulk(f),
            None => out.null(),
        }
        return Ok(());
    };
    let Some(hash) = hash else {
        out.array(0);
        return Ok(());
    };
    let picks: Vec<(&[u8], &[u8])> = if count < 0 {
        // Repeats allowed: each pick independent.
        (0..count.unsigned_abs())
            .filter_map(|_| hash.random(&mut rng))
            .collect()
    } else {
        // Distinct fields: a random sample without repeats.
        let all: Vec<_> = hash.iter().collect();
        let n = (count as usize).min(all.len());
        rand::seq::index::sample(&mut rng, all.len(), n)
            .into_iter()
            .map(|i| all[i])
            .collect()
    };
    let resp3_pairs = with_values && out.is_resp3();
    out.array(if with_values && !resp3_pairs {
        picks.len() * 2
    } else {
        picks.len()
    });
    for (f, v) in picks {
        if resp3_pairs {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    }
    Ok(())
}

/// `HSCAN key cursor [MATCH p] [COUNT n]`; as in Redis, the options are read only once the
/// key is found.
fn hscan(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let cursor = parse_cursor(cmd.arg(2))?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(hash) = read(db, cmd.arg(1), now)? else {
        write_empty_scan(out);
        return Ok(());
    };
    let (pattern, count) = scan_options(cmd, 3)?;
    let mut items: Vec<(&[u8], &[u8])> = Vec::new();
    let next = hash.scan(cursor, count, |f, v| {
        if pattern.as_ref().is_none_or(|p| glob::matches(p, f, false)) {
            items.push((f, v));
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items.len() * 2);
    for (f, v) in items {
        out.bulk(f);
        out.bulk(v);
    }
    Ok(())
}
