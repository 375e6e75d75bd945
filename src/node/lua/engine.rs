//! The Lua state scripts run in: its libraries, its sandbox, and the scripts compiled so far.
//!
//! One state serves the node (Redis has one for `EVAL` and one for functions; we share one,
//! so `SCRIPT FLUSH` forgets the cached scripts but keeps the libraries' functions). It lives
//! behind its own lock inside the keyspace lock (lock order: keyspace, then engine), since a
//! script runs as one command. The state's memory is capped ([`MEMORY_LIMIT`]): a script that
//! allocates past it fails with a Lua memory error instead of growing the node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mlua::{
    HookTriggers, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};

use super::bit;
use super::busy::ScriptWatch;
use super::cjson;
use super::cmsgpack;
use super::convert::error_table;
use super::rand48::Rand48;
use super::shebang::ScriptFlags;
use super::struct_lib;

/// Most bytes the Lua state may hold (compiled scripts, libraries and what scripts build).
pub const MEMORY_LIMIT: usize = 1024 * 1024 * 1024;
/// Longest script body the node compiles.
pub const MAX_SCRIPT_LEN: usize = 64 * 1024 * 1024;
/// Lua instructions between two looks at the kill flag.
const HOOK_EVERY: u32 = 10_000;
/// The version scripts see as `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.0.15";
const REDIS_VERSION_NUM: i64 = 0x0007_000f;

/// The chunk name of the sandbox's own Lua code; the error handler skips its frames.
const INTERNAL_CHUNK: &str = "=redis_internal";

/// A script compiled by `EVAL` or `SCRIPT LOAD`.
#[derive(Debug, Clone)]
pub struct CachedScript {
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    pub function: mlua::Function,
}

/// The node's Lua state.
pub struct ScriptEngine {
    pub(crate) lua: Lua,
    /// The sandbox's hidden table: `call`, `run`, `eval_env`, `handler`, `globals`.
    pub(crate) hooks: Table,
    /// Polled by the instruction hook; also times library loads.
    pub(crate) watch: Arc<ScriptWatch>,
    /// Compiled `EVAL` scripts by lowercase SHA1.
    pub scripts: HashMap<String, CachedScript>,
    /// `FUNCTION LOAD`ed libraries, by name.
    pub libraries: super::library::Libraries,
    /// The connection handle of the clients scripts' commands run as (a detached one: no
    /// socket), made once rather than per run.
    pub(crate) script_handle: Arc<crate::node::client::ClientHandle>,
    /// `EVAL` scripts' globals: the read-only ones plus `KEYS` and `ARGV`, which each run
    /// replaces (Redis too keeps one global table for every script).
    pub(crate) eval_env: Table,
    /// `hooks.run`, looked up once: every script and function call starts there.
    pub(crate) runner: mlua::Function,
    /// The bridge's buffers, lent to each run.
    pub(crate) scratch: super::run::Scratch,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("scripts", &self.scripts.len())
            .finish()
    }
}

