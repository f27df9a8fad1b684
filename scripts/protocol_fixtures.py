#!/usr/bin/env python3
"""Servers and clients for fixtures/protocols/ (scripts/capture-protocols.sh runs them under
tcpdump on loopback). Python standard library only.

    protocol_fixtures.py smtp-server PORT        # the stdlib's smtpd (Python <= 3.11)
    protocol_fixtures.py smtp-client PORT        # smtplib: EHLO, MAIL, RCPT, DATA, QUIT
    protocol_fixtures.py proxy PORT              # an HTTP CONNECT proxy (no auth)
    protocol_fixtures.py smuggle PORT            # crafted requests, one connection each

The requests of `smuggle` are what request-smuggling and host-confusion probes send (issue
21): HTTP/1.0 with Transfer-Encoding, `chunked` twice, two Host fields, an absolute-form
target whose authority is not the Host. Whatever the server answers is captured.
"""
import select
import socket
import sys
import threading

HOST = "127.0.0.1"


def smtp_server(port):
    # Both are in the stdlib up to Python 3.11 (deprecated, removed in 3.12).
    import asyncore
    import smtpd

    smtpd.DebuggingServer((HOST, port), None)
    asyncore.loop()


def smtp_client(port):
    import smtplib

    with smtplib.SMTP(HOST, port, local_hostname="client.example.test", timeout=5) as s:
        s.ehlo()
        s.sendmail(
            "alice@example.test",
            ["bob@example.test"],
            "Subject: fixture\r\n\r\nGET /not-a-request HTTP/1.1\r\nHTTP/1.1 200 OK\r\n",
        )


def pipe(a, b):
    """Copies both ways until either side closes."""
    socks = [a, b]
    while True:
        ready, _, _ = select.select(socks, [], [], 5)
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


def proxy_conn(c):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            return
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode()
    method, target, _ = line.split(" ", 2)
    if method != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        return
    host, port = target.rsplit(":", 1)
    up = socket.create_connection((host, int(port)))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    rest = head.split(b"\r\n\r\n", 1)[1]
    if rest:
        up.sendall(rest)
    try:
        pipe(c, up)
    finally:
        up.close()
        c.close()


def proxy(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, port))
    srv.listen(8)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=proxy_conn, args=(c,), daemon=True).start()


SMUGGLE = [
    # HTTP/1.0 with Transfer-Encoding (RFC 9112 section 6.1).
    b"POST /transfer HTTP/1.0\r\nHost: api.example.test\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/json\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n",
    # chunked applied twice, in two fields.
    b"POST /transfer HTTP/1.1\r\nHost: api.example.test\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n",
    # Two Host fields.
    b"GET /api/items HTTP/1.1\r\nHost: api.example.test\r\nHost: admin.internal\r\n"
    b"Connection: close\r\n\r\n",
    # Absolute form whose authority is not the Host.
    b"GET http://admin.internal/api/items HTTP/1.1\r\nHost: api.example.test\r\n"
    b"Connection: close\r\n\r\n",
]


def smuggle(port):
    for req in SMUGGLE:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    {
        "smtp-server": smtp_server,
        "smtp-client": smtp_client,
        "proxy": proxy,
        "smuggle": smuggle,
    }[cmd](port)


if __name__ == "__main__":
    main()
