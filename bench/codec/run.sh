#!/usr/bin/env bash
# bench/codec/run.sh: instructions per line of the core's line framing, against a plain
# memchr split in the same run (core/examples/line_decode.rs). Not part of the tests.
#
# Each mode runs under valgrind's callgrind twice, with READS and 2*READS reads of 4 KiB
# (30-byte lines, lines spanning reads); the difference of the two instruction counts over the
# difference of their lines is the cost per line, without start-up. Modes: raw (memchr split,
# leftover copied: the baseline), pass (the pipeline delivering each read to a counting
# handler, no framing), split (a handler splitting lines by hand and firing each: the same
# per-message pipeline cost without the decoder), decoder (LineBasedFrameDecoder in the
# pipeline, a counting handler). Prints a table with each mode's instructions per line and its
# ratios to raw and to split.
#
# Environment: BENCH_CODEC_READS (3000; a multiple of 30), CARGO_TARGET_DIR (target).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
READS=${BENCH_CODEC_READS:-3000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/bench/codec
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "bench/codec: valgrind is needed" >&2; exit 1; }

cargo build --release -q -p nioxide-core --example line_decode --manifest-path "$ROOT/Cargo.toml"
BIN=$TARGET/release/examples/line_decode

# instructions MODE READS: the program's total instruction count ("Ir") under callgrind.
instructions() {
    local file=$OUT/callgrind.$1.$2
    valgrind --tool=callgrind --callgrind-out-file="$file" "$BIN" "$1" "$2" >"$OUT/$1.$2.txt" 2>/dev/null
    awk '/^summary:/ {print $2}' "$file"
}

lines() { awk '/^lines/ {print $2}' "$OUT/$1.$2.txt"; }

printf '| mode | instructions per line | ratio to raw | ratio to split |\n| --- | --- | --- | --- |\n'
declare -A per_mode
for mode in raw pass split decoder; do
    small=$(instructions "$mode" "$READS")
    large=$(instructions "$mode" $((2 * READS)))
    per=$(awk -v a="$small" -v b="$large" -v la="$(lines "$mode" "$READS")" \
        -v lb="$(lines "$mode" $((2 * READS)))" 'BEGIN {printf "%.1f", (b - a) / (lb - la)}')
    per_mode[$mode]=$per
done
for mode in raw pass split decoder; do
    per=${per_mode[$mode]}
    to_raw=$(awk -v p="$per" -v b="${per_mode[raw]}" 'BEGIN {printf "%.2f", p / b}')
    to_split=$(awk -v p="$per" -v b="${per_mode[split]}" 'BEGIN {printf "%.2f", p / b}')
    printf '| %s | %s | %s | %s |\n' "$mode" "$per" "$to_raw" "$to_split"
done
