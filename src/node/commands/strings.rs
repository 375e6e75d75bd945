//! String commands: GET SET … (more to come).

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::string::Str;
use crate::node::keyspace::Value;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[("get", get), ("set", set)];

fn get(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = match db.value(cmd.arg(1), now) {
        Some(v) => {
            let s = v.as_str()?;
            let mut scratch = itoa::Buffer::new();
            out.bulk(s.bytes(&mut scratch));
            true
        }
        None => {
            out.null();
            false
        }
    };
    if found {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
    Ok(())
}

/// `SET key value` (options come with the strings work).
fn set(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() != 3 {
        return Err(CmdError::Syntax);
    }
    let value = Value::Str(Str::from_bytes(cmd.arg(2)));
    ctx.db().set(cmd.arg(1), value);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}
