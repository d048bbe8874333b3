#!/usr/bin/env python3
"""Samples a running shared-context-server for scripts/soak.sh, and judges the run.

usage: soak_sample.py --pid SERVER_PID --base http://127.0.0.1:PORT --csv FILE
                      [--interval 10] [--while-pid BENCH_PID] [--max-growth 10]

Every --interval seconds (and once more when BENCH_PID has exited) it appends a CSV row:

  t_s              seconds since the first sample
  rss_kb           VmRSS of the server (/proc/PID/status)
  fds              open file descriptors (entries of /proc/PID/fd, as `ls /proc/PID/fd | wc -l`)
  threads          Threads: from /proc/PID/status
  pool_size, pool_idle, pool_in_use, pool_waiting, pool_max    from /health "pool"
  acquire_p99_ms, acquisitions                                  from /health "pool"
  db_size_bytes    from /health "database.stats.size_bytes"
  calls            tool calls so far (sum of scs_tool_calls_total in /metrics)
  calls_per_s      tool calls per second over the interval
  errors           tool errors in the interval (scs_tool_errors_total delta)
  p50_ms, p99_ms   tool-call latency over the interval, from the scs_tool_duration_seconds
                   histogram deltas (bucket upper bounds, so an upper estimate)
  health           HTTP status of GET /health

At the end it prints first/last/max of RSS and descriptors and their growth: the peak of the
samples in the first minute against the peak of the samples in the last minute of the load (for
runs shorter than two minutes the two windows are the first and the second half). Exit 1 when RSS or
descriptors grew by more than --max-growth percent, when /health ever failed, or when the server
died; 0 otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
import urllib.request

FIELDS = [
    "t_s", "rss_kb", "fds", "threads", "pool_size", "pool_idle", "pool_in_use", "pool_waiting", "pool_max",
    "acquire_p99_ms", "acquisitions", "db_size_bytes", "calls", "calls_per_s", "errors", "p50_ms", "p99_ms", "health",
]

METRIC = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})?\s+(\S+)$')


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(rest.split()[0])
    return out


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except Exception as e:  # noqa: BLE001 - any failure is a failed sample
        return 0, str(e)


def parse_metrics(text: str):
    """Totals over all tools: calls, errors, and the cumulative duration histogram {le: count}."""
    calls = errors = 0.0
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "scs_tool_calls_total":
            calls += value
        elif name == "scs_tool_errors_total":
            errors += value
        elif name == "scs_tool_duration_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + value
    return calls, errors, buckets


def quantile_ms(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Upper bound of the bucket holding quantile q of the calls between two histogram snapshots."""
    bounds = sorted(after)
    deltas = [(b, after.get(b, 0.0) - before.get(b, 0.0)) for b in bounds]
    total = deltas[-1][1] if deltas else 0.0
    if total <= 0:
        return None
    for bound, cumulative in deltas:
        if cumulative >= q * total:
            return round(bound * 1000.0, 3) if bound != float("inf") else float("inf")
    return None


def sample(args, t0: float, prev) -> tuple[dict, tuple]:
    now = time.monotonic()
    status = proc_status(args.pid)
    row = {"t_s": round(now - t0, 1), "rss_kb": status["VmRSS"], "threads": status["Threads"],
           "fds": len(os.listdir(f"/proc/{args.pid}/fd"))}
    code, body = get(f"{args.base}/health")
    row["health"] = code
    try:
        health = json.loads(body)
    except ValueError:
        health = {}
    pool = health.get("pool", {})
    for key in ("size", "idle", "in_use", "waiting", "max"):
        row[f"pool_{key}"] = pool.get(key, "")
    row["acquire_p99_ms"] = pool.get("acquire_p99_ms", "")
    row["acquisitions"] = pool.get("acquisitions", "")
    row["db_size_bytes"] = ((health.get("database") or {}).get("stats") or {}).get("size_bytes", "")
    _, text = get(f"{args.base}/metrics")
    calls, errors, buckets = parse_metrics(text)
    row["calls"] = int(calls)
    if prev is not None:
        p_time, p_calls, p_errors, p_buckets = prev
        dt = max(now - p_time, 1e-9)
        row["calls_per_s"] = round((calls - p_calls) / dt, 1)
        row["errors"] = int(errors - p_errors)
        row["p50_ms"] = quantile_ms(p_buckets, buckets, 0.50)
        row["p99_ms"] = quantile_ms(p_buckets, buckets, 0.99)
    return row, (now, calls, errors, buckets)


