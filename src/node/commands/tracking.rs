//! Client-side caching's `CLIENT` subcommands: TRACKING, CACHING, GETREDIR, TRACKINGINFO.
//! The table and the messages live in [`crate::node::tracking`].

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::tracking::TrackingOptions;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("client|tracking", client_tracking),
    ("client|caching", client_caching),
    ("client|getredir", client_getredir),
    ("client|trackinginfo", client_trackinginfo),
];

fn err(text: &str) -> CmdError {
    CmdError::text(format!("ERR {text}"))
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`:
/// the options are read first (a syntax error or a bad redirect before anything else), then
/// checked against each other and the client's current mode in Redis's order.
fn client_tracking(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut options = TrackingOptions::default();
    let mut i = 3;
    while i < cmd.argc() {
        let opt = cmd.arg(i);
        let more = i + 1 < cmd.argc();
        if opt.eq_ignore_ascii_case(b"redirect") && more {
            i += 1;
            if options.redirect != 0 {
                return Err(err("A client can only redirect to a single other client"));
            }
            let id = parse_i64(cmd.arg(i)).ok_or(CmdError::NotInteger)?;
            let exists = u64::try_from(id)
                .ok()
                .filter(|&id| id != 0)
                .is_some_and(|id| id == ctx.client.id || ctx.node.clients.get(id).is_some());
            if !exists {
                return Err(err("The client ID you want redirect to does not exist"));
            }
            options.redirect = id as u64;
        } else if opt.eq_ignore_ascii_case(b"bcast") {
            options.bcast = true;
        } else if opt.eq_ignore_ascii_case(b"optin") {
            options.optin = true;
        } else if opt.eq_ignore_ascii_case(b"optout") {
            options.optout = true;
        } else if opt.eq_ignore_ascii_case(b"noloop") {
            options.noloop = true;
        } else if opt.eq_ignore_ascii_case(b"prefix") && more {
            i += 1;
            options.prefixes.push(cmd.arg(i).to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let id = ctx.client.id;
    let mode = cmd.arg(2);
    if mode.eq_ignore_ascii_case(b"on") {
        if !options.bcast && !options.prefixes.is_empty() {
            return Err(err("PREFIX option requires BCAST mode to be enabled"));
        }
        let current = ctx.ks.tracking.client(id);
        if current.is_some_and(|c| c.bcast != options.bcast) {
            return Err(err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options.bcast && (options.optin || options.optout) {
            return Err(err("OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if options.optin && options.optout {
            return Err(err("You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if current.is_some_and(|c| (options.optin && c.optout) || (options.optout && c.optin)) {
            return Err(err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options.bcast {
            if let Some(conflict) = ctx.ks.tracking.prefix_conflict(id, &options.prefixes) {
                if !conflict.enable_anyway {
                    return Err(CmdError::text(conflict.error));
                }
                // Redis 7.0 answers the error, then goes on as if the check had passed.
                ctx.out.error(conflict.error.as_bytes());
            }
        }
        let handle = ctx.client.handle.clone();
        ctx.ks.tracking.enable(&handle, options);
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.ks.tracking.disable(id);
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.ks.sync_tracking();
    ctx.out.ok();
    Ok(())
}

/// `CLIENT CACHING YES|NO`: in `OPTIN` mode, cache the next command's reads; in `OPTOUT`
/// mode, don't.
fn client_caching(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let Some(c) = ctx.ks.tracking.client_mut(ctx.client.id) else {
        return Err(err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    };
    let opt = cmd.arg(2);
    if opt.eq_ignore_ascii_case(b"yes") {
        if !c.optin {
            return Err(err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if opt.eq_ignore_ascii_case(b"no") {
        if !c.optout {
            return Err(err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    c.caching = true;
    ctx.out.ok();
    Ok(())
}

/// `CLIENT GETREDIR`: the redirect client's id, 0 for none, -1 when not tracking.
fn client_getredir(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let redirect = ctx
        .ks
        .tracking
        .client(ctx.client.id)
        .map_or(-1, |c| c.redirect as i64);
    ctx.out.int(redirect);
    Ok(())
}

/// `CLIENT TRACKINGINFO`: flags (a set), redirect and prefixes, as Redis 7.0 lists them.
fn client_trackinginfo(ctx: &mut Ctx<'_>, _cmd: &Command) -> CmdResult {
    let c = ctx.ks.tracking.client(ctx.client.id);
    let mut flags: Vec<&[u8]> = Vec::new();
    let mut redirect = -1;
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    match c {
        None => flags.push(b"off"),
        Some(c) => {
            flags.push(b"on");
            if c.bcast {
                flags.push(b"bcast");
            }
            if c.optin {
                flags.push(b"optin");
                if c.caching {
                    flags.push(b"caching-yes");
                }
            }
            if c.optout {
                flags.push(b"optout");
                if c.caching {
                    flags.push(b"caching-no");
                }
            }
            if c.noloop {
                flags.push(b"noloop");
            }
            if c.broken_redirect {
                flags.push(b"broken_redirect");
            }
            redirect = c.redirect as i64;
            prefixes = c.prefixes.iter().cloned().collect();
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f);
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(redirect);
    ctx.out.bulk(b"prefixes");
    ctx.out.array(prefixes.len());
    for p in &prefixes {
        ctx.out.bulk(p);
    }
    Ok(())
}
