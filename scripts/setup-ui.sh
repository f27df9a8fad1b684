#!/usr/bin/env bash
# What the browser tests of `apitap ui` need (tests/tests/ui.rs, scripts/bench-ui.sh): Debian's
# chromium and Playwright for Python, driven against /usr/bin/chromium (Playwright's own browser
# downloads are not used). Idempotent: each piece is installed only when missing.
#
# Exits 0 when both are usable, 1 (with the reason on stderr) when they cannot be installed;
# the tests then skip loudly.
set -euo pipefail

log() { printf 'setup-ui: %s\n' "$*" >&2; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium (Debian package)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null || { log "apt-get install chromium failed"; exit 1; }
fi
if ! python3 -c 'import playwright.sync_api' 2>/dev/null; then
  log "installing playwright for Python (pip; the system chromium is used, no browser download)"
  python3 -m pip install -q --disable-pip-version-check playwright >/dev/null \
    || { log "pip install playwright failed"; exit 1; }
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { log "/usr/bin/chromium does not run"; exit 1; }
python3 -c 'import playwright.sync_api' || { log "playwright does not import"; exit 1; }
