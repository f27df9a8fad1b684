#!/usr/bin/env bash
# Install what apitap's build and tests need on a Debian machine with Rust. Idempotent: each
# package is installed only when missing, so a second run costs a few dpkg queries.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# libssl-dev, zlib1g-dev, make, pkg-config: librdkafka is built from source with TLS (rdkafka crate).
for pkg in libpcap-dev tcpdump nginx-light curl python3 iproute2 time libssl-dev zlib1g-dev make pkg-config wrk ethtool; do
  have_pkg "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
# Python packages of the tests (openapi-spec-validator for the API inventory's OpenAPI output).
bash "$(dirname "${BASH_SOURCE[0]}")/setup-python.sh"
