//! What a key holds: one of Redis's data types, each in its own compact or general encoding.

use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::stream::Stream;
use super::string::Str;
use super::zset::ZSet;
use crate::node::error::CmdError;

/// A key's value. The collection types are boxed so that a value is small in the keyspace's
/// map: most keys in most databases are strings.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Str),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

/// The six types, as `TYPE` and `SCAN … TYPE` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }

    /// The kind `TYPE` calls `name`, case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [
            Kind::Str,
            Kind::List,
            Kind::Hash,
            Kind::Set,
            Kind::ZSet,
            Kind::Stream,
        ]
        .into_iter()
        .find(|k| k.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

macro_rules! accessors {
    ($($variant:ident: $ty:ty => $get:ident, $get_mut:ident;)*) => {
        impl Value {
            $(
                /// The value as this type, or `WRONGTYPE`.
                pub fn $get(&self) -> Result<&$ty, CmdError> {
                    match self {
                        Value::$variant(v) => Ok(v),
                        _ => Err(CmdError::WrongType),
                    }
                }

                /// The value as this type, mutably, or `WRONGTYPE`.
                pub fn $get_mut(&mut self) -> Result<&mut $ty, CmdError> {
                    match self {
                        Value::$variant(v) => Ok(v),
                        _ => Err(CmdError::WrongType),
                    }
                }
            )*
        }
    };
}

accessors! {
    Str: Str => as_str, as_str_mut;
    List: List => as_list, as_list_mut;
    Hash: Hash => as_hash, as_hash_mut;
    Set: Set => as_set, as_set_mut;
    ZSet: ZSet => as_zset, as_zset_mut;
    Stream: Stream => as_stream, as_stream_mut;
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::Str,
            Value::List(_) => Kind::List,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
        }
    }

    /// What `OBJECT ENCODING` answers, with Redis's names.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(v) => v.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// A collection with no elements left, which Redis never keeps: the key is deleted.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(v) => v.is_empty(),
            Value::Hash(v) => v.is_empty(),
            Value::Set(v) => v.is_empty(),
            Value::ZSet(v) => v.is_empty(),
            // An empty stream is kept: it holds its last ID and its consumer groups.
            Value::Stream(_) => false,
        }
    }
}
