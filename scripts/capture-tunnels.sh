#!/usr/bin/env bash
# Regenerate fixtures/tunnels/: real HTTP carried by tunnels the Linux kernel makes.
#
# For each case, two network namespaces (client and server) are joined by a veth pair (the
# underlay, 10.200.0.0/24 or fd00:200::/64); a tunnel device in each carries the overlay
# (10.201.0.0/24 or fd00:201::/64). scripts/tunnel_server.py serves on the server's overlay
# address, curl makes a few requests, and tcpdump in the server namespace records
#   <case>-outer.pcap   the underlay (what a mirror or a sensor on the wire sees), and
#   <case>-inner.pcap   the tunnel device (the same traffic, decapsulated by the kernel).
# tests/tests/tunnels.rs checks that apitap finds the same transactions in both.
#
# Cases whose device type the running kernel lacks (no CONFIG_GENEVE, CONFIG_NET_IPGRE...)
# are skipped with a message; the others are rewritten. Idempotent: the namespaces are
# deleted first and on exit, even on failure. Only addresses inside the namespaces it creates
# are used; nothing is sent to a real network. Needs root, iproute2, tcpdump, curl, python3.
#
# Usage: scripts/capture-tunnels.sh [CASE...]    (default: every case)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT_DIR:-$ROOT/fixtures/tunnels}" # OUT_DIR=/tmp/x: a trial run, fixtures/ untouched
SERVER="$ROOT/scripts/tunnel_server.py"
C=apitap-tcap-client
S=apitap-tcap-server
PORT=8080
ALL_CASES=(vxlan vxlan6 vxlan-nested vxlan-frag geneve gretap erspan2 erspan3)

