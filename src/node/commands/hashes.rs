//! Hash commands: HSET HGET …

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
