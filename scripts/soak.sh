#!/usr/bin/env bash
# Soak: a mixed load for MINUTES minutes while resident memory, open file descriptors, pool figures
# and latency are recorded every 10 s; fails when memory or descriptors keep growing.
#
# usage: scripts/soak.sh [MINUTES] [--postgres]        (MINUTES defaults to 10)
#
# 1. cargo build --release --locked --workspace (the server and the `scs-bench` load generator).
# 2. Starts the server on a free loopback port with a temporary data directory and random keys:
#    SQLite by default; with --postgres, a fresh database scs_soak_<pid> on the server given by
#    SCS_TEST_POSTGRES_URL (default: what scripts/ensure-postgres.sh prints), dropped at the end.
#    The per-agent rate limit is off (RATE_LIMIT_PER_MINUTE=0) so the load is as hard as the machine
#    allows; set RATE_LIMIT_PER_MINUTE to keep one.
# 3. Runs `scs-bench --agents 20 --workload mixed --duration MINUTES*60` in the
#    background (20 agents, each its own MCP session and token, one call in flight each; mixed =
#    get_messages 35, add_message 25, search_context 15, get_memory 15, set_memory 10).
# 4. scripts/soak_sample.py samples the server every 10 s into target/soak/soak-<backend>-<time>.csv
#    (RSS, fds, threads, pool size/idle/in use/waiting, acquire p99, database size, calls/s, errors,
#    p50/p99 from /metrics) and at the end prints first/last/max and the growth from the first
#    minute to the last minute of the load (the peak of each window; see soak_sample.py).
# Exit 0 iff RSS and descriptors grew by at most 10 % (SOAK_MAX_GROWTH), /health always answered
# 200, the bench reported no failed call, and the server stopped cleanly on SIGTERM.
set -uo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=10
BACKEND=sqlite
for arg in "$@"; do
  case $arg in
    --postgres) BACKEND=postgres ;;
    --sqlite) BACKEND=sqlite ;;
    ''|*[!0-9]*) echo "usage: scripts/soak.sh [MINUTES] [--postgres]" >&2; exit 2 ;;
    *) MINUTES=$arg ;;
  esac
done
[[ $MINUTES -ge 1 ]] || { echo "soak: MINUTES must be at least 1" >&2; exit 2; }
SECONDS_TOTAL=$((MINUTES * 60))
INTERVAL=${SOAK_INTERVAL:-10}
MAX_GROWTH=${SOAK_MAX_GROWTH:-10}
AGENTS=${SOAK_AGENTS:-20}

log() { echo "== soak: $*"; }
die() { echo "soak: FAILED: $*" >&2; exit 1; }

log "building release (cargo build --release --locked --workspace)"
(cd "$ROOT" && cargo build --release --locked --workspace) || die "cargo build --release"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/shared-context-server
BENCH=${CARGO_TARGET_DIR:-$ROOT/target}/release/scs-bench

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scs-soak.XXXXXX")
SERVER_PID=""; BENCH_PID=""; PG_DB=""; PG_ADMIN=""
cleanup() {
  [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null && kill -TERM "$BENCH_PID" 2>/dev/null
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  if [[ -n $PG_DB ]]; then
    psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/data" "$ROOT/target/soak"
if [[ $BACKEND == postgres ]]; then
  PG_ADMIN=${SCS_TEST_POSTGRES_URL:-$(bash "$ROOT/scripts/ensure-postgres.sh")} || die "no PostgreSQL (scripts/ensure-postgres.sh)"
  PG_DB=scs_soak_$$
  psql "$PG_ADMIN" -qAt -c "CREATE DATABASE $PG_DB" || die "CREATE DATABASE $PG_DB"
  DATABASE_URL="${PG_ADMIN%/*}/$PG_DB"
else
  DATABASE_URL="sqlite:$WORK/data/soak.db"
fi
API_KEY_VALUE="soak-api-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_KEY_VALUE="soak-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

SCS_DATA_DIR=$WORK/data DATABASE_URL=$DATABASE_URL API_KEY=$API_KEY_VALUE ADMIN_API_KEY=$ADMIN_KEY_VALUE \
  MCP_TRANSPORT=http HTTP_HOST=127.0.0.1 LOG_LEVEL=warn RATE_LIMIT_PER_MINUTE=${RATE_LIMIT_PER_MINUTE:-0} \
  "$BIN" --port 0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 300); do
  URL=$(grep -o 'shared-context-server ready: http://[^ ]*/mcp' "$WORK/server.err" 2>/dev/null | head -1 | sed 's/.*ready: //')
  [[ -n $URL ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n $URL ]] || { cat "$WORK/server.err"; die "the server did not start"; }
BASE=${URL%/mcp}
CSV=$ROOT/target/soak/soak-$BACKEND-$(date -u +%Y%m%dT%H%M%SZ).csv
log "server pid $SERVER_PID at $URL ($BACKEND); $AGENTS agents, mixed workload, $MINUTES min; samples every ${INTERVAL}s -> $CSV"

API_KEY=$API_KEY_VALUE "$BENCH" --url "$URL" --agents "$AGENTS" --workload mixed --duration "$SECONDS_TOTAL" \
  >"$WORK/bench.out" 2>"$WORK/bench.err" &
BENCH_PID=$!

python3 "$ROOT/scripts/soak_sample.py" --pid "$SERVER_PID" --base "$BASE" --csv "$CSV" \
  --interval "$INTERVAL" --while-pid "$BENCH_PID" --max-growth "$MAX_GROWTH"
sampler=$?

wait "$BENCH_PID"; bench=$?; BENCH_PID=""
log "bench (exit $bench):"
cat "$WORK/bench.out"
[[ $bench == 0 ]] || tail -n 20 "$WORK/bench.err"

server=0
if kill -0 "$SERVER_PID" 2>/dev/null; then
  kill -TERM "$SERVER_PID"
  running=1
  for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || { running=0; break; }; sleep 0.1; done
  if [[ $running == 0 ]]; then
    wait "$SERVER_PID"; server=$?
    [[ $server == 0 ]] || log "server exited with $server after SIGTERM"
  else
    log "server did not stop within 15 s of SIGTERM"; server=1
  fi
  SERVER_PID=""
else
  log "server died during the run"; server=1
fi
if grep -qi panicked "$WORK/server.err"; then log "server logged a panic"; server=1; fi
[[ $server == 0 ]] || tail -n 40 "$WORK/server.err"

failed=0
[[ $sampler == 0 ]] || { log "FAILED: memory/descriptor growth or health (see PROBLEM lines)"; failed=1; }
[[ $bench == 0 ]] || { log "FAILED: bench exit $bench"; failed=1; }
[[ $server == 0 ]] || { log "FAILED: server exit or panic"; failed=1; }
log "csv: $CSV"
if [[ $failed == 0 ]]; then echo "soak: 1 passed, 0 failed"; else echo "soak: 0 passed, 1 failed"; fi
exit $failed
