#!/usr/bin/env bash
# Our PostgreSQL throughput as a fraction of the database's own: pgbench runs the INSERT and the
# SELECT that add_message and get_messages boil down to, then the real server is loaded through
# MCP with the same concurrency. All on this machine, in one run.
# Usage: scripts/bench/pg_ratio.sh [CLIENTS=50] [SECONDS=20]
# Environment: MCP_STATELESS=true for the stateless HTTP mode; POSTGRES_POOL_SIZE and
# POSTGRES_MAX_OVERFLOW for the server's pool (default 20 and 10); SCS_BIN and SCS_BENCH_BIN,
# release binaries built beforehand (skips the build; e.g. to compare two builds in one sitting).
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
clients=${1:-50}
secs=${2:-20}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
scripts/ensure-postgres.sh >/dev/null  # installs PostgreSQL if missing
# A cluster of our own with the shipped postgresql.conf (see bench-postgres.sh for why).
pg_dir=$(mktemp -u /tmp/scs-bench-pg.XXXXXX)
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
db="scs_ratio_$$"
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
url="${pg_admin%/*}/$db"
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
# The load generator drives each agent far above the default per-agent rate limit.
export RATE_LIMIT_PER_MINUTE=0
SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" migrate 2>/dev/null

# The same rows the server writes: a session, then messages with JSONB metadata.
psql "$url" -q <<'SQL'
SET search_path = shared_context;
INSERT INTO sessions (id, purpose, created_by, created_at, updated_at)
SELECT 'session_' || lpad(to_hex(g), 16, '0'), 'pgbench', 'bench', now(), now() FROM generate_series(1, 10) g;
INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at)
SELECT 'session_' || lpad(to_hex(g % 10 + 1), 16, '0'), 'bench-' || (g % 50), 'claude', 'preloaded message ' || g, 'public', '{}', now()
FROM generate_series(1, 1000) g;
ANALYZE;
SQL
# The message the bench posts (about 150 characters, three searchable words, JSONB metadata), as
# one INSERT, and the page get_messages reads, with the same visibility predicate for an agent.
cat > "$work/insert.sql" <<'SQL'
\set s random(1, 10)
\set a random(0, 49)
\set n random(1, 1000000)
INSERT INTO shared_context.messages (session_id, sender, sender_type, content, visibility, metadata, created_at)
VALUES ('session_' || lpad(to_hex(:s::int), 16, '0'), 'bench-' || :a::text, 'claude',
        'bench-' || :a::text || ' note #' || :n::text || ': found a cache problem in the billing module; the retry path looks related, checking the tests next before changing anything.',
        'public', jsonb_build_object('kind', 'finding', 'seq', :n::int, 'topic', 'cache'), now()) RETURNING id;
SQL
cat > "$work/select.sql" <<'SQL'
\set s random(1, 10)
\set a random(0, 49)
SELECT id, session_id, sender, sender_type, content, visibility, message_type, metadata, parent_message_id, created_at
FROM shared_context.messages m WHERE m.session_id = 'session_' || lpad(to_hex(:s::int), 16, '0')
  AND (m.visibility = 'public' OR (m.visibility = 'private' AND m.sender = 'bench-' || :a::text)
       OR (m.visibility = 'agent_only' AND m.sender_type = 'claude'))
ORDER BY m.id ASC LIMIT 51;
SQL
echo "machine: $(nproc) cores; PostgreSQL $(psql "$url" -Atc 'SHOW server_version') with postgresql/postgresql.conf; date: $(date -u +%F); HTTP mode: $([ "${MCP_STATELESS:-false}" = true ] && echo stateless || echo stateful)"
for kind in insert select; do
    tps=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -f "$work/$kind.sql" "$url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "pgbench $kind: $clients clients, ${secs}s: $tps tps"
done

SCS_DATA_DIR="$work/data" DATABASE_URL="$url" POSTGRES_POOL_SIZE=${POSTGRES_POOL_SIZE:-20} POSTGRES_MAX_OVERFLOW=${POSTGRES_MAX_OVERFLOW:-10} "$bin" --port 0 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
for tool in add_message get_messages; do
    echo "== server: $tool, $clients agents, ${secs}s"
    "$bench" --url "$mcp" --agents "$clients" --workload "$tool" --duration "$secs" --warmup 3 --sample-rss-pid "$server_pid"
done
