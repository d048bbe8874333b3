#!/usr/bin/env bash
# One server process against two on the same PostgreSQL (docs/SCALING.md): the mixed workload
# with AGENTS agents in total, first all on one process, then half on each of two processes
# (two load generators at once), alternating ROUNDS times. Prints calls/s per run and the total.
# Usage: scripts/bench/processes.sh [AGENTS=40] [SECONDS=15] [ROUNDS=2]
# Environment: SCS_BIN and SCS_BENCH_BIN: release binaries of the server and
#   of scs-bench built beforehand (skips the build).
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
agents=${1:-40}
secs=${2:-15}
rounds=${3:-2}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
scripts/ensure-postgres.sh >/dev/null
pg_dir=$(mktemp -u /tmp/scs-procs-pg.XXXXXX)
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/bench/bench-postgres.sh stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
export RATE_LIMIT_PER_MINUTE=0
psql "$pg_admin" -qc "CREATE DATABASE scs_procs" >/dev/null
url="${pg_admin%/*}/scs_procs"
SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" migrate 2>/dev/null
start() {  # $1: name; the MCP URL goes to $work/$1.url
    SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" --port 0 >/dev/null 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 300); do grep -q "ready: http" "$work/$1.log" && break; sleep 0.1; done
    sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/$1.log" >"$work/$1.url"
}
start a
start b
a=$(cat "$work/a.url")
b=$(cat "$work/b.url")
rate() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["calls_per_sec"])' "$1"; }
bench() {  # url agents out
    "$bench" --url "$1" --agents "$2" --workload mixed --duration "$secs" --warmup 3 --json >"$3"
}
echo "machine: $(nproc) cores; date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD); $agents agents, mixed, ${secs}s per run; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    bench "$a" "$agents" "$work/one.json"
    echo "round $r, 1 process : $(rate "$work/one.json") calls/s (load average: $(cut -d' ' -f1 /proc/loadavg))"
    bench "$a" $((agents / 2)) "$work/a.json" &
    first=$!
    bench "$b" $((agents - agents / 2)) "$work/b.json"
    wait "$first"
    python3 - "$work/a.json" "$work/b.json" "$r" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
a, b = (json.load(open(p))["calls_per_sec"] for p in sys.argv[1:3])
print(f"round {sys.argv[3]}, 2 processes: {a:.1f} + {b:.1f} = {a + b:.1f} calls/s (load average: {sys.argv[4]})")
PY
done
