//! Set commands: SADD SREM SMEMBERS SISMEMBER SCARD SPOP SRANDMEMBER SMOVE, the algebra
//! (SINTER SUNION SDIFF and their STORE forms, SINTERCARD) and SSCAN.

use std::borrow::Cow;
use std::collections::HashSet;

use super::scan::{parse_cursor, scan_options, write_empty_scan};
use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::keyspace::set::Set;
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sinterstore", sinterstore),
    ("sintercard", sintercard),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

fn read<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<Option<&'d Set>, CmdError> {
    match db.value(key, now) {
        Some(v) => Ok(Some(v.as_set()?)),
        None => Ok(None),
    }
}

fn max_intset(ctx: &Ctx<'_>) -> usize {
    ctx.config.usize("set-max-intset-entries")
}

fn sadd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let max = max_intset(ctx);
    let now = ctx.now;
    read(ctx.db(), cmd.arg(1), now)?;
    let set = ctx
        .db()
        .get_or_insert_with(cmd.arg(1), now, || Value::Set(Box::default()))
        .as_set_mut()?;
    let added = cmd.args().skip(2).filter(|m| set.insert(m, max)).count();
    ctx.dirty(added as u64);
    if added > 0 {
        ctx.notify(Events::SET, "sadd", cmd.arg(1));
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    if read(ctx.db(), cmd.arg(1), now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let set = ctx
        .db()
        .get_mut(cmd.arg(1), now)
        .expect("read above")
        .as_set_mut()?;
    let removed = cmd.args().skip(2).filter(|m| set.remove(m)).count();
    if removed > 0 {
        ctx.notify(Events::SET, "srem", cmd.arg(1));
        ctx.remove_if_empty(cmd.arg(1));
    }
    ctx.dirty(removed as u64);
    ctx.out.int(removed as i64);
    Ok(())
}

fn write_members<'a>(
    out: &mut crate::node::reply::Reply,
    members: impl ExactSizeIterator<Item = Cow<'a, [u8]>>,
) {
    out.set(members.len());
    for m in members {
        out.bulk(&m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let members: Vec<Cow<'_, [u8]>> = read(db, cmd.arg(1), now)?
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    write_members(out, members.into_iter());
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let found = read(ctx.db(), cmd.arg(1), now)?.is_some_and(|s| s.contains(cmd.arg(2)));
    ctx.out.int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let set = read(db, cmd.arg(1), now)?;
    out.array(cmd.argc() - 2);
    for m in cmd.args().skip(2) {
        out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?.map_or(0, Set::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// A count argument that must be positive (`SPOP`): Redis's "must be positive" error.
fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(CmdError::NotPositive),
    }
}

fn spop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = cmd.get(2).map(positive_count).transpose()?;
    let key = cmd.arg(1);
    let now = ctx.now;
    let Some(set) = read(ctx.db(), key, now)? else {
        match count {
            Some(_) => ctx.out.set(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let n = count.unwrap_or(1).min(set.len());
    let picked = set.sample(&mut rand::thread_rng(), n);
    if n > 0 {
        let set = ctx
            .db()
            .get_mut(key, now)
            .expect("read above")
            .as_set_mut()?;
        for m in &picked {
            set.remove(m);
        }
        ctx.notify(Events::SET, "spop", key);
        let emptied = ctx.db().remove_if_empty(key);
        if emptied {
            ctx.notify(Events::GENERIC, "del", key);
        }
        ctx.dirty(n as u64);
        propagate_popped(ctx, key, &picked, emptied);
    }
    match count {
        Some(_) => write_members(ctx.out, picked.iter().map(|m| Cow::Borrowed(&m[..]))),
        None => match picked.first() {
            Some(m) => ctx.out.bulk(m),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// Most members one propagated `SREM` names (Redis's `SPOP_MOVE_STRATEGY_MUL` batches).
const SREM_BATCH: usize = 1024;

/// `SPOP` propagates what it took, not a new draw: `DEL` when it took the whole set, else
/// `SREM`s of the members it picked.
fn propagate_popped(ctx: &mut Ctx<'_>, key: &[u8], picked: &[impl AsRef<[u8]>], emptied: bool) {
    if !ctx.replicating() {
        return;
    }
    if emptied {
        ctx.propagate_as([&b"DEL"[..], key]);
        return;
    }
    if picked.len() <= SREM_BATCH {
        let args = [&b"SREM"[..], key]
            .into_iter()
            .chain(picked.iter().map(AsRef::as_ref));
        ctx.propagate_as(args);
        return;
    }
    for batch in picked.chunks(SREM_BATCH) {
        let args = [&b"SREM"[..], key]
            .into_iter()
            .chain(batch.iter().map(AsRef::as_ref));
        ctx.also_propagate(args);
    }
    ctx.no_propagate();
}

fn srandmember(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = cmd
        .get(2)
        .map(|a| parse_i64(a).ok_or(CmdError::NotInteger))
        .transpose()?;
    if let Some(n) = count {
        if n.unsigned_abs() > (i64::MAX as u64) / 2 {
            return Err(CmdError::text("ERR value is out of range"));
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let set = read(db, cmd.arg(1), now)?;
    let mut rng = rand::thread_rng();
    let Some(set) = set else {
        match count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    match count {
        None => match set.random(&mut rng) {
            Some(m) => out.bulk(&m),
            None => out.null(),
        },
        Some(n) if n < 0 => {
            let n = n.unsigned_abs() as usize;
            out.array(n);
            for _ in 0..n {
                let m = set.random(&mut rng).unwrap_or_default();
                out.bulk(&m);
            }
        }
        Some(n) => {
            let members = set.sample(&mut rng, n as usize);
            out.array(members.len());
            for m in members {
                out.bulk(&m);
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (src, dst, member) = (cmd.arg(1), cmd.arg(2), cmd.arg(3));
    let now = ctx.now;
    // A missing source answers 0 before any type is checked, as in Redis.
    if !ctx.db().contains(src, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let in_src = read(ctx.db(), src, now)?.map(|s| s.contains(member));
    read(ctx.db(), dst, now)?;
    if in_src != Some(true) {
        ctx.out.int(0);
        return Ok(());
    }
    if src != dst {
        let max = max_intset(ctx);
        ctx.db()
            .get_mut(src, now)
            .expect("read above")
            .as_set_mut()?
            .remove(member);
        ctx.notify(Events::SET, "srem", src);
        ctx.remove_if_empty(src);
        let added = ctx
            .db()
            .get_or_insert_with(dst, now, || Value::Set(Box::default()))
            .as_set_mut()?
            .insert(member, max);
        ctx.dirty(1);
        if added {
            ctx.notify(Events::SET, "sadd", dst);
        }
    }
    ctx.out.int(1);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result of `op` over the sets at `keys` (missing keys are empty sets).
fn combine(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    op: Op,
    limit: usize,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let now = ctx.now;
    let mut sets: Vec<Option<Set>> = Vec::with_capacity(keys.len());
    for key in keys {
        sets.push(read(ctx.db(), key, now)?.cloned());
    }
    let empty = Set::default();
    let get = |i: usize| sets[i].as_ref().unwrap_or(&empty);
    let mut out: Vec<Vec<u8>> = Vec::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let mut order: Vec<usize> = (0..sets.len()).collect();
            order.sort_by_key(|&i| get(i).len());
            for m in get(order[0]).iter() {
                if order[1..].iter().all(|&i| get(i).contains(&m)) {
                    out.push(m.into_owned());
                    if limit > 0 && out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Op::Union => {
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            for i in 0..sets.len() {
                for m in get(i).iter() {
                    if seen.insert(m.to_vec()) {
                        out.push(m.into_owned());
                    }
                }
            }
        }
        Op::Diff => {
            for m in get(0).iter() {
                if (1..sets.len()).all(|i| !get(i).contains(&m)) {
                    out.push(m.into_owned());
                }
            }
        }
    }
    Ok(out)
}

fn keys_from(cmd: &Command, from: usize) -> Vec<&[u8]> {
    cmd.args().skip(from).collect()
}

fn reply_combined(ctx: &mut Ctx<'_>, cmd: &Command, op: Op) -> CmdResult {
    let members = combine(ctx, &keys_from(cmd, 1), op, 0)?;
    if op == Op::Inter {
        write_members(ctx.out, members.iter().map(|m| Cow::Borrowed(&m[..])));
    } else {
        // Redis gathers a union or difference into a new set first (an intset while every
        // member is an integer), and replies in that set's order.
        let set = Set::from_members(members, max_intset(ctx));
        let ordered: Vec<Cow<'_, [u8]>> = set.iter().collect();
        write_members(ctx.out, ordered.into_iter());
    }
    Ok(())
}

fn store_combined(ctx: &mut Ctx<'_>, cmd: &Command, op: Op) -> CmdResult {
    let members = combine(ctx, &keys_from(cmd, 2), op, 0)?;
    let dest = cmd.arg(1);
    let now = ctx.now;
    let n = members.len();
    if n == 0 {
        if ctx.db().remove(dest, now).is_some() {
            ctx.notify(Events::GENERIC, "del", dest);
        }
    } else {
        let set = Set::from_members(members, max_intset(ctx));
        ctx.db().set(dest, Value::Set(Box::new(set)), now);
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(Events::SET, event, dest);
    }
    ctx.dirty(1);
    ctx.out.int(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_combined(ctx, cmd, Op::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_combined(ctx, cmd, Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    reply_combined(ctx, cmd, Op::Diff)
}

fn sinterstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    store_combined(ctx, cmd, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    store_combined(ctx, cmd, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    store_combined(ctx, cmd, Op::Diff)
}

/// `SINTERCARD numkeys key … [LIMIT n]`.
fn sintercard(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let numkeys = parse_i64(cmd.arg(1)).ok_or(CmdError::NotInteger)?;
    if numkeys <= 0 {
        return Err(CmdError::text("ERR numkeys should be greater than 0"));
    }
    let numkeys = numkeys as usize;
    if numkeys > cmd.argc() - 2 {
        return Err(CmdError::text(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < cmd.argc() {
        if cmd.arg(i).eq_ignore_ascii_case(b"LIMIT") && i + 1 < cmd.argc() {
            let n = parse_i64(cmd.arg(i + 1)).ok_or(CmdError::NotInteger)?;
            if n < 0 {
                return Err(CmdError::text("ERR LIMIT can't be negative"));
            }
            limit = n as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = (2..2 + numkeys).map(|i| cmd.arg(i)).collect();
    let n = combine(ctx, &keys, Op::Inter, limit)?.len();
    ctx.out.int(n as i64);
    Ok(())
}

/// `SSCAN key cursor [MATCH p] [COUNT n]`: an intset in one reply with cursor 0, as in
/// Redis; a hash table a step at a time with Redis's cursor. As in Redis, the options are
/// read only once the key is found.
fn sscan(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let cursor = parse_cursor(cmd.arg(2))?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(set) = read(db, cmd.arg(1), now)? else {
        write_empty_scan(out);
        return Ok(());
    };
    let (pattern, count) = scan_options(cmd, 3)?;
    let mut members: Vec<Vec<u8>> = Vec::new();
    let next = set.scan(cursor, count, |m| {
        if pattern.as_ref().is_none_or(|p| glob::matches(p, m, false)) {
            members.push(m.to_vec());
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(members.len());
    for m in members {
        out.bulk(&m);
    }
    Ok(())
}
