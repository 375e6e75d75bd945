//! Why the command table rejects a command: each variant's text is Redis 7.0's reply, byte for
//! byte, without the leading `-`.

use bytes::Bytes;

use crate::resp::Command;

/// How much of the name and arguments Redis quotes back in "unknown command" (`%.128s`, and
/// arguments appended while the quoted text is shorter than this).
const QUOTE_LIMIT: usize = 128;

/// A command the table cannot resolve, or whose key arguments are invalid. All of these are the
/// client's fault and answered without reaching a backend; none of them changes any state, so
/// the client may fix the command and send it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No command of that name. `args` holds only the leading arguments Redis quotes back.
    #[error("{}", lossy(&unknown_command_text(name, args)))]
    Unknown { name: Bytes, args: Vec<Bytes> },
    /// A container command (`CLIENT`, `CONFIG`, …) without that subcommand.
    #[error("{}", lossy(&unknown_subcommand_text(container, subcommand)))]
    UnknownSubcommand {
        /// The container's name, lowercase (`"client"`).
        container: &'static str,
        subcommand: Bytes,
    },
    /// The argument count does not fit the arity; `command` is the full name (`client|setname`).
    /// Redis reports every error of `EXEC` as an aborted transaction, this one included.
    #[error("{}", wrong_arity_text(command))]
    WrongArity { command: &'static str },
    /// A numeric argument that locates keys is not a 64-bit integer.
    #[error("ERR value is not an integer or out of range")]
    NotAnInteger,
    /// `EVAL`'s numkeys is negative.
    #[error("ERR Number of keys can't be negative")]
    NegativeKeyCount,
    /// numkeys names more keys than there are arguments (`EVAL`, `SINTERCARD`).
    #[error("ERR Number of keys can't be greater than number of args")]
    TooManyKeys,
    /// numkeys is not a positive integer (`SINTERCARD`, `LMPOP`, `ZMPOP`, `BLMPOP`, `BZMPOP`).
    #[error("ERR numkeys should be greater than 0")]
    KeyCountNotPositive,
    /// numkeys is below 1 (`ZUNIONSTORE` and the other sorted-set operations).
    #[error("ERR at least 1 input key is needed for '{command}' command")]
    NoInputKeys { command: &'static str },
    /// The arguments do not parse far enough to locate the keys.
    #[error("ERR syntax error")]
    Syntax,
    /// `MIGRATE … KEYS k…` with a key of its own as well.
    #[error(
        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
    )]
    MigrateKeysWithKey,
    /// `XREAD`/`XREADGROUP … STREAMS` with an odd number of arguments after `STREAMS`.
    #[error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    )]
    UnbalancedStreams,
    /// `XREAD … GROUP` or `XREAD … NOACK`: options only `XREADGROUP` takes.
    #[error("ERR The {option} option is only supported by XREADGROUP. You called XREAD instead.")]
    GroupOnlyOption { option: &'static str },
    /// `XREADGROUP` without `GROUP group consumer`.
    #[error("ERR Missing GROUP option for XREADGROUP")]
    MissingGroup,
    /// `BLOCK` with a value that is not an integer.
    #[error("ERR timeout is not an integer or out of range")]
    TimeoutNotAnInteger,
    /// `BLOCK` with a negative value.
    #[error("ERR timeout is negative")]
    NegativeTimeout,
}

impl CommandError {
    /// The "unknown command" error for `cmd`, keeping only what Redis quotes back.
    pub fn unknown(cmd: &Command) -> CommandError {
        let mut args = Vec::new();
        let mut quoted = 0;
        for i in 1..cmd.argc() {
            if quoted >= QUOTE_LIMIT {
                break;
            }
            let arg = cmd.arg(i);
            // `'%.*s' ` with the room left as precision, stopping at a NUL like C strings do.
            quoted += c_str(arg).len().min(QUOTE_LIMIT - quoted) + 3;
            args.push(cmd.arg_bytes(i));
        }
        CommandError::Unknown {
            name: cmd.arg_bytes(0),
            args,
        }
    }

    /// The reply text exactly as Redis sends it (without `-` and CRLF). Unlike `Display`, this
    /// keeps bytes that are not UTF-8, as quoted from the client's own arguments.
    pub fn message_bytes(&self) -> Vec<u8> {
        match self {
            CommandError::Unknown { name, args } => unknown_command_text(name, args),
            CommandError::UnknownSubcommand {
                container,
                subcommand,
            } => unknown_subcommand_text(container, subcommand),
            other => other.to_string().into_bytes(),
        }
    }
}

