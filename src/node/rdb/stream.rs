//! Streams in RDB form (`RDB_TYPE_STREAM_LISTPACKS_2`, type 19, Redis 7.0): the entries as
//! listpack nodes in Redis's stream layout (a master entry of field names, then entries with
//! IDs as deltas from the node's master ID), then the stream's counters and its consumer
//! groups with their pending entries and consumers.

use super::object::write_len;
use super::object::write_string;
use super::reader::Reader;
use super::{listpack, RdbError};
use crate::resp::parse_i64;

/// An entry ID as (ms, seq).
pub type RawId = (u64, u64);

/// One entry: its ID and field/value pairs.
pub type RawEntry = (RawId, Vec<(Vec<u8>, Vec<u8>)>);

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;

/// A run of entries stored as one listpack node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRdb {
    pub master: RawId,
    /// Entries ever added to the node, deleted ones included (valid + deleted).
    pub appended: u64,
    pub entries: Vec<RawEntry>,
    /// The node's last entry's ID, deleted or not.
    pub last: RawId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingRdb {
    pub id: RawId,
    pub delivery_time: i64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRdb {
    pub name: Vec<u8>,
    pub seen_time: i64,
    pub pending: Vec<RawId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRdb {
    pub name: Vec<u8>,
    pub last_id: RawId,
    /// -1: unknown.
    pub entries_read: i64,
    pub pending: Vec<PendingRdb>,
    pub consumers: Vec<ConsumerRdb>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamRdb {
    pub nodes: Vec<NodeRdb>,
    pub length: u64,
    pub last_id: RawId,
    pub first_id: RawId,
    pub max_deleted_id: RawId,
    pub entries_added: u64,
    pub groups: Vec<GroupRdb>,
}

fn id_key(id: RawId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.0.to_be_bytes());
    k[8..].copy_from_slice(&id.1.to_be_bytes());
    k
}

fn read_id_key(r: &mut Reader<'_>) -> Result<RawId, RdbError> {
    let k: [u8; 16] = r.array()?;
    Ok(id_from_key(&k))
}

fn id_from_key(k: &[u8; 16]) -> RawId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&k[..8]);
    seq.copy_from_slice(&k[8..]);
    (u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    write_len(out, n as usize);
}

/// The listpack of one node, laid out as Redis's `streamAppendItem` builds it.
fn node_listpack(node: &NodeRdb) -> Vec<u8> {
    let master_fields: Vec<&[u8]> = node
        .entries
        .first()
        .map(|(_, pairs)| pairs.iter().map(|(f, _)| f.as_slice()).collect())
        .unwrap_or_default();
    let mut items: Vec<Vec<u8>> = Vec::new();
    let num = |n: i64| n.to_string().into_bytes();
    items.push(num(node.entries.len() as i64));
    items.push(num(0));
    items.push(num(master_fields.len() as i64));
    items.extend(master_fields.iter().map(|f| f.to_vec()));
    items.push(num(0));
    for ((ms, seq), pairs) in &node.entries {
        let same = pairs.len() == master_fields.len()
            && pairs.iter().zip(&master_fields).all(|((f, _), m)| f == m);
        items.push(num(if same { FLAG_SAME_FIELDS } else { 0 }));
        items.push(num(ms.wrapping_sub(node.master.0) as i64));
        items.push(num(seq.wrapping_sub(node.master.1) as i64));
        if !same {
            items.push(num(pairs.len() as i64));
        }
        for (f, v) in pairs {
            if !same {
                items.push(f.clone());
            }
            items.push(v.clone());
        }
        let lp_count = pairs.len() as i64 + 3 + if same { 0 } else { pairs.len() as i64 + 1 };
        items.push(num(lp_count));
    }
    listpack::build(items.iter().map(|i| i.as_slice()))
}

/// Writes a stream's body (after the type byte).
pub fn write_stream(out: &mut Vec<u8>, s: &StreamRdb) {
    write_len(out, s.nodes.len());
    for node in &s.nodes {
        write_string(out, &id_key(node.master));
        write_string(out, &node_listpack(node));
    }
    write_u64(out, s.length);
    write_u64(out, s.last_id.0);
    write_u64(out, s.last_id.1);
    write_u64(out, s.first_id.0);
    write_u64(out, s.first_id.1);
    write_u64(out, s.max_deleted_id.0);
    write_u64(out, s.max_deleted_id.1);
    write_u64(out, s.entries_added);
    write_len(out, s.groups.len());
    for g in &s.groups {
        write_string(out, &g.name);
        write_u64(out, g.last_id.0);
        write_u64(out, g.last_id.1);
        write_u64(out, g.entries_read as u64);
        write_len(out, g.pending.len());
        for p in &g.pending {
            out.extend_from_slice(&id_key(p.id));
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            write_u64(out, p.delivery_count);
        }
        write_len(out, g.consumers.len());
        for c in &g.consumers {
            write_string(out, &c.name);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pending.len());
            for id in &c.pending {
                out.extend_from_slice(&id_key(*id));
            }
        }
    }
}

