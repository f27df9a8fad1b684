#!/usr/bin/env bash
# Capture a user journey that ends in SQL injection against the test shop (issue 22):
# tests/apps/shop_server.py serves, tests/apps/attack_journey.py logs in, browses, orders, then
# injects into the order listing's `status` filter, which answers with a database error.
#
#   sudo scripts/capture-attack-journey.sh   # writes fixtures/detect/attack-journey.{pcap,truth.json}
#   sudo OUT_DIR=/tmp/x scripts/capture-attack-journey.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo); installs tcpdump, python3 and tshark if missing. PORT picks the
# server port (default 18121). Capture and checks: scripts/lib/capture.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-attack-journey
capture_out_dir fixtures/detect
PORT="${PORT:-18121}"

require_root
ensure_tools tcpdump python3 tshark

PCAP="$WORK/attack-journey.pcap"
TRUTH="$WORK/attack-journey.truth.json"

start_shop_server "$PORT" --seed 22
capture_start "$PCAP" "$PORT"
python3 "$APPS_DIR/attack_journey.py" "$PORT" "$TRUTH"
capture_stop

# Every call of the truth is on the wire, answered, on its one keep-alive connection.
check_http_counts "$PCAP" "$PORT" \
    "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["requests"]))' "$TRUTH")" 1

install_files "$OUT_DIR" "$PCAP" "$TRUTH"
log "wrote $OUT_DIR/attack-journey.pcap and its truth"
