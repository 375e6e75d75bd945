//! HyperLogLog commands: `PFADD`, `PFCOUNT`, `PFMERGE`, `PFDEBUG`, `PFSELFTEST`.
//!
//! The HLL is a plain string value in Redis's own layout (see
//! [`crate::node::keyspace::hyperloglog`]); these handlers find the string, check it is an HLL,
//! and change it in place. Which changes signal the key (`WATCH`) and count as dirty follows
//! Redis 7.0: `PFADD` only when a register changed, `PFCOUNT` on one key only when it stored a
//! fresh cached cardinality, `PFMERGE` always, `PFDEBUG`'s conversions never (but dirty).

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::hyperloglog::{self as hll, Encoding, HllError, REGISTERS};
use crate::node::keyspace::string::Str;
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("pfadd", pfadd),
    ("pfcount", pfcount),
    ("pfmerge", pfmerge),
    ("pfdebug", pfdebug),
    ("pfselftest", pfselftest),
];

impl From<HllError> for CmdError {
    fn from(e: HllError) -> CmdError {
        CmdError::text(e.to_string())
    }
}

/// A string's bytes, unless it is integer-encoded (which Redis never takes for an HLL).
fn stored_bytes(s: &Str) -> Option<&[u8]> {
    match s {
        Str::Int(_) => None,
        Str::Inline { len, buf } => Some(&buf[..usize::from(*len)]),
        Str::Boxed(data) => Some(data),
        Str::Raw(data) => Some(data),
    }
}

/// The value as an HLL to read: `WRONGTYPE` for another type, Redis's HLL-specific
/// `WRONGTYPE` for a string that is not an HLL.
fn read_hll(value: &Value) -> Result<&[u8], CmdError> {
    let bytes = stored_bytes(value.as_str()?).ok_or(HllError::NotHll)?;
    hll::check(bytes)?;
    Ok(bytes)
}

/// The value as an HLL to change, checked first and then made `raw` in place (Redis's
/// `dbUnshareStringValue`, which even a read-only `PFCOUNT` does).
fn write_hll(value: &mut Value) -> Result<&mut Vec<u8>, CmdError> {
    let s = value.as_str_mut()?;
    hll::check(stored_bytes(s).ok_or(HllError::NotHll)?)?;
    Ok(s.make_mut())
}

fn new_hll() -> Value {
    Value::Str(Str::Raw(Box::new(hll::new_sparse())))
}

/// Checks that `key` holds an HLL, or creates an empty one there (whether it did).
fn check_or_create(db: &mut Db, key: &[u8], now: i64) -> Result<bool, CmdError> {
    // A write's lookup (Redis's lookupKeyWrite): a miss is no `keymiss` event.
    if let Some(v) = db.get_mut_unsignalled(key, now) {
        read_hll(v)?;
        return Ok(false);
    }
    db.get_or_insert_with(key, now, new_hll);
    Ok(true)
}

fn sparse_max_bytes(ctx: &Ctx<'_>) -> usize {
    ctx.config.usize("hll-sparse-max-bytes")
}

