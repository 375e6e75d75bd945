//! List commands, blocking ones included: LPUSH … BLPOP …

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
