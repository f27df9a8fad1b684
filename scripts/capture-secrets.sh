#!/usr/bin/env bash
# Capture traffic carrying every kind of secret apitap must never export (issue 21) into
# fixtures/secrets/: tests/apps/secrets_traffic.py serves and sends it on loopback, tcpdump
# records it.
#
#   sudo scripts/capture-secrets.sh      # writes fixtures/secrets/secrets.pcap and secrets.json
#
# Needs root (tcpdump on lo); installs tcpdump and python3 if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/fixtures/secrets"
APP="$ROOT/tests/apps/secrets_traffic.py"
PORT="${PORT:-18111}"

log() { printf '[capture-secrets] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "must run as root (tcpdump on lo)"; exit 1; }
for t in tcpdump python3; do
    command -v "$t" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$t"
done

WORK="$(mktemp -d /tmp/apitap-secrets.XXXXXX)"
chmod 755 "$WORK"
cleanup() { kill "${SERVER:-}" "${DUMP:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

python3 "$APP" serve "$PORT" &
SERVER=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
tcpdump -i lo -U --immediate-mode -s 0 -n -Z root -w "$WORK/secrets.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
DUMP=$!
until grep -q "listening on" "$WORK/tcpdump.log"; do sleep 0.1; done
python3 "$APP" send "$PORT" "$WORK/secrets.json"
sleep 0.5
kill -INT "$DUMP"; wait "$DUMP" || true
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

# Every secret is in the capture (or the test would prove nothing).
python3 - "$WORK/secrets.pcap" "$WORK/secrets.json" <<'PY'
import json, sys
pcap = open(sys.argv[1], "rb").read()
for name, value in json.load(open(sys.argv[2])).items():
    if value.encode() not in pcap:
        sys.exit(f"secret {name} is not in the capture")
PY
mkdir -p "$OUT"
cp "$WORK/secrets.pcap" "$WORK/secrets.json" "$OUT/"
log "wrote $OUT/secrets.pcap and $OUT/secrets.json"
