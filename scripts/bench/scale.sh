#!/usr/bin/env bash
# Reads at scale (issue 12): does a read cost the same at 100, 10,000 and 1,000,000 messages per
# session, through the real server, on PostgreSQL and on SQLite?
#
# PostgreSQL: one session of BIG messages interleaved with SPREAD_ROWS messages over
# SPREAD_SESSIONS other sessions (the big session's rows are scattered over the heap, as in a busy
# server, not packed), plus sessions of 10,000 and 100 messages; filled with generate_series and
# never analyzed (reads must not depend on statistics). SQLite: the same three sessions, filled on
# PostgreSQL and copied over with the server's `copy`. Every read tool is then called through the server over
# streamable HTTP (scale_client.py: one client, cases round-robin so load drift hits all alike),
# printing p50, p99 and calls/s per tool and size.
#
# Then the hot-session ratio as scripts/bench/pg_ratio.sh measures it: the load generator posts
# HOT messages into one session through the server, reads it with RATIO_CLIENTS agents
# (get_messages, 50 rows), and pgbench runs the same 50-row SELECT on that session right after.
#
# search_by_sender (limit 50) and get_inbox (limit 20) return fewer rows at 100 messages (agent-3
# posted 5 of them, one is a direct message) than at 10,000 and 1,000,000: their "5 rows" and
# "1 row" cases return the same number of rows at every size, so they compare the read alone.
#
# Usage: scripts/bench/scale.sh [ROUNDS=300]
# Environment (defaults = the issue's sizes): BIG=1000000 SPREAD_ROWS=10000000
#   SPREAD_SESSIONS=10000 HOT=100000 (0: no hot-session ratio) RATIO_CLIENTS=50 RATIO_SECS=20
#   BACKENDS="postgres sqlite" (BACKENDS=hot: only the hot-session ratio, a few minutes)
#   SCS_BIN and SCS_BENCH_BIN: release binaries of the server and
#   of scs-bench built beforehand (skips the build)
# Full size takes about 30-40 minutes on 2 busy cores, most of it the PostgreSQL fill.
set -euo pipefail
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rounds=${1:-300}
BIG=${BIG:-1000000} SPREAD_ROWS=${SPREAD_ROWS:-10000000} SPREAD_SESSIONS=${SPREAD_SESSIONS:-10000}
HOT=${HOT:-100000} RATIO_CLIENTS=${RATIO_CLIENTS:-50} RATIO_SECS=${RATIO_SECS:-20}
BACKENDS=${BACKENDS:-postgres sqlite}
if [ -z "${SCS_BIN:-}" ]; then cargo build --release --locked --workspace >&2; fi
bin=${SCS_BIN:-${CARGO_TARGET_DIR:-target}/release/shared-context-server}
bench=${SCS_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/scs-bench}
export API_KEY=bench-agent-key-0123456789 ADMIN_API_KEY=bench-admin-key-0123456789 LOG_LEVEL=warn
export RATE_LIMIT_PER_MINUTE=0
work=$(mktemp -d)
pg_dir=$(mktemp -u /tmp/scs-scale-pg.XXXXXX)
pg_admin= server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    [ -n "$pg_admin" ] && scripts/bench/bench-postgres.sh stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT
log() { echo "scale: $(date -u +%T) $*" >&2; }

# Session ids as the server makes them; 1-3 are the measured sessions, the rest the spread.
sid() { printf 'session_%016x' "$1"; }
declare -A size_of=([1]=100 [2]=10000 [3]=$BIG)

start_server() {  # DATABASE_URL → sets server_pid and mcp
    SCS_DATA_DIR="$work/data" DATABASE_URL="$1" "$bin" --port 0 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 300); do grep -q "ready: http" "$work/server.log" && break; sleep 0.1; done
    mcp=$(sed -n 's/.*ready: \(http[^ ]*\).*/\1/p' "$work/server.log")
    [ -n "$mcp" ] || { cat "$work/server.log" >&2; exit 1; }
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

