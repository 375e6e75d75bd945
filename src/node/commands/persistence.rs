//! Snapshot commands: SAVE BGSAVE LASTSAVE. The work is in
//! [`crate::node::rdb::persistence`]; these check their arguments and answer as Redis 7.0 does.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] =
    &[("save", save), ("bgsave", bgsave), ("lastsave", lastsave)];

/// `SAVE`: writes the snapshot before answering. Redis answers a bare `-ERR` when the write
/// fails (the reason is in its log, as in ours).
fn save(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let node = ctx.node;
    if node.persistence.bgsave_in_progress() {
        return Err(CmdError::text("ERR Background save already in progress"));
    }
    node.persistence
        .save(node, ctx.ks, ctx.now)
        .map_err(|_| CmdError::text("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// `BGSAVE [SCHEDULE]`: takes the snapshot now and writes it in the background. Inside a
/// transaction it is only scheduled, as Redis does (the cron starts it within 100 ms).
fn bgsave(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    match cmd.argc() {
        1 => {}
        2 if cmd.arg(1).eq_ignore_ascii_case(b"schedule") => {}
        _ => return Err(CmdError::Syntax),
    }
    let node = ctx.node;
    if node.persistence.bgsave_in_progress() {
        return Err(CmdError::text("ERR Background save already in progress"));
    }
    if ctx.client.in_exec {
        node.persistence.schedule();
        ctx.out.simple(b"Background saving scheduled");
        return Ok(());
    }
    node.persistence
        .bgsave(node, ctx.ks, ctx.now)
        .map_err(|e| CmdError::text(e.to_string()))?;
    ctx.out.simple(b"Background saving started");
    Ok(())
}

/// `LASTSAVE`: unix seconds of the last successful save (the start time before the first).
fn lastsave(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.int(ctx.node.persistence.last_save());
    Ok(())
}
