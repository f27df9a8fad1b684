#!/usr/bin/env bash
# Regenerate fixtures/websocket/: a real WebSocket conversation (the Python `websockets`
# package, server and client) on loopback, with and without permessage-deflate.
#
# For each case, tcpdump records scripts/ws_fixture.py talking to itself on 127.0.0.1:$PORT:
#   <case>.pcap         the capture (one TCP connection: the upgrade, then frames);
#   <case>.truth.json   what the client sent, message by message (the server echoes it);
# then scripts/ws_fixtures.py extracts each direction's bytes after the upgrade heads
# (<case>.client.bin, <case>.server.bin) and writes expected.tsv from tshark's dissection.
#
# Installs what it needs when missing (apt: tcpdump, tshark; pip: websockets). Loopback only;
# needs root (tcpdump on lo). tcpdump and cleanup: scripts/lib/capture.sh.
#
# Usage: scripts/capture-websocket.sh
#        OUT_DIR=/tmp/x scripts/capture-websocket.sh   # a trial run, fixtures/ untouched
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/capture.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
capture_init capture-websocket
capture_out_dir fixtures/websocket
PORT=8765 # scripts/ws_fixtures.py reads this port as the server's

require_root
ensure_tools tcpdump tshark python3
ensure_python_modules websockets

for c in ws-plain ws-deflate; do
    log "$c"
    flag=""
    [[ $c == ws-deflate ]] && flag="--deflate"
    capture_start "$OUT_DIR/$c.pcap" "$PORT"
    # shellcheck disable=SC2086 # no flag is no argument
    python3 "$SCRIPT_DIR/ws_fixture.py" "$PORT" "$OUT_DIR/$c.truth.json" $flag
    capture_stop
done

python3 "$SCRIPT_DIR/ws_fixtures.py" "$OUT_DIR"
log "wrote $OUT_DIR"
