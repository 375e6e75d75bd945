//! Stream commands: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID, XREAD and XREADGROUP
//! (blocking too), the consumer group commands (XGROUP …, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM) and XINFO, with Redis 7.0's replies, argument order checks and error texts.
//!
//! A blocked `XREAD`/`XREADGROUP` is run again when one of its keys changes, with
//! [`Ctx::serving_key`] set; it then serves from that key only, as Redis's
//! `serveClientsBlockedOnStreamKey` does. `XREAD … $` blocks as a command naming the last ID
//! at the time of blocking, so entries added later are the ones it gets.

use std::time::Duration;

use super::{Ctx, Handler};
use crate::node::blocking::TimeoutReply;
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::stream::{
    parse_id, EntryView, Group, IdSyntax, NodeLimits, ParsedId, Stream, StreamId, Trim, TrimBy,
};
use crate::node::keyspace::{Db, Value};
use crate::node::notify::Events;
use crate::node::reply::Reply;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("xadd", xadd),
    ("xrange", xrange),
    ("xrevrange", xrevrange),
    ("xlen", xlen),
    ("xdel", xdel),
    ("xtrim", xtrim),
    ("xsetid", xsetid),
    ("xread", xread),
    ("xreadgroup", xreadgroup),
    ("xgroup|create", xgroup_create),
    ("xgroup|setid", xgroup_setid),
    ("xgroup|destroy", xgroup_destroy),
    ("xgroup|createconsumer", xgroup_createconsumer),
    ("xgroup|delconsumer", xgroup_delconsumer),
    ("xgroup|help", xgroup_help),
    ("xack", xack),
    ("xpending", xpending),
    ("xclaim", xclaim),
    ("xautoclaim", xautoclaim),
    ("xinfo|stream", xinfo_stream),
    ("xinfo|groups", xinfo_groups),
    ("xinfo|consumers", xinfo_consumers),
    ("xinfo|help", xinfo_help),
];

/// Entries a blocked reader gets at most when it gave no `COUNT` (Redis's
/// `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: u64 = 1000;
/// Redis's `STREAM_LISTPACK_MAX_SIZE`: one entry's fields and values together stay under it.
const MAX_ENTRY_BYTES: usize = 1 << 30;

fn invalid_id() -> CmdError {
    CmdError::text("ERR Invalid stream ID specified as stream command argument")
}

/// `<ms>[-<seq>]`, no `-`/`+` (Redis's `streamParseStrictIDOrReply`).
fn strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id(arg, 0, IdSyntax::Strict)
        .map(|p| p.id)
        .ok_or_else(invalid_id)
}

/// An ID where `-` and `+` are allowed (Redis's `streamParseIDOrReply`).
fn loose_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id(arg, missing_seq, IdSyntax::Range)
        .map(|p| p.id)
        .ok_or_else(invalid_id)
}

/// A range end, `(` making it exclusive (Redis's `streamParseIntervalIDOrReply`); answers the
/// ID and whether it is exclusive.
fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id(&arg[1..], missing_seq, IdSyntax::Strict).ok_or_else(invalid_id)?;
        Ok((id.id, true))
    } else {
        Ok((loose_id(arg, missing_seq)?, false))
    }
}

/// The start of a range, moved past an exclusive ID.
fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    match interval_id(arg, 0)? {
        (id, false) => Ok(id),
        (id, true) => id
            .next()
            .ok_or_else(|| CmdError::text("ERR invalid start ID for the interval")),
    }
}

/// The end of a range, moved before an exclusive ID.
fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    match interval_id(arg, u64::MAX)? {
        (id, false) => Ok(id),
        (id, true) => id
            .prev()
            .ok_or_else(|| CmdError::text("ERR invalid end ID for the interval")),
    }
}

fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

fn int_arg_or(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or_else(|| CmdError::text(msg))
}

fn limits(ctx: &Ctx<'_>) -> NodeLimits {
    NodeLimits {
        max_entries: u64::try_from(ctx.config.int("stream-node-max-entries")).unwrap_or(0),
        max_bytes: u64::try_from(ctx.config.int("stream-node-max-bytes")).unwrap_or(0),
    }
}

/// The stream at `key`: None if missing, `WRONGTYPE` if another type.
fn read_stream<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<Option<&'d Stream>, CmdError> {
    match db.value(key, now) {
        None => Ok(None),
        Some(v) => v.as_stream().map(Some),
    }
}

/// The stream at `key`, to change. The change is not signalled: Redis tells `WATCH`ers
/// and blocked clients only of some changes (entries added, or removed), and the caller
/// calls [`Db::touch`] for those.
fn write_stream<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'d mut Stream>, CmdError> {
    match db.get_mut_unsignalled(key, now) {
        None => Ok(None),
        Some(v) => v.as_stream_mut().map(Some),
    }
}

fn write_id(out: &mut Reply, id: StreamId) {
    out.bulk(&id.to_bytes());
}

