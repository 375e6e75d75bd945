//! Generic key commands: DEL UNLINK EXISTS TYPE … (more to come).

use super::{Ctx, Handler};
use crate::node::error::CmdResult;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
];

fn del(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for key in cmd.args().skip(1) {
        if ctx.db().remove(key, now).is_some() {
            n += 1;
        }
    }
    ctx.dirty(n);
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let n = cmd
        .args()
        .skip(1)
        .filter(|key| ctx.db().contains(key, now))
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let name = ctx
        .db()
        .value(cmd.arg(1), now)
        .map_or("none", |v| v.kind().name());
    ctx.out.simple(name.as_bytes());
    Ok(())
}
