#!/usr/bin/env bash
# Regenerate fixtures/sessions/journeys.pcap and journeys.expected.json: scripted user
# journeys (tests/apps/journeys.py) against the test shop API (tests/apps/shop_server.py),
# over real keep-alive TCP connections on loopback, captured with tcpdump (scripts/lib/capture.sh).
#
#   sudo scripts/capture-journeys.sh
#   sudo OUT_DIR=/tmp/x scripts/capture-journeys.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo). Installs tcpdump, python3 and (for the checks) tshark if
# missing. SHOP_PORT picks the server port (default: a free high port). The pcap and the
# expected file are written to a temp dir, checked against each other, and only then moved
# into fixtures/sessions/, so the two committed files always belong to the same run.
# Timestamps, client ports, session cookies and JWTs differ on every run: review the diff of
# the expected file (see fixtures/sessions/README.md), not the pcap bytes.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-journeys
capture_out_dir fixtures/sessions
MAX_PCAP_BYTES=$((300 * 1024))

require_root
ensure_tools tcpdump python3 tshark

PORT="${SHOP_PORT:-$(free_port)}"
PCAP="$WORK/journeys.pcap"
EXPECTED="$WORK/journeys.expected.json"

# The server is ready before the capture starts; the journeys write the ground truth.
start_shop_server "$PORT"
capture_start "$PCAP" "$PORT"
python3 "$APPS_DIR/journeys.py" "$PORT" --expected "$EXPECTED"
capture_stop
stop_pid "$SERVER_PID"

# Check the capture against the ground truth before anything is moved into place.
size=$(check_pcap_size "$PCAP" "$MAX_PCAP_BYTES")
check_http_counts "$PCAP" "$PORT" "$(json_value "$EXPECTED" totals requests)" \
    "$(json_value "$EXPECTED" totals connections)"

# Client ports in the pcap are exactly the ones journeys.py recorded; every per-journey
# secret is on the wire (so "never in apitap's output" is a real test), the JWT signing key
# is not.
tshark -r "$PCAP" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e tcp.srcport \
    2>/dev/null | sort -n >"$WORK/ports.pcap"
python3 - "$EXPECTED" "$PCAP" "$WORK/ports.pcap" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
got = sorted(int(p) for p in open(sys.argv[3]).read().split())
want = sorted(p for j in doc["journeys"] for p in j["client_ports"])
if got != want:
    sys.exit(f"client ports: pcap {got}, expected {want}")
for s in doc["never_in_output"]:
    present = s["value"].encode() in raw
    if s["kind"] == "jwt_secret":
        if present:
            sys.exit("the JWT signing key is in the pcap")
    elif not present:
        sys.exit(f"secret {s['kind']} of {s['journey']} not found in the pcap")
print(f"[capture-journeys] ports match; {len(doc['never_in_output']) - 1} secrets on the wire, "
      "signing key not", file=sys.stderr)
EOF

install_files "$OUT_DIR" "$EXPECTED" "$PCAP"
log "wrote $OUT_DIR/journeys.pcap ($size bytes) and journeys.expected.json"