impl ScriptEngine {
    /// A fresh state with Redis's libraries and sandbox; `watch` is polled for kills.
    pub fn new(watch: Arc<ScriptWatch>) -> mlua::Result<ScriptEngine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let g = lua.globals();
        let redis = lua.create_table()?;
        redis.raw_set("REDIS_VERSION", REDIS_VERSION)?;
        redis.raw_set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
        for (name, level) in [
            ("LOG_DEBUG", 0),
            ("LOG_VERBOSE", 1),
            ("LOG_NOTICE", 2),
            ("LOG_WARNING", 3),
        ] {
            redis.raw_set(name, level)?;
        }
        for (name, flags) in [
            ("REPL_NONE", 0),
            ("REPL_AOF", 1),
            ("REPL_SLAVE", 2),
            ("REPL_REPLICA", 2),
            ("REPL_ALL", 3),
        ] {
            redis.raw_set(name, flags)?;
        }
        g.raw_set("redis", redis)?;
        let hooks = lua.create_table()?;
        let rng = Arc::new(Mutex::new(Rand48::default()));
        random_functions(&lua, &hooks, rng)?;
        let redis: Table = g.raw_get("redis")?;
        install(&lua, &hooks, &redis, &raw_redis(&lua)?)?;
        {
            use super::run::{BRIDGE_ACL_CHECK, BRIDGE_CALL, BRIDGE_PCALL, BRIDGE_SETRESP};
            for (name, op) in [
                ("pcall", BRIDGE_PCALL),
                ("call", BRIDGE_CALL),
                ("setresp", BRIDGE_SETRESP),
                ("acl_check_cmd", BRIDGE_ACL_CHECK),
            ] {
                redis.raw_set(name, bridge_function(&lua, &hooks, op)?)?;
            }
        }
        hooks.raw_set("register_function", register_function(&lua, &hooks)?)?;
        let math: Table = g.raw_get("math")?;
        let random = lua.create_table()?;
        random.raw_set("random", hooks.raw_get::<mlua::Function>("random")?)?;
        random.raw_set("randomseed", hooks.raw_get::<mlua::Function>("randomseed")?)?;
        install(&lua, &hooks, &math, &random)?;
        for (name, raw) in [
            ("bit", bit::raw_table(&lua)?),
            ("cjson", cjson::raw_table(&lua)?),
            ("cmsgpack", cmsgpack::raw_table(&lua)?),
            ("struct", struct_lib::raw_table(&lua)?),
        ] {
            let lib = lua.create_table()?;
            install(&lua, &hooks, &lib, &raw)?;
            g.raw_set(name, lib)?;
        }
        hooks.raw_set(
            "handler",
            error_handler(&lua, hooks.clone(), watch.clone())?,
        )?;
        // Until a script runs, `redis.call` has nothing to call.
        let outside = hooks.clone();
        hooks.raw_set(
            "call",
            lua.create_function(move |lua, _: MultiValue| {
                let text = b"redis.call/pcall can only be called inside a script invocation";
                settle(
                    lua,
                    &outside,
                    (false, Value::Table(error_table(lua, text)?)),
                )
            })?,
        )?;
        lua.load(include_str!("prelude.lua"))
            .set_name(INTERNAL_CHUNK)
            .call::<()>((g, hooks.clone()))?;
        let hook_watch = watch.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                let watch = &hook_watch;
                if watch.kill_requested() || watch.load_timed_out() {
                    Err(mlua::Error::runtime("Script killed by user"))
                } else if watch.should_yield(crate::node::server::unix_ms() as u64) {
                    Err(mlua::Error::runtime("Script gives way to other clients"))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;
        let eval_env: Table = hooks.raw_get("eval_env")?;
        let runner: mlua::Function = hooks.raw_get("run")?;
        Ok(ScriptEngine {
            lua,
            hooks,
            watch,
            scripts: HashMap::new(),
            libraries: Default::default(),
            eval_env,
            runner,
            scratch: Default::default(),
            script_handle: crate::node::client::Client::detached(0).handle,
        })
    }

    /// Compiles `body` (its shebang line blanked, so line numbers still count it) as
    /// `@user_script`; the error is Redis's reply text.
    pub fn compile(
        &self,
        body: &[u8],
        shebang_len: usize,
        chunk: &str,
    ) -> Result<mlua::Function, String> {
        if body.len() > MAX_SCRIPT_LEN {
            return Err("ERR script is too large".into());
        }
        let code = &body[shebang_len..];
        self.lua
            .load(code)
            .set_name(chunk)
            .into_function()
            .map_err(|e| lua_error_text(&e))
    }

    /// Bytes the Lua state uses (`INFO`'s `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Bytes of script and library source the node keeps (`INFO`'s `used_memory_scripts`).
    pub fn scripts_bytes(&self) -> usize {
        let scripts: usize = self.scripts.values().map(|s| s.body.len()).sum();
        let libraries: usize = self.libraries.iter().map(|l| l.code.len()).sum();
        scripts + libraries
    }

    /// Forgets every cached script (`SCRIPT FLUSH`) and collects their memory.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        let _ = self.lua.gc_collect();
    }
}

/// Lifts the state's memory limit until dropped (then puts back the one before, so guards
/// nest).
///
/// With a limit set, mlua runs every API call that may allocate (making a string or table,
/// `raw_set`) as a protected call, and on Lua 5.1 each protected call allocates two C closures
/// for Lua's collector to free again: several times the cost of the operation itself, on each
/// of the dozens a script run makes from Rust (KEYS/ARGV, `redis.call`'s reply). The limit is
/// there for what scripts allocate, so the runner lifts it only around its own Rust-side work,
/// which allocates in proportion to what a command answered; Lua code always runs under it (a
/// script that went past it while the limit was lifted fails at its next allocation).
pub(crate) struct Unlimited<'l> {
    lua: &'l Lua,
    previous: usize,
}

