//! Whole RDB files: the snapshot `SAVE` and `BGSAVE` write, the node loads at start and a
//! replica receives on a full sync.
//!
//! A file is laid out as Redis 7.0 writes it: the magic `REDIS0010`; AUX fields naming the
//! writer (`redis-ver`, `redis-bits`, `ctime`, `used-mem`, `aof-base`); the function
//! libraries; per non-empty database a SELECTDB and a RESIZEDB record, then its keys, each
//! preceded by its expiry if it has one; the EOF opcode; and the CRC-64 of everything before
//! it, little-endian. Each key's object is written by [`write_object`], so its bytes are the
//! ones `DUMP` gives.
//!
//! [`load_snapshot`] reads what Redis 7.0 and older write (RDB versions 1 to 10) with the same
//! bounded [`Reader`] as `RESTORE`: no length is trusted beyond the bytes left, and a bad file
//! is an error naming the byte where it went wrong, never a panic. [`install`] then puts the
//! keys into a keyspace, as values encoded by the node's own thresholds.

use super::crc64::crc64;
use super::object::{read_object, write_len, write_object, write_string, RDB_VERSION};
use super::reader::Reader;
use super::value::{from_rdb, to_rdb};
use super::{RdbError, RdbObject};
use crate::node::config::NodeConfig;
use crate::node::keyspace::{Entry, Keyspace};
use crate::node::memory;
use crate::node::REDIS_VERSION;

/// The opcodes between objects (`RDB_OPCODE_*`): every byte a type is not.
pub mod opcodes {
    /// A function library's source code (Redis 7.0's `RDB_OPCODE_FUNCTION2`).
    pub const FUNCTION2: u8 = 245;
    /// Functions as Redis 7.0's release candidates wrote them.
    pub const FUNCTION_PRE_GA: u8 = 246;
    /// A module's own data, outside any key.
    pub const MODULE_AUX: u8 = 247;
    /// The next key's LRU idle time, in seconds.
    pub const IDLE: u8 = 248;
    /// The next key's LFU counter.
    pub const FREQ: u8 = 249;
    /// A (name, value) pair about the file or its writer.
    pub const AUX: u8 = 250;
    /// A database's key and expiry counts, hints for sizing its tables.
    pub const RESIZEDB: u8 = 251;
    /// The next key's expiry, unix milliseconds (i64 LE).
    pub const EXPIRETIME_MS: u8 = 252;
    /// The next key's expiry, unix seconds (i32 LE), as files before RDB 3 have it.
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

use opcodes::*;

const MAGIC: &[u8] = b"REDIS";
/// The magic and the four-digit version.
const HEADER_LEN: usize = 9;
/// From this version on, the EOF opcode is followed by the CRC-64 (0: not computed).
const FIRST_CHECKSUMMED_VERSION: u16 = 5;

/// What a snapshot carries besides the keyspace.
#[derive(Debug, Default, Clone)]
pub struct SnapshotExtras<'a> {
    /// Function library sources, as `FUNCTION DUMP` writes them (one FUNCTION2 record each).
    pub functions: Vec<&'a [u8]>,
    /// More AUX fields, written after `used-mem` and before `aof-base` where Redis writes its
    /// replication fields (`repl-stream-db`, `repl-id`, `repl-offset`) for a full sync.
    pub aux: Vec<(&'a str, String)>,
}

/// The whole keyspace as an RDB file, as Redis 7.0 writes one: what `SAVE` puts on disk and
/// what a full sync sends a replica, real `redis-server` replicas included.
///
/// Keys already expired at `now_ms` (unix milliseconds) are left out; the others keep their
/// expiry as an absolute time. Empty databases are skipped. The caller holds the keyspace
/// (the node's lock) for as long as this runs, so the snapshot is of one instant. See
/// [`write_snapshot_with`] to add function libraries or AUX fields.
pub fn write_snapshot(ks: &Keyspace, now_ms: i64) -> Vec<u8> {
    write_snapshot_with(ks, &SnapshotExtras::default(), now_ms)
}

/// [`write_snapshot`] with function libraries and extra AUX fields.
pub fn write_snapshot_with(ks: &Keyspace, extras: &SnapshotExtras<'_>, now_ms: i64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{RDB_VERSION:04}").as_bytes());
    aux(&mut out, "redis-ver", REDIS_VERSION);
    aux(&mut out, "redis-bits", "64");
    aux(&mut out, "ctime", &(now_ms / 1000).to_string());
    aux(&mut out, "used-mem", &memory::used_memory(ks).to_string());
    for (name, value) in &extras.aux {
        aux(&mut out, name, value);
    }
    aux(&mut out, "aof-base", "0");
    for code in &extras.functions {
        out.push(FUNCTION2);
        write_string(&mut out, code);
    }
    let live = |e: &Entry| e.expire_at().is_none_or(|at| at > now_ms);
    let mut object = Vec::new();
    for (index, db) in ks.dbs().iter().enumerate() {
        let (keys, expires) = db
            .iter()
            .filter(|(_, e)| live(e))
            .fold((0, 0), |(k, x), (_, e)| {
                (k + 1, x + usize::from(e.expire_at().is_some()))
            });
        if keys == 0 {
            continue;
        }
        out.push(SELECTDB);
        write_len(&mut out, index);
        out.push(RESIZEDB);
        write_len(&mut out, keys);
        write_len(&mut out, expires);
        for (key, entry) in db.iter().filter(|(_, e)| live(e)) {
            if let Some(at) = entry.expire_at() {
                out.push(EXPIRETIME_MS);
                out.extend_from_slice(&at.to_le_bytes());
            }
            // The key sits between the object's type byte and its body.
            object.clear();
            write_object(&mut object, &to_rdb(&entry.value));
            out.push(object[0]);
            write_string(&mut out, key.key());
            out.extend_from_slice(&object[1..]);
        }
    }
    out.push(EOF);
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn aux(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(AUX);
    write_string(out, name.as_bytes());
    write_string(out, value.as_bytes());
}

/// One key as a file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub object: RdbObject,
    /// Unix milliseconds.
    pub expire_at: Option<i64>,
    /// Seconds since last use (an IDLE record, written under an LRU policy).
    pub idle: Option<i64>,
    /// The LFU counter (a FREQ record, written under an LFU policy).
    pub freq: Option<i64>,
}

/// Everything in an RDB file, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub version: u16,
    /// AUX fields (name, value): informational, the loader acts on none of them.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library sources.
    pub functions: Vec<Vec<u8>>,
    pub keys: Vec<LoadedKey>,
}

