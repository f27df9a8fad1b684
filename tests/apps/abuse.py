#!/usr/bin/env python3
"""API abuse among benign users, against tests/apps/shop_server.py, and its truth file.

Python 3 standard library only.

    abuse.py PORT --truth OUT.json [--seed N]

The server must run with --extra-users 40. Real clients (http.client, one keep-alive TCP
connection per actor) play, in this order:

  - 30 benign customers: JWT login, browse, order two or three things for 5-60 EUR, list
    their orders and open one (one of them mistypes the password once first);
  - one customer opening each of their own orders (a hard negative for bola);
  - bola: a customer reading 60 other customers' orders through the legacy route
    GET /api/v0/orders/<uuid>, which has no ownership check;
  - credential_stuffing: one client posting 30 usernames to the form login, all wrong;
  - volume_spike: a customer placing 20 orders of 400 EUR.

Every actor sends its own User-Agent, by which the truth file names it; every response
status is checked. The truth file has the same shape as apitap-gen-scenario's (bench/):
`actors[]` with `name`, `label` (`benign` or the alert kind), `user_agent`, `client_ips`.
"""

import argparse
import http.client
import json
import random
import sys
import time

HOST = "127.0.0.1"
BENIGN = 30
EXTRA_USERS = 40


class Actor:
    """One client: a keep-alive connection, a User-Agent, a token once logged in."""

    def __init__(self, port, name, label, hard_negative=None):
        self.name, self.label, self.hard_negative = name, label, hard_negative
        self.ua = f"abuse-scenario/{name}"
        self.conn = http.client.HTTPConnection(HOST, port, timeout=10)
        self.conn.connect()
        self.token = None
        self.requests = 0

    def call(self, method, path, body=None, form=False, expect=(200,)):
        headers = {"User-Agent": self.ua, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            if form:
                data = "&".join(f"{k}={v}" for k, v in body.items()).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        self.requests += 1
        if resp.status not in expect:
            sys.exit(f"{self.name}: {method} {path} -> {resp.status} {raw[:200]!r}")
        return resp, (json.loads(raw) if raw else None)

    def login(self, user, password):
        _, body = self.call("POST", "/api/v1/auth/token",
                            {"username": user, "password": password})
        self.token = body["access_token"]

    def order(self, product, amount):
        resp, _ = self.call("POST", "/api/v1/orders",
                            {"product_id": product, "quantity": 1, "amount": amount,
                             "currency": "EUR"}, expect=(201,))
        return resp.getheader("Location").rsplit("/", 1)[1]

    def truth(self):
        out = {"name": self.name, "label": self.label, "user_agent": self.ua,
               "client_ips": [HOST], "requests": self.requests}
        if self.hard_negative:
            out["hard_negative"] = self.hard_negative
        return out

    def close(self):
        self.conn.close()


def shopper(i):
    return f"shopper{i:02d}", f"shopper-pass-{i:02d}", 100 + i


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    actors, orders = [], []

    for i in range(1, BENIGN + 1):
        user, password, uid = shopper(i)
        a = Actor(args.port, f"customer-{user}", "benign",
                  "mistyped_password" if i == 7 else None)
        if i == 7:
            a.call("POST", "/api/v1/auth/token", {"username": user, "password": "oops"},
                   expect=(401,))
        a.login(user, password)
        a.call("GET", "/api/v1/products?page=1")
        for p in rng.sample(range(1, 11), 2):
            a.call("GET", f"/api/v1/products/{p}")
        mine = [a.order(rng.randint(1, 30), round(rng.uniform(5, 60), 2))
                for _ in range(rng.randint(2, 3))]
        orders.extend(mine)
        a.call("GET", f"/api/v1/users/{uid}/orders")
        a.call("GET", f"/api/v1/orders/{mine[0]}")
        actors.append(a)
        a.close()

    user, password, uid = shopper(31)
    a = Actor(args.port, "opens-each-own-order", "benign", "own_orders")
    a.login(user, password)
    own = [a.order(3, 9.99) for _ in range(12)]
    a.call("GET", f"/api/v1/users/{uid}/orders")
    for o in own:
        a.call("GET", f"/api/v1/orders/{o}")
        a.call("GET", f"/api/v0/orders/{o}")
    actors.append(a)
    a.close()

    user, password, _ = shopper(32)
    a = Actor(args.port, "bola-legacy-orders", "bola")
    a.login(user, password)
    for o in rng.sample(orders, min(60, len(orders))):
        a.call("GET", f"/api/v0/orders/{o}")
        time.sleep(0.02)
    actors.append(a)
    a.close()

    a = Actor(args.port, "credential-stuffing-form", "credential_stuffing")
    for k in range(30):
        a.call("POST", "/login", {"username": f"leaked{k:03d}", "password": "Winter2024"},
               form=True, expect=(401,))
        time.sleep(0.02)
    actors.append(a)
    a.close()

    user, password, _ = shopper(33)
    a = Actor(args.port, "volume-spike-orders", "volume_spike")
    a.login(user, password)
    for _ in range(20):
        a.order(rng.randint(1, 30), 400.0)
    actors.append(a)
    a.close()

    with open(args.truth, "w") as f:
        json.dump({"schema_version": 1, "seed": args.seed,
                   "requests": sum(a.requests for a in actors),
                   "actors": [a.truth() for a in actors]}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
