#!/usr/bin/env bash
# Regenerate fixtures/inventory/shop-inventory.pcap and truth.json: a mixed workload
# (tests/apps/inventory_workload.py) against the test shop API (tests/apps/shop_server.py)
# with documented, deprecated, retired, undocumented and unmanaged calls, over real
# keep-alive TCP connections on loopback, captured with tcpdump (scripts/lib/capture.sh).
#
#   sudo scripts/capture-inventory.sh
#   sudo OUT_DIR=/tmp/x scripts/capture-inventory.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo). Installs tcpdump, python3 and (for the checks) tshark if
# missing. SHOP_PORT picks the server port (default: a free high port). The pcap and the
# truth file are written to a temp dir, checked against each other, and only then moved
# into fixtures/inventory/, so the two committed files always belong to the same run.
# Client ports, timestamps, JWTs and order ids differ on every run: review the diff of the
# truth file's expectations (fixtures/inventory/README.md), not the pcap bytes.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-inventory
capture_out_dir fixtures/inventory
MAX_PCAP_BYTES=$((200 * 1024))

require_root
ensure_tools tcpdump python3 tshark

PORT="${SHOP_PORT:-$(free_port)}"
PCAP="$WORK/shop-inventory.pcap"
TRUTH="$WORK/truth.json"

# The server is ready before the capture starts; the workload writes the truth.
start_shop_server "$PORT"
capture_start "$PCAP" "$PORT"
python3 "$APPS_DIR/inventory_workload.py" "$PORT" --truth "$TRUTH"
capture_stop
stop_pid "$SERVER_PID"

# Check the capture against the truth before anything is moved into place.
size=$(check_pcap_size "$PCAP" "$MAX_PCAP_BYTES")
check_http_counts "$PCAP" "$PORT" "$(json_value "$TRUTH" totals requests)" \
    "$(json_value "$TRUTH" totals connections)"

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

install_files "$OUT_DIR" "$TRUTH" "$PCAP"
log "wrote $OUT_DIR/shop-inventory.pcap ($size bytes) and truth.json"
