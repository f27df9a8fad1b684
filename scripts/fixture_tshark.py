"""What the fixture derivers (scripts/tls_fixtures.py, scripts/ws_fixtures.py) share: running
tshark, the two byte streams of a capture's first TCP connection, and the expected.tsv writer.

Imported, not run: the derivers live beside it in scripts/, so Python finds it on sys.path.
"""

import subprocess


def tshark(*args):
    """tshark's standard output for ARGS; raises when tshark fails."""
    return subprocess.run(
        ["tshark", *args], check=True, capture_output=True, text=True
    ).stdout


def follow_streams(pcap):
    """The client's and the server's bytes of TCP stream 0, in stream order (tshark's
    "follow,tcp,raw"); the client is the endpoint that sent the first segment."""
    out = tshark("-r", str(pcap), "-q", "-z", "follow,tcp,raw,0")
    client, server = bytearray(), bytearray()
    in_body = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            in_body = True
            continue
        if not in_body or line.startswith("="):
            continue
        if line.startswith("\t"):
            server += bytes.fromhex(line.strip())
        elif line.strip():
            client += bytes.fromhex(line.strip())
    return bytes(client), bytes(server)


def write_expected_tsv(folder, writer, header, rows):
    """FOLDER/expected.tsv: a comment naming WRITER and the tshark version, HEADER, then ROWS
    (lists of strings), tab-separated."""
    version = tshark("--version").splitlines()[0]
    with open(folder / "expected.tsv", "w") as f:
        f.write(f"# Written by {writer} from {version}; do not edit.\n")
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
