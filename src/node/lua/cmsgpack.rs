//! `cmsgpack`: MessagePack as Redis's bundled lua-cmsgpack 0.4 writes and reads it.
//!
//! Written in Rust because no crate offers lua-cmsgpack for mlua. `pack(...)` encodes each
//! argument in turn (integers in the smallest form, other numbers as float32 when exact, else
//! float64; a table whose keys are exactly 1..n as an array, any other as a map; nesting past
//! 16 levels and unsupported types as nil); `unpack(s)` returns every object in `s`.
//! Differences: `unpack_one` and `unpack_limit` decode like `unpack` but do not return the
//! offset first; ext types are refused as bad data.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

/// The raw functions (answering `(true, value)` or `(false, message)`).
pub fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Ok((
                    false,
                    Value::String(lua.create_string(
                        "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                    )?),
                ));
            }
            let mut out = Vec::new();
            for v in &args {
                encode(v, &mut out, 0);
            }
            Ok((true, Value::String(lua.create_string(out)?)))
        })?,
    )?;
    for name in ["unpack", "unpack_one", "unpack_limit"] {
        t.raw_set(
            name,
            lua.create_function(|lua, args: MultiValue| {
                let bytes = match args.front() {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Number(x)) => crate::node::reply::format_g(*x, 14).into_bytes(),
                    Some(Value::Integer(n)) => n.to_string().into_bytes(),
                    _ => {
                        return Ok((
                            false,
                            Value::String(
                                lua.create_string("bad argument #1 to 'unpack' (string expected)")?,
                            ),
                            None,
                        ))
                    }
                };
                let mut d = Decoder {
                    s: &bytes,
                    i: 0,
                    lua,
                };
                let items = lua.create_table()?;
                let mut n = 0;
                while d.i < bytes.len() {
                    match d.value() {
                        Ok(v) => {
                            n += 1;
                            items.raw_set(n, v)?;
                        }
                        Err(e) => return Ok((false, Value::String(lua.create_string(e)?), None)),
                    }
                }
                items.raw_set("n", n)?;
                // Several values travel as a table the wrapper spreads.
                Ok((true, Value::Table(items), Some(true)))
            })?,
        )?;
    }
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => int(*n, out),
        Value::Number(x) => {
            let x = *x;
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x) {
                int(x as i64, out);
            } else if f64::from(x as f32) == x || x.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(x as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&x.to_be_bytes());
            }
        }
        Value::String(s) => {
            let s = s.as_bytes();
            let len = s.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.push(0xd9);
                out.push(len as u8);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&s);
        }
        Value::Table(t) if depth < MAX_NESTING => {
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().filter_map(Result::ok).collect();
            let max = pairs
                .iter()
                .map(|(k, _)| match k {
                    Value::Integer(n) if *n >= 1 => Some(*n as f64),
                    Value::Number(x) if *x >= 1.0 && x.fract() == 0.0 => Some(*x),
                    _ => None,
                })
                .try_fold(0.0f64, |m, k| k.map(|k| m.max(k)));
            match max {
                Some(max) if max as usize == pairs.len() => {
                    header(out, pairs.len(), 0x90, 0xdc, 0xdd);
                    for i in 1..=pairs.len() {
                        let item: Value = t.raw_get(i).unwrap_or(Value::Nil);
                        encode(&item, out, depth + 1);
                    }
                }
                _ => {
                    header(out, pairs.len(), 0x80, 0xde, 0xdf);
                    for (k, item) in &pairs {
                        encode(k, out, depth + 1);
                        encode(item, out, depth + 1);
                    }
                }
            }
        }
        _ => out.push(0xc0),
    }
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, b16: u8, b32: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u <= 127 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

struct Decoder<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.s.len())
            .ok_or(MISSING)?;
        let bytes = &self.s[self.i..end];
        self.i = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value(&mut self) -> Result<Value, String> {
        let b = self.take(1)?[0];
        Ok(match b {
            0x00..=0x7f => Value::Number(f64::from(b)),
            0xe0..=0xff => Value::Number(f64::from(b as i8)),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xca => Value::Number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(usize::from(b & 0x1f))?,
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                self.string(n)?
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                self.string(n)?
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                self.string(n)?
            }
            0x90..=0x9f => self.array(usize::from(b & 0x0f))?,
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(n)?
            }
            0x80..=0x8f => self.map(usize::from(b & 0x0f))?,
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n)?
            }
            _ => return Err(BAD.into()),
        })
    }

    fn string(&mut self, n: usize) -> Result<Value, String> {
        let bytes = self.take(n)?.to_vec();
        self.lua
            .create_string(bytes)
            .map(Value::String)
            .map_err(|e| e.to_string())
    }

    fn array(&mut self, n: usize) -> Result<Value, String> {
        // Each element takes at least a byte: a count past the input is missing bytes.
        if n > self.s.len() - self.i {
            return Err(MISSING.into());
        }
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        for i in 1..=n {
            let v = self.value()?;
            t.raw_set(i, v).map_err(|e| e.to_string())?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, n: usize) -> Result<Value, String> {
        if n > (self.s.len() - self.i) / 2 {
            return Err(MISSING.into());
        }
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        for _ in 0..n {
            let k = self.value()?;
            let v = self.value()?;
            if !k.is_nil() {
                t.raw_set(k, v).map_err(|e| e.to_string())?;
            }
        }
        Ok(Value::Table(t))
    }
}
