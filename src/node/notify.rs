//! Keyspace notifications (`notify-keyspace-events`): every change to a key is published on
//! `__keyspace@<db>__:<key>` (the message is the event's name) and on
//! `__keyevent@<db>__:<event>` (the message is the key), as Redis's `notifyKeyspaceEvent` does.
//!
//! Commands say what they did with [`Ctx::notify`](super::commands::Ctx::notify): one call per
//! event, in Redis's order. What the keyspace notices on its own — a key created (`new`), a key
//! found expired (`expired`), a read that missed (`keymiss`), a key evicted (`evicted`) — it
//! notes in its database's [`Journal`], and the journal is published before the command's next
//! event and when the command ends, which puts those events where Redis puts them: `new`
//! before the `lpush` that created the list, `expired` before the `set` that replaced the key.
//!
//! With notifications off (the default) a command pays one test of a bit mask per event.

use super::pubsub::{OutputLimit, Publisher};
use super::server::Node;
use super::NodeConfig;
use crate::command::CommandSpec;

/// A set of event classes and the two channel kinds: the parsed `notify-keyspace-events`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events(u16);

impl Events {
    pub const NONE: Events = Events(0);
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Events = Events(1 << 0);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Events = Events(1 << 1);
    /// `g`: DEL, EXPIRE, RENAME, … — commands that are not about one type.
    pub const GENERIC: Events = Events(1 << 2);
    /// `$`
    pub const STRING: Events = Events(1 << 3);
    /// `l`
    pub const LIST: Events = Events(1 << 4);
    /// `s`
    pub const SET: Events = Events(1 << 5);
    /// `h`
    pub const HASH: Events = Events(1 << 6);
    /// `z`
    pub const ZSET: Events = Events(1 << 7);
    /// `x`: a key deleted because its time was up.
    pub const EXPIRED: Events = Events(1 << 8);
    /// `e`: a key deleted to make room under `maxmemory`.
    pub const EVICTED: Events = Events(1 << 9);
    /// `t`
    pub const STREAM: Events = Events(1 << 10);
    /// `m`: a read of a key that does not exist (not part of `A`).
    pub const KEY_MISS: Events = Events(1 << 11);
    /// `d`: module events (no modules here; accepted and shown).
    pub const MODULE: Events = Events(1 << 12);
    /// `n`: a key created (not part of `A`).
    pub const NEW: Events = Events(1 << 13);

    /// Reads the canonical `notify-keyspace-events` value (the config has checked it).
    pub fn parse(classes: &str) -> Events {
        let mut events = Events::NONE;
        for c in classes.chars() {
            events.0 |= match c {
                'A' => "g$lshzxetd".chars().map(|c| Events::of(c).0).sum(),
                c => Events::of(c).0,
            };
        }
        events
    }

    fn of(class: char) -> Events {
        match class {
            'K' => Events::KEYSPACE,
            'E' => Events::KEYEVENT,
            'g' => Events::GENERIC,
            '$' => Events::STRING,
            'l' => Events::LIST,
            's' => Events::SET,
            'h' => Events::HASH,
            'z' => Events::ZSET,
            'x' => Events::EXPIRED,
            'e' => Events::EVICTED,
            't' => Events::STREAM,
            'm' => Events::KEY_MISS,
            'd' => Events::MODULE,
            'n' => Events::NEW,
            _ => Events::NONE,
        }
    }

    /// Whether an event of `class` is published at all: its class is on, and so is one of the
    /// two channel kinds.
    pub fn fires(self, class: Events) -> bool {
        self.0 & class.0 != 0 && self.0 & (Events::KEYSPACE.0 | Events::KEYEVENT.0) != 0
    }

    /// The classes among `self` that the keyspace notes in its journal, if they fire.
    pub fn journaled(self) -> Events {
        let own = Events::EXPIRED.0 | Events::EVICTED.0 | Events::KEY_MISS.0 | Events::NEW.0;
        if self.fires(Events(own)) {
            Events(self.0 & own)
        } else {
            Events::NONE
        }
    }

    pub fn contains(self, class: Events) -> bool {
        self.0 & class.0 != 0
    }
}

/// Whether `spec`'s key lookups are Redis's `lookupKeyRead`, whose misses are `keymiss`
/// events: read-only commands (but not `OBJECT`, `MEMORY USAGE` or `DEBUG`, which look
/// without notifying), and the writes that read their sources that way.
pub fn looks_up_as_read(spec: &CommandSpec) -> bool {
    const WRITES_THAT_READ: &[&str] = &[
        "getdel",
        "getex",
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zrangestore",
        "sort",
        "bitop",
        "copy",
        "move",
        "georadius",
        "georadiusbymember",
        "geosearchstore",
        "xreadgroup",
        "pfmerge",
    ];
    let name = spec.container_name().unwrap_or(spec.full_name());
    if spec.is_readonly() {
        !matches!(name, "object" | "memory" | "debug")
    } else {
        WRITES_THAT_READ.contains(&name)
    }
}