impl<'l> Unlimited<'l> {
    pub(crate) fn new(lua: &'l Lua) -> Unlimited<'l> {
        let previous = lua.set_memory_limit(0).unwrap_or(MEMORY_LIMIT);
        Unlimited { lua, previous }
    }
}

impl Drop for Unlimited<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.previous);
    }
}

/// The message of a Lua error as Lua itself would print it (no Rust decoration).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// Copies `raw`'s entries into `into`, each function (answering `(true, value)` or
/// `(false, error)`) wrapped into one that returns the value or raises the error.
fn install(lua: &Lua, hooks: &Table, into: &Table, raw: &Table) -> mlua::Result<()> {
    for pair in raw.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let v = match v {
            Value::Function(f) => {
                let hooks = hooks.clone();
                Value::Function(lua.create_function(move |lua, args: MultiValue| {
                    // A third answer `true`: the value is a table of results (with `n`) to
                    // return as several values.
                    let (ok, value, spread) = f.call::<(bool, Value, Option<bool>)>(args)?;
                    let value = settle(lua, &hooks, (ok, value))?;
                    match (spread, value) {
                        (Some(true), Value::Table(t)) => {
                            let n: usize = t.raw_get("n")?;
                            (1..=n)
                                .map(|i| t.raw_get::<Value>(i))
                                .collect::<mlua::Result<MultiValue>>()
                        }
                        (_, value) => Ok(MultiValue::from_iter([value])),
                    }
                })?)
            }
            other => other,
        };
        into.raw_set(k, v)?;
    }
    Ok(())
}

/// `redis.pcall`, `redis.setresp`, `redis.acl_check_cmd` (and `redis.call` outside a run):
/// they hand their arguments to the run's bridge (`hooks.call`, replaced for each run) with
/// [`forwarded`] and `op` in front, saying which of them called; the bridge raises the errors.
/// Each run installs its bridge as `redis.call` itself, sparing the commonest call this hop
/// (a protected call and a conversion of every argument both ways). They are Rust, not Lua
/// wrappers, because a script's `return redis.call(...)` is a tail call: into a Lua function
/// it would erase the script's frame, and the line its errors show.
fn bridge_function(lua: &Lua, hooks: &Table, op: i64) -> mlua::Result<mlua::Function> {
    let hooks = hooks.clone();
    let key = lua.create_string("call")?;
    lua.create_function(move |_, mut args: MultiValue| {
        args.push_front(Value::Integer(op));
        args.push_front(Value::LightUserData(forwarded()));
        let target: mlua::Function = hooks.raw_get(&key)?;
        target.call::<Value>(args)
    })
}

/// Whose address marks a call of the run's bridge as forwarded by [`bridge_function`].
static FORWARDED: u8 = 0;

/// The first argument of a forwarded bridge call: a light userdata no script can make (Lua
/// code makes none; `cjson.null`, the only one a library hands out, is NULL).
pub(crate) fn forwarded() -> LightUserData {
    LightUserData(std::ptr::addr_of!(FORWARDED).cast_mut().cast())
}

/// `redis.register_function` (offered while a library loads): forwards to the load's own
/// `hooks.register`.
fn register_function(lua: &Lua, hooks: &Table) -> mlua::Result<mlua::Function> {
    let hooks = hooks.clone();
    let key = lua.create_string("register")?;
    lua.create_function(move |lua, args: MultiValue| {
        let target: mlua::Function = hooks.raw_get(&key)?;
        let answer = target.call::<(bool, Value)>(args)?;
        settle(lua, &hooks, answer)
    })
}

/// Marks an error as raised from Rust: the handler and `pcall` find its value in `hooks`.
const RAISED: &str = "script error";

/// Returns the value of an `(ok, value)` answer, or raises its error: a table as it is, a
/// string prefixed with the caller's position (as `luaL_error` does).
pub(crate) fn settle(lua: &Lua, hooks: &Table, (ok, v): (bool, Value)) -> mlua::Result<Value> {
    if ok {
        return Ok(v);
    }
    let v = match v {
        Value::String(s) => {
            let mut text = caller_position(lua).into_bytes();
            text.extend_from_slice(&s.as_bytes());
            Value::String(lua.create_string(text)?)
        }
        other => other,
    };
    hooks.raw_set("pending", v)?;
    Err(mlua::Error::runtime(RAISED))
}

