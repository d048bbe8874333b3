#!/usr/bin/env bash
# What SQLITE_SYNCHRONOUS=full costs: the add_message workload on SQLite with AGENTS agents, the
# default (normal: durable against a process kill) against full (an fsync of the WAL per COMMIT,
# one per group-commit batch: durable against power loss), alternated ROUNDS times so a change of
# machine load hits both alike. Prints calls/s and add_message p50/p99 per run, then the means.
# Usage: scripts/bench/sqlite_sync.sh [AGENTS=20] [SECONDS=10] [ROUNDS=2]
# Environment: SCS_BIN, SCS_BENCH_BIN: release binaries built beforehand (skips the build);
#   BENCH_DIR: where the databases go (default a temporary directory; put it on the disk you mean
#   to measure, since fsync costs what that disk costs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
agents=${1:-20}
secs=${2:-10}
rounds=${3:-2}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/scs-sync.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
export RATE_LIMIT_PER_MINUTE=0 SCS_TOOLS=all
echo "machine: $(nproc) cores; date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD); disk: $(df -P "$work" | awk 'NR==2 {print $1}'); $agents agents, add_message, ${secs}s per run; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for sync in normal full; do
        SCS_DATA_DIR="$work/data" DATABASE_URL="sqlite:$work/$sync-$r.db" SQLITE_SYNCHRONOUS=$sync \
            "$bin" --port 0 2>"$work/server.log" &
        server_pid=$!
        for _ in $(seq 300); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
        mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
        "$bench" --url "$mcp" --agents "$agents" --workload add_message --duration "$secs" --warmup 2 --json >"$work/$sync-$r.json"
        kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
        python3 - "$work/$sync-$r.json" "$sync" "$r" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); lat = r["tools"]["add_message"]["latency_ms"]
print(f"round {sys.argv[3]} {sys.argv[2]:<6}: {r['calls_per_sec']:8.1f} calls/s, errors {r.get('errors', 0)}; "
      f"add_message p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (load average after: {sys.argv[4]})")
PY
    done
done
python3 - "$work" "$rounds" <<'PY'
import json, sys
w, n = sys.argv[1], int(sys.argv[2])
mean = lambda s: sum(json.load(open(f"{w}/{s}-{r}.json"))["calls_per_sec"] for r in range(1, n + 1)) / n
a, b = mean("normal"), mean("full")
print(f"mean: normal {a:.0f} calls/s, full {b:.0f} calls/s; full / normal = {b/a:.2f}")
PY
