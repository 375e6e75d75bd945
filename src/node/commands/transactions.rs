//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! `MULTI` starts queueing (the session queues every later command but these), `EXEC` runs the
//! queue under the one lock hold, so nothing else runs in between, unless a watched key changed
//! since `WATCH` or a command failed to queue.

use super::{execute, Ctx, Handler};
use crate::command::table;
use crate::node::client::Multi;
use crate::node::error::{CmdError, CmdResult};
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

fn multi(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::text("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CmdError::text("ERR EXEC without MULTI"));
    };
    let watched_changed = ctx
        .client
        .watched
        .iter()
        .any(|(db, key, version)| ctx.ks.db(*db).watch_version(key) != *version);
    release_watches(ctx);
    if multi.aborted {
        return Err(CmdError::text(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watched_changed {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(multi.queued.len());
    ctx.client.in_exec = true;
    for queued in &multi.queued {
        match table().lookup(queued) {
            Ok(spec) => {
                // Checked again: the user's rights may have changed since it was queued
                // (even by a command of this transaction).
                ctx.node.acl.refresh(ctx.client);
                if !ctx.client.user.unrestricted() {
                    if let Err(denial) = ctx.client.user.check(spec, queued) {
                        // Logged as Redis sees the client then: in its transaction, running
                        // EXEC.
                        ctx.client.multi = Some(Multi::default());
                        let refused = super::acl::Refused {
                            spec,
                            cmd: queued,
                            denial,
                            context: crate::node::acl::Context::Multi,
                            running: Some("exec"),
                        };
                        super::acl::log_denial(ctx.node, ctx.client, &ctx.config, refused);
                        ctx.client.multi = None;
                        ctx.out
                            .error(super::acl::exec_denial_text(denial).as_bytes());
                        continue;
                    }
                }
                let _ = execute(ctx, spec, queued);
            }
            Err(e) => ctx.out.error(&e.message_bytes()),
        }
    }
    ctx.client.in_exec = false;
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::text("ERR DISCARD without MULTI"));
    }
    release_watches(ctx);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::text("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    let now = ctx.now;
    for key in cmd.args().skip(1) {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        // An expired key counts as gone now, so that its expiry is not a change later.
        ctx.ks.db(db).contains(key, now);
        let version = ctx.ks.db(db).watch(key);
        ctx.client.watched.push((db, key.to_vec(), version));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    release_watches(ctx);
    ctx.out.ok();
    Ok(())
}

fn release_watches(ctx: &mut Ctx<'_>) {
    for (db, key, _) in ctx.client.watched.drain(..) {
        ctx.ks.db(db).unwatch(&key);
    }
}