fn count_hit(ctx: &mut Ctx<'_>, hit: bool) {
    if hit {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
}

/// `PFADD key [element …]`: 1 if a register changed (or the key was created), else 0.
fn pfadd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let key = cmd.arg(1);
    let now = ctx.now;
    let max = sparse_max_bytes(ctx);
    let db = ctx.db();
    let created = check_or_create(db, key, now)?;
    let Some(value) = db.get_mut_unsignalled(key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let data = write_hll(value)?;
    let mut updated = u64::from(created);
    for element in cmd.args().skip(2) {
        if hll::add(data, element, max)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate_cache(data);
        db.touch(key);
    }
    ctx.dirty(updated);
    if updated > 0 {
        ctx.notify(Events::STRING, "pfadd", key);
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

/// `PFCOUNT key [key …]`: the cardinality of one HLL (from its cache, or computed and cached),
/// or of the union of several.
fn pfcount(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 2 {
        return pfcount_union(ctx, cmd);
    }
    let key = cmd.arg(1);
    let now = ctx.now;
    let db = ctx.db();
    let Some(value) = db.get_mut_unsignalled(key, now) else {
        count_hit(ctx, false);
        ctx.out.int(0);
        return Ok(());
    };
    let data = write_hll(value)?;
    let (count, fresh) = match hll::cached_count(data) {
        Some(count) => (count, false),
        None => {
            let count = hll::count(data)?;
            hll::set_cached_count(data, count);
            (count, true)
        }
    };
    if fresh {
        db.touch(key);
        ctx.dirty(1);
    }
    count_hit(ctx, true);
    ctx.out.int(count as i64);
    Ok(())
}

/// The registers of the union of the HLLs at `keys` (missing keys are empty), and whether any
/// of them is dense.
fn union(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Result<(Box<[u8; REGISTERS]>, bool), CmdError> {
    let now = ctx.now;
    let mut max = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    for key in keys {
        let db = ctx.db();
        let Some(value) = db.value(key, now) else {
            count_hit(ctx, false);
            continue;
        };
        let data = read_hll(value)?;
        any_dense |= hll::check(data)? == Encoding::Dense;
        hll::merge_into(&mut max, data)?;
        count_hit(ctx, true);
    }
    Ok((max, any_dense))
}

fn pfcount_union(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let keys: Vec<&[u8]> = cmd.args().skip(1).collect();
    let (max, _) = union(ctx, &keys)?;
    ctx.out.int(hll::count_registers(&max) as i64);
    Ok(())
}

/// `PFMERGE destkey [sourcekey …]`: the destination (itself one of the sources) becomes the
/// union, dense if any source was.
fn pfmerge(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let keys: Vec<&[u8]> = cmd.args().skip(1).collect();
    let (max, any_dense) = union(ctx, &keys)?;
    let key = cmd.arg(1);
    let now = ctx.now;
    let sparse_max = sparse_max_bytes(ctx);
    let db = ctx.db();
    check_or_create(db, key, now)?;
    let Some(value) = db.get_mut_unsignalled(key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let data = write_hll(value)?;
    if any_dense {
        hll::to_dense(data)?;
    }
    for (index, &count) in max.iter().enumerate() {
        if count != 0 {
            // The destination was checked as a source: a valid HLL takes every register.
            let _ = hll::raise(data, index, count, sparse_max);
        }
    }
    hll::invalidate_cache(data);
    db.touch(key);
    ctx.dirty(1);
    ctx.notify(Events::STRING, "pfadd", key);
    ctx.out.ok();
    Ok(())
}

/// `PFDEBUG GETREG|DECODE|ENCODING|TODENSE key`.
fn pfdebug(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let sub = cmd.arg(1);
    let key = cmd.arg(2);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(value) = db.get_mut_unsignalled(key, now) else {
        return Err(CmdError::text("ERR The specified key does not exist"));
    };
    let data = write_hll(value)?;
    let mut converted = false;
    if sub.eq_ignore_ascii_case(b"getreg") {
        converted = hll::to_dense(data)?;
        out.array(REGISTERS);
        for register in hll::dense_registers(data) {
            out.int(i64::from(register));
        }
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if hll::check(data)? != Encoding::Sparse {
            return Err(CmdError::text("ERR HLL encoding is not sparse"));
        }
        out.bulk(hll::decode_sparse(data).as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        out.simple(hll::check(data)?.name().as_bytes());
    } else if sub.eq_ignore_ascii_case(b"todense") {
        converted = hll::to_dense(data)?;
        out.int(i64::from(converted));
    } else {
        return Err(unknown_subcommand(sub));
    }
    if converted {
        ctx.dirty(1);
    }
    Ok(())
}

/// Redis prints the subcommand as a C string (up to a NUL byte) with line breaks made spaces.
fn unknown_subcommand(sub: &[u8]) -> CmdError {
    let end = sub.iter().position(|&b| b == 0).unwrap_or(sub.len());
    let name: String = String::from_utf8_lossy(&sub[..end])
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    CmdError::text(format!("ERR Unknown PFDEBUG subcommand '{name}'"))
}

/// `PFSELFTEST`: Redis's self-test of the registers and the estimator.
fn pfselftest(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    hll::self_test(sparse_max_bytes(ctx)).map_err(CmdError::text)?;
    ctx.out.ok();
    Ok(())
}
