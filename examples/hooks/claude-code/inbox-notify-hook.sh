#!/usr/bin/env bash
# Claude Code Notification hook (fires when Claude waits for the user): tells the *human* that
# direct messages are waiting. It cannot start a turn; the Stop hook or the next prompt does.
# Keeps its own cursor file, so each message is announced once and the Stop hook's cursor is
# left alone.
set -u
cat >/dev/null
n=$(shared-context-server inbox --url "${SCS_URL:-http://127.0.0.1:23456/mcp}" --token "$SCS_TOKEN" \
      --cursor-file "${SCS_NOTIFY_CURSOR:-$HOME/.local/state/shared-context-server/notify.cursor}" \
      2>/dev/null | wc -l)
[ "$n" -eq 0 ] && exit 0
msg="$n direct message(s) waiting in the shared-context inbox"
if command -v notify-send >/dev/null; then notify-send "Claude Code" "$msg"
elif command -v osascript >/dev/null; then osascript -e "display notification \"$msg\" with title \"Claude Code\""
else printf '%s\n' "$msg" >&2
fi
exit 0
