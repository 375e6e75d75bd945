#!/usr/bin/env python3
"""Load harness: slotgate proxy vs. a Redis Cluster used directly, under redis-benchmark.

Starts a real 3-master/3-replica Redis Cluster (Debian's redis-server, on free loopback ports)
and the release `slotgate proxy` in front of it, then runs redis-benchmark against the proxy and
directly against the cluster (`redis-benchmark --cluster`), alternating the two, and prints for
every (test, pipeline depth) the median of the repeats:

    ops/s through the proxy, ops/s direct, their ratio, the proxy's CPU seconds per million
    requests (utime + stime from /proc/<pid>/stat) and its peak RSS (VmHWM), plus the proxy's
    idle RSS before any load.

Every process it starts is stopped by PID on exit, on error and on Ctrl-C.

    python3 benches/load.py                      # GET and SET, pipeline 1 and 16, ~5 s a run
    python3 benches/load.py --tests get,set,mset --pipelines 1,16,64 --requests 500000
    python3 benches/load.py --multikey           # plus MGET and MSET of 10 keys (below)

Multi-key tests (`mget10`, `mset10` in --tests, or --multikey to add both): one MGET or MSET of
10 random keys per request. Through the proxy the keys are in different slots, so the proxy
splits each command into one part per slot and merges the replies. A cluster client cannot
send such a command at all, so the direct run is what a cluster allows instead: the same
command with 10 keys under one hash tag, sent to the master that owns the tag's slot (one
master does all the direct work, as it would for a real application's same-slot MGET). Both
sides read keys that exist: the keyspace is written once before the first multi-key run.

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUS_PORT_OFFSET = 10_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Multi-key tests: redis-benchmark custom commands of MULTIKEY_KEYS keys each.
MULTIKEY_TESTS = ("mget10", "mset10")
MULTIKEY_KEYS = 10
# Key prefixes: spread over the slots through the proxy, one slot (the tag's) direct.
PROXY_KEY_PREFIX = "mk:"
DIRECT_TAG = "mk"
DIRECT_KEY_PREFIX = "{" + DIRECT_TAG + "}:"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tests",
        default="get,set",
        help="comma-separated redis-benchmark tests (its -t names, or mget10/mset10) [%(default)s]",
    )
    parser.add_argument(
        "--multikey",
        action="store_true",
        help="also run mget10 and mset10: 10-key MGET/MSET, cross-slot through the proxy vs. "
        "same-slot direct",
    )
    parser.add_argument(
        "--pipelines", default="1,16", help="comma-separated pipeline depths (-P) [%(default)s]"
    )
    parser.add_argument("--clients", type=int, default=50, help="parallel connections (-c) [%(default)s]")
    parser.add_argument("--data-size", type=int, default=64, help="value size in bytes (-d) [%(default)s]")
    parser.add_argument("--keyspace", type=int, default=100_000, help="random keys (-r) [%(default)s]")
    parser.add_argument(
        "--requests",
        type=int,
        default=0,
        help="requests per run (-n); 0 sizes each run to last about --seconds [%(default)s]",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="target length of a run when --requests is 0 [%(default)s]"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per target; the median is shown [%(default)s]")
    parser.add_argument("--threads", type=int, default=0, help="redis-benchmark --threads; 0 for its default")
    parser.add_argument(
        "--proxy-bin", default=str(REPO / "target/release/slotgate"), help="slotgate binary [%(default)s]"
    )
    parser.add_argument("--no-build", action="store_true", help="do not run `cargo build --release` first")
    parser.add_argument(
        "--proxy-arg",
        action="append",
        default=[],
        help="extra argument for `slotgate proxy` (repeat the flag for several)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs) at the end")
    args = parser.parse_args()
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    if args.multikey:
        tests += [t for t in MULTIKEY_TESTS if t not in tests]
    args.tests = ",".join(tests)
    return args


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Processes:
    """Every long-running child, stopped by PID (TERM, then KILL) when the harness ends."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            # Own session: a Ctrl-C in the terminal reaches only this script, which then stops
            # the children itself, in order.
            child = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 5
        for child in self.children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()


