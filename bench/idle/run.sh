#!/usr/bin/env bash
# bench/idle/run.sh: memory per idle connection (`make bench` runs it). Not part of the tests.
#
# Three Selector-style servers hold BENCH_IDLE_CONNS (10000) idle connections, each registered
# for reading with no buffer of its own (one static read buffer per server):
#   idle_epoll.c    raw epoll: the baseline (user space holds nothing per connection)
#   idle_libuv.c    libuv: a malloc'd uv_tcp_t per connection
#   idle_nioxide.c  nioxide's Selector: a socket channel and its key per connection
# A client process (idle_clients.c) opens the connections. Each server's resident memory
# (VmRSS) is read once BENCH_IDLE_WARM (1000) connections are held (so that what is made once
# is made) and again after BENCH_IDLE_CONNS more; the difference divided by BENCH_IDLE_CONNS
# is the server's memory per connection, and minus the baseline's, what the library costs.
# Writes bench/idle/results.md (and prints it).
#
# The echo servers' idle figure (issue 10 §9, 11 §7: each connection echoes one byte, then is
# held; the pipeline, AIO, libuv and uvloop servers) is bench/run.sh's, with these clients
# (idle_clients.c's "echo" mode) and the same VmRSS difference.
#
# Builds what it runs: libnioxide (cargo build --release, unless NIOXIDE_LIB_DIR names a
# directory with a built libnioxide.so), the servers (cc; libuv through pkg-config, installed
# with apt-get when missing, as bench/runtime/run.sh does).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/idle
OUT=$ROOT/target/bench/idle
CONNS=${BENCH_IDLE_CONNS:-10000}
WARM=${BENCH_IDLE_WARM:-1000}
INCLUDE_DIR=${NIOXIDE_INCLUDE_DIR:-$ROOT/include}
CC=${CC:-cc}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { echo "bench/idle: $*" >&2; }
die() { log "$*"; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"

if ! command -v pkg-config >/dev/null || ! pkg-config --exists libuv; then
    log "installing pkg-config libuv1-dev with apt-get"
    sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        pkg-config libuv1-dev >&2
fi
if [[ -n ${NIOXIDE_LIB_DIR:-} ]]; then
    LIB_DIR=$(cd "$NIOXIDE_LIB_DIR" && pwd)
else
    log "building libnioxide (cargo build --release)"
    cargo build --release -p nioxide --manifest-path "$ROOT/Cargo.toml" >&2
    LIB_DIR=$CARGO_TARGET_DIR/release
fi

CFLAGS=(-O2 -Wall -Wextra -Werror -std=gnu11)
$CC "${CFLAGS[@]}" -o "$OUT/idle_epoll" "$HERE/idle_epoll.c"
$CC "${CFLAGS[@]}" -o "$OUT/idle_clients" "$HERE/idle_clients.c"
# shellcheck disable=SC2046
$CC "${CFLAGS[@]}" -o "$OUT/idle_libuv" "$HERE/idle_libuv.c" $(pkg-config --cflags --libs libuv)
mkdir -p "$OUT/lib"
ln -sf "$LIB_DIR/libnioxide.so" "$OUT/lib/libnioxide.so.0" # its soname
$CC "${CFLAGS[@]}" -I"$INCLUDE_DIR" -o "$OUT/idle_nioxide" "$HERE/idle_nioxide.c" \
    -L"$LIB_DIR" -Wl,-rpath,"$OUT/lib" -lnioxide

# Raise this shell's descriptor limit for the client (the servers raise their own).
ulimit -n "$(ulimit -Hn)"
need=$((WARM + CONNS + 64))
(($(ulimit -n) >= need)) || die "need $need descriptors per process, the limit is $(ulimit -n)"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Waits (at most 60 s) until the server's last report (its stdout file) is at least $2.
wait_held() {
    local file=$1 want=$2 deadline=$((SECONDS + 60)) last
    while :; do
        last=$(tail -n 1 "$file" 2>/dev/null || true)
        [[ $last =~ ^[0-9]+$ ]] && ((last >= want)) && return 0
        ((SECONDS < deadline)) || die "the server holds ${last:-nothing}, not $want"
        sleep 0.05
    done
}

# Opens $2 connections to port $1 in the background; the caller closes fd 9 to end them.
declare -a CLIENT_PIDS=()
open_clients() {
    local fifo=$OUT/clients.$RANDOM
    mkfifo "$fifo"
    "$OUT/idle_clients" "$1" "$2" < "$fifo" > "$OUT/clients.out" &
    CLIENT_PIDS+=($!)
    exec {fd}> "$fifo"
    CLIENT_FDS+=("$fd")
    rm -f "$fifo"
}

# measure NAME: prints "NAME bytes-per-connection".
measure() {
    local name=$1 out=$OUT/$1.out server port before after
    "$OUT/idle_$name" > "$out" &
    server=$!
    CLIENT_PIDS=()
    CLIENT_FDS=()
    for _ in $(seq 100); do [[ -s $out ]] && break; sleep 0.05; done
    port=$(head -n 1 "$out")
    [[ $port =~ ^[0-9]+$ ]] || die "$name printed no port"
    # The port line is the first; the counts follow.
    open_clients "$port" "$WARM"
    wait_held "$out" "$WARM"
    sleep 0.2
    before=$(rss_kb "$server")
    open_clients "$port" "$CONNS"
    wait_held "$out" $((WARM + CONNS))
    sleep 0.2
    after=$(rss_kb "$server")
    for fd in "${CLIENT_FDS[@]}"; do exec {fd}>&-; done
    wait "${CLIENT_PIDS[@]}" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    echo "$name $(((after - before) * 1024 / CONNS))"
}

log "$CONNS idle connections after $WARM (per server)"
declare -A PER
for name in epoll libuv nioxide; do
    read -r n bytes < <(measure "$name")
    PER[$n]=$bytes
    log "$n: $bytes bytes per connection"
done

own=$((PER[nioxide] - PER[epoll]))
libuv_own=$((PER[libuv] - PER[epoll]))
verdict=missed; ((own <= 256)) && verdict=met
{
    echo "# Memory per idle connection"
    echo
    echo "\`bench/idle/run.sh\`, $CONNS idle connections held after $WARM, resident memory of each"
    echo "server process (VmRSS) before and after, on $(date -u +%Y-%m-%d) at $(git -C "$ROOT" rev-parse --short HEAD)."
    echo
    echo "| server | bytes per connection | minus raw epoll's |"
    echo "| --- | ---: | ---: |"
    echo "| raw epoll (baseline) | ${PER[epoll]} | 0 |"
    echo "| libuv (a malloc'd \`uv_tcp_t\`) | ${PER[libuv]} | $libuv_own |"
    echo "| nioxide Selector (channel + key) | ${PER[nioxide]} | $own |"
    echo
    echo "nioxide's own cost per registered connection: $own bytes (target: at most 256; $verdict)."
} | tee "$HERE/results.md"
