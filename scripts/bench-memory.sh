#!/usr/bin/env bash
# Memory budget benchmark (issue 20, item 4): writes three adversarial captures and replays
# each with the default configuration (limits.max_memory_mb = 1024), reporting the peak
# resident set of the replay (GNU time's "Maximum resident set size", or /proc VmHWM) and the
# counters that say what was evicted. Every peak must stay at or below MAX_PEAK_MIB. See
# docs/bench.md, "Memory budget".
#
#   scripts/bench-memory.sh
#
#   1. a SYN flood: SYNS SYNs from distinct clients, none answered (half-open flows);
#   2. parked heads: HEAD_CONNS connections, each parked on a HEAD_BYTES request head
#      without its final empty line (the server acknowledges every segment);
#   3. pipelined: PIPE_CONNS connections, each with PIPE_REQUESTS complete requests of
#      PIPE_BYTES bytes, never answered.
#
# Environment:
#   SYNS           SYNs of the flood                          (default 1000000)
#   HEAD_CONNS     connections parked on a head               (default 4000)
#   HEAD_BYTES     bytes of each parked head                  (default 60000)
#   PIPE_CONNS     connections with pipelined requests        (default 200)
#   PIPE_REQUESTS  requests per connection                    (default 64)
#   PIPE_BYTES     bytes of each request                      (default 16000)
#   MAX_PEAK_MIB   the bound every peak is checked against    (default 1126: 1.1 GiB)
#   APITAP_CONFIG  config passed with --config                (default: none, the defaults)
#   APITAP_BIN     binary under test               (default <target>/release/apitap)
#   GEN_BIN        capture writer                  (default <target>/release/adversarial-pcap)
#   KEEP=1         keep the captures (in <target>/bench/memory)
# Build first: cargo build --release -p apitap -p apitap-tests --bins
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SYNS="${SYNS:-1000000}"
HEAD_CONNS="${HEAD_CONNS:-4000}"
HEAD_BYTES="${HEAD_BYTES:-60000}"
PIPE_CONNS="${PIPE_CONNS:-200}"
PIPE_REQUESTS="${PIPE_REQUESTS:-64}"
PIPE_BYTES="${PIPE_BYTES:-16000}"
MAX_PEAK_MIB="${MAX_PEAK_MIB:-1126}"
APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
GEN="${GEN_BIN:-$TARGET_DIR/release/adversarial-pcap}"
WORK="$TARGET_DIR/bench/memory"

log() { printf '%s\n' "$*" >&2; }
die() { log "bench-memory.sh: $*"; exit 1; }

[[ -x "$APITAP" ]] || die "apitap not found at $APITAP (cargo build --release -p apitap)"
[[ -x "$GEN" ]] || die "adversarial-pcap not found at $GEN (cargo build --release -p apitap-tests --bins)"
mkdir -p "$WORK"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -f "$WORK"/*.pcap' EXIT

config=()
[[ -n "${APITAP_CONFIG:-}" ]] && config=(--config "$APITAP_CONFIG")

# Peak resident set of one command, in KiB: polls /proc/<pid>/status (VmHWM is the kernel's
# own high-water mark, so polling misses nothing but the last instants before exit, which
# GNU time covers when it is installed).
peak_kib() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" >/dev/null
        cat "$WORK/time.out"
        return
    fi
    "$@" >/dev/null &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
        v="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
        [[ -n "$v" && "$v" -gt "$hwm" ]] && hwm="$v"
        sleep 0.05
    done
    wait "$pid"
    echo "$hwm"
}

# jq-free: one counter of the stats JSON by its path (a.b.c); 0 when the binary has no
# such counter (an older one, for a comparison).
counter() {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d.get(k, 0) if isinstance(d, dict) else 0
print(d)' "$1" "$2"
}

failed=0
run() {
    local name="$1" pcap="$WORK/$1.pcap"
    shift
    log "writing $name: $*"
    "$GEN" "$@" "$pcap" 2>/dev/null
    local size start end kib
    size="$(du -m "$pcap" | cut -f1)"
    start="$(date +%s.%N)"
    kib="$(peak_kib "$APITAP" replay --quiet "${config[@]}" --output /dev/null \
        --stats-json "$WORK/$name.stats.json" "$pcap")"
    end="$(date +%s.%N)"
    local mib=$((kib / 1024)) verdict=ok
    if ((mib > MAX_PEAK_MIB)); then
        verdict="OVER $MAX_PEAK_MIB MiB"
        failed=1
    fi
    local s="$WORK/$name.stats.json"
    printf '| %s | %s MiB | %s MiB | %.1f s | flows evicted %s, http evictions %s (%s MiB), http held peak %s MiB, memory_limit %s, transactions %s | %s |\n' \
        "$name" "$size" "$mib" "$(echo "$end - $start" | bc)" \
        "$(counter "$s" reassembly.flows_evicted)" \
        "$(counter "$s" http.memory_evictions)" \
        "$(($(counter "$s" http.memory_evicted_bytes) / 1048576))" \
        "$(($(counter "$s" http.held_bytes_peak) / 1048576))" \
        "$(counter "$s" http.anomalies.memory_limit)" \
        "$(counter "$s" transactions)" "$verdict"
}

log "apitap: $APITAP ($("$APITAP" --version 2>/dev/null || echo '?'))"
echo "| capture | pcap | peak RSS | wall | what was evicted | <= $MAX_PEAK_MIB MiB |"
echo "| --- | --- | --- | --- | --- | --- |"
run syn-flood syn-flood "$SYNS"
run parked-heads parked-heads "$HEAD_CONNS" "$HEAD_BYTES"
run pipelined pipelined "$PIPE_CONNS" "$PIPE_REQUESTS" "$PIPE_BYTES"
exit "$failed"
