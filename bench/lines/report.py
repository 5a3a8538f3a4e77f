"""Turns bench/lines/run.sh's measurements into bench/lines/results.md (Markdown, on stdout).

    python3 report.py RESULTS.tsv [--skip SERVER=REASON]... --line BYTES --per-write K
                      [--duration S --warmup S --repeat R --cg-duration S --server-cpu N
                      --loadgen-cpu N --load-start L --load-end L --commit ID]

RESULTS.tsv: server, conns, rps, cpu_us_per_req, requests, ir_per_req, cg_requests, one row per
server and N, where a request is one write of K lines. Each figure is reported per line, and as
a ratio to the server's baseline measured in the same run: (B) to (A), (D) to (C).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import sys

# bench/report.py's formatting helpers: the two reports print figures alike.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from report import BUSY_LOAD, cpu_model, fmt, ratio  # noqa: E402

NAMES = {
    "A": "(A) raw epoll line echo, C",
    "B": "(B) nioxide line decoder, handler in C",
    "C": "(C) asyncio Streams on uvloop, Python",
    "D": "(D) nioxide line decoder, handler in Python",
}
# Each server's baseline: the one its ratios are to.
BASELINE = {"A": "A", "B": "A", "C": "C", "D": "C"}
# Issue 12 §8: CPU per line at most FACTOR × the baseline's, at every N.
TARGETS = [("D", "C", 0.8), ("B", "A", 1.15)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--skip", action="append", default=[])
    parser.add_argument("--line", type=int, required=True)
    parser.add_argument("--per-write", type=int, required=True)
    for opt in ("duration", "warmup", "repeat", "cg-duration", "server-cpu", "loadgen-cpu"):
        parser.add_argument("--" + opt, default="?")
    parser.add_argument("--load-start", default="")
    parser.add_argument("--load-end", default="")
    parser.add_argument("--commit", default="unknown")
    args = parser.parse_args()
    k = args.per_write

    rows: dict[tuple[str, int], dict[str, float | None]] = {}
    with open(args.results) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(r["server"], int(r["conns"]))] = {
                "lines_s": float(r["rps"]) * k,
                "cpu": float(r["cpu_us_per_req"]) / k,
                "ir": float(r["ir_per_req"]) / k if r["ir_per_req"] else None,
            }
    skipped = dict(s.split("=", 1) for s in args.skip)
    servers = [s for s in NAMES if any(key[0] == s for key in rows)]
    conns = sorted({n for _, n in rows})

    out: list[str] = []
    w = out.append
    w("# nioxide benchmark: line-protocol echo (issue 12 §8)")
    w("")
    if skipped:
        w(f"**Partial run: {len(skipped)} of the 4 servers were not measured** (their reasons "
          "are below), so the targets that need them are not decided here.")
        w("")
    w(f"Measured by `make bench` (bench/lines/run.sh) on {datetime.date.today()}, nioxide "
      f"{args.commit}, {cpu_model()}, {os.cpu_count()} "
      f"cores, Linux {platform.release()}. Each server runs one event-loop thread on CPU "
      f"{args.server_cpu}; the load generator (bench/loadgen.c, line mode) runs on CPU "
      f"{args.loadgen_cpu} and keeps one write of {k} lines of {args.line} bytes (each ending "
      f"in `\\n`) in flight on each of N connections, checking every echoed byte; the server "
      f"cuts the stream into lines and writes each line back. lines/s and CPU per line (the "
      f"server's getrusage user + sys time over the window, divided by the lines in it): "
      f"{args.warmup} s warm-up, then {args.duration} s measured, the best of {args.repeat} "
      f"such windows against one server process. Instructions per line: a separate "
      f"{args.cg_duration} s run under `valgrind --tool=callgrind`, counters zeroed after the "
      f"warm-up and dumped at the end of the window while nothing was in flight (user-space "
      f"instructions of the whole process: for the Python servers the interpreter's). Ratios "
      f"are to each server's baseline at the same N, in this run: (B) to (A), (D) to (C).")
    w("")
    if args.load_start:
        loaded = any(float(x) > BUSY_LOAD for x in (args.load_start + " " + args.load_end).split())
        w(f"Load average (1, 5, 15 min) at the start of the run: {args.load_start}; at the end: "
          f"{args.load_end}." + (" **The machine was loaded** (load average above 2 on 2 "
                                 "cores), so the timings are noisier than on a quiet machine; "
                                 "the instruction counts do not depend on it." if loaded else ""))
        w("")
    w("| server | N | lines/s | CPU µs/line | ×baseline | instructions/line | ×baseline |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for s in servers:
        for n in conns:
            r = rows.get((s, n))
            if r is None:
                continue
            b = rows.get((BASELINE[s], n), {})
            w(f"| {NAMES[s]} | {n} | {fmt(r['lines_s'])} | {fmt(r['cpu'], 3)} | "
              f"{ratio(r['cpu'], b.get('cpu'))} | {fmt(r['ir'])} | {ratio(r['ir'], b.get('ir'))} |")
    if skipped:
        w("")
        w("Not measured in this run:")
        w("")
        for s, reason in skipped.items():
            w(f"- {NAMES.get(s, s)}: {reason}.")
    w("")
    w("## Targets (issue 12 §8)")
    w("")
    for s, base, factor in TARGETS:
        label = f"{NAMES[s]}: CPU per line ≤ {factor} × {NAMES[base]}'s at every N"
        if s in skipped or base in skipped or not any(key[0] == s for key in rows):
            why = skipped.get(s) or skipped.get(base) or "left out of this run"
            w(f"- {label}: not measured ({why}) — **not decided**")
            continue
        parts, ok = [], True
        for n in conns:
            r, b = rows.get((s, n)), rows.get((base, n))
            if r is None or b is None or not b["cpu"]:
                continue
            x = r["cpu"] / b["cpu"]  # type: ignore[operator]
            ok = ok and x <= factor
            parts.append(f"N = {n}: {x:.2f}")
        w(f"- {label}: {', '.join(parts)} × — **{'met' if ok and parts else 'missed'}**")
    print("\n".join(out))


if __name__ == "__main__":
    main()
