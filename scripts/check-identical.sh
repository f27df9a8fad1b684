#!/usr/bin/env bash
# Compare the records of two apitap builds, byte for byte, over every capture in fixtures/
# and the bench capture, with and without sessions, single-threaded and with one worker.
# A refactoring that must not change output (issue 19) is checked with it.
#
#   scripts/check-identical.sh BASE_REV        # build BASE_REV in a worktree, then compare
#   BASE_BIN=/path/apitap scripts/check-identical.sh   # compare against a ready binary
#
# Environment:
#   BASE_BIN       baseline binary (skips building BASE_REV)
#   NEW_BIN        binary under test            (default: target/release/apitap, built here)
#   SKIP_BUILD     1: do not build NEW_BIN
#   BENCH_PCAP     the bench capture            (default: target/bench/api-200k.pcap, made by
#                  scripts/bench.sh; left out when missing, with a warning)
#   KEEP           1: keep the outputs in $OUT_DIR  (default: removed when everything matches)
#   OUT_DIR        where outputs go             (default: a temporary directory)
#
# The session secret is fixed (APITAP_SESSION_SECRET) so that session ids are comparable.
# Exit 0 when every output matches, 1 when one differs (the first lines of the diff are
# printed), 2 on a usage error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
NEW_BIN="${NEW_BIN:-$TARGET_DIR/release/apitap}"
BENCH_PCAP="${BENCH_PCAP:-$TARGET_DIR/bench/api-200k.pcap}"
OUT_DIR="${OUT_DIR:-$(mktemp -d -t apitap-identical.XXXXXX)}"
mkdir -p "$OUT_DIR"
export APITAP_SESSION_SECRET="check-identical-fixed-secret-0123456789"

log() { printf 'check-identical: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

if [[ -z "${BASE_BIN:-}" ]]; then
    rev="${1:?usage: check-identical.sh BASE_REV (or BASE_BIN=...)}"
    wt="$TARGET_DIR/identical-base/src"
    base_target="$TARGET_DIR/identical-base/target"
    sha="$(git -C "$ROOT" rev-parse --verify "$rev^{commit}")" || die "unknown revision $rev"
    if [[ ! -d "$wt" ]] || [[ "$(git -C "$wt" rev-parse HEAD 2>/dev/null)" != "$sha" ]]; then
        rm -rf "$wt"
        git -C "$ROOT" worktree prune
        git -C "$ROOT" worktree add --detach --force "$wt" "$sha" >/dev/null
    fi
    log "building the baseline $rev ($sha) in $wt"
    (cd "$wt" && CARGO_TARGET_DIR="$base_target" cargo build --release --quiet -p apitap)
    BASE_BIN="$base_target/release/apitap"
fi
[[ -x "$BASE_BIN" ]] || die "baseline binary not found: $BASE_BIN"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building the binary under test"
    (cd "$ROOT" && cargo build --release --quiet -p apitap)
fi
[[ -x "$NEW_BIN" ]] || die "binary under test not found: $NEW_BIN"

# Every capture the fixtures hold, in a stable order.
mapfile -t pcaps < <(cd "$ROOT" && find fixtures -name '*.pcap' -o -name '*.pcapng' | LC_ALL=C sort)
[[ -f "$BENCH_PCAP" ]] && pcaps+=("$BENCH_PCAP") || log "no bench capture at $BENCH_PCAP (run scripts/bench.sh once): left out"

# Configurations: the defaults (sessions on), the core pipeline (sessions off) and the shop's
# session config (login linking, context parameters, JWT verification).
configs=("default:" "core:fixtures/core.toml" "shop:fixtures/sessions/shop.toml")

failed=0
runs=0
for pcap in "${pcaps[@]}"; do
    for c in "${configs[@]}"; do
        name="${c%%:*}"
        file="${c#*:}"
        for workers in 0 1; do
            args=(replay "$pcap" --quiet --workers "$workers" --output -)
            [[ -n "$file" ]] && args+=(--config "$ROOT/$file")
            tag="$(echo "$pcap" | tr '/' '_')-$name-w$workers"
            (cd "$ROOT" && "$BASE_BIN" "${args[@]}" >"$OUT_DIR/$tag.base" 2>/dev/null) || echo "exit $?" >>"$OUT_DIR/$tag.base"
            (cd "$ROOT" && "$NEW_BIN" "${args[@]}" >"$OUT_DIR/$tag.new" 2>/dev/null) || echo "exit $?" >>"$OUT_DIR/$tag.new"
            runs=$((runs + 1))
            if ! cmp -s "$OUT_DIR/$tag.base" "$OUT_DIR/$tag.new"; then
                failed=$((failed + 1))
                log "DIFFERS: $pcap, config $name, --workers $workers"
                diff <(head -c 200000 "$OUT_DIR/$tag.base") <(head -c 200000 "$OUT_DIR/$tag.new") | head -6 >&2 || true
            fi
        done
    done
done

if [[ "$failed" -gt 0 ]]; then
    log "$failed of $runs outputs differ (kept in $OUT_DIR)"
    exit 1
fi
log "all $runs outputs identical (${#pcaps[@]} captures x ${#configs[@]} configs x 2 thread modes)"
[[ "${KEEP:-0}" == 1 ]] && log "outputs kept in $OUT_DIR" || rm -rf "$OUT_DIR"
