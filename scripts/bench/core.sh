#!/usr/bin/env bash
# Core figures for docs/BENCHMARKS.md: start-to-ready time and idle memory (SQLite), and
# single-agent sequential latency of add_message and get_messages over HTTP on SQLite and
# PostgreSQL. Usage: scripts/bench/core.sh [SECONDS_PER_RUN]   (release build; ~2 min)
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-10}
cargo build --release --locked --workspace >&2
bin=${CARGO_TARGET_DIR:-target}/release/shared-context-server
bench=${CARGO_TARGET_DIR:-target}/release/scs-bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); date: $(date -u +%F)"
python3 scripts/bench/startup.py "$bin" 10

pg_admin=$(scripts/ensure-postgres.sh)
work=$(mktemp -d)
pg_db="scs_bench_$$"
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg_admin" -qc "CREATE DATABASE $pg_db" >/dev/null

export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
# The load generator drives each agent far above the default per-agent rate limit.
export RATE_LIMIT_PER_MINUTE=0
for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then url="sqlite:$work/bench.db"; else url="${pg_admin%/*}/$pg_db"; fi
    SCS_DATA_DIR="$work/data-$backend" DATABASE_URL="$url" "$bin" --port 0 >/dev/null 2>"$work/server-$backend.log" &
    server_pid=$!
    for _ in $(seq 100); do grep -q "ready: http" "$work/server-$backend.log" && break; sleep 0.1; done
    mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server-$backend.log")
    for tool in add_message get_messages set_memory get_memory; do
        echo "== $backend: $tool, 1 agent, sequential, ${secs}s"
        "$bench" --url "$mcp" --agents 1 --workload "$tool" --duration "$secs" --warmup 2
    done
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
done