/// Why a file could not be loaded. The texts follow redis-server's log lines where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("Wrong signature trying to load DB from file")]
    Signature,
    #[error("Can't handle RDB format version {0}")]
    Version(u16),
    #[error("Wrong RDB checksum expected: ({expected:x}) got ({got:x})")]
    Checksum { expected: u64, got: u64 },
    #[error("Short read loading DB: the file ends at byte {offset}, before its EOF marker")]
    Truncated { offset: usize },
    #[error("Bad RDB data at byte {offset}: {reason}")]
    Bad { offset: usize, reason: &'static str },
    #[error("Unsupported RDB content at byte {offset}: {what}")]
    Unsupported { offset: usize, what: &'static str },
    #[error("Data file was created with a Redis server configured to handle more than {databases} databases (it has DB {db})")]
    Database { db: usize, databases: usize },
    #[error("Duplicated key '{key}' in DB {db}")]
    Duplicate { db: usize, key: String },
    #[error("Bad value for key '{key}' in DB {db}: {reason}")]
    Value {
        db: usize,
        key: String,
        reason: &'static str,
    },
}

/// A failure inside the record loop, before it knows its offset.
enum Failure {
    Rdb(RdbError),
    Unsupported(&'static str),
}

impl From<RdbError> for Failure {
    fn from(e: RdbError) -> Failure {
        Failure::Rdb(e)
    }
}

/// Reads a whole RDB file. The checksum is checked when the file has one (not 0).
pub fn load_snapshot(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::Signature);
    }
    let version = std::str::from_utf8(&bytes[MAGIC.len()..HEADER_LEN])
        .ok()
        .and_then(|digits| digits.parse::<u16>().ok())
        .unwrap_or(0);
    if version == 0 || version > RDB_VERSION {
        return Err(SnapshotError::Version(version));
    }
    let mut r = Reader::new(bytes);
    r.take(HEADER_LEN).map_err(|_| SnapshotError::Signature)?;
    let mut snapshot = Snapshot {
        version,
        ..Snapshot::default()
    };
    if let Err(failure) = records(&mut r, &mut snapshot) {
        let offset = r.offset();
        return Err(match failure {
            Failure::Rdb(RdbError::BadData {
                reason: "truncated",
            }) => SnapshotError::Truncated { offset },
            Failure::Rdb(RdbError::BadData { reason }) => SnapshotError::Bad { offset, reason },
            Failure::Rdb(RdbError::VersionOrChecksum) => SnapshotError::Bad {
                offset,
                reason: "bad object",
            },
            Failure::Unsupported(what) => SnapshotError::Unsupported { offset, what },
        });
    }
    if version >= FIRST_CHECKSUMMED_VERSION {
        let covered = r.offset();
        let expected = r
            .array::<8>()
            .map(u64::from_le_bytes)
            .map_err(|_| SnapshotError::Truncated { offset: covered })?;
        let got = crc64(0, &bytes[..covered]);
        // Redis writes 0 under `rdbchecksum no`, and skips the check for it.
        if expected != 0 && expected != got {
            return Err(SnapshotError::Checksum { expected, got });
        }
    }
    // Whatever follows is ignored, as redis-server ignores it.
    Ok(snapshot)
}

