//! Function libraries (`FUNCTION LOAD`): their metadata line, their loading, and the registry
//! of libraries and the functions they registered.
//!
//! A library's code runs once at load, in its own environment where `redis` offers only
//! `register_function`, `log` and the constants; each `redis.register_function` call adds a
//! function (name, callback, flags, description). Nothing is installed unless the whole load
//! succeeds. Later `FCALL`s call the callbacks with the full `redis` API.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlua::{Lua, MultiValue, Table, Value};

use super::convert::error_table;
use super::engine::{lua_error_text, ScriptEngine};
use super::shebang::ScriptFlags;

/// How long a library's code may run at load (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// One function a library registered.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
    pub callback: mlua::Function,
}

/// A loaded library: its full code (metadata line included) and its functions in
/// registration order.
#[derive(Debug, Clone)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionDef>,
}

/// Every loaded library by name (listed in name order).
#[derive(Debug, Default)]
pub struct Libraries {
    by_name: BTreeMap<String, Library>,
}

impl Libraries {
    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn function_count(&self) -> usize {
        self.by_name.values().map(|l| l.functions.len()).sum()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The function named `name`, in whichever library.
    pub fn function(&self, name: &[u8]) -> Option<&FunctionDef> {
        self.by_name
            .values()
            .flat_map(|l| l.functions.iter())
            .find(|f| f.name.as_bytes() == name)
    }

    pub fn remove(&mut self, name: &str) -> Option<Library> {
        self.by_name.remove(name)
    }

    pub fn clear(&mut self) {
        self.by_name.clear();
    }

    /// Adds `libs`, replacing same-named libraries when `replace` (else refusing them);
    /// refuses a function name another library already has. All or nothing; the error is
    /// Redis's text without the `ERR ` code.
    pub fn join(&mut self, libs: Vec<Library>, replace: bool) -> Result<(), String> {
        let mut next = std::mem::take(&mut self.by_name);
        let restore = next.clone();
        for lib in libs {
            if next.contains_key(&lib.name) {
                if !replace {
                    self.by_name = restore;
                    return Err(format!("Library {} already exists", lib.name));
                }
                next.remove(&lib.name);
            }
            let clash = lib.functions.iter().find(|f| {
                next.values()
                    .any(|l| l.functions.iter().any(|g| g.name == f.name))
            });
            if let Some(f) = clash {
                let text = format!("Function {} already exists", f.name);
                self.by_name = restore;
                return Err(text);
            }
            next.insert(lib.name.clone(), lib);
        }
        self.by_name = next;
        Ok(())
    }

    /// `FUNCTION LOAD`'s install: like [`join`](Self::join) for one library, with LOAD's
    /// error texts.
    pub fn install(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        if !replace && self.by_name.contains_key(&lib.name) {
            return Err(format!("Library '{}' already exists", lib.name));
        }
        for f in &lib.functions {
            let clash = self
                .by_name
                .values()
                .filter(|l| l.name != lib.name)
                .any(|l| l.functions.iter().any(|g| g.name == f.name));
            if clash {
                return Err(format!("Function {} already exists", f.name));
            }
        }
        self.by_name.insert(lib.name.clone(), lib);
        Ok(())
    }
}

/// Letters, digits and `_`, at least one (Redis's `functionsVerifyName`).
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The engine and library name from a library's first line (`#!lua name=mylib`), and that
/// line's length; the error is Redis's text without the `ERR ` code.
pub fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let mut parts = code[..end]
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let Some(first) = parts.next() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2..]).into_owned();
    let mut name = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine, name, end))
}

