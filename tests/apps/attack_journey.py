#!/usr/bin/env python3
"""A user who logs in, browses, orders, then tries SQL injection on the order listing.

Python 3 standard library only; talks to tests/apps/shop_server.py on 127.0.0.1 through one
keep-alive http.client connection. Run by scripts/capture-attack-journey.sh.

    attack_journey.py PORT TRUTH.json

The truth file records what the test asserts: the requests before the attack, the attack's
status, the client port.
"""

import http.client
import json
import sys
import urllib.parse

PAYLOAD = "paid' OR '1'='1"


def main():
    port, truth_path = int(sys.argv[1]), sys.argv[2]
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.connect()
    client_port = c.sock.getsockname()[1]
    ua = {"User-Agent": "shop-client/1.0"}
    seen = []

    def call(method, path, body=None, headers=None):
        h = dict(ua, **(headers or {}))
        if cookie[0]:
            h["Cookie"] = cookie[0]
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        seen.append({"method": method, "path": path, "status": r.status})
        return r, data

    cookie = [None]
    r, _ = call("POST", "/login", "username=alice&password=alice-password-123",
                {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r.status
    cookie[0] = r.getheader("Set-Cookie").split(";")[0]
    for page in (1, 2):
        call("GET", f"/api/v1/products?page={page}")
    call("GET", "/api/v1/products/3")
    r, _ = call("POST", "/api/v1/orders",
                json.dumps({"product_id": 3, "quantity": 1, "amount": 12.5, "currency": "EUR"}),
                {"Content-Type": "application/json"})
    assert r.status == 201, r.status
    call("GET", "/api/v1/users/1/orders")
    before = len(seen)
    r, body = call("GET", "/api/v1/users/1/orders?status=" + urllib.parse.quote(PAYLOAD))
    assert r.status == 500 and b"SQL syntax" in body, (r.status, body)
    c.close()
    with open(truth_path, "w") as f:
        json.dump({"client_port": client_port, "requests": seen,
                   "requests_before_attack": before, "attack_status": 500,
                   "payload": PAYLOAD}, f, indent=1)


if __name__ == "__main__":
    main()
