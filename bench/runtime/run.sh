#!/usr/bin/env bash
# bench/runtime/run.sh: the runtime benchmark, nioxide's event loop against libuv in the same
# run (`make bench` runs it after bench/run.sh). Not part of the tests.
#
# The measurements (bench/runtime/runtime_bench.c, one source built against each side):
#   1. cross-thread execute throughput (tasks/s): producer thread(s) -> one loop thread;
#   2. timer start + stop throughput (operations/s) on one reusable timer, on the loop's thread
#      (nx_timer_start/stop, uv_timer_start/stop); and, as an extra row, nioxide's scheduled
#      task with its own future (nx_loop_schedule + cancel) against the same libuv operation;
#      the same start + stop with libuv made never early (uv_update_time before each start);
#      nioxide's start + stop from another thread (queued to the loop); and the core's own
#      figures without the C layer (core/examples/timer_ops, pinned to the loop's CPU);
#   3. wake-up latency of an idle loop (p50, p99): execute from another thread until it runs;
# plus the instructions per task and per timer operation under valgrind's callgrind (two runs
# of different sizes, differenced), and where nioxide's instructions go.
# Writes bench/runtime/results.md (and prints it) with each figure, its ratio nioxide/libuv and
# whether the targets are met (throughput >= libuv's, latency <= libuv's).
#
# Builds what it runs: libnioxide (cargo build --release) and the two programs (cc, linked to
# target/release/libnioxide.so with an rpath, and to libuv through pkg-config). Installs
# libuv1-dev and pkg-config (and valgrind, for the instruction counts) with apt-get when missing.
#
# Threads: the loop thread is pinned to BENCH_RT_LOOP_CPU (0) by its first task, the producers
# and the wake-up client to BENCH_RT_CLIENT_CPU (1) (both 0 on a 1-core machine).
#
# Environment: BENCH_RT_ROUNDS (5: rounds alternating nioxide and libuv), BENCH_RT_TASKS
# (1000000 per repetition), BENCH_RT_REPS (5), BENCH_RT_PRODUCERS ("1"; e.g. "1 3" adds rows),
# BENCH_RT_TIMER_OPS (1000000), BENCH_RT_BATCH (1000 timer operations per loop task),
# BENCH_RT_SAMPLES (10000), BENCH_RT_PAUSE_US (1000), BENCH_RT_LOOP_CPU, BENCH_RT_CLIENT_CPU,
# BENCH_RT_CALLGRIND (1; 0 skips the instruction counts), NIOXIDE_LIB_DIR (a directory with a
# built libnioxide.so: then it is not built here), NIOXIDE_INCLUDE_DIR (include), CC (cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/runtime
OUT=$ROOT/target/bench/runtime
ROUNDS=${BENCH_RT_ROUNDS:-5}
TASKS=${BENCH_RT_TASKS:-1000000}
REPS=${BENCH_RT_REPS:-5}
PRODUCERS=${BENCH_RT_PRODUCERS:-1}
TIMER_OPS=${BENCH_RT_TIMER_OPS:-1000000}
BATCH=${BENCH_RT_BATCH:-1000}
SAMPLES=${BENCH_RT_SAMPLES:-10000}
PAUSE_US=${BENCH_RT_PAUSE_US:-1000}
CALLGRIND=${BENCH_RT_CALLGRIND:-1}
INCLUDE_DIR=${NIOXIDE_INCLUDE_DIR:-$ROOT/include}
CC=${CC:-cc}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { echo "bench/runtime: $*" >&2; }
die() { log "$*"; exit 1; }

if (($(nproc) >= 2)); then
    LOOP_CPU=${BENCH_RT_LOOP_CPU:-0}
    CLIENT_CPU=${BENCH_RT_CLIENT_CPU:-1}
else
    log "warning: one core: the loop and the client share it"
    LOOP_CPU=${BENCH_RT_LOOP_CPU:-0}
    CLIENT_CPU=${BENCH_RT_CLIENT_CPU:-0}
fi

started=$(date +%s)
rm -rf "$OUT"
mkdir -p "$OUT/lib" "$OUT/callgrind"

# --- Tools and builds ---------------------------------------------------------------------------
missing=""
command -v pkg-config >/dev/null || missing="$missing pkg-config"
if ! command -v pkg-config >/dev/null || ! pkg-config --exists libuv; then
    missing="$missing libuv1-dev"
fi
if ((CALLGRIND)) && ! command -v valgrind >/dev/null; then missing="$missing valgrind"; fi
if [[ -n $missing ]]; then
    log "installing$missing with apt-get"
    sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >&2
fi

if [[ -n ${NIOXIDE_LIB_DIR:-} ]]; then
    LIB_DIR=$NIOXIDE_LIB_DIR
