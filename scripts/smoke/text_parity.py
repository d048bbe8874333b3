#!/usr/bin/env python3
"""Text-only and structured-only readers get everything: through the official Python `mcp` client.

usage: text_parity.py URL API_KEY SCS_BIN
       Over streamable HTTP (URL, with the X-API-Key header) and over stdio (SCS_BIN --transport
       stdio, spawned by the SDK with a temporary SQLite database), the same journey calls every
       read tool and every coordination tool (leases, tasks, shared memory, inbox), including
       truncated reads and refused calls. For each result:
       - structuredContent validates against the tool's outputSchema from tools/list;
       - the text content alone carries every field of structuredContent a model needs: ids,
         cursors, `truncated`, versions, fencing tokens, states, error codes (NEEDED below);
       - the check is not vacuous: with any one of those values cut out of the text, it fails.
The last line is `text-parity smoke: N passed, M failed`; the exit code is 0 only when nothing failed.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import tempfile
from contextlib import AsyncExitStack

import anyio
import jsonschema
import mcp.client.streamable_http as sh
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared._httpx_utils import create_mcp_http_client

import smoke_checks
from smoke_checks import check, dump

# The fields of structuredContent a model acts on: the text must name each value. Timestamps,
# sizes and scores are left out on purpose (the text gives them relative or not at all).
NEEDED = {
    # ids
    "id", "message_id", "session_id", "task_id", "lease_id", "agent_id", "key", "sender",
    "parent_message_id", "claimed_by", "held_by", "assignee", "depends_on", "blocked_by", "acked",
    "omitted_ids",
    # cursors
    "next_cursor", "next_after_id",
    # versions, fencing tokens, states, error codes
    "version", "fencing_token", "state", "mode", "code", "released", "resource", "held_resource",
}
# Flags the text must state when true (in its own words).
FLAGS = {"truncated": "truncated", "has_more": "more|continue"}

def needed(sc, path: str = ""):
    """(path, key, value) of every needed scalar in structuredContent, at any depth."""
    if isinstance(sc, dict):
        for k, v in sc.items():
            p = f"{path}.{k}" if path else k
            if k in FLAGS:
                if v is True:
                    yield p, k, v
            elif k in NEEDED and isinstance(v, (str, int)) and not isinstance(v, bool) and v != "":
                yield p, k, v
            elif k in NEEDED and k == "released" and isinstance(v, bool):
                yield p, k, v
            elif k in NEEDED and isinstance(v, list) and all(isinstance(x, int) for x in v):
                for i, x in enumerate(v):
                    yield f"{p}[{i}]", k, x
            else:
                yield from needed(v, p)
    elif isinstance(sc, list):
        for i, v in enumerate(sc):
            yield from needed(v, f"{path}[{i}]")


def pattern(key: str, value) -> re.Pattern:
    """How a needed value shows in the text: the flag's word, a boolean as `key: value`-ish, else
    the value as a whole word (so message 7 is not found inside 17 or a timestamp)."""
    if key in FLAGS:
        return re.compile(FLAGS[key], re.I)
    if isinstance(value, bool):
        return re.compile(rf"{key}\W+{str(value).lower()}|{'' if value else 'not '}{key}", re.I)
    return re.compile(rf"(?<![\w/.-]){re.escape(str(value))}(?![\w/.-])")


def missing(text: str, sc) -> list[str]:
    return [f"{p}={v!r}" for p, k, v in needed(sc) if not pattern(k, v).search(text)]


class Run:
    """One MCP session and the outputSchema of every tool it lists."""

    def __init__(self, transport: str, session: ClientSession):
        self.t, self.session, self.schemas = transport, session, {}

    async def load_tools(self) -> None:
        tools = dump(await self.session.list_tools())["tools"]
        self.schemas = {t["name"]: t.get("outputSchema") for t in tools}

    async def call(self, tool: str, args: dict, expect_error: str | None = None, label: str = "") -> dict:
        name = f"[{self.t}] {tool}{' ' + label if label else ''}"
        res = dump(await self.session.call_tool(tool, args))
        sc = res.get("structuredContent") or {}
        texts = [c.get("text", "") for c in res.get("content", []) if c.get("type") == "text"]
        text = "\n".join(texts)
        if expect_error:
            check(f"{name} -> {expect_error}", res.get("isError") is True and sc.get("code") == expect_error, res)
        else:
            check(f"{name}: succeeds", res.get("isError") in (False, None) and sc.get("success") is True, res)
        schema = self.schemas.get(tool)
        try:
            jsonschema.validate(sc, schema or {"type": "object"})
            valid = schema is not None
        except jsonschema.ValidationError as e:
            valid = False
            sc_err = f"{e.message} at {list(e.absolute_path)}"
        check(f"{name}: structuredContent validates against outputSchema", valid,
              "no outputSchema" if schema is None else (locals().get("sc_err") or ""))
        gaps = missing(text, sc)
        check(f"{name}: the text alone carries every needed field", not gaps and text != "",
              {"missing": gaps, "text": text[:1200]})
        # Not vacuous: cut any one needed value out of the text and the check must see it.
        blind = []
        for p, k, v in needed(sc):
            if pattern(k, v).search(text) and not missing(pattern(k, v).sub("", text), sc):
                blind.append(p)
        check(f"{name}: dropping any needed field from the text is caught", not blind, blind)
        return sc


async def journey(run: Run, tag: str) -> None:
    await run.load_tools()
    a = await run.call("authenticate_agent", {"agent_id": f"par-alice-{tag}", "agent_type": "claude"})
    b = await run.call("authenticate_agent", {"agent_id": f"par-bob-{tag}", "agent_type": "codex"})
    alice, bob = a["token"], b["token"]
    bob_id = f"par-bob-{tag}"
    s = await run.call("create_session", {"purpose": f"parity {tag}", "auth_token": alice})
    sid = s["session_id"]
    first = None
    for i in range(12):
        m = await run.call("add_message", {"session_id": sid, "content": f"note {i} about the parser " * (1 + i % 4),
                                           "auth_token": alice}, label=f"#{i}")
        first = first or m["message_id"]
    await run.call("add_message", {"session_id": sid, "content": "bob, review src/parser please",
                                   "to": [bob_id], "auth_token": alice}, label="direct")
    # Reads, whole and cut by max_tokens.
    await run.call("get_messages", {"session_id": sid, "auth_token": bob})
    await run.call("get_messages", {"session_id": sid, "max_tokens": 120, "auth_token": bob}, label="max_tokens")
    await run.call("get_messages", {"session_id": sid, "after_id": first, "include_body": False,
                                    "auth_token": bob}, label="headers only")
    await run.call("get_session", {"session_id": sid, "auth_token": bob})
    await run.call("get_session", {"session_id": sid, "max_tokens": 100, "auth_token": bob}, label="max_tokens")
    await run.call("list_sessions", {"limit": 1, "auth_token": bob})
    await run.call("wait_for_messages", {"session_id": sid, "after_id": first, "timeout_seconds": 0,
                                         "auth_token": bob})
    await run.call("search_context", {"session_id": sid, "query": "parser", "auth_token": bob})
    await run.call("search_context", {"session_id": sid, "query": "parser", "max_tokens": 80, "auth_token": bob},
                   label="max_tokens")
    await run.call("search_by_sender", {"session_id": sid, "sender": f"par-alice-{tag}", "auth_token": bob})
    await run.call("search_by_timerange", {"session_id": sid, "start_time": "2000-01-01T00:00:00Z",
                                           "end_time": "2999-01-01T00:00:00Z", "max_tokens": 80, "auth_token": bob})
    await run.call("list_agents", {"auth_token": bob})
    # Messaging.
    inbox = await run.call("get_inbox", {"auth_token": bob})
    ids = [m["id"] for m in inbox.get("messages", [])]
    await run.call("ack_messages", {"message_ids": ids, "auth_token": bob})
    await run.call("get_receipts", {"message_id": ids[0], "auth_token": alice})
    await run.call("ack_messages", {"message_ids": [first], "auth_token": bob}, expect_error="PERMISSION_DENIED")
    # Memory, private and shared, whole and over max_tokens.
    big = {"plan": "step " * 300}
    await run.call("set_memory", {"key": "plan", "value": big, "session_id": sid, "auth_token": alice})
    await run.call("get_memory", {"key": "plan", "session_id": sid, "auth_token": alice})
    await run.call("get_memory", {"key": "plan", "session_id": sid, "max_tokens": 60, "auth_token": alice},
                   label="max_tokens")
    for i in range(8):
        await run.call("set_memory", {"key": f"decisions/{i}-{'k' * 20}", "value": i, "session_id": sid,
                                      "shared": True, "auth_token": alice}, label=f"shared {i}")
    await run.call("set_memory", {"key": "decisions/0-" + "k" * 20, "value": 9, "session_id": sid, "shared": True,
                                  "expected_version": 7, "auth_token": bob}, expect_error="VERSION_CONFLICT")
    await run.call("get_memory", {"key": "plan", "session_id": sid, "shared": True, "auth_token": bob},
                   expect_error="MEMORY_NOT_FOUND")
    await run.call("get_memory", {"key": "decisions/0-" + "k" * 20, "session_id": sid, "shared": True,
                                  "auth_token": bob}, label="shared")
    await run.call("list_memory", {"session_id": sid, "shared": True, "max_tokens": 60, "auth_token": bob},
                   label="shared max_tokens")
    await run.call("list_memory", {"session_id": "all", "limit": 1, "auth_token": alice}, label="all")
    await run.call("delete_memory", {"key": "plan", "session_id": sid, "auth_token": alice})
    # Leases.
    lease = await run.call("acquire_lease", {"resources": ["src/parser/**"], "session_id": sid,
                                             "auth_token": alice})
    await run.call("acquire_lease", {"resources": ["src/parser/lexer.rs"], "session_id": sid, "auth_token": bob},
                   expect_error="LEASE_CONFLICT")
    await run.call("acquire_lease", {"resources": ["src/parser/lexer.rs"], "session_id": sid,
                                     "on_conflict": "warn", "mode": "shared", "auth_token": bob}, label="warn")
    await run.call("acquire_lease", {"lease_id": lease["lease_id"], "ttl_seconds": 60, "auth_token": alice},
                   label="renew")
    await run.call("check_leases", {"resources": ["src/**"], "auth_token": bob})
    await run.call("release_lease", {"lease_id": lease["lease_id"], "auth_token": alice})
    # Tasks.
    t1 = await run.call("create_task", {"session_id": sid, "title": "parse the grammar", "auth_token": alice})
    await run.call("create_task", {"session_id": sid, "title": "test it", "depends_on": [t1["task_id"]],
                                   "assignee": bob_id, "auth_token": alice}, label="handoff")
    await run.call("claim_task", {"session_id": sid, "task_id": t1["task_id"], "auth_token": bob})
    await run.call("claim_task", {"session_id": sid, "task_id": t1["task_id"], "auth_token": alice},
                   expect_error="TASK_ALREADY_CLAIMED")
    await run.call("update_task", {"task_id": t1["task_id"], "state": "completed", "result": {"ok": True},
                                   "auth_token": bob})
    await run.call("claim_task", {"session_id": sid, "auth_token": alice}, label="nothing claimable")
    await run.call("list_tasks", {"session_id": sid, "limit": 1, "auth_token": bob})
    await run.call("get_messages", {"session_id": "session_0123456789abcdef", "auth_token": bob},
                   expect_error="SESSION_NOT_FOUND")


async def over_http(url: str, api_key: str) -> None:
    headers = {"X-API-Key": api_key}
    async with AsyncExitStack() as stack:
        if hasattr(sh, "streamablehttp_client"):  # 1.x
            streams = await stack.enter_async_context(sh.streamablehttp_client(url, headers=headers))
        else:  # 2.x
            streams = await stack.enter_async_context(
                sh.streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
        await session.initialize()
        await journey(Run("http", session), secrets.token_hex(3))


async def over_stdio(scs_bin: str, data: str) -> None:
    env = {**os.environ, "SCS_DATA_DIR": data, "DATABASE_URL": f"sqlite:{data}/db.sqlite", "LOG_LEVEL": "warn",
           "SCS_TOOLS": "all", "API_KEY": "parity-smoke-api-key-0001", "ADMIN_API_KEY": "parity-smoke-admin-0002"}
    params = StdioServerParameters(command=scs_bin, args=["--transport", "stdio"], env=env)
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        await journey(Run("stdio", session), secrets.token_hex(3))


async def main_async(url: str, api_key: str, scs_bin: str) -> None:
    with anyio.fail_after(300), tempfile.TemporaryDirectory(prefix="scs-parity-") as data:
        await over_stdio(scs_bin, data)
        await over_http(url, api_key)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    smoke_checks.run(anyio.run, main_async, *sys.argv[1:4])
    return smoke_checks.summary("text-parity")


if __name__ == "__main__":
    sys.exit(main())
