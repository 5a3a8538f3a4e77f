"""Turns bench/run.sh's measurements into bench/results.md (Markdown, on stdout).

    python3 report.py RESULTS.tsv PROFILE.txt|"" [--duration S --warmup S --cg-duration S
                      --server-cpu N --loadgen-cpu N --commit ID]

RESULTS.tsv: server, conns, rps, cpu_us_per_req, requests, ir_per_req, cg_requests (one row per
server and N). PROFILE.txt: `callgrind_annotate --inclusive=no` of server (c), or "".
Every figure is also given as a ratio to server (a) at the same N, measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import re

NAMES = {
    "a": "(a) raw epoll, C",
    "b": "(b) mio, Rust",
    "c": "(c) nioxide Selector, C",
    "d": "(d) nioxide Selector, Python",
    "e": "(e) selectors + socket, Python",
}
TOP_FUNCTIONS = 25


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}"


def read_profile(path: str, combine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The function table of `callgrind_annotate --auto=no` output: function -> Ir. Entries
    read "Ir (pct%)  file:function [object]"; the same function shows up once per source file
    its inlined code came from: `combine` (sum for self cost, max for inclusive) merges them."""
    line_re = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$")
    costs: dict[str, int] = {}
    in_table = False
    with open(path) as f:
        for line in f:
            if "file:function" in line:
                in_table = True
                continue
            m = line_re.match(line) if in_table else None
            if not m:
                continue
            name = re.sub(r"\s+\[[^\]]*\]$", "", m.group(2).strip())
            name = name.split(":", 1)[1] if ":" in name else name
            ir = int(m.group(1).replace(",", ""))
            costs[name] = combine((costs[name], ir)) if name in costs else ir
    return costs


def busy(r: dict[str, float | None]) -> str:
    """The share of its core the server used in the window: requests/s × CPU per request."""
    rps, cpu = r["rps"], r["cpu"]
    return "–" if rps is None or cpu is None else f"{rps * cpu / 1e4:.0f}%"


