//! The command table: every Redis 7.0 command's name, arity, flags, ACL categories, key
//! positions, tips and subcommands. The one source the proxy routes and splits by, and the
//! node dispatches by.
//!
//! The data is Redis's own answer to `COMMAND`, captured from a real Redis 7.0 by
//! `scripts/gen-command-data.py` into `redis-7.0-commands.resp` and compiled in. [`table()`]
//! decodes it with [`crate::resp::Frame`] on first use. So `COMMAND`, `COMMAND INFO` and
//! `COMMAND COUNT` can be answered byte for byte ([`CommandSpec::info_bytes`],
//! [`CommandTable::len`]).
//!
//! A request's way through it:
//!
//! 1. [`CommandTable::lookup`] resolves the name (any case) and, for container commands, the
//!    subcommand, and checks the arity, failing with Redis's exact error text
//!    ([`CommandError`]). No allocation on success.
//! 2. [`CommandSpec::keys`] names the key arguments: from the key specs, or, for the commands
//!    Redis has a key-finding function for (numkeys commands, `SORT … STORE`, `MIGRATE … KEYS`,
//!    `XREAD … STREAMS`, …), from a port of that function, so the keys are the ones Redis Cluster
//!    itself routes by.
//! 3. [`CommandSpec::flags`], [`CommandSpec::request_policy`] and friends tell reads from
//!    writes, blocking and pub/sub commands from the rest, and fan-out commands from
//!    single-slot ones.

mod docs;
mod error;
mod flags;
mod key_spec;
mod keys;
mod name_index;
mod spec;
mod table;

use std::sync::LazyLock;

use bytes::Bytes;

pub use docs::docs;
pub use error::CommandError;
pub use flags::{AclCategories, Flags, KeySpecFlags};
pub use key_spec::{BeginSearch, FindKeys, KeySpec};
pub use keys::{KeyIndices, KeyRefs};
pub use spec::{CommandSpec, RequestPolicy, ResponsePolicy};
pub use table::CommandTable;

/// Redis 7.0.15's reply to `COMMAND`, entries sorted by name (RESP2).
const REDIS_7_0_COMMANDS: &[u8] = include_bytes!("redis-7.0-commands.resp");

/// The command table, decoded on first use.
pub fn table() -> &'static CommandTable {
    static TABLE: LazyLock<CommandTable> =
        LazyLock::new(|| CommandTable::from_command_reply(Bytes::from_static(REDIS_7_0_COMMANDS)));
    &TABLE
}
