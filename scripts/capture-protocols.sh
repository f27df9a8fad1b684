#!/usr/bin/env bash
# Regenerate fixtures/protocols/: real traffic that is not HTTP, HTTP inside a CONNECT tunnel,
# and request-smuggling probes, on loopback (127.0.0.1 only), captured with tcpdump.
#
#   sudo scripts/capture-protocols.sh      # writes fixtures/protocols/*.pcap
#
# Needs root (tcpdump on lo; initdb and postgres run as the postgres user), Python 3.11 (its
# stdlib smtpd), PostgreSQL (initdb, postgres, psql) and curl. Ports: 18525 (SMTP), 18532
# (PostgreSQL), 18533 (CONNECT proxy), 18534 (HTTP API). Timestamps and client ports are
# whatever the kernel gives: review a regeneration with tshark, not a byte diff.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$REPO_DIR/fixtures/protocols"
HOST=127.0.0.1
SMTP_PORT=18525
PG_PORT=18532
PROXY_PORT=18533
API_PORT=18534
PY="$SCRIPT_DIR/protocol_fixtures.py"

log() { printf '[capture-protocols] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (tcpdump on lo)"
python3 -c 'import smtpd' 2>/dev/null || die "python3 has no smtpd module (needs Python <= 3.11)"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)"
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL not found (apt-get install postgresql)"
TCPDUMP_BIN="$(command -v tcpdump || echo /usr/sbin/tcpdump)"

WORK="$(mktemp -d /tmp/apitap-protocols.XXXXXX)"
chmod 755 "$WORK"
PIDS_TO_STOP=()
cleanup() {
    local pid
    for pid in "${PIDS_TO_STOP[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -f "$WORK/pg/postmaster.pid" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    local port="$1" i
    for i in $(seq 1 100); do
        if python3 -c "import socket; socket.create_connection(('$HOST', $port), 0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on $HOST:$port"
}

# As scripts/capture-h2.sh: --immediate-mode so that nothing stays in the ring at SIGINT.
TCPDUMP_PID=""
start_capture() {
    local file="$1" port="$2" errf="$WORK/tcpdump.err"
    rm -f "$file"
    "$TCPDUMP_BIN" -i lo -U --immediate-mode -B 32768 -s 0 -n -Z root -w "$file" "tcp port $port" 2>"$errf" &
    TCPDUMP_PID=$!
    PIDS_TO_STOP+=("$TCPDUMP_PID")
    local i
    for i in $(seq 1 100); do
        if grep -q 'listening on' "$errf" 2>/dev/null; then
            sleep 0.2
            return 0
        fi
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$errf")"
        sleep 0.1
    done
    die "tcpdump did not start: $(cat "$errf")"
}
stop_capture() {
    sleep 0.5
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    log "$(grep -E 'packets captured' "$WORK/tcpdump.err" || true)"
}

mkdir -p "$OUT_DIR"

# 1. SMTP: the stdlib's smtpd server and smtplib client; the message body holds HTTP-looking
#    lines. Issue 21: the client's EHLO used to become an HTTP/0.9 request.
capture_smtp() {
    python3 "$PY" smtp-server "$SMTP_PORT" >"$WORK/smtp.log" 2>&1 &
    PIDS_TO_STOP+=("$!")
    wait_port "$SMTP_PORT"
    start_capture "$OUT_DIR/smtp.pcap" "$SMTP_PORT"
    python3 "$PY" smtp-client "$SMTP_PORT"
    stop_capture
}

# 2. PostgreSQL 15: psql (no TLS) selects rows holding `HTTP/1.1 403 Forbidden`. Issue 21: such
#    rows used to become a response whose reason phrase was binary.
capture_postgres() {
    mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -o "-h $HOST -p $PG_PORT -k $WORK/pg" start >/dev/null
    start_capture "$OUT_DIR/postgres.pcap" "$PG_PORT"
    PGSSLMODE=disable psql -h "$HOST" -p "$PG_PORT" -U postgres -At -c \
        "select 'HTTP/1.1 403 Forbidden' || chr(13) || chr(10) || 'Content-Length: 0' as line union all select 'GET /x HTTP/1.1'" >/dev/null
    stop_capture
}

# 3. A CONNECT proxy with plain HTTP inside: curl --proxytunnel to the tunnel API. Issue 21:
#    the tunnel's transactions used to be lost.
capture_connect() {
    python3 "$SCRIPT_DIR/tunnel_server.py" "$HOST" "$API_PORT" >"$WORK/api.log" 2>&1 &
    PIDS_TO_STOP+=("$!")
    python3 "$PY" proxy "$PROXY_PORT" >"$WORK/proxy.log" 2>&1 &
    PIDS_TO_STOP+=("$!")
    wait_port "$API_PORT"
    wait_port "$PROXY_PORT"
    start_capture "$OUT_DIR/connect-http.pcap" "$PROXY_PORT"
    curl -sS -o /dev/null -o /dev/null --proxytunnel -x "http://$HOST:$PROXY_PORT" \
        "http://$HOST:$API_PORT/api/items" "http://$HOST:$API_PORT/api/users/7"
    stop_capture
}

# 4. Request-smuggling and host-confusion probes against the same API, one connection each.
capture_smuggling() {
    start_capture "$OUT_DIR/smuggling.pcap" "$API_PORT"
    python3 "$PY" smuggle "$API_PORT"
    stop_capture
}

capture_smtp
capture_postgres
capture_connect
capture_smuggling
log "done: $OUT_DIR"
