"""tshark's dissection of an h2c capture, reduced to one JSON line per HTTP/2 stream.

usage: tshark -r FILE -T json --no-duplicate-keys ... | h2_expected.py SERVER_PORT

Per TCP connection (tshark's tcp.stream, numbered by first packet) and stream id, in order
of first appearance: method, path, authority, final status, grpc-status and the
percent-decoded grpc-message (from any response header block: trailers or trailers-only),
and the gRPC messages tshark reassembled per direction (client to server = request). The
Rust test (sessionizer/tests/h2_captures.rs) compares apitap's decoding with these lines.
"""

import json
import sys
from urllib.parse import unquote


def listify(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def frames(layer):
    """Every http2.stream object (one per frame) under an http2 layer, in order."""
    out = []
    for part in listify(layer):
        for f in listify(part.get("http2.stream")):
            out.append(f)
    return out


def main():
    server_port = sys.argv[1]
    packets = json.load(sys.stdin)
    streams = {}
    for p in packets:
        layers = p["_source"]["layers"]
        tcp = layers["tcp"]
        conn = int(tcp["tcp.stream"])
        to_server = tcp["tcp.dstport"] == server_port
        data_streams = []
        for f in frames(layers.get("http2")):
            sid = int(f.get("http2.streamid", "0"))
            kind = int(f.get("http2.type", "-1"))
            if sid == 0:
                continue
            key = (conn, sid)
            s = streams.setdefault(key, {"conn": conn, "stream_id": sid})
            if kind == 0:
                data_streams.append(sid)
            if kind == 3:
                s["rst_error"] = int(f.get("http2.rst_stream.error", "0"))
            for h in listify(f.get("http2.header")):
                name, value = h.get("http2.header.name"), h.get("http2.header.value", "")
                if name == ":method":
                    s["method"] = value
                elif name == ":path":
                    s["path"] = value
                elif name == ":authority":
                    s["authority"] = value
                elif name == ":status" and not value.startswith("1"):
                    s["status"] = int(value)
                elif name == "grpc-status":
                    s["grpc_status"] = int(value)
                elif name == "grpc-message":
                    s["grpc_message"] = unquote(value)
        messages = listify(layers.get("grpc"))
        if messages:
            if len(set(data_streams)) != 1:
                sys.exit("gRPC messages in a packet with DATA of %r streams" % sorted(set(data_streams)))
            s = streams[(conn, data_streams[0])]
            side = "request" if to_server else "response"
            for m in messages:
                s[side + "_messages"] = s.get(side + "_messages", 0) + 1
                s[side + "_bytes"] = s.get(side + "_bytes", 0) + int(m["grpc.message_length"])
                s["compressed_messages"] = s.get("compressed_messages", 0) + int(
                    m.get("grpc.compressed_flag", "0") not in ("0", "False", "false"))
    for s in streams.values():
        print(json.dumps(s, sort_keys=True))


if __name__ == "__main__":
    main()
