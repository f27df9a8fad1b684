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
# needs root (tcpdump on lo).
#
# Usage: scripts/capture-websocket.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/fixtures/websocket"
PORT=8765

log() { printf 'capture-websocket: %s\n' "$*" >&2; }
[[ $EUID -eq 0 ]] || { log "needs root (tcpdump on the loopback interface)"; exit 1; }

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tshark >/dev/null || need+=(tshark)
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq "${need[@]}"
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install --quiet websockets

TCPDUMP_PID=""
trap '[[ -n "$TCPDUMP_PID" ]] && kill "$TCPDUMP_PID" 2>/dev/null || true' EXIT INT TERM

mkdir -p "$OUT"
for c in ws-plain ws-deflate; do
    log "$c"
    tcpdump -i lo -U -s 0 -w "$OUT/$c.pcap" "tcp port $PORT" 2>/dev/null &
    TCPDUMP_PID=$!
    sleep 1
    flag=""
    [[ $c == ws-deflate ]] && flag="--deflate"
    python3 "$ROOT/scripts/ws_fixture.py" "$PORT" "$OUT/$c.truth.json" $flag
    sleep 1
    kill "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=""
done

python3 "$ROOT/scripts/ws_fixtures.py" "$OUT"
log "wrote $OUT"
