//! Set values: an `intset` (sorted integers, 8 bytes each) while every member is a canonical
//! integer and there are at most `set-max-intset-entries`, else a hash table — Redis 7.0's two
//! encodings, converted one way as Redis converts them.

use std::borrow::Cow;

use foldhash::quality::RandomState;
use hashbrown::HashSet;

use crate::resp::parse_i64;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub enum Set {
    Intset(Vec<i64>),
    Table(HashSet<Box<[u8]>, RandomState>),
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
            Set::Table(t) => t.contains(member),
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
            Set::Table(t) => {
                // One hash, and no allocation when the member is already there.
                let before = t.len();
                t.get_or_insert_with(member, |m| Box::from(m));
                t.len() > before
            }
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
            Set::Table(t) => t.remove(member),
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

    /// The member at `index` of the iteration order (random picks). None past the end.
    pub fn nth(&self, index: usize) -> Option<Vec<u8>> {
        self.iter().nth(index).map(Cow::into_owned)
    }

    fn convert_to_table(&mut self) {
        if let Set::Intset(v) = self {
            let table = v
                .iter()
                .map(|n| itoa::Buffer::new().format(*n).as_bytes().into())
                .collect();
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
