#!/usr/bin/env bash
# examples/run-demo.sh: the demo `make demo` runs (after `make build`).
#
# Builds the C examples against include/nioxide.h and the cargo-built libnioxide (nothing
# else is built here), then runs these conversations on 127.0.0.1 with OS-chosen ports:
#   1. the C Selector echo server with the Python Selector echo client;
#   2. the Python Selector echo server with the C Selector echo client;
#   3. the C pipeline echo server (Netty's EchoServer) with the Python pipeline echo client
#      (Netty's EchoClient);
#   4. the Python pipeline echo server with the C pipeline echo client;
#   5. the C AIO echo server (seed 002's read → write → read handler chain) with the Python
#      Selector echo client;
#   6. the Python Selector echo server with the C AIO echo client (futures);
#   7. the C AIO echo server writing through its write queue with the C AIO client;
#   8. the Python AIO echo server (the same handler chain) with the C AIO echo client;
#   9. the C AIO echo server with the Python AIO echo client (futures);
#  10. the C key-value server (line decoder, string decoder and encoder, the protocol in C)
#      with the C line client, which writes its requests in odd fragments and checks every
#      answer;
#  11. the C length-field server (length-field decoder and prepender) with its C client,
#      which checks every answer;
# and copies a file with the C AIO file copy.
# Prints what each side said, and exits non-zero if any echoed byte differs from what was sent
# (the clients check every byte), if a program fails, or if anything takes too long: every step
# has a time limit and the servers are killed on exit.
#
# Environment: PYTHON (default .venv/bin/python: the demo installs the nioxide wheel built from
# ./python into it; DEMO_SKIP_WHEEL=1 uses the one installed), NIOXIDE_LIB_DIR (the directory of
# libnioxide.so, default target/release), NIOXIDE_INCLUDE_DIR (default include), CC (default cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
LIB_DIR=${NIOXIDE_LIB_DIR:-$ROOT/target/release}
INCLUDE_DIR=${NIOXIDE_INCLUDE_DIR:-$ROOT/include}
CC=${CC:-cc}
OUT=$ROOT/target/examples
STEP_TIMEOUT=60

server_pid=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 0.2
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "run-demo: $*" >&2; exit 1; }

# --- The C examples --------------------------------------------------------------------------
[[ -f $LIB_DIR/libnioxide.so ]] || die "$LIB_DIR/libnioxide.so is missing: run \`make demo\` (or cargo build --release)"
LIB_DIR=$(cd "$LIB_DIR" && pwd) # absolute: the soname link below points there
mkdir -p "$OUT/lib"
# The library's soname is libnioxide.so.0: give the programs that name in a directory of their
# own, which their RPATH points to.
ln -sf "$LIB_DIR/libnioxide.so" "$OUT/lib/libnioxide.so.0"
for example in selector-echo-server selector-echo-client pipeline-echo-server pipeline-echo-client \
    aio-echo-server aio-echo-client aio-file-copy codec-kv-server codec-line-client \
    length-field-server length-field-client; do
    "$CC" -O2 -g -Wall -Wextra -Wpedantic -Werror -I"$INCLUDE_DIR" \
        -o "$OUT/$example" "$ROOT/examples/c/$example.c" \
        -L"$LIB_DIR" -lnioxide -Wl,-rpath,"$OUT/lib"
done

# --- The Python examples import the installed nioxide package ----------------------------------
[[ -x $PYTHON ]] || die "$PYTHON not found: run \`make demo\`, which makes .venv"
if [[ ${DEMO_SKIP_WHEEL:-0} != 1 ]]; then
    # Install the wheel built from this checkout (maturin runs from the venv's bin directory).
    echo "run-demo: pip install ./python into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    PATH="$(dirname "$PYTHON"):$PATH" "$PYTHON" -m pip install --disable-pip-version-check -q \
        --no-build-isolation "$ROOT/python"
fi
"$PYTHON" -c 'import nioxide' || die "nioxide does not import in $PYTHON"

# --- One conversation ---------------------------------------------------------------------------
# converse TITLE SERVER_COMMAND... -- CLIENT_COMMAND...   (the client gets the port appended)
converse() {
    local title=$1; shift
    local server=() client=()
    while [[ $1 != -- ]]; do server+=("$1"); shift; done
    shift
    client=("$@")

    echo
    echo "=== $title ==="
    local log
    log=$(mktemp)
    # The server exits by itself after one connection (second argument), or after the timeout.
    timeout -k 5 "$STEP_TIMEOUT" "${server[@]}" 0 1 >"$log" 2>&1 &
    server_pid=$!

    local port="" i
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n '1s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log")
        [[ -n $port ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $port ]]; then
        sed 's/^/  server | /' "$log"
        die "$title: the server did not say where it listens"
    fi

    local client_status=0
    timeout -k 5 "$STEP_TIMEOUT" "${client[@]}" "$port" 2>&1 | sed 's/^/  client | /' ||
        client_status=${PIPESTATUS[0]}

    local server_status=0
    wait "$server_pid" || server_status=$?
    server_pid=""
    sed 's/^/  server | /' "$log"
    rm -f "$log"

    if ((client_status != 0)); then
        die "$title: the client failed (status $client_status): the echo did not match or an error occurred"
    fi
    if ((server_status != 0)); then
        die "$title: the server failed (status $server_status)"
    fi
    echo "=== $title: the client checked everything it got back ==="
}

