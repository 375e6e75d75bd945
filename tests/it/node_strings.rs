//! `slotgate node`: strings, compared with redis-server where replies can be.

#[allow(unused_imports)]
use crate::harness::{Differential, SlotgateNode};
