//! Redis's conversions between command replies and Lua values, both ways.
//!
//! A command called from a script answers in RESP (in the protocol the script chose with
//! `redis.setresp`); [`frame_to_lua`] turns that into the Lua value Redis hands the script.
//! A script's return value goes back to the caller through [`write_lua_value`], with Redis's
//! rules: numbers truncated to integers, `false` as null, tables with an `err`/`ok`/`double`/
//! `big_number`/`map`/`set` field as that kind of reply, any other table as an array that
//! stops at its first nil.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::node::reply::Reply;
use crate::resp::{Frame, Limits};

/// Deepest nesting of tables a script may return (Redis stops at Lua's stack limit).
const MAX_DEPTH: usize = 1000;

/// The Lua value for a command's reply, as Redis's `redisProtocolToLuaType` builds it.
/// `resp3`: the script asked for RESP3 with `redis.setresp(3)`.
pub fn frame_to_lua(lua: &Lua, frame: &Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Integer(n) => Value::Number(*n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(s)?)?;
            Value::Table(t)
        }
        Frame::Error(e) | Frame::BulkError(e) => {
            let mut text = Vec::with_capacity(e.len() + 1);
            text.push(b'-');
            text.extend_from_slice(e);
            Value::Table(error_table(lua, &text)?)
        }
        // RESP2's nulls are `false`; RESP3's null is nil.
        Frame::Null if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", inner)?;
            Value::Table(t)
        }
        Frame::Set(items) => {
            let inner = lua.create_table()?;
            for item in items {
                inner.raw_set(frame_to_lua(lua, item, resp3)?, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", inner)?;
            Value::Table(t)
        }
        Frame::Boolean(b) => Value::Boolean(*b),
        Frame::Double(x) => {
            let t = lua.create_table()?;
            t.raw_set("double", *x)?;
            Value::Table(t)
        }
        Frame::BigNumber(b) => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(b)?)?;
            Value::Table(t)
        }
        Frame::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            let t = lua.create_table()?;
            t.raw_set("verbatim_string", inner)?;
            Value::Table(t)
        }
        Frame::Attribute { value, .. } => frame_to_lua(lua, value, resp3)?,
    })
}

/// The Lua value for a command's whole reply as RESP, and whether it is an error. A reply
/// of one line or one bulk string (most commands' replies) is read where it lies; anything
/// else is decoded into a [`Frame`] first and converted by [`frame_to_lua`].
pub fn reply_to_lua(lua: &Lua, reply: &[u8], resp3: bool) -> mlua::Result<(Value, bool)> {
    if let Some(answer) = simple_reply_to_lua(lua, reply, resp3)? {
        return Ok(answer);
    }
    let limits = Limits {
        max_depth: 1024,
        ..Limits::default()
    };
    let frame = match Frame::decode(&Bytes::copy_from_slice(reply), limits) {
        Ok(Some((frame, _))) => frame,
        _ => Frame::Null,
    };
    let is_error = matches!(frame, Frame::Error(_) | Frame::BulkError(_));
    Ok((frame_to_lua(lua, &frame, resp3)?, is_error))
}

/// [`reply_to_lua`] for a reply that is one integer, status, error, null or bulk string
/// filling `reply` exactly (None for anything else), with [`frame_to_lua`]'s results.
fn simple_reply_to_lua(
    lua: &Lua,
    reply: &[u8],
    resp3: bool,
) -> mlua::Result<Option<(Value, bool)>> {
    let null = if resp3 {
        Value::Nil
    } else {
        Value::Boolean(false)
    };
    let Some((&kind, rest)) = reply.split_first() else {
        return Ok(None);
    };
    // The first line, which must be the only one but for a bulk string's data.
    let Some(eol) = rest.iter().position(|&b| b == b'\r') else {
        return Ok(None);
    };
    let (line, after) = (&rest[..eol], &rest[eol..]);
    if !after.starts_with(b"\r\n") {
        return Ok(None);
    }
    let after = &after[2..];
    if kind == b'$' {
        let Some(len) = crate::resp::parse_i64(line) else {
            return Ok(None);
        };
        if len == -1 && after.is_empty() {
            return Ok(Some((null, false)));
        }
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        if len > Limits::DEFAULT_MAX_BULK_LEN || after.len() != len + 2 || !after.ends_with(b"\r\n")
        {
            return Ok(None);
        }
        let data = &after[..len];
        return Ok(Some((Value::String(lua.create_string(data)?), false)));
    }
    if !after.is_empty() {
        return Ok(None);
    }
    Ok(Some(match kind {
        b':' => match crate::resp::parse_i64(line) {
            Some(n) => (Value::Number(n as f64), false),
            None => return Ok(None),
        },
        b'+' => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(line)?)?;
            (Value::Table(t), false)
        }
        b'-' => {
            let mut text = Vec::with_capacity(line.len() + 1);
            text.push(b'-');
            text.extend_from_slice(line);
            (Value::Table(error_table(lua, &text)?), true)
        }
        b'_' if line.is_empty() => (null, false),
        _ => return Ok(None),
    }))
}

