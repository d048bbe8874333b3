#!/usr/bin/env bash
# Where the CPU goes: for each tool alone, and for the mixed workload, 50 agents drive the server
# on PostgreSQL (a cluster with postgresql/postgresql.conf) and the CPU time of the server, of all
# PostgreSQL processes and of the load generator is read from /proc over the measured window, then
# divided by the calls made in it. On a machine where all three share the cores, calls/s can never
# exceed cores / (sum of the three per-call figures).
# Usage: scripts/bench/cpu_budget.sh [SECONDS=12]   (MCP_STATELESS=true for the stateless mode;
# WORKLOADS="mixed get_messages" for some rows only; SCS_BIN and SCS_BENCH_BIN, release binaries
# built beforehand, as in pg_ratio.sh)
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-12}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
scripts/ensure-postgres.sh >/dev/null
pg_dir=$(mktemp -u /tmp/scs-bench-pg.XXXXXX)
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    scripts/bench/bench-postgres.sh stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn RATE_LIMIT_PER_MINUTE=0
tick=$(getconf CLK_TCK)
# utime + stime of the given pids, in clock ticks.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
# This cluster's postmaster and its children only: `pgrep -f 'postgres: '` also counted every other
# cluster's backends on the machine (on a shared host, other people's test databases).
pg_pids() {
    local pm
    pm=$(head -1 "$pg_dir/data/postmaster.pid" 2>/dev/null) || return 0
    echo "$pm $(pgrep -d ' ' -P "$pm" || true)"
}

echo "machine: $(nproc) cores; date: $(date -u +%F); HTTP mode: $([ "${MCP_STATELESS:-false}" = true ] && echo stateless || echo stateful); ${secs}s per row"
printf '%-15s %9s %14s %14s %14s %14s\n' workload calls/s "server µs" "postgres µs" "generator µs" "total µs"
for wl in ${WORKLOADS:-add_message get_messages search_context set_memory get_memory mixed}; do
    db="scs_cpu_${wl}"
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    SCS_DATA_DIR="$work/data-$wl" DATABASE_URL="${pg_admin%/*}/$db" POSTGRES_POOL_SIZE=${POSTGRES_POOL_SIZE:-20} \
        POSTGRES_MAX_OVERFLOW=${POSTGRES_MAX_OVERFLOW:-10} "$bin" --port 0 >/dev/null 2>"$work/server-$wl.log" &
    server_pid=$!
    for _ in $(seq 100); do grep -q "ready: http" "$work/server-$wl.log" && break; sleep 0.1; done
    mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server-$wl.log")
    "$bench" --url "$mcp" --agents 50 --workload "$wl" --duration "$secs" --warmup 3 >"$work/bench-$wl.txt" 2>&1 &
    bench_pid=$!
    # Measure the middle of the run: after setup and warm-up, before the end.
    sleep 5
    s0=$(ticks "$server_pid"); p0=$(ticks $(pg_pids)); b0=$(ticks "$bench_pid"); t0=$(date +%s.%N)
    sleep $((secs - 4))
    s1=$(ticks "$server_pid"); p1=$(ticks $(pg_pids)); b1=$(ticks "$bench_pid"); t1=$(date +%s.%N)
    wait "$bench_pid"
    rate=$(awk '/^total/ {print $3}' "$work/bench-$wl.txt")
    awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v b=$((b1 - b0)) -v hz="$tick" -v r="$rate" -v t0="$t0" -v t1="$t1" -v wl="$wl" 'BEGIN {
        calls = r * (t1 - t0); f = 1e6 / hz / calls
        printf "%-15s %9.0f %14.0f %14.0f %14.0f %14.0f\n", wl, r, s * f, p * f, b * f, (s + p + b) * f }'
    kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    server_pid=
    psql "$pg_admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
done
