#!/usr/bin/env bash
# test.sh — run the whole test suite, SQLite and PostgreSQL backends.
#
#   scripts/test.sh                 # everything; fails unless PostgreSQL tests ran
#   scripts/test.sh -- some_filter  # extra args go to `cargo test` as is
#
# 1. scripts/ensure-postgres.sh makes PostgreSQL reachable (installing and
#    starting it if needed) and gives the admin URL; it is exported as
#    SCS_TEST_POSTGRES_URL (a PostgreSQL test fails, never skips, when it is unreachable).
# 2. cargo test --locked --workspace --all-targets "$@" (the server and the bench/ crate),
#    output also saved to
#    ${CARGO_TARGET_DIR:-target}/test-output.log.
# 3. Without extra args: checks that tests whose names contain "postgres"
#    actually ran and passed.
set -euo pipefail

say() { printf 'test.sh: %s\n' "$*" >&2; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
cd "$repo_root"

# --- 1. PostgreSQL ----------------------------------------------------------
if ! admin_url=$(bash "$script_dir/ensure-postgres.sh"); then
    say "ERROR: could not make PostgreSQL available (see messages above); not running the tests"
    exit 1
fi
if [ -z "$admin_url" ]; then
    say "ERROR: scripts/ensure-postgres.sh printed no URL"
    exit 1
fi
export SCS_TEST_POSTGRES_URL="$admin_url"
say "SCS_TEST_POSTGRES_URL=$(printf '%s' "$admin_url" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')"

# --- 1b. Chromium for the dashboard's browser tests (browser_ui_*) ------------
# In CI (CI=true) or with SCS_REQUIRE_BROWSER=1 it is installed if missing and the browser tests
# fail rather than skip without it; elsewhere they skip with a message when it is absent.
if [ "${CI:-}" = "true" ] || [ "${SCS_REQUIRE_BROWSER:-}" = "1" ]; then
    if ! bash "$script_dir/ensure-browser.sh" >/dev/null; then
        say "ERROR: could not make chromium and chromedriver available; not running the tests"
        exit 1
    fi
    export SCS_REQUIRE_BROWSER=1
    say "SCS_REQUIRE_BROWSER=1"
fi

# --- 2. cargo test ----------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
log="$target_dir/test-output.log"
say "running: cargo test --locked --workspace --all-targets $* (log: $log)"

set +e
cargo test --locked --workspace --all-targets "$@" 2>&1 | tee "$log"
statuses=("${PIPESTATUS[@]}")
set -e
cargo_status=${statuses[0]}
tee_status=${statuses[1]}

# Totals over all test binaries, from libtest's lines
#   test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...
# (ANSI colour codes stripped in case colour was forced.)
totals=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
    /^test result: / {
        for (i = 1; i <= NF; i++) {
            w = $(i + 1); sub(/[;,.]$/, "", w)
            if (w == "passed") p += $i
            else if (w == "failed") f += $i
            else if (w == "ignored") s += $i
        }
        n++
    }
    END { printf "%d %d %d %d", p, f, s, n }')
read -r n_passed n_failed n_ignored n_binaries <<<"$totals"

if [ "$cargo_status" -ne 0 ]; then
    say "FAILED: cargo test exited with $cargo_status (log: $log)"
    if [ "$n_binaries" -gt 0 ]; then
        printf 'tests: %d passed, %d failed, %d skipped\n' "$n_passed" "$n_failed" "$n_ignored"
    fi
    exit "$cargo_status"
fi
if [ "$tee_status" -ne 0 ]; then
    say "ERROR: could not write the test log $log (tee exited with $tee_status)"
    exit 1
fi

# --- 3. Did the PostgreSQL tests really run? --------------------------------
if [ "$#" -eq 0 ]; then
    pg_passed=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -cE '^test .*postgres.* \.\.\. ok$' || true)
    if [ "${pg_passed:-0}" -eq 0 ]; then
        say "ERROR: no PostgreSQL test ran (no line 'test ...postgres... ... ok' in $log)"
        exit 1
    fi
    printf 'postgres tests passed: %d\n' "$pg_passed"
else
    say "test filter/arguments given ($*): skipping the check that PostgreSQL tests ran"
fi
printf 'tests: %d passed, %d failed, %d skipped\n' "$n_passed" "$n_failed" "$n_ignored"
