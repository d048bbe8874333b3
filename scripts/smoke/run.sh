#!/usr/bin/env bash
# Client smoke tests of shared-context-server with third-party MCP clients:
#   - the official Python `mcp` SDK, latest 1.x and latest 2.x (their client APIs differ), over streamable HTTP;
#   - with the same SDKs over stdio and HTTP, text_parity.py: for every read and coordination tool the text
#     content alone carries every field a model needs, and structuredContent validates against outputSchema;
#   - the MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.0 --cli) over stdio and streamable HTTP.
#
# usage: scripts/smoke/run.sh
# Installs into target/smoke-venv/{mcp1,mcp2} and target/smoke-node (once; later runs reuse them, set
# SMOKE_REINSTALL=1 to refresh), builds target/debug/shared-context-server only if it is missing, starts it on a
# free loopback port with a temporary data dir, runs the smokes, stops it. Exit status 0 iff every smoke passed.
# Environment: SCS_BIN (server binary, default target/debug/shared-context-server), PYTHON (default python3).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/scripts/smoke
VENVS=$ROOT/target/smoke-venv
NODE_DIR=$ROOT/target/smoke-node
INSPECTOR_VERSION=2.12.0
SCS_BIN=${SCS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/shared-context-server}
PYTHON=${PYTHON:-python3}

log() { echo "== $*"; }
die() { echo "smoke: setup failed: $*" >&2; echo "smoke: 0 passed, 1 failed"; exit 1; }

# --- install (idempotent) ------------------------------------------------------------------------
# ensure_venv NAME PIP-SPEC MAJOR
ensure_venv() {
  local dir=$VENVS/$1 spec=$2 major=$3 have=""
  if [[ -x $dir/bin/python ]]; then
    have=$("$dir/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))' 2>/dev/null)
  fi
  if [[ ${have%%.*} == "$major" && -z ${SMOKE_REINSTALL:-} ]]; then
    log "venv $1: mcp $have (cached)"
    return 0
  fi
  log "venv $1: installing $spec"
  [[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir" || die "python venv $dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade "$spec" || die "pip install $spec"
  have=$("$dir/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))')
  [[ ${have%%.*} == "$major" ]] || die "venv $1 has mcp $have, wanted $major.x"
  log "venv $1: mcp $have"
}

ensure_inspector() {
  local pkg=$NODE_DIR/node_modules/@modelcontextprotocol/inspector/package.json have=""
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then die "node and npm are needed for the inspector"; fi
  [[ -f $pkg ]] && have=$(node -p "require('$pkg').version" 2>/dev/null)
  if [[ $have == "$INSPECTOR_VERSION" && -x $NODE_DIR/node_modules/.bin/mcp-inspector && -z ${SMOKE_REINSTALL:-} ]]; then
    log "inspector $have (cached)"
    return 0
  fi
  log "inspector: npm install @modelcontextprotocol/inspector@$INSPECTOR_VERSION"
  mkdir -p "$NODE_DIR"
  [[ -f $NODE_DIR/package.json ]] || printf '{"name":"scs-smoke-node","private":true}\n' >"$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error \
     "@modelcontextprotocol/inspector@$INSPECTOR_VERSION") || die "npm install inspector"
  log "inspector $(node -p "require('$pkg').version")"
}

mkdir -p "$VENVS"
ensure_venv mcp1 'mcp>=1,<2' 1
ensure_venv mcp2 'mcp>=2,<3' 2
ensure_inspector

if [[ ! -x $SCS_BIN ]]; then
  log "building $SCS_BIN (cargo build)"
  (cd "$ROOT" && cargo build) || die "cargo build"
fi

# --- server --------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scs-smoke.XXXXXX")
SERVER_PID=""
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && { echo "server did not stop on SIGTERM within 5 s; killing"; kill -KILL "$SERVER_PID"; }
    wait "$SERVER_PID" 2>/dev/null
  fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

API_KEY_VALUE="smoke-api-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_KEY_VALUE="smoke-admin-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/data"
SCS_DATA_DIR=$WORK/data DATABASE_URL="sqlite:$WORK/data/db.sqlite" API_KEY=$API_KEY_VALUE ADMIN_API_KEY=$ADMIN_KEY_VALUE \
  MCP_TRANSPORT=http HTTP_HOST=127.0.0.1 SCS_TOOLS=all \
  "$SCS_BIN" --port 0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 300); do
  URL=$(grep -o 'shared-context-server ready: http://[^ ]*/mcp' "$WORK/server.err" 2>/dev/null | head -1 | sed 's/.*ready: //')
  [[ -n $URL ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $URL ]]; then
  echo "--- server stderr"; cat "$WORK/server.err"
  die "server did not print its ready line"
fi
log "server pid $SERVER_PID at $URL"

# --- smokes --------------------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILED_NAMES=()
suite() { # suite NAME CMD...
  local name=$1; shift
  log "$name"
  if "$@"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); fi
}
for v in mcp1 mcp2; do
  suite "python-sdk ($v: mcp $("$VENVS/$v/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))'))" \
    "$VENVS/$v/bin/python" "$HERE/python_sdk_smoke.py" "$URL" "$API_KEY_VALUE"
done
for v in mcp1 mcp2; do
  suite "text parity ($v: text-only and structured-only readers, stdio + http)" \
    "$VENVS/$v/bin/python" "$HERE/text_parity.py" "$URL" "$API_KEY_VALUE" "$SCS_BIN"
done
suite "inspector $INSPECTOR_VERSION (stdio + http)" \
  env INSPECTOR="$NODE_DIR/node_modules/.bin/mcp-inspector" SCS_BIN="$SCS_BIN" \
  "$HERE/inspector_smoke.sh" "$URL" "$API_KEY_VALUE"

# The server must have survived all of it, logged no panic, and stop cleanly on SIGTERM.
alive=0; kill -0 "$SERVER_PID" 2>/dev/null || alive=1
if [[ $alive == 0 ]]; then
  stop_server
  if grep -qi 'panicked' "$WORK/server.err"; then alive=1; fi
fi
if [[ $alive == 0 ]]; then
  PASSED=$((PASSED + 1)); log "server: alive through the run, no panic, stopped"
else
  FAILED=$((FAILED + 1)); FAILED_NAMES+=("server health"); log "server: crashed or panicked; its stderr:"
  tail -n 40 "$WORK/server.err"
fi

[[ $FAILED == 0 ]] || log "failed: ${FAILED_NAMES[*]}"
echo "smoke: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
