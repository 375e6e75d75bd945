#!/usr/bin/env python3
"""Load harness: `slotgate node` vs. `redis-server`, under redis-benchmark, side by side.

Starts the release `slotgate node` and Debian's `redis-server` with the same settings (loopback,
no persistence), then for every (test, pipeline depth) runs redis-benchmark against each,
alternating which goes first, and prints the medians: ops/s for each, their ratio
(slotgate/redis; the target is >= 1.0 on every line) and CPU seconds per million requests for
each server (utime + stime from /proc/<pid>/stat).

Then, unless --no-memory, the memory comparison, on freshly started servers: both are filled
with the same N small string keys (`key:<i>` = a 16-byte value, pipelined MSETs), and the table shows
each one's RSS growth and redis-server's `used_memory` (the issue's target: slotgate within
1.2x of redis-server's used_memory).

Every process it starts is stopped by PID on exit, on error and on Ctrl-C.

    python3 benches/node_load.py                         # the issue's tests, -P 1 and 16
    python3 benches/node_load.py --tests get,set --pipelines 1 --memory-keys 200000

Python 3.11, standard library only; shares its process and measurement helpers with load.py.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (  # noqa: E402  (load.py sits beside this file)
    REPO,
    Processes,
    accepts,
    cpu_seconds,
    free_port,
    memory_kib,
    parse_rps,
    redis_cli,
    wait_until,
    write_keys,
)

TESTS = "set,get,incr,lpush,lpop,sadd,hset,zadd,mset,xadd,xread,pfadd,geoadd,evalsha"

# A small script for the EVALSHA line: one write, as scripts usually are.
SCRIPT = "return redis.call('incr', KEYS[1])"

# Lines that are not redis-benchmark -t tests: (setup commands run once with redis-cli, the
# command redis-benchmark sends; __rand_int__ is replaced by redis-benchmark, per -r).
CUSTOM = {
    "xadd": ([], ["XADD", "bench:stream", "*", "field", "__rand_int__"]),
    "xread": (
        [["XADD", "bench:read", "*", "field", str(i)] for i in range(100)],
        ["XREAD", "COUNT", "10", "STREAMS", "bench:read", "0"],
    ),
    "pfadd": ([], ["PFADD", "bench:hll", "element:__rand_int__"]),
    "geoadd": ([], ["GEOADD", "bench:geo", "13.361389", "38.115556", "member:__rand_int__"]),
    "evalsha": (
        [["SCRIPT", "LOAD", SCRIPT]],
        ["EVALSHA", hashlib.sha1(SCRIPT.encode()).hexdigest(), "1", "bench:counter"],
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default=TESTS, help="comma-separated redis-benchmark -t names [%(default)s]")
    parser.add_argument("--pipelines", default="1,16", help="comma-separated pipeline depths (-P) [%(default)s]")
    parser.add_argument("--clients", type=int, default=50, help="parallel connections (-c) [%(default)s]")
    parser.add_argument("--data-size", type=int, default=3, help="value size in bytes (-d) [%(default)s]")
    parser.add_argument("--keyspace", type=int, default=100_000, help="random keys (-r) [%(default)s]")
    parser.add_argument("--requests", type=int, default=200_000,
                        help="requests per unpipelined run (-n); pipelined runs take pipeline/4 times as many [%(default)s]")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server; the median is shown [%(default)s]")
    parser.add_argument("--memory-keys", type=int, default=1_000_000, help="keys for the memory comparison [%(default)s]")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory comparison")
    parser.add_argument("--with-replica", action="store_true",
                        help="attach a redis-server replica to each server first, so the lines "
                             "include propagating every write to it")
    parser.add_argument("--no-build", action="store_true", help="do not run `cargo build --release` first")
    parser.add_argument("--node-bin", default=str(REPO / "target" / "release" / "slotgate"), help="slotgate binary [%(default)s]")
    return parser.parse_args()


def start_servers(procs: Processes, scratch: Path, binary: str) -> dict[str, tuple[int, int]]:
    """Starts both servers; returns {name: (pid, port)} once each answers PING."""
    servers = {}
    for name in ("slotgate", "redis"):
        port = free_port()
        common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(scratch)]
        if name == "slotgate":
            args = [binary, "node", *common]
        else:
            args = ["redis-server", *common]
        child = procs.spawn(args, scratch / f"{name}.log")

        def ready(child=child, port=port, name=name) -> bool:
            if child.poll() is not None:
                log = (scratch / f"{name}.log").read_text(errors="replace")
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{log}")
            return accepts(port) and redis_cli(port, "PING").strip() == "PONG"

        wait_until(f"{name} to answer PING", ready)
        servers[name] = (child.pid, port)
    return servers


def attach_replicas(procs: Processes, scratch: Path, servers: dict[str, tuple[int, int]]) -> None:
    """Starts a redis-server replica of each server and waits until each is in sync."""
    for name, (_, master_port) in servers.items():
        port = free_port()
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(scratch), "--dbfilename", f"{name}-replica.rdb",
                "--replicaof", "127.0.0.1", str(master_port)]
        procs.spawn(args, scratch / f"{name}-replica.log")

        def synced(port=port) -> bool:
            return accepts(port) and "master_link_status:up" in redis_cli(port, "INFO", "replication")

        wait_until(f"the replica of {name} to sync", synced)


def requests(args: argparse.Namespace, pipeline: int) -> int:
    """Requests for one run: pipelined runs get more (pipeline/4 times), so that each lasts about
    as long as an unpipelined one instead of being over before the connections warm up."""
    return args.requests * max(1, pipeline // 4)


def prepare(port: int, test: str) -> str | None:
    """Runs a custom line's setup and its command once; the error text if the server refuses
    it (a command not built), so that no line measures how fast errors come back."""
    if test not in CUSTOM:
        return None
    setup, command = CUSTOM[test]
    for step in setup:
        redis_cli(port, *step)
    reply = redis_cli(port, *[part.replace("__rand_int__", "0") for part in command]).strip()
    return reply if reply.startswith(("ERR", "NOSCRIPT", "WRONGTYPE")) else None


def benchmark(args: argparse.Namespace, port: int, test: str, pipeline: int) -> float:
    what = CUSTOM[test][1] if test in CUSTOM else ["-t", test]
    command = [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
        "-c", str(args.clients), "-d", str(args.data_size), "-r", str(args.keyspace),
        "-P", str(pipeline), "-n", str(requests(args, pipeline)), "--csv", *what,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return parse_rps(result.stdout, test)


def measure_throughput(args: argparse.Namespace, servers: dict[str, tuple[int, int]]) -> list[list[str]]:
    lines = []
    for test in (t.strip() for t in args.tests.split(",") if t.strip()):
        refused = {name: prepare(port, test) for name, (_, port) in servers.items()}
        if any(refused.values()):
            for name, error in refused.items():
                if error:
                    print(f"  {test}: {name} refuses it ({error}); line skipped", file=sys.stderr)
            lines.append([test.upper(), "-", "refused" if refused["slotgate"] else "-",
                          "refused" if refused["redis"] else "-", "-", "-", "-"])
            continue
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            ops: dict[str, list[float]] = {"slotgate": [], "redis": []}
            cpu: dict[str, list[float]] = {"slotgate": [], "redis": []}
            for repeat in range(args.repeats):
                order = ("slotgate", "redis") if repeat % 2 == 0 else ("redis", "slotgate")
                for name in order:
                    pid, port = servers[name]
                    before = cpu_seconds(pid)
                    ops[name].append(benchmark(args, port, test, pipeline))
                    cpu[name].append((cpu_seconds(pid) - before) / requests(args, pipeline) * 1e6)
                print(f"  {test} -P {pipeline} run {repeat + 1}: slotgate {ops['slotgate'][-1]:,.0f} ops/s, "
                      f"redis {ops['redis'][-1]:,.0f} ops/s", file=sys.stderr, flush=True)
            ours, theirs = statistics.median(ops["slotgate"]), statistics.median(ops["redis"])
            lines.append([test.upper(), str(pipeline), f"{ours:,.0f}", f"{theirs:,.0f}", f"{ours / theirs:.2f}",
                          f"{statistics.median(cpu['slotgate']):.2f}", f"{statistics.median(cpu['redis']):.2f}"])
    return lines


def used_memory(port: int) -> int:
    for line in redis_cli(port, "INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError(f"no used_memory in INFO memory on port {port}")


def measure_memory(args: argparse.Namespace, servers: dict[str, tuple[int, int]]) -> list[str]:
    keys = [f"key:{i}" for i in range(args.memory_keys)]
    value = "v" * 16
    rss_growth = {}
    for name, (pid, port) in servers.items():
        redis_cli(port, "FLUSHALL")
        time.sleep(0.5)
        before = memory_kib(pid, "VmRSS")
        write_keys(port, keys, value)
        dbsize = int(redis_cli(port, "DBSIZE").strip())
        if dbsize != len(keys):
            raise RuntimeError(f"{name} holds {dbsize} keys after loading {len(keys)}")
        rss_growth[name] = (memory_kib(pid, "VmRSS") - before) * 1024
    redis_used = used_memory(servers["redis"][1])
    mib = 1024 * 1024
    return [
        f"{args.memory_keys:,} string keys (key:<i> = 16-byte value):",
        f"  redis-server used_memory     {redis_used / mib:8.1f} MiB",
        f"  redis-server RSS growth      {rss_growth['redis'] / mib:8.1f} MiB",
        f"  slotgate node RSS growth     {rss_growth['slotgate'] / mib:8.1f} MiB",
        f"  slotgate RSS / redis used_memory  {rss_growth['slotgate'] / redis_used:.2f}x "
        f"(target <= 1.2x); slotgate RSS / redis RSS  {rss_growth['slotgate'] / rss_growth['redis']:.2f}x",
    ]


def print_table(args: argparse.Namespace, lines: list[list[str]]) -> None:
    header = ["test", "pipeline", "slotgate ops/s", "redis ops/s", "slotgate/redis",
              "slotgate CPU s/M", "redis CPU s/M"]
    rows = [header, *lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    replica = ", each with a redis-server replica attached" if args.with_replica else ""
    print(f"\nslotgate node vs. redis-server{replica}: {args.clients} clients, -d {args.data_size}, -r {args.keyspace}, "
          f"-n {args.requests} (x pipeline/4 when pipelined), median of {args.repeats}")
    for n, row in enumerate(rows):
        print("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    args = parse_args()
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: run scripts/ensure-redis.sh first", file=sys.stderr)
            return 2
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes()
    scratch = Path(tempfile.mkdtemp(prefix="slotgate-node-load-"))
    try:
        if args.tests:
            servers = start_servers(procs, scratch, args.node_bin)
            if args.with_replica:
                attach_replicas(procs, scratch, servers)
            print_table(args, measure_throughput(args, servers))
            procs.stop_all()
        if not args.no_memory:
            # Fresh servers: memory freed by the throughput runs stays resident, and a fill
            # that reuses it would show less RSS growth than the data really costs.
            servers = start_servers(procs, scratch, args.node_bin)
            print()
            print("\n".join(measure_memory(args, servers)))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
