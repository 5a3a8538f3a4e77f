#!/usr/bin/env bash
# bench/lines/run.sh: the line-protocol echo benchmark (`make bench`). Not part of the tests.
#
# Line echo servers (the server cuts the byte stream into lines on '\n' and writes each line
# back), each with one event-loop thread, any subset of them in one run:
#   (A) epoll_line_echo.c    raw level-triggered epoll in C, its own line framing (the baseline
#                            of (B))
#   (B) codec_line_echo.c    nioxide's pipeline in C: the line decoder in nioxide
#                            (nx_codec_line_based_frame_decoder), the echoing handler in C
#   (C) streams_line_echo.py asyncio Streams on uvloop: reader.readline(), writer.write(),
#                            await writer.drain() (the anchor of (D))
#   (D) codec_line_echo.py   nioxide's pipeline in Python: the line decoder in nioxide
#                            (nioxide.LineBasedFrameDecoder), the echoing handler in Python
# A server whose source or API is not there yet is skipped, with the reason in results.md.
# (B) and (D), once written, behave as the others: take the port as their argument (0: the OS
# chooses) and print "listening on 127.0.0.1:PORT"; one loop thread; TCP_NODELAY; the line
# decoder with a maximum line length of at least 16 KiB, keeping the '\n' (or stripping it and
# writing it back after the line: the echo must be the bytes sent); each line written with the
# context's write and the writes flushed on channel_read_complete; the bytes of the lines
# echoed counted and reported with the rusage on SIGUSR1, and SIGTERM reporting and exiting
# (bench/bench_report.h for C, bench/bench_common.py's install() for Python), as
# bench/pipeline_echo.c and bench/pipeline_echo.py do.
# Each is driven by bench/loadgen.c in line mode (-l): on each of N connections (N = 1, 32,
# 512) one message of K lines of LINE bytes (each ending in '\n') in flight, written in one
# write, so the server frames K lines per read (fewer or more when TCP splits or joins them);
# the load generator checks every echoed byte. Server and load generator are pinned to
# different cores. For each server and N, as bench/run.sh measures (bench/lib.sh):
#   - lines/s over BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up, the best of
#     BENCH_REPEAT such windows;
#   - the server's CPU time (getrusage user + sys) per line over that window;
#   - the server's user-space instructions per line, from a separate run under callgrind
#     (for the Python servers the whole interpreter's).
# Writes bench/lines/results.md (and prints it): the table, each figure also as a ratio to its
# baseline measured in this run ((B) to (A), (D) to (C)), and issue 12 §8's targets: (D)'s CPU
# per line ≤ 0.8 × (C)'s, (B)'s ≤ 1.15 × (A)'s, each marked met or missed (or not measured, with
# the reason).
#
# Builds what it runs: the C programs (cc; (B) against include/nioxide.h and a release
# libnioxide, cargo build --release), uvloop (pinned, pip into .venv) for (C), the nioxide
# wheel into .venv for (D) (pip install ./python). Installs valgrind with apt-get when missing.
#
# Environment: BENCH_LINE (64: bytes per line, its '\n' included), BENCH_LINES_PER_WRITE (16),
# BENCH_DURATION (3), BENCH_WARMUP (1), BENCH_REPEAT (3), BENCH_CG_DURATION (2),
# BENCH_CG_WARMUP (1), BENCH_CONNS ("1 32 512"), BENCH_LINE_SERVERS ("A B C D"),
# BENCH_SERVER_CPU (0), BENCH_LOADGEN_CPU (1), BENCH_CALLGRIND (1; 0 skips the instruction
# counts), BENCH_SKIP_WHEEL (0; 1 uses the nioxide already in .venv), PYTHON
# (.venv/bin/python), NIOXIDE_LIB_DIR (a directory with a built libnioxide.so: then it is not
# built here), NIOXIDE_INCLUDE_DIR (include), CC (cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/bench
LINES=$BENCH/lines
OUT=$ROOT/target/bench-lines
LINE=${BENCH_LINE:-64}
PER_WRITE=${BENCH_LINES_PER_WRITE:-16}
SERVERS=${BENCH_LINE_SERVERS:-A B C D}
SIZE=$((LINE * PER_WRITE))

LOG_NAME=bench-lines
# The settings both benchmark scripts take, log, die, the server's clean-up on exit, starting
# and stopping servers, run_rusage and run_callgrind (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

((LINE >= 2 && PER_WRITE >= 1 && SIZE <= 65536)) ||
    die "BENCH_LINE ($LINE) × BENCH_LINES_PER_WRITE ($PER_WRITE) must be 2..65536 bytes"
