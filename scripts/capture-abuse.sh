#!/usr/bin/env bash
# Regenerate fixtures/behaviours/shop-abuse.pcap and shop-abuse.truth.json: benign customers,
# a BOLA attacker, a credential stuffer and a volume spike (tests/apps/abuse.py) against the
# test shop (tests/apps/shop_server.py --extra-users 40), over real keep-alive TCP connections
# on loopback, captured with tcpdump (scripts/lib/capture.sh).
#
#   sudo scripts/capture-abuse.sh
#   sudo OUT_DIR=/tmp/x scripts/capture-abuse.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo); installs tcpdump, python3 and tshark when missing. SHOP_PORT
# picks the server port (default: a free high port). The pcap and the truth file are written
# to a temp dir, checked against each other (tshark counts the requests and responses), and
# only then moved into fixtures/behaviours/. Timestamps, ports, JWTs and order ids differ on
# every run: review the truth file's diff, not the pcap bytes.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-abuse
capture_out_dir fixtures/behaviours
MAX_PCAP_BYTES=$((2 * 1024 * 1024))

require_root
ensure_tools tcpdump python3 tshark

PORT="${SHOP_PORT:-$(free_port)}"
PCAP="$WORK/shop-abuse.pcap"
TRUTH="$WORK/shop-abuse.truth.json"

start_shop_server "$PORT" --extra-users 40
capture_start "$PCAP" "$PORT"
python3 "$APPS_DIR/abuse.py" "$PORT" --truth "$TRUTH"
capture_stop

size=$(check_pcap_size "$PCAP" "$MAX_PCAP_BYTES")
check_http_counts "$PCAP" "$PORT" "$(json_value "$TRUTH" requests)"

install_files "$OUT_DIR" "$TRUTH" "$PCAP"
log "wrote $OUT_DIR/shop-abuse.pcap ($size bytes) and shop-abuse.truth.json"
