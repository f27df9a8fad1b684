#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build once, run everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
cargo build --workspace --all-targets --locked
echo "== test"
cargo test --workspace --locked
