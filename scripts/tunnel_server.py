#!/usr/bin/env python3
"""A tiny HTTP/1.1 API for the tunnel captures (scripts/capture-tunnels.sh): GET and POST with
keep-alive, fixed bodies, so captures are small and repeatable. Usage: tunnel_server.py ADDR PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tunnel-api/1"
    sys_version = ""

    def _send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/big"):
            # Larger than one 1500-byte frame: its segments overflow a 1500-byte underlay.
            self._send(200, b"x" * 4000, "text/plain")
        elif self.path.startswith("/api/"):
            self._send(200, json.dumps({"path": self.path}).encode())
        else:
            self._send(404, b'{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self._send(201, json.dumps({"received": len(body)}).encode())

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    addr, port = sys.argv[1], int(sys.argv[2])
    ThreadingHTTPServer.address_family = 10 if ":" in addr else 2
    ThreadingHTTPServer((addr, port), Api).serve_forever()
