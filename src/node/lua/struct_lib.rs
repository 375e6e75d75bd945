//! `struct`: binary packing as Redis's bundled Roberto Ierusalimschy's `struct` library does.
//!
//! Written in Rust because no crate offers it for mlua. Formats: `<` `>` `=` (endianness,
//! native is little), `!n` (alignment), `x` (a pad byte), `b`/`B` `h`/`H` `l`/`L` `T`
//! `i[n]`/`I[n]` (integers of 1, 2, 8, 8 and n bytes), `f` `d` (floats), `s` (zero-terminated
//! string), `c[n]` (n chars; `c0` takes its length from the previous number), spaces ignored.
//! `unpack` returns the values and the position after them. Error texts follow the C library
//! for the common mistakes.

use mlua::{Lua, MultiValue, Table, Value};

/// The raw functions (answering `(true, value[, spread])` or `(false, message)`).
pub fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            let answer = match pack(&args) {
                Ok(bytes) => (true, Value::String(lua.create_string(bytes)?), None::<bool>),
                Err(e) => (false, Value::String(lua.create_string(e)?), None),
            };
            Ok(answer)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let answer = match unpack(lua, &args) {
                Ok(items) => (true, Value::Table(items), Some(true)),
                Err(e) => (false, Value::String(lua.create_string(e)?), None),
            };
            Ok(answer)
        })?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, args: MultiValue| {
            let fmt = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => {
                    return Ok((
                        false,
                        Value::String(lua.create_string(
                            "bad argument #1 to 'size' (string expected, got no value)",
                        )?),
                    ))
                }
            };
            let mut size = 0usize;
            let mut f = Format::new(&fmt);
            while let Some(item) = f.next_item() {
                match item {
                    Ok(Item { kind, size: n }) => {
                        if kind == b's' || (kind == b'c' && n == 0) {
                            let option = if kind == b's' { "s" } else { "c0" };
                            return Ok((
                                false,
                                Value::String(lua.create_string(format!(
                                    "bad argument #1 to 'size' (option '{option}' has no fixed size)"
                                ))?),
                            ));
                        }
                        size += f.padding(size, n) + n;
                    }
                    Err(e) => {
                        return Ok((false, Value::String(lua.create_string(e.replace("{}", "size"))?)))
                    }
                }
            }
            Ok((true, Value::Number(size as f64)))
        })?,
    )?;
    Ok(t)
}

struct Item {
    kind: u8,
    size: usize,
}

/// Walks a format string, tracking endianness and alignment.
struct Format<'a> {
    fmt: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Format<'a> {
        Format {
            fmt,
            i: 0,
            little: true,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.i;
        let mut n = 0usize;
        while self.i < self.fmt.len() && self.fmt[self.i].is_ascii_digit() && n < 1 << 20 {
            n = n * 10 + usize::from(self.fmt[self.i] - b'0');
            self.i += 1;
        }
        if self.i == start {
            default
        } else {
            n
        }
    }

    /// The next item that takes room, or an error text.
    fn next_item(&mut self) -> Option<Result<Item, String>> {
        while self.i < self.fmt.len() {
            let c = self.fmt[self.i];
            self.i += 1;
            let size = match c {
                b' ' => continue,
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'!' => {
                    self.align = self.number(8);
                    continue;
                }
                b'x' | b'b' | b'B' => 1,
                b'h' | b'H' => 2,
                b'l' | b'L' | b'T' | b'd' => 8,
                b'f' => 4,
                b's' => 0,
                b'i' | b'I' => {
                    let n = self.number(4);
                    if !(1..=32).contains(&n) {
                        return Some(Err(format!("integral size {n} is larger than limit of 32")));
                    }
                    n
                }
                b'c' => self.number(1),
                other => {
                    return Some(Err(format!(
                        "bad argument #1 to '{{}}' (invalid format option '{}')",
                        char::from(other)
                    )))
                }
            };
            return Some(Ok(Item { kind: c, size }));
        }
        None
    }

    /// Bytes of padding before an item of `size` at offset `at`.
    fn padding(&self, at: usize, size: usize) -> usize {
        let align = size.min(self.align);
        if align <= 1 || !align.is_power_of_two() {
            return 0;
        }
        (align - (at & (align - 1))) & (align - 1)
    }
}

fn number_arg(args: &MultiValue, i: usize) -> Result<f64, String> {
    match args.get(i) {
        Some(Value::Number(x)) => Ok(*x),
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                format!(
                    "bad argument #{} to 'pack' (number expected, got string)",
                    i + 1
                )
            }),
        Some(v) => Err(format!(
            "bad argument #{} to 'pack' (number expected, got {})",
            i + 1,
            v.type_name()
        )),
        None => Err(format!(
            "bad argument #{} to 'pack' (number expected, got no value)",
            i + 1
        )),
    }
}

