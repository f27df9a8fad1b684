#!/usr/bin/env bash
# What sessionization costs: the replay benchmark's capture replayed with sessions off
# (fixtures/core.toml) and on (defaults), ROUNDS times, each sessions run between two core
# runs. Each round's sessions time is divided by the mean of the two core runs around it, so
# a machine that slows down for a while (even steadily, within the round) slows both sides of
# the ratio; the median ratio gives the cost, 1 - core/sessions (the throughput lost), with
# its quartiles. The two core runs of a round, divided by each other, give the machine's
# noise in the same units (the "control"). CPU time (user + system, /usr/bin/time) is
# reported the same way: with worker threads, sessions can cost little throughput and still
# a share of the CPU. The verdict reads the median's 95 % confidence interval (order
# statistics, no assumption on the noise's shape): MET when the whole interval is at or
# under the target, NOT MET when it is all above, AT THE LINE otherwise.
#
# With APITAP_BASELINE_BIN, each round also replays with sessions on through that binary,
# next to the one under test (in turn first and second), and the report adds the two
# sessions times' median ratio with its interval: the way to compare two revisions, where
# medians taken in separate series differ by more than most changes do. See docs/bench.md.
#
# Environment (the capture's settings and the build are bench.sh's, see there):
#   ROUNDS         core/sessions/core rounds                (default 41: a run takes
#                  under a second, and the median's interval narrows as 1/sqrt(ROUNDS))
#   REPLAY_ARGS    extra replay flags for every run, e.g. "--workers 1"   (default none:
#                  replay's default, one thread)
#   APITAP_BIN     binary under test                        (default <target>/release/apitap)
#   APITAP_BASELINE_BIN  binary to compare it with, sessions on  (default none)
#   SKIP_BUILD     1: do not build (the capture is still generated if missing)
#   TARGET_COST    cost target in percent                   (default 25)
#   OFF_CONFIG     config of the runs without the feature   (default fixtures/core.toml)
#   ON_CONFIG      config of the runs with it               (default none: the defaults)
#   FEATURE        its name in the report                   (default sessions)
# scripts/bench-behaviours.sh sets the last three to measure the behaviours stage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ROUNDS="${ROUNDS:-41}"
REPLAY_ARGS="${REPLAY_ARGS:-}"
TARGET_COST="${TARGET_COST:-25}"
APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
BASELINE="${APITAP_BASELINE_BIN:-}"
OFF_CONFIG="${OFF_CONFIG:-$ROOT/fixtures/core.toml}"
ON_CONFIG="${ON_CONFIG:-}"
FEATURE="${FEATURE:-sessions}"
on_args=()
[[ -n "$ON_CONFIG" ]] && on_args=(--config "$ON_CONFIG")

log() { printf '%s\n' "$*" >&2; }
die() { log "bench-sessions.sh: $*"; exit 1; }

# Build and generate the capture through bench.sh (one short run); its report names the file.
report="$(RUNS=1 CHECK_RECORDS=0 "$ROOT/scripts/bench.sh")" \
    || die "scripts/bench.sh could not build or generate the capture"
PCAP="$(printf '%s\n' "$report" | sed -n 's/^pcap: *//p')"
[[ -s "$PCAP" ]] || die "capture not found (bench.sh reported: ${PCAP:-nothing})"
[[ -x "$APITAP" ]] || die "apitap binary not found at $APITAP (set APITAP_BIN)"
[[ -z "$BASELINE" || -x "$BASELINE" ]] || die "baseline binary not found at $BASELINE"

# A fixed secret: a generated one would print a warning on every run.
export APITAP_SESSION_SECRET="${APITAP_SESSION_SECRET:-bench-sessions-secret-0123456789}"
cat "$PCAP" >/dev/null

[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (scripts/setup.sh installs the time package)"
cpu_file="$(mktemp)"
trap 'rm -f "$cpu_file"' EXIT
# shellcheck source-path=SCRIPTDIR source=lib/replay.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/replay.sh"

secs() { awk -v n="$1" 'BEGIN{printf "%.3f", n/1e9}'; }
rounds=()
for i in $(seq 1 "$ROUNDS"); do
    read -r core core_cpu < <(timed_replay "$APITAP" --config "$OFF_CONFIG")
    base=""
    # The baseline's run goes first in odd rounds and second in even ones.
    if [[ -n "$BASELINE" ]] && ((i % 2)); then read -r base _ < <(timed_replay "$BASELINE" "${on_args[@]}"); fi
    read -r sessions sessions_cpu < <(timed_replay "$APITAP" "${on_args[@]}")
    if [[ -n "$BASELINE" ]] && ! ((i % 2)); then read -r base _ < <(timed_replay "$BASELINE" "${on_args[@]}"); fi
    read -r core_after core_after_cpu < <(timed_replay "$APITAP" --config "$OFF_CONFIG")
    rounds+=("$core $sessions $core_after $core_cpu $sessions_cpu $core_after_cpu $base")
    log "round $i: off $(secs "$core") s, $FEATURE $(secs "$sessions") s, off $(secs "$core_after") s (CPU $core_cpu, $sessions_cpu, $core_after_cpu s)${base:+, baseline $(secs "$base") s}"
done

printf '%s\n' "${rounds[@]}" | awk -v target="$TARGET_COST" -v pcap="$PCAP" -v feature="$FEATURE" \
    -v off="$(basename "$OFF_CONFIG")" \
    -v args="$REPLAY_ARGS" -v bin="$APITAP" -v nproc="$(nproc)" \
    -v rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)" '
