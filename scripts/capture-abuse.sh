#!/usr/bin/env bash
# Regenerate fixtures/behaviours/shop-abuse.pcap and shop-abuse.truth.json: benign customers,
# a BOLA attacker, a credential stuffer and a volume spike (tests/apps/abuse.py) against the
# test shop (tests/apps/shop_server.py --extra-users 40), over real keep-alive TCP connections
# on loopback, captured with tcpdump.
#
#   sudo scripts/capture-abuse.sh
#
# Needs root (tcpdump on lo); installs tcpdump, python3 and tshark when missing. The pcap
# and the truth file are written to a temp dir, checked against each other (tshark counts
# the requests), and only then moved into fixtures/behaviours/. Timestamps, ports, JWTs and
# order ids differ on every run: review the truth file's diff, not the pcap bytes.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$REPO_DIR/fixtures/behaviours"
APPS_DIR="$REPO_DIR/tests/apps"
MAX_PCAP_BYTES=$((2 * 1024 * 1024))

log() { printf '[capture-abuse] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (tcpdump on lo)"
missing=()
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

PORT="${SHOP_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
WORK="$(mktemp -d /tmp/apitap-abuse.XXXXXX)"
chmod 755 "$WORK"
SERVER_PID=""
TCPDUMP_PID=""
cleanup() {
    for pid in "$TCPDUMP_PID" "$SERVER_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

PCAP="$WORK/shop-abuse.pcap"
TRUTH="$WORK/shop-abuse.truth.json"

python3 "$APPS_DIR/shop_server.py" "$PORT" --extra-users 40 2>"$WORK/server.err" &
SERVER_PID=$!
python3 - "$PORT" <<'PY' || die "server did not start: $(cat "$WORK/server.err")"
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
log "shop_server on 127.0.0.1:$PORT (pid $SERVER_PID)"

# --immediate-mode and -B: see scripts/capture-journeys.sh (no packet left in the ring).
tcpdump -i lo -U --immediate-mode -B 32768 -s 0 -n -Z root -w "$PCAP" "tcp port $PORT" \
    2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/tcpdump.err" 2>/dev/null && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$WORK/tcpdump.err")"
    sleep 0.1
done
sleep 0.2

python3 "$APPS_DIR/abuse.py" "$PORT" --truth "$TRUTH"

sleep 0.5
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
grep -q '^0 packets dropped by kernel' "$WORK/tcpdump.err" ||
    die "tcpdump lost packets: $(grep 'dropped by kernel' "$WORK/tcpdump.err"); rerun"

size=$(stat -c %s "$PCAP")
[ "$size" -lt "$MAX_PCAP_BYTES" ] || die "pcap is $size bytes, limit $MAX_PCAP_BYTES"
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$TRUTH")
got=$(tshark -r "$PCAP" -d "tcp.port==$PORT,http" -Y http.request 2>/dev/null | wc -l)
log "tshark: $got requests (truth: $want)"
[ "$got" -eq "$want" ] || die "request count mismatch"

mkdir -p "$OUT_DIR"
chmod 644 "$PCAP" "$TRUTH"
mv "$TRUTH" "$OUT_DIR/shop-abuse.truth.json"
mv "$PCAP" "$OUT_DIR/shop-abuse.pcap"
log "wrote $OUT_DIR/shop-abuse.pcap ($size bytes) and shop-abuse.truth.json"
