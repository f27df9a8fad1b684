# shellcheck shell=bash
# What the fixture capture scripts (scripts/capture-*.sh) share: sourced, never run.
#
#   set -euo pipefail
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/capture.sh"
#   capture_init capture-journeys      # log prefix, $WORK, the exit trap
#   capture_out_dir fixtures/sessions  # $OUT_DIR: the environment's, or this default
#   require_root
#   ensure_tools tcpdump python3 tshark
#
# A capture script then keeps only what is its own: its servers (start_server), its workload
# between capture_start and capture_stop, its truth file and its checks, and install_files.
#
# Sets: SCRIPT_DIR (scripts/), REPO_DIR, APPS_DIR (tests/apps), HOST (127.0.0.1), WORK (a
# private temp dir, deleted at exit), OUT_DIR, SERVER_PID (the last start_server), TCPDUMP_PID.
# At exit, whatever way the script ends, every process started here is stopped (last started
# first), then the script's own cleanup_hook runs if it defines one (daemons the library did
# not start: nginx, PostgreSQL), then $WORK is deleted.

CAPTURE_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_DIR="$(cd "$CAPTURE_LIB_DIR/.." && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
APPS_DIR="$REPO_DIR/tests/apps"
HOST=127.0.0.1
CAPTURE_NAME="$(basename "$0" .sh)"
CAPTURE_PIDS=()
WORK=""
SERVER_PID=""
TCPDUMP_PID=""
TCPDUMP_ERR=""

