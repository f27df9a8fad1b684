#!/usr/bin/env bash
# Capture a user journey that ends in SQL injection against the test shop (issue 22):
# tests/apps/shop_server.py serves, tests/apps/attack_journey.py logs in, browses, orders, then
# injects into the order listing's `status` filter, which answers with a database error.
#
#   sudo scripts/capture-attack-journey.sh   # writes fixtures/detect/attack-journey.{pcap,truth.json}
#
# Needs root (tcpdump on lo); installs tcpdump and python3 if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/fixtures/detect"
PORT="${PORT:-18121}"
log() { printf '[capture-attack-journey] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "must run as root (tcpdump on lo)"; exit 1; }
for t in tcpdump python3; do
    command -v "$t" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$t"
done
WORK="$(mktemp -d /tmp/apitap-attack.XXXXXX)"
chmod 755 "$WORK"
cleanup() { kill "${SERVER:-}" "${DUMP:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

python3 "$ROOT/tests/apps/shop_server.py" "$PORT" --seed 22 &
SERVER=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
tcpdump -i lo -U --immediate-mode -s 0 -n -Z root -w "$WORK/attack-journey.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
DUMP=$!
until grep -q "listening on" "$WORK/tcpdump.log"; do sleep 0.1; done
python3 "$ROOT/tests/apps/attack_journey.py" "$PORT" "$WORK/attack-journey.truth.json"
sleep 0.5
kill -INT "$DUMP"; wait "$DUMP" || true
mkdir -p "$OUT"
cp "$WORK/attack-journey.pcap" "$WORK/attack-journey.truth.json" "$OUT/"
log "wrote $OUT/attack-journey.pcap and its truth"