def alive(pid: int | None) -> bool:
    return pid is not None and os.path.exists(f"/proc/{pid}")


def growth(rows: list[dict], key: str) -> tuple[float, float, float]:
    """(peak of the first minute, peak of the last minute, growth %).

    Peaks, not means: the first minute starts with an idle server and includes the ramp-up, so its
    mean understates the steady state; a value that keeps growing raises the last peak anyway.
    The final sample (taken after the load ended) is left out. Runs shorter than two minutes
    compare their first and second halves."""
    measured = rows[:-1] if len(rows) > 2 else rows
    end = measured[-1]["t_s"]
    if end >= 120:
        first = [r[key] for r in measured if r["t_s"] <= 60]
        last = [r[key] for r in measured if r["t_s"] >= end - 60]
    else:
        half = max(len(measured) // 2, 1)
        first, last = [r[key] for r in measured[:half]], [r[key] for r in measured[half:]] or [measured[-1][key]]
    a, b = max(first), max(last)
    return a, b, (b - a) * 100.0 / a if a else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--while-pid", type=int)
    ap.add_argument("--max-growth", type=float, default=10.0)
    args = ap.parse_args()

    rows: list[dict] = []
    problems: list[str] = []
    t0 = time.monotonic()
    prev = None
    with open(args.csv, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=FIELDS)
        out.writeheader()
        next_at = t0
        while True:
            if not alive(args.pid):
                problems.append(f"the server (pid {args.pid}) died at t={time.monotonic() - t0:.0f}s")
                break
            row, prev = sample(args, t0, prev)
            rows.append(row)
            out.writerow(row)
            f.flush()
            print("soak: " + " ".join(f"{k}={row.get(k, '')}" for k in
                  ("t_s", "rss_kb", "fds", "threads", "pool_size", "pool_in_use", "pool_waiting", "calls_per_s", "errors", "p50_ms", "p99_ms", "health")),
                  flush=True)
            if row["health"] != 200:
                problems.append(f"GET /health answered {row['health']} at t={row['t_s']}s")
            if args.while_pid is not None and not alive(args.while_pid):
                break
            next_at += args.interval
            while time.monotonic() < next_at:
                if args.while_pid is not None and not alive(args.while_pid):
                    break
                time.sleep(min(0.5, max(0.0, next_at - time.monotonic())))
            if args.while_pid is not None and not alive(args.while_pid):
                row, prev = sample(args, t0, prev)  # the final sample, right after the load ended
                rows.append(row)
                out.writerow(row)
                break

    if len(rows) < 2:
        print(f"soak: only {len(rows)} sample(s); nothing to compare")
        return 1
    print(f"soak: {len(rows)} samples over {rows[-1]['t_s']:.0f} s -> {args.csv}")
    for key, unit in (("rss_kb", "KiB"), ("fds", ""), ("threads", "")):
        values = [r[key] for r in rows]
        a, b, pct = growth(rows, key)
        print(f"soak: {key:8} first {values[0]} {unit} last {values[-1]} {unit} max {max(values)} {unit}; "
              f"first-minute peak {a:.0f} -> last-minute peak {b:.0f}: {pct:+.1f} %")
        if key in ("rss_kb", "fds") and pct > args.max_growth:
            problems.append(f"{key} grew {pct:.1f} % (limit {args.max_growth} %)")
    lat = [r for r in rows if r.get("p99_ms") not in (None, "")]
    if lat:
        p99s = [r["p99_ms"] for r in lat]
        print(f"soak: p50 first {lat[0]['p50_ms']} ms last {lat[-1]['p50_ms']} ms; p99 first {p99s[0]} ms last {p99s[-1]} ms max {max(p99s)} ms")
    rates = [r["calls_per_s"] for r in rows if r.get("calls_per_s") not in (None, "")]
    if rates:
        print(f"soak: calls/s first {rates[0]} last {rates[-1]} min {min(rates)} max {max(rates)}; "
              f"tool errors {sum(int(r.get('errors') or 0) for r in rows)}; pool waiting max {max(int(r['pool_waiting'] or 0) for r in rows)}")
    for p in problems:
        print(f"soak: PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