fn u64_len(r: &mut Reader<'_>) -> Result<u64, RdbError> {
    Ok(r.len()? as u64)
}

fn int(item: &[u8]) -> Result<i64, RdbError> {
    parse_i64(item).ok_or_else(|| RdbError::bad("stream listpack: integer expected"))
}

/// Reads one node's listpack back into entries, skipping deleted ones.
fn read_node(master: RawId, lp: &[u8]) -> Result<NodeRdb, RdbError> {
    let items = listpack::entries(lp)?;
    let mut it = items.iter();
    let mut next = || {
        it.next()
            .ok_or_else(|| RdbError::bad("stream listpack: truncated"))
    };
    let valid = int(next()?)?;
    let deleted = int(next()?)?;
    let nfields = int(next()?)?;
    if valid < 0 || deleted < 0 || !(0..=1 << 20).contains(&nfields) {
        return Err(RdbError::bad("stream listpack: bad master entry"));
    }
    let mut master_fields = Vec::with_capacity((nfields as usize).min(items.len()));
    for _ in 0..nfields {
        master_fields.push(next()?.clone());
    }
    if int(next()?)? != 0 {
        return Err(RdbError::bad("stream listpack: bad master terminator"));
    }
    let mut entries = Vec::new();
    let mut last = master;
    while let Some(flags) = it.next() {
        let mut next = || {
            it.next()
                .ok_or_else(|| RdbError::bad("stream listpack: truncated entry"))
        };
        let flags = int(flags)?;
        let ms = master.0.wrapping_add(int(next()?)? as u64);
        let seq = master.1.wrapping_add(int(next()?)? as u64);
        let mut pairs = Vec::new();
        if flags & FLAG_SAME_FIELDS != 0 {
            for f in &master_fields {
                pairs.push((f.clone(), next()?.clone()));
            }
        } else {
            let n = int(next()?)?;
            if !(0..=1 << 20).contains(&n) {
                return Err(RdbError::bad("stream listpack: bad field count"));
            }
            for _ in 0..n {
                let f = next()?.clone();
                let v = next()?.clone();
                pairs.push((f, v));
            }
        }
        next()?; // lp-count
        let id = (ms, seq);
        if id < last && !(entries.is_empty() && id == master) {
            return Err(RdbError::bad("stream listpack: IDs out of order"));
        }
        last = id;
        if flags & FLAG_DELETED == 0 {
            entries.push((id, pairs));
        }
    }
    if entries.len() as i64 != valid {
        return Err(RdbError::bad("stream listpack: wrong entry count"));
    }
    Ok(NodeRdb {
        master,
        appended: (valid + deleted) as u64,
        entries,
        last,
    })
}

