//! Running one script or function: the bridge between Lua and the node's commands.
//!
//! The script runs under the keyspace lock the calling command already holds, so it is
//! atomic. `redis.call`/`redis.pcall` run their command through [`commands::execute`] with
//! the script's own client (the caller's database and id, its own protocol, never blocking),
//! the way `EXEC` runs queued commands, then convert the reply to Lua. The bridge functions
//! exist only for the run (an mlua scope), so they can hold the command's [`Ctx`].
//!
//! Effects replication: the commands a script runs record their own propagation (see
//! [`crate::node::replication`]) and the script's command records none, so replicas get the
//! writes, never the script. `redis.set_repl` without `REPL_REPLICA` mutes the writes after it
//! (keys found expired still go as `DEL`s).

use std::cell::RefCell;

use bytes::Bytes;
use mlua::{Lua, MultiValue, Value};
use smallvec::SmallVec;

use super::convert::{error_table, one_line, reply_to_lua, write_lua_value};
use super::engine::{forwarded, lua_error_text, settle, ScriptEngine, Unlimited};
use crate::command::table;
use crate::node::client::Client;
use crate::node::commands::{execute, Ctx};
use crate::node::error::{CmdError, CmdResult};
use crate::node::memory::{self, Room};
use crate::node::reply::{format_g, Reply};
use crate::resp::Command;

/// What the run's one bridge function is asked to do (its first argument).
pub(crate) const BRIDGE_PCALL: i64 = 0;
pub(crate) const BRIDGE_CALL: i64 = 1;
pub(crate) const BRIDGE_SETRESP: i64 = 2;
pub(crate) const BRIDGE_ACL_CHECK: i64 = 3;

/// How long a script may run on a session's own thread before it gives way (if it has not
/// written): other clients wait that long at most before a long script moves to a blocking
/// thread, the same order of wait as a slow command.
const INLINE_BUDGET_MS: u64 = 100;

/// The run's `redis.set_repl` flags (Lua app data): `REPL_ALL` (3) at the start of each run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplFlags(pub u8);

/// `REPL_REPLICA`: the bit that lets a script's writes reach replicas.
const REPL_REPLICA: u8 = 2;

/// Whether the script turned replication of its writes off (`REPL_NONE`, `REPL_AOF`).
fn replicas_muted(lua: &Lua) -> bool {
    lua.app_data_ref::<ReplFlags>()
        .is_some_and(|f| f.0 & REPL_REPLICA == 0)
}

/// One run of a script or function.
pub struct Run<'r> {
    pub function: &'r mlua::Function,
    /// `EVAL` (KEYS/ARGV as globals) rather than `FCALL` (keys and args as arguments).
    pub eval: bool,
    /// The name errors show: the script's SHA1 or the function's name.
    pub name: &'r str,
    pub keys: Vec<Bytes>,
    pub args: Vec<Bytes>,
    /// `*_RO` or a `no-writes` script: write commands are refused.
    pub read_only: bool,
    pub allow_oom: bool,
    /// The calling command's arguments, as `FUNCTION STATS` shows a running function.
    pub command: Vec<Vec<u8>>,
}

/// What the bridge functions share during a run.
struct Bridge<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    client: Client,
    resp3: bool,
    read_only: bool,
    allow_oom: bool,
    wrote: bool,
    /// Buffers every `redis.call` of the run reuses (kept by the engine between runs).
    scratch: Scratch,
}

/// The buffers a bridge call fills and empties again: its arguments and its command's reply.
/// Kept from call to call and run to run, so a call allocates only its command.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The call's arguments end to end; `ends[i]` is where argument `i` ends.
    args: Vec<u8>,
    ends: Vec<usize>,
    out: Reply,
}

