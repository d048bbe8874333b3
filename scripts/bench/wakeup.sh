#!/usr/bin/env bash
# Wake-up latency (post → waiter's return, p50/p99) of wait_for_messages and of the get_inbox
# long-poll (direct messages), each in one process on SQLite, in one process on PostgreSQL and
# across two server processes on one PostgreSQL; then 100 waiters while 10 agents write.
# Usage: scripts/bench/wakeup.sh [SECONDS=10]
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-10}
cargo build --release --locked --workspace >&2
bin=${CARGO_TARGET_DIR:-target}/release/shared-context-server
bench=${CARGO_TARGET_DIR:-target}/release/scs-bench
pg_admin=$(scripts/ensure-postgres.sh)
db="scs_wake_$$"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
# The load generator drives each agent far above the default per-agent rate limit.
export RATE_LIMIT_PER_MINUTE=0
# The inbox rows send 50 direct messages a second to one agent, far above the loop guard.
export DIRECT_MESSAGES_PER_PAIR_PER_MINUTE=0

start() { # NAME DATABASE_URL: starts a server whose MCP URL `url_of NAME` prints
    SCS_DATA_DIR="$work/data-$1" DATABASE_URL="$2" "$bin" --port 0 >/dev/null 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 100); do grep -q "ready: http" "$work/$1.log" && break; sleep 0.1; done
}
url_of() { sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/$1.log"; }
echo "machine: $(nproc) cores; date: $(date -u +%F)"
start sqlite "sqlite:$work/wake.db"
start pg-a "${pg_admin%/*}/$db"
start pg-b "${pg_admin%/*}/$db"
sqlite=$(url_of sqlite); pg_a=$(url_of pg-a); pg_b=$(url_of pg-b)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# Each case twice, wait_for_messages then get_inbox, back to back so both see the same load.
for case in "one process, SQLite|$sqlite|" "one process, PostgreSQL|$pg_a|" "two processes, PostgreSQL (waiter on A, writer on B)|$pg_a|$pg_b"; do
    IFS='|' read -r label url writer <<<"$case"
    extra=(); [ -n "$writer" ] && extra=(--writer-url "$writer")
    echo "== $label: wait_for_messages, 1 waiter, 1 writer every 20 ms"
    "$bench" --url "$url" "${extra[@]}" --waiters 1 --writers 1 --write-interval-ms 20 --duration "$secs"
    echo "== $label: get_inbox long-poll, 1 waiter, direct messages every 20 ms"
    "$bench" --url "$url" "${extra[@]}" --waiters 1 --writers 1 --write-interval-ms 20 --duration "$secs" --inbox
done
for name in sqlite pg; do
    url=$sqlite; [ "$name" = pg ] && url=$pg_a
    echo "== throughput, $name: 100 waiters while 10 writers post every 100 ms each"
    "$bench" --url "$url" --waiters 100 --writers 10 --write-interval-ms 100 --duration "$secs"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
