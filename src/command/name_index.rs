//! Finding a command by name in one hash probe: the proxy does it for every request.

/// An open-addressing hash index from lowercase command names to their position in a list.
/// At most half full, so every probe sequence meets an empty slot.
#[derive(Debug)]
pub(crate) struct NameIndex {
    slots: Box<[u16]>,
}

const EMPTY: u16 = u16::MAX;
/// No command name is longer; longer input is not a command.
const MAX_NAME: usize = 32;

impl NameIndex {
    /// Indexes `names` (lowercase), by their position.
    pub(crate) fn new<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> NameIndex {
        let size = (names.len() * 2).next_power_of_two().max(16);
        assert!(size < usize::from(EMPTY), "too many names to index");
        let mut slots = vec![EMPTY; size].into_boxed_slice();
        for (i, name) in names.enumerate() {
            let mut at = hash(name.as_bytes()) & (size - 1);
            while slots[at] != EMPTY {
                at = (at + 1) & (size - 1);
            }
            slots[at] = i as u16;
        }
        NameIndex { slots }
    }

    /// The position of the name equal to `name` ignoring ASCII case; `name_at` gives the
    /// indexed names back.
    pub(crate) fn find<'a>(
        &self,
        name: &[u8],
        name_at: impl Fn(usize) -> &'a str,
    ) -> Option<usize> {
        if name.len() > MAX_NAME {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = hash(name) & mask;
        loop {
            let i = self.slots[at];
            if i == EMPTY {
                return None;
            }
            if name_at(usize::from(i))
                .as_bytes()
                .eq_ignore_ascii_case(name)
            {
                return Some(usize::from(i));
            }
            at = (at + 1) & mask;
        }
    }
}

/// FNV-1a over the ASCII-lowercased bytes.
fn hash(name: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_in_any_case_and_nothing_else() {
        let names = ["get", "set", "mget", "client", "zrangebyscore"];
        let index = NameIndex::new(names.iter().copied());
        for (i, n) in names.iter().enumerate() {
            assert_eq!(index.find(n.as_bytes(), |j| names[j]), Some(i));
            let upper = n.to_ascii_uppercase();
            assert_eq!(index.find(upper.as_bytes(), |j| names[j]), Some(i));
        }
        assert_eq!(index.find(b"gett", |j| names[j]), None);
        assert_eq!(index.find(b"", |j| names[j]), None);
        assert_eq!(index.find(&[b'g'; 40], |j| names[j]), None);
    }
}
