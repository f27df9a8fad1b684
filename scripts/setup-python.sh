#!/usr/bin/env bash
# Install the Python packages apitap's tests use (today: openapi-spec-validator, which checks
# the OpenAPI documents `apitap inventory --openapi` writes). Idempotent: a package already
# importable is not touched, so a second run costs one `python3 -c import` per package.
#
#   scripts/setup-python.sh        # exit 0: all importable; 2: no python3 or pip
set -euo pipefail

# module:pip-requirement
PACKAGES=("openapi_spec_validator:openapi-spec-validator>=0.7,<1")

command -v python3 >/dev/null 2>&1 || { echo "setup-python: no python3" >&2; exit 2; }
python3 -m pip --version >/dev/null 2>&1 || { echo "setup-python: no pip for python3" >&2; exit 2; }

for entry in "${PACKAGES[@]}"; do
  module="${entry%%:*}"
  requirement="${entry#*:}"
  python3 -c "import $module" 2>/dev/null && continue
  echo "setup-python: installing $requirement" >&2
  # A distribution's own python (PEP 668) refuses a plain install: then into the user's site.
  python3 -m pip install -q "$requirement" 2>/dev/null ||
    python3 -m pip install -q --user "$requirement" 2>/dev/null ||
    python3 -m pip install -q --user --break-system-packages "$requirement"
  python3 -c "import $module"
done
