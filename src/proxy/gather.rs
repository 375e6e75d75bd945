//! One client command answered by several backend replies: the parts of a split multi-key
//! command, or every master's answer to a fan-out command, merged into the one reply a single
//! Redis server would have given.

use std::sync::Mutex;

use bytes::{BufMut, Bytes, BytesMut};

use super::request::{Event, EventTx};
use crate::resp::{parse_i64, write_array_header, write_integer, Frame, FrameScanner, Limits};

/// How the parts' replies become the client's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// `MGET`: part `i` answered for the client's keys at `positions[i]`; the elements go back
    /// in the client's key order.
    Mget {
        positions: Vec<Vec<usize>>,
        keys: usize,
    },
    /// Every part must succeed; the reply is the first part's (`MSET`, `FLUSHALL`, …).
    AllOk,
    /// Integers, summed (`DEL`, `EXISTS`, `DBSIZE`, …).
    Sum,
    /// Integers, the smallest (`WAIT`, `LASTSAVE`).
    Min,
    /// Arrays of 0/1, element-wise AND (`SCRIPT EXISTS`).
    And,
    /// Arrays, concatenated (`KEYS`).
    Concat,
    /// Arrays, concatenated without repeats (`PUBSUB CHANNELS`).
    Union,
    /// `[name, count, …]` arrays, counts summed per name in the first part's order
    /// (`PUBSUB NUMSUB`).
    SumPairs,
    /// The first part's reply that is not nil (`RANDOMKEY`).
    FirstNonNil,
    /// The first part to succeed, or the last error (`SCRIPT KILL`, `FUNCTION KILL`).
    OneOk,
    /// `INFO`: the proxy's own sections, then the keyspace summed from the masters' answers
    /// to `INFO keyspace`.
    Info { local: String, resp3: bool },
}

/// Collects the parts of one client command's reply. Parts arrive from backend readers in
/// any order; the last one to arrive merges them and delivers the reply.
#[derive(Debug)]
pub struct Gather {
    events: EventTx,
    seq: u64,
    merge: Merge,
    /// A std mutex: each part holds it for a few instructions, never across an await. The
    /// parts of one command usually arrive on one worker thread, so it is uncontended.
    parts: Mutex<Parts>,
}

#[derive(Debug)]
struct Parts {
    replies: Vec<Option<Bytes>>,
    missing: usize,
}

impl Gather {
    pub fn new(events: EventTx, seq: u64, merge: Merge, parts: usize) -> Gather {
        Gather {
            events,
            seq,
            merge,
            parts: Mutex::new(Parts {
                replies: vec![None; parts],
                missing: parts,
            }),
        }
    }

    pub fn events(&self) -> &EventTx {
        &self.events
    }

    /// Records part `index`'s reply; the last part delivers the merged reply.
    pub fn put(&self, index: usize, reply: Bytes) {
        let done = {
            let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            if parts.replies[index].replace(reply).is_none() {
                parts.missing -= 1;
            }
            (parts.missing == 0).then(|| std::mem::take(&mut parts.replies))
        };
        if let Some(replies) = done {
            let replies: Vec<Bytes> = replies.into_iter().flatten().collect();
            // Some parts failed and others may have been applied (MSET, DEL across slots).
            let failed = replies.iter().filter(|r| is_error(r)).count();
            if failed > 0
                && failed < replies.len()
                && matches!(self.merge, Merge::AllOk | Merge::Sum)
            {
                metrics::counter!("slotgate_split_partial_failures_total").increment(1);
            }
            let _ = self.events.send(Event::Reply {
                seq: self.seq,
                data: merge(&self.merge, &replies),
                close: false,
            });
        }
    }
}

fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

