//! List values.

use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Debug, Clone, Default)]
pub struct List {
    items: VecDeque<Vec<u8>>,
}

impl List {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
