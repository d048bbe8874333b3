#!/usr/bin/env bash
# Leases and tasks at N agents through the real server (MCP over HTTP), on SQLite and on
# PostgreSQL: acquisitions/s (exclusive lease on a path, half of them on four contended paths,
# then release) and claims/s (create a task, claim the next claimable one, complete it), with
# p50/p99 per call, LEASE_CONFLICT counts, errors, and a correctness check at the end of each run
# (no two holders of one exclusive lease at once by fencing token; every task claimed exactly
# once). Beside them, pgbench on the same PostgreSQL runs the INSERT that add_message boils down
# to (the statement scripts/bench/pg_ratio.sh compares the server with) at the same concurrency.
# Usage: scripts/bench/coordination.sh [AGENTS=50] [SECONDS=20]
# SCS_BENCH_NO_BUILD=1 runs the binaries already in target/release (a release build takes 10-25
# minutes on a loaded machine); the commit line then names HEAD, which they may predate.
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
agents=${1:-50}
secs=${2:-20}
[ "${SCS_BENCH_NO_BUILD:-}" = 1 ] || cargo build --release --locked -p shared-context-server -p scs-bench >&2
bin=${CARGO_TARGET_DIR:-target}/release/shared-context-server
bench=${CARGO_TARGET_DIR:-target}/release/scs-bench
pg_admin=$(scripts/ensure-postgres.sh)
db="scs_coord_$$"
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
pg_url="${pg_admin%/*}/$db"
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
# The load generator drives each agent far above the default per-agent rate limit.
export RATE_LIMIT_PER_MINUTE=0

start() { # NAME DATABASE_URL: starts a server whose MCP URL `url_of NAME` prints
    SCS_DATA_DIR="$work/data-$1" DATABASE_URL="$2" "$bin" --port 0 >/dev/null 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 300); do grep -q "ready: http" "$work/$1.log" && break; sleep 0.1; done
}
url_of() { sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/$1.log"; }
echo "machine: $(nproc) cores; date: $(date -u +%F); commit: $(git rev-parse --short HEAD)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for backend in sqlite postgres; do
    url="sqlite:$work/coord.db"; [ "$backend" = postgres ] && url=$pg_url
    start "$backend" "$url"
    mcp=$(url_of "$backend")
    for workload in lease task; do
        echo "== $backend: $workload, $agents agents, ${secs}s"
        "$bench" --url "$mcp" --agents "$agents" --workload "$workload" --duration "$secs" --warmup 2 || status=1
    done
done
# The database's own rate at the same concurrency, on the same PostgreSQL and the server's schema.
cat > "$work/insert.sql" <<'SQL'
\set n random(1, 1000000)
INSERT INTO shared_context.messages (session_id, sender, sender_type, content, visibility, metadata, created_at)
VALUES ('session_00000000000000c0', 'bench-0', 'claude', 'pgbench note #' || :n::text, 'public',
        jsonb_build_object('seq', :n::int), now()) RETURNING id;
SQL
psql "$pg_url" -qc "INSERT INTO shared_context.sessions (id, purpose, created_by, created_at, updated_at) VALUES ('session_00000000000000c0', 'pgbench', 'bench', now(), now())"
tps=$(pgbench -n -M prepared -c "$agents" -j 2 -T "$secs" -f "$work/insert.sql" "$pg_url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
echo "pgbench insert (add_message's INSERT): $agents clients, ${secs}s: $tps tps"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
