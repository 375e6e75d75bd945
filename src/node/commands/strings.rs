//! String commands: GET SET (and its family) MGET MSET APPEND STRLEN, counters, ranges, bits.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::string::Str;
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::node::number::LongDouble;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("append", append),
    ("strlen", strlen),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("getrange", getrange),
    ("substr", getrange),
    ("setrange", setrange),
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("lcs", lcs),
];

/// Largest string value, like Redis's default `proto-max-bulk-len`.
fn max_string_len(ctx: &Ctx<'_>) -> usize {
    ctx.config.usize("proto-max-bulk-len")
}

/// The string at `key`: None if missing, `WRONGTYPE` if another type.
fn read_str<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<Option<&'d Str>, CmdError> {
    match db.value(key, now) {
        Some(v) => Ok(Some(v.as_str()?)),
        None => Ok(None),
    }
}

/// The string at `key`, copied out.
fn read_bytes(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    let now = ctx.now;
    Ok(read_str(ctx.db(), key, now)?.map(Str::to_vec))
}

fn count_hit(ctx: &mut Ctx<'_>, hit: bool) {
    if hit {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
}

fn get(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let hit = match read_str(db, cmd.arg(1), now)? {
        Some(s) => {
            out.bulk(s.bytes(&mut itoa::Buffer::new()));
            true
        }
        None => {
            out.null();
            false
        }
    };
    count_hit(ctx, hit);
    Ok(())
}

/// When a write happens: always, only if the key is missing (`NX`), or only if it exists (`XX`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    Nx,
    Xx,
}

/// An expiry option as given: `EX`/`PX` relative, `EXAT`/`PXAT` absolute.
#[derive(Clone, Copy)]
enum ExpireArg {
    Ex(i64),
    Px(i64),
    ExAt(i64),
    PxAt(i64),
}

impl ExpireArg {
    /// The absolute unix-ms time, or Redis's "invalid expire time" error for `command`.
    fn resolve(self, now: i64, command: &str) -> Result<i64, CmdError> {
        let invalid = || CmdError::text(format!("ERR invalid expire time in '{command}' command"));
        let (n, unit, absolute) = match self {
            ExpireArg::Ex(n) => (n, 1000, false),
            ExpireArg::Px(n) => (n, 1, false),
            ExpireArg::ExAt(n) => (n, 1000, true),
            ExpireArg::PxAt(n) => (n, 1, true),
        };
        if n <= 0 {
            return Err(invalid());
        }
        let ms = n.checked_mul(unit).ok_or_else(invalid)?;
        if absolute {
            Ok(ms)
        } else {
            ms.checked_add(now).ok_or_else(invalid)
        }
    }
}

/// `SET`'s options, parsed before anything runs.
struct SetOptions {
    condition: Condition,
    get: bool,
    keep_ttl: bool,
    expire: Option<ExpireArg>,
}