# PostgreSQL's "2026-01-01 00:16:40.007+00" (TimeZone UTC) as RFC 3339; SQLite's already is.
iso() { local t=${1/ /T}; echo "${t/%+00/Z}"; }
pg_q() { psql "$pg_url" -Atq -c "SET search_path = shared_context; SET TimeZone = 'UTC'" -c "$1"; }
sqlite_q() { sqlite3 "$sqlite_db" "$1"; }

# The cases for one backend: every read tool on each measured session. $1 names the function
# that runs one SQL query and prints its value.
write_cases() {
    local q=$1 out=$2 first=1
    echo "[" >"$out"
    for k in 1 2 3; do
        local s n mid lo hi label
        s=$(sid "$k"); n=${size_of[$k]}; label=$(printf '%9d' "$n")
        mid=$($q "SELECT id FROM messages WHERE session_id = '$s' ORDER BY id LIMIT 1 OFFSET $((n / 2))")
        lo=$($q "SELECT created_at FROM messages WHERE session_id = '$s' ORDER BY id LIMIT 1 OFFSET $((n / 4))")
        hi=$($q "SELECT created_at FROM messages WHERE session_id = '$s' ORDER BY id LIMIT 1 OFFSET $((n / 4 + 60))")
        lo=$(iso "$lo"); hi=$(iso "$hi")
        [ $first = 1 ] || echo "," >>"$out"
        first=0
        cat >>"$out" <<JSON
 {"label": "get_messages first page @$label", "tool": "get_messages", "args": {"session_id": "$s", "limit": 50}},
 {"label": "get_messages after_id (middle) @$label", "tool": "get_messages", "args": {"session_id": "$s", "limit": 50, "after_id": $mid}},
 {"label": "get_messages offset 50 @$label", "tool": "get_messages", "args": {"session_id": "$s", "limit": 50, "offset": 50}},
 {"label": "get_session @$label", "tool": "get_session", "args": {"session_id": "$s"}},
 {"label": "search_by_sender @$label", "tool": "search_by_sender", "args": {"session_id": "$s", "sender": "agent-3", "limit": 50}},
 {"label": "search_by_timerange (60 rows) @$label", "tool": "search_by_timerange", "args": {"session_id": "$s", "start_time": "$lo", "end_time": "$hi", "limit": 50}},
 {"label": "search_context 'cache' @$label", "tool": "search_context", "args": {"session_id": "$s", "query": "cache", "limit": 10}},
 {"label": "wait_for_messages at once @$label", "tool": "wait_for_messages", "args": {"session_id": "$s", "after_id": $mid, "limit": 50, "timeout_seconds": 1}},
 {"label": "get_inbox (session) @$label", "tool": "get_inbox", "args": {"session_id": "$s", "limit": 20}},
 {"label": "search_by_sender, 5 rows @$label", "tool": "search_by_sender", "args": {"session_id": "$s", "sender": "agent-3", "limit": 5}},
 {"label": "get_inbox (session), 1 row @$label", "tool": "get_inbox", "args": {"session_id": "$s", "limit": 1}}
JSON
    done
    echo ', {"label": "list_sessions (10,003 sessions)", "tool": "list_sessions", "args": {"limit": 20}}]' >>"$out"
}

# One message row for sequence number g of session $sess: 20 senders, 1 in 10 private, 1 in 10
# agent_only, 1 in 1000 a direct message from agent-1 to agent-0; 1 ms apart.
pg_row="CASE WHEN g % 1000 = 7 THEN 'agent-1' ELSE 'agent-' || (g % 20) END, 'claude', \
  CASE WHEN g % 1000 = 7 THEN 'direct note ' ELSE 'note ' END || g || ': ' || (ARRAY['orders','billing','cache','index','retry','schema','parser','webhook'])[g % 8 + 1] || ' looks slow in module ' || (g % 97), \
  CASE WHEN g % 1000 = 7 THEN 'private' WHEN g % 10 = 0 THEN 'private' WHEN g % 10 = 5 THEN 'agent_only' ELSE 'public' END, \
  jsonb_build_object('seq', g), timestamptz '2026-01-01' + g * interval '1 millisecond'"

