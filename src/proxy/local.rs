//! Commands the proxy answers itself: connection state, introspection, and the ones that
//! are about the server a client believes it talks to.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};

use super::auth::{self, DEFAULT_USER, WRONGPASS};
use super::config::ProxyConfig;
use super::info;
use super::ProxyContext;
use crate::command::{table, CommandError, CommandSpec};
use crate::resp::{
    parse_i64, write_array_header, write_bulk, write_error, write_integer, write_not_subscribed,
    Command, Frame,
};

/// The version of Redis whose behaviour the proxy presents.
pub const REDIS_VERSION: &str = "7.0.15";

/// What one client has told the proxy about itself.
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub peer_addr: SocketAddr,
    pub name: Option<Bytes>,
    pub protocol: u8,
    /// What the client said about replica reads: `Some(true)` after READONLY (its reads may
    /// go to replicas), `Some(false)` after READWRITE (to the master), `None` for the
    /// configured `read-from`.
    pub readonly: Option<bool>,
    /// The user the client authenticated as; `None` until it has. When no password is
    /// configured, `auth::gate` makes every client `default` at its first command.
    pub user: Option<String>,
}

impl ClientState {
    pub fn new(id: u64, peer_addr: SocketAddr) -> ClientState {
        ClientState {
            id,
            peer_addr,
            name: None,
            protocol: 2,
            readonly: None,
            user: None,
        }
    }
}

/// The proxy's answer to a command it handles.
pub enum Local {
    Reply(Bytes),
    ReplyAndClose(Bytes),
    /// `INFO` whose keyspace section the masters must complete: the proxy's own sections.
    InfoWithKeyspace(String),
}

