//! Lua scripts: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL.
//!
//! A script is compiled once and cached by the SHA1 of its body; it runs under the keyspace
//! lock this command holds, so it is atomic (see [`crate::node::lua::run`]). `SCRIPT KILL`
//! matters only while a script runs, and a session answers it then without the lock (see
//! [`crate::node::lua::busy`]); here, with the lock taken, nothing runs and the answer is
//! `-NOTBUSY`.

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::lua::engine::{lua_error_text, CachedScript};
use crate::node::lua::run::{run_script, Run};
use crate::node::lua::shebang::{eval_flags, ScriptFlags};
use crate::node::lua::ScriptEngine;
use crate::node::memory::{self, Room};
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script|load", script_load),
    ("script|exists", script_exists),
    ("script|flush", script_flush),
    ("script|kill", script_kill),
    ("script|help", script_help),
];

fn eval(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    eval_generic(ctx, cmd, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    eval_generic(ctx, cmd, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    eval_generic(ctx, cmd, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    eval_generic(ctx, cmd, true, true)
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The number of keys a script call names, checked against its arguments.
pub(super) fn numkeys(cmd: &Command) -> Result<usize, CmdError> {
    let n = parse_i64(cmd.arg(2)).ok_or(CmdError::NotInteger)?;
    if n > (cmd.argc() - 3) as i64 {
        return Err(CmdError::text(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if n < 0 {
        return Err(CmdError::text("ERR Number of keys can't be negative"));
    }
    Ok(n as usize)
}

/// The lowercase SHA1 hex of a script body.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Compiles and caches `body` unless cached already; returns its SHA1.
fn cache_script(engine: &mut ScriptEngine, body: &[u8]) -> Result<String, CmdError> {
    let sha = sha1_hex(body);
    if engine.scripts.contains_key(&sha) {
        return Ok(sha);
    }
    let (flags, shebang_len) = eval_flags(body).map_err(|e| CmdError::text(format!("ERR {e}")))?;
    let function = engine
        .compile(body, shebang_len, "@user_script")
        .map_err(|e| {
            CmdError::text(format!(
                "ERR Error compiling script (new function): {}",
                String::from_utf8_lossy(&crate::node::lua::convert::one_line(e.as_bytes()))
            ))
        })?;
    // Every EVAL script shares one environment (its KEYS and ARGV are set per run there), so
    // it is set once here rather than at each run.
    function
        .set_environment(engine.eval_env.clone())
        .map_err(|e| CmdError::text(format!("ERR {}", lua_error_text(&e))))?;
    engine.scripts.insert(
        sha.clone(),
        CachedScript {
            body: body.to_vec(),
            flags,
            function,
        },
    );
    Ok(sha)
}

fn eval_generic(ctx: &mut Ctx<'_>, cmd: &Command, by_sha: bool, ro: bool) -> CmdResult {
    let numkeys = numkeys(cmd)?;
    let node = ctx.node;
    let mut engine = node.scripting.engine();
    // The SHA1 lowercased on the stack: EVALSHA, the hot path, allocates no name.
    let mut lower = [0u8; 40];
    let compiled;
    let sha: &str = if by_sha {
        let given = cmd.arg(1);
        if given.len() != 40 {
            return Err(CmdError::text(NOSCRIPT));
        }
        lower.copy_from_slice(given);
        lower.make_ascii_lowercase();
        std::str::from_utf8(&lower).map_err(|_| CmdError::text(NOSCRIPT))?
    } else {
        compiled = cache_script(&mut engine, cmd.arg(1))?;
        &compiled
    };
    let Some(script) = engine.scripts.get(sha) else {
        return Err(CmdError::text(NOSCRIPT));
    };
    let (flags, function) = (script.flags, script.function.clone());
    if !flags.compat {
        check_flags(ctx, flags, ro)?;
    }
    let (keys, argv) = keys_and_args(cmd, numkeys);
    let run = Run {
        function: &function,
        eval: true,
        name: sha,
        keys,
        args: argv,
        read_only: ro || flags.no_writes,
        allow_oom: !flags.compat && flags.allow_oom,
        command: Vec::new(),
    };
    run_script(&mut engine, ctx, run)
}

/// What a script's or function's flags forbid before it runs (Redis's
/// `scriptPrepareForRun`): `no-cluster` in cluster mode, a write script over `maxmemory`
/// without `allow-oom`, a write script through a `*_RO` command.
pub(super) fn check_flags(ctx: &mut Ctx<'_>, flags: ScriptFlags, ro: bool) -> CmdResult {
    if flags.no_cluster && ctx.config.get("cluster-enabled") == "yes" {
        return Err(CmdError::text(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if !flags.allow_oom
        && !flags.no_writes
        && ctx.config.maxmemory() > 0
        && memory::make_room(ctx.ks, ctx.node, &ctx.config, ctx.now) == Room::OutOfMemory
    {
        return Err(CmdError::text("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"));
    }
    if !flags.no_writes && ro {
        return Err(CmdError::text(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(())
}

/// The keys (the `numkeys` arguments after the count) and the other arguments of an
/// `EVAL`/`FCALL`-shaped command.
pub(super) fn keys_and_args(cmd: &Command, numkeys: usize) -> (Vec<Bytes>, Vec<Bytes>) {
    let keys = (3..3 + numkeys).map(|i| cmd.arg_bytes(i)).collect();
    let args = (3 + numkeys..cmd.argc())
        .map(|i| cmd.arg_bytes(i))
        .collect();
    (keys, args)
}

fn script_load(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let node = ctx.node;
    let mut engine = node.scripting.engine();
    let sha = cache_script(&mut engine, cmd.arg(2))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let node = ctx.node;
    let engine = node.scripting.engine();
    ctx.out.array(cmd.argc() - 2);
    for sha in cmd.args().skip(2) {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.out.int(i64::from(engine.scripts.contains_key(&sha)));
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let valid = match cmd.argc() {
        2 => true,
        3 => cmd.arg(2).eq_ignore_ascii_case(b"sync") || cmd.arg(2).eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !valid {
        return Err(CmdError::text(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.node.scripting.engine().flush_scripts();
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    kill_reply(ctx, true)
}

/// `SCRIPT KILL` / `FUNCTION KILL` answered under the lock (no script can be running then).
pub(super) fn kill_reply(ctx: &mut Ctx<'_>, from_eval: bool) -> CmdResult {
    match ctx.node.scripting.watch.kill(from_eval) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(text) => Err(CmdError::text(text)),
    }
}

fn script_help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.help(LINES);
    Ok(())
}
