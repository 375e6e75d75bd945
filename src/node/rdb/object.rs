//! One object in RDB form: its type byte and body, and the `DUMP` payload around it.
//!
//! `DUMP` writes encodings every Redis 7.0 reads back: strings (and the blobs nested in
//! objects) integer-encoded or LZF-compressed exactly as Redis 7.0 does, so a string's payload
//! is byte for byte Redis's; lists as quicklist-2 of listpack nodes; sets as an
//! intset when every member is an integer (and there are at most 512), else plain; hashes
//! plain; sorted sets as `ZSET_2` (binary doubles). Redis converts plain encodings to its
//! compact ones on load by its own thresholds. `RESTORE` reads every type Redis 7.0 and older
//! write, except modules and streams from before 7.0 (types 15 and below).
//! Streams are `STREAM_LISTPACKS_2`, see [`super::stream`].

use std::collections::HashSet;

use super::crc64::crc64;
use super::reader::{decimal, parse_double, Reader};
use super::{intset, listpack, lzf, ziplist, RdbError, RdbObject};
use crate::resp::parse_i64;

/// The RDB version this node writes and the newest it reads (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// Object type bytes (`RDB_TYPE_*`).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// A hash's (field, value) pairs, in payload order.
type FieldValues = Vec<(Vec<u8>, Vec<u8>)>;

/// Quicklist-2 node containers.
const NODE_PLAIN: usize = 1;
const NODE_PACKED: usize = 2;
/// Largest listpack node `DUMP` writes for a list (Redis's default `list-max-listpack-size
/// -2`); a longer element gets a node of its own.
const LIST_NODE_BYTES: usize = 8192;
/// Most members `DUMP` writes as an intset (Redis's default `set-max-intset-entries`).
const INTSET_MAX: usize = 512;
/// Strings longer than this are tried with LZF (Redis's rule).
const LZF_MIN_LEN: usize = 20;
/// Version (2 bytes) and CRC-64 (8 bytes) after the object.
const FOOTER_SIZE: usize = 10;

