//! One command (or subcommand) as Redis 7.0 describes it.

use bytes::Bytes;

use super::error::CommandError;
use super::flags::{AclCategories, Flags, KeySpecFlags};
use super::key_spec::{search, KeySpec, SpecFilter};
use super::keys::{KeyFinder, KeyIndices, KeyRefs};
use crate::resp::Command;

/// A command's name, arity, flags, ACL categories, key positions, tips and subcommands.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lowercase, with the container for a subcommand (`client|setname`). Leaked once: the
    /// table lives as long as the process, and error values can then borrow it for `'static`.
    pub(crate) full_name: &'static str,
    /// Where the subcommand's own name starts in `full_name` (0 for a top-level command).
    pub(crate) name_at: usize,
    pub(crate) arity: i32,
    pub(crate) flags: Flags,
    pub(crate) acl_categories: AclCategories,
    pub(crate) first_key: i32,
    pub(crate) last_key: i32,
    pub(crate) key_step: i32,
    pub(crate) tips: Vec<Box<str>>,
    pub(crate) request_policy: Option<RequestPolicy>,
    pub(crate) response_policy: Option<ResponsePolicy>,
    pub(crate) key_specs: Vec<KeySpec>,
    /// Sorted by name, so that lookups can bisect.
    pub(crate) subcommands: Vec<CommandSpec>,
    pub(crate) key_finder: KeyFinder,
    pub(crate) info: Bytes,
    /// Position in [`CommandTable::iter_all`](super::CommandTable::iter_all) order.
    pub(crate) id: u16,
}

/// Which nodes a cluster client should send a command to, from the command's
/// `request_policy:…` tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPolicy {
    /// Every node, replicas included (`CONFIG SET`, `SCRIPT LOAD`).
    AllNodes,
    /// Every master (`DBSIZE`, `KEYS`, `FLUSHALL`).
    AllShards,
    /// Split by slot, one sub-request per shard (`MGET`, `DEL`, `MSET`).
    MultiShard,
    /// Needs handling of its own (`SCAN`).
    Special,
}

/// How a cluster client should merge the replies of a fanned-out command, from the command's
/// `response_policy:…` tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePolicy {
    OneSucceeded,
    AllSucceeded,
    AggLogicalAnd,
    AggLogicalOr,
    AggMin,
    AggMax,
    AggSum,
    Special,
}

impl RequestPolicy {
    pub(crate) fn from_tip(tip: &str) -> Option<RequestPolicy> {
        Some(match tip.strip_prefix("request_policy:")? {
            "all_nodes" => RequestPolicy::AllNodes,
            "all_shards" => RequestPolicy::AllShards,
            "multi_shard" => RequestPolicy::MultiShard,
            "special" => RequestPolicy::Special,
            _ => return None,
        })
    }
}

impl ResponsePolicy {
    pub(crate) fn from_tip(tip: &str) -> Option<ResponsePolicy> {
        Some(match tip.strip_prefix("response_policy:")? {
            "one_succeeded" => ResponsePolicy::OneSucceeded,
            "all_succeeded" => ResponsePolicy::AllSucceeded,
            "agg_logical_and" => ResponsePolicy::AggLogicalAnd,
            "agg_logical_or" => ResponsePolicy::AggLogicalOr,
            "agg_min" => ResponsePolicy::AggMin,
            "agg_max" => ResponsePolicy::AggMax,
            "agg_sum" => ResponsePolicy::AggSum,
            "special" => ResponsePolicy::Special,
            _ => return None,
        })
    }
}

impl CommandSpec {
    /// A small number unique to this command or subcommand: its index in
    /// `CommandTable::iter_all` order, below `CommandTable::len_all`.
    pub fn id(&self) -> usize {
        usize::from(self.id)
    }

