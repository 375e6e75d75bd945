//! Set values: an `intset` (sorted integers, 8 bytes each) while every member is a canonical
//! integer and there are at most `set-max-intset-entries`, else a hash table — Redis 7.0's two
//! encodings, converted one way as Redis converts them. The hash table is the one hashes use,
//! so `SSCAN` walks it with Redis's cursor and random picks take constant time.

use std::borrow::Cow;

use rand::Rng;

use super::hash::table::{Layout, Table};
use crate::resp::parse_i64;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub enum Set {
    Intset(Vec<i64>),
    Table(Table<Member>),
}

/// A set's hash-table entry: the member itself.
#[derive(Debug)]
pub struct Member;

impl Layout for Member {
    type Entry = Box<[u8]>;
    fn key(entry: &Box<[u8]>) -> &[u8] {
        entry
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

impl Set {
    /// A set of `members`, encoded by the `set-max-intset-entries` limit (`RESTORE`, stores).
    pub fn from_members<I, T>(members: I, max_intset: usize) -> Set
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut set = Set::default();
        for m in members {
            set.insert(m.as_ref(), max_intset);
        }
        set
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Table(t) => t.get(member).is_some(),
        }
    }

    /// Adds `member`; false if it was there. Converts to a hash table when the intset rules
    /// stop holding.
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Set::Intset(v) = self {
            if let Some(n) = parse_i64(member) {
                match v.binary_search(&n) {
                    Ok(_) => return false,
                    Err(at) if v.len() < max_intset => {
                        v.insert(at, n);
                        return true;
                    }
                    Err(_) => {}
                }
            }
            self.convert_to_table();
        }
        match self {
            // No allocation when the member is already there.
            Set::Table(t) => t.insert_new(member, || Box::from(member)),
            Set::Intset(_) => unreachable!("converted above"),
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Every member, in no particular order (integers in ascending order).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match self {
            Set::Intset(v) => Box::new(
                v.iter()
                    .map(|n| Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec())),
            ),
            Set::Table(t) => Box::new(t.iter().map(|m| Cow::Borrowed(&**m))),
        }
    }

    /// A member picked at random, each equally likely; None when the set is empty.
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Cow<'_, [u8]>> {
        match self {
            Set::Intset(v) if v.is_empty() => None,
            Set::Intset(v) => {
                let n = v[rng.gen_range(0..v.len())];
                Some(Cow::Owned(
                    itoa::Buffer::new().format(n).as_bytes().to_vec(),
                ))
            }
            Set::Table(t) => t.random(rng).map(|m| Cow::Borrowed(&**m)),
        }
    }

    /// `n` distinct members picked at random (all of them when `n` is not below the size):
    /// from a list of every member when `n` is a large share of the set, else by random picks
    /// until `n` differ, as Redis's `SRANDMEMBER` chooses between the two.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<Vec<u8>> {
        let len = self.len();
        if n.saturating_mul(3) > len {
            let all: Vec<Cow<'_, [u8]>> = self.iter().collect();
            return rand::seq::index::sample(rng, len, n.min(len))
                .into_iter()
                .map(|i| all[i].to_vec())
                .collect();
        }
        let mut picked: hashbrown::HashSet<Vec<u8>, foldhash::quality::RandomState> =
            hashbrown::HashSet::default();
        // Each pick is new with probability above 2/3: the loop ends after ~1.5 n picks.
        while picked.len() < n {
            if let Some(m) = self.random(rng) {
                picked.insert(m.into_owned());
            }
        }
        picked.into_iter().collect()
    }

    /// One step of `SSCAN`: an intset is returned whole with cursor 0, as Redis does; a hash
    /// table is walked with Redis's reverse-binary cursor (see [`Table::scan`]).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Intset(_) => {
                for m in self.iter() {
                    visit(&m);
                }
                0
            }
            Set::Table(t) => t.scan(cursor, count, |m| visit(m)),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Intset(v) = self {
            let mut table = Table::with_capacity(v.len());
            for n in v.iter() {
                table.insert(itoa::Buffer::new().format(*n).as_bytes().into());
            }
            *self = Set::Table(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = Set::default();
        assert!(s.insert(b"3", 4));
        assert!(s.insert(b"1", 4));
        assert!(!s.insert(b"3", 4));
        assert_eq!(s.encoding(), "intset");
        let order: Vec<_> = s.iter().map(Cow::into_owned).collect();
        assert_eq!(order, vec![b"1".to_vec(), b"3".to_vec()]);
        assert!(s.contains(b"1") && !s.contains(b"01"));
        s.insert(b"x", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"x"));
        let mut t = Set::from_members(["1", "2", "3"], 2);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.remove(b"2") && !t.remove(b"2"));
        assert_eq!(t.len(), 2);
    }
}
