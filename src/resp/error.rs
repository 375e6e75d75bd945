//! What a reader reports when the peer's bytes are not RESP it accepts.

/// A protocol error. Its `Display` is the text after `-ERR Protocol error: `, worded as Redis
/// words it where Redis has the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// More arguments than a client that has not authenticated may send.
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A longer argument than a client that has not authenticated may send.
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("invalid frame type byte 0x{0:02x}")]
    InvalidType(u8),
    #[error("invalid {kind} '{}'", String::from_utf8_lossy(.value))]
    InvalidValue { kind: &'static str, value: Vec<u8> },
    #[error("aggregate nesting deeper than {0}")]
    TooDeep(usize),
    #[error("header line longer than {0} bytes")]
    HeaderTooLong(usize),
    #[error("bulk string not terminated by CRLF")]
    MissingCrlf,
    #[error("streamed RESP3 types are not supported")]
    Streamed,
}