/// Answers `cmd` if it is one of the proxy's own commands.
pub fn handle(
    spec: &CommandSpec,
    cmd: &Command,
    client: &mut ClientState,
    ctx: &ProxyContext,
) -> Option<Local> {
    let mut out = BytesMut::new();
    match spec.full_name() {
        "ping" => match cmd.argc() {
            1 => out.extend_from_slice(b"+PONG\r\n"),
            2 => write_bulk(&mut out, cmd.arg(1)),
            _ => error(&mut out, &arity_error("ping")),
        },
        "echo" => write_bulk(&mut out, cmd.arg(1)),
        "quit" => return Some(Local::ReplyAndClose(Bytes::from_static(b"+OK\r\n"))),
        "select" => match parse_i64(cmd.arg(1)) {
            Some(0) => ok(&mut out),
            Some(_) => error(&mut out, "ERR SELECT is not allowed in cluster mode"),
            None => error(&mut out, "ERR value is not an integer or out of range"),
        },
        "slowlog|get" => {
            let count = match cmd.get(2).map(parse_i64) {
                None => Some(10),
                Some(Some(-1)) => None,
                Some(Some(n)) if n >= 0 => Some(n as usize),
                Some(_) => {
                    error(&mut out, "ERR count should be greater than or equal to -1");
                    return Some(Local::Reply(out.freeze()));
                }
            };
            let entries = ctx.stats.slowlog.get(count);
            write_array_header(&mut out, entries.len());
            for e in entries {
                write_array_header(&mut out, 6);
                write_integer(&mut out, e.id as i64);
                write_integer(&mut out, e.unix_time as i64);
                write_integer(&mut out, e.micros as i64);
                write_array_header(&mut out, e.args.len());
                for a in &e.args {
                    write_bulk(&mut out, a);
                }
                write_bulk(&mut out, e.peer.to_string().as_bytes());
                write_bulk(&mut out, &e.client_name);
            }
        }
        "slowlog|len" => write_integer(&mut out, ctx.stats.slowlog.len() as i64),
        "slowlog|reset" => {
            ctx.stats.slowlog.reset();
            ok(&mut out)
        }
        "hello" => hello(cmd, client, &ctx.config, &mut out),
        "auth" => auth(cmd, client, &ctx.config, &mut out),
        "acl|whoami" => write_bulk(
            &mut out,
            client.user.as_deref().unwrap_or(DEFAULT_USER).as_bytes(),
        ),
        // Not subscribed (subscribed clients are served elsewhere): Redis confirms each name
        // with a count of 0, or once with a nil name. Answered here because the several
        // frames must never reach a shared backend connection.
        "unsubscribe" | "punsubscribe" => write_not_subscribed(
            &mut out,
            spec.full_name().as_bytes(),
            cmd.args().skip(1),
            // RESP3 clients get the confirmations as push frames.
            client.protocol == 3,
        ),
        "readonly" => {
            client.readonly = Some(true);
            ok(&mut out)
        }
        "readwrite" => {
            client.readonly = Some(false);
            ok(&mut out)
        }
        "reset" => {
            *client = ClientState::new(client.id, client.peer_addr);
            out.extend_from_slice(b"+RESET\r\n");
        }
        "client|setname" => match valid_client_name(cmd.arg(2)) {
            true => {
                client.name = (!cmd.arg(2).is_empty()).then(|| cmd.arg_bytes(2));
                ok(&mut out)
            }
            false => error(
                &mut out,
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
        },
        "client|getname" => match &client.name {
            Some(n) => write_bulk(&mut out, n),
            None => write_null(&mut out, client.protocol),
        },
        "client|id" => write_integer(&mut out, client.id as i64),
        "client|list" => {
            let now = ctx.stats.now_ms();
            match client_list_filter(cmd) {
                Ok(None) => write_text(
                    &mut out,
                    &ctx.clients.list(now, client.id, "client|list"),
                    client.protocol,
                ),
                Ok(Some(ids)) => {
                    let text: String = ids
                        .iter()
                        .filter_map(|&id| ctx.clients.get(id))
                        .map(|c| c.line(now, (c.id == client.id).then_some("client|list")))
                        .collect();
                    write_text(&mut out, &text, client.protocol)
                }
                Err(e) => error(&mut out, e),
            }
        }
        "client|info" => match ctx.clients.get(client.id) {
            Some(me) => write_text(
                &mut out,
                &me.line(ctx.stats.now_ms(), Some("client|info")),
                client.protocol,
            ),
            None => write_null(&mut out, client.protocol),
        },
        "client|kill" => client_kill(cmd, client.id, ctx, &mut out),
        "command" => write_all_commands(&mut out),
        "command|count" => write_integer(&mut out, table().len() as i64),
        "command|info" => {
            if cmd.argc() == 2 {
                write_all_commands(&mut out);
                return Some(Local::Reply(out.freeze()));
            }
            write_array_header(&mut out, cmd.argc() - 2);
            for name in cmd.args().skip(2) {
                match table().get(name) {
                    Some(spec) => out.extend_from_slice(spec.info_bytes()),
                    None => write_null(&mut out, client.protocol),
                }
            }
        }
        "command|list" => {
            write_array_header(&mut out, table().len());
            for spec in table().iter() {
                write_bulk(&mut out, spec.name().as_bytes());
            }
        }
        // The proxy keeps no command documentation; an empty answer tells clients (such as
        // redis-cli's hints) that there is none, as a server without docs would.
        "command|docs" => out.extend_from_slice(b"*0\r\n"),
        "command|getkeys" => command_getkeys(cmd, &mut out),
        "info" => {
            let text = info::render(ctx, cmd.get(1));
            if info::wants_keyspace(cmd.get(1)) {
                return Some(Local::InfoWithKeyspace(text));
            }
            if client.protocol == 3 {
                // RESP3 clients get INFO as a verbatim text string, as Redis sends it.
                Frame::Verbatim {
                    format: *b"txt",
                    text: Bytes::from(text),
                }
                .encode(&mut out);
            } else {
                write_bulk(&mut out, text.as_bytes());
            }
        }
        _ => return None,
    }
    Some(Local::Reply(out.freeze()))
}

fn write_all_commands(out: &mut BytesMut) {
    write_array_header(out, table().len());
    for spec in table().iter() {
        out.extend_from_slice(spec.info_bytes());
    }
}

/// Text as Redis sends it: a bulk string, or a verbatim string to RESP3 clients.
fn write_text(out: &mut BytesMut, text: &str, protocol: u8) {
    if protocol == 3 {
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::copy_from_slice(text.as_bytes()),
        }
        .encode(out);
    } else {
        write_bulk(out, text.as_bytes());
    }
}

