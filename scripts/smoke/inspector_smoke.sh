#!/usr/bin/env bash
# Smoke test of shared-context-server through the MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.0, --cli).
#
# usage: inspector_smoke.sh [URL [API_KEY]]
#   stdio: always. Every call spawns `$SCS_BIN --transport stdio` (a fresh process per call, sharing one
#          temporary SQLite database so tokens and sessions carry over). No API key is needed over stdio.
#   HTTP:  when a URL is given (argument or $SCS_URL), with the API key (argument, $SCS_API_KEY or $API_KEY)
#          sent as an `X-API-Key` header, and an agent token sent as `Authorization: Bearer`.
# Environment:
#   INSPECTOR  path of the mcp-inspector executable (default: target/smoke-node/node_modules/.bin/mcp-inspector,
#              else `npx --yes @modelcontextprotocol/inspector@2.12.0`)
#   SCS_BIN    server binary (default: target/debug/shared-context-server)
# Prints PASS/FAIL per check and ends with `inspector smoke: N passed, M failed`; exit 1 on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCS_BIN=${SCS_BIN:-$ROOT/target/debug/shared-context-server}
URL=${1:-${SCS_URL:-}}
API_KEY_HTTP=${2:-${SCS_API_KEY:-${API_KEY:-}}}
INSPECTOR_VERSION=2.12.0

if [[ -n ${INSPECTOR:-} ]]; then
  INSP=("$INSPECTOR")
elif [[ -x $ROOT/target/smoke-node/node_modules/.bin/mcp-inspector ]]; then
  INSP=("$ROOT/target/smoke-node/node_modules/.bin/mcp-inspector")
else
  INSP=(npx --yes "@modelcontextprotocol/inspector@$INSPECTOR_VERSION")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scs-inspector-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# The inspector keeps state in ~/.mcp-inspector: keep it out of the real home.
