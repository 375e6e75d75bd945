//! Why a command failed: each variant's text is Redis 7.0's reply, byte for byte, without the
//! leading `-`. A command error leaves the connection open and changes nothing.

use std::borrow::Cow;

use crate::command::CommandError;

/// A command's failure, answered to the client as an error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    IndexOutOfRange,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("{0}")]
    Command(CommandError),
    /// A reply text not worth a variant of its own; the text includes the code (`ERR …`).
    #[error("{0}")]
    Text(Cow<'static, str>),
}

impl CmdError {
    /// An error with this exact text (starting with its code).
    pub fn text(text: impl Into<Cow<'static, str>>) -> CmdError {
        CmdError::Text(text.into())
    }

    /// `ERR wrong number of arguments for '<name>' command`.
    pub fn arity(name: &str) -> CmdError {
        CmdError::text(format!(
            "ERR wrong number of arguments for '{name}' command"
        ))
    }

    /// The reply text, without the leading `-`.
    pub fn message_bytes(&self) -> Vec<u8> {
        match self {
            CmdError::Command(e) => e.message_bytes(),
            other => other.to_string().into_bytes(),
        }
    }
}

impl From<CommandError> for CmdError {
    fn from(e: CommandError) -> CmdError {
        CmdError::Command(e)
    }
}

/// What a handler returns: its reply is already written, or it failed with this error.
pub type CmdResult = Result<(), CmdError>;