/// Merges complete replies, one per part, as `how` says. An error in any part is the answer
/// (the first one, by part order), except for [`Merge::OneOk`].
pub fn merge(how: &Merge, replies: &[Bytes]) -> Bytes {
    if *how == Merge::OneOk {
        return replies
            .iter()
            .find(|r| !is_error(r))
            .or(replies.last())
            .cloned()
            .unwrap_or_else(|| Bytes::from_static(b"+OK\r\n"));
    }
    if let Some(err) = replies.iter().find(|r| is_error(r)) {
        return err.clone();
    }
    let mut out = BytesMut::new();
    match how {
        Merge::Mget { positions, keys } => {
            let mut slots: Vec<Option<&[u8]>> = vec![None; *keys];
            for (reply, positions) in replies.iter().zip(positions) {
                let Some(elements) = array_elements(reply) else {
                    return unexpected(reply);
                };
                if elements.len() != positions.len() {
                    return unexpected(reply);
                }
                for (&pos, element) in positions.iter().zip(elements) {
                    slots[pos] = Some(element);
                }
            }
            write_array_header(&mut out, *keys);
            for element in slots {
                out.put_slice(element.unwrap_or(b"$-1\r\n"));
            }
        }
        Merge::AllOk => return replies.first().cloned().unwrap_or_default(),
        Merge::Sum | Merge::Min => {
            let mut acc: Option<i64> = None;
            for reply in replies {
                let Some(n) = integer(reply) else {
                    return unexpected(reply);
                };
                acc = Some(match (acc, how) {
                    (None, _) => n,
                    (Some(a), Merge::Sum) => a.saturating_add(n),
                    (Some(a), _) => a.min(n),
                });
            }
            write_integer(&mut out, acc.unwrap_or(0));
        }
        Merge::And => {
            let mut acc: Option<Vec<i64>> = None;
            for reply in replies {
                let Some(values) = decode(reply).and_then(|f| integers(&f)) else {
                    return unexpected(reply);
                };
                acc = Some(match acc {
                    None => values,
                    Some(a) => a.iter().zip(&values).map(|(x, y)| x & y).collect(),
                });
            }
            let acc = acc.unwrap_or_default();
            write_array_header(&mut out, acc.len());
            acc.iter().for_each(|&v| write_integer(&mut out, v));
        }
        Merge::Concat | Merge::Union => {
            let mut all: Vec<&[u8]> = Vec::new();
            for reply in replies {
                let Some(elements) = array_elements(reply) else {
                    return unexpected(reply);
                };
                for e in elements {
                    if *how == Merge::Concat || !all.contains(&e) {
                        all.push(e);
                    }
                }
            }
            write_array_header(&mut out, all.len());
            all.iter().for_each(|e| out.put_slice(e));
        }
        Merge::SumPairs => {
            let mut pairs: Vec<(Bytes, i64)> = Vec::new();
            for reply in replies {
                let Some(Frame::Array(items)) = decode(reply) else {
                    return unexpected(reply);
                };
                for pair in items.chunks(2) {
                    let (Some(name), Some(count)) = (
                        pair.first().and_then(Frame::as_bytes),
                        pair.get(1).and_then(Frame::as_integer),
                    ) else {
                        return unexpected(reply);
                    };
                    match pairs.iter_mut().find(|(n, _)| n == name) {
                        Some((_, c)) => *c += count,
                        None => pairs.push((name.clone(), count)),
                    }
                }
            }
            let items: Vec<Frame> = pairs
                .into_iter()
                .flat_map(|(n, c)| [Frame::Bulk(n), Frame::Integer(c)])
                .collect();
            Frame::Array(items).encode(&mut out);
        }
        Merge::FirstNonNil => {
            return replies
                .iter()
                .find(|r| !matches!(&r[..], b"$-1\r\n" | b"_\r\n"))
                .or(replies.first())
                .cloned()
                .unwrap_or_else(|| Bytes::from_static(b"$-1\r\n"))
        }
        Merge::OneOk => unreachable!("handled above"),
        Merge::Info { local, resp3 } => {
            let mut texts = Vec::with_capacity(replies.len());
            for reply in replies {
                match decode(reply).as_ref().and_then(Frame::as_bytes) {
                    Some(t) => texts.push(String::from_utf8_lossy(t).into_owned()),
                    None => return unexpected(reply),
                }
            }
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut text = local.clone();
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            text.push_str(&super::info::keyspace(&texts));
            let text = Bytes::from(text);
            if *resp3 {
                Frame::Verbatim {
                    format: *b"txt",
                    text,
                }
                .encode(&mut out);
            } else {
                Frame::Bulk(text).encode(&mut out);
            }
        }
    }
    out.freeze()
}

