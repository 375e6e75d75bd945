#!/usr/bin/env bash
# Installs Debian's redis-server and redis-tools (redis-cli, redis-benchmark) when redis-server
# is missing. The tests, scripts/run-cluster.sh and benches/load.py start their own servers on
# their own ports, so the system-wide service the package starts is stopped and disabled again,
# by its service name only: no other process is touched.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

echo "redis-server not found: installing Debian's redis-server and redis-tools" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y redis-server redis-tools
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
    "${sudo[@]}" service redis-server stop >/dev/null 2>&1 || true
fi
