# bench/lib.sh: what the benchmark scripts (bench/run.sh, bench/lines/run.sh) share: log and
# die, the clean-up that kills the server on exit, starting and stopping a server, and the two
# measurements of one server at one N against bench/loadgen.c. Sourced, not run. The sourcing
# script sets ROOT, BENCH and OUT, and may set LOG_NAME (the log lines' prefix: bench), before
# sourcing it; after it, it sets SERVERS (the servers to measure, which skip changes), defines
# server_command SERVER (sets CMD to the server's command line; the port comes after it), and
# may set LOADGEN_ARGS (an array: more options for every loadgen run, such as -l LINE).

# The settings both scripts take from the environment (their headers list them), and the
# pinned uvloop of the Python anchors, which must not move between runs.
DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
REPEAT=${BENCH_REPEAT:-3}
CG_DURATION=${BENCH_CG_DURATION:-2}
CG_WARMUP=${BENCH_CG_WARMUP:-1}
CONNS=${BENCH_CONNS:-1 32 512}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOADGEN_CPU=${BENCH_LOADGEN_CPU:-1}
CALLGRIND=${BENCH_CALLGRIND:-1}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
INCLUDE_DIR=${NIOXIDE_INCLUDE_DIR:-$ROOT/include}
CC=${CC:-cc}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
UVLOOP_VERSION=0.23.0

log() { echo "${LOG_NAME:-bench}: $*" >&2; }
die() { log "$*"; exit 1; }

# wants SERVER: whether SERVER is in $SERVERS (the servers this run measures).
wants() { [[ " $SERVERS " == *" $1 "* ]]; }

# skip SERVER REASON: leaves a server out of this run (its source, or the API it needs, has not
# landed); SKIPS holds "SERVER=REASON" words for the report, which says why.
SKIPS=()
skip() {
    log "skipping ($1): $2"
    SKIPS+=("$1=$2")
    SERVERS=$(for s in $SERVERS; do [[ $s == "$1" ]] || printf '%s ' "$s"; done)
}

LOADGEN_ARGS=()
server_pid=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# run_rusage SERVER N [SIZE [NAME]]: sets RPS, CPU_US (per request) and REQUESTS, from the
# best of BENCH_REPEAT windows against one server process (the one with the most requests/s:
# on a shared machine, noise only ever slows a window down). SIZE: the message size (64);
# NAME: the logs' name (SERVER-N).
run_rusage() {
    local s=$1 n=$2 size=${3:-64} file port lg i r
    server_command "$s"
    file=$OUT/logs/${4:-$s-$n}-rusage.log
    : >"$file"
    taskset -c "$SERVER_CPU" "${CMD[@]}" 0 >>"$file" 2>"$file.err" &
    server_pid=$!
    port=$(wait_port "$file" "$server_pid") || die "server $s did not start"
    for ((r = 1; r <= REPEAT; r++)); do
        lg=$(taskset -c "$LOADGEN_CPU" "$OUT/loadgen" -p "$port" -c "$n" -s "$size" -w "$WARMUP" \
            -d "$DURATION" -t 30 -m "sh $BENCH/mark.sh rusage $server_pid" "${LOADGEN_ARGS[@]}") ||
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

# run_callgrind SERVER N [SIZE]: sets IR (user-space instructions per request) and CG_REQUESTS.
# SIZE: the message size (64).
run_callgrind() {
    local s=$1 n=$2 size=${3:-64} file port lg out dump
    server_command "$s"
    file=$OUT/logs/$s-$n-callgrind.log
    out=$OUT/callgrind/$s-$n.out
    : >"$file"
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$out.%p" "${CMD[@]}" 0 >>"$file" 2>"$file.err" &
    server_pid=$!
    port=$(wait_port "$file" "$server_pid") || die "server $s did not start under callgrind"
    lg=$(taskset -c "$LOADGEN_CPU" "$OUT/loadgen" -p "$port" -c "$n" -s "$size" -w "$CG_WARMUP" \
        -d "$CG_DURATION" -t 60 -m "sh $BENCH/mark.sh callgrind $server_pid" "${LOADGEN_ARGS[@]}") ||
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
