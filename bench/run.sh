#!/usr/bin/env bash
# bench/run.sh: the benchmark (`make bench`). Not part of the tests.
#
# Echo servers, each with one event-loop thread, any subset of them in one run:
#   (a) epoll_echo.c      raw level-triggered epoll in C (the baseline of every ratio)
#   (b) mio-echo/         mio 1.x in Rust
#   (c) nioxide_echo.c    the nioxide Selector in C (the public API and shared library users get)
#   (d) nioxide_echo.py   the nioxide Selector in Python (the installed wheel)
#   (e) stdlib_echo.py    Python's selectors + socket
#   (f) pipeline_echo.c   the nioxide channel pipeline in C (Netty's EchoServerHandler)
#   (g) pipeline_echo.py  the nioxide channel pipeline in Python, the handler in Python
#   (h) uvloop_echo.py    an asyncio Protocol on uvloop (the anchor for (g) and (k))
#   (i) libuv_echo.c      libuv: uv_read_start + uv_try_write (the anchor for (f) and (j))
#   (j) aio_echo.c        nioxide AIO in C: read -> write -> read completion handlers
#   (k) aio_echo.py       nioxide AIO in Python
#   (l) core/examples/pipeline_echo_server.rs  (f)'s server on the Rust core alone: the floor
#                         under (f), without the C boundary
#   (m) core/examples/aio_echo_server.rs  (j)'s server on the Rust core alone: the floor under (j)
# A server whose source or API is not there yet is skipped, with the reason in results.md.
# Each is driven by loadgen.c keeping one 64-byte message in flight on each of N connections
# (N = 1, 32, 512), server and load generator pinned to different cores. For each server and N:
#   - requests/s over BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up, the best
#     of BENCH_REPEAT such windows (the machine is shared: noise only ever slows one down);
#   - the server's CPU time (its getrusage user + sys) per request over that same window;
#   - the server's user-space instructions per request: a separate, shorter run under
#     valgrind --tool=callgrind, instrumentation off until the warm-up is over, counters zeroed
#     and dumped while nothing is in flight (bench/mark.sh), divided by the requests the load
#     generator completed in between. For the Python servers that is the whole interpreter's.
#   - then, once per server, the stream figure: one connection, one 64 KiB message in flight
#     (the load generator writes 64 KiB at a time), the server's CPU time per MiB echoed;
#   - and its idle memory: 10,000 connections each echo one byte, then are held; the growth of
#     the server's resident memory per connection (bench/idle/idle_clients.c opens them).
# Writes bench/results.md (and prints it): the table, each figure also as a ratio to (a), the
# targets and whether they were met, and where (c)'s and (f)'s instructions go
# (callgrind_annotate).
#
# Builds what it runs: libnioxide (cargo build --release), the C programs (cc against
# include/nioxide.h), mio-echo (cargo, its own project and target directory), the nioxide wheel
# into .venv (pip install ./python; `make bench` made .venv), uvloop (pinned, pip into .venv)
# for (h). Installs valgrind, and pkg-config with libuv1-dev for (i), with apt-get when missing.
#
# Environment: BENCH_DURATION (3), BENCH_WARMUP (1), BENCH_REPEAT (3), BENCH_CG_DURATION (2),
# BENCH_CG_WARMUP (1),
# BENCH_CONNS ("1 32 512"), BENCH_SERVERS ("a b c d e f g h i j k"; l and m, the
# core-only pipeline and AIO echoes, only when asked), BENCH_SERVER_CPU (0),
# BENCH_STREAM (1; 0 skips the stream figure), BENCH_STREAM_SIZE (65536), BENCH_IDLE (1; 0
# skips the idle figure), BENCH_IDLE_CONNS (10000), BENCH_IDLE_WARM (1000),
# BENCH_LOADGEN_CPU (1), BENCH_CALLGRIND (1; 0 skips the instruction counts),
# BENCH_SKIP_WHEEL (0; 1 uses the nioxide already in .venv), PYTHON (.venv/bin/python),
# NIOXIDE_LIB_DIR (a directory with a built libnioxide.so: then it is not built here),
# NIOXIDE_INCLUDE_DIR (include), CC (cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$ROOT/target/bench
# The settings both benchmark scripts take, log, die, the server's clean-up on exit, starting
# and stopping servers, run_rusage and run_callgrind (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

