//! The table of every command, decoded from Redis 7.0's own `COMMAND` reply.

use bytes::Bytes;

use super::error::CommandError;
use super::flags::{AclCategories, Flags, KeySpecFlags};
use super::key_spec::{BeginSearch, FindKeys, KeySpec};
use super::keys::KeyFinder;
use super::name_index::NameIndex;
use super::spec::{CommandSpec, RequestPolicy, ResponsePolicy};
use crate::resp::{Command, Frame, Limits};

/// Every Redis 7.0 command, sorted by name.
#[derive(Debug)]
pub struct CommandTable {
    commands: Vec<CommandSpec>,
    by_name: NameIndex,
}

impl CommandTable {
    /// Case-insensitive lookup of a top-level command by name; allocates nothing.
    pub fn get(&self, name: &[u8]) -> Option<&CommandSpec> {
        let i = self.by_name.find(name, |i| self.commands[i].full_name())?;
        Some(&self.commands[i])
    }

    /// Resolves `cmd` to its command, or to its subcommand for a container command (`CLIENT`,
    /// `CONFIG`, `CLUSTER`, `OBJECT`, …), and checks the arity, as Redis's `processCommand`
    /// does: a container alone resolves to the container (and fails its arity check).
    /// Allocates nothing unless it fails.
    pub fn lookup(&self, cmd: &Command) -> Result<&CommandSpec, CommandError> {
        let spec = self.resolve(cmd)?;
        if !spec.arity_accepts(cmd.argc()) {
            return Err(CommandError::WrongArity {
                command: spec.full_name(),
            });
        }
        Ok(spec)
    }

    /// [`lookup`](Self::lookup) without the arity check (Redis's `lookupCommand`, which
    /// `COMMAND GETKEYS` uses before its own arity answer).
    pub fn resolve(&self, cmd: &Command) -> Result<&CommandSpec, CommandError> {
        let base = self
            .get(cmd.name())
            .ok_or_else(|| CommandError::unknown(cmd))?;
        let spec = match cmd.get(1) {
            Some(sub) if base.is_container() => {
                base.subcommand(sub)
                    .ok_or_else(|| CommandError::UnknownSubcommand {
                        container: base.full_name(),
                        subcommand: cmd.arg_bytes(1),
                    })?
            }
            _ => base,
        };
        Ok(spec)
    }

    /// The number of commands and subcommands: one more than the largest
    /// [`CommandSpec::id`].
    pub fn len_all(&self) -> usize {
        self.commands.iter().map(|c| 1 + c.subcommands.len()).sum()
    }

    /// The number of top-level commands: what `COMMAND COUNT` answers.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The top-level commands, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &CommandSpec> {
        self.commands.iter()
    }

    /// Every command and subcommand: each container followed by its subcommands.
    pub fn iter_all(&self) -> impl Iterator<Item = &CommandSpec> {
        self.commands
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands()))
    }

    /// Decodes a `COMMAND` reply (RESP2, as stored by `scripts/gen-command-data.py`). Panics
    /// on data that does not describe commands: the data is compiled in and tested.
    pub(crate) fn from_command_reply(data: Bytes) -> CommandTable {
        let (frame, used) = Frame::decode(&data, Limits::default())
            .expect("command data is valid RESP")
            .expect("command data is one whole reply");
        assert_eq!(used, data.len(), "command data holds exactly one reply");
        let mut commands: Vec<CommandSpec> = array(&frame, "COMMAND reply")
            .iter()
            .map(|entry| decode_entry(entry, None))
            .collect();
        commands.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        let by_name = NameIndex::new(commands.iter().map(|c| c.full_name()));
        // Ids in `iter_all` order, for per-command statistics.
        let mut next = 0u16;
        for c in &mut commands {
            c.id = next;
            next += 1;
            for sub in &mut c.subcommands {
                sub.id = next;
                next += 1;
            }
        }
        CommandTable { commands, by_name }
    }
}

