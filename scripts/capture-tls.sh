#!/usr/bin/env bash
# Regenerate fixtures/tls/: real TLS handshakes between curl and nginx on loopback.
#
# Makes a throwaway self-signed certificate (api.example.test and 127.0.0.1), runs nginx with
# TLS 1.2 and 1.3 and HTTP/2 on 127.0.0.1:$PORT, and for each case records with tcpdump
#   <case>.pcap      the loopback traffic of one curl request,
#   <case>.keylog    the NSS key log curl wrote (SSLKEYLOGFILE), to decrypt it,
#   <case>.client.bin / <case>.server.bin
#                    the TCP payload of each direction (scripts/tls_fixtures.py extracts
#                    them with tshark), what the sessionizer's unit tests read.
# Then scripts/tls_fixtures.py writes expected.tsv: tshark's SNI, ALPN, version, cipher and
# JA3 for each capture (and JA4 where the tshark build or the ja4plus package gives one).
#
# Installs what it needs with apt when missing (idempotent, non-interactive). Only loopback
# is used. Needs root (tcpdump on lo). tcpdump, nginx and cleanup: scripts/lib/capture.sh.
#
# Usage: scripts/capture-tls.sh [CASE...]    (default: every case)
#        OUT_DIR=/tmp/x scripts/capture-tls.sh   # a trial run, fixtures/ untouched
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-tls
capture_out_dir fixtures/tls
PORT=8443
SERVER_NAME=api.example.test # the certificate's name, sent as SNI
URL_PATH=/v1/orders/42

require_root
ensure_tools nginx:nginx-light openssl curl tcpdump tshark python3
# JA4 has no field in tshark before Wireshark 4.2: the ja4plus package (an independent
# implementation of the FoxIO specification) fills the expected JA4 column instead.
ensure_python_modules ja4plus scapy || log "ja4plus not installed: expected JA4 left empty"

# --- cases: name, then curl arguments ----------------------------------------------------
# SNI: curl sends none for an IP literal (RFC 6066 section 3), so the no-SNI cases use
# https://127.0.0.1; the SNI cases use --resolve to reach the same server by name.
declare -A CASES=(
    [tls13-sni-h2]="--http2 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
    [tls13-nosni-h1]="--http1.1 https://127.0.0.1:$PORT$URL_PATH"
    [tls13-sni-h1-chacha]="--http1.1 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
    [tls13-sni-h1-aes128]="--http1.1 --tls13-ciphers TLS_AES_128_GCM_SHA256 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
    [tls12-sni-h1]="--tls-max 1.2 --http1.1 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
    [tls12-nosni-h2]="--tls-max 1.2 --http2 https://127.0.0.1:$PORT$URL_PATH"
    [tls12-sni-h1-chacha]="--tls-max 1.2 --http1.1 --ciphers ECDHE-RSA-CHACHA20-POLY1305 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
    [tls12-sni-h1-aes128]="--tls-max 1.2 --http1.1 --ciphers ECDHE-RSA-AES128-GCM-SHA256 --resolve $SERVER_NAME:$PORT:127.0.0.1 https://$SERVER_NAME:$PORT$URL_PATH"
)
if (($#)); then SELECTED=("$@"); else mapfile -t SELECTED < <(printf '%s\n' "${!CASES[@]}" | sort); fi
for c in "${SELECTED[@]}"; do [[ -n "${CASES[$c]:-}" ]] || die "unknown case $c"; done

# --- nginx with a self-signed certificate -------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$SERVER_NAME" \
    -addext "subjectAltName=DNS:$SERVER_NAME,IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
mkdir -p "$WORK/logs"
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305;
        ssl_session_tickets off;
        location / {
            default_type application/json;
            return 200 '{"id":42,"status":"shipped"}\n';
        }
    }
}
EOF
start_server nginx "$PORT" "$(tool_path nginx)" -p "$WORK" -c "$WORK/nginx.conf"

# --- one capture per case -----------------------------------------------------------------
for c in "${SELECTED[@]}"; do
    log "$c"
    rm -f "$OUT_DIR/$c.keylog" # curl appends to a key log
    capture_start "$OUT_DIR/$c.pcap" "$PORT"
    # shellcheck disable=SC2086 # the case's arguments are split on purpose
    SSLKEYLOGFILE="$OUT_DIR/$c.keylog" curl -sS -k -o /dev/null -H 'Authorization: Bearer fixture-token' ${CASES[$c]}
    capture_stop
done

python3 "$SCRIPT_DIR/tls_fixtures.py" "$OUT_DIR"
log "wrote $OUT_DIR"