/// `unknown command '%.128s', with args beginning with: '%.*s' …`, newlines made spaces.
fn unknown_command_text(name: &[u8], args: &[Bytes]) -> Vec<u8> {
    let mut out = b"ERR unknown command '".to_vec();
    out.extend_from_slice(truncated(name, QUOTE_LIMIT));
    out.extend_from_slice(b"', with args beginning with: ");
    let start = out.len();
    for arg in args {
        let quoted = out.len() - start;
        if quoted >= QUOTE_LIMIT {
            break;
        }
        out.push(b'\'');
        out.extend_from_slice(truncated(arg, QUOTE_LIMIT - quoted));
        out.extend_from_slice(b"' ");
    }
    sanitize_newlines(out)
}

fn wrong_arity_text(command: &str) -> String {
    let text = format!("wrong number of arguments for '{command}' command");
    if command == "exec" {
        format!("EXECABORT Transaction discarded because of: {text}")
    } else {
        format!("ERR {text}")
    }
}

/// `unknown subcommand '%.128s'. Try CONTAINER HELP.`, newlines made spaces.
fn unknown_subcommand_text(container: &str, subcommand: &[u8]) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand '".to_vec();
    out.extend_from_slice(truncated(subcommand, QUOTE_LIMIT));
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(container.to_ascii_uppercase().as_bytes());
    out.extend_from_slice(b" HELP.");
    sanitize_newlines(out)
}

/// What C's `%.Ns` prints of `s`: up to the first NUL, at most `max` bytes.
fn truncated(s: &[u8], max: usize) -> &[u8] {
    let s = c_str(s);
    &s[..s.len().min(max)]
}

fn c_str(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |nul| &s[..nul])
}

/// Redis replaces CR and LF with spaces so that the error stays one protocol line.
fn sanitize_newlines(mut text: Vec<u8>) -> Vec<u8> {
    for b in &mut text {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    text
}

fn lossy(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(args: &[&[u8]]) -> String {
        CommandError::unknown(&Command::from_args(args)).to_string()
    }

    #[test]
    fn unknown_command_quotes_args() {
        assert_eq!(
            unknown(&[b"foobar", b"a", b"b"]),
            "ERR unknown command 'foobar', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown(&[b"foobar"]),
            "ERR unknown command 'foobar', with args beginning with: "
        );
    }

    #[test]
    fn unknown_command_truncates_like_redis() {
        let long = vec![b'x'; 200];
        let y = vec![b'y'; 200];
        assert_eq!(
            unknown(&[&long, &y]),
            format!(
                "ERR unknown command '{}', with args beginning with: '{}' ",
                "x".repeat(128),
                "y".repeat(128)
            )
        );
        // 100 + 3 bytes quoted, so the next argument gets 25.
        let y = vec![b'y'; 100];
        let z = vec![b'z'; 100];
        assert_eq!(
            unknown(&[b"x", &y, &z, b"never"]),
            format!(
                "ERR unknown command 'x', with args beginning with: '{}' '{}' ",
                "y".repeat(100),
                "z".repeat(25)
            )
        );
        let ab: Vec<&[u8]> = std::iter::once(&b"x"[..])
            .chain(std::iter::repeat_n(&b"ab"[..], 60))
            .collect();
        assert_eq!(
            unknown(&ab),
            format!(
                "ERR unknown command 'x', with args beginning with: {}",
                "'ab' ".repeat(26)
            )
        );
        match CommandError::unknown(&Command::from_args(ab)) {
            CommandError::Unknown { args, .. } => assert_eq!(args.len(), 26),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_command_stops_at_nul_and_blanks_newlines() {
        assert_eq!(
            unknown(&[b"get\0x", b"a\0b", b"c"]),
            "ERR unknown command 'get', with args beginning with: 'a' 'c' "
        );
        assert_eq!(
            unknown(&[b"Foo\r\nx", b"a\nb"]),
            "ERR unknown command 'Foo  x', with args beginning with: 'a b' "
        );
    }

    #[test]
    fn message_bytes_keep_non_utf8() {
        let e = CommandError::unknown(&Command::from_args([&b"\xe9t\xe9"[..], b"\xff"]));
        assert_eq!(
            e.message_bytes(),
            b"ERR unknown command '\xe9t\xe9', with args beginning with: '\xff' "
        );
    }

    #[test]
    fn subcommand_and_arity_texts() {
        let e = CommandError::UnknownSubcommand {
            container: "client",
            subcommand: Bytes::from_static(b"a\r\nb\0c"),
        };
        assert_eq!(
            e.to_string(),
            "ERR unknown subcommand 'a  b'. Try CLIENT HELP."
        );
        let e = CommandError::WrongArity {
            command: "client|setname",
        };
        assert_eq!(
            e.to_string(),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            CommandError::WrongArity { command: "exec" }.to_string(),
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        );
        assert_eq!(
            CommandError::GroupOnlyOption { option: "NOACK" }.to_string(),
            "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
        );
    }
}