/// Flags Redis 7.0 sets but keeps out of `COMMAND`'s reply, found by asking the server:
/// `PROTECTED` commands are refused under the default `enable-debug-command no` /
/// `enable-module-command no`; `MAY_REPLICATE` ones (that are not writes) are held back by
/// `CLIENT PAUSE … WRITE`. The differential test checks both against a real server.
/// `SENTINEL` and `ONLY_SENTINEL` concern sentinel mode and are never set here.
fn hidden_flags(full_name: &str) -> Flags {
    match full_name {
        "debug" | "module|load" | "module|loadex" | "module|unload" => Flags::PROTECTED,
        "eval" | "evalsha" | "fcall" | "pfcount" | "publish" | "spublish" => Flags::MAY_REPLICATE,
        _ => Flags::empty(),
    }
}

/// One `COMMAND` entry: `[name, arity, flags, first, last, step, acl categories, tips,
/// key specs, subcommands]`.
fn decode_entry(entry: &Frame, container: Option<&str>) -> CommandSpec {
    let fields = array(entry, "command entry");
    assert!(fields.len() >= 10, "command entry has 10 fields: {entry:?}");
    let full_name = text(&fields[0], "command name");
    assert!(
        full_name.bytes().all(|b| !b.is_ascii_uppercase()),
        "command names are lowercase: {full_name}"
    );
    let name_at = match container {
        Some(parent) => {
            let prefix = format!("{parent}|");
            assert!(
                full_name.starts_with(&prefix),
                "subcommand {full_name} is named after {parent}"
            );
            prefix.len()
        }
        None => 0,
    };
    let full_name: &'static str = Box::leak(full_name.into_boxed_str());
    let mut flags = hidden_flags(full_name);
    for f in array(&fields[2], "flags") {
        let name = text(f, "flag");
        flags |= Flags::from_name(&name).unwrap_or_else(|| panic!("unknown command flag {name}"));
    }
    let mut acl_categories = AclCategories::empty();
    for c in array(&fields[6], "ACL categories") {
        let name = text(c, "ACL category");
        let bare = name.strip_prefix('@').unwrap_or(&name);
        acl_categories |=
            AclCategories::from_name(bare).unwrap_or_else(|| panic!("unknown ACL category {name}"));
    }
    let tips: Vec<Box<str>> = array(&fields[7], "tips")
        .iter()
        .map(|t| text(t, "tip").into_boxed_str())
        .collect();
    let request_policy = tips.iter().find_map(|t| RequestPolicy::from_tip(t));
    let response_policy = tips.iter().find_map(|t| ResponsePolicy::from_tip(t));
    let key_specs = array(&fields[8], "key specs")
        .iter()
        .map(decode_key_spec)
        .collect();
    let mut subcommands: Vec<CommandSpec> = array(&fields[9], "subcommands")
        .iter()
        .map(|s| decode_entry(s, Some(full_name)))
        .collect();
    subcommands.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    CommandSpec {
        full_name,
        name_at,
        arity: small_int(&fields[1], "arity"),
        flags,
        acl_categories,
        first_key: small_int(&fields[3], "first key"),
        last_key: small_int(&fields[4], "last key"),
        key_step: small_int(&fields[5], "key step"),
        tips,
        request_policy,
        response_policy,
        key_specs,
        subcommands,
        key_finder: KeyFinder::for_command(full_name),
        info: entry.to_bytes(),
        id: 0,
    }
}

