//! Which commands a selector may run: one bit per command id of the command table, so the
//! per-command check is a shift and a mask. The ACL categories (`@read`, `@admin`, …) are
//! precomputed here as sets too, so `+@category` is a few word-wide ORs.

use std::sync::OnceLock;

use crate::command::{table, AclCategories, CommandSpec};

/// Enough words for every command and subcommand of the table (a test checks it).
const WORDS: usize = 8;

/// A set of command ids.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct CommandSet([u64; WORDS]);

impl std::fmt::Debug for CommandSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.ids().map(|id| spec_by_id(id).full_name()))
            .finish()
    }
}

impl CommandSet {
    pub const fn empty() -> CommandSet {
        CommandSet([0; WORDS])
    }

    pub const fn full() -> CommandSet {
        CommandSet([u64::MAX; WORDS])
    }

    pub fn contains(&self, id: usize) -> bool {
        id < WORDS * 64 && self.0[id / 64] & (1 << (id % 64)) != 0
    }

    pub fn set(&mut self, id: usize, on: bool) {
        if id >= WORDS * 64 {
            return;
        }
        if on {
            self.0[id / 64] |= 1 << (id % 64);
        } else {
            self.0[id / 64] &= !(1 << (id % 64));
        }
    }

    pub fn add_all(&mut self, other: &CommandSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    pub fn remove_all(&mut self, other: &CommandSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a &= !b;
        }
    }

    /// How many of `of`'s members are in `self`, and how many are not.
    pub fn count_in(&self, of: &CommandSet) -> (u32, u32) {
        let mut on = 0;
        let mut off = 0;
        for (a, b) in self.0.iter().zip(of.0) {
            on += (a & b).count_ones();
            off += (!a & b).count_ones();
        }
        (on, off)
    }

    /// Whether the two sets agree on every id of the table (bits past it do not count).
    pub fn same_commands(&self, other: &CommandSet) -> bool {
        (0..table().len_all()).all(|id| self.contains(id) == other.contains(id))
    }

    fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..table().len_all()).filter(|&id| self.contains(id))
    }
}

/// What one category means for the command bits.
#[derive(Debug)]
pub struct Category {
    pub name: &'static str,
    /// The commands and subcommands in the category: what `ACL CAT` lists and what rule
    /// descriptions count.
    pub members: CommandSet,
    /// What `+@category` turns on: the members, and every subcommand of a member container
    /// (Redis changes a container's subcommands with it).
    pub affected: CommandSet,
}

/// Every category, in Redis's order (the command table's `AclCategories`, declared as Redis
/// lists them: `ACL CAT`, and the order rule descriptions try them).
pub fn categories() -> &'static [Category] {
    static CATS: OnceLock<Vec<Category>> = OnceLock::new();
    CATS.get_or_init(|| {
        AclCategories::all()
            .map(|(flag, name)| {
                let mut members = CommandSet::empty();
                let mut affected = CommandSet::empty();
                for spec in table().iter_all() {
                    if spec.acl_categories().intersects(flag) {
                        members.set(spec.id(), true);
                        affected.set(spec.id(), true);
                        for sub in spec.subcommands() {
                            affected.set(sub.id(), true);
                        }
                    }
                }
                Category {
                    name,
                    members,
                    affected,
                }
            })
            .collect()
    })
}

/// The category called `name`, in any ASCII case.
pub fn category(name: &[u8]) -> Option<&'static Category> {
    categories()
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The command or subcommand with this id.
pub fn spec_by_id(id: usize) -> &'static CommandSpec {
    static BY_ID: OnceLock<Vec<&'static CommandSpec>> = OnceLock::new();
    let by_id = BY_ID.get_or_init(|| {
        let mut v: Vec<&'static CommandSpec> = table().iter_all().collect();
        v.sort_by_key(|s| s.id());
        v
    });
    by_id[id]
}

/// The ids a rule on `spec` changes: the command, and all its subcommands for a container.
pub fn with_subcommands(spec: &CommandSpec) -> CommandSet {
    let mut set = CommandSet::empty();
    set.set(spec.id(), true);
    for sub in spec.subcommands() {
        set.set(sub.id(), true);
    }
    set
}

/// A command or subcommand by its ACL name (`get`, `client|list`), any ASCII case, as
/// Redis's `lookupCommandBySds`: more than one `|` names nothing.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|&b| b == b'|');
    let base = table().get(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if base.is_container() => base.subcommand(sub),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_id_fits() {
        assert!(table().len_all() < WORDS * 64);
        for spec in table().iter_all() {
            assert_eq!(spec_by_id(spec.id()).full_name(), spec.full_name());
        }
    }

    #[test]
    fn categories_hold_their_commands() {
        let read = category(b"READ").unwrap();
        assert!(read.members.contains(table().get(b"get").unwrap().id()));
        assert!(!read.members.contains(table().get(b"set").unwrap().id()));
        let slow = category(b"slow").unwrap();
        let client = table().get(b"client").unwrap();
        // The container is @slow: +@slow turns on every CLIENT subcommand.
        for sub in client.subcommands() {
            assert!(slow.affected.contains(sub.id()), "{}", sub.full_name());
        }
        assert!(category(b"nope").is_none());
        assert_eq!(categories().len(), 21);
    }

    #[test]
    fn sets_count_and_combine() {
        let mut a = CommandSet::empty();
        a.set(3, true);
        a.set(70, true);
        let mut b = CommandSet::empty();
        b.set(3, true);
        b.set(4, true);
        assert_eq!(a.count_in(&b), (1, 1));
        a.add_all(&b);
        assert!(a.contains(4));
        a.remove_all(&b);
        assert!(!a.contains(3) && a.contains(70));
        assert!(!a.contains(100_000));
        a.set(100_000, true);
        assert!(lookup(b"CLIENT|List").is_some());
        assert!(lookup(b"client|list|x").is_none());
        assert!(lookup(b"get|x").is_none());
    }
}