else
    log "building libnioxide (cargo build --release)"
    cargo build --release -q -p nioxide --lib --manifest-path "$ROOT/Cargo.toml"
    LIB_DIR=$CARGO_TARGET_DIR/release
fi
ln -sf "$LIB_DIR/libnioxide.so" "$OUT/lib/libnioxide.so.0" # its soname
CFLAGS=(-O2 -g -Wall -Wextra -Wpedantic -Werror -pthread)
# shellcheck disable=SC2046 # pkg-config's words are separate flags
"$CC" "${CFLAGS[@]}" -DRT_LIBUV -o "$OUT/runtime_bench_libuv" "$HERE/runtime_bench.c" \
    $(pkg-config --cflags --libs libuv)
"$CC" "${CFLAGS[@]}" -DRT_NIOXIDE -I"$INCLUDE_DIR" -o "$OUT/runtime_bench_nioxide" \
    "$HERE/runtime_bench.c" -L"$LIB_DIR" -lnioxide -Wl,-rpath,"$OUT/lib"
log "building the core's timer figures (cargo build --release --example timer_ops)"
cargo build --release -q -p nioxide-core --example timer_ops --manifest-path "$ROOT/Cargo.toml"
CORE_OPS=$CARGO_TARGET_DIR/release/examples/timer_ops

# --- Timings ------------------------------------------------------------------------------------
first_p=${PRODUCERS%% *}
common=(-L "$LOOP_CPU" -C "$CLIENT_CPU" -r "$REPS")
for ((r = 1; r <= ROUNDS; r++)); do
    # Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
    order=(nioxide libuv)
    ((r % 2)) || order=(libuv nioxide)
    for side in "${order[@]}"; do
        log "round $r/$ROUNDS: $side"
        "$OUT/runtime_bench_$side" "${common[@]}" -n "$TASKS" -P "$first_p" -t "$TIMER_OPS" \
            -b "$BATCH" -s "$SAMPLES" -w "$PAUSE_US" >"$OUT/round-$r-$side.txt" ||
            die "runtime_bench_$side failed (round $r)"
        if [[ $side == nioxide ]]; then
            taskset -c "$LOOP_CPU" "$CORE_OPS" "$TIMER_OPS" timer,clock,schedule \
                >"$OUT/core-$r.txt" || die "timer_ops failed (round $r)"
        fi
        for p in $PRODUCERS; do
            [[ $p == "$first_p" ]] && continue
            "$OUT/runtime_bench_$side" "${common[@]}" -x execute -n "$TASKS" -P "$p" \
                >"$OUT/execute-p$p-$r-$side.txt" || die "runtime_bench_$side -P $p failed"
        done
    done
done

# --- Instructions (callgrind) -------------------------------------------------------------------
if ((CALLGRIND)); then
    for side in nioxide libuv; do
        for size in small large; do
            if [[ $size == small ]]; then n=50000; else n=100000; fi
            log "callgrind: $side, execute, timer and schedule, $n each"
            base=$OUT/callgrind/$side-execute-$size
            valgrind --tool=callgrind --callgrind-out-file="$base.out" \
                "$OUT/runtime_bench_$side" -L "$LOOP_CPU" -C "$CLIENT_CPU" -r 1 -x execute \
                -n "$n" -P "$first_p" >"$base.txt" 2>"$base.err" ||
                die "callgrind run failed ($side)"
            for op in timer clock; do
                base=$OUT/callgrind/core-$op-$size
                if [[ $side == nioxide ]]; then
                    valgrind --tool=callgrind --callgrind-out-file="$base.out" "$CORE_OPS" "$n" \
                        "$op" >"$base.txt" 2>"$base.err" || die "callgrind run failed (core)"
                fi
            done
            for op in timer schedule check; do
                base=$OUT/callgrind/$side-$op-$size
                valgrind --tool=callgrind --callgrind-out-file="$base.out" \
                    "$OUT/runtime_bench_$side" -L "$LOOP_CPU" -C "$CLIENT_CPU" -r 1 -x "$op" \
                    -t "$n" -b "$BATCH" >"$base.txt" 2>"$base.err" ||
                    die "callgrind run failed ($side)"
            done
        done
    done
fi

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit+="+changes"
python3 "$HERE/report.py" "$OUT" --rounds "$ROUNDS" --producers "$PRODUCERS" --commit "$commit" \
    --tasks "$TASKS" --reps "$REPS" --timer-ops "$TIMER_OPS" --batch "$BATCH" \
    --samples "$SAMPLES" --pause-us "$PAUSE_US" --loop-cpu "$LOOP_CPU" \
    --client-cpu "$CLIENT_CPU" --seconds "$(($(date +%s) - started))" >"$HERE/results.md"
cat "$HERE/results.md"
log "done in $(($(date +%s) - started)) s; raw output and callgrind files in $OUT"