impl Scratch {
    /// Copies a bridge call's arguments in, as Redis turns them into a command's: strings
    /// as they are, numbers as `%.17g`; the error text for anything else.
    fn fill_args(&mut self, args: &MultiValue) -> Result<(), &'static [u8]> {
        self.args.clear();
        self.ends.clear();
        if args.is_empty() {
            return Err(b"Please specify at least one argument for this redis lib call");
        }
        for a in args {
            match a {
                Value::String(s) => self.args.extend_from_slice(&s.as_bytes()),
                Value::Number(x) => self.args.extend_from_slice(format_g(*x, 17).as_bytes()),
                Value::Integer(n) => self
                    .args
                    .extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
                _ => return Err(b"Lua redis lib command arguments must be strings or integers"),
            }
            self.ends.push(self.args.len());
        }
        Ok(())
    }

    /// The arguments [`fill_args`](Self::fill_args) copied in.
    fn args(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.args[start..end])
    }
}

/// Runs `run` and writes its reply (or error) to `ctx.out`.
pub fn run_script(engine: &mut ScriptEngine, ctx: &mut Ctx<'_>, run: Run<'_>) -> CmdResult {
    let lua = engine.lua.clone();
    // Back to REPL_ALL if the last run changed it (a lookup, not an allocation, per run).
    if replicas_muted(&lua) {
        lua.set_app_data(ReplFlags(3));
    }
    // Everything up to the script's first instruction is our own allocation (see Unlimited).
    let unlimited = Unlimited::new(&lua);
    let to_table = |items: &[Bytes]| -> mlua::Result<mlua::Table> {
        // Text (keys and arguments nearly always are) goes straight onto Lua's stack in one
        // API call for the whole table; anything else through a Lua string handle each.
        let text: Option<SmallVec<[&str; 8]>> = items
            .iter()
            .map(|item| std::str::from_utf8(item).ok())
            .collect();
        if let Some(text) = text {
            return lua.create_sequence_from(text);
        }
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_seti(i + 1, lua.create_string(item)?)?;
        }
        Ok(t)
    };
    let prepared = (|| -> mlua::Result<(mlua::Table, mlua::Table)> {
        Ok((to_table(&run.keys)?, to_table(&run.args)?))
    })();
    let (keys, args) = prepared.map_err(|e| run_failure(run.name, &e))?;
    // The script's own client: the caller's id and database, on a handle made once.
    let mut client = Client::new(
        engine.script_handle.clone(),
        true,
        ctx.client.user.clone(),
        0,
    );
    client.id = ctx.client.id;
    client.db = ctx.client.db;
    // The script's commands run with the caller's ACL permissions.
    client.user = ctx.client.user.clone();
    // A script's commands never block: they answer their timeout reply at once.
    client.in_exec = true;
    let node = ctx.node;
    let mut command = vec![Vec::new()];
    command.clear();
    let watch = &node.scripting.watch;
    let _running = watch.start(run.eval, run.name.as_bytes(), command);
    // On a session's own thread a script may hold every other client only so long: past
    // INLINE_BUDGET_MS, one that has not written gives way and runs again on a blocking
    // thread, where other clients get -BUSY and SCRIPT KILL can reach it.
    let inline = !ctx.client.script_must_finish && !ctx.client.in_exec;
    watch.set_yield_at(inline.then(|| crate::node::server::unix_ms() as u64 + INLINE_BUDGET_MS));
    let bridge = RefCell::new(Bridge {
        ctx,
        client,
        resp3: false,
        read_only: run.read_only,
        allow_oom: run.allow_oom,
        wrote: false,
        scratch: std::mem::take(&mut engine.scratch),
    });
    let hooks = engine.hooks.clone();
    let runner = &engine.runner;
    let outcome = lua.scope(|scope| {
        // One bridge for the run (each scoped function costs allocations): `redis.call`
        // itself, and what redis.pcall/setresp/acl_check_cmd forward to, saying which they
        // are. It answers the value, or raises the error (`settle`).
        let call = scope.create_function(|lua, mut args: MultiValue| {
            let _unlimited = Unlimited::new(lua);
            let op = match args.front() {
                Some(Value::LightUserData(marker)) if *marker == forwarded() => {
                    args.pop_front();
                    match args.pop_front() {
                        Some(Value::Integer(op)) => op,
                        _ => BRIDGE_CALL,
                    }
                }
                _ => BRIDGE_CALL,
            };
            let answer = match op {
                BRIDGE_SETRESP => set_resp(lua, &bridge, &args),
                BRIDGE_ACL_CHECK => acl_check(lua, &bridge, &args),
                op => bridge.borrow_mut().call(lua, op == BRIDGE_CALL, args),
            }?;
            settle(lua, &hooks, answer)
        })?;
        // The script itself runs under the limit.
        drop(unlimited);
        runner.call::<(bool, Value)>((run.function, keys, args, call, run.eval))
    });
    let bridge = bridge.into_inner();
    engine.scratch = bridge.scratch;
    let (script_resp3, ctx) = (bridge.resp3, bridge.ctx);
    let yielded = watch.yielded();
    watch.set_yield_at(None);
    if yielded {
        // Nothing was written (a script that writes never gives way): the session runs the
        // command again where it may run long.
        ctx.client.script_yielded = true;
        return Ok(());
    }
    match outcome {
        Ok((true, value)) => {
            write_lua_value(ctx.out, &value, script_resp3);
            Ok(())
        }
        Ok((false, Value::Table(err))) => Err(CmdError::text(script_error(run.name, &err))),
        Ok((false, other)) => Err(CmdError::text(format!(
            "ERR Error running script {}, {:.100}",
            run.name,
            other.type_name()
        ))),
        Err(e) => Err(run_failure(run.name, &e)),
    }
}

