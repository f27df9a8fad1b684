#!/usr/bin/env bash
# Instructions per request of apitap-detect, counted by cachegrind (docs/bench.md, "Detection").
#
# For each set, runs detect/examples/detect_cost.rs twice under cachegrind, scanning and not
# scanning the same requests, and prints (difference of the instruction counts) / requests.
#
#   scripts/detect-cost.sh                       # every set
#   SETS="bench attacks" N=5000 scripts/detect-cost.sh
#   SKIP_BUILD=1 scripts/detect-cost.sh          # the example already built
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
SETS="${SETS:-bench mobile attacks corpus-benign corpus-attacks}"
FLAGS="${FLAGS:-}"   # --no-cache: Detector::scan, no memory of clean values
N="${N:-20000}"
BIN="$TARGET/release/examples/detect_cost"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    nice -n 15 cargo build --release -p apitap-detect --example detect_cost >&2
fi
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }

# "instructions findings" of one run of the example with the given arguments.
run() {
    local log
    log="$(mktemp)"
    local stdout
    stdout="$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$BIN" "$@" 2>"$log")"
    echo "$(grep -oE 'I *refs: *[0-9,]+' "$log" | grep -oE '[0-9,]+$' | tr -d ,)" \
        "$(grep -oE 'findings=[0-9]+' <<<"$stdout" | cut -d= -f2)"
    rm -f "$log"
}

printf '%-16s %10s %10s %14s\n' set requests findings instr/request
for set in $SETS; do
    read -r with findings < <(run "$set" "$N" $FLAGS)
    read -r without _ < <(run "$set" "$N" --no-scan $FLAGS)
    requests=$("$BIN" "$set" "$N" --no-scan | grep -oE 'requests=[0-9]+' | cut -d= -f2)
    printf '%-16s %10d %10d %14d\n' "$set" "$requests" "$findings" $(((with - without) / requests))
done