SERVERS=${BENCH_SERVERS:-a b c d e f g h i j k}
STREAM=${BENCH_STREAM:-1}
IDLE=${BENCH_IDLE:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
IDLE_WARM=${BENCH_IDLE_WARM:-1000}
STREAM_SIZE=${BENCH_STREAM_SIZE:-65536}

started=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg) # the machine's load average, reported with the figures
mkdir -p "$OUT/logs" "$OUT/callgrind" "$OUT/lib"
rm -f "$OUT"/logs/* "$OUT"/callgrind/*

# --- Tools and builds ---------------------------------------------------------------------------
missing=""
if ((CALLGRIND)) && ! command -v valgrind >/dev/null; then missing="$missing valgrind"; fi
if wants i && ! { command -v pkg-config >/dev/null && pkg-config --exists libuv; }; then
    missing="$missing pkg-config libuv1-dev"
fi
if [[ -n $missing ]]; then
    log "installing$missing with apt-get"
    sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -q >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >&2
fi
(($(nproc) >= 2)) || log "warning: fewer than 2 cores: server and load generator share one"

if [[ -n ${NIOXIDE_LIB_DIR:-} ]]; then
    LIB_DIR=$(cd "$NIOXIDE_LIB_DIR" && pwd) # absolute: the soname link below points there
else
    log "building libnioxide (cargo build --release)"
    cargo build --release -q -p nioxide --lib --manifest-path "$ROOT/Cargo.toml"
    LIB_DIR=$CARGO_TARGET_DIR/release
fi
ln -sf "$LIB_DIR/libnioxide.so" "$OUT/lib/libnioxide.so.0" # its soname
CFLAGS=(-O2 -g -Wall -Wextra -Wpedantic -Werror)
"$CC" "${CFLAGS[@]}" -o "$OUT/loadgen" "$BENCH/loadgen.c"
"$CC" "${CFLAGS[@]}" -o "$OUT/epoll_echo" "$BENCH/epoll_echo.c"
# build_nioxide_c NAME: bench/NAME.c against include/nioxide.h and libnioxide.
build_nioxide_c() {
    "$CC" "${CFLAGS[@]}" -I"$INCLUDE_DIR" -o "$OUT/$1" "$BENCH/$1.c" \
        -L"$LIB_DIR" -lnioxide -lpthread -Wl,-rpath,"$OUT/lib"
}
build_nioxide_c nioxide_echo
wants f && build_nioxide_c pipeline_echo
if wants i; then
    # shellcheck disable=SC2046
    "$CC" "${CFLAGS[@]}" -o "$OUT/libuv_echo" "$BENCH/libuv_echo.c" $(pkg-config --cflags --libs libuv)
fi

# Servers that cannot run yet (their source, or the API they need, has not landed): skipped
# (bench/lib.sh's skip), each with its reason, which results.md carries.
if wants j; then
    if grep -qs 'nx_aio_socket_read' "$INCLUDE_DIR"/nioxide/*.h; then
        build_nioxide_c aio_echo
    else
        skip j "the C AIO API (nx_aio_*) is not in include/nioxide.h yet"
    fi
fi

if wants l; then
    log "building pipeline_echo_server (cargo, core/examples)"
    cargo build --release -q -p nioxide-core --example pipeline_echo_server
fi
if wants m; then
    log "building aio_echo_server (cargo, core/examples)"
    cargo build --release -q -p nioxide-core --example aio_echo_server
fi

log "building mio-echo (cargo, bench/mio-echo)"
cargo build --release -q --manifest-path "$BENCH/mio-echo/Cargo.toml" \
    --target-dir "$CARGO_TARGET_DIR/mio-echo"
MIO_ECHO=$CARGO_TARGET_DIR/mio-echo/release/mio-echo

[[ -x $PYTHON ]] || die "$PYTHON not found: run \`make bench\`, which makes .venv"
if [[ ${BENCH_SKIP_WHEEL:-0} != 1 ]]; then
    log "installing the nioxide wheel into $("$PYTHON" -c 'import sys; print(sys.prefix)') (pip install ./python)"
    PATH="$(dirname "$PYTHON"):$PATH" "$PYTHON" -m pip install --disable-pip-version-check -q \
        --no-build-isolation "$ROOT/python"
fi
# The interpreter itself, not a wrapper script, so that valgrind sees Python.
PYEXE=$("$PYTHON" -c 'import sys; print(sys.executable)')
"$PYEXE" -c 'import nioxide' || die "nioxide does not import in $PYEXE"
if wants h && [[ $("$PYEXE" -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null) != "$UVLOOP_VERSION" ]]; then
    log "installing uvloop $UVLOOP_VERSION into .venv (pip)"
    "$PYEXE" -m pip install --disable-pip-version-check -q "uvloop==$UVLOOP_VERSION"
fi
if wants g && ! "$PYEXE" -c 'import nioxide; nioxide.ServerBootstrap' 2>/dev/null; then
    skip g "the Python channel pipeline (nioxide.ServerBootstrap) is not in the nioxide module yet"
fi
if wants k && ! "$PYEXE" -c 'import nioxide; nioxide.AsynchronousSocketChannel' 2>/dev/null; then
    skip k "the Python AIO API (nioxide.AsynchronousSocketChannel) is not in the nioxide module yet"
fi

# server_command SERVER: sets CMD to the server's command line (the port comes after it).
server_command() {
    case $1 in
    a) CMD=("$OUT/epoll_echo") ;;
    b) CMD=("$MIO_ECHO") ;;
    c) CMD=("$OUT/nioxide_echo") ;;
    d) CMD=("$PYEXE" "$BENCH/nioxide_echo.py") ;;
    e) CMD=("$PYEXE" "$BENCH/stdlib_echo.py") ;;
    f) CMD=("$OUT/pipeline_echo") ;;
    g) CMD=("$PYEXE" "$BENCH/pipeline_echo.py") ;;
    h) CMD=("$PYEXE" "$BENCH/uvloop_echo.py") ;;
    i) CMD=("$OUT/libuv_echo") ;;
    j) CMD=("$OUT/aio_echo") ;;
    k) CMD=("$PYEXE" "$BENCH/aio_echo.py") ;;
    l) CMD=("$CARGO_TARGET_DIR/release/examples/pipeline_echo_server") ;;
    m) CMD=("$CARGO_TARGET_DIR/release/examples/aio_echo_server") ;;
    *) die "unknown server $1" ;;
    esac
}

RESULTS=$OUT/results.tsv
printf 'server\tconns\trps\tcpu_us_per_req\trequests\tir_per_req\tcg_requests\n' >"$RESULTS"
for s in $SERVERS; do
    for n in $CONNS; do
        log "server ($s), N=$n: best of $REPEAT windows of ${DURATION} s under load"
        run_rusage "$s" "$n"
        IR="" CG_REQUESTS=""
        if ((CALLGRIND)); then
            log "server ($s), N=$n: ${CG_DURATION} s under callgrind"
            run_callgrind "$s" "$n"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$n" "$RPS" "$CPU_US" "$REQUESTS" "$IR" "$CG_REQUESTS" >>"$RESULTS"
    done
done

# The stream figure: one connection, STREAM_SIZE bytes in flight, written STREAM_SIZE at a time.
STREAM_RESULTS=$OUT/stream.tsv
printf 'server\tsize\tmessages_per_s\tcpu_us_per_message\tmessages\n' >"$STREAM_RESULTS"
if ((STREAM)); then
    for s in $SERVERS; do
        log "server ($s): stream of $STREAM_SIZE-byte messages, best of $REPEAT windows of ${DURATION} s"
        run_rusage "$s" 1 "$STREAM_SIZE" "$s-stream"
        printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$STREAM_SIZE" "$RPS" "$CPU_US" "$REQUESTS" >>"$STREAM_RESULTS"
    done
fi

# The idle figure: IDLE_CONNS connections, each echoes one byte, then all are held; the
# server's resident memory per connection, in a fresh server process. A warm-up batch of
# IDLE_WARM connections goes first, so that what is made once (buffers, tables) is made.
# A server that prints "own_bytes_per_connection=N" (after its port) allocates N bytes of its
# own per idle connection, all resident: report.py takes them off, leaving the library's cost.
# The others print nothing: they keep nothing of their own per connection, or ((a) to (e)) a
# 16 KiB buffer of which only the pages the one byte touched are resident.
IDLE_RESULTS=$OUT/idle.tsv
printf 'server\tconns\tbytes_per_conn\town_bytes_per_conn\n' >"$IDLE_RESULTS"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# idle_clients PORT COUNT: opens COUNT echoing-then-idle connections in the background and
# waits until they are all open; their process (in IDLE_PIDS) ends when the caller closes its
# standard input, the last of IDLE_FDS.
IDLE_FDS=() IDLE_PIDS=()
idle_clients() {
    local fifo=$OUT/idle.fifo out=$OUT/logs/idle-clients.$RANDOM i fd
    rm -f "$fifo"
    mkfifo "$fifo"
    "$OUT/idle_clients" "$1" "$2" echo <"$fifo" >"$out" &
    IDLE_PIDS+=($!)
    exec {fd}>"$fifo"
    IDLE_FDS+=("$fd")
    rm -f "$fifo"
    for ((i = 0; i < 1200; i++)); do
        [[ $(cat "$out") == open ]] && return 0
        sleep 0.1
    done
    die "the idle clients did not open $2 connections in 120 s"
}

# run_idle SERVER: sets IDLE_BYTES (resident bytes per held connection) and IDLE_OWN (the
# server's own, or nothing).
run_idle() {
    local s=$1 file port before after fd
    server_command "$s"
    file=$OUT/logs/$s-idle.log
    taskset -c "$SERVER_CPU" "${CMD[@]}" 0 >"$file" 2>"$file.err" &
    server_pid=$!
    port=$(wait_port "$file" "$server_pid") || die "server $s did not start"
    IDLE_FDS=() IDLE_PIDS=()
    idle_clients "$port" "$IDLE_WARM"
    sleep 0.5
    before=$(rss_kb "$server_pid")
    idle_clients "$port" "$IDLE_CONNS"
    sleep 0.5
    after=$(rss_kb "$server_pid")
    for fd in "${IDLE_FDS[@]}"; do exec {fd}>&-; done
    wait "${IDLE_PIDS[@]}" 2>/dev/null || true
    stop_server "$server_pid"
    IDLE_BYTES=$(((after - before) * 1024 / IDLE_CONNS))
    IDLE_OWN=$(sed -n 's/^own_bytes_per_connection=\([0-9][0-9]*\)$/\1/p' "$file")
}

if ((IDLE)); then
    "$CC" "${CFLAGS[@]}" -std=gnu11 -o "$OUT/idle_clients" "$BENCH/idle/idle_clients.c"
    ulimit -n "$(ulimit -Hn)" # servers and clients inherit it
    (($(ulimit -n) >= IDLE_WARM + IDLE_CONNS + 64)) ||
        die "the idle figure needs $((IDLE_WARM + IDLE_CONNS + 64)) descriptors, the limit is $(ulimit -n)"
    for s in $SERVERS; do
        log "server ($s): idle memory, $IDLE_CONNS connections after $IDLE_WARM"
        run_idle "$s"
        printf '%s\t%s\t%s\t%s\n' "$s" "$IDLE_CONNS" "$IDLE_BYTES" "${IDLE_OWN:-0}" >>"$IDLE_RESULTS"
    done
fi

# Where the instructions of the C nioxide servers go, at N=32 (or the first N measured):
# (c) the Selector, (f) the pipeline, (j) AIO.
PROFILES=()
if ((CALLGRIND)); then
    for s in c f j; do
        wants "$s" || continue
        for n in 32 $CONNS; do
            [[ -f $OUT/callgrind/$s-$n.out ]] || continue
            profile=$OUT/profile-$s-$n.txt
            callgrind_annotate --auto=no --inclusive=no --threshold=100 \
                "$OUT/callgrind/$s-$n.out" >"$profile" 2>/dev/null
            callgrind_annotate --auto=no --inclusive=yes --threshold=100 \
                "$OUT/callgrind/$s-$n.out" >"$profile.inclusive" 2>/dev/null
            callgrind_annotate --auto=no --inclusive=yes --tree=calling --threshold=100 \
                "$OUT/callgrind/$s-$n.out" >"$profile.calls" 2>/dev/null
            PROFILES+=(--profile "$profile")
            break
        done
    done
fi

REPORT_ARGS=("${PROFILES[@]}")
for skipped in "${SKIPS[@]}"; do REPORT_ARGS+=(--skip "$skipped"); done
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$BENCH/report.py" "$RESULTS" --stream "$STREAM_RESULTS" --idle "$IDLE_RESULTS" "${REPORT_ARGS[@]}" \
    --duration "$DURATION" --warmup "$WARMUP" --repeat "$REPEAT" --cg-duration "$CG_DURATION" \
    --server-cpu "$SERVER_CPU" --loadgen-cpu "$LOADGEN_CPU" \
    --load-start "$LOAD_START" --load-end "$load" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- . ':(exclude)*.md' 2>/dev/null || echo +changes)" \
    >"$BENCH/results.md"
cat "$BENCH/results.md"
log "done in $(($(date +%s) - started)) s; logs and callgrind files in $OUT"
