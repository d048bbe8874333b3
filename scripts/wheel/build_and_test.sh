#!/usr/bin/env bash
# Builds the Python wheel (maturin, `bindings = "bin"`: the wheel carries the server binary) and
# tests it the way a user gets it: a fresh venv, `pip install` of the wheel, then the installed
# `shared-context-server` started over stdio by the official Python `mcp` SDK, which calls tools.
#
# usage: scripts/wheel/build_and_test.sh
# Environment: WHEEL_PROFILE (cargo profile, default `dev`: it reuses the debug build the tests
# already made, ~30 s instead of a release build's ~10 min on 2 cores; the packaging under test
# is the same — use `release` for a wheel to publish), PYTHON (default python3).
# Installs maturin into target/maturin-venv once; the test venv is new on every run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=${WHEEL_PROFILE:-dev}
PYTHON=${PYTHON:-python3}
TOOLS=$ROOT/target/maturin-venv
OUT=$ROOT/target/wheels/$PROFILE

if [[ ! -x $TOOLS/bin/maturin ]]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.7,<2'
fi
echo "== $("$TOOLS/bin/maturin" --version); building the wheel (profile $PROFILE)"
rm -rf "$OUT"
started=$SECONDS
(cd "$ROOT" && "$TOOLS/bin/maturin" build --locked --profile "$PROFILE" --out "$OUT")
WHEEL=$(ls "$OUT"/shared_context_server-*.whl)
echo "== built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)) in $((SECONDS - started)) s"
# The wheel carries the server binary and nothing else (the load generator, scs-bench, is a crate
# of its own in the workspace and stays out).
SCRIPTS=$("$PYTHON" -c 'import sys, zipfile; print(" ".join(sorted(n.rsplit("/", 1)[1] for n in zipfile.ZipFile(sys.argv[1]).namelist() if ".data/scripts/" in n)))' "$WHEEL")
[[ $SCRIPTS == shared-context-server ]] || { echo "the wheel carries [$SCRIPTS], not just shared-context-server" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scs-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$WHEEL" 'mcp>=1,<2'
BIN=$WORK/venv/bin/shared-context-server
[[ -x $BIN ]] || { echo "the wheel installed no shared-context-server script" >&2; exit 1; }
echo "== installed: $("$BIN" --version)"
mkdir -p "$WORK/data"
"$WORK/venv/bin/python" "$ROOT/scripts/wheel/stdio_call.py" "$BIN" "$WORK/data"