/// `luaL_where(L, 1)`: `chunk:line: ` of the Lua function calling the running Rust one.
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let s = d.source();
        match (s.what, s.short_src, d.current_line()) {
            ("C", _, _) => String::new(),
            (_, Some(src), Some(line)) => format!("{src}:{line}: "),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// Redis's `__redis__err__handler`: turns any error into an `{err=…}` table and notes the
/// source and line of the script frame that raised it (the sandbox's own frames and C
/// functions skipped). A kill shows as Redis's kill error.
fn error_handler(lua: &Lua, hooks: Table, watch: Arc<ScriptWatch>) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, err: Value| {
        let mut err = err;
        if matches!(err, Value::Error(_) | Value::UserData(_)) {
            let pending: Value = hooks.raw_get("pending")?;
            if !pending.is_nil() {
                hooks.raw_set("pending", Value::Nil)?;
                err = pending;
            }
        }
        let t = match err {
            Value::Table(t) => t,
            other => {
                let text = if watch.kill_requested() {
                    "ERR Script killed by user with SCRIPT KILL...".to_string()
                } else if watch.load_timed_out() {
                    "ERR FUNCTION LOAD timeout".to_string()
                } else {
                    format!("ERR {}", value_text(&other))
                };
                let t = lua.create_table()?;
                t.raw_set("err", lua.create_string(text)?)?;
                t
            }
        };
        for level in 1..64 {
            let Some((what, source, line)) = lua.inspect_stack(level, |d| {
                let s = d.source();
                (s.what, s.source.map(|c| c.into_owned()), d.current_line())
            }) else {
                break;
            };
            if what == "C" || source.as_deref() == Some(INTERNAL_CHUNK) {
                continue;
            }
            if let Some(source) = source {
                t.raw_set("source", source)?;
            }
            if let Some(line) = line {
                t.raw_set("line", line)?;
            }
            break;
        }
        Ok(t)
    })
}

/// Lua's `tostring` of an error value.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Value::Number(x) => crate::node::reply::format_g(*x, 14),
        Value::Integer(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Nil => "nil".into(),
        Value::Error(e) => lua_error_text(e),
        other => other.to_string().unwrap_or_else(|_| "?".into()),
    }
}

fn ok_value(v: Value) -> mlua::Result<(bool, Value)> {
    Ok((true, v))
}

fn fail(lua: &Lua, text: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::Table(error_table(lua, text.as_bytes())?)))
}

/// `redis.*` functions that need no running command: each answers `(true, value)` or
/// `(false, error)`, and the prelude raises the error.
fn raw_redis(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return fail(lua, "wrong number of arguments");
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(x) => crate::node::reply::format_g(*x, 14).into_bytes(),
                Value::Integer(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            let hex = sha1_smol::Sha1::from(&bytes).digest().to_string();
            ok_value(Value::String(lua.create_string(hex)?))
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let (n, first) = (args.len(), args.front());
            let t = match first {
                Some(Value::String(s)) if n == 1 => {
                    let s = s.as_bytes();
                    let text = if s.starts_with(b"-") {
                        s.to_vec()
                    } else {
                        [b"-".as_slice(), &s].concat()
                    };
                    error_table(lua, &text)?
                }
                _ => error_table(lua, b"wrong number or type of arguments")?,
            };
            ok_value(Value::Table(t))
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let t = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => {
                    let t = lua.create_table()?;
                    t.raw_set("ok", s.clone())?;
                    t
                }
                _ => error_table(lua, b"wrong number or type of arguments")?,
            };
            ok_value(Value::Table(t))
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return fail(lua, "redis.log() requires two arguments or more.");
            }
            let level = match &args[0] {
                Value::Number(x) => *x as i64,
                Value::Integer(n) => *n,
                _ => return fail(lua, "First argument must be a number (log level)."),
            };
            if !(0..=3).contains(&level) {
                return fail(lua, "Invalid debug level.");
            }
            let text: Vec<String> = args.iter().skip(1).map(value_text).collect();
            let text = text.join(" ");
            match level {
                3 => tracing::warn!(target: "slotgate::script", "{text}"),
                2 => tracing::info!(target: "slotgate::script", "{text}"),
                _ => tracing::debug!(target: "slotgate::script", "{text}"),
            }
            ok_value(Value::Nil)
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return fail(lua, "redis.set_repl() requires two arguments.");
            }
            let flags = match &args[0] {
                Value::Number(x) => *x as i64,
                Value::Integer(n) => *n,
                _ => -1,
            };
            if !(0..=3).contains(&flags) {
                return fail(
                    lua,
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            // Read by each `redis.call` of the run (see `run::replicas_muted`).
            lua.set_app_data(super::run::ReplFlags(flags as u8));
            ok_value(Value::Nil)
        })?,
    )?;
    t.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| ok_value(Value::Boolean(true)))?,
    )?;
    t.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| ok_value(Value::Boolean(false)))?,
    )?;
    t.raw_set(
        "debug",
        lua.create_function(|_, _: MultiValue| ok_value(Value::Nil))?,
    )?;
    Ok(t)
}

