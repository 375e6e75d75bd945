//! The `slotgate` binary. Its faces (proxy, node, cluster, up) arrive in the next commits.

#![forbid(unsafe_code)]

fn main() {
    eprintln!("slotgate: nothing to run yet");
    std::process::exit(2);
}
