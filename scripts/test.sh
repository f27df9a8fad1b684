#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build once, run everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# The workspace's debug build and its tests take about 5.5 GiB (target/), the broker's build
# (once) about 1.5 GiB more: say so up front rather than fail half-way with "No space left
# on device" from a build script.
need_gib=8
avail_kib="$(df -Pk . | awk 'NR == 2 { print $4 }')"
if ((avail_kib < need_gib * 1024 * 1024)); then
    echo "test.sh: warning: $((avail_kib / 1024 / 1024)) GiB free here; the build and tests need about $need_gib GiB" >&2
fi

bash scripts/setup.sh
# chromium and Playwright for the browser tests of apitap ui (tests/tests/ui.rs); they skip
# loudly when these cannot be installed, so a failure here does not stop the suite.
bash scripts/setup-ui.sh || echo "setup-ui: the browser tests will be skipped"

echo "== format"
cargo fmt --all -- --check
echo "== scripts"
# Syntax of every script, including the ones the suite does not run (bench, PGO build).
for f in scripts/*.sh scripts/lib/*.sh fuzz/run.sh; do bash -n "$f"; done
echo "== imports"
# No import circles between source files (docs/architecture.md, "Layout and conventions").
python3 scripts/import-cycles.py
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== docs"
# Broken or private intra-doc links fail the run: the API docs stay current.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q
echo "== build"
cargo build --workspace --all-targets --locked
echo "== kafka broker"
# A tansu broker (in-memory) on a free loopback port for tests/tests/kafka.rs; the outage
# tests start brokers of their own with the same script.
bash scripts/kafka.sh install
kafka_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
APITAP_KAFKA_STATE="$(mktemp -d)"
export APITAP_KAFKA_STATE
trap 'bash scripts/kafka.sh stop; rm -rf "$APITAP_KAFKA_STATE"' EXIT
bash scripts/kafka.sh start "$kafka_port"
export APITAP_TEST_KAFKA="127.0.0.1:$kafka_port"
export APITAP_TEST_KAFKA_CTL="$PWD/scripts/kafka.sh"

echo "== test"
cargo test --workspace --locked
