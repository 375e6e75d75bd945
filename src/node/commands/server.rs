//! Server and client commands: CONFIG INFO CLIENT COMMAND DBSIZE …

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