converse "C server <-> Python client" \
    "$OUT/selector-echo-server" -- \
    "$PYTHON" "$ROOT/examples/python/selector_echo_client.py"
converse "Python server <-> C client" \
    "$PYTHON" "$ROOT/examples/python/selector_echo_server.py" -- \
    "$OUT/selector-echo-client"

converse "C pipeline server <-> Python pipeline client" \
    "$OUT/pipeline-echo-server" -- \
    "$PYTHON" "$ROOT/examples/python/pipeline_echo_client.py"
converse "Python pipeline server <-> C pipeline client" \
    "$PYTHON" "$ROOT/examples/python/pipeline_echo_server.py" -- \
    "$OUT/pipeline-echo-client"

converse "C AIO server <-> Python client" \
    "$OUT/aio-echo-server" -- \
    "$PYTHON" "$ROOT/examples/python/selector_echo_client.py"
converse "Python server <-> C AIO client" \
    "$PYTHON" "$ROOT/examples/python/selector_echo_server.py" -- \
    "$OUT/aio-echo-client"
converse "C AIO server with the write queue <-> C AIO client" \
    "$OUT/aio-echo-server" --queue -- \
    "$OUT/aio-echo-client"
converse "Python AIO server (read → write → read handlers) <-> C AIO client" \
    "$PYTHON" "$ROOT/examples/python/aio_echo_server.py" -- \
    "$OUT/aio-echo-client"
converse "C AIO server <-> Python AIO client (futures)" \
    "$OUT/aio-echo-server" -- \
    "$PYTHON" "$ROOT/examples/python/aio_echo_client.py"

converse "C key-value server (line + string codecs) <-> C line client (odd fragments)" \
    "$OUT/codec-kv-server" -- \
    "$OUT/codec-line-client"
converse "C length-field server (decoder + prepender) <-> C length-field client" \
    "$OUT/length-field-server" -- \
    "$OUT/length-field-client"

echo
echo "=== C AIO file copy ==="
copy_dir=$(mktemp -d)
head -c 3000000 /dev/urandom >"$copy_dir/source"
timeout -k 5 "$STEP_TIMEOUT" "$OUT/aio-file-copy" "$copy_dir/source" "$copy_dir/copy" | sed 's/^/  copy | /'
cmp -s "$copy_dir/source" "$copy_dir/copy" || die "aio-file-copy: the copy differs from its source"
rm -rf "$copy_dir"
echo "=== C AIO file copy: every byte copied ==="

# --- The codecs, in Python and across languages ------------------------------------------------
# - the Python key-value server (line decoder, strict string decoder and encoder, the protocol
#   in Python) with the Python key-value client, which writes its requests in odd fragments
#   and checks every answer;
# - the Python length-field server (decoder + prepender) with the Python length-field client;
# - the C key-value server (examples/c/codec-kv-server.c) with the Python key-value client,
#   the Python key-value server with the C line client (examples/c/codec-line-client.c), and
#   the C length-field server (examples/c/length-field-server.c) with the Python length-field
#   client (each skipped, saying why, while its source or the C codecs are not in the
#   checkout).
converse "Python key-value server (line + string codecs) <-> Python key-value client" \
    "$PYTHON" "$ROOT/examples/python/codec_kv_server.py" -- \
    "$PYTHON" "$ROOT/examples/python/codec_kv_client.py"
converse "Python length-field server (decoder + prepender) <-> Python length-field client" \
    "$PYTHON" "$ROOT/examples/python/length_field_server.py" -- \
    "$PYTHON" "$ROOT/examples/python/length_field_client.py"

# c_codec_example NAME: builds examples/c/NAME.c into $OUT; fails (printing why) when its
# source or the C codecs are not in this checkout.
c_codec_example() {
    local source=$ROOT/examples/c/$1.c
    if [[ ! -f $source ]]; then
        echo "(skipped: examples/c/$1.c is not in this checkout)"
        return 1
    fi
    if ! grep -qs 'nx_codec_line_based_frame_decoder' "$INCLUDE_DIR"/nioxide.h "$INCLUDE_DIR"/nioxide/*.h; then
        echo "(skipped: the C codecs are not in $INCLUDE_DIR/nioxide.h)"
        return 1
    fi
    "$CC" -O2 -g -Wall -Wextra -Wpedantic -Werror -I"$INCLUDE_DIR" -o "$OUT/$1" "$source" \
        -L"$LIB_DIR" -lnioxide -Wl,-rpath,"$OUT/lib"
}

echo
echo "=== C key-value server <-> Python key-value client ==="
if c_codec_example codec-kv-server; then
    converse "C key-value server (line + string codecs in C) <-> Python key-value client" \
        "$OUT/codec-kv-server" -- \
        "$PYTHON" "$ROOT/examples/python/codec_kv_client.py"
fi
echo
echo "=== Python key-value server <-> C line client ==="
if c_codec_example codec-line-client; then
    converse "Python key-value server <-> C line client (odd fragments)" \
        "$PYTHON" "$ROOT/examples/python/codec_kv_server.py" -- \
        "$OUT/codec-line-client"
fi
echo
echo "=== C length-field server <-> Python length-field client ==="
if c_codec_example length-field-server; then
    converse "C length-field server <-> Python length-field client" \
        "$OUT/length-field-server" -- \
        "$PYTHON" "$ROOT/examples/python/length_field_client.py"
fi

echo
echo "demo: every conversation checked"
