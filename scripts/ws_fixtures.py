#!/usr/bin/env python3
"""Derive the test inputs of fixtures/websocket/ from its captures, with tshark.

For each <case>.pcap in the folder given (default fixtures/websocket):
  <case>.client.bin, <case>.server.bin
      each direction's bytes after its HTTP/1.1 upgrade head (the request's and the 101's),
      that is the WebSocket frames the sessionizer's websocket module is fed;
  expected.tsv
      per case and direction, what tshark's WebSocket dissector reads: frames, data messages
      (final frames), text and binary messages, pings, pongs, and the close frame's status
      code and reason.

Run by scripts/capture-websocket.sh; alone, it re-derives the files from committed pcaps.
"""

import sys
from pathlib import Path

from fixture_tshark import follow_streams, tshark, write_expected_tsv

PORT = 8765


def after_head(stream):
    end = stream.index(b"\r\n\r\n") + 4
    return stream[end:]


def frames(pcap):
    """Per direction, the (opcode, fin, close code, close reason) of each frame, in order."""
    out = tshark("-r", str(pcap), "-d", f"tcp.port=={PORT},http", "-Y", "websocket",
                 "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
                 "-e", "tcp.srcport", "-e", "websocket.opcode", "-e", "websocket.fin",
                 "-e", "websocket.payload.close.status_code",
                 "-e", "websocket.payload.close.reason")
    result = {"client": [], "server": []}
    for line in out.splitlines():
        port, opcodes, fins, code, reason = (line.split("\t") + [""] * 5)[:5]
        side = "server" if int(port) == PORT else "client"
        for op, fin in zip(opcodes.split(","), fins.split(",")):
            op = int(op, 0)
            result[side].append((op, fin in ("1", "True"), code if op == 8 else "",
                                 reason if op == 8 else ""))
    return result


def counts(fs):
    c = dict(frames=len(fs), messages=0, text=0, binary=0, pings=0, pongs=0, close_code="-",
             close_reason="-")
    kind = None
    for op, fin, code, reason in fs:
        if op in (1, 2):
            kind = op
        if op in (0, 1, 2) and fin:
            c["messages"] += 1
            c["text" if kind == 1 else "binary"] += 1
        c["pings"] += op == 9
        c["pongs"] += op == 10
        if op == 8 and c["close_code"] == "-":
            c["close_code"], c["close_reason"] = code or "-", reason or "-"
    return c


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/websocket")
    cols = ["frames", "messages", "text", "binary", "pings", "pongs", "close_code", "close_reason"]
    rows = []
    for pcap in sorted(folder.glob("*.pcap")):
        case = pcap.stem
        client, server = follow_streams(pcap)
        (folder / f"{case}.client.bin").write_bytes(after_head(client))
        (folder / f"{case}.server.bin").write_bytes(after_head(server))
        fs = frames(pcap)
        for side in ("client", "server"):
            c = counts(fs[side])
            rows.append([case, side] + [str(c[k]) for k in cols])
    write_expected_tsv(folder, "scripts/ws_fixtures.py", ["case", "direction"] + cols, rows)


if __name__ == "__main__":
    main()