/// The `DUMP` payload of `obj`: the object, the RDB version (u16 LE) and the CRC-64 (u64 LE)
/// of everything before it.
pub fn dump_payload(obj: &RdbObject) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, obj);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The object in a `RESTORE` payload, after checking its footer as Redis does.
pub fn restore_payload(bytes: &[u8]) -> Result<RdbObject, RdbError> {
    if bytes.len() < FOOTER_SIZE {
        return Err(RdbError::VersionOrChecksum);
    }
    let (checked, crc) = bytes.split_at(bytes.len() - 8);
    let (body, version) = checked.split_at(checked.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > RDB_VERSION {
        return Err(RdbError::VersionOrChecksum);
    }
    let mut want = [0u8; 8];
    want.copy_from_slice(crc);
    if crc64(0, checked) != u64::from_le_bytes(want) {
        return Err(RdbError::VersionOrChecksum);
    }
    let mut r = Reader::new(body);
    let ty = r.u8()?;
    let obj = read_object(ty, &mut r)?;
    if !r.is_empty() {
        return Err(RdbError::bad("bytes after the object"));
    }
    Ok(obj)
}

/// Writes `obj`'s type byte and body.
pub fn write_object(out: &mut Vec<u8>, obj: &RdbObject) {
    match obj {
        RdbObject::Str(s) => {
            out.push(types::STRING);
            write_string(out, s);
        }
        RdbObject::List(items) => {
            out.push(types::LIST_QUICKLIST_2);
            let nodes = list_nodes(items);
            write_len(out, nodes.len());
            for node in nodes {
                write_len(out, NODE_PACKED);
                write_string(out, &listpack::build(node.iter().map(|i| i.as_slice())));
            }
        }
        RdbObject::Set(members) => {
            let ints: Option<Vec<i64>> = members.iter().map(|m| parse_i64(m)).collect();
            match ints {
                Some(ints) if !ints.is_empty() && ints.len() <= INTSET_MAX => {
                    out.push(types::SET_INTSET);
                    write_string(out, &intset::build(&ints));
                }
                _ => {
                    out.push(types::SET);
                    write_len(out, members.len());
                    for m in members {
                        write_string(out, m);
                    }
                }
            }
        }
        RdbObject::Hash(pairs) => {
            out.push(types::HASH);
            write_len(out, pairs.len());
            for (field, value) in pairs {
                write_string(out, field);
                write_string(out, value);
            }
        }
        RdbObject::HashListpack(pairs) => {
            out.push(types::HASH_LISTPACK);
            let items = pairs.iter().flat_map(|(f, v)| [&f[..], &v[..]]);
            write_string(out, &listpack::build(items));
        }
        RdbObject::ZSetListpack(pairs) => {
            out.push(types::ZSET_LISTPACK);
            let scores: Vec<String> = pairs.iter().map(|(_, s)| listpack_score_text(*s)).collect();
            let items = pairs
                .iter()
                .zip(&scores)
                .flat_map(|((m, _), s)| [&m[..], s.as_bytes()]);
            write_string(out, &listpack::build(items));
        }
        RdbObject::ZSet(pairs) => {
            out.push(types::ZSET_2);
            write_len(out, pairs.len());
            for (member, score) in pairs {
                write_string(out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        RdbObject::Stream(s) => {
            out.push(types::STREAM_LISTPACKS_2);
            super::stream::write_stream(out, s);
        }
    }
}

/// A score as a listpack holds it (Redis 7.0's `d2string`): integers that a `long long`
/// holds exactly are written as integers, the rest as `%.17g`.
pub fn listpack_score_text(s: f64) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if s.is_finite() && (-HALF..=HALF).contains(&s) && s.trunc() == s {
        itoa::Buffer::new().format(s as i64).to_string()
    } else {
        crate::node::reply::format_double(s)
    }
}

/// The list's items cut into listpack nodes of at most [`LIST_NODE_BYTES`].
fn list_nodes(items: &[Vec<u8>]) -> Vec<&[Vec<u8>]> {
    let mut nodes = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, item) in items.iter().enumerate() {
        let add = listpack::entry_size(item);
        if i > start && size + add > LIST_NODE_BYTES {
            nodes.push(&items[start..i]);
            start = i;
            size = 0;
        }
        size += add;
    }
    if start < items.len() {
        nodes.push(&items[start..]);
    }
    nodes
}

/// An RDB length (`rdbSaveLen`).
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if let Ok(n) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// An RDB string (`rdbSaveRawString`): integer-encoded when it is the canonical text of a
/// 32-bit integer, LZF-compressed when longer than 20 bytes and that saves at least 4, else
/// raw, as Redis does with `rdbcompression yes`.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(n) = parse_i64(s) {
            if let Ok(v) = i8::try_from(n) {
                out.extend_from_slice(&[0xc0, v as u8]);
                return;
            } else if let Ok(v) = i16::try_from(n) {
                out.push(0xc1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            } else if let Ok(v) = i32::try_from(n) {
                out.push(0xc2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if s.len() > LZF_MIN_LEN {
        if let Some(compressed) = lzf::compress(s, s.len() - 4) {
            out.push(0xc3);
            write_len(out, compressed.len());
            write_len(out, s.len());
            out.extend_from_slice(&compressed);
            return;
        }
    }
    write_len(out, s.len());
    out.extend_from_slice(s);
}

/// Reads the body of an object of type `ty`. Empty collections, repeated members or fields
/// and NaN scores are refused, as Redis refuses them.
pub fn read_object(ty: u8, r: &mut Reader<'_>) -> Result<RdbObject, RdbError> {
    use types::*;
    let obj = match ty {
        STRING => RdbObject::Str(r.string()?),
        LIST => {
            let n = r.count(1)?;
            RdbObject::List(repeat(n, || r.string())?)
        }
        LIST_ZIPLIST => RdbObject::List(ziplist::entries(&r.string()?)?),
        LIST_QUICKLIST => {
            let n = r.count(1)?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.extend(ziplist::entries(&r.string()?)?);
            }
            RdbObject::List(items)
        }
        LIST_QUICKLIST_2 => {
            let n = r.count(2)?;
            let mut items = Vec::new();
            for _ in 0..n {
                match r.len()? {
                    NODE_PLAIN => items.push(r.string()?),
                    NODE_PACKED => items.extend(listpack::entries(&r.string()?)?),
                    _ => return Err(RdbError::bad("unknown quicklist container")),
                }
            }
            RdbObject::List(items)
        }
        SET => {
            let n = r.count(1)?;
            RdbObject::Set(repeat(n, || r.string())?)
        }
        SET_INTSET => RdbObject::Set(
            intset::members(&r.string()?)?
                .into_iter()
                .map(decimal)
                .collect(),
        ),
        HASH => {
            let n = r.count(2)?;
            RdbObject::Hash(repeat(n, || Ok((r.string()?, r.string()?)))?)
        }
        HASH_ZIPMAP => RdbObject::Hash(zipmap_pairs(&r.string()?)?),
        HASH_ZIPLIST => RdbObject::Hash(pairs(ziplist::entries(&r.string()?)?)?),
        HASH_LISTPACK => RdbObject::Hash(pairs(listpack::entries(&r.string()?)?)?),
        ZSET => {
            let n = r.count(2)?;
            RdbObject::ZSet(repeat(n, || Ok((r.string()?, r.text_double()?)))?)
        }
        ZSET_2 => {
            let n = r.count(9)?;
            RdbObject::ZSet(repeat(n, || Ok((r.string()?, r.binary_double()?)))?)
        }
        ZSET_ZIPLIST => RdbObject::ZSet(scored(ziplist::entries(&r.string()?)?)?),
        ZSET_LISTPACK => RdbObject::ZSet(scored(listpack::entries(&r.string()?)?)?),
        STREAM_LISTPACKS_2 => RdbObject::Stream(Box::new(super::stream::read_stream(r)?)),
        _ => {
            return Err(RdbError::bad(
                "unsupported object type (stream, module or unknown)",
            ))
        }
    };
    check(&obj)?;
    Ok(obj)
}

/// `n` results of `read`, stopping at the first error. `n` was bounded by the bytes left.
fn repeat<T>(n: usize, mut read: impl FnMut() -> Result<T, RdbError>) -> Result<Vec<T>, RdbError> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read()?);
    }
    Ok(out)
}

