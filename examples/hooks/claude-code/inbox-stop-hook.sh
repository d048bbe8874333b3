#!/usr/bin/env bash
# Claude Code Stop hook: when Claude finishes a turn and direct messages are waiting in its
# shared-context inbox, keep it going with them (exit 2: Claude Code shows stderr to Claude and
# does not stop). Needs SCS_URL and SCS_TOKEN (the agent's token) in the environment.
set -u
input=$(cat)
# A stop this hook already prevented once: let Claude stop, so two agents cannot keep each
# other awake for ever through this hook.
if printf '%s' "$input" | grep -Eq '"stop_hook_active"[[:space:]]*:[[:space:]]*true'; then
  exit 0
fi
out=$(shared-context-server inbox --url "${SCS_URL:-http://127.0.0.1:23456/mcp}" --token "$SCS_TOKEN" 2>/dev/null) || exit 0
[ -z "$out" ] && exit 0
{
  echo "New direct messages in your shared-context inbox. Handle them, answer with add_message"
  echo "(parent_message_id = the #id), then ack_messages the ids:"
  printf '%s\n' "$out"
} >&2
exit 2