run_postgres() {
    local url="${pg_admin%/*}/scs_scale"
    psql "$pg_admin" -qc "CREATE DATABASE scs_scale" >/dev/null
    SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" migrate 2>/dev/null
    local q="psql $url -Atq -c"
    $q "SET search_path = shared_context; \
        INSERT INTO sessions (id, purpose, created_by, created_at, updated_at) \
        SELECT 'session_' || lpad(to_hex(g), 16, '0'), 'scale', 'bench', now(), now() \
        FROM generate_series(1, 3) g UNION ALL \
        SELECT 'session_' || lpad(to_hex(4096 + g), 16, '0'), 'scale', 'bench', now(), now() \
        FROM generate_series(1, $SPREAD_SESSIONS) g" >/dev/null
    # The big session and the spread, interleaved, a million rows per statement.
    local total=$((BIG + SPREAD_ROWS)) step=1000000 from=1 every=$(((BIG + SPREAD_ROWS) / BIG))
    while [ "$from" -le "$total" ]; do
        local to=$((from + step - 1)); [ "$to" -gt "$total" ] && to=$total
        log "postgres fill: rows $from-$to of $total"
        $q "SET search_path = shared_context; \
            INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
            SELECT CASE WHEN g % $every = 0 AND g / $every <= $BIG THEN 'session_' || lpad(to_hex(3), 16, '0') \
                        ELSE 'session_' || lpad(to_hex(4097 + g % $SPREAD_SESSIONS), 16, '0') END, $pg_row \
            FROM generate_series($from, $to) g" >/dev/null
        from=$((to + 1))
    done
    for k in 1 2; do
        $q "SET search_path = shared_context; \
            INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
            SELECT '$(sid $k)', $pg_row FROM generate_series(1, ${size_of[$k]}) g" >/dev/null
    done
    $q "SET search_path = shared_context; \
        INSERT INTO message_recipients (message_id, agent_id, session_id) \
        SELECT id, 'agent-0', session_id FROM messages WHERE session_id IN ('$(sid 1)', '$(sid 2)', '$(sid 3)') \
          AND content LIKE 'direct note %'" >/dev/null
    log "postgres: $($q "SELECT count(*) FROM shared_context.messages") messages; never analyzed: \
$($q "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'messages' AND last_analyze IS NULL AND last_autoanalyze IS NULL")"
    pg_url=$url write_cases pg_q "$work/cases.json"
    start_server "$url"
    echo "== postgres: read tools, one client, $rounds rounds (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 scripts/bench/scale_client.py "$mcp" "$work/cases.json" "$rounds" | LC_ALL=C sort -t@ -k1,1 -s
    echo "   messages table analyzed during the run: $($q "SELECT coalesce(greatest(last_analyze, last_autoanalyze)::text, 'no') FROM pg_stat_user_tables WHERE relname = 'messages'")"
    stop_server
    if [ "$HOT" -gt 0 ]; then hot_ratio; fi
}

