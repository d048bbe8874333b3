#!/usr/bin/env bash
# ensure-browser.sh — make Chromium and chromedriver available for the dashboard's browser tests
# (tests/it/browser, `browser_ui_*`). Idempotent: does nothing when both are on PATH; otherwise
# installs Debian's `chromium` and `chromium-driver` with apt-get (as root, or through sudo).
#
#   bash scripts/ensure-browser.sh    # prints the two paths on stdout
set -euo pipefail

say() { printf 'ensure-browser.sh: %s\n' "$*" >&2; }

have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if ! have; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "ERROR: chromium or chromedriver is missing and this system has no apt-get;"
        say "install them yourself, or set SCS_CHROMIUM and SCS_CHROMEDRIVER to their paths"
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
            say "ERROR: installing chromium needs root (or sudo)"
            exit 1
        fi
    fi
    say "installing chromium and chromium-driver (apt-get)"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver >&2
fi
if ! have; then
    say "ERROR: chromium and chromedriver are still not on PATH after installing them"
    exit 1
fi
say "$(chromium --version 2>/dev/null || echo chromium) / $(chromedriver --version 2>/dev/null | head -n1)"
command -v chromium
command -v chromedriver
