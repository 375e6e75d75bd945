//! The master's side of Redis's replication protocol: SYNC PSYNC REPLCONF ROLE WAIT.
//!
//! A replica (a real `redis-server` with `replicaof`, or any tool speaking the protocol) sends
//! `REPLCONF listening-port`, `REPLCONF capa …`, then `PSYNC <replid> <offset>`. When the
//! replica's ID is this stream's and the backlog still holds what it is missing, the answer is
//! `+CONTINUE` and those bytes; otherwise `+FULLRESYNC <replid> <offset>`, a snapshot of the
//! data as an RDB payload (`$<len>\r\n<rdb>`), and from then on the replication stream (see
//! [`crate::node::replication`]). The snapshot is taken and the replica attached under one
//! hold of the keyspace lock, so the stream continues exactly where the snapshot stands.
//! A replica's connection gets no replies after that; it acknowledges what it applied with
//! `REPLCONF ACK <offset>` every second, which `WAIT` and `INFO replication` read.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Ctx, Handler};
use crate::node::config::ClientClass;
use crate::node::error::{CmdError, CmdResult};
use crate::node::replication::Replica;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("sync", sync),
    ("psync", psync),
    ("replconf", replconf),
    ("role", role),
    ("wait", wait),
    ("replicaof", replicaof),
    ("slaveof", replicaof),
];

/// `REPLICAOF NO ONE` on a master (the node always is one so far): `+OK`, as Redis answers.
/// Following a master is not built yet, and says so.
fn replicaof(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.arg(1).eq_ignore_ascii_case(b"no") && cmd.arg(2).eq_ignore_ascii_case(b"one") {
        ctx.out.ok();
        return Ok(());
    }
    Err(CmdError::text(
        "ERR REPLICAOF <host> <port> is not supported by slotgate node yet: it can only be a master",
    ))
}

fn sync(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    full_sync(ctx, false)
}

