//! The bounds every reader enforces.

/// Bounds on what a peer may make a reader hold. Defaults follow Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string, like Redis's `proto-max-bulk-len` (512 MiB).
    pub max_bulk_len: usize,
    /// Most elements in one array, map, set or push frame.
    pub max_array_len: usize,
    /// Deepest nesting of aggregate frames (requests are always depth 1).
    pub max_depth: usize,
    /// Longest inline command line and longest header line (Redis's `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
}

impl Limits {
    pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
    pub const DEFAULT_MAX_ARRAY_LEN: usize = 16 * 1024 * 1024;
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    pub const DEFAULT_MAX_INLINE_LEN: usize = 64 * 1024;
    /// Most arguments in one command from a client that has not authenticated (Redis's
    /// bound, which keeps such a client from making the server hold much).
    pub const UNAUTHENTICATED_MAX_ARRAY_LEN: usize = 10;
    /// Largest argument from a client that has not authenticated (Redis's bound).
    pub const UNAUTHENTICATED_MAX_BULK_LEN: usize = 16 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: Self::DEFAULT_MAX_BULK_LEN,
            max_array_len: Self::DEFAULT_MAX_ARRAY_LEN,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_inline_len: Self::DEFAULT_MAX_INLINE_LEN,
        }
    }
}
