#!/usr/bin/env bash
# Profile-guided release build of apitap (docs/bench.md#profile-guided-build).
#
# 1. builds an instrumented apitap (and the traffic generator),
# 2. trains it: a generated capture (its own seed, not the bench's) replayed on one thread
#    and with 1 and 2 workers, with and without sessions, then every bundled fixture,
# 3. merges the profile and builds the optimized binary with it.
#
# The pipeline is a long chain of distinct code run once per packet or transaction; the
# profile lets the compiler lay out hot paths together and out-of-line the cold ones.
# Output: <target>/pgo/release/apitap. Idempotent; needs rustup's llvm-tools component
# (installed here if missing).
#
# Environment:
#   CARGO_TARGET_DIR   where to build                      (default <repo>/target)
#   TRAIN_TRANSACTIONS transactions in the training capture (default 40000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TRAIN_TRANSACTIONS="${TRAIN_TRANSACTIONS:-40000}"
GEN_DIR="$TARGET_DIR/pgo-gen"
OUT_DIR="$TARGET_DIR/pgo"
DATA="$TARGET_DIR/pgo-data"

log() { printf 'build-pgo.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
    log "installing rustup's llvm-tools (llvm-profdata)"
    rustup component add llvm-tools >/dev/null || die "cannot install llvm-tools: rustup component add llvm-tools"
fi
[[ -x "$profdata" ]] || die "llvm-profdata not found at $profdata"

log "1/3 instrumented build ($GEN_DIR)"
rm -rf "$DATA"
(cd "$ROOT" && RUSTFLAGS="-Cprofile-generate=$DATA" CARGO_TARGET_DIR="$GEN_DIR" \
    cargo build --release --locked --quiet -p apitap -p apitap-bench)

log "2/3 training"
train="$GEN_DIR/train.pcap"
"$GEN_DIR/release/apitap-gen-traffic" --out "$train" --transactions "$TRAIN_TRANSACTIONS" \
    --connections 700 --seed 7 >/dev/null
# The generator is instrumented too: only apitap's profile is wanted.
rm -rf "$DATA"
bin="$GEN_DIR/release/apitap"
secret=0123456789abcdef0123456789abcdef
for args in "--workers 0" "--workers 0 --config $ROOT/fixtures/core.toml" "--workers 1" \
    "--workers 1 --config $ROOT/fixtures/core.toml" "--workers 2"; do
    # shellcheck disable=SC2086  # args is a list of flags
    APITAP_SESSION_SECRET=$secret "$bin" replay "$train" --output /dev/null -q $args
done
while IFS= read -r -d '' f; do
    APITAP_SESSION_SECRET=$secret "$bin" replay "$f" --output /dev/null -q 2>/dev/null || true
done < <(find "$ROOT/fixtures" -name '*.pcap*' -print0 | sort -z)
"$profdata" merge -o "$DATA/apitap.profdata" "$DATA"/*.profraw

log "3/3 optimized build ($OUT_DIR)"
(cd "$ROOT" && RUSTFLAGS="-Cprofile-use=$DATA/apitap.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
    CARGO_TARGET_DIR="$OUT_DIR" cargo build --release --locked --quiet -p apitap)
log "done: $OUT_DIR/release/apitap"
