#!/usr/bin/env python3
"""Start-to-ready time and idle resident memory of the server binary.

Usage: startup.py BINARY [RUNS]
Each run starts the binary on a free port with a fresh SQLite data directory ("cold": first run,
creates the database and applies migrations) and again on the same directory ("warm"), timing
from spawn to the "ready" line on stderr. After the last warm start it idles 3 s and reads VmRSS.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def start(binary, data_dir):
    env = dict(os.environ, SCS_DATA_DIR=data_dir, API_KEY="bench-agent-key-0123456789",
               ADMIN_API_KEY="bench-admin-key-0123456789", LOG_LEVEL="warn")
    env.pop("DATABASE_URL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "--port", "0"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "ready: http://" in line:
            return proc, (time.perf_counter() - t0) * 1000.0
    raise SystemExit(f"server exited before ready (code {proc.wait()})")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    cold, warm = [], []
    rss = None
    for i in range(runs):
        with tempfile.TemporaryDirectory() as d:
            proc, ms = start(binary, d)
            cold.append(ms)
            proc.terminate(); proc.wait()
            proc, ms = start(binary, d)
            warm.append(ms)
            if i == runs - 1:
                time.sleep(3)
                rss = rss_mb(proc.pid)
            proc.terminate(); proc.wait()
    q = lambda xs: f"median {statistics.median(xs):.1f} ms, max {max(xs):.1f} ms"
    print(f"start-to-ready, cold (new database + migrations), {runs} runs: {q(cold)}")
    print(f"start-to-ready, warm (existing database), {runs} runs: {q(warm)}")
    print(f"idle resident memory after 3 s: {rss:.1f} MB")


if __name__ == "__main__":
    main()
