//! The cost of one script run inside the node, without the network: `EVALSHA` of a script that
//! makes one `redis.call`, against the command it wraps run directly. What is left between the
//! two is the Lua bridge (see `src/node/lua/run.rs`); `benches/node_load.py` measures the same
//! through real sockets next to redis-server.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use slotgate::command::table;
use slotgate::node::acl::Acl;
use slotgate::node::client::Client;
use slotgate::node::commands::{execute, Ctx};
use slotgate::node::reply::Reply;
use slotgate::node::{Node, NodeConfig};
use slotgate::resp::Command;
use tokio_util::sync::CancellationToken;

const SCRIPT: &[u8] = b"return redis.call('incr', KEYS[1])";

/// Runs `cmd` on `node` as one client would, leaving the reply in `out`.
fn run(node: &Node, client: &mut Client, out: &mut Reply, cmd: &Command) {
    let spec = table().resolve(cmd).expect("a known command");
    let mut ks = node.keyspace();
    let config = node.config.load_full();
    let mut ctx = Ctx::new(&mut ks, client, out, node, config, 0);
    let _ = execute(&mut ctx, spec, cmd);
}

fn script_run(c: &mut Criterion) {
    let config = NodeConfig::default();
    let acl = Acl::from_config(&config).expect("the default ACL");
    let node = Node::new(config, acl, CancellationToken::new());
    let mut client = Client::detached(1);
    let mut out = Reply::new(false);
    let load = Command::from_args([&b"SCRIPT"[..], b"LOAD", SCRIPT]);
    run(&node, &mut client, &mut out, &load);
    let sha = sha1_smol::Sha1::from(SCRIPT).digest().to_string();
    let evalsha = Command::from_args([&b"EVALSHA"[..], sha.as_bytes(), b"1", b"bench:counter"]);
    let incr = Command::from_args([&b"INCR"[..], b"bench:counter"]);
    // Checked before timing (and when the harness only lists the benchmarks, which runs
    // nothing): the script must answer what INCR answers.
    out.truncate(0);
    run(&node, &mut client, &mut out, &evalsha);
    assert!(
        out.take().starts_with(b":"),
        "the script answered an integer"
    );
    let mut g = c.benchmark_group("script");
    g.bench_function("EVALSHA incr one key", |b| {
        b.iter(|| {
            out.truncate(0);
            run(&node, &mut client, &mut out, black_box(&evalsha));
        })
    });
    g.bench_function("INCR, the command it wraps", |b| {
        b.iter(|| {
            out.truncate(0);
            run(&node, &mut client, &mut out, black_box(&incr));
        })
    });
    g.finish();
}

criterion_group!(benches, script_run);
criterion_main!(benches);