/// A key spec: a flat map of `notes`, `flags`, `begin_search`, `find_keys`.
fn decode_key_spec(frame: &Frame) -> KeySpec {
    let mut spec = KeySpec {
        notes: None,
        flags: KeySpecFlags::empty(),
        begin_search: BeginSearch::Unknown,
        find_keys: FindKeys::Unknown,
    };
    for (key, value) in pairs(frame, "key spec") {
        match key.as_str() {
            "notes" => spec.notes = Some(text(value, "notes").into_boxed_str()),
            "flags" => {
                for f in array(value, "key spec flags") {
                    let name = text(f, "key spec flag");
                    spec.flags |= KeySpecFlags::from_name(&name)
                        .unwrap_or_else(|| panic!("unknown key spec flag {name}"));
                }
            }
            "begin_search" => {
                let (kind, args) = typed_spec(value);
                spec.begin_search = match kind.as_str() {
                    "index" => BeginSearch::Index(int_field(&args, "index")),
                    "keyword" => BeginSearch::Keyword {
                        keyword: text(field(&args, "keyword"), "keyword").into_boxed_str(),
                        start_from: int_field(&args, "startfrom"),
                    },
                    "unknown" => BeginSearch::Unknown,
                    other => panic!("unknown begin_search type {other}"),
                };
            }
            "find_keys" => {
                let (kind, args) = typed_spec(value);
                spec.find_keys = match kind.as_str() {
                    "range" => FindKeys::Range {
                        last_key: int_field(&args, "lastkey"),
                        key_step: int_field(&args, "keystep"),
                        limit: int_field(&args, "limit"),
                    },
                    "keynum" => FindKeys::KeyNum {
                        key_num_idx: int_field(&args, "keynumidx"),
                        first_key: int_field(&args, "firstkey"),
                        key_step: int_field(&args, "keystep"),
                    },
                    "unknown" => FindKeys::Unknown,
                    other => panic!("unknown find_keys type {other}"),
                };
            }
            other => panic!("unknown key spec field {other}"),
        }
    }
    spec
}

/// `[type, <kind>, spec, [k, v, …]]`.
fn typed_spec(frame: &Frame) -> (String, Vec<(String, &Frame)>) {
    let map = pairs(frame, "typed spec");
    let kind = text(field(&map, "type"), "spec type");
    let args = pairs(field(&map, "spec"), "spec arguments");
    (kind, args)
}

fn array<'a>(frame: &'a Frame, what: &str) -> &'a [Frame] {
    frame
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {frame:?}"))
}

/// A RESP2 flat map: `[k1, v1, k2, v2, …]`.
fn pairs<'a>(frame: &'a Frame, what: &str) -> Vec<(String, &'a Frame)> {
    let items = array(frame, what);
    assert!(
        items.chunks_exact(2).remainder().is_empty(),
        "{what} has an odd length"
    );
    items
        .chunks_exact(2)
        .map(|kv| (text(&kv[0], what), &kv[1]))
        .collect()
}

fn field<'a>(map: &[(String, &'a Frame)], name: &str) -> &'a Frame {
    map.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("missing field {name}"))
}

fn int_field(map: &[(String, &Frame)], name: &str) -> i32 {
    small_int(field(map, name), name)
}

fn text(frame: &Frame, what: &str) -> String {
    let bytes = frame
        .as_bytes()
        .unwrap_or_else(|| panic!("{what} is not a string: {frame:?}"));
    String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| panic!("{what} is not UTF-8"))
}

