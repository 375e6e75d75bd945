//! Generic key commands: DEL EXISTS TYPE, expiry (EXPIRE … PERSIST), KEYS SCAN RANDOMKEY,
//! RENAME COPY MOVE SWAPDB, OBJECT.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::keyspace::{Kind, Value};
use crate::node::notify::Events;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
    ("touch", touch),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("move", move_),
    ("swapdb", swapdb),
    ("object|encoding", object_encoding),
    ("object|refcount", object_refcount),
    ("object|idletime", object_idletime),
    ("object|freq", object_freq),
];

fn del(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for key in cmd.args().skip(1) {
        if ctx.db().remove(key, now).is_some() {
            ctx.notify(Events::GENERIC, "del", key);
            n += 1;
        }
    }
    ctx.dirty(n);
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = cmd
        .args()
        .skip(1)
        .filter(|key| ctx.db().get_untouched(key, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let name = ctx
        .db()
        .get_untouched(cmd.arg(1), now)
        .map_or("none", |e| e.value.kind().name());
    ctx.out.simple(name.as_bytes());
    Ok(())
}

/// Expiry commands' unit and reference: seconds or milliseconds, relative or absolute.
#[derive(Clone, Copy)]
struct ExpireKind {
    name: &'static str,
    unit: i64,
    absolute: bool,
}

fn expire(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_expiry(
        ctx,
        cmd,
        ExpireKind {
            name: "expire",
            unit: 1000,
            absolute: false,
        },
    )
}

fn pexpire(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_expiry(
        ctx,
        cmd,
        ExpireKind {
            name: "pexpire",
            unit: 1,
            absolute: false,
        },
    )
}

fn expireat(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_expiry(
        ctx,
        cmd,
        ExpireKind {
            name: "expireat",
            unit: 1000,
            absolute: true,
        },
    )
}

fn pexpireat(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_expiry(
        ctx,
        cmd,
        ExpireKind {
            name: "pexpireat",
            unit: 1,
            absolute: true,
        },
    )
}

/// `EXPIRE key time [NX|XX|GT|LT]` and its three siblings.
fn set_expiry(ctx: &mut Ctx<'_>, cmd: &Command, kind: ExpireKind) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in cmd.args().skip(3) {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                return Err(CmdError::text(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::text(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::text(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let n = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    let invalid = || {
        CmdError::text(format!(
            "ERR invalid expire time in '{}' command",
            kind.name
        ))
    };
    let mut at = n.checked_mul(kind.unit).ok_or_else(invalid)?;
    if !kind.absolute {
        at = at.checked_add(ctx.now).ok_or_else(invalid)?;
    }
    let key = cmd.arg(1);
    let now = ctx.now;
    let Some(entry) = ctx.db().get(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = entry.expire_at();
    let allowed = match current {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || at > cur) && (!lt || at < cur),
    };
    if !allowed {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.db().set_expire(key, Some(at), now);
    ctx.dirty(1);
    ctx.propagate_expire_at(key, at);
    // A time already past deletes the key.
    let event = if at <= now { "del" } else { "expire" };
    ctx.notify(Events::GENERIC, event, key);
    ctx.out.int(1);
    Ok(())
}

/// The remaining time of `key` in ms: -2 no key, -1 no expiry.
fn remaining_ms(ctx: &mut Ctx<'_>, key: &[u8]) -> i64 {
    let now = ctx.now;
    match ctx.db().get_untouched(key, now) {
        None => -2,
        Some(e) => e.expire_at().map_or(-1, |at| (at - now).max(0)),
    }
}

fn ttl(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let ms = remaining_ms(ctx, cmd.arg(1));
    ctx.out.int(if ms < 0 { ms } else { (ms + 500) / 1000 });
    Ok(())
}

fn pttl(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let ms = remaining_ms(ctx, cmd.arg(1));
    ctx.out.int(ms);
    Ok(())
}

fn expiretime_ms(ctx: &mut Ctx<'_>, key: &[u8]) -> i64 {
    let now = ctx.now;
    match ctx.db().get_untouched(key, now) {
        None => -2,
        Some(e) => e.expire_at().unwrap_or(-1),
    }
}

fn expiretime(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let at = expiretime_ms(ctx, cmd.arg(1));
    ctx.out.int(if at < 0 { at } else { at / 1000 });
    Ok(())
}

fn pexpiretime(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let at = expiretime_ms(ctx, cmd.arg(1));
    ctx.out.int(at);
    Ok(())
}

fn persist(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let had = ctx.db().expire_at(cmd.arg(1), now).is_some();
    if had {
        ctx.db().set_expire(cmd.arg(1), None, now);
        ctx.dirty(1);
        ctx.notify(Events::GENERIC, "persist", cmd.arg(1));
    }
    ctx.out.int(i64::from(had));
    Ok(())
}

fn touch(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    exists(ctx, cmd)
}

/// Every live key matching `pattern`.
fn keys(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let pattern = cmd.arg(1);
    let all = pattern == b"*";
    let (db, out) = ctx.db_out();
    let found: Vec<&[u8]> = db
        .iter()
        .filter(|(_, e)| e.expire_at().is_none_or(|at| at > now))
        .map(|(k, _)| k.key())
        .filter(|k| all || glob::matches(pattern, k, false))
        .collect();
    out.array(found.len());
    for k in found {
        out.bulk(k);
    }
    Ok(())
}

/// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]`. The cursor is a keyspace position: the walk
/// goes in position order and resumes after the last position returned, so a key present for
/// the whole scan is returned exactly once however keys come and go in between.
fn scan(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let cursor = super::scan::parse_cursor(cmd.arg(1))?;
    let (mut pattern, mut count, mut kind) = (None, 10usize, None);
    let mut i = 2;
    while i < cmd.argc() {
        let value = cmd.get(i + 1).ok_or(CmdError::Syntax)?;
        match cmd.arg(i).to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = Some(value.to_vec()),
            b"COUNT" => {
                let n = parse_i64(value).ok_or(CmdError::NotInteger)?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                count = n as usize;
            }
            // An unknown type matches nothing, as in Redis 7.0.
            b"TYPE" => kind = Some(Kind::from_name(value)),
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut found: Vec<&[u8]> = Vec::new();
    let mut next = 0;
    let mut last_pos = None;
    for (examined, (k, e)) in db.range_from(cursor).enumerate() {
        // Stop only between positions, never inside a run of equal ones.
        if examined >= count && last_pos != Some(k.pos()) {
            next = k.pos();
            break;
        }
        last_pos = Some(k.pos());
        if e.expire_at().is_some_and(|at| at <= now)
            || pattern
                .as_ref()
                .is_some_and(|p| !glob::matches(p, k.key(), false))
            || kind.is_some_and(|t| t != Some(e.value.kind()))
        {
            continue;
        }
        found.push(k.key());
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for k in found {
        out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    // A random position, then the first live key from there, wrapping; bounded tries.
    let mut rng = rand::thread_rng();
    let mut picked = None;
    for _ in 0..100 {
        let pos = rand::Rng::gen_range(&mut rng, 0..(16384u64 << 48));
        let candidate = db
            .range_from(pos)
            .chain(db.iter())
            .find(|(_, e)| e.expire_at().is_none_or(|at| at > now))
            .map(|(k, _)| k.key().to_vec());
        if candidate.is_some() || db.is_empty() {
            picked = candidate;
            break;
        }
        // Only expired keys left near there: let active expiry make progress.
        db.expire_due(now, 100);
    }
    match picked {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    move_key(ctx, cmd, false)
}

fn renamenx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    move_key(ctx, cmd, true)
}

fn move_key(ctx: &mut Ctx<'_>, cmd: &Command, nx: bool) -> CmdResult {
    let (src, dst) = (cmd.arg(1), cmd.arg(2));
    let now = ctx.now;
    if !ctx.db().contains(src, now) {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.db().contains(dst, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let entry = ctx.db().remove_entry(src).expect("checked live above");
    let at = entry.expire_at();
    // Redis deletes an existing destination and adds the key anew.
    ctx.db().remove_entry(dst);
    ctx.db().set_with_expiry(dst, entry.value, at, now);
    ctx.dirty(1);
    ctx.notify(Events::GENERIC, "rename_from", src);
    ctx.notify(Events::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn db_index(ctx: &Ctx<'_>, arg: &[u8], err: &'static str) -> Result<usize, CmdError> {
    let n = parse_i64(arg).ok_or_else(|| CmdError::text(err))?;
    if n < 0 || n as usize >= ctx.ks.db_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(n as usize)
}

/// `COPY source destination [DB index] [REPLACE]`.
fn copy(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (mut target_db, mut replace) = (ctx.client.db, false);
    let mut i = 3;
    while i < cmd.argc() {
        match cmd.arg(i).to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"DB" if i + 1 < cmd.argc() => {
                target_db = db_index(
                    ctx,
                    cmd.arg(i + 1),
                    "ERR value is not an integer or out of range",
                )?;
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let (src, dst) = (cmd.arg(1), cmd.arg(2));
    if src == dst && target_db == ctx.client.db {
        return Err(CmdError::text(
            "ERR source and destination objects are the same",
        ));
    }
    let now = ctx.now;
    let Some(entry) = ctx.db().get(src, now).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    let target = ctx.ks.db(target_db);
    if target.contains_for_write(dst, now) && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    let at = entry.expire_at();
    // Redis deletes the old value and adds the copy as a new key.
    target.remove_entry(dst);
    target.set_with_expiry(dst, entry.value, at, now);
    ctx.dirty(1);
    ctx.notify_in(target_db, Events::GENERIC, "copy_to", dst);
    ctx.out.int(1);
    Ok(())
}

/// `MOVE key db`.
fn move_(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let target = db_index(
        ctx,
        cmd.arg(2),
        "ERR value is not an integer or out of range",
    )?;
    if target == ctx.client.db {
        return Err(CmdError::text(
            "ERR source and destination objects are the same",
        ));
    }
    let key = cmd.arg(1);
    let now = ctx.now;
    let source = ctx.client.db;
    if !ctx.db().contains(key, now) || ctx.ks.db(target).contains(key, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let (from, to) = ctx.ks.two_dbs(source, target);
    let entry = from.remove_entry(key).expect("checked live above");
    let at = entry.expire_at();
    to.set_with_expiry(key, entry.value, at, now);
    ctx.dirty(1);
    ctx.notify_in(source, Events::GENERIC, "move_from", key);
    ctx.notify_in(target, Events::GENERIC, "move_to", key);
    ctx.out.int(1);
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let a = db_index(ctx, cmd.arg(1), "ERR invalid first DB index")?;
    let b = db_index(ctx, cmd.arg(2), "ERR invalid second DB index")?;
    if a != b {
        let (x, y) = ctx.ks.two_dbs(a, b);
        x.swap_data(y);
        ctx.dirty(1);
    }
    ctx.out.ok();
    Ok(())
}

fn object_encoding(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_untouched(cmd.arg(2), now).map(|e| &e.value) {
        Some(v) => out.bulk(v.encoding().as_bytes()),
        None => out.null(),
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_untouched(cmd.arg(2), now).map(|e| &e.value) {
        // Redis shares the integers 0..9999 and reports them with INT_MAX references.
        Some(Value::Str(s))
            if s.as_int().is_some_and(|n| (0..10_000).contains(&n)) && s.encoding() == "int" =>
        {
            out.int(i32::MAX as i64)
        }
        Some(_) => out.int(1),
        None => out.null(),
    }
    Ok(())
}

/// `OBJECT IDLETIME`: seconds since a command last used the key.
fn object_idletime(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let policy = ctx.config.get("maxmemory-policy").to_string();
    if policy.ends_with("lfu") {
        return Err(CmdError::text("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let (db, out) = ctx.db_out();
    match db.get_untouched(cmd.arg(2), now) {
        Some(e) => out.int(e.idle_seconds() as i64),
        None => out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let policy = ctx.config.get("maxmemory-policy").to_string();
    let (db, out) = ctx.db_out();
    let Some(entry) = db.get_untouched(cmd.arg(2), now) else {
        out.null();
        return Ok(());
    };
    if !policy.ends_with("lfu") {
        return Err(CmdError::text("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    out.int(i64::from(entry.lfu_count()));
    Ok(())
}