/// `CLIENT LIST [TYPE type] [ID id…]`: the ids asked for, if any.
fn client_list_filter(cmd: &Command) -> Result<Option<Vec<u64>>, &'static str> {
    match cmd.get(2) {
        None => Ok(None),
        Some(opt) if opt.eq_ignore_ascii_case(b"ID") && cmd.argc() > 3 => cmd
            .args()
            .skip(3)
            .map(|a| {
                parse_i64(a)
                    .filter(|&n| n > 0)
                    .map(|n| n as u64)
                    .ok_or("ERR Invalid client ID")
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(opt) if opt.eq_ignore_ascii_case(b"TYPE") && cmd.argc() == 4 => {
            let t = String::from_utf8_lossy(cmd.arg(3)).to_lowercase();
            match t.as_str() {
                // Every client of the proxy is a normal client.
                "normal" => Ok(None),
                "master" | "replica" | "slave" | "pubsub" => Ok(Some(Vec::new())),
                _ => Err("ERR Unknown client type"),
            }
        }
        _ => Err("ERR syntax error"),
    }
}

/// `CLIENT KILL addr` or `CLIENT KILL <filter value>…`, for the proxy's own clients.
fn client_kill(cmd: &Command, me: u64, ctx: &ProxyContext, out: &mut BytesMut) {
    if cmd.argc() == 3 {
        let addr = String::from_utf8_lossy(cmd.arg(2)).into_owned();
        return match ctx.clients.kill(None, |c| c.peer_addr.to_string() == addr) {
            0 => error(out, "ERR No such client"),
            _ => ok(out),
        };
    }
    if !cmd.argc().is_multiple_of(2) {
        return error(out, "ERR syntax error");
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut user = None;
    let mut skip_me = true;
    let mut nobody = false;
    for pair in (2..cmd.argc()).step_by(2) {
        let (opt, value) = (cmd.arg(pair), cmd.arg(pair + 1));
        let value_text = String::from_utf8_lossy(value).into_owned();
        match opt.to_ascii_lowercase().as_slice() {
            b"id" => match parse_i64(value).filter(|&n| n > 0) {
                Some(n) => id = Some(n as u64),
                None => return error(out, "ERR client-id should be greater than 0"),
            },
            b"addr" => addr = Some(value_text),
            b"laddr" => laddr = Some(value_text),
            b"skipme" => match value_text.to_ascii_lowercase().as_str() {
                "yes" => skip_me = true,
                "no" => skip_me = false,
                _ => return error(out, "ERR syntax error"),
            },
            b"type" => match value_text.to_ascii_lowercase().as_str() {
                "normal" => {}
                "master" | "replica" | "slave" | "pubsub" => nobody = true,
                _ => return error(out, &format!("ERR Unknown client type '{value_text}'")),
            },
            b"user" => {
                if value_text != DEFAULT_USER && !ctx.config.users.contains_key(&value_text) {
                    return error(out, &format!("ERR No such user '{value_text}'"));
                }
                user = Some(value_text);
            }
            _ => return error(out, "ERR syntax error"),
        }
    }
    let killed = if nobody {
        0
    } else {
        ctx.clients.kill(skip_me.then_some(me), |c| {
            id.is_none_or(|id| c.id == id)
                && addr.as_ref().is_none_or(|a| c.peer_addr.to_string() == *a)
                && laddr
                    .as_ref()
                    .is_none_or(|a| c.local_addr.map(|l| l.to_string()).as_ref() == Some(a))
                && user.as_ref().is_none_or(|u| c.user() == *u)
        })
    };
    write_integer(out, killed as i64);
}

/// Null: `$-1` for RESP2 clients, `_` for RESP3 ones.
fn write_null(out: &mut BytesMut, protocol: u8) {
    out.extend_from_slice(if protocol == 3 { b"_\r\n" } else { b"$-1\r\n" });
}

fn ok(out: &mut BytesMut) {
    out.extend_from_slice(b"+OK\r\n");
}

fn error(out: &mut BytesMut, text: &str) {
    write_error(out, text.as_bytes());
}

fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// Redis accepts names of printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`. As in Redis, options take effect in
/// order (a good AUTH holds even when a later option is refused), and nothing else changes
/// for a client that has not authenticated.
pub(super) fn hello(
    cmd: &Command,
    client: &mut ClientState,
    config: &ProxyConfig,
    out: &mut BytesMut,
) {
    let mut protocol = client.protocol;
    if let Some(v) = cmd.get(1) {
        match parse_i64(v) {
            Some(2) => protocol = 2,
            Some(3) => protocol = 3,
            Some(_) => return error(out, "NOPROTO unsupported protocol version"),
            None => {
                return error(
                    out,
                    "ERR Protocol version is not an integer or out of range",
                )
            }
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < cmd.argc() {
        let opt = cmd.arg(i);
        let more = cmd.argc() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            match auth::check(config, cmd.arg(i + 1), cmd.arg(i + 2)) {
                Some(user) => client.user = Some(user.to_owned()),
                None => {
                    tracing::debug!("client authentication failed");
                    return error(out, WRONGPASS);
                }
            }
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            if !valid_client_name(cmd.arg(i + 1)) {
                return error(
                    out,
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            name = Some(cmd.arg_bytes(i + 1));
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(opt);
            return error(out, &format!("ERR Syntax error in HELLO option '{opt}'"));
        }
    }
    if !auth::is_authenticated(client, config) {
        return error(
            out,
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    client.protocol = protocol;
    if let Some(n) = name {
        client.name = (!n.is_empty()).then_some(n);
    }
    if protocol == 3 {
        out.extend_from_slice(b"%7\r\n");
    } else {
        write_array_header(out, 14);
    }
    for (k, v) in [("server", "redis"), ("version", REDIS_VERSION)] {
        write_bulk(out, k.as_bytes());
        write_bulk(out, v.as_bytes());
    }
    write_bulk(out, b"proto");
    write_integer(out, i64::from(protocol));
    write_bulk(out, b"id");
    write_integer(out, client.id as i64);
    for (k, v) in [("mode", "standalone"), ("role", "master")] {
        write_bulk(out, k.as_bytes());
        write_bulk(out, v.as_bytes());
    }
    write_bulk(out, b"modules");
    write_array_header(out, 0);
}

/// `AUTH [user] password`: the one-argument form is the `default` user's. With no password
/// configured, Redis accepts `AUTH default <anything>` and refuses the one-argument form with
/// its own text. A failed AUTH leaves the client as it was.
pub(super) fn auth(
    cmd: &Command,
    client: &mut ClientState,
    config: &ProxyConfig,
    out: &mut BytesMut,
) {
    let (user, password) = match cmd.argc() {
        2 if !auth::required(config) => {
            return error(
                out,
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            );
        }
        2 => (DEFAULT_USER.as_bytes(), cmd.arg(1)),
        3 => (cmd.arg(1), cmd.arg(2)),
        _ => return error(out, "ERR syntax error"),
    };
    match auth::check(config, user, password) {
        Some(user) => {
            client.user = Some(user.to_owned());
            ok(out)
        }
        None => {
            tracing::debug!("client authentication failed");
            error(out, WRONGPASS)
        }
    }
}

/// `COMMAND GETKEYS cmd arg…`, from the command table.
fn command_getkeys(cmd: &Command, out: &mut BytesMut) {
    let inner = Command::from_args(cmd.args().skip(2));
    let spec = match table().lookup(&inner) {
        Ok(spec) => spec,
        Err(CommandError::WrongArity { .. }) => {
            return error(out, "ERR Invalid number of arguments specified for command")
        }
        Err(_) => return error(out, "ERR Invalid command specified"),
    };
    match spec.keys(&inner) {
        Ok(keys) if keys.is_empty() => error(out, "ERR The command has no key arguments"),
        Ok(keys) => {
            write_array_header(out, keys.len());
            for &k in keys.iter() {
                write_bulk(out, inner.arg(k));
            }
        }
        Err(e) => error(out, &e.to_string()),
    }
}
