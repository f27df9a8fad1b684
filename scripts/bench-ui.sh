#!/usr/bin/env bash
# apitap ui's targets (issue 26, docs/ui.md "Figures"): ingest rate from JSON lines, p95 of the
# sessions list with each single filter and of a 1,000-transaction session's page on a store of
# about 1 M transactions, and that page in a real browser. Not a test: figures for docs/ui.md.
#
#   scripts/bench-ui.sh [SESSIONS]     # default 125000 sessions, about 1 M transactions
#
# Work files go to $BENCH_DIR (default a temporary directory, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

sessions="${1:-125000}"
dir="${BENCH_DIR:-$(mktemp -d)}"
keep="${BENCH_DIR:+1}"
mkdir -p "$dir"
cleanup() { [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null; [[ -z "$keep" ]] && rm -rf "$dir"; }
trap cleanup EXIT

bash scripts/setup-ui.sh >/dev/null || echo "bench-ui: no browser, the page timing is skipped"
cargo build --release -q -p apitap
bin="${CARGO_TARGET_DIR:-target}/release/apitap"

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared: figures vary with it)"
if [[ ! -s "$dir/records.jsonl" ]]; then
  echo "== generating $sessions sessions (scripts/ui_records.py --bulk)"
  python3 scripts/ui_records.py --bulk --sessions "$sessions" --long-session 1000 >"$dir/records.jsonl"
fi
echo "records: $(wc -l <"$dir/records.jsonl"), $(du -h "$dir/records.jsonl" | cut -f1)"

echo "== ingest (3 runs into a fresh store each; the rate is records/s of the whole command;"
echo "   CPU time over both threads is steadier than wall time on a shared machine)"
for run in 1 2 3; do
  rm -f "$dir"/ui.sqlite*
  /usr/bin/time -f "  %e s wall, %U s user, %S s sys" \
    "$bin" ui --ingest-only --db "$dir/ui.sqlite" --input "$dir/records.jsonl" 2>&1 | sed 's/; skipped.*//'
done
echo "store: $(du -h "$dir/ui.sqlite" | cut -f1)"

echo "== queries (the server on loopback; p50/p95 of 30 requests after a warm-up)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" ui --db "$dir/ui.sqlite" --listen "127.0.0.1:$port" -q &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
browser=""
python3 -c 'import playwright' 2>/dev/null && [[ -x /usr/bin/chromium ]] && browser="--browser"
python3 scripts/bench_ui.py --base "http://127.0.0.1:$port" --db "$dir/ui.sqlite" --runs 30 $browser
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
