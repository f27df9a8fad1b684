#!/usr/bin/env bash
# HTTP/2 (h2c) replay benchmark: captures an h2c workload (nginx serving h2c with prior
# knowledge, h2load as the client) on loopback once (cached), then measures single-threaded
# `apitap replay` on it: packets/s, streams/s (each stream is one http record). See
# docs/bench.md, "HTTP/2".
#
#   sudo scripts/bench-h2.sh
#
# Environment:
#   STREAMS      requests (streams) h2load sends            (default 100000)
#   CLIENTS      h2load clients (connections)               (default 20)
#   MAX_STREAMS  concurrent streams per connection          (default 10)
#   RUNS         measured runs; the median is reported      (default 5)
#   APITAP_BIN   binary under test                          (default <target>/release/apitap)
#   APITAP_CONFIG config passed with --config (default fixtures/core.toml: the core pipeline)
#   PORT         nginx's port on 127.0.0.1                  (default 18490)
# Needs root (tcpdump on lo), nginx with the http_v2 module and h2load (nghttp2-client).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STREAMS="${STREAMS:-100000}"
CLIENTS="${CLIENTS:-20}"
MAX_STREAMS="${MAX_STREAMS:-10}"
RUNS="${RUNS:-5}"
PORT="${PORT:-18490}"
APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
APITAP_CONFIG="${APITAP_CONFIG:-$ROOT/fixtures/core.toml}"
HOST=127.0.0.1

log() { printf '%s\n' "$*" >&2; }
die() { log "bench-h2.sh: $*"; exit 1; }

[[ -x "$APITAP" ]] || die "apitap binary not found at $APITAP (cargo build --release -p apitap)"
PCAP="$TARGET_DIR/bench/h2c-$((STREAMS / 1000))k-c$CLIENTS-m$MAX_STREAMS.pcap"
mkdir -p "$TARGET_DIR/bench"

capture() {
    [[ "$(id -u)" -eq 0 ]] || die "capturing needs root (tcpdump on lo)"
    command -v h2load >/dev/null || die "h2load not found (apt-get install nghttp2-client)"
    local nginx_bin work
    nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
    work="$(mktemp -d /tmp/apitap-bench-h2.XXXXXX)"
    chmod 755 "$work"
    mkdir -p "$work/html/api" "$work/logs"
    printf '{"id":42,"items":[1,2,3],"status":"shipped"}\n' >"$work/html/api/order.json"
    cat >"$work/nginx.conf" <<NGINX
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    default_type application/json;
    keepalive_requests 1000000;
    server {
        listen $HOST:$PORT http2;
        root $work/html;
    }
}
NGINX
    "$nginx_bin" -p "$work/" -c "$work/nginx.conf"
    sleep 0.5
    tcpdump -i lo -U -B 65536 -s 0 -n -w "$PCAP" "tcp port $PORT" 2>"$work/tcpdump.err" &
    local tcpdump_pid=$!
    sleep 1
    h2load -n "$STREAMS" -c "$CLIENTS" -m "$MAX_STREAMS" \
        -H 'authorization: Bearer bench-token' "http://$HOST:$PORT/api/order.json" >&2
    sleep 1
    kill -INT "$tcpdump_pid"
    wait "$tcpdump_pid" || true
    log "$(grep -E 'captured|dropped' "$work/tcpdump.err" || true)"
    "$nginx_bin" -p "$work/" -c "$work/nginx.conf" -s quit || true
    sleep 0.5
    rm -rf "$work"
}

if [[ ! -s "$PCAP" ]]; then
    log "capturing $PCAP"
    capture
else
    log "using cached $PCAP"
fi

times=()
for _ in $(seq 1 "$RUNS"); do
    stats="$(mktemp)"
    start=$(date +%s.%N)
    "$APITAP" replay "$PCAP" --config "$APITAP_CONFIG" --output /dev/null --stats-json "$stats" -q
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
    packets=$(python3 -c "import json,sys; s=json.load(open('$stats')); print(s['decode']['packets'])")
    streams=$(python3 -c "import json,sys; s=json.load(open('$stats')); print(s['http2']['exchanges'])")
    rm -f "$stats"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'h2c replay: %s packets, %s streams; median of %s runs %.3f s: %.0f packets/s, %.0f streams/s\n' \
    "$packets" "$streams" "$RUNS" "$median" \
    "$(echo "$packets / $median" | bc -l)" "$(echo "$streams / $median" | bc -l)"
