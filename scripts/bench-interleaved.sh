#!/usr/bin/env bash
# Interleaved replay timing of several variants (binary + config) on one capture, for a
# shared machine whose load varies: every round runs each variant once, in an order rotated
# by one each round, so that a slow minute slows all of them alike. Prints, per variant, the
# median wall time and CPU time (user + system) with their quartiles, and the median of each
# round's ratio to the first variant (the reference) with its quartiles and a 95 % bootstrap
# interval of that median. The load average is printed before and after. See docs/bench.md, "Figures (2026-12-06): the integrated build".
#
#   scripts/bench-interleaved.sh PCAP LABEL=BINARY[@CONFIG] ...
#   ROUNDS=15 scripts/bench-interleaved.sh target/bench/api-200k.pcap \
#       base=/tmp/apitap.base@fixtures/core.toml new=target/release/apitap@fixtures/core.toml
#
# Environment: ROUNDS (default 15), REPLAY_ARGS (extra replay flags, default none), PIN_CPU
# (run every replay on this CPU, `taskset -c`: steadier on a small VM; default unpinned).
# Needs /usr/bin/time (the time package) and python3.
set -euo pipefail

ROUNDS="${ROUNDS:-15}"
REPLAY_ARGS="${REPLAY_ARGS:-}"
die() { printf 'bench-interleaved.sh: %s\n' "$*" >&2; exit 1; }
(($# >= 2)) || die "usage: bench-interleaved.sh PCAP LABEL=BINARY[@CONFIG] ..."
PCAP="$1"
shift
[[ -s "$PCAP" ]] || die "capture not found: $PCAP"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
labels=() bins=() configs=()
for v in "$@"; do
    label="${v%%=*}" rest="${v#*=}"
    bin="${rest%%@*}" config=""
    [[ "$rest" == *@* ]] && config="${rest#*@}"
    [[ -x "$bin" ]] || die "binary not found: $bin"
    [[ -z "$config" || -s "$config" ]] || die "config not found: $config"
    labels+=("$label") bins+=("$bin") configs+=("$config")
done
n=${#labels[@]}

# A fixed secret: a generated one would print a warning on every run.
export APITAP_SESSION_SECRET="${APITAP_SESSION_SECRET:-bench-sessions-secret-0123456789}"
cat "$PCAP" >/dev/null
cpu_file="$(mktemp)" results="$(mktemp)"
trap 'rm -f "$cpu_file" "$results"' EXIT
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# shellcheck source-path=SCRIPTDIR source=lib/replay.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/replay.sh"
run() { # $1 = variant index; prints wall nanoseconds and CPU seconds
    local i="$1" args=()
    [[ -n "${configs[$i]}" ]] && args=(--config "${configs[$i]}")
    timed_replay "${bins[$i]}" "${args[@]}"
}

for r in $(seq 0 $((ROUNDS - 1))); do
    line=()
    for k in $(seq 0 $((n - 1))); do
        i=$(((r + k) % n))
        read -r wall cpu < <(run "$i")
        line+=("$i:$wall:$cpu")
    done
    echo "$r ${line[*]}" >>"$results"
    printf 'round %d/%d done\n' $((r + 1)) "$ROUNDS" >&2
done

python3 - "$results" "$PCAP" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "${labels[@]}" <<'PY'
import random, statistics, sys
path, pcap, load_before, load_after, labels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
n = len(labels)
wall = [[] for _ in labels]; cpu = [[] for _ in labels]
wratio = [[] for _ in labels]; cratio = [[] for _ in labels]
for line in open(path):
    w, c = {}, {}
    for item in line.split()[1:]:
        i, ns, s = item.split(":")
        w[int(i)] = int(ns) / 1e9; c[int(i)] = float(s)
    for i in range(n):
        wall[i].append(w[i]); cpu[i].append(c[i])
        wratio[i].append(w[i] / w[0]); cratio[i].append(c[i] / c[0] if c[0] > 0 else 1.0)
def q(xs):
    a, m, b = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
    return a, m, b
print(f"pcap: {pcap}; rounds: {len(wall[0])}; load average before {load_before}, after {load_after}")
print(f"{'variant':<22} {'wall s (quartiles)':<24} {'CPU s (quartiles)':<24} {'wall / ref':<22} {'CPU / ref':<22}")
for i, label in enumerate(labels):
    fmt = lambda t, d: f"{t[1]:.{d}f} ({t[0]:.{d}f}-{t[2]:.{d}f})"
    print(f"{label:<22} {fmt(q(wall[i]), 3):<24} {fmt(q(cpu[i]), 2):<24} "
          f"{fmt(q(wratio[i]), 3):<22} {fmt(q(cratio[i]), 3):<22}")
# How far the median of the rounds' ratios could be from the machine's: a 95 % interval by
# bootstrap (the rounds resampled with replacement, a fixed seed so that a rerun of the
# summary prints the same). The quartiles above say how much one round varies; this says
# how much the median does, which narrows as rounds are added.
rng = random.Random(1)
def interval(xs, resamples=2000):
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(resamples))
    return meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]
print("median of the rounds' wall ratios to the reference, 95 % bootstrap interval:")
for i, label in enumerate(labels[1:], start=1):
    lo, hi = interval(wratio[i])
    print(f"  {label:<22} {statistics.median(wratio[i]):.3f} ({lo:.3f}-{hi:.3f})")
PY