def read_calls(path: str) -> dict[str, int]:
    """Call counts from `callgrind_annotate --tree=calling`: for each function, the largest
    "(Nx)" on a line that names it as a callee ("> file:function (Nx)")."""
    call_re = re.compile(r"^\s*[\d,]+\s+\(\s*[\d.]+%\)\s+>\s+\S+?:(\S+)\s+\(([\d,]+)x\)")
    counts: dict[str, int] = {}
    if not os.path.exists(path):
        return counts
    with open(path) as f:
        for line in f:
            m = call_re.match(line)
            if m:
                n = int(m.group(2).replace(",", ""))
                counts[m.group(1)] = max(n, counts.get(m.group(1), 0))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("profile")
    parser.add_argument("--duration", default="?")
    parser.add_argument("--warmup", default="?")
    parser.add_argument("--repeat", default="1")
    parser.add_argument("--cg-duration", default="?")
    parser.add_argument("--server-cpu", default="?")
    parser.add_argument("--loadgen-cpu", default="?")
    parser.add_argument("--commit", default="unknown")
    args = parser.parse_args()

    rows: dict[tuple[str, int], dict[str, float | None]] = {}
    with open(args.results) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(r["server"], int(r["conns"]))] = {
                "rps": float(r["rps"]),
                "cpu": float(r["cpu_us_per_req"]),
                "requests": float(r["requests"]),
                "ir": float(r["ir_per_req"]) if r["ir_per_req"] else None,
                "cg_requests": float(r["cg_requests"]) if r["cg_requests"] else None,
            }
    servers = sorted({s for s, _ in rows})
    conns = sorted({n for _, n in rows})

    out: list[str] = []
    w = out.append
    w("# nioxide benchmark: Selector echo servers")
    w("")
    w(f"Measured by `make bench` (bench/run.sh) on {datetime.date.today()}, nioxide {args.commit}, "
      f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}. The server runs on "
      f"CPU {args.server_cpu}, the load generator (bench/loadgen.c) on CPU {args.loadgen_cpu}; "
      f"it keeps one 64-byte message in flight on each of N connections and checks every echoed "
      f"byte. requests/s and CPU per request (the server's getrusage user + sys time over the "
      f"window, divided by the requests in it): {args.warmup} s warm-up, then {args.duration} s "
      f"measured, the best of {args.repeat} such windows (the one with the most requests/s) "
      f"against one server process. Instructions per request: a separate {args.cg_duration} s run of the server "
      f"under `valgrind --tool=callgrind`, counters zeroed after the warm-up and dumped at the "
      f"end of the window while nothing was in flight (user-space instructions of the whole "
      f"process: for (d) and (e) the interpreter's). Every ratio is to (a) at the same N, in "
      f"this run.")
    w("")
    w("| server | N | requests/s | ×(a) | CPU µs/request | ×(a) | server CPU busy "
      "| instructions/request | ×(a) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in servers:
        for n in conns:
            r = rows.get((s, n))
            if r is None:
                continue
            base = rows.get(("a", n), {})
            w(f"| {NAMES.get(s, s)} | {n} | {fmt(r['rps'])} | {ratio(r['rps'], base.get('rps'))} "
              f"| {fmt(r['cpu'], 2)} | {ratio(r['cpu'], base.get('cpu'))} "
              f"| {busy(r)} | {fmt(r['ir'])} | {ratio(r['ir'], base.get('ir'))} |")
    w("")

    # Targets.
    w("## Targets")
    w("")

    def get(s: str, n: int, key: str) -> float | None:
        r = rows.get((s, n))
        return None if r is None else r[key]

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**missed**")

    c_cpu, a_cpu = get("c", 32, "cpu"), get("a", 32, "cpu")
    ok = None if c_cpu is None or a_cpu is None else c_cpu <= 1.10 * a_cpu
    w(f"- (c) CPU per request ≤ 1.10 × (a) at N = 32: "
      f"{ratio(c_cpu, a_cpu)} × (a) — {verdict(ok)}")
    c_ir, b_ir = get("c", 32, "ir"), get("b", 32, "ir")
    ok = None if c_ir is None or b_ir is None else c_ir <= 1.5 * b_ir
    w(f"- (c) instructions per request ≤ 1.5 × (b) at N = 32: "
      f"{ratio(c_ir, b_ir)} × (b) ({fmt(c_ir)} vs {fmt(b_ir)}) — {verdict(ok)}")
    for metric, label, better in (
        ("rps", "requests/s ≥ 1.0 × (e)", lambda d, e: d >= e),
        ("cpu", "CPU per request ≤ 1.0 × (e)", lambda d, e: d <= e),
    ):
        parts, oks = [], []
        for n in conns:
            d, e = get("d", n, metric), get("e", n, metric)
            if d is not None and e is not None:
                parts.append(f"N = {n}: {d / e:.2f}")
                oks.append(better(d, e))
        ok = all(oks) if oks else None
        w(f"- (d) {label}: {', '.join(parts) or '–'} × (e) — {verdict(ok)}")
    w("")
    w("On a 2-core machine requests/s cannot rank the fast servers: the load generator saturates "
      "its core near (a)'s rate and the kernel's loopback TCP work is most of each request's CPU. "
      "CPU per request and instructions per request are the figures that compare them; the "
      "instruction counts are repeatable, the timings move with whatever else runs on the "
      "machine. CPU per request also depends on how busy the server is (a server that sleeps "
      "in epoll_wait between requests pays a wake-up per batch), so read it beside the "
      "server CPU busy column; below 100% the load generator, not the server, set the pace.")
    w("")

    if args.profile and os.path.exists(args.profile):
        m = re.search(r"profile-c-(\d+)", args.profile)
        n = int(m.group(1)) if m else 32
        requests = get("c", n, "cg_requests") or 0
        self_cost = read_profile(args.profile, combine=sum)
        inclusive = read_profile(args.profile + ".inclusive", combine=max)
        api = sorted(
            ((ir, f) for f, ir in inclusive.items() if f.startswith("nx_")), reverse=True
        )
        calls = read_calls(args.profile + ".calls")
        w(f"## Where (c)'s instructions go (N = {n}, callgrind)")
        w("")
        w(f"Per request, over the {fmt(requests)} requests of the callgrind window "
          f"({fmt(get('c', n, 'ir'))} instructions per request in all). Full listings: "
          f"target/bench/profile-c-{n}.txt (self) and .inclusive.")
        w("")
        w("Each `nx_*` function the server calls, inclusive of everything it calls:")
        w("")
        w("| instructions/request | calls/request | instructions/call | function |")
        w("|---:|---:|---:|---|")
        for ir, f in api:
            n_calls = calls.get(f)
            per_call = f"{ir / n_calls:,.0f}" if n_calls else "–"
            per_req = f"{n_calls / requests:.3f}" if n_calls and requests else "–"
            w(f"| {ir / requests if requests else 0:,.1f} | {per_req} | {per_call} | `{f}` |")
        w("")
        w(f"The top {TOP_FUNCTIONS} functions by self cost (inlined code counted in the "
          f"function it was inlined into):")
        w("")
        w("| instructions/request | function |")
        w("|---:|---|")
        top = sorted(((ir, f) for f, ir in self_cost.items()), reverse=True)[:TOP_FUNCTIONS]
        for ir, f in top:
            w(f"| {ir / requests if requests else 0:,.1f} | `{f}` |")
        w("")

    print("\n".join(out))


if __name__ == "__main__":
    main()
