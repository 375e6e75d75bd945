//! The ACL log: recent refusals (commands, keys, channels, failed logins), newest first, as
//! `ACL LOG` shows them. Similar refusals within a minute share one entry and count up.

use std::collections::VecDeque;

/// Refusals within this many milliseconds of an entry's last update join that entry.
const GROUPING_MS: i64 = 60_000;
/// How many of the newest entries a new refusal is compared with.
const GROUPING_SCAN: usize = 10;

/// Why the entry was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command, key or channel refused, or the command that failed to log in.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix milliseconds of the last refusal counted here.
    pub updated_ms: i64,
    /// The client's `CLIENT LIST` line at that refusal (without the newline).
    pub client_info: String,
}

/// The log, newest entry first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Records a refusal, keeping at most `max_len` entries.
    pub fn add(&mut self, entry: Entry, max_len: usize) {
        let similar = self.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.updated_ms - entry.updated_ms).abs() <= GROUPING_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match similar.and_then(|at| self.entries.remove(at)) {
            Some(mut e) => {
                e.count += 1;
                e.updated_ms = entry.updated_ms;
                e.client_info = entry.client_info;
                self.entries.push_front(e);
            }
            None => {
                self.entries.push_front(entry);
                self.entries.truncate(max_len);
            }
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, at: i64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Key,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            updated_ms: at,
            client_info: format!("at={at}"),
        }
    }

    #[test]
    fn similar_refusals_share_an_entry() {
        let mut log = AclLog::default();
        log.add(entry("a", 0), 128);
        log.add(entry("b", 10), 128);
        log.add(entry("a", 20), 128);
        let v: Vec<_> = log.entries().collect();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].object.as_slice(), v[0].count), (b"a".as_slice(), 2));
        assert_eq!(v[0].client_info, "at=20");
        // Over a minute later: a new entry.
        log.add(entry("a", 80_021), 128);
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn the_log_is_bounded() {
        let mut log = AclLog::default();
        for i in 0..20 {
            log.add(entry(&i.to_string(), 0), 5);
        }
        assert_eq!(log.len(), 5);
        assert_eq!(log.entries().next().unwrap().object, b"19");
        log.add(entry("x", 0), 0);
        assert!(log.is_empty());
        log.add(entry("x", 0), 3);
        log.reset();
        assert!(log.is_empty());
    }
}