fn psync(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if ctx.client.replica.is_some() {
        // Already a replica: Redis ignores a second one.
        return Ok(());
    }
    let replid = cmd.arg(1);
    // The offset of the first byte it wants: it has everything before it.
    let wanted = parse_i64(cmd.arg(2)).and_then(|o| u64::try_from(o).ok());
    if let Some(offset) = wanted.and_then(|o| o.checked_sub(1)) {
        if replid == ctx.ks.repl.replid.as_bytes() {
            let replica = new_replica(ctx);
            if let Some(missing) = ctx.ks.repl.continue_from(replica, offset) {
                ctx.node
                    .stats
                    .sync_partial_ok
                    .fetch_add(1, Ordering::Relaxed);
                let line = format!("+CONTINUE {}\r\n", ctx.ks.repl.replid);
                ctx.out.raw(line.as_bytes());
                ctx.out.raw(&missing);
                ctx.client.replica = Some(crate::node::client::ReplicaLink::Attaching);
                tracing::info!(
                    peer = %ctx.client.handle.peer,
                    offset,
                    bytes = missing.len(),
                    "replica continues from the backlog (partial resynchronization)"
                );
                return Ok(());
            }
            ctx.node
                .stats
                .sync_partial_err
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    full_sync(ctx, true)
}

/// Attaches the client as a replica with a full snapshot; `psync`: answer `+FULLRESYNC` first
/// (`SYNC`, the old protocol, sends only the payload).
fn full_sync(ctx: &mut Ctx<'_>, psync: bool) -> CmdResult {
    if ctx.client.replica.is_some() {
        return Ok(());
    }
    // The keyspace and the function libraries, as `SAVE` writes them.
    let snapshot = crate::node::rdb::persistence::snapshot(ctx.node, ctx.ks, ctx.now);
    let backlog_size = usize::try_from(ctx.config.int("repl-backlog-size")).unwrap_or(1 << 20);
    let replica = new_replica(ctx);
    let offset = ctx.ks.repl.attach(replica, backlog_size);
    ctx.ks.note_deletions();
    if psync {
        let line = format!("+FULLRESYNC {} {offset}\r\n", ctx.ks.repl.replid);
        ctx.out.raw(line.as_bytes());
    }
    ctx.out.raw(format!("${}\r\n", snapshot.len()).as_bytes());
    ctx.out.raw(&snapshot);
    ctx.client.replica = Some(crate::node::client::ReplicaLink::Attaching);
    ctx.node.stats.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        peer = %ctx.client.handle.peer,
        offset,
        snapshot_bytes = snapshot.len(),
        "replica attached with a full snapshot"
    );
    Ok(())
}

fn new_replica(ctx: &Ctx<'_>) -> Replica {
    let peer = ctx.client.handle.peer;
    Replica {
        handle: ctx.client.handle.clone(),
        listening_port: ctx.client.repl_listening_port.unwrap_or(peer.port()),
        ip: ctx.client.repl_ip.unwrap_or(peer.ip()),
        ack: 0,
        last_ack: Instant::now(),
    }
}

fn replconf(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if cmd.argc().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut i = 1;
    while i + 1 < cmd.argc() {
        let option = cmd.arg(i);
        let value = cmd.arg(i + 1);
        if option.eq_ignore_ascii_case(b"listening-port") {
            let port = parse_i64(value)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(CmdError::NotInteger)?;
            ctx.client.repl_listening_port = Some(port);
        } else if option.eq_ignore_ascii_case(b"ip-address") {
            let ip = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| CmdError::text("ERR Invalid IP address"))?;
            ctx.client.repl_ip = Some(ip);
        } else if option.eq_ignore_ascii_case(b"capa")
            || option.eq_ignore_ascii_case(b"rdb-only")
            || option.eq_ignore_ascii_case(b"rdb-filter-only")
        {
            // `eof` and `psync2` are what a replica may announce; the snapshot goes with its
            // length, which every replica reads, and the stream is always PSYNC2's.
        } else if option.eq_ignore_ascii_case(b"ack") {
            // An acknowledgement gets no reply.
            if let Some(offset) = parse_i64(value).and_then(|o| u64::try_from(o).ok()) {
                let id = ctx.client.id;
                ctx.ks.repl.ack(id, offset);
                ctx.node.replication_acks.send_modify(|n| *n += 1);
            }
            return Ok(());
        } else if option.eq_ignore_ascii_case(b"getack") {
            // Only a master asks for acknowledgements.
            return Ok(());
        } else {
            return Err(CmdError::text(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
        i += 2;
    }
    ctx.out.ok();
    Ok(())
}

/// `ROLE`, for a master: its offset and each replica's address and acknowledged offset.
fn role(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let repl = &ctx.ks.repl;
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(repl.offset as i64);
    ctx.out.array(repl.replicas.len());
    for r in &repl.replicas {
        ctx.out.array(3);
        ctx.out.bulk(r.ip.to_string().as_bytes());
        ctx.out.bulk(r.listening_port.to_string().as_bytes());
        ctx.out.bulk(r.ack.to_string().as_bytes());
    }
    Ok(())
}

/// `WAIT numreplicas timeout`: how many replicas acknowledged everything sent so far, waiting
/// up to `timeout` ms (0: for ever) for `numreplicas` of them. Replicas are asked to
/// acknowledge at once (`REPLCONF GETACK *`) rather than at their next second. Inside a
/// transaction or a script it cannot wait and answers the count at once.
fn wait(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let wanted = parse_i64(cmd.arg(1)).ok_or(CmdError::NotInteger)?;
    let timeout = super::server::parse_ms_timeout(cmd.arg(2))?;
    let offset = ctx.ks.repl.offset;
    let acked = ctx.ks.repl.acked(offset);
    let wanted = usize::try_from(wanted).unwrap_or(0);
    if acked >= wanted || ctx.client.in_exec || ctx.client.replica.is_some() {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    let (hard, _, _) = ctx.config.output_buffer_limit(ClientClass::Replica);
    ctx.ks.repl.request_acks(hard);
    let timeout = (timeout > 0).then(|| Duration::from_millis(timeout as u64));
    ctx.client.wait_acks = Some((offset, wanted, timeout));
    Ok(())
}