fn pack(args: &MultiValue) -> Result<Vec<u8>, String> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return Err("bad argument #1 to 'pack' (string expected, got no value)".into()),
    };
    let mut out = Vec::new();
    let mut f = Format::new(&fmt);
    let mut arg = 1;
    let mut last_number: Option<f64> = None;
    while let Some(item) = f.next_item() {
        let Item { kind, size } = item.map_err(|e| e.replace("{}", "pack"))?;
        let pad = f.padding(out.len(), size);
        out.resize(out.len() + pad, 0);
        match kind {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let x = number_arg(args, arg)?;
                arg += 1;
                last_number = Some(x);
                let v = x as i64;
                // Past 8 bytes the C library writes zeros, whatever the sign.
                let bytes: Vec<u8> = (0..size)
                    .map(|j| {
                        if j < 8 {
                            (v as u64 >> (8 * j)) as u8
                        } else {
                            0
                        }
                    })
                    .collect();
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            b'f' | b'd' => {
                let x = number_arg(args, arg)?;
                arg += 1;
                let bytes = if kind == b'f' {
                    (x as f32).to_le_bytes().to_vec()
                } else {
                    x.to_le_bytes().to_vec()
                };
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            b'c' | b's' => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Number(x)) => crate::node::reply::format_g(*x, 14).into_bytes(),
                    _ => {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string expected, got no value)",
                            arg + 1
                        ))
                    }
                };
                arg += 1;
                let mut n = size;
                if kind == b'c' && n == 0 {
                    n = s.len();
                }
                if kind == b's' {
                    out.extend_from_slice(&s);
                    out.push(0);
                } else {
                    if s.len() < n {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string too short)",
                            arg
                        ));
                    }
                    out.extend_from_slice(&s[..n]);
                }
                let _ = last_number;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, args: &MultiValue) -> Result<Table, String> {
    let lua_err = |e: mlua::Error| e.to_string();
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return Err("bad argument #1 to 'unpack' (string expected, got no value)".into()),
    };
    let data = match args.get(1) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return Err("bad argument #2 to 'unpack' (string expected, got no value)".into()),
    };
    let mut pos = match args.get(2) {
        Some(Value::Number(x)) if *x >= 1.0 => *x as usize - 1,
        Some(Value::Integer(n)) if *n >= 1 => *n as usize - 1,
        None | Some(Value::Nil) => 0,
        _ => return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into()),
    };
    let items = lua.create_table().map_err(lua_err)?;
    let mut n = 0;
    let mut last_number = 0f64;
    let mut f = Format::new(&fmt);
    while let Some(item) = f.next_item() {
        let Item { kind, size } = item.map_err(|e| e.replace("{}", "unpack"))?;
        pos += f.padding(pos, size);
        let too_short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
        let value = match kind {
            b'x' => {
                pos += 1;
                continue;
            }
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                let mut little: Vec<u8> = bytes.to_vec();
                if !f.little {
                    little.reverse();
                }
                let mut buf = [0u8; 8];
                let low = size.min(8);
                buf[..low].copy_from_slice(&little[..low]);
                let size = low;
                let mut v = u64::from_le_bytes(buf);
                let signed = kind.is_ascii_lowercase();
                if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                    v |= !0u64 << (size * 8);
                }
                pos += bytes.len();
                last_number = if signed { v as i64 as f64 } else { v as f64 };
                Value::Number(last_number)
            }
            b'f' | b'd' => {
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                let mut b = bytes.to_vec();
                if !f.little {
                    b.reverse();
                }
                pos += size;
                let x = if kind == b'f' {
                    f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                } else {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                };
                Value::Number(x)
            }
            b'c' => {
                let len = if size == 0 {
                    // `c0` takes its length from the number just read, which it consumes.
                    if n > 0 {
                        items.raw_set(n, Value::Nil).map_err(lua_err)?;
                        n -= 1;
                    }
                    last_number.max(0.0) as usize
                } else {
                    size
                };
                let bytes = data.get(pos..pos + len).ok_or_else(too_short)?;
                pos += len;
                Value::String(lua.create_string(bytes).map_err(lua_err)?)
            }
            b's' => {
                let rest = data.get(pos..).ok_or_else(too_short)?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or("unfinished string in data")?;
                let v = Value::String(lua.create_string(&rest[..end]).map_err(lua_err)?);
                pos += end + 1;
                v
            }
            _ => continue,
        };
        n += 1;
        items.raw_set(n, value).map_err(lua_err)?;
    }
    n += 1;
    items.raw_set(n, (pos + 1) as f64).map_err(lua_err)?;
    items.raw_set("n", n).map_err(lua_err)?;
    Ok(items)
}
