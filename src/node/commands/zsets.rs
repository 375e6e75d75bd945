//! Sorted-set commands: ZADD … BZPOPMIN …, with Redis 7.0's replies and error texts.
//!
//! Scores are parsed like Redis's `strtod`-based readers (two flavours: the strict one for
//! values, the lenient one for `ZRANGEBYSCORE` bounds); doubles are answered with
//! [`Reply::double`] (RESP3 `,` or the `%.17g` bulk string).

use std::borrow::Cow;
use std::collections::HashMap;

use rand::seq::SliceRandom;

use super::scan::{parse_cursor, scan_options, write_empty_scan};
use super::{Ctx, Handler};
use crate::node::blocking::{parse_timeout, TimeoutReply};
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::keyspace::set::Set;
use crate::node::keyspace::zset::{LexBound, LexRange, ScoreRange, ZSet, ZSetLimits};
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::node::number::strtod;
use crate::node::reply::{format_double, Reply};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("zmpop", zmpop),
    ("bzmpop", bzmpop),
    ("zrandmember", zrandmember),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zintercard", zintercard),
    ("zscan", zscan),
];

/// `ZRANDMEMBER` with a negative count answers this many picks at most (Redis would try to
/// answer any number and run out of memory).
const MAX_RANDOM_PICKS: u64 = 1 << 24;

// ---------------------------------------------------------------------------------------------
// Parsing

/// A score or other double argument, as Redis's `getDoubleFromObject` reads it: no leading
/// space, no NaN, no overflow to infinity or underflow to zero.
pub(super) fn parse_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let v = strtod(arg)?;
    if v.is_nan() {
        return None;
    }
    let text = arg.to_ascii_lowercase();
    let mantissa = text
        .split(|&c| c == b'e' || c == b'p')
        .next()
        .unwrap_or_default();
    let is_hex = text.windows(2).any(|w| w == b"0x");
    if v.is_infinite() && !text.ends_with(b"inf") && !text.ends_with(b"infinity") {
        return None;
    }
    let nonzero_digit = mantissa
        .iter()
        .skip(if is_hex { 2 } else { 0 })
        .any(|c| c.is_ascii_hexdigit() && *c != b'0' && (is_hex || c.is_ascii_digit()));
    if v == 0.0 && nonzero_digit {
        return None;
    }
    Some(v)
}

fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_double(arg).ok_or(CmdError::NotFloat)
}

fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// `getRangeLongFromObjectOrReply` with a message: the message for any failure.
fn ranged_arg(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CmdError::text(msg)),
    }
}

fn min_max_not_float() -> CmdError {
    CmdError::text("ERR min or max is not a float")
}

fn not_lex_item() -> CmdError {
    CmdError::text("ERR min or max not valid string range item")
}

/// `ZRANGEBYSCORE`'s bounds: `(` for exclusive, lenient `strtod` otherwise.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    fn bound(arg: &[u8]) -> Option<(f64, bool)> {
        let (text, ex) = match arg.split_first() {
            Some((b'(', rest)) => (rest, true),
            _ => (arg, false),
        };
        let v = strtod(text)?;
        (!v.is_nan()).then_some((v, ex))
    }
    let (min, min_ex) = bound(min).ok_or_else(min_max_not_float)?;
    let (max, max_ex) = bound(max).ok_or_else(min_max_not_float)?;
    Ok(ScoreRange {
        min,
        max,
        min_ex,
        max_ex,
    })
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    fn bound(arg: &[u8]) -> Option<LexBound> {
        match arg.split_first()? {
            (b'+', []) => Some(LexBound::PosInf),
            (b'-', []) => Some(LexBound::NegInf),
            (b'[', rest) => Some(LexBound::Incl(rest.to_vec())),
            (b'(', rest) => Some(LexBound::Excl(rest.to_vec())),
            _ => None,
        }
    }
    Ok(LexRange {
        min: bound(min).ok_or_else(not_lex_item)?,
        max: bound(max).ok_or_else(not_lex_item)?,
    })
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub(super) fn limits(ctx: &Ctx<'_>) -> ZSetLimits {
    let config = &ctx.config;
    ZSetLimits {
        entries: config.usize("zset-max-listpack-entries"),
        value: config.usize("zset-max-listpack-value"),
    }
}

// ---------------------------------------------------------------------------------------------
// Keyspace access

