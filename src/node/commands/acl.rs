//! `ACL …` (users, rules, the log, the ACL file) and the helpers the session uses to refuse
//! a command the user may not run: its error text and its ACL log entry.

use std::sync::Arc;

use rand::RngCore;

use super::{Ctx, Handler};
use crate::command::{table, CommandSpec};
use crate::node::acl::command_set::{categories, category};
use crate::node::acl::{self, file, user, AclState, Context, Denial, Entry, Reason, User};
use crate::node::client::Client;
use crate::node::config::NodeConfig;
use crate::node::error::{CmdError, CmdResult};
use crate::node::pubsub::Kind;
use crate::node::reply::Reply;
use crate::node::server::{unix_ms, Node};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("acl|setuser", setuser),
    ("acl|getuser", getuser),
    ("acl|deluser", deluser),
    ("acl|list", list),
    ("acl|users", users),
    ("acl|whoami", whoami),
    ("acl|cat", cat),
    ("acl|genpass", genpass),
    ("acl|log", log),
    ("acl|save", save),
    ("acl|load", load),
    ("acl|dryrun", dryrun),
    ("acl|help", help),
];

/// An argument as Redis's `%s` prints it: up to its first NUL.
fn shown(arg: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    String::from_utf8_lossy(&arg[..end])
}

/// The most bits `ACL GENPASS` makes.
const GENPASS_MAX_BITS: i64 = 4096;

/// The error a refused command gets (Redis 7.0's texts).
pub fn denial_text(spec: &CommandSpec, denial: Denial) -> String {
    match denial {
        Denial::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.full_name()
        ),
        Denial::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denial::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}

/// The error a queued command gets at `EXEC` when the user lost the right to run it since.
pub fn exec_denial_text(denial: Denial) -> String {
    let reason = match denial {
        Denial::Command => "no permission to execute the command or subcommand",
        Denial::Key(_) => "no permission to touch the specified keys",
        Denial::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
}

/// A command the ACL refused, as the ACL log records it.
pub struct Refused<'a> {
    pub spec: &'static CommandSpec,
    pub cmd: &'a Command,
    pub denial: Denial,
    pub context: Context,
    /// The command `CLIENT LIST`'s `cmd=` shows, when not the refused one (`exec`).
    pub running: Option<&'static str>,
}

/// Records a refused command in the ACL log.
pub fn log_denial(node: &Node, client: &Client, config: &NodeConfig, refused: Refused<'_>) {
    let Refused {
        spec,
        cmd,
        denial,
        context,
        running,
    } = refused;
    let (reason, object) = match denial {
        Denial::Command => (Reason::Command, spec.full_name().as_bytes().to_vec()),
        Denial::Key(at) => (Reason::Key, cmd.arg(at).to_vec()),
        Denial::Channel(at) => (Reason::Channel, cmd.arg(at).to_vec()),
    };
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username: client.user.name.clone(),
        updated_ms: unix_ms(),
        client_info: super::server::client_info_for_log(
            node,
            client,
            running.unwrap_or(spec.full_name()),
        ),
    };
    node.acl
        .lock()
        .log
        .add(entry, config.usize("acllog-max-len"));
}

/// Logs a client in as `name` with `password` (`AUTH`, `HELLO … AUTH`); a failure is logged
/// and answered with `WRONGPASS`.
pub fn authenticate(ctx: &mut Ctx<'_>, cmd: &Command, name: &[u8], password: &[u8]) -> CmdResult {
    let user = ctx.node.acl.user(name).filter(|u| u.accepts(password));
    match user {
        Some(user) => {
            ctx.client.authenticated = true;
            ctx.client.acl_generation = ctx.node.acl.generation();
            ctx.client.set_user(user);
            Ok(())
        }
        None => {
            let context = if ctx.client.multi.is_some() {
                Context::Multi
            } else {
                Context::Toplevel
            };
            let entry = Entry {
                count: 1,
                reason: Reason::Auth,
                context,
                object: cmd.name().to_vec(),
                username: name.to_vec(),
                updated_ms: unix_ms(),
                client_info: super::server::client_info_for_log(
                    ctx.node,
                    ctx.client,
                    table().get(cmd.name()).map_or("auth", |s| s.full_name()),
                ),
            };
            let max = ctx.config.usize("acllog-max-len");
            ctx.node.acl.lock().log.add(entry, max);
            Err(CmdError::text(
                "WRONGPASS invalid username-password pair or user is disabled.",
            ))
        }
    }
}

