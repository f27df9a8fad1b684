#!/usr/bin/env python3
"""Scripted user journeys against tests/apps/shop_server.py, and their ground truth.

Python 3 standard library only.

    journeys.py PORT --expected OUT.json [--seed N]

Every journey uses real clients: each http.client.HTTPConnection is one real keep-alive TCP
connection (connected explicitly, so its source port is known and recorded). The journeys
run interleaved in one thread: a scheduler seeded with --seed picks which journey sends its
next request, so several sessions are open at the same time, yet a run with the same seed
sends the same requests in the same order. Every response status is checked; any surprise
aborts with a non-zero exit and no expected file.

The journeys (users, steps, amounts) are fixed in JOURNEYS below. The expected file holds,
per journey: user, auth kind, User-Agent, requests sent, TCP connections and their client
ports, orders and the sum of their amounts, every request with its connection, credential
and status, and the secrets that must never appear in apitap's output. Secrets whose value
only exists at run time (session cookies, JWTs) are taken from the responses.
"""

import argparse
import gzip
import http.client
import json
import os
import random
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ next to the fixtures app
import shop_server  # noqa: E402  (USERS, SHOP_JWT_SECRET: one source of truth)

HOST = "127.0.0.1"
SCHEMA_VERSION = 1

# Steps: ("login",) form login (cookie) | ("token",) JSON token request (JWT)
#        ("list", page) | ("product", id) | ("order", product_id, quantity, "amount")
#        ("my_orders",) | ("view_order",) the last order placed | ("logout",)
#        ("new_connection",) close the current TCP connection and open a new one
JOURNEYS = [
    {
        "name": "alice", "user": "alice", "auth": "cookie", "gzip": True,
        "steps": [("login",), ("list", 1), ("product", 3), ("list", 2),
                  ("order", 3, 1, "12.50"), ("order", 14, 2, "7.25"),
                  ("my_orders",), ("view_order",), ("logout",)],
    },
    {
        "name": "bob", "user": "bob", "auth": "cookie", "gzip": False,
        "steps": [("login",), ("list", 1), ("product", 7),
                  ("order", 7, 1, "99.99"), ("my_orders",), ("logout",)],
    },
    {
        # One session over three TCP connections (three source ports), carrying the cookie.
        "name": "carol", "user": "carol", "auth": "cookie", "gzip": True,
        "steps": [("login",), ("list", 1), ("product", 2),
                  ("new_connection",), ("product", 11), ("order", 2, 1, "5.00"),
                  ("order", 11, 3, "15.50"),
                  ("new_connection",), ("order", 21, 1, "42.00"), ("my_orders",),
                  ("view_order",), ("logout",)],
    },
    {
        # JWT over two TCP connections.
        "name": "dave", "user": "dave", "auth": "jwt", "gzip": True,
        "steps": [("token",), ("list", 1), ("list", 3), ("product", 21),
                  ("new_connection",), ("order", 21, 1, "23.40"), ("order", 25, 2, "8.60"),
                  ("my_orders",), ("view_order",)],
    },
    {
        "name": "erin", "user": "erin", "auth": "jwt", "gzip": False,
        "steps": [("token",), ("list", 1), ("product", 5),
                  ("order", 5, 4, "150.00"), ("my_orders",)],
    },
    {
        # No credentials at all: only client IP + User-Agent tell this session apart.
        "name": "anonymous", "user": None, "auth": "anonymous", "gzip": True,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) journey-anonymous-browser/1.0",
        "steps": [("list", 1), ("list", 2), ("product", 4), ("product", 9)],
    },
]


class JourneyError(Exception):
    pass


