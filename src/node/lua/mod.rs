//! Lua scripting for the node: the embedded Lua 5.1 state and Redis's scripting API.
//!
//! - [`engine`]: the Lua state, its libraries and sandbox (read-only globals, Redis's error
//!   handler), the cache of compiled `EVAL` scripts;
//! - [`run`]: running a script or function inside a command, `redis.call` into the node;
//! - [`convert`]: Redis's RESP ⇄ Lua conversion rules;
//! - [`shebang`]: `#!lua flags=…` script flags;
//! - [`busy`]: the running script as other sessions see it (`-BUSY`, `SCRIPT KILL`);
//! - [`rand48`], [`bit`], [`cjson`], [`cmsgpack`], [`struct_lib`]: the libraries Redis
//!   bundles, rewritten in Rust.
//!
//! The handlers live in `commands/scripting.rs` and `commands/functions.rs`.

pub mod bit;
pub mod busy;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod engine;
pub mod library;
pub mod rand48;
pub mod run;
pub mod shebang;
pub mod struct_lib;

use std::sync::{Arc, Mutex, MutexGuard};

pub use busy::ScriptWatch;
pub use engine::ScriptEngine;

/// The node's scripting state: the Lua engine (locked inside the keyspace lock) and the
/// running script as every session may see it without that lock.
#[derive(Debug)]
pub struct Scripting {
    engine: Mutex<ScriptEngine>,
    pub watch: Arc<ScriptWatch>,
}

impl Scripting {
    pub fn new() -> Scripting {
        let watch = Arc::new(ScriptWatch::default());
        let engine = ScriptEngine::new(watch.clone()).expect("the Lua state starts");
        Scripting {
            engine: Mutex::new(engine),
            watch,
        }
    }

    /// The engine, locked. Taken only while the keyspace lock is held.
    pub fn engine(&self) -> MutexGuard<'_, ScriptEngine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}
