//! List commands, blocking ones included: LPUSH … LMPOP, BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! A blocking command that finds nothing asks to wait ([`Ctx::block_on`]) and writes nothing;
//! when a key it waits on changes, the session runs it again with [`Ctx::serving_key`] set, and
//! it then takes from that key only, as Redis 7.0 does.

use super::{Ctx, Handler};
use crate::node::blocking::{parse_timeout, TimeoutReply};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::list::List;
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::node::reply::Reply;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

/// A list end: `LEFT` is the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// An integer as Redis's `string2ll` reads it: no sign but `-`, no spaces, no leading zeros.
fn parse_i64(arg: &[u8]) -> Option<i64> {
    if arg.is_empty() || arg.len() > 20 {
        return None;
    }
    if arg == b"0" {
        return Some(0);
    }
    let (negative, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, arg),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = (b - b'0') as i64;
        n = if negative {
            n.checked_mul(10)?.checked_sub(d)?
        } else {
            n.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(n)
}

fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// An integer in `min..=i64::MAX`, else the error `msg` (Redis's `getRangeLongFromObjectOrReply`
/// with a message).
fn int_at_least(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CmdError::text(msg)),
    }
}

/// The node size setting new lists take.
fn fill(ctx: &Ctx<'_>) -> i64 {
    ctx.config.int("list-max-listpack-size")
}

fn new_list(fill: i64) -> impl FnOnce() -> Value {
    move || Value::List(Box::new(List::with_fill(fill)))
}

/// The list at `key`: None if missing, `WRONGTYPE` if not a list.
fn read_list<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<Option<&'d List>, CmdError> {
    match db.value(key, now) {
        None => Ok(None),
        Some(v) => v.as_list().map(Some),
    }
}

/// The list at `key`, to change (the key counts as modified). Call only after checking it
/// exists and is a list.
fn write_list<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<&'d mut List, CmdError> {
    match db.get_mut(key, now) {
        Some(v) => v.as_list_mut(),
        None => Err(CmdError::NoSuchKey),
    }
}

fn note_read(ctx: &mut Ctx<'_>, found: bool) {
    if found {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
}

fn pop_end(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

/// The event a pop from `end` publishes.
/// The pop that propagates for a pop from `end` (`BLPOP` as `LPOP`).
fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    }
}

fn end_name(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LEFT",
        End::Right => b"RIGHT",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// The event a push onto `end` publishes.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn push_end(list: &mut List, end: End, item: &[u8]) {
    match end {
        End::Left => list.push_front(item),
        End::Right => list.push_back(item),
    }
}

// ---- pushes ----

