#!/bin/sh
# Capture TCP Fast Open (RFC 7413) on loopback in a private network namespace:
# fixtures/tfo/curl-tfo.pcap. Root needed (unshare, sysctl, tcpdump).
#
# A Python server with TCP_FASTOPEN and curl --tcp-fastopen, net.ipv4.tcp_fastopen = 3 in the
# namespace: the first connection fetches a cookie, the next two carry their request in the
# SYN. See fixtures/tfo/README.md.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/fixtures/tfo/curl-tfo.pcap"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"
cat > "$WORK/server.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
s.bind(("127.0.0.1", 18095))
s.listen(16)
for _ in range(int(sys.argv[1])):
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            break
        data += d
    body = b"tfo ok\n"
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
PY
cat > "$WORK/run.sh" <<SH
set -e
ip link set lo up
sysctl -qw net.ipv4.tcp_fastopen=3
python3 "$WORK/server.py" 3 & SP=\$!
sleep 0.5
tcpdump -i lo -U --immediate-mode -s 0 -n -w "$OUT" 'tcp port 18095' 2>"$WORK/tcpdump.log" & TP=\$!
sleep 1
for p in first second third; do curl -s --tcp-fastopen "http://127.0.0.1:18095/\$p"; done
sleep 0.5
kill -INT \$TP; wait \$TP || true
wait \$SP || true
SH
unshare -n sh "$WORK/run.sh"
tshark -r "$OUT" -T fields -e frame.number -e tcp.flags.str -e tcp.len -e tcp.options.tfo.cookie -e http.request.uri
