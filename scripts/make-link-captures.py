#!/usr/bin/env python3
"""Re-encode fixtures/local/nginx-curl.pcap in other link layers, with scapy's encoders.

Every capture in fixtures/links/ holds the same IP packets, timestamps and lengths as
nginx-curl.pcap, only the link layer differs, so a replay of any of them must give the
records of fixtures/golden/nginx-curl.jsonl exactly (tests/tests/links.rs).

    python3 scripts/make-link-captures.py      # needs scapy (pip install scapy)

scapy writes the link headers (PPP, HDLC-like framing, Cisco HDLC, PPPoE, 802.11 with
LLC/SNAP, radiotap, PPI) with its own encoders; nothing here writes a header byte by hand
except the PPP protocol field compression, which scapy does not encode.
"""

import pathlib

from scapy.all import (
    LLC,
    PPP,
    SNAP,
    Dot11,
    Dot11QoS,
    Ether,
    HDLC,
    PPPoE,
    RadioTap,
    Raw,
    rdpcap,
    wrpcap,
)
from scapy.contrib.chdlc import CHDLC
from scapy.layers.ppi import PPI

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "fixtures/local/nginx-curl.pcap"
OUT = ROOT / "fixtures/links"

CLIENT_MAC = "02:00:00:00:00:01"
SERVER_MAC = "02:00:00:00:00:02"
BSSID = "02:00:00:00:00:aa"


def wlan(ip, to_server):
    """An 802.11 QoS data frame between a station and its access point (ToDS or FromDS)."""
    if to_server:
        hdr = Dot11(type=2, subtype=8, FCfield=0x01, addr1=BSSID, addr2=CLIENT_MAC, addr3=SERVER_MAC)
    else:
        hdr = Dot11(type=2, subtype=8, FCfield=0x02, addr1=CLIENT_MAC, addr2=BSSID, addr3=SERVER_MAC)
    return hdr / Dot11QoS() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / ip


# name -> (DLT, frame builder from the IP packet and its direction)
LINKS = {
    # DLT 9: PPP in HDLC-like framing (RFC 1662), as pppd's captures have it.
    "ppp": (9, lambda ip, up: HDLC() / PPP(proto=0x0021) / ip),
    # DLT 50: PPP with the protocol field compressed to one byte (RFC 1661 section 6.5).
    "ppp-hdlc-pfc": (50, lambda ip, up: Raw(b"\xff\x03\x21") / ip),
    # DLT 104: Cisco HDLC.
    "chdlc": (104, lambda ip, up: CHDLC(address=0x0F, control=0, proto=0x0800) / ip),
    # DLT 1: PPPoE session frames (RFC 2516).
    "pppoe": (
        1,
        lambda ip, up: Ether(src=CLIENT_MAC if up else SERVER_MAC, dst=SERVER_MAC if up else CLIENT_MAC, type=0x8864)
        / PPPoE(sessionid=0x1234)
        / PPP(proto=0x0021)
        / ip,
    ),
    # DLT 105: 802.11 QoS data frames.
    "ieee80211": (105, wlan),
    # DLT 127: radiotap, then 802.11.
    "radiotap": (127, lambda ip, up: RadioTap(present="Flags+Rate", Flags=0, Rate=108) / wlan(ip, up)),
    # DLT 192: PPI, then 802.11.
    "ppi": (192, lambda ip, up: PPI(dlt=105) / wlan(ip, up)),
}


def main():
    packets = rdpcap(str(SOURCE))
    OUT.mkdir(exist_ok=True)
    for name, (dlt, build) in LINKS.items():
        frames = []
        for p in packets:
            ip = p.payload  # nginx-curl.pcap is Ethernet: IPv4 inside
            up = ip.dport == 18080
            f = build(ip, up)
            f.time = p.time
            frames.append(f)
        wrpcap(str(OUT / f"{name}.pcap"), frames, linktype=dlt)
        print(f"{name}.pcap: DLT {dlt}, {len(frames)} packets")


if __name__ == "__main__":
    main()
