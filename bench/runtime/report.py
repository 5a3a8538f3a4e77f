"""Writes bench/runtime/results.md from what bench/runtime/run.sh measured (to stdout).

    report.py OUT_DIR --rounds R --producers "1 3" --commit C [options of the run, for the text]

OUT_DIR holds round-R-{nioxide,libuv}.txt ("key value" lines of runtime_bench, one file per
round and side), execute-pP-R-{side}.txt for the extra producer counts, and, if callgrind ran,
callgrind/{side}-{execute,timer,schedule}-{small,large}.out with their .txt outputs (the work
totals), core-R.txt (core/examples/timer_ops per round: the core's timer figures without the C
layer) and callgrind/core-{timer,clock}-{small,large}.out with theirs.
Each figure is the median over the rounds; instructions per task or operation are the
difference of the two callgrind totals divided by the difference of the work done, so the
fixed costs (start-up, warm-up, shutdown) cancel out.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

SIDES = ("nioxide", "libuv")


def read_kv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            values[parts[0]] = parts[1].strip()
    return values


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def callgrind_total(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    sys.exit(f"report.py: no totals in {path}")


def per_unit(
    out: Path, side: str, bench: str, key: str, count: Callable[[Path], int] | None = None
) -> float | None:
    """What `count` counts in a callgrind file (default: instructions) per task/operation,
    from the two callgrind runs of `bench`: the difference over the difference of work."""
    count = count or callgrind_total
    files = [out / "callgrind" / f"{side}-{bench}-{size}" for size in ("small", "large")]
    if not all(Path(f"{f}.out").exists() and Path(f"{f}.txt").exists() for f in files):
        return None
    small, large = (count(Path(f"{f}.out")) for f in files)
    work_small, work_large = (int(read_kv(Path(f"{f}.txt"))[key]) for f in files)
    return (large - small) / (work_large - work_small)


# libc's system-call wrappers, as callgrind names them: Rust's futex calls go through
# syscall(2); an eventfd wake-up is a write; glibc's contended mutexes wait and wake in __lll_*.
SYSCALLS = {"syscall", "write", "read", "epoll_wait", "epoll_ctl", "__lll_lock_wait",
            "__lll_lock_wake", "futex_wait", "futex_wake"}


def syscall_calls(path: Path) -> int:
    """How many times the process called one of SYSCALLS (callgrind's call counts)."""
    names: dict[str, str] = {}
    callee = None
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            if name:
                names[ident] = name
            callee = names.get(ident) if kind == "cfn" else None
            continue
        m = re.match(r"^calls=(\d+)", line)
        if m and callee is not None:
            if callee.split("@")[0] in SYSCALLS:
                total += int(m.group(1))
            callee = None
    return total


FUNC = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?:\s+\[(.*)\])?$")


