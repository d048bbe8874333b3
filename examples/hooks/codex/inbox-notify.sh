#!/usr/bin/env bash
# Codex `notify` program: Codex runs it after each agent turn with one JSON argument. It cannot
# inject anything into the Codex session; it tells the human that direct messages are waiting
# (desktop notification) and keeps them in a file the next prompt can point Codex at.
# Needs SCS_URL and SCS_TOKEN in the environment Codex was started with.
set -u
case "${1:-}" in *agent-turn-complete*) ;; *) exit 0 ;; esac
out=$(shared-context-server inbox --url "${SCS_URL:-http://127.0.0.1:23456/mcp}" --token "$SCS_TOKEN" 2>/dev/null) || exit 0
[ -z "$out" ] && exit 0
printf '%s\n' "$out" >> "${SCS_INBOX_LOG:-$HOME/.codex/shared-context-inbox.log}"
n=$(printf '%s\n' "$out" | wc -l)
msg="$n new direct message(s); ask Codex to run get_inbox"
if command -v notify-send >/dev/null; then notify-send "Codex" "$msg"
elif command -v osascript >/dev/null; then osascript -e "display notification \"$msg\" with title \"Codex\""
fi
exit 0
