#!/usr/bin/env python3
"""Write a copy of a pcap (Ethernet, IPv4/TCP) with its larger TCP packets cut into IP fragments,
as a router on a small-MTU path would (RFC 791), optionally carried over IPv6 first (RFC 8200
fragment extension headers, which only the source may add).

    fragment-pcap.py IN.pcap OUT.pcap [--mtu 576] [--ipv6] [--reverse]

--mtu      largest IP packet after fragmentation (fragment payloads are multiples of 8 bytes)
--ipv6     rewrite every IPv4 packet as IPv6 first (2001:db8::<the IPv4 address>, hop limit from
           the TTL, TCP checksum recomputed over the IPv6 pseudo-header)
--reverse  write each datagram's fragments last first (reordering on the path)

Packets that fit are copied unchanged; fragments keep the original packet's timestamp plus one
microsecond per fragment. Python standard library only; the same input gives the same bytes.
"""

import argparse
import struct

ETH = 14
PCAP_HEADER = 24
RECORD_HEADER = 16


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def to_ipv6(frame):
    """An Ethernet/IPv4/TCP frame as Ethernet/IPv6/TCP; anything else unchanged."""
    if len(frame) < ETH + 20 or frame[12:14] != b"\x08\x00":
        return frame
    ip = frame[ETH:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    if ip[9] != 6 or struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
        return frame
    ttl = ip[8]
    src6 = b"\x20\x01\x0d\xb8" + b"\0" * 8 + ip[12:16]
    dst6 = b"\x20\x01\x0d\xb8" + b"\0" * 8 + ip[16:20]
    tcp = bytearray(ip[ihl:total])
    tcp[16:18] = b"\0\0"
    pseudo = src6 + dst6 + struct.pack("!IxxxB", len(tcp), 6)
    tcp[16:18] = struct.pack("!H", checksum(pseudo + bytes(tcp)))
    v6 = struct.pack("!IHBB", 6 << 28, len(tcp), 6, ttl) + src6 + dst6
    return frame[:12] + b"\x86\xdd" + v6 + bytes(tcp)


def fragment_v4(frame, mtu, ident):
    ip = frame[ETH:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    payload = ip[ihl:total]
    chunk = (mtu - ihl) // 8 * 8
    out = []
    for off in range(0, len(payload), chunk):
        part = payload[off : off + chunk]
        more = off + chunk < len(payload)
        h = bytearray(ip[:ihl])
        h[2:4] = struct.pack("!H", ihl + len(part))
        h[4:6] = struct.pack("!H", ident & 0xFFFF)
        h[6:8] = struct.pack("!H", (0x2000 if more else 0) | (off // 8))
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        out.append(frame[:ETH] + bytes(h) + part)
    return out


def fragment_v6(frame, mtu, ident):
    ip = frame[ETH:]
    plen = struct.unpack("!H", ip[4:6])[0]
    nxt = ip[6]
    payload = ip[40 : 40 + plen]
    chunk = (mtu - 40 - 8) // 8 * 8
    out = []
    for off in range(0, len(payload), chunk):
        part = payload[off : off + chunk]
        more = off + chunk < len(payload)
        fh = struct.pack("!BBHI", nxt, 0, off | (1 if more else 0), ident)
        h = bytearray(ip[:40])
        h[4:6] = struct.pack("!H", 8 + len(part))
        h[6] = 44
        out.append(frame[:ETH] + bytes(h) + fh + part)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--mtu", type=int, default=576)
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--reverse", action="store_true")
    a = ap.parse_args()
    data = open(a.inp, "rb").read()
    magic = data[:4]
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        raise SystemExit("not a little-endian pcap")
    if struct.unpack("<I", data[20:24])[0] != 1:
        raise SystemExit("not an Ethernet pcap")
    out = bytearray(data[:PCAP_HEADER])
    pos, ident = PCAP_HEADER, 0x1000
    while pos + RECORD_HEADER <= len(data):
        sec, frac, caplen, wirelen = struct.unpack("<IIII", data[pos : pos + RECORD_HEADER])
        frame = data[pos + RECORD_HEADER : pos + RECORD_HEADER + caplen]
        pos += RECORD_HEADER + caplen
        if a.ipv6:
            frame = to_ipv6(frame)
        is_v4 = frame[12:14] == b"\x08\x00"
        is_v6 = frame[12:14] == b"\x86\xdd"
        frames = [frame]
        if len(frame) - ETH > a.mtu and caplen == wirelen and (is_v4 or is_v6):
            ident += 1
            frames = (fragment_v4 if is_v4 else fragment_v6)(frame, a.mtu, ident)
            if a.reverse:
                frames.reverse()
        for i, f in enumerate(frames):
            s, u = sec + (frac + i) // 1_000_000, (frac + i) % 1_000_000
            out += struct.pack("<IIII", s, u, len(f), len(f)) + f
    open(a.out, "wb").write(bytes(out))


if __name__ == "__main__":
    main()
