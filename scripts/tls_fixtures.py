#!/usr/bin/env python3
"""Derive the test inputs of fixtures/tls/ from its captures, with tshark.

For each <case>.pcap in the folder given (default fixtures/tls):
  <case>.client.bin, <case>.server.bin
      the TCP payload of each direction of the capture's one connection, in stream order
      (tshark's "follow,tcp,raw"); the client is the endpoint that sent the first segment;
  expected.tsv
      one line per case with what tshark's TLS dissector reads from the handshake:
      SNI, offered ALPN list, selected ALPN, negotiated version, cipher suite, JA3 and the
      JA3 string, and JA4 where a source is available (see ja4_source).

JA4 sources, in order: the tshark field tls.handshake.ja4 (Wireshark 4.2 and later), then the
`ja4plus` PyPI package (an independent BSD-3 implementation of the FoxIO specification; the
FoxIO reference script itself is not published on PyPI or npm). With neither, the column is
"-" and the Rust tests check JA4 against the specification's worked example only.

Run by scripts/capture-tls.sh; running it alone re-derives the files from committed pcaps.
"""

import sys
from pathlib import Path

from fixture_tshark import follow_streams, tshark, write_expected_tsv


def fields(pcap, display_filter, names):
    """First packet matching the filter: {field: value}, multiple occurrences joined by ','."""
    args = ["-r", str(pcap), "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for n in names:
        args += ["-e", n]
    lines = [l for l in tshark(*args).splitlines() if l.strip()]
    if not lines:
        return {n: "" for n in names}
    values = lines[0].split("\t")
    return dict(zip(names, values + [""] * (len(names) - len(values))))


def has_field(name):
    return any(l.split("\t")[2:3] == [name] for l in tshark("-G", "fields").splitlines())


def ja4plus_fingerprints(pcap):
    """JA4 of the first ClientHello by the ja4plus package, or None when it is not installed."""
    try:
        from ja4plus import JA4Fingerprinter
        from scapy.all import rdpcap
    except ImportError:
        return None
    fp = JA4Fingerprinter()
    for pkt in rdpcap(str(pcap)):
        got = fp.process_packet(pkt)
        if got:
            return got
    return None


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/tls")
    tshark_ja4 = has_field("tls.handshake.ja4")
    rows = []
    for pcap in sorted(folder.glob("*.pcap")):
        case = pcap.stem
        client, server = follow_streams(pcap)
        (folder / f"{case}.client.bin").write_bytes(client)
        (folder / f"{case}.server.bin").write_bytes(server)
        hello_fields = ["tls.handshake.extensions_server_name",
                        "tls.handshake.extensions_alpn_str",
                        "tls.handshake.ja3", "tls.handshake.ja3_full"]
        if tshark_ja4:
            hello_fields.append("tls.handshake.ja4")
        ch = fields(pcap, "tls.handshake.type == 1", hello_fields)
        sh = fields(pcap, "tls.handshake.type == 2",
                    ["tls.handshake.extensions.supported_version", "tls.handshake.version",
                     "tls.handshake.ciphersuite", "tls.handshake.extensions_alpn_str"])
        version = sh["tls.handshake.extensions.supported_version"] or sh["tls.handshake.version"]
        if tshark_ja4:
            ja4, source = ch["tls.handshake.ja4"], "tshark"
        else:
            ja4 = ja4plus_fingerprints(pcap)
            source = "ja4plus" if ja4 else "-"
        rows.append([case, ch["tls.handshake.extensions_server_name"] or "-",
                     ch["tls.handshake.extensions_alpn_str"] or "-",
                     sh["tls.handshake.extensions_alpn_str"] or "-",
                     version or "-", sh["tls.handshake.ciphersuite"] or "-",
                     ch["tls.handshake.ja3"] or "-", ch["tls.handshake.ja3_full"] or "-",
                     ja4 or "-", source])
    header = ["case", "sni", "alpn", "alpn_selected", "version", "cipher", "ja3", "ja3_full",
              "ja4", "ja4_source"]
    write_expected_tsv(folder, "scripts/tls_fixtures.py", header, rows)


if __name__ == "__main__":
    main()
