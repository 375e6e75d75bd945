//! The `bit` library (LuaBitOp 1.0, which Redis bundles): 32-bit operations on numbers.
//!
//! Numbers are normalized as LuaBitOp does: the double is reduced modulo 2^32 and the result
//! read as a signed 32-bit integer, so `bit.tobit(0xffffffff) == -1`.

use mlua::{Lua, MultiValue, Table, Value};

type Unary = fn(i32) -> i32;
type Binary = fn(i32, i32) -> i32;
type Shift = fn(i32, u32) -> i32;

/// The raw functions (answering `(true, value)` or `(false, message)`), wrapped into raising
/// functions by the prelude.
pub fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: &[(&str, Unary)] = &[
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", |x| x.swap_bytes()),
    ];
    for &(name, f) in unary {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                Ok(match arg(&args, 0, name) {
                    Ok(x) => (true, Value::Number(f64::from(f(x)))),
                    Err(e) => (false, Value::String(lua.create_string(e)?)),
                })
            })?,
        )?;
    }
    let folds: &[(&str, Binary)] = &[
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for &(name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let mut acc = match arg(&args, 0, name) {
                    Ok(x) => x,
                    Err(e) => return Ok((false, Value::String(lua.create_string(e)?))),
                };
                for i in 1..args.len() {
                    match arg(&args, i, name) {
                        Ok(x) => acc = f(acc, x),
                        Err(e) => return Ok((false, Value::String(lua.create_string(e)?))),
                    }
                }
                Ok((true, Value::Number(f64::from(acc))))
            })?,
        )?;
    }
    let shifts: &[(&str, Shift)] = &[
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for &(name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let r = arg(&args, 0, name)
                    .and_then(|x| arg(&args, 1, name).map(|n| f(x, (n as u32) & 31)));
                Ok(match r {
                    Ok(x) => (true, Value::Number(f64::from(x))),
                    Err(e) => (false, Value::String(lua.create_string(e)?)),
                })
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let x = match arg(&args, 0, "tohex") {
                Ok(x) => x,
                Err(e) => return Ok((false, Value::String(lua.create_string(e)?))),
            };
            let n = if args.len() > 1 {
                match arg(&args, 1, "tohex") {
                    Ok(n) => n,
                    Err(e) => return Ok((false, Value::String(lua.create_string(e)?))),
                }
            } else {
                8
            };
            Ok((true, Value::String(lua.create_string(tohex(x, n))?)))
        })?,
    )?;
    Ok(t)
}

/// LuaBitOp's `tohex`: `n` hex digits (uppercase when `n` is negative), at most 8.
fn tohex(x: i32, n: i32) -> String {
    let upper = n < 0;
    let digits = n.unsigned_abs().min(8) as usize;
    let s = if upper {
        format!("{:08X}", x as u32)
    } else {
        format!("{:08x}", x as u32)
    };
    s[8 - digits..].to_string()
}

/// Argument `i` as LuaBitOp normalizes it.
fn arg(args: &MultiValue, i: usize, name: &str) -> Result<i32, String> {
    let x = match args.get(i) {
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Number(x)) => *x,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(i, name, "number expected, got string"))?,
        Some(v) => {
            return Err(bad_arg(
                i,
                name,
                &format!("number expected, got {}", v.type_name()),
            ))
        }
        None => return Err(bad_arg(i, name, "number expected, got no value")),
    };
    Ok(tobit(x))
}

fn bad_arg(i: usize, name: &str, what: &str) -> String {
    format!("bad argument #{} to '{name}' ({what})", i + 1)
}

/// The double reduced modulo 2^32, as a signed 32-bit integer.
pub fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let m = x.round_ties_even().rem_euclid(4_294_967_296.0);
    (m as u64 as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(4294967296.0 + 5.0), 5);
        assert_eq!(tohex(255, 8), "000000ff");
        assert_eq!(tohex(-1, -4), "FFFF");
    }
}
