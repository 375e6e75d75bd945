//! Sorted set values.

use std::collections::HashMap;

/// Members with scores, ordered by (score, member).
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Vec<u8>, f64>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
}
