//! A stream to and from its RDB form ([`StreamRdb`]), for `DUMP`, `RESTORE` and `MIGRATE`.

use std::collections::{BTreeMap, BTreeSet};

use super::{ChunkParts, Consumer, Group, Pending, Stream, StreamId};
use crate::node::rdb::stream::{ConsumerRdb, GroupRdb, NodeRdb, PendingRdb, RawId, StreamRdb};

fn raw(id: StreamId) -> RawId {
    (id.ms, id.seq)
}

fn id(raw: RawId) -> StreamId {
    StreamId::new(raw.0, raw.1)
}

impl Stream {
    pub fn to_rdb(&self) -> StreamRdb {
        let nodes = self
            .chunk_parts()
            .into_iter()
            .map(|c| NodeRdb {
                master: raw(c.master),
                appended: c.appended,
                entries: c.entries.into_iter().map(|(i, p)| (raw(i), p)).collect(),
                last: raw(c.last),
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .map(|(name, g)| GroupRdb {
                name: name.to_vec(),
                last_id: raw(g.last_id),
                entries_read: g.entries_read.map_or(-1, |n| n as i64),
                pending: g
                    .pending
                    .iter()
                    .map(|(i, p)| PendingRdb {
                        id: raw(*i),
                        delivery_time: p.delivery_time,
                        delivery_count: p.delivery_count,
                    })
                    .collect(),
                consumers: g
                    .consumers
                    .iter()
                    .map(|(n, c)| ConsumerRdb {
                        name: n.to_vec(),
                        seen_time: c.seen_time,
                        pending: c.pending.iter().map(|i| raw(*i)).collect(),
                    })
                    .collect(),
            })
            .collect();
        StreamRdb {
            nodes,
            length: self.len(),
            last_id: raw(self.last_id),
            first_id: raw(self.first_id),
            max_deleted_id: raw(self.max_deleted_id),
            entries_added: self.entries_added,
            groups,
        }
    }

    /// The stream `rdb` describes; an error names what is inconsistent.
    pub fn from_rdb(rdb: StreamRdb) -> Result<Stream, &'static str> {
        let mut s = Stream::new();
        let mut previous: Option<StreamId> = None;
        for node in rdb.nodes {
            let entries: Vec<_> = node.entries.into_iter().map(|(r, p)| (id(r), p)).collect();
            for (i, _) in &entries {
                if previous.is_some_and(|p| *i <= p) {
                    return Err("stream entries out of order");
                }
                previous = Some(*i);
            }
            s.push_chunk(&ChunkParts {
                master: id(node.master),
                appended: node.appended,
                last: id(node.last),
                entries,
            });
        }
        if previous.is_some_and(|p| p > id(rdb.last_id)) {
            return Err("stream last ID below its entries");
        }
        s.last_id = id(rdb.last_id);
        s.first_id = id(rdb.first_id);
        s.max_deleted_id = id(rdb.max_deleted_id);
        s.entries_added = rdb.entries_added;
        for g in rdb.groups {
            let mut group = Group::new(id(g.last_id), u64::try_from(g.entries_read).ok());
            let mut owner: BTreeMap<StreamId, Box<[u8]>> = BTreeMap::new();
            for c in &g.consumers {
                let mut pending = BTreeSet::new();
                for r in &c.pending {
                    pending.insert(id(*r));
                    owner.insert(id(*r), c.name.as_slice().into());
                }
                group.consumers.insert(
                    c.name.as_slice().into(),
                    Consumer {
                        seen_time: c.seen_time,
                        pending,
                    },
                );
            }
            for p in g.pending {
                let Some(consumer) = owner.remove(&id(p.id)) else {
                    return Err("pending entry without a consumer");
                };
                group.pending.insert(
                    id(p.id),
                    Pending {
                        consumer,
                        delivery_time: p.delivery_time,
                        delivery_count: p.delivery_count,
                    },
                );
            }
            if s.groups.insert(g.name.into(), group).is_some() {
                return Err("duplicate consumer group");
            }
        }
        Ok(s)
    }
}