function sort(a, n,    i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function q(a, n, p,    k) { k = 1 + p * (n - 1); return a[int(k)] + (k - int(k)) * (a[int(k) + (k > int(k))] - a[int(k)]) }
function cost(r) { return 100 * (1 - 1 / r) }
# Ranks of a distribution-free 95 % confidence interval for the median of n sorted values
# (normal approximation to the binomial: n/2 -+ 1.96 sqrt(n)/2).
function ci_lo(n,    k) { k = int(n / 2 - 0.98 * sqrt(n)); return k < 1 ? 1 : k }
function ci_hi(n,    k) { k = int(n / 2 + 1 + 0.98 * sqrt(n) + 0.999999); return k > n ? n : k }
# The exact probability that the median lies between the values at ranks j and k (binomial
# with p = 1/2): about 95 % from a dozen rounds on, less below.
function coverage(n, j, k,    i, b, c) { b = 2 ^ -n; for (i = 0; i < k; i++) { if (i >= j) c += b; b = b * (n - i) / (i + 1) } return 100 * c }
{ n++; c = ($1 + $3) / 2; core[n] = c / 1e9; sess[n] = $2 / 1e9; ratio[n] = $2 / c; control[n] = $3 / $1
  cc = ($4 + $6) / 2; ccpu[n] = cc; scpu[n] = $5; cratio[n] = (cc > 0 ? $5 / cc : 1)
  if (NF >= 7) { nb++; bratio[nb] = $2 / $7 } }
END {
    sort(core, n); sort(sess, n); sort(ratio, n); sort(control, n); sort(ccpu, n); sort(scpu, n); sort(cratio, n)
    printf "binary:          %s (rev %s, %s cores)\n", bin, rev, nproc
    printf "pcap:            %s\n", pcap
    printf "replay flags:    %s\n", (args == "" ? "(none: single-threaded)" : args)
    printf "feature:         %s, against %s\n", feature, off
    printf "off elapsed:     %.3f s median of round means (min %.3f)\n", q(core, n, 0.5), core[1]
    printf "%-16s %.3f s median (min %.3f)\n", feature ":", q(sess, n, 0.5), sess[1]
    printf "on/off:          %.3f median of %d rounds (quartiles %.3f - %.3f)\n", q(ratio, n, 0.5), n, q(ratio, n, 0.25), q(ratio, n, 0.75)
    m = cost(q(ratio, n, 0.5)); lo = cost(ratio[ci_lo(n)]); hi = cost(ratio[ci_hi(n)])
    printf "%s cost: %.1f %% of throughput (quartiles %.1f - %.1f %%)\n", feature, m, cost(q(ratio, n, 0.25)), cost(q(ratio, n, 0.75))
    printf "median, 95%% CI: %.1f - %.1f %% (ranks %d and %d of %d rounds: coverage %.1f %%)\n", lo, hi, ci_lo(n), ci_hi(n), n, coverage(n, ci_lo(n), ci_hi(n))
    printf "CPU (user+sys):  off %.2f s, on %.2f s (medians): %.1f %% of the CPU goes to %s (quartiles %.1f - %.1f %%)\n", q(ccpu, n, 0.5), q(scpu, n, 0.5), cost(q(cratio, n, 0.5)), feature, cost(q(cratio, n, 0.25)), cost(q(cratio, n, 0.75))
    printf "control:         off/off %.3f median (quartiles %.3f - %.3f): the noise, as a cost %.1f - %.1f %%\n", q(control, n, 0.5), q(control, n, 0.25), q(control, n, 0.75), cost(q(control, n, 0.25)), cost(q(control, n, 0.75))
    if (nb > 0) {
        sort(bratio, nb)
        printf "vs baseline:     on time %.3f x the baseline (median of %d rounds, 95%% CI %.3f - %.3f)\n", q(bratio, nb, 0.5), nb, bratio[ci_lo(nb)], bratio[ci_hi(nb)]
    }
    printf "target:          <= %s %%: %s\n", target, (hi <= target ? "MET" : (lo > target ? "NOT MET" : "AT THE LINE"))
}'
