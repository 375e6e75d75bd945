//! Client authentication, answered by the proxy itself as one Redis 7.0 server answers it.
//!
//! With `requirepass` or `users` configured, a new client is unauthenticated, as a Redis
//! client is when the default user needs a password: every command but AUTH, HELLO, QUIT and
//! RESET gets `-NOAUTH`, and the client's parser holds it to Redis's bounds for such clients
//! (10 arguments of at most 16 KiB). `AUTH [user] password` and `HELLO … AUTH user password`
//! authenticate it; RESET makes it unauthenticated again. Credentials never reach a node, a
//! log or a reply, and passwords are compared in constant time.
//!
//! The `default` user's password is `requirepass` (or `users.default`); with only `users`
//! configured, `default` cannot authenticate, like Redis's disabled default user. With neither,
//! every client is `default` from the start and AUTH keeps Redis's answers for a server with
//! no password.

use bytes::{Bytes, BytesMut};

use super::clients::ClientEntry;
use super::config::ProxyConfig;
use super::local::{self, ClientState};
use crate::command::{CommandSpec, Flags};
use crate::resp::{Command, RequestParser};

/// The user every client is until it authenticates as another.
pub const DEFAULT_USER: &str = "default";

/// Redis's reply to a command from a client that must authenticate first.
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";

/// Redis's reply to credentials that match no enabled user.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Whether clients must authenticate before their commands run.
pub fn required(config: &ProxyConfig) -> bool {
    !config.requirepass.is_empty() || !config.users.is_empty()
}

/// Whether `client` may run commands: it authenticated, or nobody needs to.
pub fn is_authenticated(client: &ClientState, config: &ProxyConfig) -> bool {
    client.user.is_some() || !required(config)
}

/// A new client's command parser: held to the bounds for unauthenticated clients when clients
/// must authenticate.
pub fn parser(config: &ProxyConfig) -> RequestParser {
    let mut parser = RequestParser::new(config.limits());
    parser.set_unauthenticated(required(config));
    parser
}

/// The user whose name and password these are, if they match an enabled user. Without
/// passwords configured only `default` exists, and it takes any password (Redis's `nopass`).
pub fn check<'c>(config: &'c ProxyConfig, user: &[u8], password: &[u8]) -> Option<&'c str> {
    if !required(config) {
        return (user == DEFAULT_USER.as_bytes()).then_some(DEFAULT_USER);
    }
    let name = std::str::from_utf8(user).ok();
    let expected = match name {
        Some(DEFAULT_USER) if !config.requirepass.is_empty() => {
            Some((DEFAULT_USER, config.requirepass.expose()))
        }
        Some(name) => config
            .users
            .get_key_value(name)
            .map(|(name, secret)| (name.as_str(), secret.expose())),
        None => None,
    };
    // An unknown user costs the same comparison as a known one.
    let (name, secret) = expected.unwrap_or(("", ""));
    same_secret(password, secret).then_some(name)
}

/// Whether `given` is the password `expected`, in time that does not depend on where they
/// differ: both are hashed to fixed-size digests, and every byte of those is compared. An
/// empty `expected` matches nothing: a user without a password cannot authenticate.
fn same_secret(given: &[u8], expected: &str) -> bool {
    let given = sha1_smol::Sha1::from(given).digest().bytes();
    let expected_digest = sha1_smol::Sha1::from(expected.as_bytes()).digest().bytes();
    let difference = given
        .iter()
        .zip(&expected_digest)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0 && !expected.is_empty()
}

