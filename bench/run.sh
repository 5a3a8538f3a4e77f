#!/usr/bin/env bash
# bench/run.sh: the benchmark (`make bench`). Not part of the tests.
#
# Five single-threaded echo servers, all in one run:
#   (a) epoll_echo.c      raw level-triggered epoll in C (the baseline of every ratio)
#   (b) mio-echo/         mio 1.x in Rust
#   (c) nioxide_echo.c    the nioxide Selector in C (the public API and shared library users get)
#   (d) nioxide_echo.py   the nioxide Selector in Python (the installed wheel)
#   (e) stdlib_echo.py    Python's selectors + socket
# each driven by loadgen.c keeping one 64-byte message in flight on each of N connections
# (N = 1, 32, 512), server and load generator pinned to different cores. For each server and N:
#   - requests/s over BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up, the best
#     of BENCH_REPEAT such windows (the machine is shared: noise only ever slows one down);
#   - the server's CPU time (its getrusage user + sys) per request over that same window;
#   - the server's user-space instructions per request: a separate, shorter run under
#     valgrind --tool=callgrind, instrumentation off until the warm-up is over, counters zeroed
#     and dumped while nothing is in flight (bench/mark.sh), divided by the requests the load
#     generator completed in between. For (d) and (e) that is the whole interpreter's count.
# Writes bench/results.md (and prints it): the table, each figure also as a ratio to (a), the
# targets and whether they were met, and where (c)'s instructions go (callgrind_annotate).
#
# Builds what it runs: libnioxide (cargo build --release), the C programs (cc against
# include/nioxide.h), mio-echo (cargo, its own project and target directory), the nioxide wheel
# into .venv (pip install ./python; `make bench` made .venv). Installs valgrind with apt-get
# when missing.
#
# Environment: BENCH_DURATION (3), BENCH_WARMUP (1), BENCH_REPEAT (3), BENCH_CG_DURATION (2),
# BENCH_CG_WARMUP (1),
# BENCH_CONNS ("1 32 512"), BENCH_SERVERS ("a b c d e"), BENCH_SERVER_CPU (0),
# BENCH_LOADGEN_CPU (1), BENCH_CALLGRIND (1; 0 skips the instruction counts),
# BENCH_SKIP_WHEEL (0; 1 uses the nioxide already in .venv), PYTHON (.venv/bin/python),
# NIOXIDE_LIB_DIR (a directory with a built libnioxide.so: then it is not built here),
# NIOXIDE_INCLUDE_DIR (include), CC (cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$ROOT/target/bench
DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
REPEAT=${BENCH_REPEAT:-3}
CG_DURATION=${BENCH_CG_DURATION:-2}
CG_WARMUP=${BENCH_CG_WARMUP:-1}
CONNS=${BENCH_CONNS:-1 32 512}
SERVERS=${BENCH_SERVERS:-a b c d e}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOADGEN_CPU=${BENCH_LOADGEN_CPU:-1}
CALLGRIND=${BENCH_CALLGRIND:-1}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
INCLUDE_DIR=${NIOXIDE_INCLUDE_DIR:-$ROOT/include}
CC=${CC:-cc}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

