#!/usr/bin/env bash
# Runs slotgate in front of a local Redis Cluster: 3 masters + 3 replicas of Debian's
# redis-server, then `slotgate proxy` in the foreground. Ctrl-C stops the proxy and every
# redis-server this script started.
#
#   scripts/run-cluster.sh
#
# Environment (defaults in brackets):
#   CLUSTER_PORTS   the six redis-server ports, masters first [30001 30002 30003 30004 30005 30006];
#                   each also uses its port + 10000 for the cluster bus
#   PROXY_LISTEN    where clients connect [127.0.0.1:7000]
#   METRICS_LISTEN  Prometheus metrics endpoint [127.0.0.1:9121]
#   Arguments to this script are passed on to `slotgate proxy`.
set -euo pipefail

cd "$(dirname "$0")/.."

read -r -a ports <<<"${CLUSTER_PORTS:-30001 30002 30003 30004 30005 30006}"
proxy_listen=${PROXY_LISTEN:-127.0.0.1:7000}
metrics_listen=${METRICS_LISTEN:-127.0.0.1:9121}
if [ "${#ports[@]}" -ne 6 ]; then
    echo "CLUSTER_PORTS must name 6 ports, got: ${ports[*]}" >&2
    exit 2
fi

scripts/ensure-redis.sh
cargo build --release

data=$(mktemp -d -t slotgate-cluster.XXXXXX)
pids=()

# Stops what this script started, by PID, and removes the data directory.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "${#pids[@]}" -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    rm -rf "$data"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for port in "${ports[@]}"; do
    mkdir -p "$data/$port"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode no --daemonize no \
        --dir "$data/$port" --logfile "$data/$port/redis.log" \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
        --appendonly no --save "" --repl-diskless-sync-delay 0 &
    pids+=("$!")
done

# Waits up to 10 s for a command to succeed.
wait_until() {
    local deadline=$((SECONDS + 10))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "timed out waiting for: $*" >&2
            return 1
        fi
        sleep 0.1
    done
}

for port in "${ports[@]}"; do
    wait_until redis-cli -p "$port" ping || { tail -n 5 "$data/$port/redis.log" >&2; exit 1; }
done

addrs=()
for port in "${ports[@]}"; do
    addrs+=("127.0.0.1:$port")
done
redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$data/create.log" ||
    { cat "$data/create.log" >&2; exit 1; }

cluster_ok() {
    local port
    for port in "${ports[@]}"; do
        redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' || return 1
    done
}
wait_until cluster_ok

seeds=$(IFS=,; echo "${addrs[*]:0:3}")
echo "cluster up on ${addrs[*]} (data in $data); starting the proxy on $proxy_listen" >&2
# In the foreground: Ctrl-C reaches the proxy directly; the servers, started in the background
# by a non-interactive shell, ignore it and are stopped by cleanup().
target/release/slotgate proxy --listen "$proxy_listen" --seeds "$seeds" \
    --metrics-listen "$metrics_listen" "$@"
