#!/usr/bin/env python3
"""Crafted insertion-evasion captures (issue 21): fixtures/insertion/*.pcap.

    python3 scripts/make-insertion-captures.py      # scapy 2.x

One HTTP/1.1 exchange between 10.0.0.1:40000 and 10.0.0.2:80 over Ethernet: handshake, a
request in segments, a response, FIN both ways; TTL 64 and correct checksums (scapy computes
them) unless a variant says otherwise. The server answers the request it really received,
`GET /admin.html`; the variants show a sensor another copy first:

| file | what the sensor sees |
| --- | --- |
| ttl-first-copy.pcap | `GET /index.html` with TTL 1 (dies before the server), then the real `GET /admin.html` |
| bad-checksum-first-copy.pcap | `GET /index.html` with a wrong TCP checksum, then the real line |
| bad-checksum-buffered.pcap | the request's second segment early with a wrong checksum and other bytes, then the real one, then the first |
| overlap-delivered-first.pcap | the request line, then a copy overlapping it from byte 4 with other bytes |
| overlap-buffered-first.pcap | that overlapping copy first (out of order), then the request line |
| clean.pcap | the exchange alone |
"""

import pathlib

from scapy.all import IP, TCP, Ether, wrpcap

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures/insertion"
C, S = ("10.0.0.1", 40000), ("10.0.0.2", 80)
C_MAC, S_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
C_ISN, S_ISN = 1000, 5000
T0 = 1_700_000_000.0

LINE = b"GET /admin.html HTTP/1.1\r\n"
FAKE = b"GET /index.html HTTP/1.1\r\n"
REST = b"Host: shop.example\r\n\r\n"
FAKE_REST = b"Host: evil.example\r\n\r\n"
BODY = b"admin page\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


class Capture:
    def __init__(self):
        self.pkts = []
        self.t = T0

    def seg(self, up, seq, ack, flags, payload=b"", ttl=64, bad_checksum=False):
        (src, sport), (dst, dport) = (C, S) if up else (S, C)
        mac = (C_MAC, S_MAC) if up else (S_MAC, C_MAC)
        tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=65535)
        p = Ether(src=mac[0], dst=mac[1]) / IP(src=src, dst=dst, ttl=ttl) / tcp / payload
        p = Ether(bytes(p))  # checksums computed
        if bad_checksum:
            p[TCP].chksum ^= 0x5555
            p = Ether(bytes(p))
        self.t += 0.001
        p.time = self.t
        self.pkts.append(p)

    def up(self, off, payload, **kw):
        """Client data at request stream offset `off`."""
        self.seg(True, C_ISN + 1 + off, S_ISN + 1, "PA", payload, **kw)


def exchange(request):
    """A capture whose request part is written by `request(cap)`."""
    c = Capture()
    c.seg(True, C_ISN, 0, "S")
    c.seg(False, S_ISN, C_ISN + 1, "SA")
    c.seg(True, C_ISN + 1, S_ISN + 1, "A")
    request(c)
    n = len(LINE) + len(REST)
    c.seg(False, S_ISN + 1, C_ISN + 1 + n, "A")
    c.seg(False, S_ISN + 1, C_ISN + 1 + n, "PA", RESPONSE)
    c.seg(True, C_ISN + 1 + n, S_ISN + 1 + len(RESPONSE), "A")
    c.seg(True, C_ISN + 1 + n, S_ISN + 1 + len(RESPONSE), "FA")
    c.seg(False, S_ISN + 1 + len(RESPONSE), C_ISN + 2 + n, "FA")
    c.seg(True, C_ISN + 2 + n, S_ISN + 2 + len(RESPONSE), "A")
    return c.pkts


VARIANTS = {
    "clean": lambda c: (c.up(0, LINE), c.up(len(LINE), REST)),
    "ttl-first-copy": lambda c: (c.up(0, FAKE, ttl=1), c.up(0, LINE), c.up(len(LINE), REST)),
    "bad-checksum-first-copy": lambda c: (
        c.up(0, FAKE, bad_checksum=True),
        c.up(0, LINE),
        c.up(len(LINE), REST),
    ),
    "bad-checksum-buffered": lambda c: (
        c.up(len(LINE), FAKE_REST, bad_checksum=True),
        c.up(len(LINE), REST),
        c.up(0, LINE),
    ),
    "overlap-delivered-first": lambda c: (
        c.up(0, LINE),
        c.up(4, FAKE[4:] + REST[:4]),
        c.up(len(LINE), REST),
    ),
    "overlap-buffered-first": lambda c: (
        c.up(4, FAKE[4:] + REST[:4]),
        c.up(0, LINE),
        c.up(len(LINE), REST),
    ),
}


def main():
    assert len(FAKE) == len(LINE) and len(FAKE_REST) == len(REST)
    OUT.mkdir(exist_ok=True)
    for name, request in VARIANTS.items():
        wrpcap(str(OUT / f"{name}.pcap"), exchange(request))
        print(f"{name}.pcap")


if __name__ == "__main__":
    main()