/// The `{err = "CODE message"}` table Redis's `luaPushErrorBuff` builds from an error text:
/// `-CODE message` keeps its code, a text without the leading `-` gets `ERR`.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// The `err` field's text for an error text (see [`error_table`]).
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let msg = trim_newlines(msg);
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

fn trim_newlines(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Replaces CR and LF by spaces, so a text can travel in a one-line reply.
pub fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Writes a script's return value as Redis's `luaReplyToRedisReply` does. `script_resp3`: the
/// protocol the script chose (it decides how booleans travel).
pub fn write_lua_value(out: &mut Reply, value: &Value, script_resp3: bool) {
    write_value(out, value, script_resp3, 0);
}

fn write_value(out: &mut Reply, value: &Value, script_resp3: bool, depth: usize) {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(n) => out.int(*n),
        Value::Number(x) => out.int(truncate(*x)),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error(b"ERR reached lua stack limit");
                return;
            }
            write_table(out, t, script_resp3, depth)
        }
        _ => out.null(),
    }
}

/// C's `(long long)` cast of a double as x86-64 does it: out of range or NaN gives the
/// "integer indefinite" value, `i64::MIN`.
fn truncate(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

fn write_table(out: &mut Reply, t: &Table, script_resp3: bool, depth: usize) {
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        let mut text = one_line(trim_newlines(&err.as_bytes()));
        if text.is_empty() {
            // `-%s` of an empty message still starts with `-`: the reply is a bare `-`.
            text.clear();
        }
        out.error(&text);
        return;
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        out.simple(&one_line(&ok.as_bytes()));
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(x)) => return out.double(x),
        Ok(Value::Integer(n)) => return out.double(n as f64),
        _ => {}
    }
    if let Ok(Value::String(n)) = t.raw_get::<Value>("big_number") {
        let text = one_line(&n.as_bytes());
        return out.big_number(&text);
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> =
            map.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(out, k, script_resp3, depth + 1);
            write_value(out, v, script_resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let members: Vec<Value> = set
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(members.len());
        for m in &members {
            write_value(out, m, script_resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(out, v, script_resp3, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_get_a_code() {
        assert_eq!(error_text(b"-WRONGTYPE Operation"), b"WRONGTYPE Operation");
        assert_eq!(error_text(b"-x"), b"ERR x");
        assert_eq!(error_text(b"plain words\r\n"), b"ERR plain words");
    }

    #[test]
    fn tables_convert_like_redis() {
        let lua = Lua::new();
        let v: Value = lua
            .load("return {1, 2.9, -2.9, 'a', false, true, {ok='fine'}, nil, 5}")
            .eval()
            .unwrap();
        let mut out = Reply::new(false);
        write_lua_value(&mut out, &v, false);
        assert_eq!(
            &out.take()[..],
            b"*7\r\n:1\r\n:2\r\n:-2\r\n$1\r\na\r\n$-1\r\n:1\r\n+fine\r\n"
        );
    }

    #[test]
    fn replies_read_in_place_convert_as_frames_do() {
        let lua = Lua::new();
        let replies: &[&[u8]] = &[
            b":5\r\n",
            b":-12\r\n",
            b"$3\r\nabc\r\n",
            b"$0\r\n\r\n",
            b"$4\r\na\r\nb\r\n",
            b"$-1\r\n",
            b"_\r\n",
            b"+OK\r\n",
            b"-ERR bad thing\r\n",
            b"-WRONGTYPE Operation against a key\r\n",
            b"*2\r\n:1\r\n$1\r\na\r\n",
            b"*-1\r\n",
            b"#t\r\n",
        ];
        for &reply in replies {
            for resp3 in [false, true] {
                let (fast, fast_error) = reply_to_lua(&lua, reply, resp3).unwrap();
                let frame = Frame::decode(&Bytes::copy_from_slice(reply), Limits::default())
                    .unwrap()
                    .unwrap()
                    .0;
                let slow = frame_to_lua(&lua, &frame, resp3).unwrap();
                let slow_error = matches!(frame, Frame::Error(_) | Frame::BulkError(_));
                let (mut a, mut b) = (Reply::new(resp3), Reply::new(resp3));
                write_lua_value(&mut a, &fast, resp3);
                write_lua_value(&mut b, &slow, resp3);
                let reply = String::from_utf8_lossy(reply);
                assert_eq!(a.take(), b.take(), "{reply:?} resp3={resp3}");
                assert_eq!(fast_error, slow_error, "{reply:?}");
                assert_eq!(fast.type_name(), slow.type_name(), "{reply:?}");
            }
        }
    }

    #[test]
    fn self_reference_is_bounded() {
        let lua = Lua::new();
        let v: Value = lua.load("local t = {} t[1] = t return t").eval().unwrap();
        let mut out = Reply::new(false);
        write_lua_value(&mut out, &v, false);
        assert!(out.take().ends_with(b"-ERR reached lua stack limit\r\n"));
    }
}
