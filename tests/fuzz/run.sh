#!/usr/bin/env bash
# tests/fuzz/run.sh: builds and runs the libFuzzer targets (tests/fuzz/fuzz_*.c).
#
#   tests/fuzz/run.sh build          builds libnioxide for fuzzing and every target
#   tests/fuzz/run.sh run [NAME...]  builds, then fuzzes each target (or the NAMEd ones)
#
# libnioxide is built on the stable toolchain into its own target directory ($FUZZ_TARGET_DIR,
# target/fuzz): a static library with the `testing` feature, debug assertions on, and LLVM's
# SanitizerCoverage instrumentation (8-bit counters, the PC table, comparison tracing), so that
# libFuzzer's coverage (its `cov:` and `ft:` counts) includes the Rust code behind the C API,
# not only the target's C. Stable Rust cannot compile with AddressSanitizer: the Rust code's own
# memory accesses are not checked, but its heap (the system allocator) is ASan's, so double
# frees and leaks show, and the C side (the target, the callbacks nioxide calls) is checked
# whole. Each target is one C file, compiled with clang -fsanitize=fuzzer,address,undefined
# and linked with that library.
#
# Each run works on a copy of the committed corpus (tests/fuzz/corpus/NAME/), so the committed
# one does not churn; what the run found is left in $FUZZ_OUT/NAME/corpus (copy the inputs worth
# keeping into the committed corpus by hand: small ones). A crash, a leak, a timeout or an
# out-of-memory fails the run: the reproducer's path and the command that replays it are printed,
# with the end of the fuzzer's log.
#
# Environment: FUZZ_SECONDS (300: per target), FUZZ_RUNS (0: no bound; else at most that many
# inputs per target), FUZZ_MAX_LEN (4096), FUZZ_TIMEOUT (10: seconds for one input),
# FUZZ_TARGET_DIR (target/fuzz), CLANG (clang-14 if there, else clang).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_SRC=$ROOT/tests/fuzz
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}
FUZZ_OUT=$FUZZ_TARGET_DIR/run
SECONDS_PER_TARGET=${FUZZ_SECONDS:-300}
RUNS=${FUZZ_RUNS:-0}
MAX_LEN=${FUZZ_MAX_LEN:-4096}
TIMEOUT=${FUZZ_TIMEOUT:-10}
if [[ -z ${CLANG:-} ]]; then
    if command -v clang-14 >/dev/null; then CLANG=clang-14; else CLANG=clang; fi
fi

log() { echo "fuzz: $*" >&2; }
die() { log "$*"; exit 1; }

command -v "$CLANG" >/dev/null || die "$CLANG not found (make fuzz-tools installs clang)"

# The Rust code's instrumentation, as clang's -fsanitize=fuzzer gives C code. Only target
# artifacts get these flags (cargo's --target keeps them off build scripts and proc macros).
SANCOV_RUSTFLAGS=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=3
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cforce-frame-pointers=yes
)
HOST=$(rustc -vV | sed -n 's/^host: //p')
LIB=$FUZZ_TARGET_DIR/$HOST/debug/libnioxide.a
BIN=$FUZZ_TARGET_DIR/bin

build() {
    log "building libnioxide for fuzzing (static, testing, debug assertions, SanitizerCoverage)"
    RUSTFLAGS="${SANCOV_RUSTFLAGS[*]}" CARGO_TARGET_DIR=$FUZZ_TARGET_DIR \
        cargo --config 'profile.dev.opt-level=1' rustc -q -p nioxide --lib \
        --crate-type staticlib --features testing --target "$HOST" \
        --manifest-path "$ROOT/Cargo.toml"
    [[ -f $LIB ]] || die "cargo made no $LIB"
    mkdir -p "$BIN"
    local src name n=0
    for src in "$FUZZ_SRC"/fuzz_*.c; do
        [[ -e $src ]] || continue
        name=$(basename "$src" .c)
        name=${name#fuzz_}
        "$CLANG" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -Wall -Wextra -Wpedantic -Werror -DNX_TESTING -I"$ROOT/include" -I"$FUZZ_SRC" \
            -o "$BIN/fuzz_$name" "$src" "$LIB" -lpthread -ldl -lm -lrt -lutil
        n=$((n + 1))
    done
    log "built $n fuzz target(s) in $BIN"
}

# run_one NAME: fuzzes one target on a copy of its corpus.
run_one() {
    local name=$1 bin=$BIN/fuzz_$1 corpus=$FUZZ_SRC/corpus/$1 work=$FUZZ_OUT/$1 rc=0
    [[ -x $bin ]] || die "no fuzz target $name ($bin)"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [[ -d $corpus ]]; then
        cp -R "$corpus"/. "$work/corpus"/
    else
        log "($name) no committed corpus in tests/fuzz/corpus/$name: starting from nothing"
    fi
    local args=(-max_total_time="$SECONDS_PER_TARGET" -max_len="$MAX_LEN" -timeout="$TIMEOUT"
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/")
    ((RUNS > 0)) && args+=(-runs="$RUNS")
    log "($name) fuzzing for at most ${SECONDS_PER_TARGET} s$( ((RUNS > 0)) && echo " or $RUNS inputs"), corpus of $(find "$work/corpus" -type f | wc -l) input(s)"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "${args[@]}" "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?
    local found
    found=$(find "$work/artifacts" -type f | sort)
    if ((rc != 0)) || [[ -n $found ]]; then
        tail -n 80 "$work/fuzz.log" >&2
        log "($name) FAILED (exit $rc); whole log: $work/fuzz.log"
        local f
        for f in $found; do
            log "($name) reproducer: $f"
            log "($name)   replay: $bin $f"
        done
        return 1
    fi
    # The figures of the run's last line (inputs, coverage, features, corpus).
    log "($name) ok: $(grep -E '^(#[0-9]+|Done)' "$work/fuzz.log" | tail -n 2 | tr '\n' ' ')"
    grep -E '^stat::number_of_executed_units|INFO: Loaded' "$work/fuzz.log" | sed "s/^/fuzz: ($name) /" >&2
}

case ${1:-} in
build)
    build
    ;;
run)
    shift
    build
    names=("$@")
    if ((${#names[@]} == 0)); then
        for src in "$FUZZ_SRC"/fuzz_*.c; do
            [[ -e $src ]] || continue
            n=$(basename "$src" .c)
            names+=("${n#fuzz_}")
        done
    fi
    ((${#names[@]} > 0)) || die "no fuzz targets in tests/fuzz"
    failed=()
    for name in "${names[@]}"; do
        run_one "$name" || failed+=("$name")
    done
    if ((${#failed[@]} > 0)); then
        die "${#failed[@]} of ${#names[@]} fuzz target(s) failed: ${failed[*]}"
    fi
    log "${#names[@]} fuzz target(s) ran without a finding"
    ;;
*)
    die "usage: tests/fuzz/run.sh build | run [NAME...]"
    ;;
esac
