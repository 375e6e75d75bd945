//! Redis's RDB serialization: the bytes `DUMP` answers and `RESTORE` takes, the snapshot files
//! the node saves and loads, and (later) what `MIGRATE` and replication carry.
//!
//! The object layer knows nothing of the keyspace's types: it speaks [`RdbObject`], a plain
//! intermediate that [`value`] converts to and from the keyspace's values.
//!
//! - [`object`]: one object's type byte and body, and the `DUMP` payload around it (RDB
//!   version and CRC-64 footer) — [`dump_payload`] and [`restore_payload`].
//! - [`reader`]: a bounded cursor over untrusted bytes; RDB lengths and strings.
//! - [`listpack`], [`ziplist`], [`intset`]: the compact encodings nested inside objects.
//! - [`lzf`]: the compression of long strings; [`crc64`]: the footer's checksum.
//! - [`value`]: keyspace values to and from [`RdbObject`].
//! - [`file`](mod@file): whole RDB files — [`write_snapshot`] and [`load_snapshot`].
//! - [`persistence`]: `SAVE`, `BGSAVE`, the `save` rules, the save at exit and the load at
//!   start, and what `INFO persistence` reports of them.
//!
//! Every length read from a payload is checked against the bytes left before anything is
//! allocated for it, and no input makes any of it panic (see the property tests in
//! [`object`]).

pub mod crc64;
pub mod file;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod object;
pub mod persistence;
pub mod reader;
pub mod stream;
pub mod value;
pub mod ziplist;

/// Helpers the RDB modules' unit tests share.
#[cfg(test)]
pub(crate) mod test_bytes {
    /// Bytes from their hex spelling (fixtures saved by redis-server).
    pub fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A string's bytes.
    pub fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }
}

pub use file::{load_snapshot, write_snapshot, write_snapshot_with, SnapshotError};
pub use object::{dump_payload, restore_payload, RDB_VERSION};

/// One value, as RDB carries it: elements as bytes, in the order they are written.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbObject {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A hash small enough to be a listpack in memory, written as one (`DUMP` writes the
    /// encoding a value has, as Redis does); read back as [`RdbObject::Hash`].
    HashListpack(Vec<(Vec<u8>, Vec<u8>)>),
    /// A sorted set held as a listpack, written as one; read back as [`RdbObject::ZSet`].
    ZSetListpack(Vec<(Vec<u8>, f64)>),
    /// A stream (`STREAM_LISTPACKS_2`).
    Stream(Box<stream::StreamRdb>),
}

/// Why a payload was refused; the texts are Redis 7.0's `RESTORE` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    /// Too short for a footer, an RDB version newer than ours, or a checksum mismatch.
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The footer is right but the object is not: `reason` says what (for logs and tests).
    #[error("ERR Bad data format")]
    BadData { reason: &'static str },
}

impl RdbError {
    pub(crate) fn bad(reason: &'static str) -> RdbError {
        RdbError::BadData { reason }
    }
}
