"""Turns bench/run.sh's measurements into bench/results.md (Markdown, on stdout).

    python3 report.py RESULTS.tsv [--profile PROFILE.txt]... [--stream STREAM.tsv]
                      [--idle IDLE.tsv] [--skip SERVER=REASON]... [--duration S --warmup S
                      --cg-duration S --server-cpu N --loadgen-cpu N --load-start L
                      --load-end L --commit ID]

RESULTS.tsv: server, conns, rps, cpu_us_per_req, requests, ir_per_req, cg_requests (one row per
server and N). PROFILE.txt: `callgrind_annotate --inclusive=no` of a C nioxide server, named
profile-SERVER-N.txt, with .inclusive and .calls beside it. STREAM.tsv: server, size,
messages_per_s, cpu_us_per_message, messages (one connection, one large message in flight).
IDLE.tsv: server, conns, bytes_per_conn (resident memory per held connection). --skip: a
server the run left out, and why. Every figure is also given as a ratio to server (a),
measured in the same run.
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
    "f": "(f) nioxide pipeline, C",
    "g": "(g) nioxide pipeline, Python",
    "h": "(h) asyncio Protocol on uvloop, Python",
    "i": "(i) libuv, C",
    "j": "(j) nioxide AIO, C",
    "k": "(k) nioxide AIO, Python",
    "l": "(l) nioxide pipeline, Rust core only",
    "m": "(m) nioxide AIO, Rust core only",
}
MIB = 1 << 20
# The load average above which the timings are marked as taken on a busy machine (2 cores).
BUSY_LOAD = 2.0
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


def read_rows(path: str) -> dict[tuple[str, int], dict[str, float | None]]:
    rows: dict[tuple[str, int], dict[str, float | None]] = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(r["server"], int(r["conns"]))] = {
                "rps": float(r["rps"]),
                "cpu": float(r["cpu_us_per_req"]),
                "requests": float(r["requests"]),
                "ir": float(r["ir_per_req"]) if r["ir_per_req"] else None,
                "cg_requests": float(r["cg_requests"]) if r["cg_requests"] else None,
            }
    return rows


def read_stream(path: str | None) -> dict[str, dict[str, float]]:
    """STREAM.tsv -> server: MiB/s echoed and CPU µs per MiB."""
    stream: dict[str, dict[str, float]] = {}
    if not path or not os.path.exists(path):
        return stream
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            size = int(r["size"])
            stream[r["server"]] = {
                "size": size,
                "mib_s": float(r["messages_per_s"]) * size / MIB,
                "cpu_mib": float(r["cpu_us_per_message"]) * MIB / size,
            }
    return stream


def read_idle(path: str | None) -> dict[str, dict[str, float]]:
    """IDLE.tsv -> server: connections held, bytes of resident memory per connection, and the
    server's own allocations per connection (what its code, not the library, holds)."""
    idle: dict[str, dict[str, float]] = {}
    if not path or not os.path.exists(path):
        return idle
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            idle[r["server"]] = {
                "conns": float(r["conns"]),
                "bytes": float(r["bytes_per_conn"]),
                "own": float(r["own_bytes_per_conn"]),
            }
    return idle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--profile", action="append", default=[])
    parser.add_argument("--stream")
    parser.add_argument("--idle")
    parser.add_argument("--skip", action="append", default=[])
    parser.add_argument("--duration", default="?")
    parser.add_argument("--warmup", default="?")
    parser.add_argument("--repeat", default="1")
    parser.add_argument("--cg-duration", default="?")
    parser.add_argument("--server-cpu", default="?")
    parser.add_argument("--loadgen-cpu", default="?")
    parser.add_argument("--load-start", default="")
    parser.add_argument("--load-end", default="")
    parser.add_argument("--commit", default="unknown")
    args = parser.parse_args()

    rows = read_rows(args.results)
    stream = read_stream(args.stream)
    idle = read_idle(args.idle)
    skipped = dict(item.split("=", 1) for item in args.skip)
    servers = sorted({s for s, _ in rows})
    conns = sorted({n for _, n in rows})

    out: list[str] = []
    w = out.append
    w("# nioxide benchmark: echo servers")
    w("")
    w(f"Measured by `make bench` (bench/run.sh) on {datetime.date.today()}, nioxide {args.commit}, "
      f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}. Each server runs one "
      f"event-loop thread; the server runs on "
      f"CPU {args.server_cpu}, the load generator (bench/loadgen.c) on CPU {args.loadgen_cpu}; "
      f"it keeps one 64-byte message in flight on each of N connections and checks every echoed "
      f"byte. requests/s and CPU per request (the server's getrusage user + sys time over the "
      f"window, divided by the requests in it): {args.warmup} s warm-up, then {args.duration} s "
      f"measured, the best of {args.repeat} such windows (the one with the most requests/s) "
      f"against one server process. Instructions per request: a separate {args.cg_duration} s run of the server "
      f"under `valgrind --tool=callgrind`, counters zeroed after the warm-up and dumped at the "
      f"end of the window while nothing was in flight (user-space instructions of the whole "
      f"process, every thread: for the Python servers the interpreter's). Every ratio is to (a) "
      f"at the same N, in this run.")
    w("")
    loads = [float(x) for x in (args.load_start + " " + args.load_end).split()]
    if loads:
        busy_note = ""
        if max(loads) > BUSY_LOAD:
            busy_note = (f" **The machine was loaded** (load average above {BUSY_LOAD:g} on "
                         f"{os.cpu_count()} cores: other work ran beside the benchmark), so the "
                         f"timings (requests/s, CPU per request and per MiB) are noisier and "
                         f"the ratios less certain than on a quiet machine; the instruction "
                         f"counts and the memory figures do not depend on it.")
        w(f"Load average (1, 5, 15 min) at the start of the run: {args.load_start}; at the end: "
          f"{args.load_end}.{busy_note}")
        w("")
    if skipped:
        w("Not measured in this run:")
        w("")
        for s, reason in sorted(skipped.items()):
            w(f"- {NAMES.get(s, s)}: skipped, {reason}.")
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

    if stream:
        size = next(iter(stream.values()))["size"]
        w(f"### Stream: one connection, one {size // 1024} KiB message in flight")
        w("")
        w(f"The load generator writes {size // 1024} KiB at a time and reads the echo back "
          f"(checking it) before the next; the server's CPU time per MiB echoed, best of "
          f"{args.repeat} windows as above.")
        w("")
        w("| server | MiB/s | CPU µs/MiB | ×(a) |")
        w("|---|---:|---:|---:|")
        a_mib = stream.get("a", {}).get("cpu_mib")
        for s in sorted(stream):
            st = stream[s]
            w(f"| {NAMES.get(s, s)} | {fmt(st['mib_s'])} | {fmt(st['cpu_mib'])} "
              f"| {ratio(st['cpu_mib'], a_mib)} |")
        w("")

    if idle:
        held = int(next(iter(idle.values()))["conns"])
        w(f"### Idle memory: {held:,} connections, each echoed one byte, then held")
        w("")
        w(f"The server's resident memory (VmRSS) before and after the {held:,} connections "
          f"opened (after a warm-up batch, so that what is made once is made), in one fresh "
          f"process per server, divided by {held:,}. \"own\" is what the server's code "
          f"itself allocates per connection (not the library's); the last column takes it "
          f"off.")
        w("")
        w("| server | bytes/connection | own bytes/connection | bytes/connection − own |")
        w("|---|---:|---:|---:|")
        for s in sorted(idle):
            i = idle[s]
            w(f"| {NAMES.get(s, s)} | {fmt(i['bytes'])} | {fmt(i['own'])} "
              f"| {fmt(i['bytes'] - i['own'])} |")
        w("")

    # Targets.
    w("## Targets")
    w("")

    def get(s: str, n: int, key: str) -> float | None:
        r = rows.get((s, n))
        return None if r is None else r[key]

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**missed**")

    def cpu_vs_a(s: str, factor: float) -> None:
        x, a = get(s, 32, "cpu"), get("a", 32, "cpu")
        ok = None if x is None or a is None else x <= factor * a
        w(f"- ({s}) CPU per request ≤ {factor:.2f} × (a) at N = 32: "
          f"{ratio(x, a)} × (a) ({fmt(x, 2)} vs {fmt(a, 2)} µs) — {verdict(ok)}")

    def instructions_at_most(s: str, limit: int) -> None:
        x = get(s, 32, "ir")
        others = ", ".join(f"N = {n}: {fmt(get(s, n, 'ir'))}" for n in conns
                           if n != 32 and get(s, n, "ir") is not None)
        ok = None if x is None else x <= limit
        w(f"- ({s}) instructions per request ≤ {limit} at N = 32: {fmt(x)}"
          f"{' (' + others + ')' if others else ''} — {verdict(ok)}")

    def every_n(s: str, base: str, metric: str, label: str, factor: float) -> None:
        """At every N measured: s's metric ≤ factor × base's."""
        parts, oks = [], []
        for n in conns:
            x, b = get(s, n, metric), get(base, n, metric)
            if x is not None and b is not None:
                parts.append(f"N = {n}: {x / b:.2f}")
                oks.append(x <= factor * b)
        ok = all(oks) if oks else None
        bound = f"{factor:.2f} × " if factor != 1 else ""
        w(f"- ({s}) {label} ≤ {bound}({base})'s at every N: {', '.join(parts) or '–'} "
          f"× ({base}) — {verdict(ok)}")

    def rps_n1(s: str) -> None:
        x, a = get(s, 1, "rps"), get("a", 1, "rps")
        ok = None if x is None or a is None else x >= 0.95 * a
        w(f"- ({s}) requests/s at N = 1 ≥ 0.95 × (a): {ratio(x, a)} × (a) "
          f"({fmt(x)} vs {fmt(a)}) — {verdict(ok)}")

    def idle_at_most(s: str, limit: int, minus_own: bool) -> None:
        i = idle.get(s)
        x = None if i is None else i["bytes"] - (i["own"] if minus_own else 0)
        ok = None if x is None else x <= limit
        what = "(ΔRSS − own) / connection" if minus_own else "ΔRSS / connection"
        w(f"- ({s}) idle {what} ≤ {limit} bytes: {fmt(x)} — {verdict(ok)}")

    def mallocs(s: str) -> None:
        n = profiled.get(s)
        if n is None:
            w(f"- ({s}) no heap allocation per request in steady state: not measured")
            return
        count = sum(calls_per_request(s, n, f) for f in ("malloc", "calloc", "realloc"))
        w(f"- ({s}) no heap allocation per request in steady state: {count:.3f} calls to "
          f"`malloc`, `calloc` or `realloc` per request in the callgrind window at N = {n} — "
          f"{verdict(count < 0.01)}")

    profiled: dict[str, int] = {}
    for path in args.profile:
        m = re.search(r"profile-([a-z])-(\d+)\.txt$", path)
        if m and os.path.exists(path):
            profiled[m.group(1)] = int(m.group(2))
    profile_dir = os.path.dirname(args.profile[0]) if args.profile else ""

    def calls_per_request(s: str, n: int, function: str) -> float:
        calls = read_calls(os.path.join(profile_dir, f"profile-{s}-{n}.txt.calls"))
        requests = get(s, n, "cg_requests") or 0
        return calls.get(function, 0) / requests if requests else 0.0

    w("### Issue 10 §9: the channel pipeline")
    w("")
    cpu_vs_a("f", 1.10)
    instructions_at_most("f", 600)
    every_n("g", "h", "cpu", "CPU per request", 0.95)
    every_n("g", "h", "ir", "instructions per request", 1.0)
    fx, ax = stream.get("f", {}).get("cpu_mib"), stream.get("a", {}).get("cpu_mib")
    ok = None if fx is None or ax is None else fx <= ax
    w(f"- (f) stream CPU per MiB ≤ (a)'s: {ratio(fx, ax)} × (a) ({fmt(fx)} vs {fmt(ax)} µs/MiB)"
      f" — {verdict(ok)}")
    rps_n1("f")
    if any(s == "g" for s, _ in rows):
        rps_n1("g")
    mallocs("f")
    idle_at_most("f", 1024, minus_own=False)
    idle_at_most("g", 1024, minus_own=False)
    for s in ("h", "i"):
        if s in idle:
            w(f"- ({s}) idle, reported beside: {fmt(idle[s]['bytes'])} bytes per connection")
    w("")
    w("### Issue 11 §7: AIO")
    w("")
    cpu_vs_a("j", 1.10)
    instructions_at_most("j", 600)
    every_n("k", "h", "cpu", "CPU per request", 1.0)
    idle_at_most("j", 256, minus_own=True)
    w("")
    w("### The Selector's (earlier issue)")
    w("")
    cpu_vs_a("c", 1.10)
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

    for s in sorted(profiled):
        n = profiled[s]
        path = os.path.join(profile_dir, f"profile-{s}-{n}.txt")
        requests = get(s, n, "cg_requests") or 0
        self_cost = read_profile(path, combine=sum)
        inclusive = read_profile(path + ".inclusive", combine=max)
        api = sorted(
            ((ir, f) for f, ir in inclusive.items() if f.startswith("nx_")), reverse=True
        )
        calls = read_calls(path + ".calls")
        w(f"## Where ({s})'s instructions go (N = {n}, callgrind)")
        w("")
        w(f"Per request, over the {fmt(requests)} requests of the callgrind window "
          f"({fmt(get(s, n, 'ir'))} instructions per request in all). Full listings: "
          f"target/bench/profile-{s}-{n}.txt (self) and .inclusive.")
        w("")
        w("Each `nx_*` function in the profile, inclusive of everything it calls:")
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