fn parse_set_options(cmd: &Command, from: usize) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions {
        condition: Condition::Always,
        get: false,
        keep_ttl: false,
        expire: None,
    };
    let mut i = from;
    while i < cmd.argc() {
        let opt = cmd.arg(i).to_ascii_uppercase();
        let next = cmd.get(i + 1);
        match (opt.as_slice(), next) {
            (b"NX", _) if o.condition == Condition::Always => o.condition = Condition::Nx,
            (b"XX", _) if o.condition == Condition::Always => o.condition = Condition::Xx,
            (b"GET", _) => o.get = true,
            (b"KEEPTTL", _) if o.expire.is_none() => o.keep_ttl = true,
            (b"EX" | b"PX" | b"EXAT" | b"PXAT", Some(value))
                if o.expire.is_none() && !o.keep_ttl =>
            {
                let n = parse_i64(value).ok_or(CmdError::NotInteger)?;
                o.expire = Some(match opt.as_slice() {
                    b"EX" => ExpireArg::Ex(n),
                    b"PX" => ExpireArg::Px(n),
                    b"EXAT" => ExpireArg::ExAt(n),
                    _ => ExpireArg::PxAt(n),
                });
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    Ok(o)
}

fn set(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let o = parse_set_options(cmd, 3)?;
    let expire_at = o.expire.map(|e| e.resolve(ctx.now, "set")).transpose()?;
    let key = cmd.arg(1);
    let now = ctx.now;
    let old = if o.get { read_bytes(ctx, key)? } else { None };
    let exists = if o.get {
        old.is_some()
    } else {
        ctx.db().contains(key, now)
    };
    let proceed = match o.condition {
        Condition::Always => true,
        Condition::Nx => !exists,
        Condition::Xx => exists,
    };
    if proceed {
        let value = Value::Str(Str::from_bytes(cmd.arg(2)));
        if o.keep_ttl {
            ctx.db().set_keep_ttl(key, value, now);
        } else {
            ctx.db().set_with_expiry(key, value, expire_at, now);
        }
        ctx.dirty(1);
        if let Some(at) = expire_at {
            ctx.propagate_set_at(key, cmd.arg(2), at);
        }
        ctx.notify(Events::STRING, "set", key);
        if expire_at.is_some() {
            ctx.notify(Events::GENERIC, "expire", key);
        }
    }
    match (o.get, old) {
        (true, Some(old)) => ctx.out.bulk(&old),
        (true, None) => ctx.out.null(),
        (false, _) if proceed => ctx.out.ok(),
        (false, _) => ctx.out.null(),
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    if ctx.db().contains(cmd.arg(1), now) {
        ctx.out.int(0);
    } else {
        ctx.db()
            .set(cmd.arg(1), Value::Str(Str::from_bytes(cmd.arg(2))), now);
        ctx.dirty(1);
        ctx.notify(Events::STRING, "set", cmd.arg(1));
        ctx.out.int(1);
    }
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_with_ttl_arg(ctx, cmd, "setex", ExpireArg::Ex)
}

fn psetex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_with_ttl_arg(ctx, cmd, "psetex", ExpireArg::Px)
}

fn set_with_ttl_arg(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    name: &str,
    unit: fn(i64) -> ExpireArg,
) -> CmdResult {
    let n = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    let now = ctx.now;
    let at = unit(n).resolve(now, name)?;
    ctx.db().set_with_expiry(
        cmd.arg(1),
        Value::Str(Str::from_bytes(cmd.arg(3))),
        Some(at),
        now,
    );
    ctx.dirty(1);
    ctx.propagate_set_at(cmd.arg(1), cmd.arg(3), at);
    ctx.notify(Events::STRING, "set", cmd.arg(1));
    ctx.notify(Events::GENERIC, "expire", cmd.arg(1));
    ctx.out.ok();
    Ok(())
}

fn getset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let old = read_bytes(ctx, cmd.arg(1))?;
    let now = ctx.now;
    ctx.db()
        .set(cmd.arg(1), Value::Str(Str::from_bytes(cmd.arg(2))), now);
    ctx.dirty(1);
    ctx.notify(Events::STRING, "set", cmd.arg(1));
    match old {
        Some(old) => ctx.out.bulk(&old),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let old = read_bytes(ctx, cmd.arg(1))?;
    count_hit(ctx, old.is_some());
    match old {
        Some(old) => {
            let now = ctx.now;
            ctx.db().remove(cmd.arg(1), now);
            ctx.dirty(1);
            ctx.propagate_as([&b"DEL"[..], cmd.arg(1)]);
            ctx.notify(Events::GENERIC, "del", cmd.arg(1));
            ctx.out.bulk(&old);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`.
fn getex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut expire = None;
    let mut persist = false;
    let mut i = 2;
    while i < cmd.argc() {
        let opt = cmd.arg(i).to_ascii_uppercase();
        match (opt.as_slice(), cmd.get(i + 1)) {
            (b"PERSIST", _) if expire.is_none() && !persist => persist = true,
            (b"EX" | b"PX" | b"EXAT" | b"PXAT", Some(v)) if expire.is_none() && !persist => {
                let n = parse_i64(v).ok_or(CmdError::NotInteger)?;
                expire = Some(match opt.as_slice() {
                    b"EX" => ExpireArg::Ex(n),
                    b"PX" => ExpireArg::Px(n),
                    b"EXAT" => ExpireArg::ExAt(n),
                    _ => ExpireArg::PxAt(n),
                });
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let at = expire.map(|e| e.resolve(ctx.now, "getex")).transpose()?;
    let key = cmd.arg(1);
    let Some(value) = read_bytes(ctx, key)? else {
        count_hit(ctx, false);
        ctx.out.null();
        return Ok(());
    };
    count_hit(ctx, true);
    let now = ctx.now;
    if let Some(at) = at {
        ctx.db().set_expire(key, Some(at), now);
        ctx.dirty(1);
        ctx.propagate_expire_at(key, at);
        // A time already past deletes the key.
        let event = if at <= now { "del" } else { "expire" };
        ctx.notify(Events::GENERIC, event, key);
    } else if persist && ctx.db().expire_at(key, now).is_some() {
        ctx.db().set_expire(key, None, now);
        ctx.dirty(1);
        ctx.propagate_as([&b"PERSIST"[..], key]);
        ctx.notify(Events::GENERIC, "persist", key);
    }
    ctx.out.bulk(&value);
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    ctx.out.array(cmd.argc() - 1);
    for key in cmd.args().skip(1) {
        let (db, out) = ctx.db_out();
        match db.value(key, now) {
            Some(Value::Str(s)) => out.bulk(s.bytes(&mut itoa::Buffer::new())),
            _ => out.null(),
        }
    }
    Ok(())
}

fn check_pairs(cmd: &Command, name: &str) -> CmdResult {
    if cmd.argc().is_multiple_of(2) {
        Err(CmdError::arity(name))
    } else {
        Ok(())
    }
}

fn mset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    check_pairs(cmd, "mset")?;
    set_pairs(ctx, cmd);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    check_pairs(cmd, "msetnx")?;
    let now = ctx.now;
    let any_exists = (1..cmd.argc())
        .step_by(2)
        .any(|i| ctx.db().contains(cmd.arg(i), now));
    if any_exists {
        ctx.out.int(0);
    } else {
        set_pairs(ctx, cmd);
        ctx.out.int(1);
    }
    Ok(())
}

fn set_pairs(ctx: &mut Ctx<'_>, cmd: &Command) {
    let now = ctx.now;
    for i in (1..cmd.argc()).step_by(2) {
        ctx.db()
            .set(cmd.arg(i), Value::Str(Str::from_bytes(cmd.arg(i + 1))), now);
        ctx.notify(Events::STRING, "set", cmd.arg(i));
    }
    ctx.dirty((cmd.argc() as u64 - 1) / 2);
}

fn append(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (key, tail) = (cmd.arg(1), cmd.arg(2));
    let now = ctx.now;
    let current = read_str(ctx.db(), key, now)?.map(Str::len);
    let len = match current {
        None => {
            ctx.db()
                .set_keep_ttl(key, Value::Str(Str::from_bytes(tail)), now);
            tail.len()
        }
        Some(len) => {
            if len + tail.len() > max_string_len(ctx) {
                return Err(too_big());
            }
            let value = ctx.db().get_mut(key, now).expect("checked above");
            let data = value.as_str_mut()?.make_mut();
            data.extend_from_slice(tail);
            data.len()
        }
    };
    ctx.dirty(1);
    ctx.notify(Events::STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn too_big() -> CmdError {
    CmdError::text("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

fn strlen(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let len = read_str(ctx.db(), cmd.arg(1), now)?.map_or(0, Str::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    add_to(ctx, cmd.arg(1), 1)
}

fn decr(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    add_to(ctx, cmd.arg(1), -1)
}

fn incrby(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let by = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    add_to(ctx, cmd.arg(1), by)
}

fn decrby(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let by = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    let by = by
        .checked_neg()
        .ok_or_else(|| CmdError::text("ERR decrement would overflow"))?;
    add_to(ctx, cmd.arg(1), by)
}

/// `INCRBY`'s core: the key's integer plus `by`, kept with the key's expiry.
fn add_to(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now;
    // One lookup: the integer is changed in place, the expiry left as it is.
    let changed = ctx.db().try_modify(key, now, |value| {
        let s = value.as_str_mut()?;
        let current = s.as_int().ok_or(CmdError::NotInteger)?;
        let new = current.checked_add(by).ok_or(CmdError::Overflow)?;
        *s = Str::from_int(new);
        Ok::<i64, CmdError>(new)
    });
    let new = match changed {
        Some(result) => result?,
        None => {
            ctx.db().set(key, Value::Str(Str::from_int(by)), now);
            by
        }
    };
    ctx.dirty(1);
    ctx.notify(Events::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

/// `INCRBYFLOAT key increment`, in 80-bit long doubles as Redis computes it, the result
/// stored as Redis prints it for humans (`%.17Lf`, trailing zeros dropped).
fn incrbyfloat(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let key = cmd.arg(1);
    let now = ctx.now;
    let current = match read_str(ctx.db(), key, now)? {
        Some(s) => LongDouble::parse(&s.to_vec()).ok_or(CmdError::NotFloat)?,
        None => LongDouble::ZERO,
    };
    let by = LongDouble::parse(cmd.arg(2)).ok_or(CmdError::NotFloat)?;
    let new = current + by;
    if !new.is_finite() {
        return Err(CmdError::text(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = new.to_human();
    ctx.db()
        .set_keep_ttl(key, Value::Str(Str::from_bytes(text.as_bytes())), now);
    ctx.dirty(1);
    // The sum as stored: a replica's arithmetic could differ in the last digit.
    ctx.propagate_as([&b"SET"[..], key, text.as_bytes(), b"KEEPTTL"]);
    ctx.notify(Events::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// Redis's range rule for `GETRANGE`/`BITCOUNT`/`BITPOS`: negative indexes count from the end;
/// None when the range is empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end };
    let end = end.min(len - 1);
    (start <= end).then_some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let start = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    let end = parse_i64(cmd.arg(3)).ok_or(CmdError::NotInteger)?;
    let value = read_bytes(ctx, cmd.arg(1))?.unwrap_or_default();
    match clamp_range(start, end, value.len()) {
        Some((s, e)) => ctx.out.bulk(&value[s..=e]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (key, patch) = (cmd.arg(1), cmd.arg(3));
    let offset = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    if offset < 0 {
        return Err(CmdError::text("ERR offset is out of range"));
    }
    let now = ctx.now;
    let current = read_str(ctx.db(), key, now)?.map(Str::len);
    if patch.is_empty() {
        ctx.out.int(current.unwrap_or(0) as i64);
        return Ok(());
    }
    let offset = offset as usize;
    if offset.saturating_add(patch.len()) > max_string_len(ctx) {
        return Err(too_big());
    }
    let value = ctx
        .db()
        .get_or_insert_with(key, now, || Value::Str(Str::from_bytes(b"")));
    let data = value.as_str_mut()?.make_mut();
    if data.len() < offset + patch.len() {
        data.resize(offset + patch.len(), 0);
    }
    data[offset..offset + patch.len()].copy_from_slice(patch);
    let len = data.len();
    ctx.dirty(1);
    ctx.notify(Events::STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

/// A bit offset: a non-negative integer below `proto-max-bulk-len` × 8.
fn parse_bit_offset(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, CmdError> {
    let err = || CmdError::text("ERR bit offset is not an integer or out of range");
    let n = parse_i64(arg).ok_or_else(err)?;
    if n < 0 || (n as u64) >= (max_string_len(ctx) as u64) * 8 {
        return Err(err());
    }
    Ok(n as usize)
}

fn setbit(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let offset = parse_bit_offset(ctx, cmd.arg(2))?;
    let on = match cmd.arg(3) {
        b"1" => true,
        b"0" => false,
        _ => return Err(CmdError::text("ERR bit is not an integer or out of range")),
    };
    let key = cmd.arg(1);
    let now = ctx.now;
    read_str(ctx.db(), key, now)?;
    let value = ctx
        .db()
        .get_or_insert_with(key, now, || Value::Str(Str::from_bytes(b"")));
    let data = value.as_str_mut()?.make_mut();
    let byte = offset / 8;
    let grew = data.len() <= byte;
    if grew {
        data.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (offset % 8);
    let old = data[byte] & mask != 0;
    if on {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
    // Redis 7.0 counts (and publishes) only a string created, grown, or changed.
    if grew || old != on {
        ctx.dirty(1);
        ctx.notify(Events::STRING, "setbit", key);
    }
    ctx.out.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let offset = parse_bit_offset(ctx, cmd.arg(2))?;
    let value = read_bytes(ctx, cmd.arg(1))?.unwrap_or_default();
    let bit = value
        .get(offset / 8)
        .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0);
    ctx.out.int(i64::from(bit));
    Ok(())
}

/// `BYTE` (the default) or `BIT` as the unit of a range.
fn parse_unit(arg: Option<&[u8]>) -> Result<bool, CmdError> {
    match arg {
        None => Ok(false),
        Some(u) if u.eq_ignore_ascii_case(b"BYTE") => Ok(false),
        Some(u) if u.eq_ignore_ascii_case(b"BIT") => Ok(true),
        Some(_) => Err(CmdError::Syntax),
    }
}

fn bit_at(data: &[u8], i: usize) -> bool {
    data[i / 8] & (0x80 >> (i % 8)) != 0
}

fn bitcount(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let range = match cmd.argc() {
        2 => None,
        4 | 5 => {
            let start = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
            let end = parse_i64(cmd.arg(3)).ok_or(CmdError::NotInteger)?;
            Some((start, end, parse_unit(cmd.get(4))?))
        }
        _ => return Err(CmdError::Syntax),
    };
    let data = read_bytes(ctx, cmd.arg(1))?.unwrap_or_default();
    let count = match range {
        None => data.iter().map(|b| b.count_ones() as usize).sum(),
        Some((start, end, false)) => clamp_range(start, end, data.len()).map_or(0, |(s, e)| {
            data[s..=e].iter().map(|b| b.count_ones() as usize).sum()
        }),
        Some((start, end, true)) => clamp_range(start, end, data.len() * 8)
            .map_or(0, |(s, e)| (s..=e).filter(|&i| bit_at(&data, i)).count()),
    };
    ctx.out.int(count as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let want = match cmd.arg(2) {
        b"1" => true,
        b"0" => false,
        _ if parse_i64(cmd.arg(2)).is_none() => return Err(CmdError::NotInteger),
        _ => return Err(CmdError::text("ERR The bit argument must be 1 or 0.")),
    };
    let start = cmd
        .get(3)
        .map(|a| parse_i64(a).ok_or(CmdError::NotInteger))
        .transpose()?;
    let end = cmd
        .get(4)
        .map(|a| parse_i64(a).ok_or(CmdError::NotInteger))
        .transpose()?;
    let bits = parse_unit(cmd.get(5))?;
    if cmd.argc() > 6 {
        return Err(CmdError::Syntax);
    }
    let Some(data) = read_bytes(ctx, cmd.arg(1))? else {
        ctx.out.int(if want { -1 } else { 0 });
        return Ok(());
    };
    let end_given = end.is_some();
    let total = if bits { data.len() * 8 } else { data.len() };
    let Some((s, e)) = clamp_range(start.unwrap_or(0), end.unwrap_or(-1), total) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let (first_bit, last_bit) = if bits { (s, e) } else { (s * 8, e * 8 + 7) };
    let found = (first_bit..=last_bit).find(|&i| bit_at(&data, i) == want);
    let pos = match found {
        Some(i) => i as i64,
        // Looking for a clear bit with no end given: the string is padded with zeros on the
        // right, so the first clear bit is just past it.
        None if !want && !end_given && !bits => (last_bit + 1) as i64,
        None => -1,
    };
    ctx.out.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let op = cmd.arg(1).to_ascii_uppercase();
    if !matches!(op.as_slice(), b"AND" | b"OR" | b"XOR" | b"NOT") {
        return Err(CmdError::Syntax);
    }
    if op == b"NOT" && cmd.argc() != 4 {
        return Err(CmdError::text(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources = Vec::with_capacity(cmd.argc() - 3);
    for key in cmd.args().skip(3) {
        sources.push(read_bytes(ctx, key)?.unwrap_or_default());
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
            match op.as_slice() {
                b"NOT" => !byte(&sources[0]),
                b"AND" => sources.iter().map(byte).fold(0xff, |a, b| a & b),
                b"OR" => sources.iter().map(byte).fold(0, |a, b| a | b),
                _ => sources.iter().map(byte).fold(0, |a, b| a ^ b),
            }
        })
        .collect();
    let dest = cmd.arg(2);
    let now = ctx.now;
    if result.is_empty() {
        if ctx.db().remove(dest, now).is_some() {
            ctx.notify(Events::GENERIC, "del", dest);
        }
    } else {
        let mut value = Str::from_bytes(b"");
        *value.make_mut() = result;
        ctx.db().set(dest, Value::Str(value), now);
        ctx.notify(Events::STRING, "set", dest);
    }
    ctx.dirty(1);
    ctx.out.int(len as i64);
    Ok(())
}

/// `LCS a b [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`.
fn lcs(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < cmd.argc() {
        let opt = cmd.arg(i).to_ascii_uppercase();
        match opt.as_slice() {
            b"LEN" => len_only = true,
            b"IDX" => idx = true,
            b"WITHMATCHLEN" => with_len = true,
            b"MINMATCHLEN" if i + 1 < cmd.argc() => {
                min_len = parse_i64(cmd.arg(i + 1))
                    .ok_or(CmdError::NotInteger)?
                    .max(0);
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    if len_only && idx {
        return Err(CmdError::text(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let a = read_bytes(ctx, cmd.arg(1))?.unwrap_or_default();
    let b = read_bytes(ctx, cmd.arg(2))?.unwrap_or_default();
    // The table is (|a|+1) × (|b|+1) u32s, as in Redis, and bounded the same way.
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > max_string_len(ctx) as u64 {
        return Err(CmdError::text(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = b.len() + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[a.len() * w + b.len()] as usize;
    if len_only {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the common string and its matching ranges.
    let mut common = vec![0u8; total];
    let mut ranges: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut current: Option<((usize, usize), (usize, usize))> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            k -= 1;
            common[k] = a[i - 1];
            let (ai, bj) = (i - 1, j - 1);
            current = match current {
                Some(((a0, a1), (b0, b1))) if a0 == ai + 1 && b0 == bj + 1 => {
                    Some(((ai, a1), (bj, b1)))
                }
                other => {
                    if let Some(r) = other {
                        ranges.push(r);
                    }
                    Some(((ai, ai), (bj, bj)))
                }
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    ranges.extend(current);
    if !idx {
        ctx.out.bulk(&common);
        return Ok(());
    }
    let kept: Vec<_> = ranges
        .into_iter()
        .filter(|((a0, a1), _)| (a1 - a0 + 1) as i64 >= min_len)
        .collect();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(kept.len());
    for ((a0, a1), (b0, b1)) in kept {
        out.array(if with_len { 3 } else { 2 });
        out.array(2);
        out.int(a0 as i64);
        out.int(a1 as i64);
        out.array(2);
        out.int(b0 as i64);
        out.int(b1 as i64);
        if with_len {
            out.int((a1 - a0 + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(0, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(0, 0, 0), None);
    }

    #[test]
    fn floats_add_and_print_as_long_doubles() {
        let sum = |a: &str, b: &str| {
            let a = LongDouble::parse(a.as_bytes()).unwrap();
            (a + LongDouble::parse(b.as_bytes()).unwrap()).to_human()
        };
        assert_eq!(sum("10.5", "0.1"), "10.6");
        // f64 would give 0.30000000000000004.
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("3", "0"), "3");
        assert_eq!(sum("5.0e3", "0"), "5000");
        assert_eq!(sum("-1", "1"), "0");
        assert_eq!(sum("0x1p3", "0x.8"), "8.5");
        assert!(LongDouble::parse(b" 1").is_none() && LongDouble::parse(b"nan").is_none());
    }
}