fn unexpected(reply: &Bytes) -> Bytes {
    tracing::warn!(reply = %String::from_utf8_lossy(reply), "backend reply cannot be merged");
    Bytes::from_static(b"-ERR slotgate cannot merge the backends' replies\r\n")
}

fn decode(reply: &Bytes) -> Option<Frame> {
    Frame::decode(reply, Limits::default())
        .ok()
        .flatten()
        .map(|(f, _)| f)
}

fn integer(reply: &[u8]) -> Option<i64> {
    let line = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    parse_i64(line)
}

fn integers(frame: &Frame) -> Option<Vec<i64>> {
    frame.as_array()?.iter().map(Frame::as_integer).collect()
}

/// The raw bytes of each element of an array reply, without decoding them.
pub fn array_elements(reply: &[u8]) -> Option<Vec<&[u8]>> {
    let body = reply.strip_prefix(b"*")?;
    let header_end = body.windows(2).position(|w| w == b"\r\n")?;
    let count = usize::try_from(parse_i64(&body[..header_end])?).ok()?;
    let mut at = 1 + header_end + 2;
    let mut elements = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = FrameScanner::new(Limits::default())
            .scan(&reply[at..])
            .ok()??;
        elements.push(&reply[at..at + len]);
        at += len;
    }
    (at == reply.len()).then_some(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn mget_restores_key_order() {
        let how = Merge::Mget {
            positions: vec![vec![0, 2], vec![1]],
            keys: 3,
        };
        let merged = merge(
            &how,
            &[b("*2\r\n$1\r\na\r\n$-1\r\n"), b("*1\r\n$1\r\nb\r\n")],
        );
        assert_eq!(&merged[..], b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n");
    }

    #[test]
    fn errors_win_and_integers_add_up() {
        assert_eq!(
            &merge(&Merge::Sum, &[b(":2\r\n"), b(":3\r\n")])[..],
            b":5\r\n"
        );
        assert_eq!(
            &merge(&Merge::Min, &[b(":2\r\n"), b(":3\r\n")])[..],
            b":2\r\n"
        );
        assert_eq!(
            &merge(&Merge::Sum, &[b(":2\r\n"), b("-WRONGTYPE x\r\n")])[..],
            b"-WRONGTYPE x\r\n"
        );
        assert_eq!(
            &merge(&Merge::AllOk, &[b("+OK\r\n"), b("+OK\r\n")])[..],
            b"+OK\r\n"
        );
        assert_eq!(
            &merge(&Merge::OneOk, &[b("-NOTBUSY x\r\n"), b("+OK\r\n")])[..],
            b"+OK\r\n"
        );
    }

    #[test]
    fn arrays_concatenate_and_and() {
        assert_eq!(
            &merge(
                &Merge::Concat,
                &[b("*1\r\n$1\r\na\r\n"), b("*0\r\n"), b("*1\r\n$1\r\nb\r\n")]
            )[..],
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            &merge(
                &Merge::And,
                &[b("*2\r\n:1\r\n:1\r\n"), b("*2\r\n:0\r\n:1\r\n")]
            )[..],
            b"*2\r\n:0\r\n:1\r\n"
        );
        assert_eq!(
            &merge(
                &Merge::SumPairs,
                &[b("*2\r\n$1\r\nc\r\n:1\r\n"), b("*2\r\n$1\r\nc\r\n:2\r\n")]
            )[..],
            b"*2\r\n$1\r\nc\r\n:3\r\n"
        );
        assert_eq!(
            &merge(&Merge::FirstNonNil, &[b("$-1\r\n"), b("$1\r\nk\r\n")])[..],
            b"$1\r\nk\r\n"
        );
    }

    #[test]
    fn malformed_parts_give_an_error_not_a_panic() {
        let how = Merge::Mget {
            positions: vec![vec![0, 1]],
            keys: 2,
        };
        assert!(merge(&how, &[b("*1\r\n$1\r\na\r\n")]).starts_with(b"-ERR"));
        assert!(merge(&Merge::Sum, &[b("+OK\r\n")]).starts_with(b"-ERR"));
        assert_eq!(array_elements(b"*2\r\n:1\r\n"), None);
    }
}
