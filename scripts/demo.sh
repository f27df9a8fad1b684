#!/usr/bin/env bash
# Build apitap and replay the bundled demo capture: JSON lines on stdout, the run summary on
# stderr; with --ui, open the result in `apitap ui` instead (docs/ui.md). Installs libpcap-dev
# first when it is missing (the only system package the build needs besides a C toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg-query -W -f='${Status}' libpcap-dev 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libpcap-dev libssl-dev zlib1g-dev make pkg-config >/dev/null
fi
# A fixed demo secret so the session ids are the same on every run (see docs/sessions.md).
export APITAP_SESSION_SECRET="${APITAP_SESSION_SECRET:-apitap-demo-secret-0123456789}"
if [[ "${1:-}" == "--ui" ]]; then
  # The same replay, into `apitap ui`: open http://127.0.0.1:8088 (Ctrl-C stops it). The store
  # is a temporary file; extra arguments go to `apitap ui` (e.g. --listen 127.0.0.1:9000).
  shift
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cargo run --release --quiet -p apitap -- replay fixtures/demo/shop-journeys.pcap \
    --config fixtures/sessions/shop.toml -q --output "$work/demo.jsonl"
  cargo run --release --quiet -p apitap -- ui --db "$work/ui.sqlite" --input "$work/demo.jsonl" "$@"
  exit
fi
exec cargo run --release --quiet -p apitap -- replay fixtures/demo/shop-journeys.pcap \
  --config fixtures/sessions/shop.toml "$@"
