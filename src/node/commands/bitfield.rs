//! `BITFIELD` and `BITFIELD_RO`: integers of 1 to 64 bits at any bit offset of a string, read,
//! set and incremented with Redis 7.0's overflow rules (`WRAP`, `SAT`, `FAIL`), bits counted
//! from the most significant bit of the first byte as `SETBIT` counts them.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::string::Str;
use crate::node::keyspace::Value;
use crate::node::notify::Events;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] =
    &[("bitfield", bitfield), ("bitfield_ro", bitfield_ro)];

/// `i1`…`i64` or `u1`…`u63`.
#[derive(Debug, Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One `GET`/`SET`/`INCRBY`, with the `OVERFLOW` mode in force where it was written.
#[derive(Debug, Clone, Copy)]
struct Step {
    op: Op,
    field: Field,
    offset: u64,
    overflow: Overflow,
}

fn bitfield(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    run(ctx, cmd, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    run(ctx, cmd, true)
}

fn run(ctx: &mut Ctx<'_>, cmd: &Command, read_only: bool) -> CmdResult {
    let max_bytes = ctx.config.usize("proto-max-bulk-len") as u64;
    let steps = parse(cmd, read_only, max_bytes)?;
    let key = cmd.arg(1);
    let now = ctx.now;
    // The highest bit a write touches: the string grows to hold it before any step runs
    // (even one that then fails on overflow), as Redis grows it.
    let highest = steps
        .iter()
        .filter(|s| !matches!(s.op, Op::Get))
        .map(|s| s.offset + u64::from(s.field.bits) - 1)
        .max();
    let Some(highest) = highest else {
        // Reads only: a missing key reads as zeros.
        let data = match ctx.db().value(key, now) {
            Some(v) => v.as_str()?.to_vec(),
            None => Vec::new(),
        };
        ctx.out.array(steps.len());
        for s in &steps {
            ctx.out.int(get(&data, s.field, s.offset));
        }
        return Ok(());
    };
    if let Some(v) = ctx.db().value(key, now) {
        v.as_str()?;
    }
    let value = ctx
        .db()
        .get_or_insert_with(key, now, || Value::Str(Str::from_bytes(b"")));
    let data = value.as_str_mut()?.make_mut();
    let bytes = (highest / 8 + 1) as usize;
    if data.len() < bytes {
        data.resize(bytes, 0);
    }
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(steps.len());
    let mut changes = 0u64;
    for s in &steps {
        let old = get(data, s.field, s.offset);
        let reply = match s.op {
            Op::Get => Some(old),
            Op::Set(v) => match settle(s.field, s.overflow, set_target(s.field, v)) {
                Some(new) => {
                    put(data, s.field, s.offset, new);
                    changes += 1;
                    Some(old)
                }
                None => None,
            },
            Op::IncrBy(by) => match settle(s.field, s.overflow, i128::from(old) + i128::from(by)) {
                Some(new) => {
                    put(data, s.field, s.offset, new);
                    changes += 1;
                    Some(new)
                }
                None => None,
            },
        };
        replies.push(reply);
    }
    ctx.dirty(changes);
    if changes > 0 {
        ctx.notify(Events::STRING, "setbit", key);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(n),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn parse(cmd: &Command, read_only: bool, max_bytes: u64) -> Result<Vec<Step>, CmdError> {
    let mut steps = Vec::new();
    let mut overflow = Overflow::Wrap;
    let argc = cmd.argc();
    let mut j = 2;
    while j < argc {
        let more = argc - j - 1;
        let sub = cmd.arg(j);
        let is = |name: &[u8]| sub.eq_ignore_ascii_case(name);
        if is(b"get") && more >= 2 {
            let field = parse_field(cmd.arg(j + 1))?;
            let offset = parse_offset(cmd.arg(j + 2), field, max_bytes)?;
            steps.push(Step {
                op: Op::Get,
                field,
                offset,
                overflow,
            });
            j += 3;
        } else if (is(b"set") || is(b"incrby")) && more >= 3 {
            let field = parse_field(cmd.arg(j + 1))?;
            let offset = parse_offset(cmd.arg(j + 2), field, max_bytes)?;
            let n = parse_i64(cmd.arg(j + 3)).ok_or(CmdError::NotInteger)?;
            let op = if is(b"set") {
                Op::Set(n)
            } else {
                Op::IncrBy(n)
            };
            steps.push(Step {
                op,
                field,
                offset,
                overflow,
            });
            j += 4;
        } else if is(b"overflow") && more >= 1 {
            let mode = cmd.arg(j + 1);
            overflow = if mode.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if mode.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if mode.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::text("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if read_only && steps.iter().any(|s| !matches!(s.op, Op::Get)) {
        return Err(CmdError::text(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(steps)
}

fn parse_field(arg: &[u8]) -> Result<Field, CmdError> {
    let err = || {
        CmdError::text(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let (signed, digits) = match arg.split_first() {
        Some((b'i' | b'I', rest)) => (true, rest),
        Some((b'u' | b'U', rest)) => (false, rest),
        _ => return Err(err()),
    };
    let bits = parse_i64(digits).ok_or_else(err)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(err());
    }
    Ok(Field {
        signed,
        bits: bits as u32,
    })
}

/// A bit offset, or `#n` for the `n`th field of this width; beyond the largest string it is
/// Redis's "out of range".
fn parse_offset(arg: &[u8], field: Field, max_bytes: u64) -> Result<u64, CmdError> {
    let err = || CmdError::text("ERR bit offset is not an integer or out of range");
    let (times, digits) = match arg.split_first() {
        Some((b'#', rest)) => (true, rest),
        _ => (false, arg),
    };
    let n = parse_i64(digits).ok_or_else(err)?;
    let offset = if times {
        n.checked_mul(i64::from(field.bits)).ok_or_else(err)?
    } else {
        n
    };
    if offset < 0 || (offset as u64 >> 3) >= max_bytes {
        return Err(err());
    }
    Ok(offset as u64)
}

/// The field's bits at `offset` (zeros past the end), sign-extended for a signed field.
fn get(data: &[u8], field: Field, offset: u64) -> i64 {
    let mut v: u64 = 0;
    for j in 0..u64::from(field.bits) {
        let bit = offset + j;
        let set = data
            .get((bit / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (bit % 8)) != 0);
        v = v << 1 | u64::from(set);
    }
    if field.signed && field.bits < 64 && v >> (field.bits - 1) & 1 == 1 {
        v |= u64::MAX << field.bits;
    }
    v as i64
}

fn put(data: &mut [u8], field: Field, offset: u64, value: i64) {
    let v = value as u64;
    for j in 0..u64::from(field.bits) {
        let bit = offset + j;
        let mask = 0x80u8 >> (bit % 8);
        let byte = &mut data[(bit / 8) as usize];
        if v >> (u64::from(field.bits) - 1 - j) & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// What `SET` asks to store: an unsigned field takes the value's two's-complement bits, as
/// Redis casts it.
fn set_target(field: Field, value: i64) -> i128 {
    if field.signed {
        i128::from(value)
    } else {
        i128::from(value as u64)
    }
}

/// `wanted` brought into the field's range by the overflow mode; None when `FAIL` refuses.
fn settle(field: Field, overflow: Overflow, wanted: i128) -> Option<i64> {
    let bits = field.bits;
    let (min, max) = if field.signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    if (min..=max).contains(&wanted) {
        return Some(wanted as i64);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if wanted > max { max } else { min } as i64),
        Overflow::Wrap => {
            let span = 1i128 << bits;
            let wrapped = (wanted - min).rem_euclid(span) + min;
            Some(wrapped as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_from_the_most_significant_bit() {
        let mut data = vec![0u8; 2];
        let u4 = Field {
            signed: false,
            bits: 4,
        };
        put(&mut data, u4, 4, 0b1010);
        assert_eq!(data, [0b0000_1010, 0]);
        assert_eq!(get(&data, u4, 4), 10);
        let i4 = Field {
            signed: true,
            bits: 4,
        };
        assert_eq!(get(&data, i4, 4), -6);
        assert_eq!(get(&data, u4, 100), 0);
    }

    #[test]
    fn overflow_modes() {
        let u8f = Field {
            signed: false,
            bits: 8,
        };
        let i8f = Field {
            signed: true,
            bits: 8,
        };
        assert_eq!(settle(u8f, Overflow::Wrap, 256 + 5), Some(5));
        assert_eq!(settle(u8f, Overflow::Wrap, -1), Some(255));
        assert_eq!(settle(u8f, Overflow::Sat, 300), Some(255));
        assert_eq!(settle(u8f, Overflow::Sat, -3), Some(0));
        assert_eq!(settle(i8f, Overflow::Wrap, 128), Some(-128));
        assert_eq!(settle(i8f, Overflow::Sat, -200), Some(-128));
        assert_eq!(settle(i8f, Overflow::Fail, 128), None);
        let i64f = Field {
            signed: true,
            bits: 64,
        };
        assert_eq!(
            settle(i64f, Overflow::Wrap, i128::from(i64::MAX) + 1),
            Some(i64::MIN)
        );
    }
}