    /// The command's own name, lowercase: `get`, or `setname` for `client|setname`.
    pub fn name(&self) -> &'static str {
        &self.full_name[self.name_at..]
    }

    /// The name Redis uses in replies and `COMMAND`: `get`, `client|setname`.
    pub fn full_name(&self) -> &'static str {
        self.full_name
    }

    /// The container's name for a subcommand (`client` for `client|setname`).
    pub fn container_name(&self) -> Option<&'static str> {
        (self.name_at > 0).then(|| &self.full_name[..self.name_at - 1])
    }

    /// Redis's arity: `n` means exactly `n` arguments (the name included), `-n` at least `n`.
    pub fn arity(&self) -> i32 {
        self.arity
    }

    /// Whether `argc` arguments (the name included) fit the arity.
    pub fn arity_accepts(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    pub fn flags(&self) -> Flags {
        self.flags
    }

    pub fn acl_categories(&self) -> AclCategories {
        self.acl_categories
    }

    /// The legacy key range `(first, last, step)` of `COMMAND`; `(0, 0, 0)` when keys move.
    pub fn key_range(&self) -> (i32, i32, i32) {
        (self.first_key, self.last_key, self.key_step)
    }

    pub fn key_specs(&self) -> &[KeySpec] {
        &self.key_specs
    }

    /// The command's tips as Redis lists them (`nondeterministic_output`,
    /// `request_policy:all_shards`, …).
    pub fn tips(&self) -> impl ExactSizeIterator<Item = &str> {
        self.tips.iter().map(|t| &**t)
    }

    pub fn request_policy(&self) -> Option<RequestPolicy> {
        self.request_policy
    }

    pub fn response_policy(&self) -> Option<ResponsePolicy> {
        self.response_policy
    }

    /// The subcommands of a container command, sorted by name; empty for others.
    pub fn subcommands(&self) -> &[CommandSpec] {
        &self.subcommands
    }

    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// The subcommand called `name` (any ASCII case), without allocating.
    pub fn subcommand(&self, name: &[u8]) -> Option<&CommandSpec> {
        find_by_name(&self.subcommands, name, |s| s.name())
    }

    /// This entry exactly as Redis answers it inside `COMMAND` / `COMMAND INFO` (RESP2).
    pub fn info_bytes(&self) -> &Bytes {
        &self.info
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    pub fn is_readonly(&self) -> bool {
        self.flags.contains(Flags::READONLY)
    }

    pub fn is_admin(&self) -> bool {
        self.flags.contains(Flags::ADMIN)
    }

    pub fn is_blocking(&self) -> bool {
        self.flags.contains(Flags::BLOCKING)
    }

    pub fn is_pubsub(&self) -> bool {
        self.flags.contains(Flags::PUBSUB)
    }

    pub fn is_fast(&self) -> bool {
        self.flags.contains(Flags::FAST)
    }

    pub fn is_noscript(&self) -> bool {
        self.flags.contains(Flags::NOSCRIPT)
    }

    pub fn denies_oom(&self) -> bool {
        self.flags.contains(Flags::DENYOOM)
    }

    /// Writes, or may otherwise send something to replicas (`PUBLISH`, `EVAL`).
    pub fn may_replicate(&self) -> bool {
        self.flags.intersects(Flags::WRITE | Flags::MAY_REPLICATE)
    }

    pub fn has_movable_keys(&self) -> bool {
        self.flags.contains(Flags::MOVABLE_KEYS)
    }

    /// Whether the command has key arguments at all (Redis's `doesCommandHaveKeys`): a key
    /// spec that is not `not_key`, or a key finder of its own.
    pub fn has_keys(&self) -> bool {
        self.key_finder != KeyFinder::Specs
            || self
                .key_specs
                .iter()
                .any(|s| !s.flags.contains(KeySpecFlags::NOT_KEY))
    }

    /// Whether a cluster client must send the command to every master (or every node) and
    /// merge the replies, rather than to one node.
    /// Whether the command may take several keys (`MGET`, `DEL`, `EVAL`, …).
    pub fn key_step_covers_many(&self) -> bool {
        self.last_key < 0
            || self.last_key > self.first_key
            || self.flags.contains(Flags::MOVABLE_KEYS)
    }

    pub fn needs_all_shards(&self) -> bool {
        matches!(
            self.request_policy,
            Some(RequestPolicy::AllShards | RequestPolicy::AllNodes)
        )
    }

    /// The indices of `cmd`'s keys, in the order Redis names them (`COMMAND GETKEYS`), for a
    /// `cmd` that [`CommandTable::lookup`](super::CommandTable::lookup) resolved to this spec.
    ///
    /// For the commands Redis finds keys for with a function of its own (`SORT`, `MIGRATE`,
    /// `GEORADIUS`, `XREAD`, the numkeys commands, …) the keys are the ones Redis Cluster routes
    /// by, which differ from `COMMAND GETKEYS` in three corners: `GEORADIUS … STORE a STOREDIST
    /// b` names only `b` (the one written); `XREAD`/`XREADGROUP` find `STREAMS` by parsing the
    /// options, so a group or consumer called "streams" is not taken for the keyword; and
    /// `MIGRATE … "" … KEYS` with nothing after `KEYS` names no key.
    ///
    /// Errors when the arguments that locate the keys are invalid and Redis would answer the
    /// command with that same error (`EVAL s 2 a` → "ERR Number of keys can't be greater than
    /// number of args"). `Ok` does not mean the command is valid otherwise. Allocates nothing
    /// for up to four keys. Shard channels (`SPUBLISH`) are not keys: see
    /// [`CommandSpec::shard_channels`].
    pub fn keys(&self, cmd: &Command) -> Result<KeyIndices, CommandError> {
        self.key_finder.find(&self.key_specs, self.full_name, cmd)
    }

    /// The keys of `cmd` with their access flags, as Redis's `COMMAND GETKEYSANDFLAGS` and ACL
    /// key permissions see them (`getKeysFromCommandWithSpecs`). Unlike [`CommandSpec::keys`]
    /// this follows `COMMAND GETKEYS` where it differs from cluster routing, and never errs:
    /// empty where Redis finds no key.
    pub fn keys_and_flags(&self, cmd: &Command) -> KeyRefs {
        self.key_finder.find_with_flags(&self.key_specs, cmd)
    }

    /// The indices of the shard channels of `SPUBLISH`, `SSUBSCRIBE` and `SUNSUBSCRIBE`, which
    /// Redis Cluster routes by slot like keys; empty for every other command.
    pub fn shard_channels(&self, cmd: &Command) -> KeyIndices {
        let mut out = KeyIndices::new();
        if search(&self.key_specs, cmd, SpecFilter::NotKeys, &mut out).is_err() {
            out.clear();
        }
        out
    }
}

/// Bisects `specs` (sorted by `key`) for `name` in any ASCII case. The name is lowercased into
/// a stack buffer: no allocation, and anything longer than every command name is unknown.
pub(crate) fn find_by_name<'a>(
    specs: &'a [CommandSpec],
    name: &[u8],
    key: impl Fn(&CommandSpec) -> &str,
) -> Option<&'a CommandSpec> {
    const MAX_NAME: usize = 32;
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    specs
        .binary_search_by(|s| key(s).as_bytes().cmp(lower))
        .ok()
        .map(|i| &specs[i])
}