/// Runs before each command of a client in normal mode. Refuses the command while the client
/// must still authenticate, answers AUTH and HELLO (which may authenticate it), and keeps the
/// client's parser bounds and `CLIENT LIST` line in step with who it is. `None`: the command
/// goes on as usual.
pub fn gate(
    spec: &CommandSpec,
    cmd: &Command,
    client: &mut ClientState,
    parser: &mut RequestParser,
    entry: &ClientEntry,
    config: &ProxyConfig,
) -> Option<Bytes> {
    if !spec.flags().contains(Flags::NO_AUTH) {
        if client.user.is_some() {
            return None;
        }
        if !required(config) {
            client.user = Some(DEFAULT_USER.to_owned());
            return None;
        }
        // Normally so already (from the start, or since RESET); cheap to make sure.
        parser.set_unauthenticated(true);
        return Some(Bytes::from_static(NOAUTH));
    }
    match spec.full_name() {
        "auth" | "hello" => {
            let mut out = BytesMut::new();
            if spec.full_name() == "auth" {
                local::auth(cmd, client, config, &mut out);
            } else {
                local::hello(cmd, client, config, &mut out);
            }
            parser.set_unauthenticated(!is_authenticated(client, config));
            entry.set_user(client.user.as_deref());
            entry.set_name(client.name.clone());
            entry.set_protocol(client.protocol);
            Some(out.freeze())
        }
        "reset" => {
            after_reset(parser, entry, config);
            None
        }
        // QUIT.
        _ => None,
    }
}

