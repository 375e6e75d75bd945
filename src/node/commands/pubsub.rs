//! Pub/sub: SUBSCRIBE PUBLISH PUBSUB … and the sharded SSUBSCRIBE SPUBLISH.

use super::Handler;

pub(super) const COMMANDS: &[(&str, Handler)] = &[];