/// Reads a stream's body (after the type byte).
pub fn read_stream(r: &mut Reader<'_>) -> Result<StreamRdb, RdbError> {
    let n = r.count(2)?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.string()?;
        let key: [u8; 16] = key
            .as_slice()
            .try_into()
            .map_err(|_| RdbError::bad("stream node key is not 16 bytes"))?;
        let lp = r.string()?;
        let node = read_node(id_from_key(&key), &lp)?;
        if node.entries.is_empty() {
            return Err(RdbError::bad("empty stream node"));
        }
        nodes.push(node);
    }
    let length = u64_len(r)?;
    let last_id = (u64_len(r)?, u64_len(r)?);
    let first_id = (u64_len(r)?, u64_len(r)?);
    let max_deleted_id = (u64_len(r)?, u64_len(r)?);
    let entries_added = u64_len(r)?;
    let total: u64 = nodes.iter().map(|n| n.entries.len() as u64).sum();
    if total != length {
        return Err(RdbError::bad("stream length does not match its entries"));
    }
    let ngroups = r.count(3)?;
    let mut groups = Vec::with_capacity(ngroups);
    for _ in 0..ngroups {
        let name = r.string()?;
        let last_id = (u64_len(r)?, u64_len(r)?);
        let entries_read = u64_len(r)? as i64;
        let npel = r.count(17)?;
        let mut pending = Vec::with_capacity(npel);
        for _ in 0..npel {
            let id = read_id_key(r)?;
            let delivery_time = i64::from_le_bytes(r.array()?);
            let delivery_count = u64_len(r)?;
            pending.push(PendingRdb {
                id,
                delivery_time,
                delivery_count,
            });
        }
        let pending_ids: std::collections::HashSet<RawId> = pending.iter().map(|p| p.id).collect();
        let nconsumers = r.count(9)?;
        let mut consumers = Vec::with_capacity(nconsumers);
        for _ in 0..nconsumers {
            let name = r.string()?;
            let seen_time = i64::from_le_bytes(r.array()?);
            let n = r.count(16)?;
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let id = read_id_key(r)?;
                if !pending_ids.contains(&id) {
                    return Err(RdbError::bad("consumer PEL entry not in the group PEL"));
                }
                ids.push(id);
            }
            consumers.push(ConsumerRdb {
                name,
                seen_time,
                pending: ids,
            });
        }
        groups.push(GroupRdb {
            name,
            last_id,
            entries_read,
            pending,
            consumers,
        });
    }
    Ok(StreamRdb {
        nodes,
        length,
        last_id,
        first_id,
        max_deleted_id,
        entries_added,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip() {
        let s = StreamRdb {
            nodes: vec![NodeRdb {
                master: (5, 0),
                appended: 2,
                entries: vec![
                    ((5, 0), vec![(b"f".to_vec(), b"1".to_vec())]),
                    ((7, 3), vec![(b"g".to_vec(), b"x".to_vec())]),
                ],
                last: (7, 3),
            }],
            length: 2,
            last_id: (7, 3),
            first_id: (5, 0),
            max_deleted_id: (0, 0),
            entries_added: 2,
            groups: vec![GroupRdb {
                name: b"g".to_vec(),
                last_id: (5, 0),
                entries_read: -1,
                pending: vec![PendingRdb {
                    id: (5, 0),
                    delivery_time: 1234,
                    delivery_count: 2,
                }],
                consumers: vec![ConsumerRdb {
                    name: b"c".to_vec(),
                    seen_time: 99,
                    pending: vec![(5, 0)],
                }],
            }],
        };
        let mut out = Vec::new();
        write_stream(&mut out, &s);
        let back = read_stream(&mut Reader::new(&out)).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for bytes in [&b""[..], b"\x01\x00", b"\x01\x10aaaaaaaaaaaaaaaa\x01\x00"] {
            assert!(read_stream(&mut Reader::new(bytes)).is_err());
        }
    }
}
