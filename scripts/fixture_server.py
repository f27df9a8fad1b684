#!/usr/bin/env python3
"""Small HTTP/1.1 keep-alive server and clients used to capture test fixtures.

Used by scripts/capture-fixtures.sh. Binds 127.0.0.1 only.

    fixture_server.py serve PORT          run the server until SIGTERM/SIGINT
    fixture_server.py pipelined PORT      3 pipelined requests in one write
    fixture_server.py keepalive PORT      sequential requests on one connection

Endpoints (all answer JSON unless noted):
    GET  /health          {"status":"ok"}, Content-Length
    GET  /users/<id>      a user object, Content-Length
    POST /login           reads a Content-Length body, answers 200 with a token
    GET  /stream          Transfer-Encoding: chunked, three chunks
    anything else         404 with a JSON error body
"""

import http.client
import http.server
import json
import socket
import sys
import time

HOST = "127.0.0.1"

# Fake secrets, present so that header redaction can be tested. Not real credentials.
BEARER = "Bearer test-token-abc123"
COOKIE = "session=s3cr3t-cookie; theme=dark"


class Handler(http.server.BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 handler; every response carries a body length or is chunked."""

    protocol_version = "HTTP/1.1"
    server_version = "apitap-fixture/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep the capture script quiet
        pass

    def _json(self, status, obj, extra_headers=()):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._json(200, {"status": "ok"})
        elif path.startswith("/users/") and path[len("/users/"):].isdigit():
            uid = int(path[len("/users/"):])
            self._json(200, {"id": uid, "name": f"user{uid}", "email": f"user{uid}@example.invalid"})
        elif path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                chunk = json.dumps({"event": i, "data": "x" * (10 * (i + 1))}).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.01)  # separate segments on the wire
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._json(404, {"error": "not found", "path": path})

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        body = self._read_body()
        if self.path == "/login":
            try:
                user = json.loads(body or b"{}").get("user", "")
            except ValueError:
                self._json(400, {"error": "bad json"})
                return
            self._json(
                200,
                {"user": user, "token": "resp-token-xyz789"},
                extra_headers=[("Set-Cookie", "session=new-s3cr3t; HttpOnly")],
            )
        else:
            self._json(404, {"error": "not found", "path": self.path})


def serve(port):
    srv = http.server.ThreadingHTTPServer((HOST, port), Handler)
    srv.daemon_threads = True
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def pipelined(port):
    """Send three requests in a single write, then read until the server closes."""
    login = json.dumps({"user": "alice", "password": "hunter2"}).encode()
    reqs = (
        b"GET /users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fixture-pipeline\r\n"
        b"Authorization: " + BEARER.encode() + b"\r\n\r\n"
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fixture-pipeline\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(login)).encode() + b"\r\n"
        b"Cookie: " + COOKIE.encode() + b"\r\n\r\n" + login +
        b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fixture-pipeline\r\n"
        b"Connection: close\r\n\r\n"
    )
    with socket.create_connection((HOST, port)) as s:
        s.sendall(reqs)
        data = b""
        while True:
            buf = s.recv(65536)
            if not buf:
                break
            data += buf
    n = data.count(b"HTTP/1.1 ")
    if n != 3:
        sys.exit(f"pipelined: expected 3 responses, got {n}: {data!r}")


def keepalive(port):
    """Sequential requests on one persistent connection (http.client reuses it)."""
    conn = http.client.HTTPConnection(HOST, port)
    steps = [
        ("GET", "/health", None, {}),
        ("GET", "/users/42", None, {"Authorization": BEARER}),
        ("POST", "/login", json.dumps({"user": "bob", "password": "pw"}),
         {"Content-Type": "application/json", "Cookie": COOKIE}),
        ("GET", "/stream", None, {"Cookie": COOKIE}),
        ("HEAD", "/users/7", None, {}),
        ("GET", "/missing", None, {}),
    ]
    for method, url, body, headers in steps:
        conn.request(method, url, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
    conn.close()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cmd, port = sys.argv[1], int(sys.argv[2])
    {"serve": serve, "pipelined": pipelined, "keepalive": keepalive}[cmd](port)


if __name__ == "__main__":
    main()
