//! Reading a `CLUSTER SLOTS` reply.

use super::{NodeAddr, Shard, SlotMap, TopologyError};
use crate::resp::Frame;
use crate::slot::Slot;

/// Builds a [`SlotMap`] from a `CLUSTER SLOTS` reply. `asked` is the node that answered: an
/// empty or `?` endpoint in the reply means "the host you asked" (Redis 7's
/// `cluster-preferred-endpoint-type` rules).
pub fn parse_cluster_slots(reply: &Frame, asked: &NodeAddr) -> Result<SlotMap, TopologyError> {
    let ranges = reply
        .as_array()
        .ok_or_else(|| TopologyError::NotAnArray(format!("{reply:?}")))?;
    let mut out = Vec::with_capacity(ranges.len());
    for (index, range) in ranges.iter().enumerate() {
        let bad = |reason| TopologyError::BadRange { index, reason };
        let items = range.as_array().ok_or(bad("not an array"))?;
        if items.len() < 3 {
            return Err(bad("fewer than three elements"));
        }
        let start = items[0]
            .as_integer()
            .ok_or(bad("start slot is not an integer"))?;
        let end = items[1]
            .as_integer()
            .ok_or(bad("end slot is not an integer"))?;
        let slot = |n: i64| {
            u16::try_from(n)
                .ok()
                .and_then(Slot::new)
                .ok_or(TopologyError::SlotOutOfRange { start, end })
        };
        let (first, last) = (slot(start)?, slot(end)?);
        if first > last {
            return Err(TopologyError::SlotOutOfRange { start, end });
        }
        let mut nodes = items[2..]
            .iter()
            .map(|n| node_addr(n, asked).ok_or(bad("node entry is malformed")));
        let master = nodes.next().ok_or(bad("no master"))??;
        let mut replicas = nodes.collect::<Result<Vec<_>, _>>()?;
        // Nodes list replicas in no set order: sorted, equal views compare equal.
        replicas.sort();
        out.push((first, last, Shard { master, replicas }));
    }
    Ok(SlotMap::from_ranges(out))
}

fn node_addr(node: &Frame, asked: &NodeAddr) -> Option<NodeAddr> {
    let fields = node.as_array()?;
    let host = fields.first()?.as_bytes()?;
    let port = u16::try_from(fields.get(1)?.as_integer()?).ok()?;
    let host = std::str::from_utf8(host).ok()?;
    let host = match host {
        "" | "?" => asked.host(),
        h => h,
    };
    Some(NodeAddr::new(host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(s: &'static [u8]) -> Frame {
        Frame::decode(&Bytes::from_static(s), crate::resp::Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn parses_a_redis_7_reply() {
        let reply = frame(
            b"*2\r\n\
              *4\r\n:0\r\n:8191\r\n*4\r\n$9\r\n127.0.0.1\r\n:30001\r\n$40\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n*0\r\n\
              *3\r\n$9\r\n127.0.0.1\r\n:30004\r\n$40\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\
              *3\r\n:8192\r\n:16383\r\n*3\r\n$0\r\n\r\n:30002\r\n$1\r\nc\r\n",
        );
        let asked = NodeAddr::new("10.0.0.9", 1);
        let map = parse_cluster_slots(&reply, &asked).unwrap();
        let s0 = map.shard(Slot::new(0).unwrap()).unwrap();
        assert_eq!(s0.master.as_str(), "127.0.0.1:30001");
        assert_eq!(s0.replicas[0].as_str(), "127.0.0.1:30004");
        let s1 = map.shard(Slot::new(16383).unwrap()).unwrap();
        assert_eq!(s1.master.as_str(), "10.0.0.9:30002");
        assert!(s1.replicas.is_empty());
    }

    #[test]
    fn rejects_malformed_replies() {
        let asked = NodeAddr::new("h", 1);
        assert!(parse_cluster_slots(&frame(b"+OK\r\n"), &asked).is_err());
        assert!(parse_cluster_slots(&frame(b"*1\r\n*2\r\n:0\r\n:1\r\n"), &asked).is_err());
        assert!(parse_cluster_slots(
            &frame(b"*1\r\n*3\r\n:5\r\n:20000\r\n*2\r\n+h\r\n:1\r\n"),
            &asked
        )
        .is_err());
    }
}