# The hot session: HOT messages posted through the server, read by RATIO_CLIENTS agents, then
# pgbench reading the same 50 rows (first page, as the generator's get_messages does).
hot_ratio() {
    local url="${pg_admin%/*}/scs_hot"
    psql "$pg_admin" -qc "CREATE DATABASE scs_hot" >/dev/null
    SCS_DATA_DIR="$work/data" DATABASE_URL="$url" "$bin" migrate 2>/dev/null
    SCS_DATA_DIR="$work/data" DATABASE_URL="$url" POSTGRES_POOL_SIZE=20 POSTGRES_MAX_OVERFLOW=10 \
        start_server "$url"
    echo "== postgres hot session: $HOT messages posted through the server, then get_messages, $RATIO_CLIENTS agents, ${RATIO_SECS}s"
    "$bench" --url "$mcp" --agents "$RATIO_CLIENTS" --agents-per-session "$RATIO_CLIENTS" \
        --messages-per-session "$HOT" --workload get_messages --duration "$RATIO_SECS" --warmup 3 --json >"$work/hot.json"
    stop_server
    local s
    s=$(psql "$url" -Atqc "SELECT session_id FROM shared_context.messages GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    cat >"$work/select.sql" <<SQL
\set a random(0, $((RATIO_CLIENTS - 1)))
SELECT id, session_id, sender, sender_type, content, visibility, message_type, metadata, parent_message_id, created_at
FROM shared_context.messages m WHERE m.session_id = '$s'
  AND (m.visibility = 'public' OR (m.visibility = 'private' AND m.sender = 'bench-' || :a::text)
       OR (m.visibility = 'agent_only' AND m.sender_type = 'claude'))
ORDER BY m.id ASC LIMIT 51;
SQL
    local tps
    tps=$(pgbench -n -M prepared -c "$RATIO_CLIENTS" -j 2 -T "$RATIO_SECS" -f "$work/select.sql" "$url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    python3 - "$work/hot.json" "$tps" "$(psql "$url" -Atqc "SELECT count(*) FROM shared_context.messages WHERE session_id = '$s'")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); tps = float(sys.argv[2]); n = sys.argv[3]
t = r["tools"]["get_messages"]; lat = t["latency_ms"] or {}
print(f"   session of {n} messages: server get_messages {t['calls_per_sec']:.0f} calls/s "
      f"(p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms, errors {t['errors']}); "
      f"pgbench SELECT of the same 50 rows {tps:.0f} tps; ratio {100 * t['calls_per_sec'] / tps:.1f} %")
PY
}

# The hot-session ratio alone, without the million-row fill.
run_hot() { hot_ratio; }

# SQLite: the three measured sessions filled on PostgreSQL (generate_series) and copied over with
# the server's own `copy` (its SQLite, with the FTS5 triggers, is newer than the sqlite3 CLI's).
run_sqlite() {
    local db="$work/scale.db" src="${pg_admin%/*}/scs_scale_src"
    psql "$pg_admin" -qc "CREATE DATABASE scs_scale_src" >/dev/null
    SCS_DATA_DIR="$work/data" DATABASE_URL="$src" "$bin" migrate 2>/dev/null
    psql "$src" -Atqc "SET search_path = shared_context; \
        INSERT INTO sessions (id, purpose, created_by, created_at, updated_at) \
        SELECT 'session_' || lpad(to_hex(g), 16, '0'), 'scale', 'bench', now(), now() FROM generate_series(1, 3) g" >/dev/null
    for k in 3 2 1; do
        psql "$src" -Atqc "SET search_path = shared_context; \
            INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
            SELECT '$(sid "$k")', $pg_row FROM generate_series(1, ${size_of[$k]}) g" >/dev/null
    done
    log "sqlite fill: copy from PostgreSQL"
    SCS_DATA_DIR="$work/data" "$bin" copy --from "$src" --to "sqlite:$db" --no-tokens 2>"$work/copy.log" || { cat "$work/copy.log" >&2; exit 1; }
    sqlite3 "$db" "INSERT INTO message_recipients (message_id, agent_id, session_id) \
        SELECT id, 'agent-0', session_id FROM messages WHERE content LIKE 'direct note %'"
    log "sqlite: $(sqlite3 "$db" "SELECT count(*) FROM messages") messages; analyzed: $(sqlite3 "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")"
    sqlite_db=$db write_cases sqlite_q "$work/cases.json"
    sed -i 's/(10,003 sessions)/(3 sessions)/' "$work/cases.json"
    start_server "sqlite:$db"
    echo "== sqlite: read tools, one client, $rounds rounds (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 scripts/bench/scale_client.py "$mcp" "$work/cases.json" "$rounds" | LC_ALL=C sort -t@ -k1,1 -s
    stop_server
}

echo "machine: $(nproc) cores; date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD); sizes: 100 / 10,000 / $BIG (+ $SPREAD_ROWS over $SPREAD_SESSIONS sessions on PostgreSQL)"
scripts/ensure-postgres.sh >/dev/null
pg_admin=$(scripts/bench/bench-postgres.sh start "$pg_dir")
for backend in $BACKENDS; do "run_$backend"; done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
