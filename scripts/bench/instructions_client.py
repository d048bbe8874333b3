#!/usr/bin/env python3
"""The client of scripts/bench/instructions.sh: drives a server running under callgrind.

Usage: instructions_client.py URL CALLGRIND_PID CALLS [PG_ADMIN_URL DATABASE]
Speaks streamable HTTP MCP over one keep-alive connection (scale_client.Client: stateful SSE or
stateless JSON, whichever the server answers), authenticates agent-0 and agent-1 (agent_type
claude) with $API_KEY, and has agent-1 post 120 messages like scs-bench's (100-200 characters,
JSONB metadata; 1 in 10 private, 1 in 10 agent_only) into a new session. Then, for each case: 20
warm-up calls, the counters zeroed and collection switched on (callgrind_control), CALLS calls by
agent-0, collection off and a dump named after the case. One call in flight; a tool error where
none is expected aborts the run. The writes come last (add_message grows the session the reads
read). With PG_ADMIN_URL and DATABASE (the PostgreSQL backend), each case line also carries the
CPU time PostgreSQL spent per call: the on-CPU nanoseconds (/proc/PID/schedstat) of the backends
connected to DATABASE over the counted calls, the part of a call that SQLite spends inside the
server process and callgrind counts there.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_client import Client  # noqa: E402

WARMUP = 20


NATIVE = os.environ.get("NATIVE") == "true"


def control(pid, *args):
    if NATIVE:
        return
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def backends_ns(pg):
    """On-CPU nanoseconds so far of the PostgreSQL backends serving the database (0 without one)."""
    if pg is None:
        return 0
    admin, db = pg
    out = subprocess.run(["psql", admin, "-Atc", f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"],
                         check=True, capture_output=True, text=True).stdout
    total = 0
    for pid in out.split():
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def server_cpu(pid):
    """On-CPU nanoseconds and context switches so far, over every thread of the server process
    (sqlx-sqlite runs each connection on a thread of its own)."""
    ns = switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches += sum(int(l.split()[1]) for l in f if "ctxt_switches:" in l)
        except OSError:
            pass
    return ns, switches


def main():
    url, pid, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pg = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else None
    client = Client(url, os.environ["API_KEY"])

    def token(agent):
        auth = client.call("authenticate_agent", {"agent_id": agent, "agent_type": "claude"})
        return auth["structuredContent"]["token"]

    reader, poster = token("agent-0"), token("agent-1")
    session = client.call("create_session", {"purpose": "instructions", "auth_token": poster})
    sid = session["structuredContent"]["session_id"]
    words = ["cache", "billing", "retry", "index", "parser", "schema", "orders", "webhook"]
    for seq in range(1, 121):
        a, b, c = words[seq % 8], words[(seq * 3) % 8], words[(seq * 5) % 8]
        client.call("add_message", {
            "session_id": sid, "auth_token": poster,
            "content": f"agent-1 note #{seq}: found a {a} problem in the {b} module; the {c} path "
                       "looks related, checking the tests next before changing anything.",
            "visibility": {0: "private", 5: "agent_only"}.get(seq % 10, "public"),
            "metadata": {"kind": "finding", "seq": seq, "topic": a},
        })
    client.call("set_memory", {"key": "bench.note.1", "value": {"topic": "cache"}, "auth_token": reader})

    page = {"session_id": sid, "limit": 50, "auth_token": reader}
    cases = [
        # The transport alone: a JSON-RPC ping, no tool.
        ("ping", lambda: client.request("ping", {})),
        # A tools/call whose tool stops at its first check (limit 0): rmcp, the gate, the token,
        # the error envelope; no database.
        ("tools/call, refused before the database", lambda: client.request(
            "tools/call", {"name": "get_messages", "arguments": dict(page, limit=0)})),
        # A cheap tool: one row by primary key, a small result.
        ("get_memory, one small key", lambda: client.call(
            "get_memory", {"key": "bench.note.1", "auth_token": reader})),
        ("get_messages, 50 of 120 messages", lambda: check_page(client.call("get_messages", page))),
        ("search_context, 10 of 120 messages", lambda: client.call(
            "search_context", {"session_id": sid, "query": "billing", "limit": 10, "auth_token": reader})),
        # Two list reads whose statements are shared with PostgreSQL (storage/reads.rs).
        ("list_memory, one key", lambda: client.call("list_memory", {"auth_token": reader})),
        ("list_sessions, 1 of 1", lambda: client.call(
            "list_sessions", {"limit": 10, "auth_token": reader})),
        ("set_memory, one small key", lambda: client.call(
            "set_memory", {"key": "bench.note.2", "value": {"topic": "cache", "seq": 1},
                           "overwrite": True, "auth_token": reader})),
        ("add_message, 150 characters", lambda: client.call("add_message", {
            "session_id": sid, "auth_token": reader, "visibility": "public",
            "content": "agent-0 note: found a cache problem in the billing module; the retry path "
                       "looks related, checking the tests next before changing anything.",
            "metadata": {"kind": "finding", "seq": 1, "topic": "cache"}})),
    ]
    for label, call in cases:
        for _ in range(WARMUP):
            call()
        control(pid, "-z")
        control(pid, "-i", "on")
        pg0, (ns0, sw0) = backends_ns(pg), server_cpu(pid)
        for _ in range(calls):
            call()
        (ns1, sw1), pg1 = server_cpu(pid), backends_ns(pg)
        control(pid, "-i", "off")
        control(pid, "--dump=" + label.replace(" ", "_").replace(",", ""))
        print(f"case\t{label}\t{(pg1 - pg0) / 1000 / calls:.1f}\t{(ns1 - ns0) / 1000 / calls:.1f}"
              f"\t{(sw1 - sw0) / calls:.1f}", flush=True)


def check_page(result):
    body = result["structuredContent"]
    if body["count"] != 50 or len(result["content"][0]["text"]) < 5000:
        raise SystemExit(f"get_messages did not return a full page: {json.dumps(body)[:300]}")


if __name__ == "__main__":
    main()