/// Flat entries as (field, value) pairs.
fn pairs(entries: Vec<Vec<u8>>) -> Result<FieldValues, RdbError> {
    if !entries.len().is_multiple_of(2) {
        return Err(RdbError::bad("odd number of entries in a hash"));
    }
    let mut it = entries.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(field), Some(value)) = (it.next(), it.next()) {
        out.push((field, value));
    }
    Ok(out)
}

/// Flat entries as (member, score) pairs; scores are decimal text or integers.
fn scored(entries: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>, RdbError> {
    pairs(entries)?
        .into_iter()
        .map(|(member, score)| Ok((member, parse_double(&score)?)))
        .collect()
}

/// The pairs of a zipmap (Redis 2.x hashes): a count byte, then per pair a key length, key,
/// value length, free byte count, value and free bytes; lengths are one byte, or 254 and a
/// u32 LE; 255 ends the map.
fn zipmap_pairs(blob: &[u8]) -> Result<FieldValues, RdbError> {
    fn zm_len(r: &mut Reader<'_>) -> Result<Option<usize>, RdbError> {
        Ok(match r.u8()? {
            255 => None,
            254 => Some(u32::from_le_bytes(r.array()?) as usize),
            n => Some(usize::from(n)),
        })
    }
    let mut r = Reader::new(blob);
    r.u8()?;
    let mut out = Vec::new();
    while let Some(klen) = zm_len(&mut r)? {
        let key = r.take(klen)?.to_vec();
        let vlen = zm_len(&mut r)?.ok_or(RdbError::bad("zipmap ends inside a pair"))?;
        let free = usize::from(r.u8()?);
        let value = r.take(vlen)?.to_vec();
        r.take(free)?;
        out.push((key, value));
    }
    if !r.is_empty() {
        return Err(RdbError::bad("bytes after the zipmap's end"));
    }
    Ok(out)
}

/// What Redis refuses in any encoding: empty collections, repeats, NaN scores.
fn check(obj: &RdbObject) -> Result<(), RdbError> {
    fn unique<'a>(mut keys: impl ExactSizeIterator<Item = &'a [u8]>) -> Result<(), RdbError> {
        if keys.len() == 0 {
            return Err(RdbError::bad("empty collection"));
        }
        let mut seen = HashSet::with_capacity(keys.len());
        if keys.all(|k| seen.insert(k)) {
            Ok(())
        } else {
            Err(RdbError::bad("repeated member or field"))
        }
    }
    match obj {
        RdbObject::Str(_) => Ok(()),
        RdbObject::List(items) if items.is_empty() => Err(RdbError::bad("empty list")),
        RdbObject::List(_) => Ok(()),
        RdbObject::Set(members) => unique(members.iter().map(|m| m.as_slice())),
        RdbObject::Hash(pairs) | RdbObject::HashListpack(pairs) => {
            unique(pairs.iter().map(|(f, _)| f.as_slice()))
        }
        RdbObject::ZSet(pairs) | RdbObject::ZSetListpack(pairs) => {
            if pairs.iter().any(|(_, score)| score.is_nan()) {
                return Err(RdbError::bad("NaN score"));
            }
            unique(pairs.iter().map(|(m, _)| m.as_slice()))
        }
        RdbObject::Stream(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