/// After RESET (the client's state is a new client's): unauthenticated again when clients
/// must authenticate.
pub fn after_reset(parser: &mut RequestParser, entry: &ClientEntry, config: &ProxyConfig) {
    parser.set_unauthenticated(required(config));
    entry.set_user(None);
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use bytes::BytesMut;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::command::table;
    use crate::proxy::clients::ClientRegistry;
    use crate::proxy::config::Secret;

    fn config(requirepass: &str, users: &[(&str, &str)]) -> ProxyConfig {
        ProxyConfig {
            requirepass: Secret(requirepass.into()),
            users: users
                .iter()
                .map(|&(u, p)| (u.to_string(), Secret(p.into())))
                .collect(),
            ..ProxyConfig::default()
        }
    }

    #[test]
    fn passwords_are_checked_per_user() {
        let c = config("pw", &[("alice", "wonder"), ("bob", "")]);
        assert_eq!(check(&c, b"default", b"pw"), Some("default"));
        assert_eq!(check(&c, b"default", b"pW"), None);
        assert_eq!(check(&c, b"alice", b"wonder"), Some("alice"));
        assert_eq!(check(&c, b"alice", b"pw"), None);
        assert_eq!(
            check(&c, b"ALICE", b"wonder"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(check(&c, b"carol", b""), None);
        assert_eq!(check(&c, b"bob", b""), None, "no password, no login");
        assert_eq!(check(&c, b"\xff", b"pw"), None);

        // Only named users: `default` is disabled.
        let c = config("", &[("alice", "wonder")]);
        assert_eq!(check(&c, b"default", b""), None);
        assert_eq!(check(&c, b"default", b"wonder"), None);
        assert_eq!(check(&c, b"alice", b"wonder"), Some("alice"));
        let c = config("", &[("default", "d")]);
        assert_eq!(check(&c, b"default", b"d"), Some("default"));

        // Nothing configured: `default` takes any password, nobody else exists.
        let c = config("", &[]);
        assert!(!required(&c));
        assert_eq!(check(&c, b"default", b"anything"), Some("default"));
        assert_eq!(check(&c, b"alice", b"wonder"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"hunter2", "hunter2"));
        assert!(!same_secret(b"hunter", "hunter2"));
        assert!(!same_secret(b"hunter22", "hunter2"));
        assert!(!same_secret(b"Hunter2", "hunter2"));
        assert!(!same_secret(b"", ""));
    }

    struct Client {
        state: ClientState,
        parser: RequestParser,
        registration: crate::proxy::clients::Registration,
        config: ProxyConfig,
    }

    impl Client {
        fn new(config: ProxyConfig) -> Client {
            let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
            let registry = Arc::new(ClientRegistry::default());
            Client {
                state: ClientState::new(1, addr),
                parser: parser(&config),
                registration: registry.register(1, addr, None, 0, CancellationToken::new()),
                config,
            }
        }

        fn gate(&mut self, args: &[&str]) -> Option<Bytes> {
            let cmd = Command::from_args(args);
            let spec = table().lookup(&cmd).unwrap();
            gate(
                spec,
                &cmd,
                &mut self.state,
                &mut self.parser,
                &self.registration.entry,
                &self.config,
            )
        }

        /// Whether the parser takes a command of 11 arguments, which an unauthenticated
        /// client may not send.
        fn eleven_args_parse(&mut self) -> bool {
            let cmd = Command::from_args(["DEL", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]);
            self.parser
                .parse(&mut BytesMut::from(&cmd.raw()[..]))
                .is_ok()
        }

        fn user_shown(&self) -> String {
            let line = self.registration.entry.line(0, None);
            let user = line.split(' ').find(|f| f.starts_with("user=")).unwrap();
            user["user=".len()..].to_string()
        }
    }

    fn reply(text: &str) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn commands_wait_for_authentication() {
        let mut c = Client::new(config("pw", &[("alice", "wonder")]));
        assert!(!c.eleven_args_parse());
        assert_eq!(
            c.gate(&["GET", "k"]),
            reply("-NOAUTH Authentication required.\r\n")
        );
        assert_eq!(c.gate(&["QUIT"]), None);
        assert_eq!(
            c.gate(&["AUTH", "nope"]),
            reply(&format!("-{WRONGPASS}\r\n"))
        );
        assert_eq!(c.gate(&["AUTH", "pw"]), reply("+OK\r\n"));
        assert_eq!(c.user_shown(), "default");
        assert!(c.eleven_args_parse());
        assert_eq!(c.gate(&["GET", "k"]), None);

        // A failed AUTH leaves the client as it was; a good one switches users.
        assert_eq!(
            c.gate(&["AUTH", "alice", "pw"]),
            reply(&format!("-{WRONGPASS}\r\n"))
        );
        assert_eq!(c.state.user.as_deref(), Some("default"));
        assert_eq!(c.gate(&["AUTH", "alice", "wonder"]), reply("+OK\r\n"));
        assert_eq!(c.user_shown(), "alice");

        // RESET: unauthenticated again.
        assert_eq!(c.gate(&["RESET"]), None);
        c.state = ClientState::new(1, c.state.peer_addr);
        assert!(!c.eleven_args_parse());
        assert_eq!(c.user_shown(), "default");
        assert!(c.gate(&["PING"]).is_some());
    }

    #[test]
    fn hello_authenticates_or_refuses() {
        let mut c = Client::new(config("pw", &[("alice", "wonder")]));
        let refused = c.gate(&["HELLO", "3"]).unwrap();
        assert!(refused.starts_with(b"-NOAUTH HELLO must be called"));
        assert_eq!(c.state.protocol, 2);
        let hello = c
            .gate(&["HELLO", "3", "AUTH", "alice", "wonder", "SETNAME", "app"])
            .unwrap();
        assert!(hello.starts_with(b"%7\r\n"), "{hello:?}");
        assert_eq!(c.state.protocol, 3);
        assert_eq!(c.user_shown(), "alice");
        assert!(c.registration.entry.line(0, None).contains(" name=app "));
        assert!(c.eleven_args_parse());
    }

    #[test]
    fn nothing_configured_means_everyone_is_default() {
        let mut c = Client::new(config("", &[]));
        assert!(c.eleven_args_parse());
        assert_eq!(c.gate(&["GET", "k"]), None);
        assert_eq!(c.state.user.as_deref(), Some("default"));
        let refused = c.gate(&["AUTH", "x"]).unwrap();
        assert!(refused.starts_with(b"-ERR AUTH <password> called without any password"));
        assert_eq!(c.gate(&["AUTH", "default", "x"]), reply("+OK\r\n"));
        assert_eq!(
            c.gate(&["AUTH", "alice", "x"]),
            reply(&format!("-{WRONGPASS}\r\n"))
        );
        assert_eq!(c.gate(&["RESET"]), None);
        assert!(c.eleven_args_parse());
    }
}