/// One event the keyspace noticed by itself, waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    pub class: Events,
    pub event: &'static str,
    pub key: Box<[u8]>,
}

/// A database's events noticed by the keyspace itself, in the order they happened. Only the
/// classes [`Events::journaled`] turned on are noted, so it stays empty while notifications
/// are off; whoever holds the keyspace lock publishes and empties it before releasing it.
#[derive(Debug, Default)]
pub struct Journal {
    on: Events,
    noted: Vec<Noted>,
    /// `keymiss` is noted by read lookups only: the running command reads (rather than writes)
    /// this database's keys.
    reads: bool,
}

impl Journal {
    /// Which classes to note from now on.
    pub fn set_classes(&mut self, on: Events) {
        self.on = on;
        if on == Events::NONE {
            self.noted.clear();
        }
    }

    /// A command starts: whether its lookups are reads (they note `keymiss`).
    pub fn begin_command(&mut self, reads: bool) {
        self.reads = reads;
    }

    pub fn note(&mut self, class: Events, event: &'static str, key: &[u8]) {
        if self.on.contains(class) {
            self.noted.push(Noted {
                class,
                event,
                key: key.into(),
            });
        }
    }

    /// A read lookup found no live `key` (one event per lookup, as Redis: `MGET k k` misses
    /// twice).
    pub fn note_miss(&mut self, key: &[u8]) {
        if self.reads {
            self.note(Events::KEY_MISS, "keymiss", key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.noted.is_empty()
    }

    pub fn take(&mut self) -> Vec<Noted> {
        std::mem::take(&mut self.noted)
    }
}

/// Publishes one event of database `db` as `events` says (the caller has checked that it
/// fires). `publisher`: the client whose command caused it, which receives its own copy in its
/// reply if it is subscribed (None for the node's own expiry and eviction).
pub fn publish(
    node: &Node,
    events: Events,
    limit: OutputLimit,
    db: usize,
    event: &str,
    key: &[u8],
    mut publisher: Option<Publisher<'_>>,
) {
    let mut registry = node.pubsub.lock();
    if events.contains(Events::KEYSPACE) {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        registry.publish(
            &channel,
            event.as_bytes(),
            false,
            publisher.as_mut().map(Publisher::reborrow),
            limit,
        );
    }
    if events.contains(Events::KEYEVENT) {
        let channel = format!("__keyevent@{db}__:{event}");
        registry.publish(channel.as_bytes(), key, false, publisher, limit);
    }
}

/// Publishes events the databases noted while no client's command ran (the active expiry
/// cycle).
pub fn publish_noted(node: &Node, config: &NodeConfig, noted: Vec<(usize, Noted)>) {
    let events = config.notify_events();
    let limit = OutputLimit::from_config(config);
    for (db, n) in noted {
        if events.fires(n.class) {
            publish(node, events, limit, db, n.event, &n.key, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_and_fire_only_with_a_channel_kind() {
        let all = Events::parse("AKE");
        assert!(all.fires(Events::GENERIC) && all.fires(Events::STREAM));
        assert!(!all.fires(Events::KEY_MISS) && !all.fires(Events::NEW));
        let no_channel = Events::parse("g$");
        assert!(!no_channel.fires(Events::GENERIC));
        let keyspace_only = Events::parse("gK");
        assert!(keyspace_only.fires(Events::GENERIC) && !keyspace_only.fires(Events::LIST));
        assert_eq!(Events::parse(""), Events::NONE);
    }

    #[test]
    fn only_the_keyspaces_own_classes_are_journaled() {
        assert_eq!(
            Events::parse("KEA").journaled(),
            Events(Events::EXPIRED.0 | Events::EVICTED.0)
        );
        assert_eq!(Events::parse("A").journaled(), Events::NONE);
        assert_eq!(
            Events::parse("Enm").journaled(),
            Events(Events::NEW.0 | Events::KEY_MISS.0)
        );
    }

    #[test]
    fn misses_are_noted_only_for_reads_and_only_when_on() {
        let mut j = Journal::default();
        j.set_classes(Events::parse("Km").journaled());
        j.begin_command(false);
        j.note_miss(b"a");
        assert!(j.is_empty());
        j.begin_command(true);
        j.note_miss(b"a");
        j.note_miss(b"b");
        let keys: Vec<_> = j.take().into_iter().map(|n| n.key).collect();
        assert_eq!(keys, vec![Box::from(&b"a"[..]), Box::from(&b"b"[..])]);
        j.set_classes(Events::parse("KA").journaled());
        j.note_miss(b"a");
        assert!(j.is_empty());
    }
}
