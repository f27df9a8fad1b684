#!/bin/sh
# Build fixtures/pcapng/ from the loopback captures in fixtures/local/ and fixtures/tls/ with
# Wireshark's tools (editcap, mergecap); scripts/pcapng_tool.py writes what they cannot
# (a big-endian section, an overflowing timestamp resolution). See fixtures/pcapng/README.md.
set -eu
cd "$(dirname "$0")/.."
OUT=fixtures/pcapng
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# Interface 0 Ethernet, interface 1 raw IP: the Python exchange with its 14-byte Ethernet
# header chopped off and declared raw IP, merged with the nginx one.
editcap -C 14 -T rawip fixtures/local/python-pipelining.pcap "$TMP/python-rawip.pcap"
mergecap -F pcapng -w "$OUT/two-link-types.pcapng" fixtures/local/nginx-curl.pcap "$TMP/python-rawip.pcap"

# Two sections: the nginx exchange in a little-endian section, then the Python one in a
# big-endian section.
editcap -F pcapng fixtures/local/nginx-curl.pcap "$TMP/nginx.pcapng"
editcap -F pcapng fixtures/local/python-pipelining.pcap "$TMP/python.pcapng"
python3 scripts/pcapng_tool.py big-endian "$TMP/python.pcapng" "$TMP/python-be.pcapng"
cat "$TMP/nginx.pcapng" "$TMP/python-be.pcapng" > "$OUT/two-byte-orders.pcapng"

# Timestamps that overflow: the nginx exchange's microsecond ticks declared as seconds
# (if_tsresol = 0), about 1.7e21 microseconds after 1970.
python3 scripts/pcapng_tool.py tsresol 0 "$TMP/nginx.pcapng" "$OUT/overflowing-times.pcapng"

# A TLS 1.3 exchange with its key log in a Decryption Secrets Block.
editcap --inject-secrets tls,fixtures/tls/tls13-nosni-h1.keylog fixtures/tls/tls13-nosni-h1.pcap "$OUT/tls13-with-secrets.pcapng"

for f in "$OUT"/*.pcapng; do
  echo "$f: $(capinfos -c -M "$f" | sed -n 's/^Number of packets: *//p') packets"
done
