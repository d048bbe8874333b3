#!/usr/bin/env python3
"""Starts the `shared-context-server` installed in this venv over stdio with the official Python
`mcp` SDK, lists its tools and calls two (authenticate_agent, create_session).

usage: stdio_call.py SERVER_BINARY DATA_DIR
Exit code 0 only when both calls succeed; the last line says what was checked.
"""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def payload(result) -> dict:
    if getattr(result, "structuredContent", None):
        return result.structuredContent
    return json.loads(result.content[0].text)


async def main(binary: str, data_dir: str) -> int:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SCS_DATA_DIR": data_dir,
        "LOG_LEVEL": "warn",
    }
    params = StdioServerParameters(
        command=binary,
        args=["--transport", "stdio", "--database-url", f"sqlite:{data_dir}/wheel.db"],
        env=env,
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert "create_session" in tools, tools
            auth = payload(await session.call_tool(
                "authenticate_agent", {"agent_id": "wheel", "agent_type": "claude"}))
            assert auth.get("success") is True, auth
            created = payload(await session.call_tool(
                "create_session", {"purpose": "wheel test", "auth_token": auth["token"]}))
            assert created.get("success") is True, created
    print(f"wheel stdio: {init.serverInfo.name} {init.serverInfo.version}, "
          f"{len(tools)} tools, session {created['session_id']} created: ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(anyio.run(main, sys.argv[1], sys.argv[2]))