class Client:
    """One journey's client: its connections, its credentials and what it sent."""

    def __init__(self, port, spec, host=HOST):
        self.host = host
        self.port = port
        self.spec = spec
        self.user_agent = spec.get("user_agent") or f"journey/{spec['name']}"
        self.conn = None
        self.client_ports = []
        self.cookie = None  # SHOPSESSID value
        self.token = None  # JWT
        self.cookies_seen = []
        self.tokens_seen = []
        self.requests = []
        self.order_ids = []
        self.order_amounts = []

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        self.conn.connect()
        self.client_ports.append(self.conn.sock.getsockname()[1])

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, content_type=None, expect=200):
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        # http.client sends `Accept-Encoding: identity` unless the caller sets the header.
        headers["Accept-Encoding"] = "gzip" if self.spec["gzip"] else "identity"
        if content_type:
            headers["Content-Type"] = content_type
        credential = "none"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
            credential = "jwt"
        elif self.cookie:
            headers["Cookie"] = f"SHOPSESSID={self.cookie}"
            credential = "cookie"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        if resp.status != expect:
            raise JourneyError(f"{self.spec['name']}: {method} {path} -> {resp.status}, "
                               f"expected {expect}: {raw[:200]!r}")
        set_cookie = resp.getheader("Set-Cookie")
        self.requests.append({
            "connection": len(self.client_ports) - 1,
            "method": method,
            "path": path,
            "credential": credential,
            "status": resp.status,
            "gzip": resp.getheader("Content-Encoding") == "gzip",
            "sets_cookie": set_cookie is not None,
        })
        if set_cookie:
            value = set_cookie.split(";", 1)[0].partition("=")[2]
            self.cookie = value or None
            if value:
                self.cookies_seen.append(value)
        return json.loads(raw) if raw else None

    def step(self, step):
        kind = step[0]
        user = self.spec["user"]
        if kind == "new_connection":
            self.connect()
            return False  # not a request: no yield to the scheduler
        if kind == "login":
            form = f"username={user}&password={shop_server.USERS[user][1]}"
            self.request("POST", "/login", form, "application/x-www-form-urlencoded")
        elif kind == "token":
            body = json.dumps({"username": user, "password": shop_server.USERS[user][1]})
            resp = self.request("POST", "/api/v1/auth/token", body, "application/json")
            self.token = resp["access_token"]
            self.tokens_seen.append(self.token)
        elif kind == "list":
            self.request("GET", f"/api/v1/products?page={step[1]}")
        elif kind == "product":
            self.request("GET", f"/api/v1/products/{step[1]}")
        elif kind == "order":
            _, product_id, quantity, amount = step
            # Written by hand so the amount goes on the wire exactly as given ("12.50").
            body = ('{"product_id":%d,"quantity":%d,"amount":%s,"currency":"EUR"}'
                    % (product_id, quantity, amount))
            resp = self.request("POST", "/api/v1/orders", body, "application/json", expect=201)
            self.order_ids.append(resp["id"])
            self.order_amounts.append(amount)
        elif kind == "my_orders":
            resp = self.request("GET", f"/api/v1/users/{shop_server.USERS[user][0]}/orders")
            if resp["count"] != len(self.order_ids):
                raise JourneyError(f"{user}: server lists {resp['count']} orders, "
                                   f"placed {len(self.order_ids)}")
        elif kind == "view_order":
            self.request("GET", f"/api/v1/orders/{self.order_ids[-1]}")
        elif kind == "logout":
            self.request("POST", "/logout")
            if self.cookie is not None:
                raise JourneyError(f"{user}: logout did not clear the cookie")
        else:
            raise JourneyError(f"unknown step {step!r}")
        return True

    def run(self):
        """A generator: yields after every request so the scheduler can interleave."""
        self.connect()
        for step in self.spec["steps"]:
            if self.step(step):
                yield
        self.close()

    def expected(self):
        spec = self.spec
        user = spec["user"]
        secrets = []
        if user:
            secrets.append({"kind": "password", "value": shop_server.USERS[user][1]})
        secrets += [{"kind": "session_cookie", "value": v} for v in self.cookies_seen]
        for tok in self.tokens_seen:
            secrets.append({"kind": "jwt", "value": tok})
            # The signature alone is a leak too (a redactor that keeps the last segment).
            secrets.append({"kind": "jwt_signature", "value": tok.rsplit(".", 1)[1]})
        total = sum((Decimal(a) for a in self.order_amounts), Decimal("0"))
        return {
            "name": spec["name"],
            "user": user,
            "user_id": shop_server.USERS[user][0] if user else None,
            "auth": spec["auth"],
            "jwt_sub": f"user-{user}" if spec["auth"] == "jwt" else None,
            "user_agent": self.user_agent,
            "accept_gzip": spec["gzip"],
            "requests": len(self.requests),
            "connections": len(self.client_ports),
            "client_ports": self.client_ports,
            "orders": len(self.order_ids),
            "order_amounts": [float(a) for a in self.order_amounts],
            "order_amount_sum": float(total),
            "order_amount_sum_cents": int(total * 100),
            "currency": "EUR",
            "order_ids": self.order_ids,
            "request_log": self.requests,
            "secrets": secrets,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--expected", required=True, help="where to write the ground truth JSON")
    ap.add_argument("--seed", type=int, default=7, help="seed of the interleaving scheduler")
    ap.add_argument("--host", default=HOST, help="server address (tests: inside their own network namespace)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    clients = [Client(args.port, spec, args.host) for spec in JOURNEYS]
    active = [(c, c.run()) for c in clients]
    order = []  # the interleaving, for the record
    try:
        while active:
            i = rng.randrange(len(active))
            client, gen = active[i]
            try:
                next(gen)
                order.append(client.spec["name"])
            except StopIteration:
                active.pop(i)
    except (JourneyError, OSError, http.client.HTTPException) as e:
        sys.exit(f"journeys: {e}")
    finally:
        for c in clients:
            c.close()

    journeys = [c.expected() for c in clients]
    all_secrets = [{"journey": None, "kind": "jwt_secret", "value": shop_server.SHOP_JWT_SECRET}]
    for j in journeys:
        all_secrets += [{"journey": j["name"], **s} for s in j["secrets"]]
    cents = sum(j["order_amount_sum_cents"] for j in journeys)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": "scripts/capture-journeys.sh (tests/apps/journeys.py against "
                        "tests/apps/shop_server.py)",
        "server": {"host": args.host, "port": args.port},
        "scheduler_seed": args.seed,
        "jwt_alg": "HS256",
        "jwt_secret": shop_server.SHOP_JWT_SECRET,
        "totals": {
            "journeys": len(journeys),
            "requests": sum(j["requests"] for j in journeys),
            "connections": sum(j["connections"] for j in journeys),
            "orders": sum(j["orders"] for j in journeys),
            "order_amount_sum": float(Decimal(cents) / 100),
            "order_amount_sum_cents": cents,
        },
        "request_order": order,
        "journeys": journeys,
        "never_in_output": all_secrets,
    }
    tmp = args.expected + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.expected)

    print(f"{'journey':<10} {'auth':<9} {'requests':>8} {'conns':>5} {'orders':>6} {'sum':>8}",
          file=sys.stderr)
    for j in journeys:
        print(f"{j['name']:<10} {j['auth']:<9} {j['requests']:>8} {j['connections']:>5} "
              f"{j['orders']:>6} {j['order_amount_sum']:>8.2f}", file=sys.stderr)
    t = doc["totals"]
    print(f"{'total':<10} {'':<9} {t['requests']:>8} {t['connections']:>5} {t['orders']:>6} "
          f"{t['order_amount_sum']:>8.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
