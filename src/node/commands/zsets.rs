//! Sorted-set commands: ZADD … BZPOPMIN …

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
