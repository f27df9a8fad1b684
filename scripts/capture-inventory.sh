#!/usr/bin/env bash
# Regenerate fixtures/inventory/shop-inventory.pcap and truth.json: a mixed workload
# (tests/apps/inventory_workload.py) against the test shop API (tests/apps/shop_server.py)
# with documented, deprecated, retired, undocumented and unmanaged calls, over real
# keep-alive TCP connections on loopback, captured with tcpdump.
#
#   sudo scripts/capture-inventory.sh
#
# Needs root (tcpdump on lo). Installs tcpdump, python3 and (for the checks) tshark if
# missing. SHOP_PORT picks the server port (default: a free high port). The pcap and the
# truth file are written to a temp dir, checked against each other, and only then moved
# into fixtures/inventory/, so the two committed files always belong to the same run.
# Client ports, timestamps, JWTs and order ids differ on every run: review the diff of the
# truth file's expectations (fixtures/inventory/README.md), not the pcap bytes.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="$REPO_DIR/fixtures/inventory"
APPS_DIR="$REPO_DIR/tests/apps"
HOST=127.0.0.1
MAX_PCAP_BYTES=$((200 * 1024))

log() { printf '[capture-inventory] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_tools() {
    local missing=()
    command -v tcpdump >/dev/null 2>&1 || [ -x /usr/sbin/tcpdump ] || missing+=(tcpdump)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v tshark >/dev/null 2>&1 || missing+=(tshark) # verification only
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
}

[ "$(id -u)" -eq 0 ] || die "must run as root (tcpdump on lo)"
ensure_tools
TCPDUMP_BIN="$(command -v tcpdump || echo /usr/sbin/tcpdump)"

free_port() {
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("port %s did not open within 10 s" % sys.argv[1])
EOF
}

WORK="$(mktemp -d /tmp/apitap-inventory.XXXXXX)"
chmod 755 "$WORK"
SERVER_PID=""
TCPDUMP_PID=""
cleanup() {
    local pid
    for pid in "$TCPDUMP_PID" "$SERVER_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="${SHOP_PORT:-$(free_port)}"
PCAP="$WORK/shop-inventory.pcap"
TRUTH="$WORK/truth.json"

# 1. The server, ready before the capture starts (so the readiness probe is not captured).
python3 "$APPS_DIR/shop_server.py" "$PORT" 2>"$WORK/server.err" &
SERVER_PID=$!
wait_port "$PORT" || die "server did not start: $(cat "$WORK/server.err")"
log "shop_server on $HOST:$PORT (pid $SERVER_PID)"

# 2. tcpdump on lo, and wait until it says it is listening.
# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over only when a block
# retires, and packets still in the ring at SIGINT are lost (see fixtures/local/README.md).
# -B 32768 (KiB): in immediate mode libpcap uses a TPACKET_V2 ring with one slot per packet,
# each slot sized for lo's 64 KiB MTU, so the default 2 MiB buffer holds ~30 packets; on a
# busy machine tcpdump fell behind and the kernel dropped 60 packets. 32 MiB holds
# ~500, more than the whole capture.
# -Z root: keep the output file owned by root instead of the tcpdump user.
"$TCPDUMP_BIN" -i lo -U --immediate-mode -B 32768 -s 0 -n -Z root -w "$PCAP" "tcp port $PORT" \
    2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/tcpdump.err" 2>/dev/null && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$WORK/tcpdump.err")"
    sleep 0.1
done
grep -q 'listening on' "$WORK/tcpdump.err" || die "tcpdump did not start: $(cat "$WORK/tcpdump.err")"
sleep 0.2 # the filter is attached before the message; a little slack

# 3. The workload. It writes the truth.
python3 "$APPS_DIR/inventory_workload.py" "$PORT" --truth "$TRUTH"

# 4. Let the last FIN/ACKs arrive, stop tcpdump with SIGINT (it flushes), stop the server.
sleep 0.5
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
log "$(grep -E 'packets (captured|dropped by kernel)' "$WORK/tcpdump.err" | tr '\n' ' ')"
grep -q '^0 packets dropped by kernel' "$WORK/tcpdump.err" ||
    die "tcpdump lost packets: $(grep 'dropped by kernel' "$WORK/tcpdump.err"); rerun"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# 5. Check the capture against the truth before anything is moved into place.
size=$(stat -c %s "$PCAP")
[ "$size" -lt "$MAX_PCAP_BYTES" ] || die "pcap is $size bytes, limit $MAX_PCAP_BYTES"
total_json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"][sys.argv[2]])' "$TRUTH" "$1"; }
want_requests=$(total_json requests)
want_connections=$(total_json connections)
# A non-standard port: tell tshark it is HTTP.
got_requests=$(tshark -r "$PCAP" -d "tcp.port==$PORT,http" -Y http.request 2>/dev/null | wc -l)
got_responses=$(tshark -r "$PCAP" -d "tcp.port==$PORT,http" -Y http.response 2>/dev/null | wc -l)
got_connections=$(tshark -r "$PCAP" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' 2>/dev/null | wc -l)
log "tshark: $got_requests requests (expected $want_requests), $got_responses responses," \
    "$got_connections connections (expected $want_connections)"
[ "$got_requests" -eq "$want_requests" ] || die "request count mismatch"
[ "$got_responses" -eq "$want_requests" ] || die "response count mismatch"
[ "$got_connections" -eq "$want_connections" ] || die "connection count mismatch"

# Every call of the truth is on the wire: client port, method, target and Host, in order.
tshark -r "$PCAP" -d "tcp.port==$PORT,http" -Y http.request -T fields -E separator='|' \
    -e tcp.srcport -e http.request.method -e http.request.uri -e http.host \
    2>/dev/null >"$WORK/requests.txt"
python3 - "$TRUTH" "$WORK/requests.txt" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
got = [tuple(l.rstrip("\n").split("|")) for l in open(sys.argv[2]) if l.strip()]
want = [(str(c["client_port"]), c["method"],
         c["path"] + ("?" + c["query"] if c["query"] is not None else ""), c["host"])
        for c in truth["requests"]]
if got != want:
    sys.exit("requests in the pcap differ from the truth:\n" +
             "\n".join(f"{g} != {w}" for g, w in zip(got, want) if g != w))
print(f"[capture-inventory] all {len(want)} calls of the truth are in the pcap, in order",
      file=sys.stderr)
EOF

mkdir -p "$OUT_DIR"
chmod 644 "$PCAP" "$TRUTH"
mv "$TRUTH" "$OUT_DIR/truth.json"
mv "$PCAP" "$OUT_DIR/shop-inventory.pcap"
log "wrote $OUT_DIR/shop-inventory.pcap ($size bytes) and truth.json"