/// `[id, [field, value, …]]`.
fn write_entry(out: &mut Reply, e: &EntryView<'_>) {
    out.array(2);
    write_id(out, e.id);
    out.array(e.pairs.len() * 2);
    for (f, v) in &e.pairs {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Writes entry `id` as `[id, [fields…]]`; false (nothing written) if it does not exist.
fn write_one(out: &mut Reply, s: &Stream, id: StreamId) -> bool {
    let mut found = false;
    s.visit(id, id, false, |e| {
        write_entry(out, &e);
        found = true;
        false
    });
    found
}

/// Writes the entries in `start..=end` (at most `count`, 0: all) as an array; answers how
/// many.
fn write_range(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: u64,
) -> usize {
    let mut n = 0u64;
    let mut body = Reply::new(out.is_resp3());
    s.visit(start, end, rev, |e| {
        write_entry(&mut body, &e);
        n += 1;
        count == 0 || n < count
    });
    out.array(n as usize);
    out.raw(&body.take());
    n as usize
}

fn note_read(ctx: &mut Ctx<'_>, found: bool) {
    if found {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
}

// ---- XADD / XTRIM ----

/// What `XADD`/`XTRIM` options said (Redis's `streamParseAddOrTrimArgsOrReply`).
struct AddArgs {
    trim: Option<Trim>,
    no_mkstream: bool,
    /// `XADD`: the ID argument's position and its value (None for `*`).
    id_pos: usize,
    id: Option<ParsedId>,
}

fn parse_add_or_trim(ctx: &Ctx<'_>, cmd: &Command, xadd: bool) -> Result<AddArgs, CmdError> {
    let mut by: Option<TrimBy> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut no_mkstream = false;
    let mut id = None;
    let argc = cmd.argc();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = cmd.arg(i);
        if xadd && opt == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if by.is_some() {
                return Err(CmdError::text(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = cmd.arg(i + 1);
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let value = cmd.arg(i + 1);
            by = Some(if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = int_arg(value)?;
                if n < 0 {
                    return Err(CmdError::text("ERR The MAXLEN argument must be >= 0."));
                }
                TrimBy::MaxLen(n as u64)
            } else {
                TrimBy::MinId(strict_id(value)?)
            });
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            limit = int_arg(cmd.arg(i + 1))?;
            if limit < 0 {
                return Err(CmdError::text("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            no_mkstream = true;
        } else if xadd {
            id = Some(parse_id(opt, 0, IdSyntax::Add).ok_or_else(invalid_id)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit != 0 && by.is_none() {
        return Err(CmdError::text(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && by.is_none() {
        return Err(CmdError::text(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !approx {
            return Err(CmdError::text(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if approx {
        // At most 100 chunks' worth of work, capped both ways as Redis 7.0 caps it.
        limit = ctx
            .config
            .int("stream-node-max-entries")
            .saturating_mul(100);
        if limit <= 0 {
            limit = 10_000;
        }
        limit = limit.min(1_000_000);
    } else {
        limit = 0;
    }
    Ok(AddArgs {
        trim: by.map(|by| Trim {
            by,
            approx,
            limit: limit as u64,
        }),
        no_mkstream,
        id_pos: i,
        id,
    })
}

fn xadd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let args = parse_add_or_trim(ctx, cmd, true)?;
    let field_pos = args.id_pos + 1;
    let argc = cmd.argc();
    if argc < field_pos + 2 || (argc - field_pos) % 2 == 1 {
        return Err(CmdError::arity("xadd"));
    }
    if let Some(p) = args.id {
        if p.seq_given && p.id.is_zero() {
            return Err(CmdError::text(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = cmd.arg(1);
    let now = ctx.now;
    let limits = limits(ctx);
    let exists = read_stream(ctx.db(), key, now)?.is_some();
    if !exists && args.no_mkstream {
        ctx.out.null();
        return Ok(());
    }
    let pairs: Vec<(&[u8], &[u8])> = (field_pos..argc)
        .step_by(2)
        .map(|i| (cmd.arg(i), cmd.arg(i + 1)))
        .collect();
    let total: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
    let db = ctx.db();
    let value = db.get_or_insert_with(key, now, || Value::Stream(Box::default()));
    let s = value.as_stream_mut()?;
    if s.last_id == StreamId::MAX {
        return Err(CmdError::text(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small = || {
        CmdError::text(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    let id = match args.id {
        Some(ParsedId {
            id,
            seq_given: true,
        }) => id,
        Some(ParsedId { id, .. }) if id.ms == s.last_id.ms => {
            if s.last_id.seq == u64::MAX {
                return Err(too_small());
            }
            StreamId::new(id.ms, s.last_id.seq + 1)
        }
        Some(ParsedId { id, .. }) => id,
        None => {
            let ms = u64::try_from(now).unwrap_or(0);
            if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                s.last_id.next().ok_or_else(too_small)?
            }
        }
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    if total > MAX_ENTRY_BYTES {
        return Err(CmdError::text("ERR Elements are too large to be stored"));
    }
    s.append(id, &pairs, limits);
    let mut removed = 0;
    if let Some(trim) = args.trim {
        removed = s.trim(trim);
    }
    let exact_trim = args.trim.map(|t| exact_trim(s, t));
    let id_given = matches!(
        args.id,
        Some(ParsedId {
            seq_given: true,
            ..
        })
    );
    if ctx.replicating() && (!id_given || args.trim.is_some_and(|t| t.approx)) {
        // What it did: the ID it made, and `~` trimming as the exact trim it came to.
        let id_text = id.to_bytes();
        let mut threshold = Vec::new();
        let mut out: Vec<&[u8]> = vec![b"XADD", key];
        if args.no_mkstream {
            out.push(b"NOMKSTREAM");
        }
        if let Some(by) = exact_trim {
            out.extend(trim_args(by, &mut threshold));
        }
        out.push(&id_text);
        out.extend((field_pos..argc).map(|i| cmd.arg(i)));
        ctx.propagate_as(out);
    }
    ctx.out.bulk(&id.to_bytes());
    ctx.dirty(1 + removed);
    ctx.notify(Events::STREAM, "xadd", key);
    if removed > 0 {
        ctx.notify(Events::STREAM, "xtrim", key);
    }
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let args = parse_add_or_trim(ctx, cmd, false)?;
    let now = ctx.now;
    let Some(trim) = args.trim else {
        return Err(CmdError::Syntax);
    };
    let key = cmd.arg(1);
    let (removed, exact) = match write_stream(ctx.db(), key, now)? {
        Some(s) => (s.trim(trim), Some(exact_trim(s, trim))),
        None => (0, None),
    };
    if let (Some(by), true) = (exact, trim.approx && removed > 0) {
        let mut threshold = Vec::new();
        let mut out: Vec<&[u8]> = vec![b"XTRIM", key];
        out.extend(trim_args(by, &mut threshold));
        ctx.propagate_as(out);
    }
    if removed > 0 {
        ctx.db().touch(key);
        ctx.notify(Events::STREAM, "xtrim", key);
    }
    ctx.dirty(removed);
    ctx.out.int(removed as i64);
    Ok(())
}

/// The exact trim a replica must apply to end where `trim` left `s`: `~` trimming stops at
/// chunk boundaries, so it propagates as `MAXLEN = <length now>` or `MINID = <first ID now>`
/// (Redis's `streamRewriteTrimArgument`).
fn exact_trim(s: &Stream, trim: Trim) -> TrimBy {
    if !trim.approx {
        return trim.by;
    }
    match trim.by {
        TrimBy::MaxLen(_) => TrimBy::MaxLen(s.len()),
        TrimBy::MinId(_) if s.is_empty() => TrimBy::MinId(StreamId::new(0, 0)),
        TrimBy::MinId(_) => TrimBy::MinId(s.first_id),
    }
}

/// `MAXLEN = n` or `MINID = id`, the threshold written into `buf`.
fn trim_args(by: TrimBy, buf: &mut Vec<u8>) -> [&[u8]; 3] {
    *buf = match by {
        TrimBy::MaxLen(n) => n.to_string().into_bytes(),
        TrimBy::MinId(id) => id.to_bytes().to_vec(),
    };
    let name: &[u8] = match by {
        TrimBy::MaxLen(_) => b"MAXLEN",
        TrimBy::MinId(_) => b"MINID",
    };
    [name, b"=", buf]
}

// ---- reading ----

fn xrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_generic(ctx, cmd, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    range_generic(ctx, cmd, true)
}

fn range_generic(ctx: &mut Ctx<'_>, cmd: &Command, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (cmd.arg(3), cmd.arg(2))
    } else {
        (cmd.arg(2), cmd.arg(3))
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < cmd.argc() {
        if cmd.arg(j).eq_ignore_ascii_case(b"count") && j + 1 < cmd.argc() {
            count = int_arg(cmd.arg(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = match read_stream(db, cmd.arg(1), now)? {
        None => {
            out.array(0);
            false
        }
        Some(_) if count == 0 => {
            out.null_array();
            true
        }
        Some(s) => {
            let count = if count < 0 { 0 } else { count as u64 };
            write_range(out, s, start, end, rev, count);
            true
        }
    };
    note_read(ctx, found);
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let len = read_stream(ctx.db(), cmd.arg(1), now)?.map(Stream::len);
    note_read(ctx, len.is_some());
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let key = cmd.arg(1);
    if read_stream(ctx.db(), key, now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = (2..cmd.argc())
        .map(|j| strict_id(cmd.arg(j)))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(s) = write_stream(ctx.db(), key, now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let mut deleted = 0u64;
    let mut first_gone = false;
    for id in ids {
        if s.remove(id) {
            if id == s.first_id {
                first_gone = true;
            }
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.is_empty() {
            s.first_id = StreamId::MIN;
        } else if first_gone {
            s.first_id = s.edge_id(false).unwrap_or(StreamId::MAX);
        }
        ctx.db().touch(key);
        ctx.notify(Events::STREAM, "xdel", key);
    }
    ctx.dirty(deleted);
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let id = strict_id(cmd.arg(2))?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < cmd.argc() {
        let more = cmd.argc() - 1 - i;
        let opt = cmd.arg(i);
        if opt.eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            let n = int_arg(cmd.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::text("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            max_deleted = strict_id(cmd.arg(i + 1))?;
            if id < max_deleted {
                return Err(CmdError::text(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    let key = cmd.arg(1);
    let s = match read_stream(ctx.db(), key, now)? {
        None => return Err(CmdError::NoSuchKey),
        Some(s) => s,
    };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(CmdError::text(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| s.len() > n) {
            return Err(CmdError::text(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    if let Some(s) = write_stream(ctx.db(), key, now)? {
        s.last_id = id;
        if let Some(n) = entries_added {
            s.entries_added = n;
        }
        if !max_deleted.is_zero() {
            s.max_deleted_id = max_deleted;
        }
    }
    ctx.dirty(1);
    ctx.notify(Events::STREAM, "xsetid", key);
    ctx.out.ok();
    Ok(())
}

// ---- XREAD / XREADGROUP ----

/// What `XREAD`/`XREADGROUP` options said.
struct ReadArgs<'c> {
    /// None: no `BLOCK`; Some(None): block forever.
    block: Option<Option<Duration>>,
    count: u64,
    count_given: bool,
    streams_arg: usize,
    streams: usize,
    group: Option<(&'c [u8], &'c [u8])>,
    noack: bool,
}

fn parse_read<'c>(cmd: &'c Command, with_group: bool) -> Result<ReadArgs<'c>, CmdError> {
    let mut args = ReadArgs {
        block: None,
        count: 0,
        count_given: false,
        streams_arg: 0,
        streams: 0,
        group: None,
        noack: false,
    };
    let argc = cmd.argc();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let opt = cmd.arg(i);
        if opt.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            let ms = int_arg_or(cmd.arg(i), "ERR timeout is not an integer or out of range")?;
            if ms < 0 {
                return Err(CmdError::text("ERR timeout is negative"));
            }
            args.block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
        } else if opt.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            args.count = int_arg(cmd.arg(i))?.max(0) as u64;
            args.count_given = true;
        } else if opt.eq_ignore_ascii_case(b"streams") && more > 0 {
            args.streams_arg = i + 1;
            let n = argc - args.streams_arg;
            if !n.is_multiple_of(2) {
                // Redis 7.0 names XREAD and `$` for XREADGROUP too.
                return Err(CmdError::text(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            args.streams = n / 2;
            break;
        } else if opt.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !with_group {
                return Err(CmdError::text(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            args.group = Some((cmd.arg(i + 1), cmd.arg(i + 2)));
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"noack") {
            if !with_group {
                return Err(CmdError::text(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            args.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if args.streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    if with_group && args.group.is_none() {
        return Err(CmdError::text("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(args)
}

/// A stream's requested position: entries after `after`, or `>` (new to the group).
#[derive(Debug, Clone, Copy)]
enum ReadFrom {
    After(StreamId),
    New,
}

fn xread(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    read_generic(ctx, cmd, false)
}

fn xreadgroup(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    read_generic(ctx, cmd, true)
}

fn nogroup_read(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::text(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn read_generic(ctx: &mut Ctx<'_>, cmd: &Command, with_group: bool) -> CmdResult {
    let args = parse_read(cmd, with_group)?;
    if let Some(key) = ctx.serving_key {
        let key = key.to_vec();
        return serve_blocked(ctx, cmd, &args, &key);
    }
    let now = ctx.now;
    let keys: Vec<&[u8]> = (0..args.streams)
        .map(|i| cmd.arg(args.streams_arg + i))
        .collect();
    let mut from = Vec::with_capacity(args.streams);
    for (i, key) in keys.iter().enumerate() {
        let arg = cmd.arg(args.streams_arg + args.streams + i);
        let s = read_stream(ctx.db(), key, now)?;
        if let Some((group, _)) = args.group {
            if !s.is_some_and(|s| s.groups.contains_key(group)) {
                return Err(nogroup_read(key, group));
            }
        }
        if arg == b"$" {
            if with_group {
                return Err(CmdError::text(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(s.map(|s| s.last_id).unwrap_or_default()));
        } else if arg == b">" {
            if !with_group {
                return Err(CmdError::text(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            from.push(ReadFrom::After(strict_id(arg)?));
        }
    }
    let mut body = Reply::new(ctx.out.is_resp3());
    let mut served = 0usize;
    for (i, key) in keys.iter().enumerate() {
        let Some(s) = read_stream(ctx.db(), key, now)? else {
            continue;
        };
        let (after, history) = match (from[i], args.group) {
            (ReadFrom::After(id), Some(_)) => (id, true),
            (ReadFrom::New, Some((group, _))) => {
                let last = s.groups.get(group).map(|g| g.last_id).unwrap_or_default();
                if s.is_empty() || s.last_valid_id() <= last {
                    continue;
                }
                (last, false)
            }
            (ReadFrom::After(id), None) => {
                if s.is_empty() || s.last_valid_id() <= id {
                    continue;
                }
                (id, false)
            }
            (ReadFrom::New, None) => continue,
        };
        served += 1;
        if !body.is_resp3() {
            body.array(2);
        }
        body.bulk(key);
        let start = after.next().unwrap_or(StreamId::MAX);
        match args.group {
            Some((group, consumer)) => {
                let Some(s) = write_stream(ctx.db(), key, now)? else {
                    continue;
                };
                let served = serve_group(
                    &mut body, s, group, consumer, start, args.count, args.noack, history, now,
                );
                ctx.dirty(1);
                if served.created {
                    ctx.notify(Events::STREAM, "xgroup-createconsumer", key);
                }
                propagate_group_change(ctx, key, group, consumer, &served);
            }
            None => {
                write_range(&mut body, s, start, StreamId::MAX, false, args.count);
            }
        }
    }
    if served > 0 {
        if ctx.out.is_resp3() {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.raw(&body.take());
        return Ok(());
    }
    match args.block {
        Some(timeout) => {
            let rewritten = blocked_command(cmd, &args, &from);
            let keys = keys.iter().map(|k| k.to_vec()).collect();
            ctx.block_on_as(keys, timeout, TimeoutReply::NullArray, rewritten);
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// The command a blocked reader runs when woken: its `$` IDs resolved, and `COUNT` set to
/// what Redis serves a blocked reader at most.
fn blocked_command(cmd: &Command, args: &ReadArgs<'_>, from: &[ReadFrom]) -> Command {
    let count = if args.count_given && args.count > 0 {
        args.count
    } else {
        BLOCKED_DEFAULT_COUNT
    };
    let mut out: Vec<Vec<u8>> = vec![cmd.arg(0).to_vec()];
    if let Some((group, consumer)) = args.group {
        out.extend([b"GROUP".to_vec(), group.to_vec(), consumer.to_vec()]);
    }
    if args.noack {
        out.push(b"NOACK".to_vec());
    }
    out.extend([b"COUNT".to_vec(), count.to_string().into_bytes()]);
    out.extend([b"BLOCK".to_vec(), b"0".to_vec(), b"STREAMS".to_vec()]);
    for i in 0..args.streams {
        out.push(cmd.arg(args.streams_arg + i).to_vec());
    }
    for f in from {
        out.push(match f {
            ReadFrom::After(id) => id.to_bytes(),
            ReadFrom::New => b">".to_vec(),
        });
    }
    Command::from_args(out)
}

/// Serves a blocked reader from the key that became ready, or writes nothing to keep it
/// waiting (Redis's `serveClientsBlockedOnStreamKey`).
fn serve_blocked(ctx: &mut Ctx<'_>, cmd: &Command, args: &ReadArgs<'_>, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    let Some(i) = (0..args.streams).find(|&i| cmd.arg(args.streams_arg + i) == key) else {
        return Ok(());
    };
    let id_arg = cmd.arg(args.streams_arg + args.streams + i);
    let (after, last_id) = {
        let stream = match ctx.db().value(key, now) {
            Some(Value::Stream(s)) => Some(&**s),
            _ => None,
        };
        let Some(s) = stream else {
            if args.group.is_some() {
                return Err(CmdError::text("UNBLOCKED the stream key no longer exists"));
            }
            return Ok(());
        };
        let after =
            match args.group {
                Some((group, _)) => match s.groups.get(group) {
                    None => return Err(CmdError::text(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    )),
                    Some(g) => g.last_id,
                },
                None => parse_id(id_arg, 0, IdSyntax::Strict)
                    .map(|p| p.id)
                    .unwrap_or(StreamId::MAX),
            };
        (after, s.last_id)
    };
    if last_id <= after {
        return Ok(());
    }
    let start = after.next().unwrap_or(StreamId::MAX);
    let resp3 = ctx.out.is_resp3();
    let (db, out) = ctx.db_out();
    if resp3 {
        out.map(1);
    } else {
        out.array(1);
        out.array(2);
    }
    out.bulk(key);
    match args.group {
        Some((group, consumer)) => {
            let served = match db.get_mut(key, now) {
                Some(Value::Stream(s)) => serve_group(
                    out, s, group, consumer, start, args.count, args.noack, false, now,
                ),
                _ => Served::default(),
            };
            ctx.dirty(1);
            if served.created {
                ctx.notify(Events::STREAM, "xgroup-createconsumer", key);
            }
            propagate_group_change(ctx, key, group, consumer, &served);
        }
        None => {
            if let Some(Value::Stream(s)) = db.value(key, now) {
                write_range(out, s, start, StreamId::MAX, false, args.count);
            }
        }
    }
    Ok(())
}

/// What a group read or claim did, for propagation.
#[derive(Default)]
struct Served {
    /// The consumer was created.
    created: bool,
    /// Entries now pending with a new delivery (time, count or consumer).
    claimed: Vec<StreamId>,
    /// Entries taken out of the pending lists because they were deleted from the stream.
    acked: Vec<StreamId>,
    /// The group's last ID moved.
    moved: bool,
}

/// `XREADGROUP`, `XCLAIM` and `XAUTOCLAIM` propagate as what they did to the group (Redis's
/// `streamPropagateXCLAIM` and `streamPropagateGroupID`): the consumer's creation, an `XACK`
/// of the entries dropped for being deleted, an `XCLAIM … FORCE JUSTID` per delivered or
/// claimed entry with its delivery time and count, and the group's new last ID with its
/// entries-read counter. Replicas then hold the same pending lists to the millisecond.
fn propagate_group_change(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    served: &Served,
) {
    if !ctx.replicating() {
        return;
    }
    ctx.no_propagate();
    if served.created {
        ctx.also_propagate([&b"XGROUP"[..], b"CREATECONSUMER", key, group, consumer]);
    }
    if !served.acked.is_empty() {
        let ids: Vec<Vec<u8>> = served
            .acked
            .iter()
            .map(|id| id.to_bytes().to_vec())
            .collect();
        let args = [&b"XACK"[..], key, group]
            .into_iter()
            .chain(ids.iter().map(Vec::as_slice));
        ctx.also_propagate(args);
    }
    let now = ctx.now;
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(Value::Stream(s)) = ctx.db().value(key, now) {
        let Some(g) = s.groups.get(group) else {
            return;
        };
        let last = g.last_id.to_bytes().to_vec();
        for id in &served.claimed {
            if let Some(p) = g.pending.get(id) {
                commands.push(claim_args(key, group, &p.consumer, *id, p, &last));
            }
        }
        if served.moved {
            let read = g.entries_read.map_or(-1, |n| n as i64);
            commands.push(vec![
                b"XGROUP".to_vec(),
                b"SETID".to_vec(),
                key.to_vec(),
                group.to_vec(),
                last,
                b"ENTRIESREAD".to_vec(),
                read.to_string().into_bytes(),
            ]);
        }
    }
    for args in commands {
        ctx.also_propagate(args);
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`: makes a
/// replica's pending entry `id` exactly `p`.
fn claim_args(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    p: &crate::node::keyspace::stream::Pending,
    last: &[u8],
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id.to_bytes().to_vec(),
        b"TIME".to_vec(),
        p.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        p.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_vec(),
    ]
}

/// Delivers entries to `consumer` of `group` and writes them: new entries from `start` on
/// (moving the group's last ID and adding them to the PELs unless `noack`), or with
/// `history` the consumer's own pending entries from `start` on.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    out: &mut Reply,
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: u64,
    noack: bool,
    history: bool,
    now: i64,
) -> Served {
    let mut served = Served::default();
    let Some(g) = s.groups.get_mut(group) else {
        out.array(0);
        return served;
    };
    served.created = g.touch_consumer(consumer, now);
    if history {
        let ids: Vec<StreamId> = g
            .consumers
            .get(consumer)
            .map(|c| {
                c.pending
                    .range(start..)
                    .take(if count == 0 {
                        usize::MAX
                    } else {
                        count as usize
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        out.array(ids.len());
        for id in ids {
            if write_one(out, s, id) {
                if let Some(p) = s.groups.get_mut(group).and_then(|g| g.pending.get_mut(&id)) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                    served.claimed.push(id);
                }
            } else {
                out.array(2);
                write_id(out, id);
                out.null_array();
            }
        }
        return served;
    }
    let mut ids = Vec::new();
    s.visit(start, StreamId::MAX, false, |e| {
        ids.push(e.id);
        count == 0 || (ids.len() as u64) < count
    });
    let end = ids.last().copied().unwrap_or(StreamId::MIN);
    let n = if ids.is_empty() {
        out.array(0);
        0
    } else {
        write_range(out, s, start, end, false, 0)
    };
    debug_assert_eq!(n, ids.len());
    served.moved = !ids.is_empty();
    for id in ids {
        s.advance_group(group, id);
        if !noack {
            if let Some(g) = s.groups.get_mut(group) {
                g.deliver(id, consumer, now);
            }
            served.claimed.push(id);
        }
    }
    served
}

// ---- XGROUP ----

fn nogroup_for_key(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::text(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn subcommand_syntax(cmd: &Command, container: &str) -> CmdError {
    CmdError::text(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&cmd.arg(1)[..cmd.arg(1).len().min(128)]),
        container
    ))
}

/// `ENTRIESREAD n`: Some(None) for -1.
fn entries_read_arg(arg: &[u8]) -> Result<Option<u64>, CmdError> {
    let n = int_arg(arg)?;
    if n < 0 && n != -1 {
        return Err(CmdError::text(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(u64::try_from(n).ok())
}

/// The checks every `XGROUP` subcommand makes first: the stream must exist (unless `CREATE
/// … MKSTREAM`), and some subcommands need the group. Answers whether the stream exists.
fn group_prelude(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    mkstream: bool,
    needs_group: bool,
) -> Result<bool, CmdError> {
    let now = ctx.now;
    let (key, group) = (cmd.arg(2), cmd.arg(3));
    let Some(s) = read_stream(ctx.db(), key, now)? else {
        if mkstream {
            return Ok(false);
        }
        return Err(CmdError::text(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    };
    if needs_group && !s.groups.contains_key(group) {
        return Err(nogroup_for_key(group, key));
    }
    Ok(true)
}

fn xgroup_create(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < cmd.argc() {
        if cmd.arg(i).eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if cmd.arg(i).eq_ignore_ascii_case(b"entriesread") && i + 1 < cmd.argc() {
            entries_read = entries_read_arg(cmd.arg(i + 1))?;
            i += 2;
        } else {
            return Err(subcommand_syntax(cmd, "XGROUP"));
        }
    }
    let exists = group_prelude(ctx, cmd, mkstream, false)?;
    if cmd.argc() > 8 {
        return Err(subcommand_syntax(cmd, "XGROUP"));
    }
    let now = ctx.now;
    let key = cmd.arg(2);
    let id = if cmd.arg(4) == b"$" {
        read_stream(ctx.db(), key, now)?
            .map(|s| s.last_id)
            .unwrap_or_default()
    } else {
        strict_id(cmd.arg(4))?
    };
    let db = ctx.db();
    if !exists {
        db.set(key, Value::Stream(Box::default()), now);
    }
    let s = match write_stream(db, key, now)? {
        Some(s) => s,
        None => return Err(CmdError::NoSuchKey),
    };
    let name = cmd.arg(3);
    if s.groups.contains_key(name) {
        return Err(CmdError::text(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    s.groups.insert(name.into(), Group::new(id, entries_read));
    ctx.dirty(1);
    ctx.notify(Events::STREAM, "xgroup-create", cmd.arg(2));
    ctx.out.ok();
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut entries_read = None;
    let mut i = 5;
    while i < cmd.argc() {
        if cmd.arg(i).eq_ignore_ascii_case(b"entriesread") && i + 1 < cmd.argc() {
            entries_read = entries_read_arg(cmd.arg(i + 1))?;
            i += 2;
        } else {
            return Err(subcommand_syntax(cmd, "XGROUP"));
        }
    }
    group_prelude(ctx, cmd, false, true)?;
    if cmd.argc() != 5 && cmd.argc() != 7 {
        return Err(subcommand_syntax(cmd, "XGROUP"));
    }
    let now = ctx.now;
    let Some(s) = write_stream(ctx.db(), cmd.arg(2), now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let id = if cmd.arg(4) == b"$" {
        s.last_id
    } else {
        loose_id(cmd.arg(4), 0)?
    };
    if let Some(g) = s.groups.get_mut(cmd.arg(3)) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    ctx.dirty(1);
    ctx.notify(Events::STREAM, "xgroup-setid", cmd.arg(2));
    ctx.out.ok();
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    group_prelude(ctx, cmd, false, false)?;
    let now = ctx.now;
    let removed = match write_stream(ctx.db(), cmd.arg(2), now)? {
        Some(s) => s.groups.remove(cmd.arg(3)).is_some(),
        None => false,
    };
    if removed {
        // Blocked `XREADGROUP`s on the group learn it is gone.
        ctx.db().wake(cmd.arg(2));
        ctx.dirty(1);
        ctx.notify(Events::STREAM, "xgroup-destroy", cmd.arg(2));
    }
    ctx.out.int(i64::from(removed));
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    group_prelude(ctx, cmd, false, true)?;
    let now = ctx.now;
    let created = match write_stream(ctx.db(), cmd.arg(2), now)? {
        Some(s) => s
            .groups
            .get_mut(cmd.arg(3))
            .is_some_and(|g| g.create_consumer(cmd.arg(4), now)),
        None => false,
    };
    if created {
        ctx.dirty(1);
        ctx.notify(Events::STREAM, "xgroup-createconsumer", cmd.arg(2));
    }
    ctx.out.int(i64::from(created));
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    group_prelude(ctx, cmd, false, true)?;
    let now = ctx.now;
    // (pending entries it had, whether it existed)
    let (pending, existed) = match write_stream(ctx.db(), cmd.arg(2), now)? {
        Some(s) => match s.groups.get_mut(cmd.arg(3)) {
            Some(g) if g.consumers.contains_key(cmd.arg(4)) => {
                (g.delete_consumer(cmd.arg(4)), true)
            }
            _ => (0, false),
        },
        None => (0, false),
    };
    ctx.dirty(1);
    if existed {
        ctx.notify(Events::STREAM, "xgroup-delconsumer", cmd.arg(2));
    }
    ctx.out.int(pending as i64);
    Ok(())
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn xgroup_help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(XGROUP_HELP);
    Ok(())
}

fn xinfo_help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(XINFO_HELP);
    Ok(())
}

// ---- acknowledging and claiming ----

fn xack(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (key, group) = (cmd.arg(1), cmd.arg(2));
    let has_group = read_stream(ctx.db(), key, now)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = (3..cmd.argc())
        .map(|j| strict_id(cmd.arg(j)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0u64;
    if let Some(g) = write_stream(ctx.db(), key, now)?.and_then(|s| s.groups.get_mut(group)) {
        for id in ids {
            if g.ack(id) {
                acked += 1;
            }
        }
    }
    ctx.dirty(acked);
    ctx.out.int(acked as i64);
    Ok(())
}

fn nogroup_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::text(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn xpending(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let argc = cmd.argc();
    let summary = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut count: u64 = 0;
    let mut min_idle: i64 = 0;
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut at = 3;
        if cmd.arg(3).eq_ignore_ascii_case(b"idle") {
            min_idle = int_arg(cmd.arg(4))?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        count = int_arg(cmd.arg(at + 2))?.max(0) as u64;
        start = range_start(cmd.arg(at))?;
        end = range_end(cmd.arg(at + 1))?;
        if at + 3 < argc {
            consumer = Some(cmd.arg(at + 3));
        }
    }
    let now = ctx.now;
    let (key, group) = (cmd.arg(1), cmd.arg(2));
    let (db, out) = ctx.db_out();
    let s = read_stream(db, key, now)?;
    let Some(g) = s.and_then(|s| s.groups.get(group)) else {
        return Err(nogroup_key(key, group));
    };
    if summary {
        out.array(4);
        out.int(g.pending.len() as i64);
        match (g.pending.keys().next(), g.pending.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                write_id(out, first);
                write_id(out, last);
                let holders: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pending.is_empty())
                    .collect();
                out.array(holders.len());
                for (name, c) in holders {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pending.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            None => {
                out.array(0);
                return Ok(());
            }
            Some(c) if start <= end => Box::new(c.pending.range(start..=end).copied()),
            Some(_) => Box::new(std::iter::empty()),
        },
        None if start <= end => Box::new(g.pending.range(start..=end).map(|(&id, _)| id)),
        None => Box::new(std::iter::empty()),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as u64 >= count {
            break;
        }
        let Some(p) = g.pending.get(&id) else {
            continue;
        };
        if min_idle != 0 && now - p.delivery_time < min_idle {
            continue;
        }
        rows.push((id, p));
    }
    out.array(rows.len());
    for (id, p) in rows {
        out.array(4);
        write_id(out, id);
        out.bulk(&p.consumer);
        out.int((now - p.delivery_time).max(0));
        out.int(p.delivery_count as i64);
    }
    Ok(())
}

fn xclaim(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (key, group, consumer) = (cmd.arg(1), cmd.arg(2), cmd.arg(3));
    let has_group = read_stream(ctx.db(), key, now)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        return Err(nogroup_key(key, group));
    }
    let min_idle = int_arg_or(cmd.arg(4), "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < cmd.argc() {
        match parse_id(cmd.arg(j), 0, IdSyntax::Strict) {
            Some(p) => ids.push(p.id),
            None => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < cmd.argc() {
        let more = cmd.argc() - 1 - j;
        let opt = cmd.arg(j);
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            let idle = int_arg_or(cmd.arg(j), "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery_time = Some(now.wrapping_sub(idle));
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            delivery_time = Some(int_arg_or(
                cmd.arg(j),
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            retry_count = Some(int_arg_or(
                cmd.arg(j),
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?);
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            last_id = strict_id(cmd.arg(j))?;
        } else {
            return Err(CmdError::text(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery_time = match delivery_time {
        Some(t) if t < 0 || t > now => now,
        Some(t) => t,
        None => now,
    };
    let (db, out) = ctx.db_out();
    let Some(s) = write_stream(db, key, now)? else {
        return Err(nogroup_key(key, group));
    };
    let mut body = Reply::new(out.is_resp3());
    let mut n = 0usize;
    let mut changes = 0u64;
    let mut created = false;
    let mut served = Served::default();
    for id in ids {
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(group) else {
            break;
        };
        if last_id > g.last_id {
            g.last_id = last_id;
            served.moved = true;
        }
        if !exists {
            if g.ack(id) {
                changes += 1;
                served.acked.push(id);
            }
            continue;
        }
        let forced = if force && !g.pending.contains_key(&id) {
            g.pending.insert(
                id,
                crate::node::keyspace::stream::Pending {
                    consumer: Box::default(),
                    delivery_time: now,
                    delivery_count: 1,
                },
            );
            true
        } else {
            false
        };
        let Some(p) = g.pending.get(&id) else {
            continue;
        };
        if !forced && min_idle != 0 && now - p.delivery_time < min_idle {
            continue;
        }
        created |= g.touch_consumer(consumer, now);
        if forced {
            if let Some(p) = g.pending.get_mut(&id) {
                p.consumer = consumer.into();
            }
        }
        g.reassign(id, consumer);
        if let Some(p) = g.pending.get_mut(&id) {
            p.delivery_time = delivery_time;
            match retry_count {
                Some(r) if r >= 0 => p.delivery_count = r as u64,
                _ if !justid => p.delivery_count += 1,
                _ => {}
            }
        }
        changes += 1;
        served.claimed.push(id);
        if justid {
            write_id(&mut body, id);
        } else if !write_one(&mut body, s, id) {
            body.null();
        }
        n += 1;
    }
    if let Some(g) = s.groups.get_mut(group) {
        if last_id > g.last_id {
            g.last_id = last_id;
            served.moved = true;
        }
    }
    out.array(n);
    out.raw(&body.take());
    ctx.dirty(changes);
    if created {
        ctx.notify(Events::STREAM, "xgroup-createconsumer", key);
    }
    served.created = created;
    propagate_group_change(ctx, key, group, consumer, &served);
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (key, group, consumer) = (cmd.arg(1), cmd.arg(2), cmd.arg(3));
    let min_idle = int_arg_or(
        cmd.arg(4),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = range_start(cmd.arg(5))?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < cmd.argc() {
        let more = cmd.argc() - 1 - j;
        let opt = cmd.arg(j);
        if opt.eq_ignore_ascii_case(b"count") && more > 0 {
            const MAX_COUNT: i64 = i64::MAX / 16;
            count = match parse_i64(cmd.arg(j + 1)) {
                Some(n) if (1..=MAX_COUNT).contains(&n) => n,
                _ => return Err(CmdError::text("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let has_group = read_stream(ctx.db(), key, now)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        return Err(nogroup_key(key, group));
    }
    let (db, out) = ctx.db_out();
    let Some(s) = write_stream(db, key, now)? else {
        return Err(nogroup_key(key, group));
    };
    let mut attempts = count.saturating_mul(10);
    let mut body = Reply::new(out.is_resp3());
    let mut claimed = 0usize;
    let mut deleted = Vec::new();
    let mut cursor = start;
    let mut next: Option<StreamId> = None;
    let mut changes = 0u64;
    let mut created = false;
    let mut served = Served::default();
    loop {
        let candidate = s
            .groups
            .get(group)
            .and_then(|g| g.pending.range(cursor..).next().map(|(&id, _)| id));
        if attempts == 0 || count == 0 {
            next = candidate;
            break;
        }
        attempts -= 1;
        let Some(id) = candidate else {
            break;
        };
        cursor = match id.next() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(group) else {
            break;
        };
        if !exists {
            g.ack(id);
            deleted.push(id);
            served.acked.push(id);
            count -= 1;
            changes += 1;
        } else {
            let idle_ok = g
                .pending
                .get(&id)
                .is_some_and(|p| min_idle == 0 || now - p.delivery_time >= min_idle);
            if idle_ok {
                created |= g.touch_consumer(consumer, now);
                g.reassign(id, consumer);
                if let Some(p) = g.pending.get_mut(&id) {
                    p.delivery_time = now;
                    if !justid {
                        p.delivery_count += 1;
                    }
                }
                if justid {
                    write_id(&mut body, id);
                } else if !write_one(&mut body, s, id) {
                    body.null();
                }
                claimed += 1;
                served.claimed.push(id);
                count -= 1;
                changes += 1;
            }
        }
        if id == StreamId::MAX {
            break;
        }
    }
    out.array(3);
    write_id(out, next.unwrap_or(StreamId::MIN));
    out.array(claimed);
    out.raw(&body.take());
    out.array(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    ctx.dirty(changes);
    if created {
        ctx.notify(Events::STREAM, "xgroup-createconsumer", key);
    }
    served.created = created;
    propagate_group_change(ctx, key, group, consumer, &served);
    Ok(())
}

// ---- XINFO ----

fn info_stream<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<&'d Stream, CmdError> {
    read_stream(db, key, now)?.ok_or(CmdError::NoSuchKey)
}

/// A rough `radix-tree-nodes`: Redis counts its radix tree's inner nodes, which depend on
/// how the 16-byte keys share prefixes; this is the same order of magnitude, not the value.
fn radix_nodes(chunks: usize) -> usize {
    if chunks == 0 {
        1
    } else {
        chunks + 1
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut full = false;
    let mut count: i64 = 10;
    let argc = cmd.argc();
    if argc > 3 {
        if !cmd.arg(3).eq_ignore_ascii_case(b"full") {
            return Err(subcommand_syntax(cmd, "XINFO"));
        }
        full = true;
        if argc > 4 {
            if argc != 6 || !cmd.arg(4).eq_ignore_ascii_case(b"count") {
                return Err(subcommand_syntax(cmd, "XINFO"));
            }
            count = int_arg(cmd.arg(5))?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let s = info_stream(db, cmd.arg(2), now)?;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.chunk_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(radix_nodes(s.chunk_count()) as i64);
    out.bulk(b"last-generated-id");
    write_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, last) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            match s.edge_id(last) {
                Some(id) => {
                    write_one(out, s, id);
                }
                None => out.null(),
            }
        }
        return Ok(());
    }
    let count = count as u64;
    out.bulk(b"entries");
    write_range(out, s, StreamId::MIN, StreamId::MAX, false, count);
    out.bulk(b"groups");
    out.array(s.groups.len());
    let take = |n: usize| if count == 0 { n } else { n.min(count as usize) };
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        write_group_counters(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pending.len() as i64);
        out.bulk(b"pending");
        out.array(take(g.pending.len()));
        for (id, p) in g.pending.iter().take(take(g.pending.len())) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pending.len() as i64);
            out.bulk(b"pending");
            out.array(take(c.pending.len()));
            for id in c.pending.iter().take(take(c.pending.len())) {
                let p = g.pending.get(id);
                out.array(3);
                write_id(out, *id);
                out.int(p.map_or(0, |p| p.delivery_time));
                out.int(p.map_or(0, |p| p.delivery_count as i64));
            }
        }
    }
    Ok(())
}

/// `entries-read` and `lag`, as `XINFO` shows them.
fn write_group_counters(out: &mut Reply, s: &Stream, g: &Group) {
    out.bulk(b"entries-read");
    match g.entries_read {
        Some(n) => out.int(n as i64),
        None => out.null(),
    }
    out.bulk(b"lag");
    match s.lag(g) {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn xinfo_groups(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let s = info_stream(db, cmd.arg(2), now)?;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pending.len() as i64);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        write_group_counters(out, s, g);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (key, group) = (cmd.arg(2), cmd.arg(3));
    let (db, out) = ctx.db_out();
    let s = info_stream(db, key, now)?;
    let Some(g) = s.groups.get(group) else {
        return Err(nogroup_for_key(group, key));
    };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pending.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
    Ok(())
}
