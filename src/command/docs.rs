//! Command documentation (`COMMAND DOCS`), as Redis 7.0 gives it.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use crate::resp::{Frame, Limits};

/// Redis 7.0.15's reply to `COMMAND DOCS` in RESP3 (maps and sets kept; a RESP2 client gets
/// them flattened, as redis-server flattens them).
const REDIS_7_0_DOCS: &[u8] = include_bytes!("redis-7.0-docs.resp");

/// The documentation map of a top-level command (by lowercase name) or of a subcommand
/// (`container|sub`, found in its container's `subcommands`).
pub fn docs(name: &str) -> Option<&'static Frame> {
    static DOCS: LazyLock<HashMap<String, Frame>> = LazyLock::new(|| {
        let data = Bytes::from_static(REDIS_7_0_DOCS);
        let (frame, used) = Frame::decode(&data, Limits::default())
            .expect("docs data is valid RESP")
            .expect("docs data is one whole reply");
        assert_eq!(used, data.len(), "docs data holds exactly one reply");
        let Frame::Map(entries) = frame else {
            panic!("docs data is a map");
        };
        entries
            .into_iter()
            .filter_map(|(name, doc)| Some((text(&name)?.to_string(), doc)))
            .collect()
    });
    match name.split_once('|') {
        None => DOCS.get(name),
        Some((container, _)) => {
            field(DOCS.get(container)?, "subcommands").and_then(|subs| field(subs, name))
        }
    }
}

/// The value under `key` in a map frame.
fn field<'a>(map: &'a Frame, key: &str) -> Option<&'a Frame> {
    let Frame::Map(entries) = map else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| text(k) == Some(key))
        .map(|(_, v)| v)
}

fn text(frame: &Frame) -> Option<&str> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::table;

    #[test]
    fn every_command_has_its_docs() {
        for spec in table().iter_all() {
            assert!(
                docs(spec.full_name()).is_some(),
                "no docs for {}",
                spec.full_name()
            );
        }
        let get = docs("get").unwrap();
        assert_eq!(
            field(get, "summary"),
            Some(&Frame::Bulk(Bytes::from_static(b"Get the value of a key")))
        );
        assert!(docs("client|kill").is_some());
        assert!(docs("nosuch").is_none());
    }
}
