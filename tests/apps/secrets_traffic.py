#!/usr/bin/env python3
"""Traffic carrying every kind of secret apitap must never export, for the redaction tests.

Python 3 standard library only. Binds 127.0.0.1 only. Run by scripts/capture-secrets.sh,
which captures it with tcpdump:

    secrets_traffic.py serve PORT             a raw HTTP/1.x server (any method, HTTP/0.9,
                                              CONNECT) until SIGTERM
    secrets_traffic.py send PORT SECRETS.json  the client: sends every request, then writes
                                              the list of secret values it used

The secrets are fixed strings (so the capture is reproducible) that occur nowhere else in the
capture: the test searches apitap's output for each of them. None is a real credential.
"""

import base64
import json
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(sub, tag):
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(json.dumps({"sub": sub, "jti": tag}).encode())
    return f"{head}.{body}.{b64url(('sig-' + tag).encode())}"


# Every secret the traffic carries, by where it is.
SECRETS = {
    "bearer_jwt": jwt("ann", "bearer-jti-7761"),
    "cookie": "CookieSecret-4410",
    "query_api_key": "QueryApiKey-9931",
    "query_token": "QueryToken-1287",
    "query_access_token": "QueryAccessToken-5521",
    "query_password": "QueryPassword-6619",
    "csrf_header": "CsrfHeader-3384",
    "session_token_header": "SessionTokenHeader-2209",
    "referer_token": "RefererToken-7733",
    "jwt_in_header": jwt("ann", "header-jti-4521"),
    "jwt_in_path": jwt("ann", "path-jti-9083"),
    "userinfo_password": "UserinfoPass-1144",
    "connect_password": "ConnectPass-5567",
    "origin_password": "OriginPass-8802",
    "form_password": "FormPassword-3030",
    "form_csrf": "FormCsrf-6060",
    "json_password": "JsonPassword-7070",
    "json_api_key": "JsonApiKey-8080",
    "multipart_token": "MultipartToken-9090",
    "http09_token": "Http09Token-1212",
    "set_cookie": "SetCookieSecret-3434",
    "location_code": "LocationCode-5656",
    "response_access_token": jwt("ann", "response-jti-7878"),
    "response_refresh_token": "RefreshToken-9898",
}


def respond(conn, status, reason, headers, body=b""):
    head = f"HTTP/1.1 {status} {reason}\r\n"
    for name, value in headers + [("Content-Length", str(len(body)))]:
        head += f"{name}: {value}\r\n"
    conn.sendall(head.encode() + b"\r\n" + body)


def serve_one(conn):
    """Answer the requests of one connection, keep-alive, until the client closes."""
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                # HTTP/0.9: one line, no version, no headers; the answer is the bare body.
                first, sep, _ = buf.partition(b"\r\n")
                if sep and b" HTTP/" not in first:
                    conn.sendall(b'{"old":"style"}\n')
                    return
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                rest += chunk
            buf = rest[length:]
            if method == "CONNECT":
                respond(conn, 200, "Connection Established", [])
                return
            path = target.split("?")[0]
            if path == "/login":
                respond(conn, 302, "Found", [
                    ("Set-Cookie", f"SESSIONID={SECRETS['set_cookie']}; Path=/; HttpOnly"),
                    ("Location", f"https://app.example/cb?code={SECRETS['location_code']}&state=ok"),
                ])
            elif path == "/token":
                body = json.dumps({
                    "access_token": SECRETS["response_access_token"],
                    "refresh_token": SECRETS["response_refresh_token"],
                    "user": "ann",
                }).encode()
                respond(conn, 200, "OK", [("Content-Type", "application/json")], body)
            else:
                respond(conn, 200, "OK", [("Content-Type", "application/json")], b'{"ok":true}')


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def exchange(port, raw, close=False):
    """Send `raw` on a new connection, read until the response is complete or closed."""
    c = socket.create_connection((HOST, port))
    c.sendall(raw)
    c.settimeout(2)
    data = b""
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(body) >= length and not close:
                    break
    except socket.timeout:
        pass
    c.close()
    time.sleep(0.05)
    return data


def send(port, secrets_path):
    s = SECRETS
    host = f"{HOST}:{port}"
    ua = "secrets-client/1.0"
    exchange(port, (
        f"GET /api/items?page=2&api_key={s['query_api_key']}&token={s['query_token']}"
        f"&access_token={s['query_access_token']}&password={s['query_password']} HTTP/1.1\r\n"
        f"Host: {host}\r\nUser-Agent: {ua}\r\n"
        f"Authorization: Bearer {s['bearer_jwt']}\r\n"
        f"Cookie: session={s['cookie']}; theme=dark\r\n"
        f"X-CSRF-Token: {s['csrf_header']}\r\n"
        f"X-Session-Token: {s['session_token_header']}\r\n"
        f"Referer: https://app.example/page?token={s['referer_token']}&tab=1\r\n"
        f"X-Trace: v1 {s['jwt_in_header']}\r\n"
        f"Origin: https://bob:{s['origin_password']}@app.example\r\n\r\n"
    ).encode())
    exchange(port, (
        f"GET /api/docs/{s['jwt_in_path']}/view HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n\r\n"
    ).encode())
    exchange(port, (
        f"GET http://alice:{s['userinfo_password']}@{host}/abs HTTP/1.1\r\n"
        f"Host: {host}\r\nUser-Agent: {ua}\r\n\r\n"
    ).encode())
    exchange(port, (
        f"CONNECT alice:{s['connect_password']}@example.com:443 HTTP/1.1\r\n"
        f"Host: example.com:443\r\nUser-Agent: {ua}\r\n\r\n"
    ).encode(), close=True)
    form = f"username=ann&password={s['form_password']}&csrf_token={s['form_csrf']}".encode()
    exchange(port, (
        f"POST /login HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n\r\n"
    ).encode() + form)
    body = json.dumps({"username": "ann", "password": s["json_password"],
                       "nested": {"api_key": s["json_api_key"], "n": 1}}).encode()
    exchange(port, (
        f"POST /token HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body)
    mp = (
        "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n"
        f"--XyZ\r\nContent-Disposition: form-data; name=\"secret_token\"\r\n\r\n{s['multipart_token']}\r\n"
        "--XyZ--\r\n"
    ).encode()
    exchange(port, (
        f"POST /upload HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
        f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {len(mp)}\r\n\r\n"
    ).encode() + mp)
    exchange(port, f"GET /old?token={s['http09_token']}\r\n".encode(), close=True)
    with open(secrets_path, "w") as f:
        json.dump(SECRETS, f, indent=1, sort_keys=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
