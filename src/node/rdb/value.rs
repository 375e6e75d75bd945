//! The bridge between the keyspace's values and [`RdbObject`]: what `DUMP`, `RESTORE`,
//! snapshots and (later) replication share, so that a value is serialized one way only.

use super::{RdbError, RdbObject};
use crate::node::config::NodeConfig;
use crate::node::keyspace::hash::{Hash, HashLimits};
use crate::node::keyspace::list::List;
use crate::node::keyspace::set::Set;
use crate::node::keyspace::stream::Stream;
use crate::node::keyspace::string::Str;
use crate::node::keyspace::zset::{ZSet, ZSetLimits};
use crate::node::keyspace::Value;

/// A value as an [`RdbObject`]: compact hashes and sorted sets keep their listpack form, as
/// Redis writes the encoding a value has.
pub fn to_rdb(value: &Value) -> RdbObject {
    match value {
        Value::Str(s) => RdbObject::Str(s.to_vec()),
        Value::List(l) => RdbObject::List(l.iter().map(<[u8]>::to_vec).collect()),
        Value::Set(set) => RdbObject::Set(set.iter().map(|m| m.into_owned()).collect()),
        Value::Hash(h) => {
            let pairs = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            match h.encoding() {
                "listpack" => RdbObject::HashListpack(pairs),
                _ => RdbObject::Hash(pairs),
            }
        }
        Value::ZSet(z) => {
            let pairs = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            match z.encoding() {
                "listpack" => RdbObject::ZSetListpack(pairs),
                _ => RdbObject::ZSet(pairs),
            }
        }
        Value::Stream(s) => RdbObject::Stream(Box::new(s.to_rdb())),
    }
}

/// An [`RdbObject`] as a value, encoded by `config`'s thresholds as Redis would after loading;
/// a stream whose parts disagree is refused.
pub fn from_rdb(obj: RdbObject, config: &NodeConfig) -> Result<Value, RdbError> {
    match obj {
        RdbObject::Str(bytes) => Ok(Value::Str(Str::from_bytes(&bytes))),
        RdbObject::List(items) => Ok(Value::List(Box::new(List::from_items(
            config.int("list-max-listpack-size"),
            items,
        )))),
        RdbObject::Set(members) => Ok(Value::Set(Box::new(Set::from_members(
            members,
            config.usize("set-max-intset-entries"),
        )))),
        RdbObject::Hash(pairs) | RdbObject::HashListpack(pairs) => Ok(Value::Hash(Box::new(
            Hash::from_pairs(pairs, &HashLimits::from_config(config)),
        ))),
        RdbObject::Stream(rdb) => Stream::from_rdb(*rdb)
            .map(|s| Value::Stream(Box::new(s)))
            .map_err(RdbError::bad),
        RdbObject::ZSet(pairs) | RdbObject::ZSetListpack(pairs) => {
            Ok(Value::ZSet(Box::new(ZSet::from_pairs(
                pairs,
                ZSetLimits {
                    entries: config.usize("zset-max-listpack-entries"),
                    value: config.usize("zset-max-listpack-value"),
                },
            ))))
        }
    }
}
