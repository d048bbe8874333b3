#!/usr/bin/env python3
"""Latency of the read tools through the real server, for scripts/bench/scale.sh.

Usage: scale_client.py URL CASES.json ROUNDS
CASES.json is a list of {"label": ..., "tool": ..., "args": {...}}. The client speaks streamable
HTTP MCP over one keep-alive connection (initialize, then tools/call), authenticates as agent-0
(agent_type claude) with the X-API-Key of $API_KEY, and calls the cases round-robin, one call in
flight, ROUNDS times each (the first 5 rounds are warm-up and not counted), so a change of machine
load hits every case alike. It prints one line per case: p50 and p99 in ms and calls/s (one
client: 1 / mean latency). A tool error (isError) aborts the run with its text: a figure for a
failing call would be a figure for the wrong thing.
"""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

WARMUP = 5


class Client:
    def __init__(self, url, api_key):
        u = urllib.parse.urlparse(url)
        self.path = u.path or "/mcp"
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream",
                        "X-API-Key": api_key}
        self.next_id = 0
        init = self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                           "clientInfo": {"name": "scale-bench", "version": "1"}})
        self.headers["mcp-protocol-version"] = init.get("protocolVersion", "2025-06-18")
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, body):
        self.conn.request("POST", self.path, json.dumps(body), self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        session = resp.getheader("mcp-session-id")
        if session:
            self.headers["mcp-session-id"] = session
        if resp.status not in (200, 202):
            raise SystemExit(f"HTTP {resp.status}: {data[:300]!r}")
        if resp.getheader("content-type", "").startswith("text/event-stream"):
            for chunk in data.decode().split("\n\n"):
                payload = "".join(l[5:].lstrip() for l in chunk.split("\n") if l.startswith("data:"))
                if payload:
                    msg = json.loads(payload)
                    if msg.get("id") == body.get("id"):
                        return msg
            return None
        return json.loads(data) if data else None

    def request(self, method, params):
        self.next_id += 1
        msg = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        if msg is None or "error" in msg:
            raise SystemExit(f"{method}: {msg}")
        return msg["result"]

    def call(self, tool, args):
        result = self.request("tools/call", {"name": tool, "arguments": args})
        if result.get("isError"):
            raise SystemExit(f"{tool} {args}: {result.get('content')}")
        return result


def main():
    url, cases_path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(cases_path) as f:
        cases = json.load(f)
    client = Client(url, os.environ["API_KEY"])
    auth = client.call("authenticate_agent", {"agent_id": "agent-0", "agent_type": "claude"})
    token = (auth.get("structuredContent") or {}).get("token")
    if not token:
        raise SystemExit(f"authenticate_agent gave no token: {auth}")
    times = [[] for _ in cases]
    for r in range(rounds + WARMUP):
        for i, case in enumerate(cases):
            args = dict(case["args"], auth_token=token)
            t0 = time.perf_counter()
            client.call(case["tool"], args)
            if r >= WARMUP:
                times[i].append((time.perf_counter() - t0) * 1000.0)
    for case, ts in zip(cases, times):
        ts.sort()
        p50 = statistics.median(ts)
        p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))]
        print(f"{case['label']:<44} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  {1000.0 / statistics.fmean(ts):7.0f} calls/s")


if __name__ == "__main__":
    main()