fn setuser(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let name = cmd.arg(2);
    if !user::valid_name(name) {
        return Err(CmdError::text(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let args: Vec<&[u8]> = cmd.args().skip(3).collect();
    let rules = user::merge_selector_args(&args).map_err(|at| {
        CmdError::text(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            shown(args[at])
        ))
    })?;
    let all_channels = acl::all_channels_default(&ctx.config);
    let mut state = ctx.node.acl.lock();
    let old = state.get(name).cloned();
    let mut u = match &old {
        Some(old) => (**old).clone(),
        None => User::new(name, all_channels),
    };
    for rule in &rules {
        u.apply(rule, all_channels).map_err(|e| {
            CmdError::text(format!(
                "ERR Error in ACL SETUSER modifier '{}': {e}",
                shown(rule)
            ))
        })?;
    }
    if let Some(old) = &old {
        kill_pubsub_clients_if_needed(ctx.node, &u, old);
    }
    state.insert(u);
    ctx.node.acl.committed(&state);
    drop(state);
    ctx.out.ok();
    Ok(())
}

/// Redis 7.0's `ACLKillPubsubClientsIfNeeded`: when a change takes channels away from a
/// user, its clients subscribed to a channel (or pattern) no longer allowed are closed.
fn kill_pubsub_clients_if_needed(node: &Node, new: &User, old: &User) {
    if new.selectors.iter().any(|s| s.all_channels) {
        return;
    }
    let upcoming: Vec<&Vec<u8>> = new.selectors.iter().flat_map(|s| &s.channels).collect();
    let kept = old
        .selectors
        .iter()
        .flat_map(|s| &s.channels)
        .all(|c| upcoming.contains(&c));
    if kept {
        return;
    }
    let allowed = |channel: &[u8], literal: bool| {
        upcoming.iter().any(|p| {
            if literal {
                p.as_slice() == channel
            } else {
                crate::node::glob::matches(p, channel, false)
            }
        })
    };
    let registry = node.pubsub.lock();
    for h in node.clients.all() {
        if h.info.lock().unwrap_or_else(|p| p.into_inner()).user_name() != old.name.as_slice() {
            continue;
        }
        let violates = registry
            .subscriptions(h.id, Kind::Pattern)
            .iter()
            .any(|p| !allowed(p, true))
            || [Kind::Channel, Kind::Shard].into_iter().any(|k| {
                registry
                    .subscriptions(h.id, k)
                    .iter()
                    .any(|c| !allowed(c, false))
            });
        if violates {
            h.kill.cancel();
        }
    }
}

/// Closes every client authenticated as one of `names` (the current one after its reply).
fn kill_clients_of(ctx: &mut Ctx<'_>, names: &[Vec<u8>]) {
    for h in ctx.node.clients.all() {
        let user = h
            .info
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .user_name()
            .to_vec();
        if !names.contains(&user) {
            continue;
        }
        if h.id == ctx.client.id {
            ctx.client.close_after_reply = true;
        } else {
            h.kill.cancel();
        }
    }
}

fn deluser(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.args().skip(2).any(|n| n == b"default") {
        return Err(CmdError::text("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = Vec::new();
    {
        let mut state = ctx.node.acl.lock();
        for name in cmd.args().skip(2) {
            if state.remove(name).is_some() {
                deleted.push(name.to_vec());
            }
        }
        ctx.node.acl.committed(&state);
    }
    kill_clients_of(ctx, &deleted);
    ctx.out.int(deleted.len() as i64);
    Ok(())
}

fn getuser(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let Some(u) = ctx.node.acl.user(cmd.arg(2)) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    write_selector(out, u.root());
    out.bulk(b"selectors");
    out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map(3);
        write_selector(out, s);
    }
    Ok(())
}

fn write_selector(out: &mut Reply, s: &acl::Selector) {
    out.bulk(b"commands");
    out.bulk(&s.describe_commands());
    out.bulk(b"keys");
    out.bulk(&s.keys_text());
    out.bulk(b"channels");
    out.bulk(&s.channels_text());
}

fn list(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let lines: Vec<Vec<u8>> = ctx.node.acl.lock().users().map(|u| u.line()).collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(&l);
    }
    Ok(())
}

fn users(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx
        .node
        .acl
        .lock()
        .users()
        .map(|u| u.name.clone())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.bulk(&ctx.client.user.name);
    Ok(())
}

/// Redis's answer to `ACL CAT`, `ACL LOG` and `ACL GENPASS` with too many arguments.
fn subcommand_syntax(cmd: &Command) -> CmdError {
    let sub = cmd.arg(1);
    let sub = &sub[..sub.len().min(128)];
    CmdError::text(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        shown(sub)
    ))
}

fn cat(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    match cmd.argc() {
        2 => {
            ctx.out.array(categories().len());
            for c in categories() {
                ctx.out.bulk(c.name.as_bytes());
            }
        }
        3 => {
            let name = cmd.arg(2);
            let cat = category(name).ok_or_else(|| {
                CmdError::text(format!(
                    "ERR Unknown category '{}'",
                    shown(&name[..name.len().min(128)])
                ))
            })?;
            let names: Vec<&str> = table()
                .iter_all()
                .filter(|s| cat.members.contains(s.id()))
                .map(|s| s.full_name())
                .collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax(cmd)),
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let bits = match cmd.argc() {
        2 => 256,
        3 => parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?,
        _ => return Err(subcommand_syntax(cmd)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::text(format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}")));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> = bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .take(chars)
        .collect();
    ctx.out.bulk(&hex);
    Ok(())
}

fn log(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut count = 10;
    match cmd.argc() {
        2 => {}
        3 => {
            if cmd.arg(2).eq_ignore_ascii_case(b"reset") {
                ctx.node.acl.lock().log.reset();
                ctx.out.ok();
                return Ok(());
            }
            count = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?.max(0);
        }
        _ => return Err(subcommand_syntax(cmd)),
    }
    let state = ctx.node.acl.lock();
    let now = unix_ms();
    let n = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(state.log.len());
    let out = &mut *ctx.out;
    out.array(n);
    for e in state.log.entries().take(n) {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double((now - e.updated_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn save(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let path = ctx.config.get("aclfile").to_string();
    if path.is_empty() {
        return Err(CmdError::text(NO_ACLFILE));
    }
    let state = ctx.node.acl.lock();
    let users: Vec<Arc<User>> = state.users().cloned().collect();
    drop(state);
    file::save(&path, users.iter().map(|u| &**u)).map_err(|e| {
        tracing::warn!(error = %e, "ACL SAVE failed");
        CmdError::text("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.out.ok();
    Ok(())
}

fn load(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let path = ctx.config.get("aclfile").to_string();
    if path.is_empty() {
        return Err(CmdError::text(NO_ACLFILE));
    }
    let loaded = file::load(&path, acl::all_channels_default(&ctx.config))
        .map_err(|e| CmdError::text(format!("ERR {e}")))?;
    let gone = {
        let mut state: std::sync::MutexGuard<'_, AclState> = ctx.node.acl.lock();
        let gone = state.replace_users(loaded);
        ctx.node.acl.committed(&state);
        gone
    };
    // Redis 7.0 frees every user but `default` on a load, closing their clients.
    kill_clients_of(ctx, &gone);
    ctx.out.ok();
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let Some(u) = ctx.node.acl.user(cmd.arg(2)) else {
        return Err(CmdError::text(format!(
            "ERR User '{}' not found",
            shown(cmd.arg(2))
        )));
    };
    let inner = Command::from_args(cmd.args().skip(3));
    let spec = match table().resolve(&inner) {
        Ok(spec) => spec,
        Err(_) => {
            return Err(CmdError::text(format!(
                "ERR Command '{}' not found",
                shown(cmd.arg(3))
            )))
        }
    };
    if !spec.arity_accepts(inner.argc()) {
        return Err(CmdError::arity(spec.full_name()));
    }
    let text = match u.check(spec, &inner) {
        Ok(()) => {
            ctx.out.ok();
            return Ok(());
        }
        Err(Denial::Command) => format!(
            "This user has no permissions to run the '{}' command",
            spec.full_name()
        ),
        Err(Denial::Key(at)) => format!(
            "This user has no permissions to access the '{}' key",
            shown(inner.arg(at))
        ),
        Err(Denial::Channel(at)) => format!(
            "This user has no permissions to access the '{}' channel",
            shown(inner.arg(at))
        ),
    };
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    ctx.out.help(HELP);
    Ok(())
}