server_pid=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
mkdir -p "$OUT/logs" "$OUT/callgrind" "$OUT/lib"
rm -f "$OUT"/logs/* "$OUT"/callgrind/*

# --- Tools and builds ---------------------------------------------------------------------------
if ((CALLGRIND)) && ! command -v valgrind >/dev/null; then
    log "installing valgrind with apt-get"
    sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends valgrind
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
"$CC" "${CFLAGS[@]}" -I"$INCLUDE_DIR" -o "$OUT/nioxide_echo" "$BENCH/nioxide_echo.c" \
    -L"$LIB_DIR" -lnioxide -Wl,-rpath,"$OUT/lib"

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

# server_command SERVER: sets CMD to the server's command line (the port comes after it).
server_command() {
    case $1 in
    a) CMD=("$OUT/epoll_echo") ;;
    b) CMD=("$MIO_ECHO") ;;
    c) CMD=("$OUT/nioxide_echo") ;;
    d) CMD=("$PYEXE" "$BENCH/nioxide_echo.py") ;;
    e) CMD=("$PYEXE" "$BENCH/stdlib_echo.py") ;;
    *) die "unknown server $1" ;;
    esac
}

# Waits for the server's "listening on 127.0.0.1:PORT" line; prints PORT.
wait_port() {
    local file=$1 pid=$2 i port
    for ((i = 0; i < 600; i++)); do
        port=$(sed -n '1s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$file")
        if [[ -n $port ]]; then echo "$port"; return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$file" "$file.err" >&2 || true
    return 1
}

stop_server() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    server_pid=""
}

# run_rusage SERVER N: sets RPS, CPU_US (per request) and REQUESTS, from the best of
# BENCH_REPEAT windows against one server process (the one with the most requests/s: on a
# shared machine, noise only ever slows a window down).
run_rusage() {
    local s=$1 n=$2 file port lg i r
    server_command "$s"
    file=$OUT/logs/$s-$n-rusage.log
    : >"$file"
    taskset -c "$SERVER_CPU" "${CMD[@]}" 0 >>"$file" 2>"$file.err" &
    server_pid=$!
    port=$(wait_port "$file" "$server_pid") || die "server $s did not start"
    for ((r = 1; r <= REPEAT; r++)); do
        lg=$(taskset -c "$LOADGEN_CPU" "$OUT/loadgen" -p "$port" -c "$n" -w "$WARMUP" \
            -d "$DURATION" -t 30 -m "sh $BENCH/mark.sh rusage $server_pid") ||
            die "loadgen failed against $s, N=$n"
        for ((i = 0; i < 50; i++)); do
            (($(grep -c '^rusage ' "$file") >= 2 * r)) && break
            sleep 0.1
        done
        echo "$lg" >>"$file.loadgen"
    done
    stop_server "$server_pid"
    local figures
    figures=$(python3 - "$file" "$file.loadgen" <<'EOF'
import re, sys
marks = [dict(re.findall(r"(\w+)=(\d+)", l)) for l in open(sys.argv[1]) if l.startswith("rusage ")]
windows = [dict(re.findall(r"(\w+)=([\d.]+)", l)) for l in open(sys.argv[2])]
if len(marks) < 2 * len(windows):
    sys.exit("bench: the server reported too few rusage marks")
results = []
for k, lg in enumerate(windows):
    a, b = marks[2 * k], marks[2 * k + 1]
    requests = int(lg["requests"])
    cpu_us = (int(b["user_us"]) + int(b["sys_us"])) - (int(a["user_us"]) + int(a["sys_us"]))
    served = (int(b["bytes"]) - int(a["bytes"])) // int(lg["size"])
    if served != requests:
        sys.exit(f"bench: the server echoed {served} messages in window {k + 1}, "
                 f"the load generator counted {requests}")
    results.append((float(lg["rps"]), cpu_us / requests, requests))
print(*max(results))
EOF
    )
    read -r RPS CPU_US REQUESTS <<<"$figures"
}

# run_callgrind SERVER N: sets IR (user-space instructions per request) and CG_REQUESTS.
run_callgrind() {
    local s=$1 n=$2 file port lg out dump
    server_command "$s"
    file=$OUT/logs/$s-$n-callgrind.log
    out=$OUT/callgrind/$s-$n.out
    : >"$file"
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$out.%p" "${CMD[@]}" 0 >>"$file" 2>"$file.err" &
    server_pid=$!
    port=$(wait_port "$file" "$server_pid") || die "server $s did not start under callgrind"
    lg=$(taskset -c "$LOADGEN_CPU" "$OUT/loadgen" -p "$port" -c "$n" -w "$CG_WARMUP" \
        -d "$CG_DURATION" -t 60 -m "sh $BENCH/mark.sh callgrind $server_pid") ||
        die "loadgen failed against $s under callgrind, N=$n"
    dump=$out.$server_pid.1
    stop_server "$server_pid"
    echo "$lg" >>"$file"
    [[ -f $dump ]] || die "no callgrind dump $dump"
    mv "$dump" "$out"
    rm -f "$out".[0-9]*
    local figures
    figures=$(python3 - "$out" "$lg" <<'EOF'
import re, sys
totals = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("totals:")]
lg = dict(re.findall(r"(\w+)=([\d.]+)", sys.argv[2]))
requests = int(lg["requests"])
print(totals[0] / requests, requests)
EOF
    )
    read -r IR CG_REQUESTS <<<"$figures"
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

# Where (c)'s instructions go, at N=32 (or the middle N measured).
PROFILE=""
if ((CALLGRIND)) && [[ " $SERVERS " == *" c "* ]]; then
    for n in 32 $CONNS; do
        if [[ -f $OUT/callgrind/c-$n.out ]]; then
            PROFILE=$OUT/profile-c-$n.txt
            callgrind_annotate --auto=no --inclusive=no --threshold=100 \
                "$OUT/callgrind/c-$n.out" >"$PROFILE" 2>/dev/null
            callgrind_annotate --auto=no --inclusive=yes --threshold=100 \
                "$OUT/callgrind/c-$n.out" >"$PROFILE.inclusive" 2>/dev/null
            callgrind_annotate --auto=no --inclusive=yes --tree=calling --threshold=100 \
                "$OUT/callgrind/c-$n.out" >"$PROFILE.calls" 2>/dev/null
            break
        fi
    done
fi

python3 "$BENCH/report.py" "$RESULTS" "$PROFILE" \
    --duration "$DURATION" --warmup "$WARMUP" --repeat "$REPEAT" --cg-duration "$CG_DURATION" \
    --server-cpu "$SERVER_CPU" --loadgen-cpu "$LOADGEN_CPU" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- . ':(exclude)*.md' 2>/dev/null || echo +changes)" \
    >"$BENCH/results.md"
cat "$BENCH/results.md"
log "done in $(($(date +%s) - started)) s; logs and callgrind files in $OUT"
