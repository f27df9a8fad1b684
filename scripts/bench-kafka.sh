#!/usr/bin/env bash
# Replay-to-Kafka throughput against replay-to-/dev/null on the same pcap: records/s, MB/s
# and their ratio. Starts its own tansu broker (scripts/kafka.sh) on a free loopback port.
#
# Environment:
#   PCAP         capture to replay (default: the cached scripts/bench.sh pcap, generated if missing)
#   TRANSACTIONS size of the generated pcap when PCAP is unset (default 200000)
#   RUNS         runs of each kind; the best is reported (default 3)
#   APITAP_BIN   binary under test (default <target>/release/apitap)
#   WORKERS      replay with --workers N (default: single-threaded)
#   SKIP_BUILD   1: do not run cargo build
#
# A third measurement runs the exporter alone (apitap-bench-produce): the same records, already
# serialized, handed to the Kafka exporter as fast as it takes them; it prints the records/s
# the broker acknowledged and the producer's CPU per record (this process's threads only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
RUNS="${RUNS:-3}"
TRANSACTIONS="${TRANSACTIONS:-200000}"
APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
PRODUCE="$TARGET_DIR/release/apitap-bench-produce"
WORKERS="${WORKERS:-}"
workers_flag=()
[[ -n "$WORKERS" ]] && workers_flag=(--workers "$WORKERS")

log() { printf 'bench-kafka: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release --quiet -p apitap -p apitap-bench)
fi
[[ -x "$APITAP" ]] || die "apitap binary not found at $APITAP"
[[ -x "$PRODUCE" ]] || die "producer bench not found at $PRODUCE (cargo build --release -p apitap-bench)"

PCAP="${PCAP:-$TARGET_DIR/bench/api-$((TRANSACTIONS / 1000))k.pcap}"
if [[ ! -s "$PCAP" ]]; then
    log "generating $PCAP"
    mkdir -p "$(dirname "$PCAP")"
    "$TARGET_DIR/release/apitap-gen-traffic" --out "$PCAP" --transactions "$TRANSACTIONS" \
        --connections 2000 --seed 1
fi

tmp="$(mktemp -d)"
export APITAP_KAFKA_STATE="$tmp/broker"
trap 'bash "$ROOT/scripts/kafka.sh" stop; rm -rf "$tmp"' EXIT
bash "$ROOT/scripts/kafka.sh" install
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
bash "$ROOT/scripts/kafka.sh" start "$port"

# Records and their bytes, from one replay to a file.
"$APITAP" replay "$PCAP" --output "$tmp/records.jsonl" -q
records="$(wc -l <"$tmp/records.jsonl")"
bytes="$(wc -c <"$tmp/records.jsonl")"
cat "$PCAP" >/dev/null # page cache

best() { # $1 = label, rest = command; prints the best wall time in seconds
    local label="$1" b="" s e t
    shift
    for i in $(seq 1 "$RUNS"); do
        s=$(date +%s%N)
        "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; die "$label run $i failed"; }
        e=$(date +%s%N)
        t=$(awk -v ns=$((e - s)) 'BEGIN { printf "%.3f", ns / 1e9 }')
        log "$label run $i: $t s"
        if [[ -z "$b" ]] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b="$t"; fi
    done
    printf '%s\n' "$b"
}

null_s="$(best devnull "$APITAP" replay "$PCAP" --output /dev/null -q "${workers_flag[@]}")"
k=0
kafka_run() {
    k=$((k + 1))
    bash "$ROOT/scripts/kafka.sh" topic "bench$k.http" 3
    bash "$ROOT/scripts/kafka.sh" topic "bench$k.sessions" 3
    printf '[export.kafka]\nbrokers = ["127.0.0.1:%s"]\ntopic_http = "bench%s.http"\ntopic_sessions = "bench%s.sessions"\n' \
        "$port" "$k" "$k" >"$tmp/kafka.toml"
    "$APITAP" replay "$PCAP" --config "$tmp/kafka.toml" --stats-json "$tmp/stats.json" -q \
        "${workers_flag[@]}"
    grep -q '"undelivered_at_shutdown": 0' "$tmp/stats.json" || die "records were lost: $(cat "$tmp/stats.json")"
}
kafka_s="$(best kafka kafka_run)"

# The exporter alone, on the same records; the best run is reported, like the others.
produce_best=""
for i in $(seq 1 "$RUNS"); do
    bash "$ROOT/scripts/kafka.sh" topic "produce$i.http" 3
    bash "$ROOT/scripts/kafka.sh" topic "produce$i.sessions" 3
    out="$("$PRODUCE" --brokers "127.0.0.1:$port" --records "$tmp/records.jsonl" \
        --topic-http "produce$i.http" --topic-sessions "produce$i.sessions" --repeat 2)" || die "producer bench run $i failed"
    rate="$(printf '%s\n' "$out" | sed -n 's/^throughput \([0-9]*\) records.*/\1/p')"
    cpu="$(printf '%s\n' "$out" | sed -n 's/^producer cpu \([0-9.]*\) us.*/\1/p')"
    log "producer alone run $i: $rate records/s, $cpu us CPU/record"
    if [[ -z "$produce_best" ]] || (( rate > ${produce_best%% *} )); then produce_best="$rate $cpu"; fi
done

awk -v r="$records" -v b="$bytes" -v n="$null_s" -v k="$kafka_s" -v pcap="$PCAP" \
    -v w="${WORKERS:-single-threaded}" -v prate="${produce_best%% *}" -v pcpu="${produce_best##* }" 'BEGIN {
    printf "pcap:        %s (%d records, %.1f MB of JSON), workers: %s\n", pcap, r, b / 1e6, w
    printf "/dev/null:   %7.3f s  %9.0f records/s  %7.1f MB/s\n", n, r / n, b / n / 1e6
    printf "kafka:       %7.3f s  %9.0f records/s  %7.1f MB/s  (tansu, in-memory, acks=all, idempotent, lz4)\n", k, r / k, b / k / 1e6
    printf "ratio:       %.2f of /dev/null throughput\n", n / k
    printf "producer:    %9.0f records/s acknowledged, %.2f us CPU/record (%.0f records/s per core), exporter alone\n", prate, pcpu, 1e6 / pcpu
}'