/// The records after the header, up to and including EOF.
fn records(r: &mut Reader<'_>, snapshot: &mut Snapshot) -> Result<(), Failure> {
    let mut db = 0;
    let mut expire_at = None;
    let mut idle = None;
    let mut freq = None;
    loop {
        match r.u8()? {
            EOF => return Ok(()),
            EXPIRETIME => expire_at = Some(i64::from(i32::from_le_bytes(r.array()?)) * 1000),
            EXPIRETIME_MS => expire_at = Some(i64::from_le_bytes(r.array()?)),
            IDLE => idle = Some(i64::try_from(r.len()?).unwrap_or(i64::MAX)),
            FREQ => freq = Some(i64::from(r.u8()?)),
            SELECTDB => db = r.len()?,
            RESIZEDB => {
                // Sizing hints only: nothing is reserved from them.
                r.len()?;
                r.len()?;
            }
            AUX => {
                let name = r.string()?;
                let value = r.string()?;
                snapshot.aux.push((name, value));
            }
            FUNCTION2 => snapshot.functions.push(r.string()?),
            FUNCTION_PRE_GA => {
                return Err(Failure::Unsupported("pre-release function format"));
            }
            MODULE_AUX => {
                return Err(Failure::Unsupported(
                    "module data (slotgate node loads no modules)",
                ));
            }
            MODULE | MODULE_2 => {
                return Err(Failure::Unsupported(
                    "a module's value (slotgate node loads no modules)",
                ));
            }
            STREAM_LISTPACKS => {
                return Err(Failure::Unsupported(
                    "a stream from before Redis 7.0 (STREAM_LISTPACKS)",
                ));
            }
            ty => {
                let key = r.string()?;
                let object = read_object(ty, r)?;
                snapshot.keys.push(LoadedKey {
                    db,
                    key,
                    object,
                    expire_at: expire_at.take(),
                    idle: idle.take(),
                    freq: freq.take(),
                });
            }
        }
    }
}

/// Module value types (`RDB_TYPE_MODULE`, `RDB_TYPE_MODULE_2`).
const MODULE: u8 = 6;
const MODULE_2: u8 = 7;
/// Streams as Redis 5 and 6 write them (7.0 writes `STREAM_LISTPACKS_2`).
const STREAM_LISTPACKS: u8 = 15;

/// What [`install`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    pub loaded: u64,
    /// Keys whose expiry had passed: dropped, as a master drops them.
    pub expired: u64,
}

/// Puts a file's keys into `ks`, values encoded by `config`'s thresholds; keys already
/// expired at `now` are dropped. A database the node does not have, a key twice, or a value
/// whose parts disagree is an error; keys before it are installed.
pub fn install(
    ks: &mut Keyspace,
    keys: Vec<LoadedKey>,
    config: &NodeConfig,
    now: i64,
) -> Result<LoadCounts, SnapshotError> {
    let databases = ks.db_count();
    let mut counts = LoadCounts::default();
    for k in keys {
        let LoadedKey {
            db: index,
            key,
            object,
            expire_at,
            idle,
            freq,
        } = k;
        if index >= databases {
            return Err(SnapshotError::Database {
                db: index,
                databases,
            });
        }
        let name = || String::from_utf8_lossy(&key).into_owned();
        let db = ks.db(index);
        if db.peek(&key).is_some() {
            return Err(SnapshotError::Duplicate {
                db: index,
                key: name(),
            });
        }
        if expire_at.is_some_and(|at| at <= now) {
            counts.expired += 1;
            continue;
        }
        let value = from_rdb(object, config).map_err(|e| SnapshotError::Value {
            db: index,
            key: name(),
            reason: match e {
                RdbError::BadData { reason } => reason,
                RdbError::VersionOrChecksum => "bad object",
            },
        })?;
        db.set_with_expiry(&key, value, expire_at, now);
        db.restore_use(&key, idle, freq);
        counts.loaded += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests;
