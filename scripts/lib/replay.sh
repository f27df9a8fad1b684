# shellcheck shell=bash
# What the replay timing scripts (bench-sessions.sh, bench-interleaved.sh) share: sourced,
# never run.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/replay.sh"
#   cpu_file="$(mktemp)"    # the caller's scratch file for /usr/bin/time, removed by its trap
#   read -r wall_ns cpu_s < <(timed_replay "$BIN" --config x.toml)
#
# Uses the caller's PCAP, REPLAY_ARGS, PIN_CPU, cpu_file and die.
#
# PIN_CPU (optional): the CPU number every replay runs on (`taskset -c`). On the 2-core VM
# an unpinned replay that the scheduler moved between cores varied 11.7 % (standard
# deviation of 8 runs) where a pinned one varied 5.0 % (docs/bench.md, Stop 34).

# One replay of $PCAP by binary $1 with the flags after it (and $REPLAY_ARGS), its records
# thrown away; prints the wall time in nanoseconds and the CPU time (user + system) in
# seconds.
# shellcheck disable=SC2154  # PCAP, REPLAY_ARGS and cpu_file are the caller's
timed_replay() {
    local bin="$1" start end pin=()
    shift
    [[ -n "${PIN_CPU:-}" ]] && pin=(taskset -c "$PIN_CPU")
    start=$(date +%s%N)
    # shellcheck disable=SC2086  # REPLAY_ARGS is a list of flags
    /usr/bin/time -f '%U %S' -o "$cpu_file" \
        "${pin[@]}" "$bin" replay "$PCAP" --output /dev/null -q $REPLAY_ARGS "$@" \
        || die "replay failed: $bin replay $PCAP $REPLAY_ARGS $*"
    end=$(date +%s%N)
    echo "$((end - start)) $(awk '{ printf "%.2f", $1 + $2 }' "$cpu_file")"
}
