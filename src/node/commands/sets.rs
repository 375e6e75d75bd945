//! Set commands: SADD SREM …

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