/// `math.random` and `math.randomseed` over Redis's generator.
fn random_functions(lua: &Lua, hooks: &Table, rng: Arc<Mutex<Rand48>>) -> mlua::Result<()> {
    let r = rng.clone();
    hooks.raw_set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            let x = r.lock().unwrap_or_else(|p| p.into_inner()).next_unit();
            let int = |i: usize| -> Option<i64> {
                match args.get(i) {
                    Some(Value::Number(x)) => Some(*x as i32 as i64),
                    Some(Value::Integer(n)) => Some(*n as i32 as i64),
                    Some(Value::String(s)) => s
                        .to_str()
                        .ok()?
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .map(|x| x as i32 as i64),
                    _ => None,
                }
            };
            let bad = |i: usize, what: &str| -> mlua::Result<(bool, Value)> {
                Ok((
                    false,
                    Value::String(
                        lua.create_string(format!("bad argument #{i} to 'random' ({what})"))?,
                    ),
                ))
            };
            let v = match args.len() {
                0 => x,
                1 => {
                    let Some(u) = int(0) else {
                        return bad(1, "number expected");
                    };
                    if u < 1 {
                        return bad(1, "interval is empty");
                    }
                    (x * u as f64).floor() + 1.0
                }
                2 => {
                    let (Some(l), Some(u)) = (int(0), int(1)) else {
                        return bad(1, "number expected");
                    };
                    if l > u {
                        return bad(2, "interval is empty");
                    }
                    (x * (u - l + 1) as f64).floor() + l as f64
                }
                _ => {
                    return Ok((
                        false,
                        Value::String(lua.create_string("wrong number of arguments")?),
                    ))
                }
            };
            ok_value(Value::Number(v))
        })?,
    )?;
    hooks.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: MultiValue| {
            let seed = match args.front() {
                Some(Value::Number(x)) => *x as i32,
                Some(Value::Integer(n)) => *n as i32,
                _ => {
                    return Ok((
                        false,
                        Value::String(lua.create_string(
                            "bad argument #1 to 'randomseed' (number expected, got no value)",
                        )?),
                    ))
                }
            };
            *rng.lock().unwrap_or_else(|p| p.into_inner()) = Rand48::seeded(seed);
            ok_value(Value::Nil)
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_nests_and_puts_the_limit_back() {
        let engine = ScriptEngine::new(Arc::new(ScriptWatch::default())).unwrap();
        {
            let _outer = Unlimited::new(&engine.lua);
            {
                let _inner = Unlimited::new(&engine.lua);
            }
            assert_eq!(engine.lua.set_memory_limit(0).unwrap(), 0);
        }
        assert_eq!(
            engine.lua.set_memory_limit(MEMORY_LIMIT).unwrap(),
            MEMORY_LIMIT
        );
    }

    #[test]
    fn handler_finds_the_script_line() {
        let engine = ScriptEngine::new(Arc::new(ScriptWatch::default())).unwrap();
        let f = engine
            .compile(b"\nreturn redis.sha1hex()", 0, "@user_script")
            .unwrap();
        let run: mlua::Function = engine.hooks.raw_get("run").unwrap();
        let (ok, v): (bool, Value) = run.call((f, Value::Nil, Value::Nil)).unwrap();
        assert!(!ok);
        let Value::Table(t) = v else { panic!("{v:?}") };
        let line: Value = t.raw_get("line").unwrap();
        let source: Value = t.raw_get("source").unwrap();
        let err: String = t.raw_get("err").unwrap();
        assert_eq!(err, "ERR wrong number of arguments");
        assert_eq!(source.to_string().unwrap(), "@user_script");
        assert_eq!(line.to_string().unwrap(), "2");
    }
}