impl ScriptEngine {
    /// Compiles and runs a library's code, collecting the functions it registers, without
    /// installing it. The error is the whole reply text (with its code).
    pub fn build_library(&mut self, code: &[u8]) -> Result<Library, String> {
        let (engine, name, shebang_len) = metadata(code).map_err(|e| format!("ERR {e}"))?;
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("ERR Engine '{engine}' not found"));
        }
        if !valid_name(name.as_bytes()) {
            return Err(format!("ERR {BAD_NAME}"));
        }
        let chunk = self
            .compile(code, shebang_len, "@user_function")
            .map_err(|e| format!("ERR Error compiling function: {e}"))?;
        let registered: RefCell<Vec<FunctionDef>> = RefCell::new(Vec::new());
        let lua = self.lua.clone();
        let hooks = self.hooks.clone();
        let _ = hooks.raw_set("pending", Value::Nil);
        let outcome = lua.scope(|scope| {
            hooks.raw_set(
                "register",
                scope.create_function(|lua, args: MultiValue| match register_args(lua, args) {
                    Ok(def) => {
                        let mut defs = registered.borrow_mut();
                        if defs.iter().any(|d| d.name == def.name) {
                            return refuse(lua, "Function already exists in the library");
                        }
                        defs.push(def);
                        Ok((true, Value::Nil))
                    }
                    Err(text) => refuse(lua, &text),
                })?,
            )?;
            let new_env: mlua::Function = hooks.raw_get("new_library_env")?;
            let env: Table = new_env.call(())?;
            chunk.set_environment(env.clone())?;
            let runner: mlua::Function = hooks.raw_get("run")?;
            self.watch
                .set_load_deadline(Some(Instant::now() + LOAD_TIMEOUT));
            let result = runner.call::<(bool, Value)>((chunk.clone(), Value::Nil, Value::Nil));
            self.watch.set_load_deadline(None);
            let loaded: mlua::Function = hooks.raw_get("library_loaded")?;
            loaded.call::<()>(env)?;
            result
        });
        match outcome {
            Ok((true, _)) => {}
            Ok((false, Value::Table(err))) => {
                let msg: String = err
                    .raw_get::<Option<String>>("err")
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                return Err(format!("ERR Error registering functions: {msg}"));
            }
            Ok((false, _)) => return Err("ERR Error registering functions".into()),
            Err(e) => {
                return Err(format!(
                    "ERR Error registering functions: {}",
                    lua_error_text(&e)
                ))
            }
        }
        let functions = registered.into_inner();
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions,
        })
    }
}

fn refuse(lua: &Lua, text: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::Table(error_table(lua, text.as_bytes())?)))
}

/// A value Lua's `lua_isstring` accepts, as bytes.
fn string_like(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(x) => Some(crate::node::reply::format_g(*x, 14).into_bytes()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// `redis.register_function`'s arguments, positional (`name, callback`) or named (one
/// table), checked as Redis checks them.
fn register_args(lua: &Lua, args: MultiValue) -> Result<FunctionDef, String> {
    let _ = lua;
    if args.is_empty() || args.len() > 2 {
        return Err("wrong number of arguments to redis.register_function".into());
    }
    let (name, callback, description, flags) = if args.len() == 2 {
        let name = string_like(&args[0])
            .ok_or("first argument to redis.register_function must be a string")?;
        let Value::Function(callback) = &args[1] else {
            return Err("second argument to redis.register_function must be a function".into());
        };
        (name, callback.clone(), None, ScriptFlags::default())
    } else {
        let Value::Table(t) = &args[0] else {
            return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
        };
        let (mut name, mut callback, mut description) = (None, None, None);
        let mut flags = ScriptFlags::default();
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair.map_err(|e| e.to_string())?;
            let key = string_like(&k)
                .ok_or("named argument key given to redis.register_function is not a string")?;
            if key.eq_ignore_ascii_case(b"function_name") {
                name = Some(string_like(&v).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?);
            } else if key.eq_ignore_ascii_case(b"description") {
                description = Some(string_like(&v).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?);
            } else if key.eq_ignore_ascii_case(b"callback") {
                let Value::Function(f) = v else {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .into(),
                    );
                };
                callback = Some(f);
            } else if key.eq_ignore_ascii_case(b"flags") {
                let Value::Table(list) = v else {
                    return Err("flags argument to redis.register_function must be a table representing function flags".into());
                };
                for i in 1.. {
                    match list.raw_get::<Value>(i) {
                        Ok(Value::Nil) | Err(_) => break,
                        Ok(Value::String(s)) if flags.set(&s.as_bytes()) => {}
                        Ok(_) => return Err("unknown flag given".into()),
                    }
                }
            } else {
                return Err("unknown argument given to redis.register_function".into());
            }
        }
        let name = name.ok_or("redis.register_function must get a function name argument")?;
        let callback = callback.ok_or("redis.register_function must get a callback argument")?;
        (name, callback, description, flags)
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    Ok(FunctionDef {
        name: String::from_utf8_lossy(&name).into_owned(),
        description,
        flags,
        callback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lines() {
        assert_eq!(
            metadata(b"#!lua name=lib\ncode").unwrap(),
            ("lua".into(), "lib".into(), 14)
        );
        assert_eq!(metadata(b"code").unwrap_err(), "Missing library metadata");
        assert_eq!(metadata(b"#!lua").unwrap_err(), "Invalid library metadata");
        assert!(metadata(b"#!lua x=y\n")
            .unwrap_err()
            .starts_with("Invalid metadata value given"));
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        assert!(valid_name(b"a_1") && !valid_name(b"") && !valid_name(b"a-b"));
    }
}