fn lpush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    push(ctx, cmd, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    push(ctx, cmd, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    push(ctx, cmd, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    push(ctx, cmd, End::Right, true)
}

fn push(ctx: &mut Ctx<'_>, cmd: &Command, end: End, only_existing: bool) -> CmdResult {
    let now = ctx.now;
    let fill = fill(ctx);
    let key = cmd.arg(1);
    let exists = read_list(ctx.db(), key, now)?.is_some();
    if !exists && only_existing {
        ctx.out.int(0);
        return Ok(());
    }
    let list = ctx
        .db()
        .get_or_insert_with(key, now, new_list(fill))
        .as_list_mut()?;
    for item in cmd.args().skip(2) {
        push_end(list, end, item);
    }
    let len = list.len();
    ctx.dirty(cmd.argc() as u64 - 2);
    ctx.notify(Events::LIST, push_event(end), key);
    ctx.out.int(len as i64);
    Ok(())
}

// ---- pops ----

fn lpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    pop(ctx, cmd, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    pop(ctx, cmd, End::Right)
}

fn pop(ctx: &mut Ctx<'_>, cmd: &Command, end: End) -> CmdResult {
    if cmd.argc() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return Err(CmdError::arity(name));
    }
    let count = match cmd.get(2) {
        Some(arg) => Some(int_at_least(
            arg,
            0,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let now = ctx.now;
    let key = cmd.arg(1);
    let len = match read_list(ctx.db(), key, now)? {
        Some(list) => list.len(),
        None => {
            match count {
                Some(_) => ctx.out.null_array(),
                None => ctx.out.null(),
            }
            return Ok(());
        }
    };
    let Some(count) = count else {
        let (db, out) = ctx.db_out();
        let list = write_list(db, key, now)?;
        match pop_end(list, end) {
            Some(item) => out.bulk(&item),
            None => out.null(),
        }
        ctx.dirty(1);
        ctx.notify(Events::LIST, pop_event(end), key);
        ctx.remove_if_empty(key);
        return Ok(());
    };
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let n = len.min(usize::try_from(count).unwrap_or(usize::MAX));
    let (db, out) = ctx.db_out();
    pop_into_reply(db, out, key, end, n, now)?;
    ctx.dirty(n as u64);
    ctx.notify(Events::LIST, pop_event(end), key);
    ctx.remove_if_empty(key);
    Ok(())
}

/// Pops `n` (≤ length) elements of the list at `key` and writes them as an array; the caller
/// publishes the event and deletes the key if it is left empty.
fn pop_into_reply(
    db: &mut Db,
    out: &mut Reply,
    key: &[u8],
    end: End,
    n: usize,
    now: i64,
) -> CmdResult {
    let list = write_list(db, key, now)?;
    out.array(n);
    for _ in 0..n {
        match pop_end(list, end) {
            Some(item) => out.bulk(&item),
            None => break,
        }
    }
    Ok(())
}

// ---- reads ----

fn llen(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let len = read_list(ctx.db(), cmd.arg(1), now)?.map(|l| l.len());
    note_read(ctx, len.is_some());
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let start = int_arg(cmd.arg(2))?;
    let stop = int_arg(cmd.arg(3))?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = match read_list(db, cmd.arg(1), now)? {
        None => {
            out.array(0);
            false
        }
        Some(list) => {
            match clamp_range(start, stop, list.len()) {
                None => out.array(0),
                Some((s, e)) => {
                    out.array(e - s + 1);
                    for item in list.iter_from(s).take(e - s + 1) {
                        out.bulk(item);
                    }
                }
            }
            true
        }
    };
    note_read(ctx, found);
    Ok(())
}

/// Redis's start/stop rules: negatives count from the end; None when the range is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut stop = if stop < 0 { stop + len } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// An index from the front for a possibly negative `index`, if in range.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { index + len } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = match read_list(db, cmd.arg(1), now)? {
        None => {
            out.null();
            false
        }
        Some(list) => {
            let index = int_arg(cmd.arg(2))?;
            match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
                Some(item) => out.bulk(item),
                None => out.null(),
            }
            true
        }
    };
    note_read(ctx, found);
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < cmd.argc() {
        let opt = cmd.arg(j);
        let Some(value) = cmd.get(j + 1) else {
            return Err(CmdError::Syntax);
        };
        if opt.eq_ignore_ascii_case(b"rank") {
            rank = int_arg(value)?;
            if rank == 0 {
                return Err(CmdError::text(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if opt.eq_ignore_ascii_case(b"count") {
            count = Some(int_at_least(value, 0, "ERR COUNT can't be negative")?);
        } else if opt.eq_ignore_ascii_case(b"maxlen") {
            maxlen = int_at_least(value, 0, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 2;
    }
    let now = ctx.now;
    let element = cmd.arg(2);
    let (db, out) = ctx.db_out();
    let Some(list) = read_list(db, cmd.arg(1), now)? else {
        match count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        note_read(ctx, false);
        return Ok(());
    };
    // Redis negates a negative rank and walks from the tail; its arithmetic wraps (RANK of
    // i64::MIN stays negative and matches from the first hit), and so does this.
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let len = list.len();
    let items: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let mut matches: i64 = 0;
    let mut found: Vec<usize> = Vec::new();
    for (index, item) in items.enumerate() {
        if maxlen != 0 && index as i64 >= maxlen {
            break;
        }
        if item != element {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(if from_tail { len - index - 1 } else { index });
            match count {
                None => break,
                Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
                _ => {}
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
    note_read(ctx, true);
    Ok(())
}

// ---- edits ----

fn lset(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    let len = match read_list(ctx.db(), key, now)? {
        Some(list) => list.len(),
        None => return Err(CmdError::NoSuchKey),
    };
    let index = int_arg(cmd.arg(2))?;
    let Some(i) = resolve_index(index, len) else {
        return Err(CmdError::IndexOutOfRange);
    };
    write_list(ctx.db(), key, now)?.set(i, cmd.arg(3));
    ctx.dirty(1);
    ctx.notify(Events::LIST, "lset", key);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let after = if cmd.arg(2).eq_ignore_ascii_case(b"after") {
        true
    } else if cmd.arg(2).eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let now = ctx.now;
    let key = cmd.arg(1);
    let pivot = cmd.arg(3);
    let position = match read_list(ctx.db(), key, now)? {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(list) => list.iter().position(|item| item == pivot),
    };
    let Some(position) = position else {
        ctx.out.int(-1);
        return Ok(());
    };
    let list = write_list(ctx.db(), key, now)?;
    list.insert(position + usize::from(after), cmd.arg(4));
    let len = list.len();
    ctx.dirty(1);
    ctx.notify(Events::LIST, "linsert", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let count = int_arg(cmd.arg(2))?;
    let now = ctx.now;
    let key = cmd.arg(1);
    let element = cmd.arg(3);
    let matches = match read_list(ctx.db(), key, now)? {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(list) => list.iter().filter(|item| *item == element).count(),
    };
    let limit = if count == 0 {
        matches
    } else {
        matches.min(usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX))
    };
    if limit == 0 {
        ctx.out.int(0);
        return Ok(());
    }
    // From the head: drop the first `limit` matches; from the tail: keep the first
    // `matches - limit` and drop the rest.
    let skip = if count < 0 { matches - limit } else { 0 };
    let list = write_list(ctx.db(), key, now)?;
    let mut seen = 0;
    list.retain(|item| {
        if item != element {
            return true;
        }
        seen += 1;
        seen <= skip || seen > skip + limit
    });
    ctx.dirty(limit as u64);
    ctx.notify(Events::LIST, "lrem", key);
    ctx.remove_if_empty(key);
    ctx.out.int(limit as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let start = int_arg(cmd.arg(2))?;
    let stop = int_arg(cmd.arg(3))?;
    let now = ctx.now;
    let key = cmd.arg(1);
    let Some(len) = read_list(ctx.db(), key, now)?.map(|l| l.len()) else {
        ctx.out.ok();
        return Ok(());
    };
    let list = write_list(ctx.db(), key, now)?;
    let removed = match clamp_range(start, stop, len) {
        Some((s, e)) => {
            list.trim(s, e);
            len - (e - s + 1)
        }
        None => {
            list.trim(1, 0);
            len
        }
    };
    ctx.dirty(removed as u64);
    ctx.notify(Events::LIST, "ltrim", key);
    ctx.remove_if_empty(key);
    ctx.out.ok();
    Ok(())
}

// ---- moves ----

fn lmove(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let from = parse_end(cmd.arg(3))?;
    let to = parse_end(cmd.arg(4))?;
    move_one(ctx, cmd.arg(1), cmd.arg(2), from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    move_one(ctx, cmd.arg(1), cmd.arg(2), End::Right, End::Left)
}

/// `LMOVE`'s work: pops from `src`, pushes onto `dst`, replies the element (null when `src`
/// is missing).
fn move_one(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let now = ctx.now;
    let fill = fill(ctx);
    if read_list(ctx.db(), src, now)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    read_list(ctx.db(), dst, now)?;
    let (db, out) = ctx.db_out();
    let Some(item) = pop_end(write_list(db, src, now)?, from) else {
        out.null();
        return Ok(());
    };
    // Push before dropping an emptied source: with `src == dst` the key (and its TTL) stays.
    let list = db
        .get_or_insert_with(dst, now, new_list(fill))
        .as_list_mut()?;
    push_end(list, to, &item);
    out.bulk(&item);
    ctx.dirty(2);
    // Redis's order: the push, then the pop, then the emptied source's deletion.
    ctx.notify(Events::LIST, push_event(to), dst);
    ctx.notify(Events::LIST, pop_event(from), src);
    ctx.remove_if_empty(src);
    Ok(())
}

// ---- multi-key pops ----

/// `LMPOP`'s arguments from `numkeys` at `at`: (keys, end, count).
fn parse_mpop(cmd: &Command, at: usize) -> Result<(Vec<Vec<u8>>, End, usize), CmdError> {
    let numkeys = int_at_least(cmd.arg(at), 1, "ERR numkeys should be greater than 0")?;
    let end_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
        .filter(|&i| i < cmd.argc())
        .ok_or(CmdError::Syntax)?;
    let end = parse_end(cmd.arg(end_at))?;
    let mut count: Option<i64> = None;
    let mut j = end_at + 1;
    while j < cmd.argc() {
        if count.is_none() && cmd.arg(j).eq_ignore_ascii_case(b"count") && j + 1 < cmd.argc() {
            count = Some(int_at_least(
                cmd.arg(j + 1),
                1,
                "ERR count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys = (at + 1..end_at).map(|i| cmd.arg(i).to_vec()).collect();
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok((keys, end, count))
}

fn lmpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (keys, end, count) = parse_mpop(cmd, 1)?;
    if !mpop_first(ctx, &keys, end, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// Pops up to `count` from the first non-empty list of `keys` and replies `[key, [items]]`;
/// false if every key is missing or empty. Serving a blocked client, only the ready key is
/// looked at, and a value of another type there is passed over.
fn mpop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Vec<u8>],
    end: End,
    count: usize,
) -> Result<bool, CmdError> {
    let now = ctx.now;
    let serving = ctx.serving_key;
    for key in keys {
        if serving.is_some_and(|k| k != key.as_slice()) {
            continue;
        }
        let len = match ctx.db().value(key, now) {
            None => continue,
            Some(v) if serving.is_some() && v.as_list().is_err() => continue,
            Some(v) => v.as_list()?.len(),
        };
        if len == 0 {
            continue;
        }
        let n = len.min(count);
        let (db, out) = ctx.db_out();
        out.array(2);
        out.bulk(key);
        pop_into_reply(db, out, key, end, n, now)?;
        ctx.dirty(n as u64);
        // The key it popped from and how many: a replica pops the same.
        let mut count = itoa::Buffer::new();
        ctx.propagate_as([pop_name(end), key, count.format(n).as_bytes()]);
        ctx.notify(Events::LIST, pop_event(end), key);
        ctx.remove_if_empty(key);
        return Ok(true);
    }
    Ok(false)
}

/// Pops one element from the first non-empty list and replies `[key, item]`, as `BLPOP`.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[Vec<u8>], end: End) -> Result<bool, CmdError> {
    let now = ctx.now;
    let serving = ctx.serving_key;
    for key in keys {
        if serving.is_some_and(|k| k != key.as_slice()) {
            continue;
        }
        let len = match ctx.db().value(key, now) {
            None => continue,
            Some(v) if serving.is_some() && v.as_list().is_err() => continue,
            Some(v) => v.as_list()?.len(),
        };
        if len == 0 {
            continue;
        }
        let (db, out) = ctx.db_out();
        let Some(item) = pop_end(write_list(db, key, now)?, end) else {
            continue;
        };
        out.array(2);
        out.bulk(key);
        out.bulk(&item);
        ctx.dirty(1);
        ctx.propagate_as([pop_name(end), key]);
        ctx.notify(Events::LIST, pop_event(end), key);
        ctx.remove_if_empty(key);
        return Ok(true);
    }
    Ok(false)
}

// ---- blocking ----

fn blpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    block_pop(ctx, cmd, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    block_pop(ctx, cmd, End::Right)
}

fn block_pop(ctx: &mut Ctx<'_>, cmd: &Command, end: End) -> CmdResult {
    let timeout = parse_timeout(cmd.arg(cmd.argc() - 1))?;
    let keys: Vec<Vec<u8>> = (1..cmd.argc() - 1).map(|i| cmd.arg(i).to_vec()).collect();
    if !pop_first(ctx, &keys, end)? {
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let timeout = parse_timeout(cmd.arg(1))?;
    let (keys, end, count) = parse_mpop(cmd, 2)?;
    if !mpop_first(ctx, &keys, end, count)? {
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let from = parse_end(cmd.arg(3))?;
    let to = parse_end(cmd.arg(4))?;
    let timeout = parse_timeout(cmd.arg(5))?;
    block_move(ctx, cmd, from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let timeout = parse_timeout(cmd.arg(3))?;
    block_move(ctx, cmd, End::Right, End::Left, timeout)
}

fn block_move(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    from: End,
    to: End,
    timeout: Option<std::time::Duration>,
) -> CmdResult {
    let now = ctx.now;
    let src = cmd.arg(1);
    let serving = ctx.serving_key.is_some();
    let has_items = match ctx.db().value(src, now) {
        None => false,
        // Serving a blocked client, a value of another type leaves it waiting.
        Some(v) if serving && v.as_list().is_err() => false,
        Some(v) => !v.as_list()?.is_empty(),
    };
    if has_items {
        // As the non-blocking form: a replica must never block.
        ctx.propagate_as([&b"LMOVE"[..], src, cmd.arg(2), end_name(from), end_name(to)]);
        move_one(ctx, src, cmd.arg(2), from, to)
    } else {
        ctx.block_on(vec![src.to_vec()], timeout, TimeoutReply::Null);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(0, -4, 3), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }
}
