#!/usr/bin/env bash
# Capture traffic carrying every kind of secret apitap must never export (issue 21) into
# fixtures/secrets/: tests/apps/secrets_traffic.py serves and sends it on loopback, tcpdump
# records it (scripts/lib/capture.sh).
#
#   sudo scripts/capture-secrets.sh      # writes fixtures/secrets/secrets.pcap and secrets.json
#   sudo OUT_DIR=/tmp/x scripts/capture-secrets.sh   # a trial run, fixtures/ untouched
#
# Needs root (tcpdump on lo); installs tcpdump and python3 if missing. PORT picks the server
# port (default 18111).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-secrets
capture_out_dir fixtures/secrets
APP="$APPS_DIR/secrets_traffic.py"
PORT="${PORT:-18111}"

require_root
ensure_tools tcpdump python3

PCAP="$WORK/secrets.pcap"
SECRETS="$WORK/secrets.json"

start_server secrets_traffic "$PORT" python3 "$APP" serve "$PORT"
capture_start "$PCAP" "$PORT"
python3 "$APP" send "$PORT" "$SECRETS"
capture_stop
stop_pid "$SERVER_PID"

# Every secret is in the capture (or the test would prove nothing).
python3 - "$PCAP" "$SECRETS" <<'PY'
import json, sys
pcap = open(sys.argv[1], "rb").read()
for name, value in json.load(open(sys.argv[2])).items():
    if value.encode() not in pcap:
        sys.exit(f"secret {name} is not in the capture")
PY
install_files "$OUT_DIR" "$PCAP" "$SECRETS"
log "wrote $OUT_DIR/secrets.pcap and $OUT_DIR/secrets.json"
