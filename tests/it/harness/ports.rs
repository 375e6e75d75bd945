//! Free loopback ports for the processes a test starts.
//!
//! Tests run in parallel, as threads of one process (`cargo test`) or as one process each
//! (`cargo nextest`), so a fixed port or port 0 handed to a child is no good: every pick starts
//! from a random place in the range, moves by a per-process counter, and is checked by binding it.
//! Picks stay below the kernel's ephemeral range (32768 and up on Linux) so that outgoing
//! connections never take a port a cluster node is about to bind, and a Redis Cluster node's bus
//! port (port + 10000) stays below it too. A pick can still be taken by another process between
//! the check and the child's bind; the callers notice the child's failure and pick again.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use rand::Rng;

/// Offset from a Redis Cluster node's client port to its cluster bus port.
pub const BUS_PORT_OFFSET: u16 = 10_000;

/// Ports handed out: `FIRST_PORT..FIRST_PORT + PORT_SPAN`; bus ports end below 32768.
const FIRST_PORT: u16 = 10_000;
const PORT_SPAN: u32 = 12_000;

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    pick(bindable)
}

/// A port `p` such that `p` and its cluster bus port `p + 10000` are both free right now.
pub fn free_cluster_port() -> u16 {
    pick(|port| bindable(port) && bindable(port + BUS_PORT_OFFSET))
}

/// The loopback address of `port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn pick(is_free: impl Fn(u16) -> bool) -> u16 {
    // Where this process starts in the range: its pid plus a random offset, so that parallel
    // test processes (nextest) start far apart; the counter then keeps one process's threads apart.
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| {
        let jitter = rand::thread_rng().gen_range(0..PORT_SPAN);
        std::process::id().wrapping_mul(7919).wrapping_add(jitter) % PORT_SPAN
    });
    for _ in 0..PORT_SPAN {
        // A step coprime with the span visits every port once, spread over the range rather than
        // filling one corner that a neighbouring process may have started from.
        let step = NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(37);
        let offset = start.wrapping_add(step) % PORT_SPAN;
        let port = FIRST_PORT + u16::try_from(offset).expect("offset is below the span");
        if is_free(port) {
            return port;
        }
    }
    panic!(
        "no free loopback port in {FIRST_PORT}..{}",
        u32::from(FIRST_PORT) + PORT_SPAN
    );
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(loopback(port)).is_ok()
}