log() { printf 'capture-tunnels: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for t in ip tcpdump curl python3; do command -v "$t" >/dev/null || die "$t not found"; done

PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
    PIDS=()
    ip netns del "$C" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

inc() { ip netns exec "$C" "$@"; }
ins() { ip netns exec "$S" "$@"; }

# Client and server namespaces joined by veth; $1 = 4 or 6 (underlay family).
underlay() {
    cleanup
    ip netns add "$C"
    ip netns add "$S"
    ip link add ul-c netns "$C" type veth peer name ul-s netns "$S"
    for ns in "$C" "$S"; do ip -n "$ns" link set lo up; done
    ip -n "$C" link set ul-c up
    ip -n "$S" link set ul-s up
    if [[ $1 == 6 ]]; then
        ip -n "$C" addr add fd00:200::1/64 dev ul-c nodad
        ip -n "$S" addr add fd00:200::2/64 dev ul-s nodad
    else
        ip -n "$C" addr add 10.200.0.1/24 dev ul-c
        ip -n "$S" addr add 10.200.0.2/24 dev ul-s
    fi
}

# A tunnel device named $2 in namespace $1: the remaining args are `ip link add` type args.
# Returns 2 when the kernel does not know the device type.
tunnel_dev() {
    local ns=$1 name=$2
    shift 2
    local err
    if ! err="$(ip -n "$ns" link add "$name" "$@" 2>&1)"; then
        if [[ $err == *"Unknown device type"* || $err == *"not supported"* ]]; then
            return 2
        fi
        die "ip link add $name $*: $err"
    fi
    ip -n "$ns" link set "$name" up
}

# Overlay addresses on device $1 in both namespaces; $2 = 4 or 6.
overlay() {
    if [[ $2 == 6 ]]; then
        ip -n "$C" addr add fd00:201::1/64 dev "$1" nodad
        ip -n "$S" addr add fd00:201::2/64 dev "$1" nodad
    else
        ip -n "$C" addr add 10.201.0.1/24 dev "$1"
        ip -n "$S" addr add 10.201.0.2/24 dev "$1"
    fi
}

# Serve, capture $1 (underlay dev) and $2 (tunnel dev) in the server namespace, make the
# requests to $3 (a URL host), stop; write $4-outer.pcap and $4-inner.pcap. $5: "big" adds
# requests whose frames overflow a 1500-byte underlay.
run_http() {
    local ul=$1 tun=$2 host=$3 name=$4 big=${5:-}
    local tmp
    tmp="$(mktemp -d)"
    local bind=${host#[}
    bind=${bind%]}
    # `ip netns exec` execs the command, so $! is the server's or tcpdump's own pid.
    ip netns exec "$S" python3 "$SERVER" "$bind" "$PORT" &
    PIDS+=($!)
    ip netns exec "$S" tcpdump -i "$ul" -s 0 -U -w "$tmp/outer.pcap" 2>/dev/null &
    PIDS+=($!)
    ip netns exec "$S" tcpdump -i "$tun" -s 0 -U -w "$tmp/inner.pcap" 2>/dev/null &
    PIDS+=($!)
    for _ in $(seq 50); do
        ins python3 -c "import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET); s.settimeout(0.2); s.connect((sys.argv[1], $PORT))" "$bind" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1 # tcpdump attached
    local base="http://$host:$PORT"
    # Keep-alive: two GETs on one connection; then a POST, a 404.
    inc curl -sS --max-time 10 -o /dev/null -o /dev/null "$base/api/items?id=1" "$base/api/items?id=2"
    inc curl -sS --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
        -d '{"name":"widget","qty":3}' "$base/api/items"
    inc curl -sS --max-time 10 -o /dev/null "$base/missing"
    if [[ -n $big ]]; then
        inc curl -sS --max-time 10 -o /dev/null "$base/big"
        inc curl -sS --max-time 10 -o /dev/null -H 'Content-Type: text/plain' \
            --data-binary "@-" "$base/api/upload" < <(head -c 3000 /dev/zero | tr '\0' 'y')
    fi
    sleep 1
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait "${PIDS[@]}" 2>/dev/null || true
    PIDS=()
    mv "$tmp/outer.pcap" "$OUT/$name-outer.pcap"
    mv "$tmp/inner.pcap" "$OUT/$name-inner.pcap"
    rm -rf "$tmp"
    log "$name: $(stat -c %s "$OUT/$name-outer.pcap") + $(stat -c %s "$OUT/$name-inner.pcap") bytes"
}

# One case; returns 2 when the kernel cannot make it.
capture_case() {
    case $1 in
    vxlan) # AWS/Azure mirror style: VXLAN over IPv4, VNI 42, port 4789.
        underlay 4
        tunnel_dev "$C" vx0 type vxlan id 42 local 10.200.0.1 remote 10.200.0.2 dstport 4789 dev ul-c || return
        tunnel_dev "$S" vx0 type vxlan id 42 local 10.200.0.2 remote 10.200.0.1 dstport 4789 dev ul-s || return
        overlay vx0 4
        run_http ul-s vx0 10.201.0.2 vxlan ;;
    vxlan6) # VXLAN over an IPv6 underlay carrying IPv6, VNI 43.
        underlay 6
        tunnel_dev "$C" vx0 type vxlan id 43 local fd00:200::1 remote fd00:200::2 dstport 4789 dev ul-c || return
        tunnel_dev "$S" vx0 type vxlan id 43 local fd00:200::2 remote fd00:200::1 dstport 4789 dev ul-s || return
        overlay vx0 6
        run_http ul-s vx0 '[fd00:201::2]' vxlan6 ;;
    vxlan-nested) # VXLAN (VNI 51) inside VXLAN (VNI 50): two layers.
        underlay 4
        tunnel_dev "$C" vxo type vxlan id 50 local 10.200.0.1 remote 10.200.0.2 dstport 4789 dev ul-c || return
        tunnel_dev "$S" vxo type vxlan id 50 local 10.200.0.2 remote 10.200.0.1 dstport 4789 dev ul-s || return
        ip -n "$C" addr add 10.202.0.1/24 dev vxo
        ip -n "$S" addr add 10.202.0.2/24 dev vxo
        tunnel_dev "$C" vxi type vxlan id 51 local 10.202.0.1 remote 10.202.0.2 dstport 4789 dev vxo || return
        tunnel_dev "$S" vxi type vxlan id 51 local 10.202.0.2 remote 10.202.0.1 dstport 4789 dev vxo || return
        overlay vxi 4
        run_http ul-s vxi 10.201.0.2 vxlan-nested ;;
    vxlan-frag) # Tunnel MTU 1500 over a 1500-byte underlay (no `dev`, so the MTU is not capped
        # at 1450): the kernel fragments the outer packets of full-size frames.
        underlay 4
        tunnel_dev "$C" vx0 mtu 1500 type vxlan id 44 local 10.200.0.1 remote 10.200.0.2 dstport 4789 || return
        tunnel_dev "$S" vx0 mtu 1500 type vxlan id 44 local 10.200.0.2 remote 10.200.0.1 dstport 4789 || return
        overlay vx0 4
        run_http ul-s vx0 10.201.0.2 vxlan-frag big ;;
    geneve) # AWS GWLB style: GENEVE, VNI 45, port 6081.
        underlay 4
        tunnel_dev "$C" gn0 type geneve id 45 remote 10.200.0.2 || return
        tunnel_dev "$S" gn0 type geneve id 45 remote 10.200.0.1 || return
        overlay gn0 4
        run_http ul-s gn0 10.201.0.2 geneve ;;
    gretap) # GRE with transparent Ethernet bridging, key 46.
        underlay 4
        tunnel_dev "$C" gt0 type gretap local 10.200.0.1 remote 10.200.0.2 key 46 || return
        tunnel_dev "$S" gt0 type gretap local 10.200.0.2 remote 10.200.0.1 key 46 || return
        overlay gt0 4
        run_http ul-s gt0 10.201.0.2 gretap ;;
    erspan2) # ERSPAN type II (Linux erspan_ver 1), session 47.
        underlay 4
        tunnel_dev "$C" es0 type erspan local 10.200.0.1 remote 10.200.0.2 seq key 47 erspan_ver 1 erspan 47 || return
        tunnel_dev "$S" es0 type erspan local 10.200.0.2 remote 10.200.0.1 seq key 47 erspan_ver 1 erspan 47 || return
        overlay es0 4
        run_http ul-s es0 10.201.0.2 erspan2 ;;
    erspan3) # ERSPAN type III (Linux erspan_ver 2), session 48.
        underlay 4
        tunnel_dev "$C" es0 type erspan local 10.200.0.1 remote 10.200.0.2 seq key 48 erspan_ver 2 erspan_dir ingress erspan_hwid 7 || return
        tunnel_dev "$S" es0 type erspan local 10.200.0.2 remote 10.200.0.1 seq key 48 erspan_ver 2 erspan_dir ingress erspan_hwid 7 || return
        overlay es0 4
        run_http ul-s es0 10.201.0.2 erspan3 ;;
    *) die "unknown case $1 (cases: ${ALL_CASES[*]})" ;;
    esac
}

mkdir -p "$OUT"
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=("${ALL_CASES[@]}")
for c in "${cases[@]}"; do
    rc=0
    capture_case "$c" || rc=$?
    if [[ $rc == 2 ]]; then
        log "SKIPPED $c: this kernel cannot make the device (module not built); its pcaps are unchanged"
    elif [[ $rc != 0 ]]; then
        die "$c failed ($rc)"
    fi
    cleanup
done
