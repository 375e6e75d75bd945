//! Connection commands: PING ECHO QUIT SELECT AUTH HELLO RESET.

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("quit", quit),
    ("select", select),
    ("auth", auth),
    ("hello", hello),
    ("reset", reset),
];

/// `RESET`: the connection as new — no transaction, watches, subscriptions or name, database
/// 0, RESP2, replies on, and (with a password set) not authenticated.
fn reset(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.client.multi = None;
    for (db, key, _) in ctx.client.watched.drain(..) {
        ctx.ks.db(db).unwatch(&key);
    }
    ctx.node.pubsub.lock().unsubscribe_all(ctx.client.id);
    ctx.client.subscriber = false;
    if ctx.client.monitor {
        ctx.node.monitors.remove(ctx.client.id);
        ctx.client.monitor = false;
    }
    ctx.client.db = 0;
    ctx.client.resp3 = false;
    ctx.out.set_resp3(false);
    ctx.client.reply_mode = crate::node::client::ReplyMode::On;
    ctx.client.authenticated = ctx.node.acl.default_open();
    ctx.client.acl_generation = ctx.node.acl.generation();
    ctx.client.set_user(ctx.node.acl.default_user());
    ctx.client
        .handle
        .info
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .name = None;
    ctx.out.simple(b"RESET");
    Ok(())
}

fn ping(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc() > 2 {
        return Err(CmdError::arity("ping"));
    }
    if ctx.client.subscriber && !ctx.client.resp3 {
        // A subscribed RESP2 client gets a reply shaped like a pub/sub message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(cmd.get(1).unwrap_or_default());
        return Ok(());
    }
    match cmd.get(1) {
        Some(msg) => ctx.out.bulk(msg),
        None => ctx.out.simple(b"PONG"),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    ctx.out.bulk(cmd.arg(1));
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let index = parse_i64(cmd.arg(1)).ok_or(CmdError::NotInteger)?;
    if index < 0 || index as usize >= ctx.ks.db_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.db = index as usize;
    ctx.out.ok();
    Ok(())
}

fn auth(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    match cmd.argc() {
        2 => {
            if ctx.node.acl.default_user().nopass {
                return Err(CmdError::text(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            super::acl::authenticate(ctx, cmd, b"default", cmd.arg(1))?;
        }
        3 => super::acl::authenticate(ctx, cmd, cmd.arg(1), cmd.arg(2))?,
        _ => return Err(CmdError::Syntax),
    }
    ctx.out.ok();
    Ok(())
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
fn hello(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut version = None;
    let mut i = 1;
    if let Some(v) = cmd.get(1) {
        let v = parse_i64(v).ok_or_else(|| {
            CmdError::text("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::text("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
        i = 2;
    }
    let mut setname = None;
    while i < cmd.argc() {
        let opt = cmd.arg(i);
        let more = cmd.argc() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            // Redis 7.0 logs in as it parses: a bad SETNAME after it leaves the client
            // logged in.
            super::acl::authenticate(ctx, cmd, cmd.arg(i + 1), cmd.arg(i + 2))?;
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            setname = Some(cmd.arg(i + 1).to_vec());
            i += 2;
        } else {
            return Err(CmdError::text(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if !ctx.client.authenticated && !ctx.node.acl.default_open() {
        return Err(CmdError::text(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = setname {
        if name.iter().any(|&b| b <= b' ' || b > b'~') {
            return Err(CmdError::text(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        ctx.client
            .handle
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .name = (!name.is_empty()).then_some(name);
    }
    if let Some(v) = version {
        ctx.client.resp3 = v == 3;
        ctx.out.set_resp3(v == 3);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::node::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}