started=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT/logs" "$OUT/callgrind" "$OUT/lib"
rm -f "$OUT"/logs/* "$OUT"/callgrind/*

# --- Tools and builds ---------------------------------------------------------------------------
if ((CALLGRIND)) && ! command -v valgrind >/dev/null; then
    log "installing valgrind with apt-get"
    sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends valgrind >&2
fi
(($(nproc) >= 2)) || log "warning: fewer than 2 cores: server and load generator share one"

CFLAGS=(-O2 -g -Wall -Wextra -Wpedantic -Werror)
"$CC" "${CFLAGS[@]}" -o "$OUT/loadgen" "$BENCH/loadgen.c"
wants A && "$CC" "${CFLAGS[@]}" -I"$BENCH" -o "$OUT/epoll_line_echo" "$LINES/epoll_line_echo.c"

if wants B; then
    if [[ ! -f $LINES/codec_line_echo.c ]]; then
        skip B "its source, bench/lines/codec_line_echo.c, does not exist yet"
    elif ! grep -qs 'nx_codec_line_based_frame_decoder' "$INCLUDE_DIR"/nioxide.h "$INCLUDE_DIR"/nioxide/*.h; then
        skip B "the C line decoder (nx_codec_line_based_frame_decoder) is not in include/nioxide.h yet"
    else
        if [[ -n ${NIOXIDE_LIB_DIR:-} ]]; then
            LIB_DIR=$(cd "$NIOXIDE_LIB_DIR" && pwd)
        else
            log "building libnioxide (cargo build --release)"
            cargo build --release -q -p nioxide --lib --manifest-path "$ROOT/Cargo.toml"
            LIB_DIR=$CARGO_TARGET_DIR/release
        fi
        ln -sf "$LIB_DIR/libnioxide.so" "$OUT/lib/libnioxide.so.0" # its soname
        "$CC" "${CFLAGS[@]}" -I"$INCLUDE_DIR" -I"$BENCH" -o "$OUT/codec_line_echo" \
            "$LINES/codec_line_echo.c" -L"$LIB_DIR" -lnioxide -lpthread -Wl,-rpath,"$OUT/lib"
    fi
fi
if wants D && [[ ! -f $LINES/codec_line_echo.py ]]; then
    skip D "its source, bench/lines/codec_line_echo.py, does not exist yet"
fi

if wants C || wants D; then
    [[ -x $PYTHON ]] || die "$PYTHON not found: run \`make bench\`, which makes .venv"
    # The interpreter itself, not a wrapper script, so that valgrind sees Python.
    PYEXE=$("$PYTHON" -c 'import sys; print(sys.executable)')
fi
if wants D && [[ ${BENCH_SKIP_WHEEL:-0} != 1 ]]; then
    log "installing the nioxide wheel into .venv (pip install ./python)"
    PATH="$(dirname "$PYTHON"):$PATH" "$PYTHON" -m pip install --disable-pip-version-check -q \
        --no-build-isolation "$ROOT/python"
fi
if wants D && ! "$PYEXE" -c 'import nioxide; nioxide.LineBasedFrameDecoder' 2>/dev/null; then
    skip D "the Python line decoder (nioxide.LineBasedFrameDecoder) is not in the nioxide module yet"
fi
if wants C && [[ $("$PYEXE" -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null) != "$UVLOOP_VERSION" ]]; then
    log "installing uvloop $UVLOOP_VERSION into .venv (pip)"
    "$PYEXE" -m pip install --disable-pip-version-check -q "uvloop==$UVLOOP_VERSION"
fi

# server_command SERVER: sets CMD to the server's command line (the port comes after it).
server_command() {
    case $1 in
    A) CMD=("$OUT/epoll_line_echo") ;;
    B) CMD=("$OUT/codec_line_echo") ;;
    C) CMD=("$PYEXE" "$LINES/streams_line_echo.py") ;;
    D) CMD=("$PYEXE" "$LINES/codec_line_echo.py") ;;
    *) die "unknown server $1" ;;
    esac
}

# The load generator in line mode.
LOADGEN_ARGS=(-l "$LINE")

RESULTS=$OUT/results.tsv
printf 'server\tconns\trps\tcpu_us_per_req\trequests\tir_per_req\tcg_requests\n' >"$RESULTS"
for s in $SERVERS; do
    for n in $CONNS; do
        log "server ($s), N=$n: best of $REPEAT windows of ${DURATION} s under load, $PER_WRITE lines of $LINE bytes per write"
        run_rusage "$s" "$n" "$SIZE"
        IR="" CG_REQUESTS=""
        if ((CALLGRIND)); then
            log "server ($s), N=$n: ${CG_DURATION} s under callgrind"
            run_callgrind "$s" "$n" "$SIZE"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$n" "$RPS" "$CPU_US" "$REQUESTS" "$IR" "$CG_REQUESTS" >>"$RESULTS"
    done
done

REPORT_ARGS=()
for skipped in "${SKIPS[@]}"; do REPORT_ARGS+=(--skip "$skipped"); done
python3 "$LINES/report.py" "$RESULTS" "${REPORT_ARGS[@]}" --line "$LINE" --per-write "$PER_WRITE" \
    --duration "$DURATION" --warmup "$WARMUP" --repeat "$REPEAT" --cg-duration "$CG_DURATION" \
    --server-cpu "$SERVER_CPU" --loadgen-cpu "$LOADGEN_CPU" \
    --load-start "$LOAD_START" --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- . ':(exclude)*.md' 2>/dev/null || echo +changes)" \
    >"$LINES/results.md"
cat "$LINES/results.md"
log "done in $(($(date +%s) - started)) s; logs and callgrind files in $OUT"
