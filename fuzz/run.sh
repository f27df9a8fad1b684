#!/usr/bin/env bash
# Run one fuzz campaign: fuzz/run.sh <target> [seconds] [extra libFuzzer flags...]
# New inputs go to fuzz/corpus/<target>/ (ignored by git); the committed seeds in
# fuzz/seeds/<target>/ are read but never written. Crashes land in fuzz/artifacts/<target>/.
# See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh <decode|reassembly|http|http_parser|pipeline|websocket|tls_hello|h2_frames|hpack|inventory|detect> [seconds] [libFuzzer flags...]}
secs=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "corpus/$target"
exec cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 "$@"