fn run_failure(name: &str, e: &mlua::Error) -> CmdError {
    let text = lua_error_text(e);
    CmdError::text(format!(
        "ERR Error running script {name}, {}",
        String::from_utf8_lossy(&one_line(text.as_bytes()))
    ))
}

/// The reply to a script that raised `err`: its message, and where it was raised.
fn script_error(name: &str, err: &mlua::Table) -> String {
    let msg: Vec<u8> = match err.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let mut text = String::from_utf8_lossy(&one_line(&msg)).into_owned();
    let source = err
        .raw_get::<Option<mlua::LuaString>>("source")
        .ok()
        .flatten();
    let line = err.raw_get::<Value>("line").ok();
    if let (Some(source), Some(line)) = (source, line) {
        let line = match line {
            Value::Integer(n) => n.to_string(),
            Value::Number(x) => format_g(x, 14),
            _ => String::new(),
        };
        if !line.is_empty() {
            text.push_str(&format!(
                " script: {name}, on {}:{line}.",
                String::from_utf8_lossy(&source.as_bytes())
            ));
        }
    }
    text
}

/// `redis.setresp(version)`.
fn set_resp(
    lua: &Lua,
    bridge: &RefCell<Bridge<'_, '_>>,
    args: &MultiValue,
) -> mlua::Result<(bool, Value)> {
    let version = match args.front() {
        Some(Value::Number(x)) if args.len() == 1 => *x as i64,
        Some(Value::Integer(n)) if args.len() == 1 => *n,
        _ if args.len() != 1 => return fail(lua, true, b"redis.setresp() requires one argument."),
        _ => 0,
    };
    if version != 2 && version != 3 {
        return fail(lua, true, b"RESP version must be 2 or 3.");
    }
    bridge.borrow_mut().resp3 = version == 3;
    Ok((true, Value::Nil))
}

/// `redis.acl_check_cmd(command, args…)`: whether the script's user may run it.
fn acl_check(
    lua: &Lua,
    bridge: &RefCell<Bridge<'_, '_>>,
    args: &MultiValue,
) -> mlua::Result<(bool, Value)> {
    let mut bridge = bridge.borrow_mut();
    if let Err(text) = bridge.scratch.fill_args(args) {
        return fail(lua, true, text);
    }
    let cmd = Command::from_args(bridge.scratch.args());
    let Ok(spec) = table().resolve(&cmd) else {
        return fail(
            lua,
            true,
            b"Invalid command passed to redis.acl_check_cmd()",
        );
    };
    Ok((
        true,
        Value::Boolean(bridge.client.user.check(spec, &cmd).is_ok()),
    ))
}