log() { printf '[%s] %s\n' "$CAPTURE_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# capture_init NAME: log as NAME, make $WORK (/tmp/apitap-NAME.XXXXXX, readable by the tcpdump
# and postgres users) and install the exit trap.
capture_init() {
    CAPTURE_NAME="$1"
    WORK="$(mktemp -d "/tmp/apitap-${1#capture-}.XXXXXX")"
    chmod 755 "$WORK"
    trap capture_cleanup EXIT
}

capture_cleanup() {
    local i
    for ((i = ${#CAPTURE_PIDS[@]} - 1; i >= 0; i--)); do
        kill "${CAPTURE_PIDS[$i]}" 2>/dev/null || true
        wait "${CAPTURE_PIDS[$i]}" 2>/dev/null || true
    done
    CAPTURE_PIDS=()
    if declare -F cleanup_hook >/dev/null; then cleanup_hook || true; fi
    [ -z "$WORK" ] || rm -rf "$WORK"
}

# capture_out_dir DEFAULT: OUT_DIR from the environment (for a trial run into a temp dir), else
# $REPO_DIR/DEFAULT; created, and made absolute (some steps run in another directory).
capture_out_dir() {
    OUT_DIR="${OUT_DIR:-$REPO_DIR/$1}"
    mkdir -p "$OUT_DIR"
    OUT_DIR="$(cd "$OUT_DIR" && pwd)"
}

# require_root: tcpdump on lo needs root.
require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (tcpdump on lo)"
}

# tool_path NAME: NAME on the PATH, else /usr/sbin/NAME (not on a plain user's PATH).
tool_path() {
    command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

# ensure_tools SPEC...: apt-get install what is missing, non-interactively; idempotent. SPEC is
# a command, or COMMAND:PACKAGE[,PACKAGE...] when the Debian package has another name
# (nginx:nginx-light, nghttp:nghttp2-client).
ensure_tools() {
    local spec cmd pkgs missing=()
    for spec in "$@"; do
        cmd="${spec%%:*}"
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] && continue
        if [ "$cmd" = "$spec" ]; then
            missing+=("$cmd")
        else
            IFS=, read -ra pkgs <<<"${spec#*:}"
            missing+=("${pkgs[@]}")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    log "installing: ${missing[*]}"
    # tshark's package asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # A fresh machine has no package lists yet: update once, only when the install fails.
    # Some releases ship only the full nginx package, not nginx-light: then take that.
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" || {
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" ||
            apt-get install -y -qq "${missing[@]/nginx-light/nginx}"
    }
}

# ensure_python_modules MODULE[:PIP_NAME]...: pip-install the Python modules python3 cannot
# import (on a Debian python3 that refuses pip without --break-system-packages, with it).
ensure_python_modules() {
    local spec mods=() pkgs=()
    for spec in "$@"; do
        mods+=("${spec%%:*}")
        pkgs+=("${spec#*:}")
    done
    python3 -c "import $(IFS=,; echo "${mods[*]}")" 2>/dev/null && return 0
    log "installing from PyPI: ${pkgs[*]}"
    python3 -m pip install --quiet "${pkgs[@]}" ||
        python3 -m pip install --quiet --break-system-packages "${pkgs[@]}"
}

# free_port: a TCP port nothing listens on now (the kernel's pick).
free_port() {
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_free PORT: true when PORT can be bound on $HOST (for fixed, overridable ports).
port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# wait_port PORT: wait up to 10 s until PORT accepts a connection on $HOST; false if it never does.
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("port %s did not open within 10 s" % sys.argv[1])
EOF
}

# track_pid PID: stop PID at exit unless stop_pid stopped it before.
track_pid() { CAPTURE_PIDS+=("$1"); }

# stop_pid PID [SIGNAL]: send SIGNAL (TERM) to PID, wait for it to end, forget it.
stop_pid() {
    local pid="$1" sig="${2:-TERM}" p keep=()
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in ${CAPTURE_PIDS[@]+"${CAPTURE_PIDS[@]}"}; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    CAPTURE_PIDS=(${keep[@]+"${keep[@]}"})
}

# start_server NAME PORT COMMAND...: run COMMAND in the background (its output in
# $WORK/NAME.log), stopped at exit; return once PORT accepts connections. Call it before
# capture_start, so that the readiness probe is not captured. Sets SERVER_PID.
start_server() {
    local name="$1" port="$2"
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    track_pid "$SERVER_PID"
    wait_port "$port" || die "$name did not start: $(cat "$WORK/$name.log")"
    log "$name on $HOST:$port (pid $SERVER_PID)"
}

# start_shop_server PORT [ARG...]: the test shop API (tests/apps/shop_server.py) on PORT.
start_shop_server() {
    local port="$1"
    shift
    start_server shop_server "$port" python3 "$APPS_DIR/shop_server.py" "$port" "$@"
}

# capture_start FILE PORT: tcpdump on lo writes the TCP traffic to and from PORT into FILE;
# returns once tcpdump says it is listening. One capture at a time; capture_stop ends it.
#
# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over only when a block
# retires, and packets still in the ring at SIGINT are lost (a short capture came out empty;
# see fixtures/local/README.md).
# -B 32768 (KiB): in immediate mode libpcap uses a TPACKET_V2 ring with one slot per packet,
# each slot sized for lo's 64 KiB MTU, so the default 2 MiB buffer holds ~30 packets; on a
# busy machine tcpdump fell behind and the kernel dropped 60 packets. 32 MiB holds ~500,
# more than a whole capture of these scripts.
# -Z root: keep the output file owned by root instead of the tcpdump user.
capture_start() {
    local file="$1" port="$2"
    TCPDUMP_ERR="$WORK/tcpdump.err"
    rm -f "$file" "$TCPDUMP_ERR"
    "$(tool_path tcpdump)" -i lo -U --immediate-mode -B 32768 -s 0 -n -Z root -w "$file" \
        "tcp port $port" 2>"$TCPDUMP_ERR" &
    TCPDUMP_PID=$!
    track_pid "$TCPDUMP_PID"
    for _ in $(seq 1 100); do
        if grep -q 'listening on' "$TCPDUMP_ERR" 2>/dev/null; then
            sleep 0.2 # the filter is attached before the message; a little slack
            return 0
        fi
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$TCPDUMP_ERR")"
        sleep 0.1
    done
    die "tcpdump did not start: $(cat "$TCPDUMP_ERR")"
}

# capture_stop: let the last FIN/ACKs arrive, stop tcpdump with SIGINT (it flushes), and fail
# if the kernel dropped a packet (the capture would lack part of the workload: rerun).
capture_stop() {
    sleep 0.5
    stop_pid "$TCPDUMP_PID" INT
    TCPDUMP_PID=""
    log "$(grep -E 'packets (captured|dropped by kernel)' "$TCPDUMP_ERR" | tr '\n' ' ')"
    grep -q '^0 packets dropped by kernel' "$TCPDUMP_ERR" ||
        die "tcpdump lost packets: $(grep 'dropped by kernel' "$TCPDUMP_ERR" || cat "$TCPDUMP_ERR"); rerun"
}

# check_pcap_size PCAP MAX_BYTES: fail when PCAP is not smaller than MAX_BYTES (a runaway
# workload, or a fixture too big to commit). Prints the size.
check_pcap_size() {
    local size
    size=$(stat -c %s "$1")
    [ "$size" -lt "$2" ] || die "$(basename "$1") is $size bytes, limit $2"
    echo "$size"
}

# json_value FILE KEY...: the value at FILE's KEY (KEY KEY... for a nested one).
json_value() {
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(v)' "$@"
}

# tshark_count PCAP FILTER [TSHARK_ARG...]: how many packets of PCAP match the display filter.
tshark_count() {
    local pcap="$1" filter="$2"
    shift 2
    tshark -r "$pcap" "$@" -Y "$filter" 2>/dev/null | wc -l
}

# check_http_counts PCAP PORT REQUESTS [CONNECTIONS]: tshark finds REQUESTS HTTP requests in
# PCAP and as many responses, and (when given) CONNECTIONS client SYNs.
check_http_counts() {
    local pcap="$1" port="$2" want_requests="$3" want_connections="${4:-}"
    # A non-standard port: tell tshark it is HTTP.
    local requests responses connections
    requests=$(tshark_count "$pcap" http.request -d "tcp.port==$port,http")
    responses=$(tshark_count "$pcap" http.response -d "tcp.port==$port,http")
    if [ -n "$want_connections" ]; then
        connections=$(tshark_count "$pcap" 'tcp.flags.syn==1 && tcp.flags.ack==0')
        log "tshark: $requests requests (expected $want_requests), $responses responses," \
            "$connections connections (expected $want_connections)"
    else
        log "tshark: $requests requests (expected $want_requests), $responses responses"
    fi
    [ "$requests" -eq "$want_requests" ] || die "request count mismatch"
    [ "$responses" -eq "$want_requests" ] || die "response count mismatch"
    [ -z "$want_connections" ] || [ "$connections" -eq "$want_connections" ] ||
        die "connection count mismatch"
}

# install_files DIR FILE...: move the checked FILEs into DIR under their own names, readable by
# everyone; only after the checks, so that the committed files always belong to one run.
install_files() {
    local dir="$1"
    shift
    mkdir -p "$dir"
    chmod 644 "$@"
    mv "$@" "$dir/"
}
