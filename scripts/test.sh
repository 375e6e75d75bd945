#!/usr/bin/env bash
# slotgate's one test command: unit tests, integration tests (real redis-server clusters and the
# real proxy binary) and the benches built in test mode.
#
#   scripts/test.sh [more arguments for the test runner]
#
# Installs redis-server and redis-tools if missing (scripts/ensure-redis.sh), then runs
# `cargo nextest run` if cargo-nextest is installed, else `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/ensure-redis.sh

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-targets "$@"
else
    cargo test --workspace --all-targets "$@"
fi