def annotate(path: Path, inclusive: bool) -> list[tuple[int, str]]:
    """(instructions, function) rows of callgrind_annotate. callgrind lists the code inlined into
    a function under the file it came from, as separate rows of the same function: for self
    cost those rows are added up; for inclusive cost (which overlaps) the largest row is the
    function's."""
    text = subprocess.run(
        ["callgrind_annotate", "--auto=no", f"--inclusive={'yes' if inclusive else 'no'}",
         "--threshold=100", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    totals: dict[str, int] = defaultdict(int)
    for line in text.splitlines():
        m = FUNC.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = m.group(2)
        # "file:function": the function is what follows the last ':' that is not part of '::'.
        split = re.match(r"^(.*?[^:]):(?!:)(.*)$", name)
        func = split.group(2) if split else name
        totals[func] = totals[func] + ir if not inclusive else max(totals[func], ir)
    return sorted(((ir, f) for f, ir in totals.items()), reverse=True)


def short(func: str) -> str:
    func = re.sub(r"<(std::sys::sync::[a-z_:]+)::([A-Za-z]+)>", r"\1::\2", func)
    return func if len(func) <= 110 else func[:107] + "..."


def profile_section(out: Path, bench: str, unit: str, key: str, top: int) -> list[str]:
    path = out / "callgrind" / f"nioxide-{bench}-large.out"
    txt = out / "callgrind" / f"nioxide-{bench}-large.txt"
    if not path.exists() or not txt.exists():
        return []
    work = int(read_kv(txt)[key])
    total = callgrind_total(path)
    lines = [
        f"Self cost, the top {top} functions (inlined code counted in the function it was "
        f"inlined into), per {unit}, over the whole run of {num(work)} {unit}s "
        f"({num(total / work)} instructions per {unit} with start-up and warm-up):",
        "",
        f"| instructions/{unit} | share | function |",
        "|---:|---:|---|",
    ]
    for ir, func in annotate(path, inclusive=False)[:top]:
        lines.append(f"| {num(ir / work, 1)} | {100 * ir / total:.1f}% | `{short(func)}` |")
    entry = [(ir, f) for ir, f in annotate(path, inclusive=True)
             if ir >= work / 2 and re.match(
                 r"^(nx_\w+|nioxide_core::event_loop::EventLoop::"
                 r"(run_timers|run_tasks|try_schedule|push_task|wake|turn)|"
                 r"nioxide_core::event_loop::deadlines::\w+::\w+|"
                 r"nioxide_core::event_loop::timer::LoopTimer::\w+|"
                 r"nioxide_core::event_loop::promise::Promise::\w+|nioxide::handle::Handles::\w+|"
                 r"malloc|free|nioxide_core::sys::backend::Backend::\w+|"
                 r"nioxide_core::selector::Selector::\w+)$", f)]
    if entry:
        lines += ["", f"Inclusive cost of the entry points and the loop's phases, per {unit}:", "",
                  f"| instructions/{unit} | function |", "|---:|---|"]
        for ir, func in entry[:14]:
            lines.append(f"| {num(ir / work, 1)} | `{func}` |")
    return lines


def timer_section(out: Path, figures: dict[str, dict[str, list[float]]],
                  med: Callable[[str, str], float]) -> list[str]:
    """The timer targets, against libuv's figures of the same run: the C call on the loop's
    thread minus one clock read (the start's, which keeps a timer from firing early), the
    instructions, libuv doing the same never-early work, the core without the C layer
    (examples/timer_ops, core-R.txt), and the call from another thread."""
    def machine(key: str) -> float:  # a machine figure: both sides' rounds count
        return statistics.median([v for vals in figures[key].values() for v in vals])

    clock = machine("floor_clock_read_ns")
    rmw = machine("floor_atomic_rmw_ns")
    libuv_ns = 1e9 / med("timer_ops_per_s", "libuv")
    nioxide_ns = 1e9 / med("timer_ops_per_s", "nioxide")
    net = nioxide_ns - clock
    time_met = net <= 2 * libuv_ns
    rows = [
        "## What bounds the timer figure",
        "",
        "| figure (this machine, this run) | value | target | |",
        "|---|---:|---|---|",
        f"| libuv: `uv_timer_start` + `uv_timer_stop` (ns) | {libuv_ns:.1f} | | |",
    ]
    if "timer_ne_ops_per_s" in figures:
        libuv_ne = 1e9 / med("timer_ne_ops_per_s", "libuv")
        rows.append(f"| libuv: the same with `uv_update_time` before each start, never early "
                    f"(ns) | {libuv_ne:.1f} | | |")
    rows += [
        f"| nioxide: `nx_timer_start` + `nx_timer_stop` on the loop's thread (ns) | "
        f"{nioxide_ns:.1f} | | |",
        f"| one CLOCK_MONOTONIC read (vDSO; ns) | {clock:.1f} | | |",
        f"| nioxide minus one clock read (ns), and its ratio to libuv's plain start + stop | "
        f"{net:.1f} ({net / libuv_ns:.2f} ×) | ≤ 2.00 × | {'met' if time_met else '**missed**'} |",
    ]
    if "timer_ne_ops_per_s" in figures:
        rows.append(f"| nioxide / libuv doing the same never-early work | "
                    f"{nioxide_ns / libuv_ne:.2f} × | | |")
    ir = per_unit(out, "nioxide", "timer", "timer_ops_total")
    ir_u = per_unit(out, "libuv", "timer", "timer_ops_total")
    if ir is not None:
        rows.append(f"| callgrind instructions per start + stop, C API (libuv: "
                    f"{num(ir_u or 0)}) | {num(ir)} | ≤ 250 | "
                    f"{'met' if ir <= 250 else '**missed**'} |")
    core = [read_kv(f) for f in sorted(out.glob("core-*.txt"))]
    core_net = None
    if core:
        # Each round's own difference (its timer and clock loops ran back to back), then the
        # median over the rounds.
        core_net = statistics.median(float(kv["core_timer_net_ns"]) for kv in core)
        rows.append(f"| the core alone (`LoopTimer::start` + `stop` in Rust, examples/timer_ops) "
                    f"minus its clock read (ns) | {core_net:.1f} ({core_net / libuv_ns:.2f} ×) "
                    f"| | |")
        rows.append(f"| so the C layer's part (handle checks, the FFI boundary; ns) | "
                    f"{nioxide_ns - clock - core_net:.1f} | | |")
    files = [out / "callgrind" / f"core-timer-{size}" for size in ("small", "large")]
    if all(Path(f"{f}.out").exists() for f in files):
        small, large = (callgrind_total(Path(f"{f}.out")) for f in files)
        n_small, n_large = (int(read_kv(Path(f"{f}.txt"))["core_ops_total"]) for f in files)
        core_ir = (large - small) / (n_large - n_small)
        files = [out / "callgrind" / f"core-clock-{size}" for size in ("small", "large")]
        if all(Path(f"{f}.out").exists() for f in files):
            small, large = (callgrind_total(Path(f"{f}.out")) for f in files)
            core_ir -= (large - small) / (n_large - n_small)
        rows.append(f"| callgrind instructions per start + stop, the core alone (minus the "
                    f"clock loop's) | {num(core_ir)} | | |")
    if "remote_ops_per_s" in figures and figures["remote_ops_per_s"].get("nioxide"):
        remote = 1e9 / med("remote_ops_per_s", "nioxide")
        rows.append(f"| nioxide: start + stop from another thread while the loop runs, each "
                    f"queued to the loop, until it ran them (ns) | {remote:.1f} | | |")
    rows.append(f"| one uncontended atomic read-modify-write (a locked add; ns) | {rmw:.1f} | | |")
    rows += [
        "",
        "On the loop's thread a timer's start and stop take no lock and no atomic "
        "read-modify-write in the core: the deadline heaps belong to the thread that runs the "
        "loop (its run right), and a stopped timer keeps the heap's reference for its next "
        "start. A start reads the clock (a timer never fires early, measured from the call), "
        "which libuv skips by using the time cached at the start of the turn (with "
        "`uv_update_time` first it does the same work). The C API checks each handle on every "
        "call; what that adds is the difference between the C figure and the core's. From "
        "another thread a start or a stop is queued to the loop as a task (an allocation, the "
        "queue's lock, the loop running it).",
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--producers", default="1")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--tasks", type=int, required=True)
    ap.add_argument("--reps", default="?")
    ap.add_argument("--timer-ops", type=int, required=True)
    ap.add_argument("--batch", default="?")
    ap.add_argument("--samples", type=int, required=True)
    ap.add_argument("--pause-us", default="?")
    ap.add_argument("--loop-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--seconds", default="?")
    a = ap.parse_args()
    out: Path = a.out
    producers = a.producers.split()

    # key -> side -> [value per round]
    figures: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    versions = {}
    for r in range(1, a.rounds + 1):
        for side in SIDES:
            kv = read_kv(out / f"round-{r}-{side}.txt")
            versions[side] = kv.get("backend", side).split(None, 1)[-1]
            for key, value in kv.items():
                if key != "backend":
                    figures[key][side].append(float(value))
            for p in producers[1:]:
                f = out / f"execute-p{p}-{r}-{side}.txt"
                for key, value in read_kv(f).items():
                    if key != "backend":
                        figures[key][side].append(float(value))

    def med(key: str, side: str) -> float:
        return statistics.median(figures[key][side])

    def spread(key: str, side: str, scale: float, digits: int) -> str:
        vals = figures[key][side]
        return f"{num(min(vals) * scale, digits)}–{num(max(vals) * scale, digits)}"

    rows = []  # (label, key, scale, digits, higher_is_better)
    for p in producers:
        noun = "producer" if p == "1" else "producers"
        rows.append((f"cross-thread execute, {p} {noun} (tasks/s)", f"execute_p{p}_tasks_per_s",
                     1.0, 0, True))
    rows.append(("timer start + stop (operations/s)", "timer_ops_per_s", 1.0, 0, True))
    if "timer_ne_ops_per_s" in figures:
        rows.append(("timer start + stop, never early on both sides (libuv: `uv_update_time` "
                     "before each start) (operations/s)", "timer_ne_ops_per_s", 1.0, 0, True))
    if "schedule_ops_per_s" in figures:
        rows.append(("timer schedule + cancel, a future per timer (operations/s)",
                     "schedule_ops_per_s", 1.0, 0, True))
    rows.append(("idle wake-up latency, p50 (µs)", "wakeup_p50_ns", 1e-3, 1, False))
    rows.append(("idle wake-up latency, p99 (µs)", "wakeup_p99_ns", 1e-3, 1, False))

    table = [
        "| measure | nioxide | libuv | nioxide / libuv | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    verdicts = []
    for label, key, scale, digits, higher in rows:
        n, u = med(key, "nioxide"), med(key, "libuv")
        ratio = n / u
        met = ratio >= 1.0 if higher else ratio <= 1.0
        target = "≥ 1.00 (throughput ≥ libuv's)" if higher else "≤ 1.00 (latency ≤ libuv's)"
        verdicts.append((label, ratio, met))
        table.append(f"| {label} | {num(n * scale, digits)} | {num(u * scale, digits)} | "
                     f"{ratio:.2f} | {target} | {'met' if met else '**missed**'} |")

    ir_rows = []
    for label, bench, key, unit in [
        (f"instructions per executed task ({producers[0]} producer, callgrind)", "execute",
         f"execute_p{producers[0]}_tasks_total", "task"),
        ("instructions per timer start + stop (callgrind)", "timer", "timer_ops_total", "op"),
        ("instructions per timer schedule + cancel, a future per timer (callgrind)", "schedule",
         "schedule_ops_total", "op"),
        ("instructions per cheap call on the loop's own timer, the handle check "
         "(`nx_timer_is_active` / `uv_is_active`, from a loop task; callgrind)", "check",
         "check_ops_total", "op"),
    ]:
        ir_n, ir_u = (per_unit(out, side, bench, key) for side in SIDES)
        if ir_n is not None and ir_u is not None:
            ir_rows.append(f"| {label} | {num(ir_n)} | {num(ir_u)} | {ir_n / ir_u:.2f} | (none: "
                           f"explains the timings) | |")
        # The execute run's wake-ups under valgrind say nothing (its threads take turns): its
        # native write(2) count is in the second table. The timer run is one thread.
        sc_n, sc_u = (per_unit(out, side, bench, key, syscall_calls) for side in SIDES)
        if bench != "execute" and sc_n is not None and sc_u is not None:
            what = label.removeprefix("instructions per ").removesuffix(" (callgrind)")
            ir_rows.append(f"| system calls per {what} (callgrind's call counts) | "
                           f"{sc_n:.3f} | {sc_u:.3f} | | (none) | |")
    table += ir_rows

    lines = [
        "# nioxide benchmark: the runtime (event loop) against libuv",
        "",
        "Measured by bench/runtime/run.sh (`make bench` runs it) on "
        f"{date.today().isoformat()}, nioxide "
        f"{versions.get('nioxide', '?')} at {a.commit} (`cargo build --release`, the "
        f"libnioxide.so users link) against libuv {versions.get('libuv', '?')} (Debian's "
        f"libuv1-dev), {cpu_model()}, {os.cpu_count()} cores, "
        f"Linux {platform.release()}; {a.rounds} rounds alternating the two sides, each figure "
        f"the median of the rounds (each round's throughput is itself the median of {a.reps} "
        f"repetitions); the whole run took {a.seconds} s.",
        "",
        "Both sides are one C program, bench/runtime/runtime_bench.c, built twice: the same "
        "measuring code around nioxide's `nx_loop_*` (backend_nioxide.h) or libuv "
        "(backend_libuv.h). The loop runs on its own thread (nioxide: `nx_loop_start`; libuv: "
        "`uv_run` on a pthread) pinned to CPU "
        f"{a.loop_cpu} by its first task (`pthread_setaffinity_np`); the producer and the "
        f"wake-up client are pinned to CPU {a.client_cpu}.",
        "",
        f"- **execute**: the producer queues {num(a.tasks)} tiny tasks (each counts; the last "
        "stamps the time) as fast as it can; tasks/s from the producer's start to the last "
        "task's run. nioxide: `nx_loop_execute`. libuv: a malloc'd node appended to a "
        "mutex-protected queue, then `uv_async_send`; the async callback takes the whole queue "
        "under the mutex and runs it (uv_async_send coalesces).",
        f"- **timer**: on the loop's thread, {num(a.timer_ops)} times \"start a timer 1 s out, "
        f"then stop it\" on one timer made beforehand, in tasks of {a.batch} that each queue "
        "the next (the loop turns between them, so deferred work is counted). nioxide: "
        "`nx_timer_start` + `nx_timer_stop` on an `nx_timer_t`; libuv: `uv_timer_start` + "
        "`uv_timer_stop` on a `uv_timer_t`. The extra row **schedule + cancel** runs nioxide's "
        "other timer, a scheduled task with its own future (`nx_loop_schedule` + "
        "`nx_promise_cancel` + `nx_promise_free`), against the same libuv operation (libuv has "
        "no timer with a future). The row **never early** runs the timer operation with the "
        "deadline taken from the clock at the call on both sides (libuv: `uv_update_time` "
        "before each `uv_timer_start`; nioxide's start always does). The timer section below "
        "adds the start + stop from another thread (nioxide only: libuv's timers are for the "
        "loop's thread) and the core's figures without the C layer (core/examples/timer_ops, "
        "`LoopTimer::start` + `stop` in a task on a caller-driven loop, pinned to the loop's "
        "CPU).",
        f"- **wake-up**: {num(a.samples)} samples; the client takes CLOCK_MONOTONIC, "
        "queues a task (as above) to the idle loop, the task takes CLOCK_MONOTONIC; the client "
        f"spins until it ran, then sleeps {a.pause_us} µs so the loop is idle again.",
        "- **instructions**: user-space instructions of the whole process under `valgrind "
        "--tool=callgrind`, two runs of different sizes, the difference divided by the "
        "difference of work (fixed costs cancel); system calls likewise, counted as calls of "
        "libc's wrappers (futex through syscall(2), eventfd writes, epoll_wait, glibc's "
        "contended-mutex waits), for the single-threaded timer run. Repeatable where the "
        "timings are not; under valgrind the threads take turns, so the execute run drains its "
        "queue in few turns (its native wake-ups are counted in the second table).",
        "",
        *table,
        "",
        "## Targets",
        "",
    ]
    for label, ratio, met in verdicts:
        lines.append(f"- {label}: {ratio:.2f} × libuv — {'met' if met else '**missed**'}")
    if "floor_atomic_rmw_ns" in figures and "floor_clock_read_ns" in figures:
        lines += ["", *timer_section(out, figures, med)]
    lines += [
        "",
        "## Spread over the rounds, and what limits the execute figure",
        "",
        "Min–max over the rounds, then medians:",
        "",
        "| figure | nioxide | libuv |",
        "|---|---:|---:|",
    ]
    for label, key, scale, digits, _ in rows:
        lines.append(f"| {label} | {spread(key, 'nioxide', scale, digits)} | "
                     f"{spread(key, 'libuv', scale, digits)} |")
    for p in producers:
        key = f"execute_p{p}_submit_ns_per_task"
        if key in figures:
            lines.append(f"| execute, {p} producer(s): the producer's own time per execute call "
                         f"(ns; about 1e9 / tasks/s when the producer is the limit) | "
                         f"{num(med(key, 'nioxide'), 1)} | {num(med(key, 'libuv'), 1)} |")
        key = f"execute_p{p}_writes_per_task"
        if key in figures:
            lines.append(f"| execute, {p} producer(s): write(2) system calls per task (the "
                         f"eventfd wake-ups; /proc/self/io) | {med(key, 'nioxide'):.3f} | "
                         f"{med(key, 'libuv'):.3f} |")
        key = f"execute_p{p}_tasks_per_turn"
        if key in figures:
            lines.append(f"| execute, {p} producer(s): tasks run per loop turn that ran tasks "
                         f"(nioxide: turns; libuv: async callbacks) | "
                         f"{num(med(key, 'nioxide'), 1)} | {num(med(key, 'libuv'), 1)} |")
    for bench, unit, key in [("execute", "task", f"execute_p{producers[0]}_tasks_total"),
                             ("timer", "op", "timer_ops_total"),
                             ("schedule", "op", "schedule_ops_total")]:
        section = profile_section(out, bench, unit, key, 15)
        if section:
            lines += ["", f"## Where nioxide's instructions go: {bench} (callgrind)", "", *section]
    lines += [
        "",
        "The timings move with whatever else runs on this shared 2-core machine; the "
        "instruction counts do not. Full callgrind listings: target/bench/runtime/callgrind/ "
        "(`callgrind_annotate --inclusive=yes FILE`).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