fn small_int(frame: &Frame, what: &str) -> i32 {
    frame
        .as_integer()
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or_else(|| panic!("{what} is not a small integer: {frame:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::{table, REDIS_7_0_COMMANDS};
    use super::*;

    fn cmd(args: &[&str]) -> Command {
        Command::from_args(args)
    }

    #[test]
    fn decodes_every_redis_7_0_command() {
        let t = table();
        assert_eq!(t.len(), 240, "COMMAND COUNT of Redis 7.0.15");
        assert_eq!(t.iter_all().count(), 366);
        // Every entry re-encodes to the bytes Redis sent.
        let mut all = bytes::BytesMut::new();
        crate::resp::write_array_header(&mut all, t.len());
        for c in t.iter() {
            all.extend_from_slice(c.info_bytes());
        }
        assert_eq!(&all[..], REDIS_7_0_COMMANDS);
        for c in t.iter_all() {
            assert!(
                c.full_name().len() <= 32,
                "{} outgrows the lookup buffer",
                c.full_name()
            );
            assert!(c.arity() != 0, "{}", c.full_name());
        }
    }

    #[test]
    fn get_ignores_case_and_rejects_others() {
        let t = table();
        assert_eq!(t.get(b"GeT").map(CommandSpec::full_name), Some("get"));
        assert_eq!(t.get(b"client").map(CommandSpec::is_container), Some(true));
        assert!(t.get(b"client|setname").is_none());
        assert!(t.get(b"get\0").is_none());
        assert!(t.get(b"").is_none());
        assert!(t.get(&[b'g'; 100]).is_none());
    }

    #[test]
    fn get_spec_fields() {
        let get = table().get(b"get").unwrap();
        assert_eq!(get.name(), "get");
        assert_eq!(get.arity(), 2);
        assert!(get.is_readonly() && get.is_fast() && !get.is_write());
        assert_eq!(get.key_range(), (1, 1, 1));
        assert!(get
            .acl_categories()
            .contains(AclCategories::READ | AclCategories::STRING));
        assert_eq!(get.key_specs().len(), 1);
        assert_eq!(get.key_specs()[0].begin_search, BeginSearch::Index(1));
        assert!(get.info_bytes().starts_with(b"*10\r\n$3\r\nget\r\n:2\r\n"));

        let keys = table().get(b"keys").unwrap();
        assert_eq!(keys.request_policy(), Some(RequestPolicy::AllShards));
        assert!(keys.needs_all_shards());
        assert!(keys.tips().any(|t| t == "nondeterministic_output_order"));
        let mget = table().get(b"mget").unwrap();
        assert_eq!(mget.request_policy(), Some(RequestPolicy::MultiShard));
        assert!(!mget.needs_all_shards());
        let dbsize = table().get(b"dbsize").unwrap();
        assert_eq!(dbsize.response_policy(), Some(ResponsePolicy::AggSum));
    }

    #[test]
    fn hidden_flags_are_set() {
        let t = table();
        assert!(t
            .get(b"publish")
            .unwrap()
            .flags()
            .contains(Flags::MAY_REPLICATE));
        assert!(t.get(b"publish").unwrap().may_replicate());
        assert!(t.get(b"debug").unwrap().flags().contains(Flags::PROTECTED));
        let module = t.get(b"module").unwrap();
        assert!(module
            .subcommand(b"LOAD")
            .unwrap()
            .flags()
            .contains(Flags::PROTECTED));
        assert!(!module
            .subcommand(b"list")
            .unwrap()
            .flags()
            .contains(Flags::PROTECTED));
    }

    #[test]
    fn lookup_resolves_subcommands() {
        let t = table();
        let s = t.lookup(&cmd(&["CLIENT", "SetName", "x"])).unwrap();
        assert_eq!(s.full_name(), "client|setname");
        assert_eq!(s.name(), "setname");
        assert_eq!(s.container_name(), Some("client"));
        assert_eq!(
            t.lookup(&cmd(&["get", "k"])).unwrap().container_name(),
            None
        );
        // COMMAND alone is valid (arity -1); COMMAND COUNT is its subcommand.
        assert_eq!(t.lookup(&cmd(&["command"])).unwrap().full_name(), "command");
        assert_eq!(
            t.lookup(&cmd(&["command", "count"])).unwrap().full_name(),
            "command|count"
        );
    }

    #[test]
    fn lookup_errors_are_redis_texts() {
        let t = table();
        let err = |args: &[&str]| t.lookup(&cmd(args)).unwrap_err().to_string();
        assert_eq!(
            err(&["foobar", "a", "b"]),
            "ERR unknown command 'foobar', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            err(&["client", "xyz"]),
            "ERR unknown subcommand 'xyz'. Try CLIENT HELP."
        );
        assert_eq!(
            err(&["Object", ""]),
            "ERR unknown subcommand ''. Try OBJECT HELP."
        );
        assert_eq!(
            err(&["client"]),
            "ERR wrong number of arguments for 'client' command"
        );
        assert_eq!(
            err(&["CLIENT", "SETNAME"]),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            err(&["GET", "a", "b"]),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            err(&["xinfo", "stream"]),
            "ERR wrong number of arguments for 'xinfo|stream' command"
        );
    }

    #[test]
    fn every_movable_keys_command_has_a_key_finder() {
        for c in table().iter_all() {
            let movable = c.has_movable_keys();
            // SET's and BITFIELD's finders only refine access flags: their keys do not move.
            let own_finder = !matches!(
                c.key_finder,
                KeyFinder::Specs | KeyFinder::Set | KeyFinder::Bitfield
            );
            assert_eq!(movable, own_finder, "{}", c.full_name());
        }
    }

    #[test]
    fn keys_of_common_commands() {
        let t = table();
        let keys = |args: &[&str]| {
            let c = cmd(args);
            t.lookup(&c).unwrap().keys(&c).map(|k| k.to_vec())
        };
        assert_eq!(keys(&["GET", "k"]), Ok(vec![1]));
        assert_eq!(keys(&["mset", "a", "1", "b", "2"]), Ok(vec![1, 3]));
        assert_eq!(keys(&["blpop", "a", "b", "0"]), Ok(vec![1, 2]));
        assert_eq!(keys(&["object", "encoding", "k"]), Ok(vec![2]));
        assert_eq!(keys(&["memory", "usage", "k", "samples", "5"]), Ok(vec![2]));
        assert_eq!(keys(&["xinfo", "stream", "s", "full"]), Ok(vec![2]));
        assert_eq!(keys(&["ping"]), Ok(vec![]));
        assert_eq!(keys(&["spublish", "ch", "m"]), Ok(vec![]));
        assert_eq!(keys(&["eval", "s", "2", "a", "b", "x"]), Ok(vec![3, 4]));
        assert_eq!(
            keys(&["zunionstore", "d", "2", "a", "b"]),
            Ok(vec![1, 3, 4])
        );
        assert_eq!(
            keys(&["zinterstore", "d", "0", "a"]),
            Err(CommandError::NoInputKeys {
                command: "zinterstore"
            })
        );
        let c = cmd(&["spublish", "ch", "m"]);
        assert_eq!(t.lookup(&c).unwrap().shard_channels(&c).as_slice(), &[1]);
        let c = cmd(&["ssubscribe", "a", "b"]);
        assert_eq!(t.lookup(&c).unwrap().shard_channels(&c).as_slice(), &[1, 2]);
        let c = cmd(&["get", "k"]);
        assert!(t.lookup(&c).unwrap().shard_channels(&c).is_empty());
        assert!(t.get(b"get").unwrap().has_keys());
        assert!(t.get(b"eval").unwrap().has_keys());
        assert!(!t.get(b"spublish").unwrap().has_keys());
        assert!(!t.get(b"ping").unwrap().has_keys());
        let c = cmd(&["del", "a", "b", "c", "d"]);
        assert!(!t.lookup(&c).unwrap().keys(&c).unwrap().spilled());
    }

    #[test]
    fn keys_stay_in_bounds_without_an_arity_check() {
        for spec in table().iter_all() {
            let name: Vec<&str> = spec.full_name().split('|').collect();
            for extra in 0..3 {
                let mut args = name.clone();
                args.extend(std::iter::repeat_n("1", extra));
                let c = cmd(&args);
                if let Ok(keys) = spec.keys(&c) {
                    assert!(keys.iter().all(|&i| i < c.argc()), "{args:?}: {keys:?}");
                }
                assert!(spec.shard_channels(&c).iter().all(|&i| i < c.argc()));
            }
        }
    }
}
