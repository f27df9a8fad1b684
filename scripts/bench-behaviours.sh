#!/usr/bin/env bash
# What the behaviours stage costs: the replay benchmark's capture with sessions on and
# [behaviours] off (fixtures/behaviours-off.toml) around runs with the defaults (behaviours
# on), the same binary, ROUNDS rounds; target <= 10 % of throughput. Everything else
# (rounds, the interval, the verdict, APITAP_BIN, REPLAY_ARGS) is scripts/bench-sessions.sh's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OFF_CONFIG="$ROOT/fixtures/behaviours-off.toml" FEATURE=behaviours TARGET_COST="${TARGET_COST:-10}" \
    exec "$ROOT/scripts/bench-sessions.sh" "$@"