def free_port(with_bus_port: bool = False) -> int:
    """A loopback port (and its cluster bus port) nothing listens on, below the ephemeral range."""
    for _ in range(1000):
        port = random.randrange(10_000, 22_000)
        if bindable(port) and (not with_bus_port or bindable(port + BUS_PORT_OFFSET)):
            return port
    raise RuntimeError("no free loopback port")


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(what: str, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_cli(port: int, *args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10, check=False
    )
    return result.stdout


# --------------------------------------------------------------------------------------------
# The cluster and the proxy
# --------------------------------------------------------------------------------------------


def start_cluster(procs: Processes, scratch: Path) -> list[int]:
    """Starts 6 redis-servers and joins them as 3 masters with a replica each; returns the ports,
    masters first."""
    ports: list[int] = []
    for i in range(6):
        port = free_port(with_bus_port=True)
        node_dir = scratch / f"node-{i}"
        node_dir.mkdir()
        procs.spawn(
            [
                "redis-server",
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--protected-mode", "no",
                "--daemonize", "no",
                "--dir", str(node_dir),
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000",
                "--appendonly", "no",
                "--save", "",
                "--repl-diskless-sync-delay", "0",
            ],
            node_dir / "redis.log",
        )
        ports.append(port)
    for port in ports:
        wait_until(f"redis-server on {port}", lambda port=port: redis_cli(port, "ping").strip() == "PONG")
    create = subprocess.run(
        ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
         "--cluster-replicas", "1", "--cluster-yes"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if create.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed:\n{create.stdout}{create.stderr}")
    wait_until(
        "the cluster to be ok on every node",
        lambda: all("cluster_state:ok" in redis_cli(p, "cluster", "info") for p in ports),
    )
    # redis-benchmark --cluster reads CLUSTER NODES; give the replicas time to be seen too.
    wait_until(
        "every node to see 3 masters and 3 replicas",
        lambda: all(redis_cli(p, "cluster", "nodes").count("slave") == 3 for p in ports),
    )
    return ports


def master_of_tag(port: int, tag: str) -> int:
    """The port of the master that serves the slot of `{tag}`, from a node's CLUSTER NODES."""
    slot = int(redis_cli(port, "cluster", "keyslot", tag).strip())
    for line in redis_cli(port, "cluster", "nodes").splitlines():
        fields = line.split()
        if len(fields) < 8 or "master" not in fields[2].split(","):
            continue
        for entry in fields[8:]:
            if entry.startswith("["):  # a migration in progress, not an owned range
                continue
            first, _, last = entry.partition("-")
            if int(first) <= slot <= int(last or first):
                return int(fields[1].split("@")[0].rsplit(":", 1)[1])
    raise RuntimeError(f"no master serves slot {slot} of {{{tag}}}")


def encode_command(args: list[str]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def write_keys(port: int, keys: list[str], value: str) -> None:
    """Sets every key to `value` with pipelined MSETs of 100 keys (cross-slot ones too, when
    `port` is the proxy's)."""
    batches = [keys[i : i + 100] for i in range(0, len(keys), 100)]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock, sock.makefile("rb") as replies:
        for start in range(0, len(batches), 50):
            group = batches[start : start + 50]
            sock.sendall(
                b"".join(encode_command(["MSET", *(a for key in batch for a in (key, value))]) for batch in group)
            )
            for _ in group:
                reply = replies.readline()
                if reply != b"+OK\r\n":
                    raise RuntimeError(f"MSET on port {port} replied {reply!r}")


def start_proxy(procs: Processes, scratch: Path, binary: str, seeds: list[int], extra: list[str]) -> tuple[int, int]:
    """Starts the proxy; returns its (pid, port) once it accepts connections."""
    port = free_port()
    metrics = free_port()
    child = procs.spawn(
        [
            binary, "proxy",
            "--listen", f"127.0.0.1:{port}",
            "--seeds", ",".join(f"127.0.0.1:{p}" for p in seeds),
            "--metrics-listen", f"127.0.0.1:{metrics}",
            *extra,
        ],
        scratch / "proxy.log",
    )

    def ready() -> bool:
        if child.poll() is not None:
            log = (scratch / "proxy.log").read_text(errors="replace")
            raise RuntimeError(f"the proxy exited with {child.returncode}:\n{log}")
        return accepts(port)

    wait_until("the proxy to accept connections", ready)
    return child.pid, port


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def memory_kib(pid: int, field_name: str) -> int:
    """A `Vm*` line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/{pid}/status")


@dataclass
class Targets:
    """Where the runs go: the proxy, the cluster for `--cluster` runs, and the master of
    DIRECT_TAG for direct multi-key runs."""

    proxy_pid: int
    proxy_port: int
    cluster_port: int
    tag_port: int


def multikey_command(test: str, data_size: int, direct: bool) -> list[str]:
    """The custom command of a multi-key test; redis-benchmark replaces every `__rand_int__`
    with its own random number, so the keys differ (and, through the proxy, so do their slots)."""
    key = (DIRECT_KEY_PREFIX if direct else PROXY_KEY_PREFIX) + "__rand_int__"
    if test == "mget10":
        return ["MGET", *[key] * MULTIKEY_KEYS]
    value = "x" * data_size
    return ["MSET", *[key, value] * MULTIKEY_KEYS]


def prefill_multikey(args: argparse.Namespace, targets: Targets) -> None:
    """Writes every key the multi-key tests can pick, on both sides, so MGET reads values."""
    numbers = [f"{n:012d}" for n in range(args.keyspace)]  # redis-benchmark's __rand_int__ form
    value = "x" * args.data_size
    started = time.monotonic()
    write_keys(targets.proxy_port, [PROXY_KEY_PREFIX + n for n in numbers], value)
    write_keys(targets.tag_port, [DIRECT_KEY_PREFIX + n for n in numbers], value)
    print(
        f"  wrote {args.keyspace:,} keys through the proxy and {args.keyspace:,} {{{DIRECT_TAG}}} keys "
        f"directly in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )


@dataclass
class Run:
    ops: float
    cpu_per_million: float | None = None


@dataclass
class Row:
    test: str
    pipeline: int
    requests: int
    proxy: list[Run] = field(default_factory=list)
    direct: list[Run] = field(default_factory=list)
    peak_rss_kib: int = 0


def benchmark(args: argparse.Namespace, test: str, pipeline: int, requests: int, targets: Targets, direct: bool) -> float:
    """One redis-benchmark run, through the proxy or direct; returns its requests per second."""
    multikey = test in MULTIKEY_TESTS
    if not direct:
        port = targets.proxy_port
    else:
        port = targets.tag_port if multikey else targets.cluster_port
    command = [
        "redis-benchmark",
        "-h", "127.0.0.1",
        "-p", str(port),
        "-c", str(args.clients),
        "-d", str(args.data_size),
        "-r", str(args.keyspace),
        "-P", str(pipeline),
        "-n", str(requests),
        "--csv",
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if multikey:
        # A custom command: its CSV row is named by the command line.
        custom = multikey_command(test, args.data_size, direct)
        command += custom
        name = custom[0]
    else:
        command += ["-t", test]
        if direct:
            command.append("--cluster")
        name = test
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    # redis-benchmark exits with 1 at the first error reply, so a run never counts errors as work.
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return parse_rps(result.stdout, name)


def parse_rps(output: str, test: str) -> float:
    """The rps of `test` in redis-benchmark's --csv output (header line, then one row a test)."""
    rows = [row for row in csv.reader(io.StringIO(output)) if row]
    for row in rows:
        if row[0].lower().startswith(test.lower()) and len(row) > 1:
            try:
                return float(row[1])
            except ValueError:
                continue
    raise RuntimeError(f"no result for {test!r} in redis-benchmark output:\n{output}")


def requests_for(args: argparse.Namespace, test: str, pipeline: int, targets: Targets) -> int:
    """-n for one (test, pipeline): fixed, or sized so the faster target runs about --seconds."""
    if args.requests:
        return args.requests
    probe = 20_000 * pipeline
    fastest = max(
        benchmark(args, test, pipeline, probe, targets, direct=False),
        benchmark(args, test, pipeline, probe, targets, direct=True),
    )
    return max(probe, int(fastest * args.seconds))


def measure(args: argparse.Namespace, targets: Targets) -> list[Row]:
    rows = []
    prefilled = False
    for test in args.tests.split(","):
        if test in MULTIKEY_TESTS and not prefilled:
            prefill_multikey(args, targets)
            prefilled = True
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            requests = requests_for(args, test, pipeline, targets)
            row = Row(test, pipeline, requests)
            for repeat in range(args.repeats):
                # Alternate which target goes first, so drift (heat, caches) favours neither.
                order = ("proxy", "direct") if repeat % 2 == 0 else ("direct", "proxy")
                for target in order:
                    if target == "proxy":
                        cpu_before = cpu_seconds(targets.proxy_pid)
                        ops = benchmark(args, test, pipeline, requests, targets, direct=False)
                        cpu = cpu_seconds(targets.proxy_pid) - cpu_before
                        row.proxy.append(Run(ops, cpu / requests * 1e6))
                    else:
                        row.direct.append(Run(benchmark(args, test, pipeline, requests, targets, direct=True)))
                print(
                    f"  {test} -P {pipeline} run {repeat + 1}/{args.repeats}: "
                    f"proxy {row.proxy[-1].ops:,.0f} ops/s, direct {row.direct[-1].ops:,.0f} ops/s",
                    file=sys.stderr,
                    flush=True,
                )
            row.peak_rss_kib = memory_kib(targets.proxy_pid, "VmHWM")
            rows.append(row)
    return rows


def print_table(args: argparse.Namespace, rows: list[Row], idle_rss_kib: int, targets: Targets) -> None:
    print()
    print(
        f"slotgate proxy vs. direct cluster: {args.clients} clients, -d {args.data_size}, "
        f"-r {args.keyspace}, median of {args.repeats}"
    )
    header = ["test", "pipeline", "requests", "proxy ops/s", "direct ops/s", "proxy/direct",
              "proxy CPU s/M req", "proxy peak RSS MiB"]
    lines = [header]
    for row in rows:
        proxy_ops = statistics.median(r.ops for r in row.proxy)
        direct_ops = statistics.median(r.ops for r in row.direct)
        cpu = statistics.median(r.cpu_per_million for r in row.proxy if r.cpu_per_million is not None)
        lines.append([
            row.test.upper(),
            str(row.pipeline),
            f"{row.requests:,}",
            f"{proxy_ops:,.0f}",
            f"{direct_ops:,.0f}",
            f"{proxy_ops / direct_ops:.2f}",
            f"{cpu:.2f}",
            f"{row.peak_rss_kib / 1024:.1f}",
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(cell.rjust(width) if i > 0 else cell.ljust(width)
                        for i, (cell, width) in enumerate(zip(line, widths))))
        if n == 0:
            print("  ".join("-" * width for width in widths))
    if any(row.test in MULTIKEY_TESTS for row in rows):
        print(
            f"\nMGET10/MSET10: {MULTIKEY_KEYS} keys per request (ops/s are commands, not keys). Proxy: keys in "
            f"different slots, split by the proxy; direct: the same command with the keys under one hash tag, "
            f"sent to the master of its slot (port {targets.tag_port})."
        )
    print(f"\nproxy idle RSS before load: {idle_rss_kib / 1024:.1f} MiB")


# --------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: run scripts/ensure-redis.sh first", file=sys.stderr)
            return 2
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)

    # Ctrl-C (even if started from a shell that ignores it for background jobs) and SIGTERM (e.g.
    # from a CI timeout) unwind through the cleanup below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes()
    scratch = Path(tempfile.mkdtemp(prefix="slotgate-load-"))
    try:
        ports = start_cluster(procs, scratch)
        proxy_pid, proxy_port = start_proxy(procs, scratch, args.proxy_bin, ports[:3], args.proxy_arg)
        targets = Targets(proxy_pid, proxy_port, ports[0], master_of_tag(ports[0], DIRECT_TAG))
        # A moment for the proxy to settle (topology fetched, pools opened) before idle RSS.
        time.sleep(1)
        idle_rss = memory_kib(proxy_pid, "VmRSS")
        print(f"cluster on {ports}, proxy (pid {proxy_pid}) on {proxy_port}", file=sys.stderr)
        rows = measure(args, targets)
        print_table(args, rows, idle_rss, targets)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if args.keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
