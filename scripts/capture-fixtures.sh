#!/usr/bin/env bash
# Regenerate the real-traffic fixtures in fixtures/local/ by running real servers and
# clients on loopback (127.0.0.1 only) and capturing them with tcpdump.
#
#   sudo scripts/capture-fixtures.sh            # writes fixtures/local/*.pcap
#   sudo OUT_DIR=/tmp/x scripts/capture-fixtures.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo). Installs nginx-light, tcpdump, curl, python3 and tshark
# if missing. Ports can be overridden: NGINX_PORT (default 18080), PY_PORT (18090).
# tcpdump, servers and cleanup: scripts/lib/capture.sh.
# Timestamps and client ports are whatever the kernel gives: review the diff with
# `tshark -r FILE -Y http` (see fixtures/local/README.md for the expected lists).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-fixtures
capture_out_dir fixtures/local
NGINX_PORT="${NGINX_PORT:-18080}"
PY_PORT="${PY_PORT:-18090}"
FIXTURE_PY="$SCRIPT_DIR/fixture_server.py"

require_root
ensure_tools nginx:nginx-light tcpdump curl python3 tshark
NGINX_BIN="$(tool_path nginx)"

# nginx runs as a daemon (not one of the library's background processes): quit it at exit.
cleanup_hook() {
    [ -f "$WORK/nginx/nginx.pid" ] || return 0
    "$NGINX_BIN" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
        -s quit 2>/dev/null || true
}

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
    wait_port "$NGINX_PORT" || die "nginx did not start: $(cat "$ngx/error.log")" # before the capture

    local base="http://$HOST:$NGINX_PORT"
    local c=(curl -sS -o /dev/null --max-time 10)
    capture_start "$out" "$NGINX_PORT"
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
    capture_stop

    "$NGINX_BIN" -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" -s quit
    for _ in $(seq 1 50); do [ -f "$ngx/nginx.pid" ] || break; sleep 0.1; done
}

# ---------------------------------------------------------------------------------------
# 2. Python http.server: pipelining and keep-alive
# ---------------------------------------------------------------------------------------
capture_python() {
    local out="$OUT_DIR/python-pipelining.pcap"
    port_free "$PY_PORT" || die "port $PY_PORT is busy; set PY_PORT"
    start_server fixture_server "$PY_PORT" python3 "$FIXTURE_PY" serve "$PY_PORT"
    capture_start "$out" "$PY_PORT"
    python3 "$FIXTURE_PY" pipelined "$PY_PORT"
    python3 "$FIXTURE_PY" keepalive "$PY_PORT"
    capture_stop
}

capture_nginx
capture_python

for f in "$OUT_DIR"/*.pcap; do
    log "$(basename "$f"): $(stat -c %s "$f") bytes"
    tshark -r "$f" -Y http -T fields -e frame.number -e http.request.method -e http.request.uri \
        -e http.response.code 2>/dev/null | sed 's/^/    /' >&2 || true
done
