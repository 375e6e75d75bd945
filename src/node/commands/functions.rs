//! Functions: FCALL FCALL_RO and FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL.
//!
//! Libraries load into the node's Lua state ([`crate::node::lua::library`]); a call runs
//! like a script ([`crate::node::lua::run`]) with the function's flags. `FUNCTION DUMP` writes
//! Redis's payload (each library as an RDB `FUNCTION2` opcode and its code, then the RDB
//! version and a CRC-64), so payloads travel between our nodes and redis-server 7.0 both
//! ways, as `redis-cli --cluster add-node` needs.

use super::scripting::{check_flags, keys_and_args, kill_reply, numkeys};
use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::glob;
use crate::node::lua::library::Library;
use crate::node::lua::run::{run_script, Run};
use crate::node::lua::shebang::ScriptFlags;
use crate::node::rdb::crc64::crc64;
use crate::node::rdb::object::write_string;
use crate::node::rdb::reader::Reader;
use crate::node::rdb::RDB_VERSION;
use crate::resp::Command;

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("fcall", fcall),
    ("fcall_ro", fcall_ro),
    ("function|load", function_load),
    ("function|list", function_list),
    ("function|delete", function_delete),
    ("function|flush", function_flush),
    ("function|dump", function_dump),
    ("function|restore", function_restore),
    ("function|stats", function_stats),
    ("function|kill", function_kill),
    ("function|help", function_help),
];

/// The RDB opcode of a library in a function payload (Redis 7.0's `RDB_OPCODE_FUNCTION2`).
const OPCODE_FUNCTION2: u8 = 245;
/// The pre-release opcode (7.0 release candidates), which 7.0 refuses.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

