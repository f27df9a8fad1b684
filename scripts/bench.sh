#!/usr/bin/env bash
# Replay benchmark: generates a large synthetic API-traffic pcap (cached) and measures
# single-threaded `apitap replay` throughput (its default; REPLAY_CMD with --workers N for the
# threaded pipeline): packets/s, Gbit/s, transactions/s, peak RSS.
# See docs/bench.md.
#
# Environment:
#   TRANSACTIONS   transactions in the generated pcap        (default 200000)
#   CONNECTIONS    concurrent keep-alive connections         (default 2000)
#   SEED           generator seed                            (default 1)
#   GEN_FLAGS      extra generator flags, e.g. "--vxlan"     (default none; changes the cache name)
#   RUNS           measured runs; the median is reported     (default 3)
#   APITAP_BIN     binary under test                         (default <target>/release/apitap)
#   REPLAY_CMD     command template; {bin} {pcap} {out} are substituted
#                  (default "{bin} replay {pcap} --output {out}")
#   APITAP_CONFIG  config file passed with --config, e.g. fixtures/core.toml for the core
#                  pipeline without sessions (default: none, sessions on with defaults)
#   CHECK_RECORDS  1: one extra run with --output FILE and count its lines (default 1)
#   SKIP_BUILD     1: do not run cargo build
#   PGO            1: measure the profile-guided build (scripts/build-pgo.sh, built unless
#                  SKIP_BUILD=1) instead of the plain release build        (default 0)
#   TARGET_PPS     packets/s target                          (default 1500000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TRANSACTIONS="${TRANSACTIONS:-200000}"
CONNECTIONS="${CONNECTIONS:-2000}"
SEED="${SEED:-1}"
GEN_FLAGS="${GEN_FLAGS:-}"
RUNS="${RUNS:-3}"
CHECK_RECORDS="${CHECK_RECORDS:-1}"
TARGET_PPS="${TARGET_PPS:-1500000}"
APITAP_CONFIG="${APITAP_CONFIG:-}"
REPLAY_CMD="${REPLAY_CMD:-"{bin} replay {pcap} --output {out}${APITAP_CONFIG:+ --config $APITAP_CONFIG}"}"
PGO="${PGO:-0}"
GEN_BIN="$TARGET_DIR/release/apitap-gen-traffic"
if [[ "$PGO" == 1 ]]; then
    APITAP="${APITAP_BIN:-$TARGET_DIR/pgo/release/apitap}"
else
    APITAP="${APITAP_BIN:-$TARGET_DIR/release/apitap}"
fi

log() { printf '%s\n' "$*" >&2; }
die() { log "bench.sh: $*"; exit 1; }

# --- build -----------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    packages=(-p apitap-bench)
    [[ -z "${APITAP_BIN:-}" && "$PGO" != 1 ]] && packages+=(-p apitap)
    log "building (release): ${packages[*]}"
    (cd "$ROOT" && cargo build --release --quiet "${packages[@]}")
    if [[ -z "${APITAP_BIN:-}" && "$PGO" == 1 ]]; then
        log "building the profile-guided apitap (scripts/build-pgo.sh)"
        CARGO_TARGET_DIR="$TARGET_DIR" "$ROOT/scripts/build-pgo.sh"
    fi
fi
[[ -x "$GEN_BIN" ]] || die "generator not found at $GEN_BIN (build with: cargo build --release -p apitap-bench)"
[[ "$REPLAY_CMD" != *"{bin}"* || -x "$APITAP" ]] || die "apitap binary not found at $APITAP (set APITAP_BIN)"
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time for peak-RSS measurement"
    apt-get install -y -qq time >/dev/null || die "GNU time (/usr/bin/time) is required: apt-get install time"
fi

# --- the pcap (cached) -----------------------------------------------------------------------
name="api-$((TRANSACTIONS / 1000))k"
[[ "$CONNECTIONS" != 2000 || "$SEED" != 1 ]] && name+="-c$CONNECTIONS-s$SEED"
[[ -n "$GEN_FLAGS" ]] && name+="-$(printf '%s' "$GEN_FLAGS" | tr -c 'A-Za-z0-9.=' '_' | tr -s '_')"
PCAP="$TARGET_DIR/bench/$name.pcap"
SIDECAR="$PCAP.json"
mkdir -p "$TARGET_DIR/bench"
if [[ ! -s "$PCAP" || ! -s "$SIDECAR" || "$GEN_BIN" -nt "$PCAP" ]]; then
    log "generating $PCAP"
    # shellcheck disable=SC2086  # GEN_FLAGS is a list of flags
    "$GEN_BIN" --out "$PCAP" --transactions "$TRANSACTIONS" --connections "$CONNECTIONS" \
        --seed "$SEED" $GEN_FLAGS