/// The live sorted set at `key`, or `WRONGTYPE`.
pub(super) fn read<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a ZSet>, CmdError> {
    match db.value(key, now) {
        Some(v) => Ok(Some(v.as_zset()?)),
        None => Ok(None),
    }
}

/// The value at `key` without expiring anything: callers expire first with `Db::get`, so
/// several values can be borrowed at once.
pub(super) fn peek<'a>(db: &'a Db, key: &[u8]) -> Option<&'a Value> {
    db.peek(key).map(|e| &e.value)
}

pub(super) fn count_lookup(ctx: &mut Ctx<'_>, found: bool) {
    if found {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

/// Members (with their scores): a flat array in RESP2, `[member, score]` pairs in RESP3.
fn write_members<'a>(
    out: &mut Reply,
    items: impl IntoIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let items: Vec<(&[u8], f64)> = items.into_iter().collect();
    if withscores && !out.is_resp3() {
        out.array(items.len() * 2);
    } else {
        out.array(items.len());
    }
    for (m, s) in items {
        if withscores && out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

/// ZADD's options (also GEOADD's NX, XX and CH).
#[derive(Default)]
pub(super) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

fn zadd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < cmd.argc() {
        let a = cmd.arg(i);
        if is(a, "nx") {
            flags.nx = true;
        } else if is(a, "xx") {
            flags.xx = true;
        } else if is(a, "ch") {
            flags.ch = true;
        } else if is(a, "incr") {
            flags.incr = true;
        } else if is(a, "gt") {
            flags.gt = true;
        } else if is(a, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = cmd.argc() - i;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::text(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if [flags.gt, flags.lt, flags.nx]
        .iter()
        .filter(|&&f| f)
        .count()
        > 1
    {
        return Err(CmdError::text(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && elements > 2 {
        return Err(CmdError::text(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for j in (i..cmd.argc()).step_by(2) {
        pairs.push((score_arg(cmd.arg(j))?, cmd.arg(j + 1)));
    }
    add(ctx, cmd.arg(1), &flags, &pairs)
}

fn zincrby(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let incr = score_arg(cmd.arg(2))?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add(ctx, cmd.arg(1), &flags, &[(incr, cmd.arg(3))])
}

/// ZADD's work once its arguments are checked (Redis's `zsetAdd` per pair).
pub(super) fn add(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    flags: &AddFlags,
    pairs: &[(f64, &[u8])],
) -> CmdResult {
    let now = ctx.now;
    let limits = limits(ctx);
    let db = ctx.db();
    let exists = match db.value(key, now) {
        Some(v) => {
            v.as_zset()?;
            true
        }
        None => false,
    };
    if !exists && flags.xx {
        if flags.incr {
            ctx.out.null();
        } else {
            ctx.out.int(0);
        }
        return Ok(());
    }
    if flags.incr {
        // The only failure after this point: check it before changing anything.
        if let Some(z) = read(db, key, now)? {
            let (incr, member) = pairs[0];
            if z.score(member).is_some_and(|cur| (cur + incr).is_nan()) && !flags.nx {
                return Err(CmdError::text("ERR resulting score is not a number (NaN)"));
            }
        }
    }
    let first_len = pairs[0].1.len();
    let value = db.get_or_insert_with(key, now, || {
        Value::ZSet(Box::new(ZSet::new_for(limits, first_len)))
    });
    let z = value.as_zset_mut()?;
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    for &(score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if flags.nx {
                    continue;
                }
                let new = if flags.incr { score + cur } else { score };
                if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
                    continue;
                }
                processed += 1;
                last = new;
                if new != cur {
                    z.insert(member, new, limits);
                    updated += 1;
                }
            }
            None if !flags.xx => {
                z.insert(member, score, limits);
                added += 1;
                processed += 1;
                last = score;
            }
            None => {}
        }
    }
    db.remove_if_empty(key);
    ctx.dirty(added + updated);
    if added + updated > 0 {
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.notify(Events::ZSET, event, key);
    }
    if flags.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int((if flags.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    let db = ctx.db();
    if read(db, key, now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let mut removed = 0;
    if let Some(v) = db.get_mut(key, now) {
        let z = v.as_zset_mut()?;
        for m in cmd.args().skip(2) {
            if z.remove(m).is_some() {
                removed += 1;
            }
        }
    }
    ctx.dirty(removed);
    if removed > 0 {
        ctx.notify(Events::ZSET, "zrem", key);
        ctx.remove_if_empty(key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads by member, counts

fn zcard(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?.map(ZSet::len);
    count_lookup(ctx, n.is_some());
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let range = parse_score_range(cmd.arg(2), cmd.arg(3))?;
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?.map(|z| z.range_by_score(&range).count());
    count_lookup(ctx, n.is_some());
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let range = parse_lex_range(cmd.arg(2), cmd.arg(3))?;
    let now = ctx.now;
    let n = read(ctx.db(), cmd.arg(1), now)?.map(|z| z.range_by_lex(&range, false).count());
    count_lookup(ctx, n.is_some());
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let found = read(ctx.db(), cmd.arg(1), now)?.map(|z| z.score(cmd.arg(2)));
    count_lookup(ctx, found.is_some());
    match found.flatten() {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let z = read(db, cmd.arg(1), now)?;
    let found = z.is_some();
    out.array(cmd.argc() - 2);
    for m in cmd.args().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    count_lookup(ctx, found);
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    rank(ctx, cmd, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    rank(ctx, cmd, true)
}

fn rank(ctx: &mut Ctx<'_>, cmd: &Command, rev: bool) -> CmdResult {
    let now = ctx.now;
    let found = read(ctx.db(), cmd.arg(1), now)?.map(|z| {
        z.rank(cmd.arg(2))
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    count_lookup(ctx, found.is_some());
    match found.flatten() {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its family

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request: what to take and how.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct RangeQuery {
    spec: RangeSpec,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

impl RangeQuery {
    /// The selected members of `z`, in reply order.
    fn select<'a>(&self, z: &'a ZSet) -> Vec<(&'a [u8], f64)> {
        match &self.spec {
            RangeSpec::Rank(start, end) => {
                let len = z.len() as i64;
                let (mut start, mut end) = (*start, *end);
                if start < 0 {
                    start += len;
                }
                if end < 0 {
                    end += len;
                }
                if start < 0 {
                    start = 0;
                }
                if start > end || start >= len {
                    return Vec::new();
                }
                if end >= len {
                    end = len - 1;
                }
                let (start, end) = (start as usize, end as usize);
                if self.rev {
                    let n = z.len();
                    z.range_by_rank(n - 1 - end, n - start).rev().collect()
                } else {
                    z.range_by_rank(start, end + 1).collect()
                }
            }
            RangeSpec::Score(r) => {
                let it = z.range_by_score(r);
                if self.rev {
                    self.page(it.rev())
                } else {
                    self.page(it)
                }
            }
            RangeSpec::Lex(r) => {
                let it = z.range_by_lex(r, self.rev);
                if self.rev {
                    self.page(it.rev())
                } else {
                    self.page(it)
                }
            }
        }
    }

    /// `LIMIT offset count`: a negative offset selects nothing, a negative count everything.
    fn page<'a>(&self, it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<(&'a [u8], f64)> {
        if self.offset < 0 {
            return Vec::new();
        }
        let it = it.skip(self.offset as usize);
        if self.limit < 0 {
            it.collect()
        } else {
            it.take(self.limit as usize).collect()
        }
    }
}

/// Parses Redis's `zrangeGenericCommand` arguments: the source key at `key_at`, the range after
/// it, options after that. `by`/`rev` are fixed by the legacy commands.
fn parse_range(
    cmd: &Command,
    key_at: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<RangeQuery, CmdError> {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0, -1);
    let mut j = key_at + 3;
    while j < cmd.argc() {
        let a = cmd.arg(j);
        let left = cmd.argc() - j - 1;
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = int_arg(cmd.arg(j + 1))?;
            limit = int_arg(cmd.arg(j + 2))?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if by.is_none() && is(a, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is(a, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let by = by.unwrap_or(By::Rank);
    if limit != -1 && by == By::Rank {
        return Err(CmdError::text(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::text(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (cmd.arg(key_at + 1), cmd.arg(key_at + 2));
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match by {
        By::Rank => RangeSpec::Rank(int_arg(lo)?, int_arg(hi)?),
        By::Score => RangeSpec::Score(parse_score_range(lo, hi)?),
        By::Lex => RangeSpec::Lex(parse_lex_range(lo, hi)?),
    };
    Ok(RangeQuery {
        spec,
        rev,
        withscores,
        offset,
        limit,
    })
}

fn range_reply(ctx: &mut Ctx<'_>, cmd: &Command, by: Option<By>, rev: Option<bool>) -> CmdResult {
    let q = parse_range(cmd, 1, false, by, rev)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = match read(db, cmd.arg(1), now)? {
        Some(z) => {
            write_members(out, q.select(z), q.withscores);
            true
        }
        None => {
            out.array(0);
            false
        }
    };
    count_lookup(ctx, found);
    Ok(())
}

fn zrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, None, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, Some(By::Rank), Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, Some(By::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, Some(By::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, Some(By::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_reply(ctx, cmd, Some(By::Lex), Some(true))
}

fn zrangestore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let q = parse_range(cmd, 2, true, None, None)?;
    let now = ctx.now;
    let limits = limits(ctx);
    let db = ctx.db();
    let result = read(db, cmd.arg(2), now)?
        .map(|z| ZSet::from_pairs(q.select(z), limits))
        .unwrap_or_default();
    store(ctx, cmd.arg(1), result, "zrangestore");
    Ok(())
}

/// Stores a computed set at `dst` (deleting `dst` when it is empty) and answers its size;
/// `event` is what the store publishes.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], result: ZSet, event: &'static str) {
    let now = ctx.now;
    let n = result.len();
    if n == 0 {
        if ctx.db().remove(dst, now).is_some() {
            ctx.dirty(1);
            ctx.notify(Events::GENERIC, "del", dst);
        }
    } else {
        ctx.db().set(dst, Value::ZSet(Box::new(result)), now);
        ctx.dirty(1);
        ctx.notify(Events::ZSET, event, dst);
    }
    ctx.out.int(n as i64);
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrangebyrank(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let start = int_arg(cmd.arg(2))?;
    let end = int_arg(cmd.arg(3))?;
    remove_range(ctx, cmd, RangeSpec::Rank(start, end))
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let range = parse_score_range(cmd.arg(2), cmd.arg(3))?;
    remove_range(ctx, cmd, RangeSpec::Score(range))
}

fn zremrangebylex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let range = parse_lex_range(cmd.arg(2), cmd.arg(3))?;
    remove_range(ctx, cmd, RangeSpec::Lex(range))
}

fn remove_range(ctx: &mut Ctx<'_>, cmd: &Command, spec: RangeSpec) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    let event = match spec {
        RangeSpec::Rank(..) => "zremrangebyrank",
        RangeSpec::Score(_) => "zremrangebyscore",
        RangeSpec::Lex(_) => "zremrangebylex",
    };
    let q = RangeQuery {
        spec,
        rev: false,
        withscores: false,
        offset: 0,
        limit: -1,
    };
    let db = ctx.db();
    let doomed: Vec<Vec<u8>> = match read(db, key, now)? {
        Some(z) => q.select(z).into_iter().map(|(m, _)| m.to_vec()).collect(),
        None => Vec::new(),
    };
    if !doomed.is_empty() {
        if let Some(v) = db.get_mut(key, now) {
            let z = v.as_zset_mut()?;
            for m in &doomed {
                z.remove(m);
            }
        }
        ctx.notify(Events::ZSET, event, key);
        ctx.remove_if_empty(key);
    }
    ctx.dirty(doomed.len() as u64);
    ctx.out.int(doomed.len() as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pops, blocking pops

/// How a pop reply is shaped (Redis's `genericZpopCommand` flags).
#[derive(Clone, Copy)]
struct PopShape {
    /// The key comes first (`BZPOPMIN`, `ZMPOP`).
    emit_key: bool,
    /// Each pair is its own `[member, score]` array.
    nested: bool,
}

/// Pops up to `count` from the first existing key of `keys` (checking types on the way) and
/// answers; false if none of the keys exists (nothing written).
fn pop_from_keys(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<bool, CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let mut chosen = None;
    for &key in keys {
        if read(db, key, now)?.is_some() {
            chosen = Some(key);
            break;
        }
    }
    let Some(key) = chosen else {
        return Ok(false);
    };
    let mut popped = Vec::new();
    if let Some(v) = db.get_mut(key, now) {
        let z = v.as_zset_mut()?;
        while popped.len() < count {
            match z.pop(max) {
                Some(p) => popped.push(p),
                None => break,
            }
        }
    }
    ctx.dirty(popped.len() as u64);
    if !popped.is_empty() {
        // A replica pops as many from the same key, and never blocks (`BZPOPMIN`, `ZMPOP`).
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let mut n = itoa::Buffer::new();
        ctx.propagate_as([name, key, n.format(popped.len()).as_bytes()]);
        ctx.notify(Events::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    ctx.remove_if_empty(key);
    let out = &mut *ctx.out;
    match (shape.emit_key, shape.nested) {
        (false, false) => out.array(popped.len() * 2),
        (false, true) => out.array(popped.len()),
        (true, false) => {
            out.array(popped.len() * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
        }
    }
    for (m, s) in &popped {
        if shape.nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    Ok(true)
}

fn zpopmin(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    zpop(ctx, cmd, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    zpop(ctx, cmd, true)
}

fn zpop(ctx: &mut Ctx<'_>, cmd: &Command, max: bool) -> CmdResult {
    if cmd.argc() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match cmd.get(2) {
        Some(arg) => {
            let n = int_arg(arg).map_err(|_| CmdError::NotPositive)?;
            if n < 0 {
                return Err(CmdError::NotPositive);
            }
            Some(n as usize)
        }
        None => None,
    };
    let now = ctx.now;
    // Type first, then an empty answer for COUNT 0, as Redis 7.0 does.
    if read(ctx.db(), cmd.arg(1), now)?.is_none() || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let shape = PopShape {
        emit_key: false,
        nested: count.is_some() && ctx.out.is_resp3(),
    };
    pop_from_keys(ctx, &[cmd.arg(1)], max, count.unwrap_or(1), shape)?;
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    bzpop(ctx, cmd, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    bzpop(ctx, cmd, true)
}

fn bzpop(ctx: &mut Ctx<'_>, cmd: &Command, max: bool) -> CmdResult {
    let timeout = parse_timeout(cmd.arg(cmd.argc() - 1))?;
    let keys: Vec<&[u8]> = (1..cmd.argc() - 1).map(|i| cmd.arg(i)).collect();
    let shape = PopShape {
        emit_key: true,
        nested: false,
    };
    if !pop_from_keys(ctx, &keys, max, 1, shape)? {
        let keys = keys.iter().map(|k| k.to_vec()).collect();
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

/// `[B]ZMPOP`'s arguments after the timeout: numkeys, keys, MIN|MAX, COUNT.
fn parse_mpop(cmd: &Command, numkeys_at: usize) -> Result<(Vec<&[u8]>, bool, usize), CmdError> {
    let numkeys = ranged_arg(
        cmd.arg(numkeys_at),
        1,
        "ERR numkeys should be greater than 0",
    )? as usize;
    let where_at = numkeys_at
        .checked_add(numkeys)
        .and_then(|n| n.checked_add(1))
        .filter(|&n| n < cmd.argc())
        .ok_or(CmdError::Syntax)?;
    let max = if is(cmd.arg(where_at), "min") {
        false
    } else if is(cmd.arg(where_at), "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < cmd.argc() {
        if count.is_none() && is(cmd.arg(j), "count") && j + 1 < cmd.argc() {
            count =
                Some(ranged_arg(cmd.arg(j + 1), 1, "ERR count should be greater than 0")? as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys = (numkeys_at + 1..where_at).map(|i| cmd.arg(i)).collect();
    Ok((keys, max, count.unwrap_or(1)))
}

const MPOP_SHAPE: PopShape = PopShape {
    emit_key: true,
    nested: true,
};

fn zmpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (keys, max, count) = parse_mpop(cmd, 1)?;
    if !pop_from_keys(ctx, &keys, max, count, MPOP_SHAPE)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn bzmpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (keys, max, count) = parse_mpop(cmd, 2)?;
    let timeout = parse_timeout(cmd.arg(1))?;
    if !pop_from_keys(ctx, &keys, max, count, MPOP_SHAPE)? {
        let keys = keys.iter().map(|k| k.to_vec()).collect();
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    if cmd.argc() < 3 {
        let (db, out) = ctx.db_out();
        let found = match read(db, cmd.arg(1), now)? {
            Some(z) => {
                let (m, _) = z
                    .random(&mut rand::thread_rng())
                    .expect("a stored zset has members");
                out.bulk(m);
                true
            }
            None => {
                out.null();
                false
            }
        };
        count_lookup(ctx, found);
        return Ok(());
    }
    let l = int_arg(cmd.arg(2))?;
    if l == i64::MIN {
        return Err(CmdError::text(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match cmd.argc() {
        3 => false,
        4 if is(cmd.arg(3), "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::text("ERR value is out of range"));
    }
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, cmd.arg(1), now)? else {
        out.array(0);
        count_lookup(ctx, false);
        return Ok(());
    };
    let count = l.unsigned_abs();
    let unique = l >= 0;
    let size = z.len();
    let mut rng = rand::thread_rng();
    let picks: Vec<(&[u8], f64)> = if count == 0 {
        Vec::new()
    } else if !unique || count == 1 {
        if count > MAX_RANDOM_PICKS {
            return Err(CmdError::text("ERR value is out of range"));
        }
        (0..count).filter_map(|_| z.random(&mut rng)).collect()
    } else if count >= size as u64 {
        // The whole set, highest first, as Redis 7.0 answers.
        z.iter().rev().collect()
    } else if count.saturating_mul(3) > size as u64 {
        // A large share: shuffle them all (Redis copies the set and removes at random).
        let mut all: Vec<(&[u8], f64)> = z.iter().collect();
        let count = count as usize;
        let (chosen, _) = all.partial_shuffle(&mut rng, count);
        chosen.to_vec()
    } else {
        // A small share: random picks until `count` differ (each is new with probability
        // above 2/3, so about 1.5 picks per member).
        let count = count as usize;
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut picks = Vec::with_capacity(count);
        while picks.len() < count {
            let Some((m, s)) = z.random(&mut rng) else {
                break;
            };
            if seen.insert(m) {
                picks.push((m, s));
            }
        }
        picks
    };
    write_members(out, picks, withscores);
    count_lookup(ctx, true);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = if v < *target { v } else { *target },
            Aggregate::Max => *target = if v > *target { v } else { *target },
        }
    }
}

/// One input of a set operation: a sorted set, a plain set (every score 1), or nothing.
#[derive(Clone, Copy)]
enum Src<'a> {
    Z(&'a ZSet),
    S(&'a Set),
    None,
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
            Src::None => 0,
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(member),
            Src::S(s) => s.contains(member).then_some(1.0),
            Src::None => None,
        }
    }

    fn members(&self) -> Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a> {
        match *self {
            Src::Z(z) => Box::new(z.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
            Src::S(s) => Box::new(s.iter().map(|m| (m, 1.0))),
            Src::None => Box::new(std::iter::empty()),
        }
    }
}

struct SetOpArgs<'c> {
    keys: Vec<&'c [u8]>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

fn zunion(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, None, 1, SetOp::Diff, false)
}

fn zunionstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, Some(cmd.arg(1)), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, Some(cmd.arg(1)), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, Some(cmd.arg(1)), 2, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    set_op(ctx, cmd, None, 1, SetOp::Inter, true)
}

/// Redis's `zunionInterDiffGenericCommand`.
fn set_op(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let setnum = int_arg(cmd.arg(numkeys_at))?;
    if setnum < 1 {
        return Err(CmdError::text(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(cmd.name()).to_ascii_lowercase()
        )));
    }
    let first = numkeys_at + 1;
    if setnum as u64 > (cmd.argc() - first) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys: Vec<&[u8]> = (first..first + setnum).map(|i| cmd.arg(i)).collect();
    let now = ctx.now;
    {
        let db = ctx.db();
        for key in &keys {
            if let Some(v) = db.value(key, now) {
                if !matches!(v, Value::ZSet(_) | Value::Set(_)) {
                    return Err(CmdError::WrongType);
                }
            }
        }
    }
    let mut args = SetOpArgs {
        keys,
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = first + setnum;
    while j < cmd.argc() {
        let remaining = cmd.argc() - j;
        let a = cmd.arg(j);
        let scored = op != SetOp::Diff && !card_only;
        if scored && remaining > setnum && is(a, "weights") {
            for (i, w) in args.weights.iter_mut().enumerate() {
                *w = parse_double(cmd.arg(j + 1 + i))
                    .ok_or_else(|| CmdError::text("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if scored && remaining >= 2 && is(a, "aggregate") {
            let v = cmd.arg(j + 1);
            args.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            args.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            let n = ranged_arg(cmd.arg(j + 1), 0, "ERR LIMIT can't be negative")?;
            args.limit = n as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // A reply is answered from the skiplist Redis builds (it keeps `-0`); a stored result
    // takes the listpack form when it fits.
    let limits = if dst.is_some() {
        limits(ctx)
    } else {
        ZSetLimits {
            entries: 0,
            value: 0,
        }
    };
    let (result, card) = {
        let db: &Db = ctx.db();
        let srcs: Vec<Src<'_>> = args
            .keys
            .iter()
            .map(|k| match peek(db, k) {
                Some(Value::ZSet(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                _ => Src::None,
            })
            .collect();
        compute(op, &srcs, &args, card_only, limits)
    };
    if card_only {
        ctx.out.int(card as i64);
        return Ok(());
    }
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store(ctx, dst, result, event)
        }
        None => {
            let out = &mut *ctx.out;
            write_members(out, result.iter(), args.withscores);
        }
    }
    Ok(())
}

/// The operation's result set, or (for `ZINTERCARD`) only its size.
fn compute(
    op: SetOp,
    srcs: &[Src<'_>],
    args: &SetOpArgs<'_>,
    card_only: bool,
    limits: ZSetLimits,
) -> (ZSet, usize) {
    let weigh = |w: f64, s: f64| {
        let v = w * s;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    // Smallest first, weights travelling with their sets (diff keeps its first set first).
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| srcs[i].len());
    }
    match op {
        SetOp::Inter => {
            let first = order[0];
            let mut found = Vec::new();
            for (m, s) in srcs[first].members() {
                let mut score = weigh(args.weights[first], s);
                let in_all = order[1..].iter().all(|&i| match srcs[i].score(&m) {
                    Some(other) => {
                        args.aggregate
                            .apply(&mut score, weigh(args.weights[i], other));
                        true
                    }
                    None => false,
                });
                if in_all {
                    found.push((m, score));
                    if card_only && args.limit > 0 && found.len() >= args.limit {
                        break;
                    }
                }
            }
            if card_only {
                return (ZSet::default(), found.len());
            }
            (ZSet::from_pairs(found, limits), 0)
        }
        SetOp::Union => {
            let mut acc: HashMap<Cow<'_, [u8]>, f64> = HashMap::new();
            for &i in &order {
                for (m, s) in srcs[i].members() {
                    let v = weigh(args.weights[i], s);
                    acc.entry(m)
                        .and_modify(|t| args.aggregate.apply(t, v))
                        .or_insert(v);
                }
            }
            (ZSet::from_pairs(acc, limits), 0)
        }
        SetOp::Diff => {
            let rest = &srcs[1..];
            let kept = srcs[0]
                .members()
                .filter(|(m, _)| rest.iter().all(|s| s.score(m).is_none()));
            (ZSet::from_pairs(kept, limits), 0)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`. A listpack set is answered whole with
/// cursor 0, as Redis does; a skiplist set is walked in (score, member) order with the cursor
/// as the next rank, so members removed during a scan may shift others past the cursor.
/// `ZSCAN key cursor [MATCH p] [COUNT n]`: a listpack in one reply with cursor 0, as in
/// Redis; the skiplist form a step at a time with Redis's cursor. As in Redis, the options are
/// read only once the key is found.
fn zscan(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let cursor = parse_cursor(cmd.arg(2))?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, cmd.arg(1), now)? else {
        write_empty_scan(out);
        return Ok(());
    };
    let (pattern, count) = scan_options(cmd, 3)?;
    let listpack = matches!(z, ZSet::Listpack(_));
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.as_ref().is_none_or(|p| glob::matches(p, m, false)) {
            items.push((m, s));
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items.len() * 2);
    for (m, s) in items {
        out.bulk(m);
        if listpack {
            out.bulk(crate::node::rdb::object::listpack_score_text(s).as_bytes());
        } else {
            out.bulk(format_double(s).as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_parse_like_redis() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"1e-3"), Some(0.001));
        assert_eq!(parse_double(b"0"), Some(0.0));
        assert_eq!(parse_double(b"0.000"), Some(0.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1e",
            b"--1",
        ] {
            assert_eq!(parse_double(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn score_ranges_are_lenient() {
        let r = parse_score_range(b"(1", b" 2").unwrap();
        assert!(r.min_ex && !r.max_ex && r.min == 1.0 && r.max == 2.0);
        let r = parse_score_range(b"", b"(").unwrap();
        assert!(r.min == 0.0 && r.max_ex);
        assert!(parse_score_range(b"1e400", b"-inf").is_ok());
        assert!(parse_score_range(b"nan", b"1").is_err());
        assert!(parse_score_range(b"x", b"1").is_err());
        assert!(parse_lex_range(b"-", b"+").is_ok());
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"+x", b"+").is_err());
    }
}
