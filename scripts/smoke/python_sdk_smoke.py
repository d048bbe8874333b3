#!/usr/bin/env python3
"""Smoke test of shared-context-server through the official Python `mcp` SDK client (1.x or 2.x).

usage: python_sdk_smoke.py [URL [API_KEY]]
       URL defaults to $SCS_URL (else http://127.0.0.1:23456/mcp),
       API_KEY to $SCS_API_KEY (else $API_KEY).

Streamable HTTP with the X-API-Key header. Lists tools, authenticates a claude and a gemini agent,
creates a session, posts a public and a private message, reads them back as each agent (the private
one must be seen by its sender only), follows with after_id, reads with a Bearer header instead of
the API key, and checks error cases. The last line is `python-sdk smoke: N passed, M failed`;
the exit code is 0 only when nothing failed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from contextlib import AsyncExitStack

import anyio
import mcp
import mcp.client.streamable_http as sh
from mcp import ClientSession
from mcp.shared._httpx_utils import create_mcp_http_client

import smoke_checks
from smoke_checks import check, dump

try:  # mcp 2.x uses the httpx2 fork, 1.x uses httpx
    import httpx2 as httpx  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx  # type: ignore[no-redef]

try:
    from importlib.metadata import version as _pkg_version

    SDK_VERSION = _pkg_version("mcp")
except Exception:  # pragma: no cover
    SDK_VERSION = "unknown"
SDK_MAJOR = int(SDK_VERSION.split(".")[0]) if SDK_VERSION[:1].isdigit() else 0

EXPECTED_TOOLS = {
    "authenticate_agent", "refresh_token", "revoke_token", "create_session", "get_session",
    "list_sessions", "close_session", "add_message", "get_messages", "health",
}

def connect(url: str, headers: dict[str, str]):
    """The streamable-HTTP transport the way a user of this SDK version would open it."""
    if hasattr(sh, "streamablehttp_client"):  # 1.x: headers= keyword, yields (read, write, get_session_id)
        return sh.streamablehttp_client(url, headers=headers)
    # 2.x: headers go on the http client, yields (read, write)
    return sh.streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))


class Conn:
    """One MCP session over streamable HTTP."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.url, self.headers = url, headers
        self.stack = AsyncExitStack()
        self.session: ClientSession | None = None
        self.init: dict = {}

    async def __aenter__(self) -> "Conn":
        try:
            streams = await self.stack.enter_async_context(connect(self.url, self.headers))
            read, write = streams[0], streams[1]
            self.session = await self.stack.enter_async_context(ClientSession(read, write))
            self.init = dump(await self.session.initialize())
        except BaseException:
            # `async with` does not call __aexit__ when __aenter__ fails: close what was opened here,
            # in this task, or anyio complains about cancel scopes when the generators are collected.
            await self.stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stack.aclose()

    async def call(self, tool: str, args: dict) -> dict:
        """tools/call → dict with isError, structuredContent and the JSON of content[0].text."""
        assert self.session is not None
        res = dump(await self.session.call_tool(tool, args))
        text = None
        content = res.get("content") or []
        if content and content[0].get("type") == "text":
            try:
                text = json.loads(content[0]["text"])
            except (ValueError, KeyError):
                text = content[0].get("text")
        res["_text_json"] = text
        res["_text_raw"] = content[0].get("text", "") if content else ""
        return res


def body(res: dict) -> dict:
    return res.get("structuredContent") or (res["_text_json"] if isinstance(res.get("_text_json"), dict) else {})


def compacted_from(compact, full) -> bool:
    """`compact` is `full` with some empty fields left out, at any depth."""
    if isinstance(compact, dict) and isinstance(full, dict):
        return all(k in full and compacted_from(v, full[k]) for k, v in compact.items())
    if isinstance(compact, list) and isinstance(full, list):
        return len(compact) == len(full) and all(compacted_from(a, b) for a, b in zip(compact, full))
    return compact == full


def text_agrees(res: dict) -> bool:
    """The text part tells a model what the structured part holds: for writes it is the compact
    JSON of the same object (defaults left out); for reads a compact rendering that names every
    message (#id) and quotes its content after │."""
    text, sc = res.get("_text_raw") or "", res.get("structuredContent") or {}
    if not text:
        return False
    compact = res.get("_text_json")
    if isinstance(compact, dict):
        return compacted_from(compact, sc)
    messages = sc.get("messages") or [r.get("message") for r in sc.get("results", [])]
    return all(
        f"#{m['id']} " in text and (m.get("content") is None or m["content"].split("\n")[0] in text)
        for m in messages
        if m
    )


def ok_result(name: str, res: dict) -> dict:
    b = body(res)
    good = (
        res.get("isError") in (False, None)
        and b.get("success") is True
        and text_agrees(res)
    )
    check(name, good, res)
    return b


def err_result(name: str, res: dict, code: str) -> None:
    b = body(res)
    check(
        name,
        res.get("isError") is True and b.get("success") is False and b.get("code") == code
        and isinstance(b.get("error"), str) and b.get("error"),
        res,
    )


