#!/usr/bin/env bash
# PostgreSQL under load: 50 agents on the mixed workload for MINUTES (resident memory sampled every
# second), then 200 agents against a pool of 30 (every call must succeed or fail with a clear,
# retryable error, none past the pool timeout). Usage: scripts/bench/pg_load.sh [MINUTES=5]
# Environment: MCP_STATELESS=true for the stateless HTTP mode; POSTGRES_POOL_SIZE and
# POSTGRES_MAX_OVERFLOW (default 20 and 10, the seed's) for the pool of the 50-agent run.
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
minutes=${1:-5}
cargo build --release --locked --workspace >&2
bin=${CARGO_TARGET_DIR:-target}/release/shared-context-server
bench=${CARGO_TARGET_DIR:-target}/release/scs-bench
scripts/ensure-postgres.sh >/dev/null  # installs PostgreSQL if missing
# A cluster of our own with the shipped postgresql.conf (see bench-postgres.sh for why).
pg_dir=$(mktemp -u /tmp/scs-bench-pg.XXXXXX)
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
db="scs_load_$$"
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    scripts/bench/bench-postgres.sh stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn RATE_LIMIT_PER_MINUTE=0
SCS_DATA_DIR="$work/data" DATABASE_URL="${pg_admin%/*}/$db" POSTGRES_POOL_SIZE=${POSTGRES_POOL_SIZE:-20} POSTGRES_MAX_OVERFLOW=${POSTGRES_MAX_OVERFLOW:-10} POSTGRES_POOL_TIMEOUT=30 \
    "$bin" --port 0 >/dev/null 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
echo "machine: $(nproc) cores; date: $(date -u +%F); PostgreSQL with postgresql/postgresql.conf; pool ${POSTGRES_POOL_SIZE:-20} + ${POSTGRES_MAX_OVERFLOW:-10}; HTTP mode: $([ "${MCP_STATELESS:-false}" = true ] && echo stateless || echo stateful)"
echo "== 50 agents, mixed, $minutes min"
"$bench" --url "$mcp" --agents 50 --workload mixed --duration $((minutes * 60)) --warmup 5 --sample-rss-pid "$server_pid"
pool() { curl -s -H "Host: localhost" "${mcp%/mcp}/health" | python3 -c 'import json,sys; h=json.load(sys.stdin); print(sys.argv[1], h["pool"])' "$1"; }
pool "pool after the 50-agent run (acquisitions since start):"
echo "== 200 agents against a pool of 30, mixed, 30 s"
"$bench" --url "$mcp" --agents 200 --workload mixed --duration 30 --warmup 3 --call-timeout 35 --allow-errors --sample-rss-pid "$server_pid"
pool "pool after both runs (acquisitions since start):"