else
    log "using cached $PCAP"
fi
json_field() { sed -n "s/^ *\"$1\": *\([0-9]*\),\?$/\1/p" "$SIDECAR"; }
PACKETS="$(json_field packets)"
WIRE_BYTES="$(json_field wire_bytes)"
TXNS="$(json_field transactions)"
[[ -n "$PACKETS" && -n "$WIRE_BYTES" && -n "$TXNS" ]] || die "cannot read counts from $SIDECAR"

# --- runs ------------------------------------------------------------------------------------
replay_cmd() { # $1 = output path
    local c="$REPLAY_CMD"
    c="${c//\{bin\}/$APITAP}"; c="${c//\{pcap\}/$PCAP}"; c="${c//\{out\}/$1}"
    printf '%s' "$c"
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Warm the page cache so the first run does not measure the disk.
cat "$PCAP" >/dev/null

results=()
for i in $(seq 1 "$RUNS"); do
    cmd="$(replay_cmd /dev/null)"
    start=$(date +%s%N)
    # shellcheck disable=SC2086  # the command template is split into words on purpose
    /usr/bin/time -v -o "$tmp/time.$i" $cmd >"$tmp/stdout.$i" 2>"$tmp/stderr.$i" \
        || { cat "$tmp/stderr.$i" >&2; die "run $i failed: $cmd"; }
    end=$(date +%s%N)
    rss_kb="$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$tmp/time.$i")"
    elapsed_ns=$((end - start))
    results+=("$elapsed_ns $rss_kb")
    log "run $i: $(awk -v ns="$elapsed_ns" 'BEGIN{printf "%.3f s", ns/1e9}'), peak RSS ${rss_kb} KiB"
done

records=""
if [[ "$CHECK_RECORDS" == 1 ]]; then
    cmd="$(replay_cmd "$tmp/records.jsonl")"
    # shellcheck disable=SC2086
    if $cmd >/dev/null 2>"$tmp/stderr.records"; then
        records="$(wc -l <"$tmp/records.jsonl" 2>/dev/null || echo 0)"
    else
        records="failed (see: $cmd)"
    fi
fi

# --- report ----------------------------------------------------------------------------------
cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
[[ -n "$cpu" ]] || cpu="$(uname -m)"
printf '%s\n' "${results[@]}" | awk \
    -v packets="$PACKETS" -v bytes="$WIRE_BYTES" -v txns="$TXNS" -v target="$TARGET_PPS" \
    -v pcap="$PCAP" -v cmd="$(replay_cmd /dev/null)" -v nproc="$(nproc)" -v cpu="$cpu" \
    -v kernel="$(uname -r)" -v rustc="$(rustc --version 2>/dev/null || echo unknown)" \
    -v rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)" \
    -v records="$records" '
function sort(a, n,    i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function median(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function row(label, a, n, fmt, scale,    m) {
    sort(a, n); m = median(a, n)
    printf "%-16s " fmt "  (min " fmt ", max " fmt ", spread %.1f%%)\n", label, m / scale, a[1] / scale, a[n] / scale, m ? 100 * (a[n] - a[1]) / m : 0
    return m
}
{ n++; s = $1 / 1e9; secs[n] = s; pps[n] = packets / s; gbps[n] = bytes * 8 / s / 1e9; tps[n] = txns / s; rss[n] = $2 }
END {
    printf "machine:         %s cores, %s, Linux %s, %s, rev %s\n", nproc, cpu, kernel, rustc, rev
    printf "pcap:            %s\n", pcap
    printf "                 %d packets, %.1f MB on the wire, %d transactions\n", packets, bytes / 1e6, txns
    printf "command:         %s   (%d runs, median)\n", cmd, n
    row("elapsed", secs, n, "%8.3f s", 1)
    m = row("packets/s", pps, n, "%8.3f M", 1e6)
    row("Gbit/s", gbps, n, "%8.3f", 1)
    row("transactions/s", tps, n, "%8.1f k", 1e3)
    row("peak RSS", rss, n, "%8.1f MiB", 1024)
    if (records != "") printf "records:         %s exported with --output FILE (generator: %d transactions)\n", records, txns
    printf "target:          %.2f M packets/s: %s\n", target / 1e6, (m >= target ? "MET" : "NOT MET")
}'
