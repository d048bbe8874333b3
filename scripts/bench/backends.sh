#!/usr/bin/env bash
# SQLite against PostgreSQL under the same concurrent load (issue 12, part 4): the mixed workload
# (get_messages 35, add_message 25, search_context 15, get_memory 15, set_memory 10) with AGENTS
# agents, each backend ROUNDS times, alternating (sqlite, postgres, sqlite, ...) so a change of
# machine load hits both alike. Prints each run's calls/s and add_message p50/p99, then the mean
# ratio SQLite / PostgreSQL.
# Usage: scripts/bench/backends.sh [AGENTS=20] [SECONDS=15] [ROUNDS=2]
# Environment: SCS_BIN and SCS_BENCH_BIN: release binaries of the server and
#   of scs-bench built beforehand (skips the build).
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
agents=${1:-20}
secs=${2:-15}
rounds=${3:-2}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
scripts/ensure-postgres.sh >/dev/null
pg_dir=$(mktemp -u /tmp/scs-backends-pg.XXXXXX)
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    scripts/bench/bench-postgres.sh stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
export RATE_LIMIT_PER_MINUTE=0
echo "machine: $(nproc) cores; date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD); $agents agents, mixed, ${secs}s per run; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for backend in sqlite postgres; do
        if [ "$backend" = sqlite ]; then
            url="sqlite:$work/bench-$r.db"
        else
            psql "$pg_admin" -qc "CREATE DATABASE scs_backends_$r" >/dev/null
            url="${pg_admin%/*}/scs_backends_$r"
        fi
        SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" --port 0 2>"$work/server.log" &
        server_pid=$!
        for _ in $(seq 300); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
        mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
        "$bench" --url "$mcp" --agents "$agents" --workload mixed --duration "$secs" --warmup 3 --json >"$work/$backend-$r.json"
        kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
        python3 - "$work/$backend-$r.json" "$backend" "$r" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); add = r["tools"].get("add_message", {}); lat = add.get("latency_ms") or {}
print(f"round {sys.argv[3]} {sys.argv[2]:<8}: {r['calls_per_sec']:8.1f} calls/s, errors {r.get('errors', 0)}; "
      f"add_message p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms (load average after: {sys.argv[4]})")
PY
    done
done
python3 - "$work" "$rounds" <<'PY'
import json, sys
w, n = sys.argv[1], int(sys.argv[2])
s = [json.load(open(f"{w}/sqlite-{r}.json"))["calls_per_sec"] for r in range(1, n + 1)]
p = [json.load(open(f"{w}/postgres-{r}.json"))["calls_per_sec"] for r in range(1, n + 1)]
print(f"mean: SQLite {sum(s)/n:.0f} calls/s, PostgreSQL {sum(p)/n:.0f} calls/s; SQLite / PostgreSQL = {sum(s)/sum(p):.2f}")
PY