async def raw_post(url: str, headers: dict[str, str], payload: dict) -> tuple[int, str]:
    """One plain POST; an MCP session it opens is deleted again."""
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(
            url,
            json=payload,
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
        )
        text = r.text
        sid = r.headers.get("mcp-session-id")
        if sid:
            await client.delete(url, headers={**headers, "Mcp-Session-Id": sid})
        return r.status_code, text


async def scenario(url: str, api_key: str) -> None:
    key_hdr = {"X-API-Key": api_key}
    run = secrets.token_hex(4)
    claude_id, gemini_id = f"smoke-claude-{run}", f"smoke-gemini-{run}"

    # Without credentials /mcp must answer 401 with a JSON body (checked without the SDK).
    status, text = await raw_post(url, {}, {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "0"}},
    })
    check("no X-API-Key -> HTTP 401 AUTH_REQUIRED", status == 401 and "AUTH_REQUIRED" in text, f"{status} {text[:300]}")
    status, text = await raw_post(url, key_hdr, {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "0"}},
    })
    if not check("the given X-API-Key is accepted (HTTP 200 on initialize)", status == 200, f"{status} {text[:300]}"):
        return

    async with Conn(url, key_hdr) as c:
        init = c.init
        check("initialize: serverInfo.name", init.get("serverInfo", {}).get("name") == "shared-context-server", init)
        check("initialize: tools capability", "tools" in init.get("capabilities", {}), init)
        print(f"     negotiated protocol {init.get('protocolVersion')}, server {init.get('serverInfo')}")

        tools = dump(await c.session.list_tools())["tools"]
        names = {t["name"] for t in tools}
        check("tools/list: all 10 tools", EXPECTED_TOOLS <= names, sorted(names))
        check("tools/list: every inputSchema is an object schema",
              all(t.get("inputSchema", {}).get("type") == "object" for t in tools),
              [t["name"] for t in tools if t.get("inputSchema", {}).get("type") != "object"])

        h = ok_result("health", await c.call("health", {}))
        check("health: status healthy", h.get("status") == "healthy", h)

        a = ok_result("authenticate_agent claude", await c.call(
            "authenticate_agent", {"agent_id": claude_id, "agent_type": "claude"}))
        b = ok_result("authenticate_agent gemini", await c.call(
            "authenticate_agent", {"agent_id": gemini_id, "agent_type": "gemini"}))
        tok_c, tok_g = a.get("token", ""), b.get("token", "")
        check("tokens: sct_ shaped, distinct, read+write",
              tok_c.startswith("sct_") and tok_g.startswith("sct_") and tok_c != tok_g
              and {"read", "write"} <= set(a.get("permissions", [])), [a, b])

        s = ok_result("create_session", await c.call(
            "create_session", {"purpose": f"python-sdk smoke {run}", "metadata": {"sdk": SDK_VERSION},
                               "auth_token": tok_c}))
        sid = s.get("session_id", "")
        check("create_session: session_id and created_by", sid.startswith("session_") and s.get("created_by") == claude_id, s)

        m1 = ok_result("add_message public", await c.call(
            "add_message", {"session_id": sid, "content": "public hello", "visibility": "public", "auth_token": tok_c}))
        m2 = ok_result("add_message private", await c.call(
            "add_message", {"session_id": sid, "content": "claude's private note", "visibility": "private",
                            "metadata": {"kind": "note"}, "auth_token": tok_c}))
        id_pub, id_priv = m1.get("message_id"), m2.get("message_id")
        check("add_message: integer ids, visibility echoed",
              isinstance(id_pub, int) and isinstance(id_priv, int) and id_priv > id_pub
              and m1.get("visibility") == "public" and m2.get("visibility") == "private", [m1, m2])

        rc = ok_result("get_messages as claude", await c.call(
            "get_messages", {"session_id": sid, "auth_token": tok_c}))
        seen_c = {m["id"]: m for m in rc.get("messages", [])}
        check("claude (sender) sees public and private",
              set(seen_c) == {id_pub, id_priv} and rc.get("count") == 2
              and seen_c.get(id_priv, {}).get("visibility") == "private"
              and seen_c.get(id_priv, {}).get("sender") == claude_id
              and seen_c.get(id_priv, {}).get("metadata") == {"kind": "note"}, rc)

        rg = ok_result("get_messages as gemini", await c.call(
            "get_messages", {"session_id": sid, "auth_token": tok_g}))
        seen_g = {m["id"] for m in rg.get("messages", [])}
        check("gemini sees the public message only", seen_g == {id_pub} and rg.get("count") == 1, rg)

        ra = ok_result("get_messages after_id", await c.call(
            "get_messages", {"session_id": sid, "after_id": id_pub, "auth_token": tok_c}))
        check("after_id returns only newer messages",
              [m["id"] for m in ra.get("messages", [])] == [id_priv] and ra.get("next_after_id") == id_priv, ra)

        gs = ok_result("get_session as gemini", await c.call("get_session", {"session_id": sid, "auth_token": tok_g}))
        check("get_session: gemini's message_count excludes the private message",
              gs.get("message_count") == 1 and gs.get("session", {}).get("id") == sid, gs)

        ls = ok_result("list_sessions", await c.call("list_sessions", {"auth_token": tok_g}))
        check("list_sessions contains the session", sid in {x.get("id") for x in ls.get("sessions", [])}, ls)

        # Error cases: tool errors (isError + code), never protocol errors.
        err_result("unknown visibility -> INVALID_VISIBILITY", await c.call(
            "add_message", {"session_id": sid, "content": "x", "visibility": "secret", "auth_token": tok_c}),
            "INVALID_VISIBILITY")
        err_result("malformed token -> INVALID_TOKEN_FORMAT", await c.call(
            "get_messages", {"session_id": sid, "auth_token": "not-a-token"}), "INVALID_TOKEN_FORMAT")
        err_result("unknown session -> SESSION_NOT_FOUND", await c.call(
            "get_messages", {"session_id": "session_0123456789abcdef", "auth_token": tok_c}), "SESSION_NOT_FOUND")
        err_result("add_message without token -> PERMISSION_DENIED", await c.call(
            "add_message", {"session_id": sid, "content": "anonymous"}), "PERMISSION_DENIED")

        # A missing required argument is a schema violation: an error result or a JSON-RPC error.
        try:
            res = await c.call("add_message", {"session_id": sid, "auth_token": tok_c})
            check("missing required argument -> isError", res.get("isError") is True, res)
        except Exception as e:  # McpError (1.x) / MCPError (2.x): -32602
            check("missing required argument -> JSON-RPC error", "content" in str(e) or "-32602" in str(e), repr(e))

    # The same agent over a fresh MCP session authenticated only by its bearer token (no API key).
    async with Conn(url, {"Authorization": f"Bearer {tok_g}"}) as g:
        r = ok_result("bearer-only session: get_messages without auth_token", await g.call(
            "get_messages", {"session_id": sid}))
        check("bearer identity is gemini: private message hidden",
              {m["id"] for m in r.get("messages", [])} == {id_pub}, r)
        m3 = ok_result("bearer-only session: add_message", await g.call(
            "add_message", {"session_id": sid, "content": "gemini reply", "parent_message_id": id_pub}))
        rr = ok_result("claude reads gemini's reply", await g.call(
            "get_messages", {"session_id": sid, "after_id": id_priv, "auth_token": tok_c}))
        msgs = rr.get("messages", [])
        check("reply has sender gemini and parent_message_id",
              len(msgs) == 1 and msgs[0].get("id") == m3.get("message_id") and msgs[0].get("sender") == gemini_id
              and msgs[0].get("parent_message_id") == id_pub, rr)

    # mcp 2.x high-level Client in auto mode probes server/discover (2026-07-28) before initialize.
    if SDK_MAJOR >= 2 and hasattr(mcp, "Client"):
        transport = sh.streamable_http_client(url, http_client=create_mcp_http_client(headers=key_hdr))
        async with mcp.Client(transport, mode="auto") as cl:
            print(f"     mcp.Client(auto) negotiated {cl.protocol_version}")
            tl = dump(await cl.list_tools())
            check("mcp.Client(mode=auto): tools/list", EXPECTED_TOOLS <= {t["name"] for t in tl["tools"]}, tl)
            res = dump(await cl.call_tool("get_messages", {"session_id": sid, "auth_token": tok_g}))
            sc = res.get("structuredContent") or {}
            check("mcp.Client(mode=auto): get_messages",
                  not res.get("isError") and {m["id"] for m in sc.get("messages", [])} == {id_pub, m3.get("message_id")},
                  res)


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SCS_URL", "http://127.0.0.1:23456/mcp")
    api_key = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SCS_API_KEY") or os.environ.get("API_KEY", "")
    if not api_key:
        print("usage: python_sdk_smoke.py [URL [API_KEY]]  (or set SCS_URL / SCS_API_KEY)", file=sys.stderr)
        return 2
    print(f"python-sdk smoke: mcp {SDK_VERSION} against {url}")
    # The SDK logs "Session termination failed: <status>" when DELETE /mcp answers other than
    # 200/405; every disconnect above ends with that DELETE. Keep every warning it logs.
    warnings = _WarningLog()
    logging.getLogger().addHandler(warnings)
    smoke_checks.run(anyio.run, _with_timeout, url, api_key)
    terminations = [m for m in warnings.messages if "Session termination failed" in m]
    check("disconnect logs no 'Session termination failed'", not terminations, terminations)
    return smoke_checks.summary("python-sdk")


class _WarningLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _with_timeout(url: str, api_key: str) -> None:
    with anyio.fail_after(120):
        await scenario(url, api_key)


if __name__ == "__main__":
    sys.exit(main())
