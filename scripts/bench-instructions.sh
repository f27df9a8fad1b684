#!/usr/bin/env bash
# Instructions of whole replays, counted by cachegrind (no cache simulation: deterministic,
# whatever the machine's load), for several variants (binary + config) of one capture:
# instructions, per packet, per transaction, and the ratio to the first variant. See
# docs/bench.md, "Figures (2026-12-06): the integrated build".
#
#   scripts/bench-instructions.sh PCAP LABEL=BINARY[@CONFIG] ...
#
# Packets and transactions come from the capture's sidecar (PCAP.json, the generator's) or
# from PACKETS and TRANSACTIONS in the environment. Needs valgrind.
set -euo pipefail

die() { printf 'bench-instructions.sh: %s\n' "$*" >&2; exit 1; }
(($# >= 2)) || die "usage: bench-instructions.sh PCAP LABEL=BINARY[@CONFIG] ..."
PCAP="$1"
shift
[[ -s "$PCAP" ]] || die "capture not found: $PCAP"
command -v valgrind >/dev/null || die "valgrind is needed: apt-get install valgrind"
sidecar_field() { sed -n "s/^ *\"$1\": *\([0-9]*\),\?$/\1/p" "$PCAP.json" 2>/dev/null; }
PACKETS="${PACKETS:-$(sidecar_field packets)}"
TRANSACTIONS="${TRANSACTIONS:-$(sidecar_field transactions)}"
[[ -n "$PACKETS" && -n "$TRANSACTIONS" ]] || die "no sidecar $PCAP.json: set PACKETS and TRANSACTIONS"

# A fixed secret: a generated one would print a warning on every run.
export APITAP_SESSION_SECRET="${APITAP_SESSION_SECRET:-bench-sessions-secret-0123456789}"
printf 'pcap: %s (%s packets, %s transactions)\n' "$PCAP" "$PACKETS" "$TRANSACTIONS"
printf '%-24s %16s %12s %16s %8s\n' variant instructions per-packet per-transaction ratio
ref=""
for v in "$@"; do
    label="${v%%=*}" rest="${v#*=}"
    bin="${rest%%@*}" args=()
    [[ "$rest" == *@* ]] && args=(--config "${rest#*@}")
    log="$(mktemp)"
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" replay "$PCAP" --output /dev/null -q "${args[@]}" 2>"$log" \
        || { cat "$log" >&2; die "replay failed: $v"; }
    irefs="$(grep -oE 'I *refs: *[0-9,]+' "$log" | grep -oE '[0-9,]+$' | tr -d ,)"
    rm -f "$log"
    ref="${ref:-$irefs}"
    awk -v l="$label" -v i="$irefs" -v p="$PACKETS" -v t="$TRANSACTIONS" -v r="$ref" \
        'BEGIN { printf "%-24s %16.0f %12.0f %16.0f %8.3f\n", l, i, i / p, i / t, i / r }'
done