/// `(ok, {err = text})` for a failed bridge call: raised by `redis.call` (`raise`), returned
/// by `redis.pcall`.
fn fail(lua: &Lua, raise: bool, text: &[u8]) -> mlua::Result<(bool, Value)> {
    Ok((!raise, Value::Table(error_table(lua, text)?)))
}

/// Redis's refusal of a command the script's user may not run.
fn script_denial_text(denial: crate::node::acl::Denial) -> &'static [u8] {
    use crate::node::acl::Denial;
    match denial {
        Denial::Command => b"The user executing the script can't run this command or subcommand",
        Denial::Key(_) => b"The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denial::Channel(_) => b"The user executing the script can't publish to the channel mentioned in the command arguments",
    }
}

impl Bridge<'_, '_> {
    /// `redis.call` (`raise`) or `redis.pcall`: checks the command as Redis's `scriptCall`
    /// does, runs it, and converts its reply.
    fn call(&mut self, lua: &Lua, raise: bool, args: MultiValue) -> mlua::Result<(bool, Value)> {
        if let Err(text) = self.scratch.fill_args(&args) {
            return fail(lua, raise, text);
        }
        drop(args);
        let cmd = Command::from_args(self.scratch.args());
        let Ok(spec) = table().resolve(&cmd) else {
            return fail(lua, raise, b"Unknown Redis command called from script");
        };
        if !spec.arity_accepts(cmd.argc()) {
            return fail(
                lua,
                raise,
                b"Wrong number of args calling Redis command from script",
            );
        }
        if spec.is_noscript() {
            return fail(lua, raise, b"This Redis command is not allowed from script");
        }
        if !self.client.user.unrestricted() {
            if let Err(denial) = self.client.user.check(spec, &cmd) {
                return fail(lua, raise, script_denial_text(denial));
            }
        }
        if self.read_only && (spec.is_write() || spec.may_replicate()) {
            return fail(
                lua,
                raise,
                b"Write commands are not allowed from read-only scripts.",
            );
        }
        if spec.denies_oom() && !self.allow_oom && !self.wrote {
            let ctx = &mut *self.ctx;
            if memory::make_room(ctx.ks, ctx.node, &ctx.config, ctx.now) == Room::OutOfMemory {
                return fail(
                    lua,
                    raise,
                    b"-OOM command not allowed when used memory > 'maxmemory'.",
                );
            }
        }
        if spec.is_write() {
            if self.ctx.node.scripting.watch.yielded() {
                // It gave way (and caught the error): its run is to be discarded.
                return fail(lua, true, b"ERR script gave way to other clients");
            }
            self.wrote = true;
            self.ctx.node.scripting.watch.note_write();
        }
        self.client.resp3 = self.resp3;
        let out = &mut self.scratch.out;
        out.truncate(0);
        out.set_resp3(self.resp3);
        {
            let ctx = &mut *self.ctx;
            let mut sub = Ctx::new(
                ctx.ks,
                &mut self.client,
                out,
                ctx.node,
                ctx.config.clone(),
                ctx.now,
            );
            // The flags matter only while something replicates.
            let muted = sub.ks.repl.is_on() && replicas_muted(lua);
            if muted {
                sub.ks.repl.mute_effects(true);
            }
            let _ = execute(&mut sub, spec, &cmd);
            if muted {
                sub.ks.repl.mute_effects(false);
            }
            if !std::sync::Arc::ptr_eq(&sub.config, &ctx.config) {
                ctx.config = sub.config.clone();
            }
        }
        let (value, is_error) = reply_to_lua(lua, out.as_bytes(), self.resp3)?;
        Ok((!(raise && is_error), value))
    }
}
