#!/usr/bin/env bash
# Regenerate the HTTP/2 (h2c) and gRPC fixtures in fixtures/h2/ with real servers and
# clients on loopback (127.0.0.1 only), captured with tcpdump, and the expected values
# tshark dissects from each capture.
#
#   sudo scripts/capture-h2.sh        # writes fixtures/h2/*.pcap and *.tshark.jsonl
#   scripts/capture-h2.sh --expected  # only the *.tshark.jsonl of the committed pcaps
#   sudo OUT_DIR=/tmp/x scripts/capture-h2.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo). Installs what it lacks, idempotently: nginx-light (whose
# Debian build has the http2 module), tcpdump, curl (with nghttp2), nghttp2-client, tshark
# and python3 with hypercorn and grpcio from PyPI. Ports: H2_NGINX_PORT (18480), H2_UPGRADE_PORT (18481),
# GRPC_PORT (18482). tcpdump, servers and cleanup: scripts/lib/capture.sh. Timestamps and
# client ports are whatever the kernel gives: review a regeneration with the *.tshark.jsonl
# diff, not with a byte diff of the pcaps.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-h2
capture_out_dir fixtures/h2
NGINX_PORT="${H2_NGINX_PORT:-18480}"
UPGRADE_PORT="${H2_UPGRADE_PORT:-18481}"
GRPC_PORT="${GRPC_PORT:-18482}"

EXPECTED_ONLY=""
[ "${1:-}" = "--expected" ] && EXPECTED_ONLY=1
[ -n "$EXPECTED_ONLY" ] || require_root

ensure_tools nginx:nginx-light tcpdump curl nghttp:nghttp2-client python3:python3,python3-pip tshark
ensure_python_modules hypercorn grpc:grpcio
curl -V | grep -q HTTP2 || die "this curl has no HTTP/2 (nghttp2) support"
NGINX_BIN="$(tool_path nginx)"
"$NGINX_BIN" -V 2>&1 | grep -q -- --with-http_v2_module || die "this nginx has no http_v2 module"

# nginx runs as a daemon (not one of the library's background processes): quit it at exit.
cleanup_hook() {
    [ -f "$WORK/nginx/nginx.pid" ] || return 0
    "$NGINX_BIN" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -s quit 2>/dev/null || true
}

# 1. nginx, h2c with prior knowledge (`listen ... http2` without ssl), curl
#    --http2-prior-knowledge. Several URLs in one curl run share one connection (streams 1,
#    3, 5...); a second run POSTs.
capture_nginx() {
    local ngx="$WORK/nginx" out="$OUT_DIR/nginx-prior-knowledge.pcap"
    mkdir -p "$ngx/html/api" "$ngx/logs"
    printf '<html><body>apitap h2 fixture</body></html>\n' >"$ngx/html/index.html"
    printf '[{"id":1,"name":"ada"},{"id":2,"name":"grace"}]\n' >"$ngx/html/api/users.json"
    python3 -c "print('x' * 40000)" >"$ngx/html/big.txt"
    cat >"$ngx/nginx.conf" <<NGINX
daemon on;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log;
events { worker_connections 64; }
http {
    access_log $ngx/logs/access.log;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    default_type application/octet-stream;
    server {
        listen $HOST:$NGINX_PORT http2;
        root $ngx/html;
        location = /api/orders { return 201 '{"id":17}\n'; }
    }
}
NGINX
    "$NGINX_BIN" -p "$ngx/" -c "$ngx/nginx.conf"
    wait_port "$NGINX_PORT" || die "nginx did not start: $(cat "$ngx/logs/error.log")"
    capture_start "$out" "$NGINX_PORT"
    local base="http://$HOST:$NGINX_PORT" url
    # One request per curl run: curl 7.88 fails ("Error in the HTTP2 framing layer") when it
    # reuses a prior-knowledge connection for a second URL.
    for url in "$base/" "$base/big.txt" "$base/missing"; do
        curl -sS --http2-prior-knowledge -o /dev/null -H 'authorization: Bearer fixture-token' "$url"
    done
    curl -sS --http2-prior-knowledge -o /dev/null -X POST -H 'content-type: application/json' \
        --data '{"item":"book","qty":2}' "$base/api/orders"
    # Several streams on one connection, so that HPACK's dynamic table carries fields from
    # one request to the next: nghttp (nghttp2's client, prior knowledge on http://).
    nghttp -n -H 'authorization: Bearer fixture-token' "$base/" "$base/api/users.json" "$base/missing" \
        "$base/big.txt" >/dev/null
    capture_stop
}

# 2. hypercorn, HTTP/1.1 `Upgrade: h2c` (curl --http2 on http://): stream 1 answers the
#    HTTP/1.1 request, later URLs of the same run are streams 3 and 5.
capture_upgrade() {
    local out="$OUT_DIR/hypercorn-upgrade.pcap"
    start_server hypercorn "$UPGRADE_PORT" env PYTHONPATH="$SCRIPT_DIR${PYTHONPATH:+:$PYTHONPATH}" \
        python3 -m hypercorn --bind "$HOST:$UPGRADE_PORT" h2_upgrade_app:app
    capture_start "$out" "$UPGRADE_PORT"
    local base="http://$HOST:$UPGRADE_PORT"
    curl -sS --http2 -o /dev/null -o /dev/null -o /dev/null "$base/first" "$base/second" "$base/missing"
    capture_stop
}

# 3. grpcio server and client (see scripts/grpc_fixture.py for the calls).
capture_grpc() {
    local out="$OUT_DIR/grpc.pcap"
    start_server grpc "$GRPC_PORT" python3 "$SCRIPT_DIR/grpc_fixture.py" server "$GRPC_PORT"
    capture_start "$out" "$GRPC_PORT"
    python3 "$SCRIPT_DIR/grpc_fixture.py" client "$GRPC_PORT" >&2
    capture_stop
}

# tshark's view of each capture, one JSON line per HTTP/2 stream (scripts/h2_expected.py).
# DECODE_AS is `http2` for prior knowledge (the ports are not HTTP/2's), `http` for the
# upgrade capture (tshark follows the 101 to HTTP/2 itself).
expected() {
    local pcap="$1" port="$2" decode_as="$3"
    tshark -r "$pcap" -d "tcp.port==$port,$decode_as" -Y http2 -T json --no-duplicate-keys \
        | python3 "$SCRIPT_DIR/h2_expected.py" "$port" >"${pcap%.pcap}.tshark.jsonl"
    log "$(wc -l <"${pcap%.pcap}.tshark.jsonl") streams in ${pcap%.pcap}.tshark.jsonl"
}

if [ -z "$EXPECTED_ONLY" ]; then
    capture_nginx
    capture_upgrade
    capture_grpc
fi
expected "$OUT_DIR/nginx-prior-knowledge.pcap" "$NGINX_PORT" http2
expected "$OUT_DIR/hypercorn-upgrade.pcap" "$UPGRADE_PORT" http
expected "$OUT_DIR/grpc.pcap" "$GRPC_PORT" http2
log "done: $OUT_DIR"