fn fcall(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    fcall_generic(ctx, cmd, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    fcall_generic(ctx, cmd, true)
}

fn fcall_generic(ctx: &mut Ctx<'_>, cmd: &Command, ro: bool) -> CmdResult {
    let node = ctx.node;
    let mut engine = node.scripting.engine();
    let Some(f) = engine.libraries.function(cmd.arg(1)) else {
        return Err(CmdError::text("ERR Function not found"));
    };
    let (name, flags, callback) = (f.name.clone(), f.flags, f.callback.clone());
    // FCALL words an unparsable count its own way.
    let numkeys = numkeys(cmd).map_err(|e| match e {
        CmdError::NotInteger => CmdError::text("ERR Bad number of keys provided"),
        other => other,
    })?;
    check_flags(ctx, flags, ro)?;
    let (keys, argv) = keys_and_args(cmd, numkeys);
    let run = Run {
        function: &callback,
        eval: false,
        name: &name,
        keys,
        args: argv,
        read_only: ro || flags.no_writes,
        allow_oom: flags.allow_oom,
        command: cmd.args().map(<[u8]>::to_vec).collect(),
    };
    run_script(&mut engine, ctx, run)
}

fn function_load(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (replace, code) = match cmd.argc() {
        3 => (false, cmd.arg(2)),
        4 if cmd.arg(2).eq_ignore_ascii_case(b"replace") => (true, cmd.arg(3)),
        4 => {
            return Err(CmdError::text(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(cmd.arg(2))
            )))
        }
        _ => return Err(CmdError::arity("function|load")),
    };
    let node = ctx.node;
    let mut engine = node.scripting.engine();
    // Checked before compiling, as Redis does.
    if let Ok((_, name, _)) = crate::node::lua::library::metadata(code) {
        if !replace && engine.libraries.contains(&name) {
            return Err(CmdError::text(format!(
                "ERR Library '{name}' already exists"
            )));
        }
    }
    let lib = engine.build_library(code).map_err(CmdError::text)?;
    let name = lib.name.clone();
    engine
        .libraries
        .install(lib, replace)
        .map_err(|e| CmdError::text(format!("ERR {e}")))?;
    drop(engine);
    // A change of the dataset, as Redis counts it: saved, and propagated to replicas.
    ctx.dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < cmd.argc() {
        let arg = cmd.arg(i);
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= cmd.argc() {
                return Err(CmdError::text("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(cmd.arg(i));
        } else {
            return Err(CmdError::text(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let node = ctx.node;
    let engine = node.scripting.engine();
    let libs: Vec<&Library> = engine
        .libraries
        .iter()
        .filter(|l| pattern.is_none_or(|p| glob::matches(p, l.name.as_bytes(), true)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = flag_names(f.flags);
            out.set(names.len());
            for name in names {
                out.simple(name.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

/// A function's flags by name, in Redis's order.
fn flag_names(f: ScriptFlags) -> Vec<&'static str> {
    [
        (f.no_writes, "no-writes"),
        (f.allow_oom, "allow-oom"),
        (f.allow_stale, "allow-stale"),
        (f.no_cluster, "no-cluster"),
        (f.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

fn function_delete(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let name = String::from_utf8_lossy(cmd.arg(2)).into_owned();
    let node = ctx.node;
    if node.scripting.engine().libraries.remove(&name).is_none() {
        return Err(CmdError::text("ERR Library not found"));
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let valid = match cmd.argc() {
        2 => true,
        3 => cmd.arg(2).eq_ignore_ascii_case(b"sync") || cmd.arg(2).eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !valid {
        return Err(CmdError::text(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.node.scripting.engine().libraries.clear();
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn function_dump(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let node = ctx.node;
    let engine = node.scripting.engine();
    let mut payload = Vec::new();
    for lib in engine.libraries.iter() {
        payload.push(OPCODE_FUNCTION2);
        write_string(&mut payload, &lib.code);
    }
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    ctx.out.bulk(&payload);
    Ok(())
}

/// How `FUNCTION RESTORE` treats the libraries already loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Append,
    Replace,
    Flush,
}

fn function_restore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let policy =
        match cmd.get(3) {
            None => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
            Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
            Some(_) => return Err(CmdError::text(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    if cmd.argc() > 4 {
        return Err(CmdError::arity("function|restore"));
    }
    let codes = payload_libraries(cmd.arg(2)).map_err(CmdError::text)?;
    let node = ctx.node;
    let mut engine = node.scripting.engine();
    let mut libs: Vec<Library> = Vec::with_capacity(codes.len());
    for code in codes {
        let lib = engine.build_library(&code).map_err(CmdError::text)?;
        if libs.iter().any(|l| l.name == lib.name) {
            return Err(CmdError::text(format!(
                "ERR Library '{}' already exists",
                lib.name
            )));
        }
        libs.push(lib);
    }
    if policy == Policy::Flush {
        engine.libraries.clear();
    }
    engine
        .libraries
        .join(libs, policy == Policy::Replace)
        .map_err(|e| CmdError::text(format!("ERR {e}")))?;
    drop(engine);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// The library codes in a `FUNCTION DUMP` payload, after checking its footer; the error is
/// Redis's reply text.
fn payload_libraries(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const WRONG: &str = "ERR DUMP payload version or checksum are wrong";
    if payload.len() < 10 {
        return Err(WRONG.into());
    }
    let (checked, crc) = payload.split_at(payload.len() - 8);
    let (body, version) = checked.split_at(checked.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > RDB_VERSION {
        return Err(WRONG.into());
    }
    let mut want = [0u8; 8];
    want.copy_from_slice(crc);
    if crc64(0, checked) != u64::from_le_bytes(want) {
        return Err(WRONG.into());
    }
    let mut r = Reader::new(body);
    let mut codes = Vec::new();
    while !r.is_empty() {
        let ty = r
            .u8()
            .map_err(|_| "ERR can not read data type".to_string())?;
        match ty {
            OPCODE_FUNCTION2 => codes.push(
                r.string()
                    .map_err(|_| "ERR failed loading the given functions payload".to_string())?,
            ),
            OPCODE_FUNCTION_PRE_GA => {
                return Err("ERR Pre-release function format not supported.".into())
            }
            _ => return Err("ERR given type is not a function".into()),
        }
    }
    Ok(codes)
}

fn function_stats(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let node = ctx.node;
    let (libraries, functions) = {
        let engine = node.scripting.engine();
        (engine.libraries.len(), engine.libraries.function_count())
    };
    write_stats(ctx.out, node, libraries, functions);
    Ok(())
}

/// `FUNCTION STATS`'s reply; also answered without the keyspace lock while a script runs.
pub fn write_stats(
    out: &mut crate::node::reply::Reply,
    node: &crate::node::Node,
    libraries: usize,
    functions: usize,
) {
    out.map(2);
    out.bulk(b"running_script");
    match node.scripting.watch.running_function() {
        Some(running) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(&running.name);
            out.bulk(b"command");
            out.array(running.command.len());
            for arg in &running.command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.int(running.duration.as_millis() as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
}

fn function_kill(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    kill_reply(ctx, false)
}

/// `FUNCTION HELP`, as Redis 7.0 words it.
fn function_help(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.help(LINES);
    Ok(())
}
