//! Deciding where a command goes, from the command table's knowledge of it.

use super::error::ProxyError;
use crate::command::{CommandSpec, Flags, RequestPolicy};
use crate::resp::Command;
use crate::slot::Slot;

/// Where a command that the proxy does not answer itself is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the master of this slot: all the command's keys hash here (or it has no key and
    /// any master can answer it).
    Slot(Slot),
}

/// Keyless commands that any one master answers as the whole cluster would go to the master
/// of this slot: a stable choice, so a client's keyless commands stay in order.
const KEYLESS_SLOT: u16 = 0;

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
    for &i in keys.iter() {
        let s = Slot::of_key(cmd.arg(i));
        match slot {
            None => slot = Some(s),
            Some(first) if first != s => return Err(ProxyError::CrossSlot),
            Some(_) => {}
        }
    }
    if let Some(slot) = slot {
        return Ok(Route::Slot(slot));
    }
    if spec.needs_all_shards() || spec.request_policy() == Some(RequestPolicy::Special) {
        return Err(ProxyError::unsupported(
            spec.full_name(),
            "it needs the answer of every master, and fan-out is not built yet",
        ));
    }
    Ok(Route::Slot(Slot::new(KEYLESS_SLOT).expect("slot 0 exists")))
}

/// Why a command cannot go through the shared backend connections, if it cannot.
fn unsupported(spec: &CommandSpec, cmd: &Command) -> Option<&'static str> {
    let name = spec.full_name();
    let flags = spec.flags();
    match name {
        "multi" | "exec" | "discard" | "watch" | "unwatch" => {
            return Some("transactions are not built yet")
        }
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
        | "sunsubscribe" => return Some("pub/sub subscriptions are not built yet"),
        "move" | "swapdb" => return Some("a Redis Cluster has only database 0"),
        "xread" | "xreadgroup" => {
            // Only blocking with BLOCK; the STREAMS arguments are not options.
            let blocking = cmd
                .args()
                .skip(1)
                .take_while(|a| !a.eq_ignore_ascii_case(b"STREAMS"))
                .any(|a| a.eq_ignore_ascii_case(b"BLOCK"));
            return blocking.then_some("blocking commands are not built yet");
        }
        _ => {}
    }
    if name.starts_with("client|") {
        return Some("this CLIENT subcommand is not built yet");
    }
    if name.starts_with("pubsub|") {
        return Some("it needs the answer of every node, and fan-out is not built yet");
    }
    if flags.contains(Flags::BLOCKING) {
        return Some("blocking commands are not built yet");
    }
    if flags.contains(Flags::ADMIN) {
        return Some("administrative commands must be sent to the cluster's nodes");
    }
    None
}
