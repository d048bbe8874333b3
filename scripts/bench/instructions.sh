#!/usr/bin/env bash
# Instructions per call of the server, counted by callgrind: a figure that does not depend on the
# machine's load (calls/s on two shared cores does). The release server runs under
# `valgrind --tool=callgrind` on PostgreSQL or SQLite; instructions_client.py posts a session of
# 120 messages, then for each case (a ping, a tools/call refused before the database, get_memory,
# get_messages of 50 messages, search_context, list_memory, list_sessions, set_memory,
# add_message) counts only the instructions of CALLS calls, warm-up left out. Prints instructions
# per call per case, and the functions with the most inclusive instructions in the get_messages
# case (TOP of them).
# SQLite's engine runs inside the server, so its instructions are in the count; PostgreSQL's are
# not: on PostgreSQL each case also prints the CPU time its backends spent per call (µs, from
# /proc/PID/schedstat), to set beside the server's count.
#
# Usage: scripts/bench/instructions.sh [CALLS=200]
# Environment: BACKEND=sqlite for a fresh SQLite file (default postgres); NATIVE=true runs the
# server without callgrind and prints, per call, the server's CPU time (all its threads) and
# context switches instead (wall-clock costs callgrind does not count: thread hand-offs);
# MCP_STATELESS=true for the stateless HTTP mode; SCS_BIN, a server binary with symbols (default:
# a release build with strip off, `CARGO_PROFILE_RELEASE_STRIP=false cargo build --release`);
# PG_ADMIN, a PostgreSQL admin URL (default: 127.0.0.1:5432, as the tests use); KEEP=DIR keeps
# the callgrind files there; TOP=40.
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
calls=${1:-200}
top=${TOP:-40}
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
pg_admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
command -v callgrind_control >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 1; }
backend=${BACKEND:-postgres}
db="scs_instr_$$"
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    [ "$backend" = postgres ] && psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ "$backend" = sqlite ]; then
    url="sqlite:$work/instr.db"
    pg_args=()
else
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    # No TLS, as on the benchmark clusters (scripts/bench/bench-postgres.sh): a server with ssl=on
    # would otherwise add the encryption of every page to the count.
    url="${pg_admin%/*}/$db?sslmode=disable"
    pg_args=("$pg_admin" "$db")
fi
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
export RATE_LIMIT_PER_MINUTE=0
SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" migrate 2>/dev/null
: >"$work/server.log"

if [ "${NATIVE:-false}" = true ]; then
    run=()
else
    run=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out")
fi
SCS_DATA_DIR="$work/data" DATABASE_URL="$url" POSTGRES_POOL_SIZE=4 POSTGRES_MAX_OVERFLOW=0 \
    "${run[@]}" "$bin" --port 0 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 600); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
[ -n "$mcp" ] || { cat "$work/server.log" >&2; exit 1; }
mode=$([ "${MCP_STATELESS:-false}" = true ] && echo stateless || echo stateful)
echo "instructions per call: $bin, $mode HTTP, $backend, $calls calls per case; date: $(date -u +'%F %R'); commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+changes'); load average: $(cut -d' ' -f1-3 /proc/loadavg) (does not change the counts)"
python3 scripts/bench/instructions_client.py "$mcp" "$server_pid" "$calls" "${pg_args[@]}" >"$work/cases.txt"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
if [ "${NATIVE:-false}" = true ]; then
    # No callgrind: CPU time per call, which a loaded machine inflates, and context switches.
    while IFS=$'\t' read -r _ label pg_us server_us switches; do
        printf '%-42s server %7s µs CPU, %5s context switches per call' "$label" "$server_us" "$switches"
        if [ "$backend" = postgres ]; then printf '; PostgreSQL backends %7s µs CPU per call' "$pg_us"; fi
        echo
    done <"$work/cases.txt"
    exit 0
fi
# The dumps in the order the cases ran (cg.out.1, cg.out.2, …).
n=0
page=
while IFS=$'\t' read -r _ label pg_us _; do
    n=$((n + 1))
    case "$label" in get_messages*) page=$n ;; esac
    total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$work/cg.out.$n" | head -1)
    printf '%-42s %12s instructions per call' "$label" "$(awk -v t="$total" -v c="$calls" 'BEGIN { printf "%.0f", t / c }')"
    if [ "$backend" = postgres ]; then printf '; PostgreSQL backends %7s µs CPU per call' "$pg_us"; fi
    echo
done <"$work/cases.txt"
echo "== get_messages: inclusive instructions per call, top $top functions"
callgrind_annotate --inclusive=yes --threshold=100 "$work/cg.out.$page" 2>/dev/null |
    awk -v c="$calls" -v top="$top" '/^ *[0-9,]+ +\(/ && shown < top {
        v = $1; gsub(",", "", v); sub(/^ *[0-9,]+ +\([^)]*\) +/, ""); printf "%10.0f  %s\n", v / c, $0; shown++ }' |
    sed 's/\[[^]]*shared-context-server\]//'
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/cg.out.* "$KEEP"/; fi
