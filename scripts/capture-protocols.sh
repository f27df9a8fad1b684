#!/usr/bin/env bash
# Regenerate fixtures/protocols/: real traffic that is not HTTP, HTTP inside a CONNECT tunnel,
# and request-smuggling probes, on loopback (127.0.0.1 only), captured with tcpdump.
#
#   sudo scripts/capture-protocols.sh      # writes fixtures/protocols/*.pcap
#   sudo OUT_DIR=/tmp/x scripts/capture-protocols.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo; initdb and postgres run as the postgres user), Python 3.11 (its
# stdlib smtpd), PostgreSQL (initdb, postgres, psql) and curl. Ports: 18525 (SMTP), 18532
# (PostgreSQL), 18533 (CONNECT proxy), 18534 (HTTP API); installs tcpdump and curl if
# missing. tcpdump, servers and cleanup: scripts/lib/capture.sh. Timestamps and client ports
# are whatever the kernel gives: review a regeneration with tshark, not a byte diff.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-protocols
capture_out_dir fixtures/protocols
SMTP_PORT=18525
PG_PORT=18532
PROXY_PORT=18533
API_PORT=18534
PY="$SCRIPT_DIR/protocol_fixtures.py"

require_root
ensure_tools tcpdump curl python3
python3 -c 'import smtpd' 2>/dev/null || die "python3 has no smtpd module (needs Python <= 3.11)"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)"
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL not found (apt-get install postgresql)"

# postgres runs as a daemon (pg_ctl), not one of the library's background processes.
cleanup_hook() {
    [ -f "$WORK/pg/postmaster.pid" ] || return 0
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
}

# 1. SMTP: the stdlib's smtpd server and smtplib client; the message body holds HTTP-looking
#    lines. Issue 21: the client's EHLO used to become an HTTP/0.9 request.
capture_smtp() {
    start_server smtp "$SMTP_PORT" python3 "$PY" smtp-server "$SMTP_PORT"
    capture_start "$OUT_DIR/smtp.pcap" "$SMTP_PORT"
    python3 "$PY" smtp-client "$SMTP_PORT"
    capture_stop
}

# 2. PostgreSQL 15: psql (no TLS) selects rows holding `HTTP/1.1 403 Forbidden`. Issue 21: such
#    rows used to become a response whose reason phrase was binary.
capture_postgres() {
    mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -o "-h $HOST -p $PG_PORT -k $WORK/pg" start >/dev/null
    capture_start "$OUT_DIR/postgres.pcap" "$PG_PORT"
    PGSSLMODE=disable psql -h "$HOST" -p "$PG_PORT" -U postgres -At -c \
        "select 'HTTP/1.1 403 Forbidden' || chr(13) || chr(10) || 'Content-Length: 0' as line union all select 'GET /x HTTP/1.1'" >/dev/null
    capture_stop
}

# 3. A CONNECT proxy with plain HTTP inside: curl --proxytunnel to the tunnel API. Issue 21:
#    the tunnel's transactions used to be lost.
capture_connect() {
    start_server api "$API_PORT" python3 "$SCRIPT_DIR/tunnel_server.py" "$HOST" "$API_PORT"
    start_server proxy "$PROXY_PORT" python3 "$PY" proxy "$PROXY_PORT"
    capture_start "$OUT_DIR/connect-http.pcap" "$PROXY_PORT"
    curl -sS -o /dev/null -o /dev/null --proxytunnel -x "http://$HOST:$PROXY_PORT" \
        "http://$HOST:$API_PORT/api/items" "http://$HOST:$API_PORT/api/users/7"
    capture_stop
}

# 4. Request-smuggling and host-confusion probes against the same API, one connection each.
capture_smuggling() {
    capture_start "$OUT_DIR/smuggling.pcap" "$API_PORT"
    python3 "$PY" smuggle "$API_PORT"
    capture_stop
}

capture_smtp
capture_postgres
capture_connect
capture_smuggling
log "done: $OUT_DIR"
