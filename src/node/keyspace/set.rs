//! Set values.

use std::collections::HashSet;

/// A set of byte strings.
#[derive(Debug, Clone, Default)]
pub struct Set {
    members: HashSet<Vec<u8>>,
}

impl Set {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
