//! `cjson`: JSON encoding and decoding as Redis's bundled Lua CJSON 2.1 does it.
//!
//! Written in Rust because no crate offers Lua CJSON for mlua. It follows CJSON's defaults:
//! numbers as `%.14g`, `/` escaped as `\/`, a table is an array when every key is a positive
//! integer and it is not excessively sparse (more than twice as many slots as items, past 10),
//! an empty table encodes as `{}`, JSON `null` decodes to `cjson.null`, nesting stops at 1000.
//! Differences: decode error texts name the position but not always CJSON's exact token
//! description; `encode_keep_buffer`, `encode_invalid_numbers` and `decode_invalid_numbers`
//! are accepted and ignored; `cjson.new` is not offered.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

const MAX_DEPTH: usize = 1000;

/// CJSON's `null`: a light userdata holding NULL.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The raw functions (answering `(true, value)` or `(false, message)`).
pub fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Ok((
                    false,
                    Value::String(
                        lua.create_string("bad argument #1 to 'encode' (expected 1 argument)")?,
                    ),
                ));
            }
            let mut out = Vec::new();
            match encode(&args[0], &mut out, 0) {
                Ok(()) => Ok((true, Value::String(lua.create_string(out)?))),
                Err(e) => Ok((false, Value::String(lua.create_string(e)?))),
            }
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front() else {
                return Ok((
                    false,
                    Value::String(
                        lua.create_string("bad argument #1 to 'decode' (string expected)")?,
                    ),
                ));
            };
            let bytes = s.as_bytes().to_vec();
            let mut p = Parser {
                s: &bytes,
                i: 0,
                lua,
            };
            match p.document() {
                Ok(v) => Ok((true, v)),
                Err(e) => Ok((false, Value::String(lua.create_string(e)?))),
            }
        })?,
    )?;
    for name in [
        "encode_keep_buffer",
        "encode_max_depth",
        "decode_max_depth",
        "encode_invalid_numbers",
        "decode_invalid_numbers",
        "encode_sparse_array",
        "encode_number_precision",
    ] {
        t.raw_set(
            name,
            lua.create_function(|_, _: MultiValue| Ok((true, Value::Nil)))?,
        )?;
    }
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(x) => {
            if !x.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(crate::node::reply::format_g(*x, 14).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth + 1 > MAX_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            match array_len(t)? {
                Some(len) => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(&item, out, depth + 1)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => string(&s.as_bytes(), out),
                            Value::Number(x) => {
                                string(crate::node::reply::format_g(*x, 14).as_bytes(), out)
                            }
                            Value::Integer(n) => string(n.to_string().as_bytes(), out),
                            _ => {
                                return Err(
                                    "Cannot serialise table: table key must be a number or string"
                                        .into(),
                                )
                            }
                        }
                        out.push(b':');
                        encode(&item, out, depth + 1)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// `Some(length)` when the table encodes as an array, as CJSON decides.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let n = match k {
            Value::Integer(n) if n >= 1 => n as f64,
            Value::Number(x) => x,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    if items == 0 {
        return Ok(None);
    }
    if max > items * 2 && max > 10 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Value, String> {
        let v = self.value(0)?;
        self.ws();
        if self.i < self.s.len() {
            return Err(self.unexpected("the end"));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        let rest = &self.s[self.i.min(self.s.len())..];
        let found = match rest.first() {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            _ if rest.starts_with(b"true") || rest.starts_with(b"false") => "T_BOOLEAN",
            _ if rest.starts_with(b"null") => "T_NULL",
            _ => "invalid token",
        };
        format!(
            "Expected {expected} but found {found} at character {}",
            self.i + 1
        )
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.ws();
        if depth >= MAX_DEPTH {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.i + 1
            ));
        }
        let lua_err = |e: mlua::Error| e.to_string();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let t = self.lua.create_table().map_err(lua_err)?;
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.unexpected("object key string"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(self.unexpected("colon"));
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    t.raw_set(self.lua.create_string(k).map_err(lua_err)?, v)
                        .map_err(lua_err)?;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.unexpected("comma or object end")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let t = self.lua.create_table().map_err(lua_err)?;
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                let mut n = 1;
                loop {
                    let v = self.value(depth + 1)?;
                    t.raw_set(n, v).map_err(lua_err)?;
                    n += 1;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.unexpected("comma or array end")),
                    }
                }
            }
            Some(b'"') => {
                let s = self.string()?;
                Ok(Value::String(self.lua.create_string(s).map_err(lua_err)?))
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(null())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(x) => Ok(Value::Number(x)),
                    Err(_) => {
                        self.i = start;
                        Err(self.unexpected("value"))
                    }
                }
            }
            _ => Err(self.unexpected("value")),
        }
    }

    /// A string token at `self.i` (the opening quote), unescaped.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { break };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4().ok_or_else(|| {
                                format!("Expected value but found invalid unicode escape code at character {}", start + 1)
                            })?;
                            let mut cp = cp;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.i) == Some(&b'\\')
                                && self.s.get(self.i + 1) == Some(&b'u')
                            {
                                self.i += 2;
                                let lo = self.hex4().unwrap_or(0);
                                cp = 0x10000
                                    + ((cp - 0xD800) << 10)
                                    + (lo.wrapping_sub(0xDC00) & 0x3ff);
                            }
                            let c = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(format!(
                                "Expected value but found invalid escape code at character {}",
                                start + 1
                            ))
                        }
                    }
                }
                b => out.push(b),
            }
        }
        Err(format!(
            "Expected value but found unexpected end of string at character {}",
            start + 1
        ))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }
}
