//! Deciding where a command goes, from the command table's knowledge of it.

use super::error::ProxyError;
use super::gather::Merge;
use crate::command::{CommandError, CommandSpec, Flags, RequestPolicy, ResponsePolicy};
use crate::resp::Command;
use crate::slot::Slot;

/// Where a command that the proxy does not answer itself is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the master of this slot: all the command's keys hash here.
    Slot(Slot),
    /// No key, and any one master answers as the whole cluster would (`PUBLISH`, `TIME`,
    /// keyless `EVAL`, …).
    Any,
    /// One sub-command per slot, merged (`MGET`, `MSET`, `DEL`, …).
    Split(Split),
    /// The same command to every master (or every node), merged.
    FanOut { merge: Merge, all_nodes: bool },
    /// `SCAN`: one master at a time, the proxy's cursor saying which.
    Scan,
}

/// How a multi-key command is cut into per-slot parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The argument index of every key of each part, parts in order of their first key.
    pub parts: Vec<(Slot, Vec<usize>)>,
    /// Arguments per key: 1, or 2 for `MSET`'s key-value pairs.
    pub step: usize,
    /// Where the first key is, to number the keys for `MGET`'s reply order.
    pub first_key: usize,
    pub merge: SplitMerge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMerge {
    /// Values in the client's key order.
    Mget,
    /// Every part must say OK.
    AllOk,
    /// Integers summed.
    Sum,
}

impl Split {
    /// How to merge the parts' replies.
    pub fn merge(&self) -> Merge {
        match self.merge {
            SplitMerge::Mget => Merge::Mget {
                positions: self
                    .parts
                    .iter()
                    .map(|(_, keys)| {
                        keys.iter()
                            .map(|k| (k - self.first_key) / self.step)
                            .collect()
                    })
                    .collect(),
                keys: self.parts.iter().map(|(_, k)| k.len()).sum(),
            },
            SplitMerge::AllOk => Merge::AllOk,
            SplitMerge::Sum => Merge::Sum,
        }
    }

    /// Part `i` as a command: the client's command name, then that part's keys (with their
    /// values for `MSET`).
    pub fn part_command(&self, cmd: &Command, i: usize) -> Command {
        let (_, keys) = &self.parts[i];
        let args = std::iter::once(cmd.name()).chain(
            keys.iter()
                .flat_map(|&k| (k..k + self.step).map(|a| cmd.arg(a))),
        );
        Command::from_args(args)
    }
}

/// Routes `cmd`, or says why the proxy cannot run it.
pub fn route(spec: &CommandSpec, cmd: &Command) -> Result<Route, ProxyError> {
    if let Some(reason) = unsupported(spec, cmd) {
        return Err(ProxyError::unsupported(spec.full_name(), reason));
    }
    let mut keys = spec.keys(cmd)?;
    if keys.is_empty() {
        // SPUBLISH's shard channel is routed like a key.
        keys = spec.shard_channels(cmd);
    }
    let mut slot = None;
    let mut cross_slot = false;
    for &i in keys.iter() {
        let s = Slot::of_key(cmd.arg(i));
        match slot {
            None => slot = Some(s),
            Some(first) if first != s => cross_slot = true,
            Some(_) => {}
        }
    }
    if cross_slot {
        return split(spec, &keys, cmd).map(Route::Split);
    }
    if let Some(slot) = slot {
        return Ok(Route::Slot(slot));
    }
    if spec.request_policy() == Some(RequestPolicy::Special) {
        return match spec.full_name() {
            "scan" => Ok(Route::Scan),
            _ => Err(ProxyError::unsupported(
                spec.full_name(),
                "its answer cannot be assembled from the masters' answers",
            )),
        };
    }
    if spec.needs_all_shards() {
        return fan_out(spec);
    }
    // Subscribers may be on any master (a cluster's PUBLISH reaches every node): pub/sub
    // introspection asks them all.
    let merge = match spec.full_name() {
        "pubsub|channels" | "pubsub|shardchannels" => Some(Merge::Union),
        "pubsub|numsub" | "pubsub|shardnumsub" => Some(Merge::SumPairs),
        "pubsub|numpat" => Some(Merge::Sum),
        "lastsave" => Some(Merge::Min),
        _ => None,
    };
    if let Some(merge) = merge {
        return Ok(Route::FanOut {
            merge,
            all_nodes: false,
        });
    }
    Ok(Route::Any)
}

/// Cuts a cross-slot multi-key command into one part per slot, if its meaning allows it.
fn split(spec: &CommandSpec, keys: &[usize], cmd: &Command) -> Result<Split, ProxyError> {
    let (merge, step) = match spec.full_name() {
        "mget" => (SplitMerge::Mget, 1),
        "mset" => (SplitMerge::AllOk, 2),
        "del" | "unlink" | "exists" | "touch" => (SplitMerge::Sum, 1),
        // Everything else (MSETNX, RENAME, SMOVE, SINTERSTORE, EVAL, …) must act on all its
        // keys at once, which only one node can do.
        _ => return Err(ProxyError::CrossSlot),
    };
    // MSET's arity is "at least 3" in the table; Redis itself checks that values pair up.
    if keys.iter().any(|&k| k + step > cmd.argc()) {
        return Err(ProxyError::Command(CommandError::WrongArity {
            command: spec.full_name(),
        }));
    }
    let mut parts: Vec<(Slot, Vec<usize>)> = Vec::new();
    for &k in keys {
        let slot = Slot::of_key(cmd.arg(k));
        match parts.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, ks)) => ks.push(k),
            None => parts.push((slot, vec![k])),
        }
    }
    Ok(Split {
        parts,
        step,
        first_key: keys.first().copied().unwrap_or(1),
        merge,
    })
}

