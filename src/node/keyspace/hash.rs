//! Hash values.

use std::collections::HashMap;

/// A map of fields to values.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    fields: HashMap<Vec<u8>, Vec<u8>>,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
