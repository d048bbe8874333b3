#!/usr/bin/env bash
# What the default log settings cost: two servers on SQLite, one with the default logs (no
# LOG_LEVEL: info, the MCP SDK kept at warn) and one with LOG_LEVEL=warn, driven in alternating
# rounds by the same load so both see the same machine load. Per round: calls/s, the server's CPU
# per call (from /proc) and the log lines it wrote per call. Prints the medians and the ratio.
# Usage: scripts/bench/log_cost.sh [ROUNDS=6] [SECONDS=8]   (MCP_STATELESS=false for stateful;
# WORKLOAD=mixed; AGENTS=10; BIN=/path/to/shared-context-server BENCH=/path/to/scs-bench)
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rounds=${1:-6}
secs=${2:-8}
stateless=${MCP_STATELESS:-true}
# BIN=path measures another build of the server (e.g. a debug one) with the same load.
[ -n "${BIN:-}" ] || cargo build --release --locked --workspace >&2
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${BENCH:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 RATE_LIMIT_PER_MINUTE=0
unset LOG_LEVEL SCS_LOG_LEVEL RUST_LOG LOG_FORMAT
tick=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A url pid
for mode in default warn; do
    level=()
    [ "$mode" = warn ] && level=(--log-level warn)
    SCS_DATA_DIR="$work/data-$mode" DATABASE_URL="sqlite:$work/$mode.db" MCP_STATELESS=$stateless \
        "$bin" --port 0 "${level[@]}" >/dev/null 2>"$work/$mode.log" &
    pid[$mode]=$!
    pids+=("$!")
    for _ in $(seq 100); do grep -q "ready: http" "$work/$mode.log" && break; sleep 0.1; done
    url[$mode]=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/$mode.log" | head -1)
done
echo "machine: $(nproc) cores; date: $(date -u +'%F %H:%M') UTC; commit $(git rev-parse --short HEAD); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "SQLite, stateless=$stateless, workload ${WORKLOAD:-mixed}, ${AGENTS:-10} agents, $rounds rounds x ${secs}s per mode, alternating"
printf '%-6s %-8s %9s %16s %14s\n' round mode calls/s "server µs/call" "log lines/call"
for r in $(seq "$rounds"); do
    for mode in default warn; do
        p=${pid[$mode]}
        lines0=$(wc -l <"$work/$mode.log"); t0=$(ticks "$p")
        out=$("$bench" --url "${url[$mode]}" --agents "${AGENTS:-10}" --workload "${WORKLOAD:-mixed}" \
            --duration "$secs" --warmup 1 --json 2>/dev/null)
        t1=$(ticks "$p"); lines1=$(wc -l <"$work/$mode.log")
        python3 - "$r" "$mode" "$out" "$((t1 - t0))" "$tick" "$((lines1 - lines0))" >>"$work/rows" <<'PY'
import json, sys
r, mode, out, dt, tick, lines = sys.argv[1:]
o = json.loads(out)
calls = max(o["calls"] + o["warmup_calls"], 1)
print(r, mode, o["calls_per_sec"], int(dt) / int(tick) * 1e6 / calls, int(lines) / calls)
PY
        tail -1 "$work/rows" | awk '{printf "%-6s %-8s %9.1f %16.0f %14.3f\n", $1, $2, $3, $4, $5}'
    done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {m: (statistics.median(float(r[2]) for r in rows if r[1] == m),
           statistics.median(float(r[3]) for r in rows if r[1] == m),
           statistics.median(float(r[4]) for r in rows if r[1] == m)) for m in ("default", "warn")}
for m, (cps, us, lines) in med.items():
    print(f"median {m:8s} {cps:9.1f} calls/s {us:8.0f} µs/call {lines:.3f} lines/call")
print(f"default / warn: calls/s {med['default'][0] / med['warn'][0]:.3f}, server CPU per call {med['default'][1] / med['warn'][1]:.3f}")
PY