export HOME=$WORK/home NODE_NO_WARNINGS=1
mkdir -p "$HOME"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; shift; [[ $# -gt 0 ]] && printf '     %s\n' "$@" | cut -c1-1500; }
check() { # check NAME CONDITION-EXIT-CODE [details...]
  local name=$1 ok=$2; shift 2
  if [[ $ok == 0 ]]; then pass "$name"; else fail "$name" "$@"; fi
}

# jpy FILE EXPR: evaluate a Python expression over the JSON in FILE (as `d`); prints strings raw, the rest as JSON.
# Exit status 1 when the file is not JSON or the expression fails.
jpy() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    r = eval(sys.argv[2], {"json": json}, {"d": d})
except Exception as e:  # noqa: BLE001
    print(f"<{type(e).__name__}: {e}>", file=sys.stderr)
    sys.exit(1)
print(r if isinstance(r, str) else json.dumps(r))
EOF
}
# jtrue FILE EXPR: exit 0 iff EXPR is truthy.
jtrue() { [[ $(jpy "$1" "bool($2)" 2>/dev/null) == true ]]; }

# --- runners -------------------------------------------------------------------------------------
DATA=$WORK/data
mkdir -p "$DATA"
STDIO_ENV=(-e "SCS_DATA_DIR=$DATA" -e "DATABASE_URL=sqlite:$DATA/db.sqlite" -e "LOG_LEVEL=warn" -e "SCS_TOOLS=all"
           -e "API_KEY=inspector-smoke-api-key-0001" -e "ADMIN_API_KEY=inspector-smoke-admin-key-0002")
N=0
OUT=""; ERR=""; RC=0
# run_stdio ARGS...: one inspector call against a freshly spawned stdio server. Sets OUT/ERR (files) and RC.
# The server command goes after `--`: otherwise the inspector takes the server's own --transport flag as its own.
run_stdio() {
  N=$((N + 1)); OUT=$WORK/$N.out; ERR=$WORK/$N.err
  timeout 90 "${INSP[@]}" --cli --format json -q "${STDIO_ENV[@]}" "$@" -- "$SCS_BIN" --transport stdio >"$OUT" 2>"$ERR"
  RC=$?
}
# run_http HEADER ARGS...: one inspector call over streamable HTTP with one extra header ("" for none).
run_http() {
  local header=$1; shift
  local hdr=(); [[ -n $header ]] && hdr=(--header "$header")
  N=$((N + 1)); OUT=$WORK/$N.out; ERR=$WORK/$N.err
  timeout 90 "${INSP[@]}" --cli --format json -q --server-url "$URL" --transport http --stored-auth-only \
    "${hdr[@]}" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}
details() { echo "rc=$RC" "stdout: $(head -c 1200 "$OUT")" "stderr: $(head -c 600 "$ERR")"; }

# ok_call NAME  : the last call succeeded (rc 0, isError false, success true) and its text agrees
# with structuredContent: the compact JSON of the same object (writes), or a rendering naming
# every message by #id (reads).
ok_call() {
  jtrue "$OUT" 'd["result"]["isError"] is False and d["result"]["structuredContent"]["success"] is True and (lambda t, s: (all(k in s for k in json.loads(t)) if t.startswith("{") else all(("#%d " % m["id"]) in t for m in s.get("messages", []))))(d["result"]["content"][0]["text"], d["result"]["structuredContent"])'
  local ok=$?; [[ $RC == 0 ]] || ok=1
  check "$1" $ok "$(details)"
}
# err_call NAME CODE : the last call was a tool error (rc 5 = tool_is_error) with this code.
err_call() {
  jtrue "$OUT" "d['result']['isError'] is True and d['result']['structuredContent']['success'] is False and d['result']['structuredContent']['code'] == '$2'"
  local ok=$?; [[ $RC == 5 ]] || ok=1
  check "$1" $ok "$(details)"
}
sc() { jpy "$OUT" "d['result']['structuredContent']$1"; }

EXPECTED_TOOLS='{"authenticate_agent","refresh_token","revoke_token","create_session","get_session","list_sessions","close_session","add_message","get_messages","health"}'

# scenario TRANSPORT RUNNER [RUNNER-PREFIX-ARGS...]: the same user journey over one transport.
scenario() {
  local t=$1; shift
  local run=("$@")
  local tag; tag=$(python3 -c 'import secrets; print(secrets.token_hex(3))')

  "${run[@]}" --method initialize
  check "[$t] initialize: serverInfo shared-context-server" \
    "$(jtrue "$OUT" 'd["result"]["serverInfo"]["name"] == "shared-context-server" and "tools" in d["result"]["capabilities"]'; echo $?)" "$(details)"

  "${run[@]}" --method tools/list
  check "[$t] tools/list: all 10 tools" \
    "$(jtrue "$OUT" "$EXPECTED_TOOLS <= {x['name'] for x in d['result']['tools']}"; echo $?)" "$(details)"

  "${run[@]}" --method tools/list --strict
  check "[$t] tools/list --strict: no error-severity schema portability problems" "$([[ $RC == 0 ]]; echo $?)" "$(details)"

  "${run[@]}" --method tools/call --tool-name authenticate_agent --tool-arg "agent_id=insp-claude-$tag" agent_type=claude
  ok_call "[$t] authenticate_agent claude (--tool-arg)"
  local tok_c; tok_c=$(sc '["token"]')
  "${run[@]}" --method tools/call --tool-name authenticate_agent \
    --tool-args-json "{\"agent_id\":\"insp-gemini-$tag\",\"agent_type\":\"gemini\"}"
  ok_call "[$t] authenticate_agent gemini (--tool-args-json)"
  local tok_g; tok_g=$(sc '["token"]')
  check "[$t] tokens are sct_ tokens" "$([[ $tok_c == sct_* && $tok_g == sct_* && $tok_c != "$tok_g" ]]; echo $?)" "claude=$tok_c gemini=$tok_g"

  "${run[@]}" --method tools/call --tool-name create_session \
    --tool-args-json "{\"purpose\":\"inspector smoke $t $tag\",\"metadata\":{\"via\":\"inspector\"},\"auth_token\":\"$tok_c\"}"
  ok_call "[$t] create_session"
  local sid; sid=$(sc '["session_id"]')
  check "[$t] session_id returned" "$([[ $sid == session_* ]]; echo $?)" "$(details)"

  "${run[@]}" --method tools/call --tool-name add_message \
    --tool-args-json "{\"session_id\":\"$sid\",\"content\":\"hello from $t\",\"auth_token\":\"$tok_c\"}"
  ok_call "[$t] add_message public (default visibility)"
  local id_pub; id_pub=$(sc '["message_id"]')
  "${run[@]}" --method tools/call --tool-name add_message \
    --tool-args-json "{\"session_id\":\"$sid\",\"content\":\"private note\",\"visibility\":\"private\",\"auth_token\":\"$tok_c\"}"
  ok_call "[$t] add_message private"
  local id_priv; id_priv=$(sc '["message_id"]')

  "${run[@]}" --method tools/call --tool-name get_messages --tool-args-json "{\"session_id\":\"$sid\",\"auth_token\":\"$tok_c\"}"
  ok_call "[$t] get_messages as claude"
  check "[$t] claude sees public + private" \
    "$(jtrue "$OUT" "[(m['id'], m['visibility']) for m in d['result']['structuredContent']['messages']] == [($id_pub, 'public'), ($id_priv, 'private')]"; echo $?)" "$(details)"

  "${run[@]}" --method tools/call --tool-name get_messages --tool-args-json "{\"session_id\":\"$sid\",\"auth_token\":\"$tok_g\"}"
  ok_call "[$t] get_messages as gemini"
  check "[$t] gemini sees only the public message" \
    "$(jtrue "$OUT" "[m['id'] for m in d['result']['structuredContent']['messages']] == [$id_pub]"; echo $?)" "$(details)"

  "${run[@]}" --method tools/call --tool-name add_message \
    --tool-args-json "{\"session_id\":\"$sid\",\"content\":\"x\",\"visibility\":\"secret\",\"auth_token\":\"$tok_c\"}"
  err_call "[$t] unknown visibility -> isError INVALID_VISIBILITY (rc 5)" INVALID_VISIBILITY

  "${run[@]}" --method tools/call --tool-name close_session --tool-args-json "{\"session_id\":\"$sid\",\"auth_token\":\"$tok_c\"}"
  ok_call "[$t] close_session"
  "${run[@]}" --method tools/call --tool-name add_message \
    --tool-args-json "{\"session_id\":\"$sid\",\"content\":\"late\",\"auth_token\":\"$tok_c\"}"
  err_call "[$t] add_message to closed session -> SESSION_CLOSED" SESSION_CLOSED

  "${run[@]}" --method tools/call --tool-name no_such_tool --tool-args-json '{}'
  check "[$t] unknown tool -> inspector rc 5" "$([[ $RC == 5 ]]; echo $?)" "$(details)"

  # hand the session and tokens to the caller (for the HTTP bearer checks)
  LAST_SID=$sid LAST_TOK_G=$tok_g LAST_ID_PUB=$id_pub
}

echo "inspector smoke: $("${INSP[@]}" --version 2>/dev/null | head -1), server $SCS_BIN"
[[ -x $SCS_BIN ]] || { echo "FAIL server binary $SCS_BIN missing"; echo "inspector smoke: 0 passed, 1 failed"; exit 1; }

scenario stdio run_stdio

if [[ -n $URL ]]; then
  if [[ -z $API_KEY_HTTP ]]; then
    fail "[http] no API key given (argument 2, SCS_API_KEY or API_KEY)"
  else
    run_http "" --method tools/list
    check "[http] no credentials -> rc 3 auth_required" \
      "$([[ $RC == 3 ]] && grep -q AUTH_REQUIRED "$ERR"; echo $?)" "$(details)"
    run_http "X-API-Key: wrong-key-wrong-key-wrong" --method tools/list
    check "[http] wrong X-API-Key -> rc 3" "$([[ $RC == 3 ]]; echo $?)" "$(details)"

    scenario http run_http "X-API-Key: $API_KEY_HTTP"

    # An agent token alone (Authorization: Bearer, no API key) identifies the agent without auth_token.
    run_http "Authorization: Bearer $LAST_TOK_G" --method tools/call --tool-name get_messages \
      --tool-args-json "{\"session_id\":\"$LAST_SID\"}"
    ok_call "[http] bearer-only: get_messages without auth_token"
    check "[http] bearer-only: identity is gemini (private hidden)" \
      "$(jtrue "$OUT" "[m['id'] for m in d['result']['structuredContent']['messages']] == [$LAST_ID_PUB]"; echo $?)" "$(details)"
  fi
fi

echo "inspector smoke: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 && $PASSED -gt 0 ]]
