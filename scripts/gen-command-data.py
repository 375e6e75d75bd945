#!/usr/bin/env python3
"""Regenerates src/command/redis-7.0-commands.resp from a real Redis 7.0.

Starts a throwaway `redis-server` on a free loopback port (no persistence, scratch directory),
sends `COMMAND` over a raw socket, and stores the RESP2 reply. Redis lists commands (and each
container's subcommands) in hash-table order, which is not stable, so the entries are sorted by
name before the reply is re-encoded; RESP2 has one encoding per value, so every entry keeps the
exact bytes Redis sent for it. The server is stopped by its PID.

Usage: scripts/gen-command-data.py [--redis-server PATH] [--out PATH]
Only the Python 3 standard library is used.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "src", "command", "redis-7.0-commands.resp")
EXPECTED_MAJOR_MINOR = "7.0."
START_TIMEOUT = 10.0
START_ATTEMPTS = 5


# --- RESP2 -------------------------------------------------------------------------------------

class Reader:
    """Reads RESP2 values from a socket, buffering as needed."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("redis-server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            at = self.buf.find(b"\r\n")
            if at >= 0:
                line, self.buf = self.buf[:at], self.buf[at + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One value: ('+'|'-', bytes), (':', int), ('$', bytes|None), ('*', list|None)."""
        line = self._line()
        kind, rest = chr(line[0]), line[1:]
        if kind in "+-":
            return (kind, rest)
        if kind == ":":
            return (kind, int(rest))
        if kind == "$":
            n = int(rest)
            return (kind, None if n < 0 else self._exact(n))
        if kind == "*":
            n = int(rest)
            return (kind, None if n < 0 else [self.read() for _ in range(n)])
        raise ValueError(f"unexpected RESP2 type byte {line[:1]!r}")


def encode(value):
    kind, v = value
    if kind in "+-":
        return kind.encode() + v + b"\r\n"
    if kind == ":":
        return b":%d\r\n" % v
    if kind == "$":
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
    if kind == "*":
        if v is None:
            return b"*-1\r\n"
        return b"*%d\r\n" % len(v) + b"".join(encode(x) for x in v)
    raise ValueError(kind)


def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# --- the throwaway server ----------------------------------------------------------------------

def free_port():
    """A random loopback port that can be bound right now (below the ephemeral range)."""
    for _ in range(1000):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    sys.exit("no free loopback port found")


def start_server(binary, workdir):
    """Starts redis-server, returning (process, connected socket); retries on a new port."""
    last = ""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        log = os.path.join(workdir, f"redis-{port}.log")
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir, "--logfile", log, "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            sock.settimeout(30)
            sock.sendall(command("PING"))
            if Reader(sock).read() == ("+", b"PONG"):
                return proc, sock
            sock.close()
            time.sleep(0.05)
        stop_server(proc)
        last = open(log, errors="replace").read()[-2000:] if os.path.exists(log) else ""
    sys.exit(f"redis-server did not start after {START_ATTEMPTS} attempts:\n{last}")


def stop_server(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the data ----------------------------------------------------------------------------------

def entry_name(entry):
    kind, fields = entry
    assert kind == "*" and fields[0][0] == "$", f"unexpected COMMAND entry {entry!r:.200}"
    return fields[0][1]


def sort_entry(entry):
    """Sorts a command entry's subcommands (field 10) by name, recursively."""
    kind, fields = entry
    if len(fields) > 9 and fields[9][0] == "*" and fields[9][1]:
        subs = [sort_entry(s) for s in fields[9][1]]
        subs.sort(key=entry_name)
        fields = fields[:9] + [("*", subs)] + fields[10:]
    return (kind, fields)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    version = subprocess.run([args.redis_server, "--version"], capture_output=True,
                             text=True, check=True).stdout
    if f"v={EXPECTED_MAJOR_MINOR}" not in version:
        sys.exit(f"need a Redis {EXPECTED_MAJOR_MINOR}x server, got: {version.strip()}")

    workdir = tempfile.mkdtemp(prefix="slotgate-gen-command-data-")
    proc = None
    try:
        proc, sock = start_server(args.redis_server, workdir)
        reader = Reader(sock)
        sock.sendall(command("COMMAND"))
        reply = reader.read()
        sock.sendall(command("COMMAND", "COUNT"))
        count = reader.read()
        sock.close()
    finally:
        if proc is not None:
            stop_server(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    kind, entries = reply
    if kind != "*" or not entries:
        sys.exit(f"COMMAND did not answer an array: {reply!r:.200}")
    if count != (":", len(entries)):
        sys.exit(f"COMMAND COUNT answered {count!r}, COMMAND listed {len(entries)}")
    entries = sorted((sort_entry(e) for e in entries), key=entry_name)
    names = [entry_name(e) for e in entries]
    if len(set(names)) != len(names):
        sys.exit("COMMAND listed a name twice")
    data = encode(("*", entries))
    if len(data) != len(encode(reply)):
        sys.exit("re-encoding changed the size of the reply")

    with open(args.out, "wb") as f:
        f.write(data)
    print(f"{args.out}: {len(entries)} commands, {len(data)} bytes, from {version.split()[2]}")


if __name__ == "__main__":
    main()
