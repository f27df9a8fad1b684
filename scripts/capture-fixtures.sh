#!/usr/bin/env bash
# Regenerate the real-traffic fixtures in fixtures/local/ by running real servers and
# clients on loopback (127.0.0.1 only) and capturing them with tcpdump.
#
#   sudo scripts/capture-fixtures.sh            # writes fixtures/local/*.pcap
#
# Needs root (tcpdump on lo). Installs nginx-light, tcpdump, curl, python3 and tshark
# if missing. Ports can be overridden: NGINX_PORT (default 18080), PY_PORT (18090).
# Timestamps and client ports are whatever the kernel gives: review the diff with
# `tshark -r FILE -Y http` (see fixtures/local/README.md for the expected lists).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$REPO_DIR/fixtures/local"
NGINX_PORT="${NGINX_PORT:-18080}"
PY_PORT="${PY_PORT:-18090}"
HOST=127.0.0.1
FIXTURE_PY="$SCRIPT_DIR/fixture_server.py"

log() { printf '[capture-fixtures] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_tools() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v tcpdump >/dev/null 2>&1 || [ -x /usr/sbin/tcpdump ] || missing+=(tcpdump)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v tshark >/dev/null 2>&1 || missing+=(tshark)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}

NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
TCPDUMP_BIN="$(command -v tcpdump || echo /usr/sbin/tcpdump)"

[ "$(id -u)" -eq 0 ] || die "must run as root (tcpdump on lo)"
ensure_tools
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
TCPDUMP_BIN="$(command -v tcpdump || echo /usr/sbin/tcpdump)"

port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

WORK="$(mktemp -d /tmp/apitap-capture.XXXXXX)"
chmod 755 "$WORK"
PIDS_TO_STOP=()
cleanup() {
    local pid
    for pid in "${PIDS_TO_STOP[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -f "$WORK/nginx/nginx.pid" ]; then
        "$NGINX_BIN" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
            -s quit 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_capture FILE PORT: start tcpdump on lo and wait until it is listening.
TCPDUMP_PID=""
start_capture() {
    local file="$1" port="$2"
    local errf="$WORK/tcpdump.$port.err"
    rm -f "$file"
    # --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over only when a
    # block retires, and packets still in the ring when SIGINT arrives are lost.
    # -B 32768: a 32 MiB kernel buffer; the default drops packets when the machine is busy.
    # -Z root: keep the output file owned by root instead of the tcpdump user.
    "$TCPDUMP_BIN" -i lo -U --immediate-mode -B 32768 -s 0 -n -Z root -w "$file" "tcp port $port" 2>"$errf" &
    TCPDUMP_PID=$!
    PIDS_TO_STOP+=("$TCPDUMP_PID")
    local i
    for i in $(seq 1 100); do
        if grep -q 'listening on' "$errf" 2>/dev/null; then
            sleep 0.2 # the filter is attached before the message; a little slack
            return 0
        fi
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$errf")"
        sleep 0.1
    done
    die "tcpdump did not start: $(cat "$errf")"
}

# stop_capture: let the last FIN/ACKs arrive, then stop tcpdump with SIGINT (flushes).
stop_capture() {
    sleep 0.5
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    local keep=()
    local pid
    for pid in "${PIDS_TO_STOP[@]}"; do
        [ "$pid" = "$TCPDUMP_PID" ] || keep+=("$pid")
    done
    PIDS_TO_STOP=("${keep[@]+"${keep[@]}"}")
    log "$(grep -E 'packets captured' "$WORK/tcpdump."*.err | tail -n1 || true)"
    rm -f "$WORK/tcpdump."*.err
}

mkdir -p "$OUT_DIR"

# ---------------------------------------------------------------------------------------
# 1. nginx + curl
# ---------------------------------------------------------------------------------------
capture_nginx() {
    local out="$OUT_DIR/nginx-curl.pcap" ngx="$WORK/nginx"
    local www="$ngx/www"
    port_free "$NGINX_PORT" || die "port $NGINX_PORT is busy; set NGINX_PORT"
    mkdir -p "$www/api" "$www/static" "$www/upload" "$ngx/logs"
    chmod -R 755 "$ngx"
    chmod 1777 "$www/upload" # the worker runs as nobody and writes PUT bodies here

    cat >"$www/index.html" <<'EOF'
<!doctype html>
<html><head><title>apitap fixture</title></head>
<body><h1>apitap fixture</h1><p>Static index served by nginx.</p></body></html>
EOF
    cat >"$www/api/users.json" <<'EOF'
{"users":[{"id":1,"name":"alice","role":"admin"},{"id":2,"name":"bob","role":"user"},
{"id":3,"name":"carol","role":"user"},{"id":4,"name":"dave","role":"user"},
{"id":5,"name":"erin","role":"auditor"},{"id":6,"name":"frank","role":"user"}],
"total":6,"page":1,"per_page":50,
"note":"gzip is on for application/json: this response is compressed and chunked"}
EOF
    # ~20 KB deterministic text file (larger than one 16 KB-ish write; several segments).
    python3 -c '
import sys
lines = ["%05d the quick brown fox jumps over the lazy dog 0123456789\n" % i for i in range(320)]
sys.stdout.write("".join(lines))
' >"$www/static/big.txt"
    # 2 KB JSON body to PUT with Expect: 100-continue.
    python3 -c '
import json, sys
sys.stdout.write(json.dumps({"items": [{"sku": "SKU-%04d" % i, "qty": i} for i in range(80)]}))
' >"$WORK/upload.json"

    cat >"$ngx/nginx.conf" <<EOF
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $ngx/access.log;
    client_body_temp_path $ngx/client_body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    keepalive_timeout 10s;
    server_tokens off;
    gzip on;
    gzip_min_length 0;
    gzip_types application/json;
    server {
        listen $HOST:$NGINX_PORT;
        server_name localhost;
        root $www;
        location / { index index.html; }
        location /upload/ {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 64k;
        }
    }
}
EOF
    "$NGINX_BIN" -t -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" >/dev/null 2>&1 ||
        die "nginx config test failed: $("$NGINX_BIN" -t -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" 2>&1)"
    "$NGINX_BIN" -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log"
    python3 "$FIXTURE_PY" wait "$NGINX_PORT" # readiness probe happens before the capture

    local base="http://$HOST:$NGINX_PORT"
    local c=(curl -sS -o /dev/null --max-time 10)
    start_capture "$out" "$NGINX_PORT"
    # a. plain GET of the index
    "${c[@]}" "$base/"
    # b. HEAD
    "${c[@]}" -I "$base/index.html"
    # c. JSON with gzip -> Content-Encoding: gzip, Transfer-Encoding: chunked
    "${c[@]}" --compressed "$base/api/users.json"
    # d. 404
    "${c[@]}" "$base/nope.html"
    # e. POST with a JSON body to a static file -> 405 (real nginx behaviour)
    "${c[@]}" -H 'Content-Type: application/json' -d '{"name":"alice","role":"admin"}' \
        "$base/api/users.json"
    # f. keep-alive: one curl, several URLs, one connection (index, big file, json)
    "${c[@]}" -o /dev/null -o /dev/null "$base/index.html" "$base/static/big.txt" \
        "$base/api/users.json"
    # g. PUT of a 2 KB JSON body with Expect: 100-continue -> 100 Continue, 201 Created
    "${c[@]}" -X PUT -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
        --data-binary @"$WORK/upload.json" "$base/upload/order.json"
    stop_capture

    "$NGINX_BIN" -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" -s quit
    local i
    for i in $(seq 1 50); do [ -f "$ngx/nginx.pid" ] || break; sleep 0.1; done
}

# ---------------------------------------------------------------------------------------
# 2. Python http.server: pipelining and keep-alive
# ---------------------------------------------------------------------------------------
capture_python() {
    local out="$OUT_DIR/python-pipelining.pcap"
    port_free "$PY_PORT" || die "port $PY_PORT is busy; set PY_PORT"
    python3 "$FIXTURE_PY" serve "$PY_PORT" &
    local srv=$!
    PIDS_TO_STOP+=("$srv")
    python3 "$FIXTURE_PY" wait "$PY_PORT"

    start_capture "$out" "$PY_PORT"
    python3 "$FIXTURE_PY" pipelined "$PY_PORT"
    python3 "$FIXTURE_PY" keepalive "$PY_PORT"
    stop_capture
}

capture_nginx
capture_python

for f in "$OUT_DIR"/*.pcap; do
    log "$(basename "$f"): $(stat -c %s "$f") bytes"
    tshark -r "$f" -Y http -T fields -e frame.number -e http.request.method -e http.request.uri \
        -e http.response.code 2>/dev/null | sed 's/^/    /' >&2 || true
done