/// A keyless command every master (or every node) must run.
fn fan_out(spec: &CommandSpec) -> Result<Route, ProxyError> {
    let all_nodes = spec.request_policy() == Some(RequestPolicy::AllNodes);
    let merge = match (spec.response_policy(), spec.full_name()) {
        (Some(ResponsePolicy::AggSum), _) => Merge::Sum,
        (Some(ResponsePolicy::AggMin), _) => Merge::Min,
        (Some(ResponsePolicy::AggLogicalAnd), _) => Merge::And,
        (Some(ResponsePolicy::AllSucceeded), _) => Merge::AllOk,
        (Some(ResponsePolicy::OneSucceeded), _) => Merge::OneOk,
        (None, "keys") => Merge::Concat,
        (None, "randomkey") => Merge::FirstNonNil,
        _ => {
            return Err(ProxyError::unsupported(
                spec.full_name(),
                "its answer cannot be assembled from the masters' answers",
            ))
        }
    };
    Ok(Route::FanOut { merge, all_nodes })
}

/// Whether the command may block its connection (so it needs one of its own): the commands
/// flagged blocking, except `XREAD`/`XREADGROUP` without `BLOCK`.
pub fn is_blocking(spec: &CommandSpec, cmd: &Command) -> bool {
    if !spec.flags().contains(Flags::BLOCKING) {
        return false;
    }
    match spec.full_name() {
        // Only blocking with BLOCK; the STREAMS arguments are not options.
        "xread" | "xreadgroup" => cmd
            .args()
            .skip(1)
            .take_while(|a| !a.eq_ignore_ascii_case(b"STREAMS"))
            .any(|a| a.eq_ignore_ascii_case(b"BLOCK")),
        _ => true,
    }
}

/// Why the proxy cannot run a command, if it cannot.
fn unsupported(spec: &CommandSpec, _cmd: &Command) -> Option<&'static str> {
    let name = spec.full_name();
    let flags = spec.flags();
    match name {
        "move" | "swapdb" => return Some("a Redis Cluster has only database 0"),
        _ => {}
    }
    if name.starts_with("client|") {
        return Some("this CLIENT subcommand is not built yet");
    }
    if flags.contains(Flags::ADMIN) {
        return Some("administrative commands must be sent to the cluster's nodes");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::table;

    fn route_of(args: &[&str]) -> Result<Route, ProxyError> {
        let cmd = Command::from_args(args);
        let spec = table().lookup(&cmd).unwrap();
        route(spec, &cmd)
    }

    /// Three keys in three different slots.
    const A: &str = "a";
    const B: &str = "b";
    const C: &str = "c";

    #[test]
    fn single_slot_commands_go_whole() {
        assert_eq!(
            route_of(&["MGET", "{t}1", "{t}2"]).unwrap(),
            Route::Slot(Slot::of_key(b"t"))
        );
        assert_eq!(
            route_of(&["GET", A]).unwrap(),
            Route::Slot(Slot::of_key(A.as_bytes()))
        );
    }

    #[test]
    fn mset_splits_into_per_slot_pairs() {
        let cmd = Command::from_args(["MSET", A, "1", B, "2", "{a}x", "3"]);
        let Ok(Route::Split(split)) = route(table().get(b"mset").unwrap(), &cmd) else {
            panic!("MSET across slots is split")
        };
        assert_eq!(split.parts.len(), 2, "a and {{a}}x share a slot");
        let first = split.part_command(&cmd, 0);
        assert_eq!(
            first.args().collect::<Vec<_>>(),
            vec![&b"MSET"[..], b"a", b"1", b"{a}x", b"3"]
        );
    }

    #[test]
    fn cross_slot_mset_without_a_value_is_an_arity_error() {
        let cmd = Command::from_args(["MSET", A, "1", B]);
        let err = route(table().get(b"mset").unwrap(), &cmd).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ERR wrong number of arguments for 'mset' command"
        );
    }

    #[test]
    fn mget_remembers_key_positions() {
        let cmd = Command::from_args(["MGET", A, B, C, A]);
        let Ok(Route::Split(split)) = route(table().get(b"mget").unwrap(), &cmd) else {
            panic!("MGET across slots is split")
        };
        let Merge::Mget { positions, keys } = split.merge() else {
            panic!("MGET merges in key order")
        };
        assert_eq!(keys, 4);
        assert_eq!(positions[0], vec![0, 3]);
    }

    #[test]
    fn atomic_multi_key_commands_stay_crossslot() {
        for args in [
            &["MSETNX", A, "1", B, "2"][..],
            &["RENAME", A, B],
            &["SMOVE", A, B, "m"],
            &["SINTERSTORE", A, B, C],
            &["EVAL", "return 1", "2", A, B],
        ] {
            assert!(
                matches!(route_of(args), Err(ProxyError::CrossSlot)),
                "{args:?}"
            );
        }
    }

    #[test]
    fn fan_out_commands_pick_their_merge() {
        assert_eq!(
            route_of(&["DBSIZE"]).unwrap(),
            Route::FanOut {
                merge: Merge::Sum,
                all_nodes: false
            }
        );
        assert_eq!(
            route_of(&["SCRIPT", "LOAD", "return 1"]).unwrap(),
            Route::FanOut {
                merge: Merge::AllOk,
                all_nodes: true
            }
        );
        assert_eq!(route_of(&["SCAN", "0"]).unwrap(), Route::Scan);
        assert_eq!(
            route_of(&["WAIT", "1", "0"]).unwrap(),
            Route::FanOut {
                merge: Merge::Min,
                all_nodes: false
            }
        );
    }
}
