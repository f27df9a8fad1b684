#!/usr/bin/env python3
"""A mixed workload against tests/apps/shop_server.py for the API inventory, and its truth.

Python 3 standard library only.

    inventory_workload.py PORT --truth OUT.json

Every call is a real request on a real keep-alive TCP connection (http.client), to the shop
on 127.0.0.1:PORT. The Host header names the host the call is for: `shop.example.test` and
`shop.internal.test` are the two hosts of tests/apps/shop.openapi.yaml's server, and
`127.0.0.1:PORT` (a client calling the address) is a host no spec covers.

Each call in CALLS says, by hand, what apitap must make of it with the spec
tests/apps/shop.openapi.yaml loaded and `retired = ["/api/v0/*"]` (fixtures/inventory/
shop-api.toml): its api status and reason, operation id, template and drift. The truth
file lists every call with its connection's client port and its depth on the connection,
so that a replay's http records can be matched to it. Any unexpected response status aborts
with a non-zero exit and no truth file.
"""

import argparse
import http.client
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import shop_server  # noqa: E402  (USERS: one source of truth)

HOST = "127.0.0.1"
SHOP = "shop.example.test"
INTERNAL = "shop.internal.test"
SCHEMA_VERSION = 1

# Expectations, short: (status, reason, operation_id, template, drift).
DOC = "documented"


def doc(op, template, drift=()):
    return ("documented", "operation", op, template, list(drift))


def zombie_deprecated(op, template):
    return ("zombie", "deprecated", op, template, [])


def zombie_retired():
    return ("zombie", "retired", None, None, [])


def shadow_path():
    return ("shadow", "undocumented_path", None, None, [])


def shadow_method(template):
    return ("shadow", "undocumented_method", None, template, [])


def unmanaged():
    return ("unmanaged", "no_spec", None, None, [])


def query_drift(name):
    return {"kind": "undocumented_query_param", "name": name}


def status_drift(status):
    return {"kind": "undeclared_status", "status": status}


def type_drift(content_type):
    return {"kind": "unaccepted_content_type", "content_type": content_type}


# One entry per connection: (name, host, [calls]). A call: (method, target, body kind,
# credential, expected HTTP status, expectation). Body kinds: None, ("form", user),
# ("json_login", user, content type), ("order", product_id). Credentials: None, "bearer",
# "cookie" (the connection's own, from its login/token call).
P = "/api/v1/products"
CONNECTIONS = [
    ("catalogue", SHOP, [
        ("GET", "/healthz", None, None, 200, doc("getHealth", "/healthz")),
        ("GET", P + "?page=1", None, None, 200, doc("listProducts", P)),
        ("GET", P + "?page=2&debug=1", None, None, 200,
         doc("listProducts", P, [query_drift("debug")])),
        ("GET", P + "?page=0", None, None, 400, doc("listProducts", P)),
        ("GET", P + "/3", None, None, 200, doc("getProduct", P + "/{product_id}")),
        ("GET", P + "/99", None, None, 404, doc("getProduct", P + "/{product_id}")),
        ("GET", P + "/3/price", None, None, 200,
         zombie_deprecated("getProductPrice", P + "/{product_id}/price")),
        ("GET", P + "/4/price", None, None, 200,
         zombie_deprecated("getProductPrice", P + "/{product_id}/price")),
        ("GET", "/api/v0/products/3", None, None, 200, zombie_retired()),
        ("GET", "/api/v0/products/12", None, None, 200, zombie_retired()),
    ]),
    ("alice-bearer", SHOP, [
        ("POST", "/api/v1/auth/token", ("json_login", "alice", "application/json"), None, 200,
         doc("createToken", "/api/v1/auth/token")),
        ("GET", "/api/v1/users/1/orders", None, "bearer", 200,
         doc("listUserOrders", "/api/v1/users/{user_id}/orders")),
        ("POST", "/api/v1/orders", ("order", 3), "bearer", 201,
         doc("createOrder", "/api/v1/orders")),
        ("GET", "/api/v1/orders/{last_order}", None, "bearer", 200,
         doc("getOrder", "/api/v1/orders/{order_id}")),
        ("GET", "/api/v1/users/2/orders", None, "bearer", 403,
         doc("listUserOrders", "/api/v1/users/{user_id}/orders", [status_drift(403)])),
        ("GET", "/api/v1/admin/users", None, "bearer", 200, shadow_path()),
        ("DELETE", P + "/5", None, "bearer", 200, shadow_method(P + "/{product_id}")),
        ("GET", P + "?page=3&debug=1&trace=on", None, "bearer", 200,
         doc("listProducts", P, [query_drift("debug"), query_drift("trace")])),
    ]),
    ("bob-token-as-text", SHOP, [
        # The JSON is sent as text/plain; the server parses it anyway.
        ("POST", "/api/v1/auth/token", ("json_login", "bob", "text/plain"), None, 200,
         doc("createToken", "/api/v1/auth/token", [type_drift("text/plain")])),
        ("GET", "/api/v1/users/2/orders", None, "bearer", 200,
         doc("listUserOrders", "/api/v1/users/{user_id}/orders")),
        ("DELETE", P + "/6", None, "bearer", 200, shadow_method(P + "/{product_id}")),
    ]),
    ("carol-cookie", SHOP, [
        ("POST", "/login", ("form", "carol"), None, 200, doc("login", "/login")),
        ("GET", "/api/v1/admin/users", None, "cookie", 200, shadow_path()),
        ("POST", "/api/v1/orders", ("order", 7), "cookie", 201,
         doc("createOrder", "/api/v1/orders")),
        ("GET", "/api/v1/users/3/orders", None, "cookie", 200,
         doc("listUserOrders", "/api/v1/users/{user_id}/orders")),
        ("POST", "/logout", None, "cookie", 200, doc("logout", "/logout")),
    ]),
    ("anonymous", SHOP, [
        ("GET", "/api/v1/admin/users", None, None, 401, shadow_path()),
        ("DELETE", P + "/7", None, None, 401, shadow_method(P + "/{product_id}")),
        ("GET", "/api/v1/orders/{last_order}", None, None, 401,
         doc("getOrder", "/api/v1/orders/{order_id}")),
    ]),
    ("internal-host", INTERNAL, [
        ("GET", P + "/7", None, None, 200, doc("getProduct", P + "/{product_id}")),
        ("GET", "/api/v0/products/7", None, None, 200, zombie_retired()),
    ]),
    ("by-address", None, [  # Host: 127.0.0.1:PORT, which no spec covers
        ("GET", "/healthz", None, None, 200, unmanaged()),
        ("GET", P + "/1", None, None, 200, unmanaged()),
        # A retired path is a zombie whatever the host.
        ("GET", "/api/v0/products/1", None, None, 200, zombie_retired()),
    ]),
]


def body_of(kind):
    """(bytes, content type) of a body kind."""
    if kind is None:
        return None, None
    if kind[0] == "form":
        user = kind[1]
        form = f"username={user}&password={shop_server.USERS[user][1]}"
        return form.encode(), "application/x-www-form-urlencoded"
    if kind[0] == "json_login":
        user, ctype = kind[1], kind[2]
        doc_ = {"username": user, "password": shop_server.USERS[user][1]}
        return json.dumps(doc_).encode(), ctype
    if kind[0] == "order":
        order = {"product_id": kind[1], "quantity": 1, "amount": 9.5, "currency": "EUR"}
        return json.dumps(order).encode(), "application/json"
    raise ValueError(kind)


def run(port):
    calls = []
    last_order = "00000000-0000-4000-8000-000000000000"
    for name, host, steps in CONNECTIONS:
        host = host or f"{HOST}:{port}"
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        token = cookie = None
        for depth, (method, target, body_kind, cred, want, expect) in enumerate(steps, 1):
            target = target.replace("{last_order}", last_order)
            body, ctype = body_of(body_kind)
            headers = {"Host": host, "User-Agent": f"inventory-workload/{name}"}
            if ctype:
                headers["Content-Type"] = ctype
            if cred == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            elif cred == "cookie":
                headers["Cookie"] = f"{shop_server.COOKIE_NAME}={cookie}"
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != want:
                sys.exit(f"{name} {method} {target}: status {resp.status}, expected {want}: {data!r}")
            reply = json.loads(data) if data else {}
            if "access_token" in reply:
                token = reply["access_token"]
            if resp.getheader("Set-Cookie", "").startswith(shop_server.COOKIE_NAME + "="):
                cookie = resp.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]
            if method == "POST" and target == "/api/v1/orders":
                last_order = reply["id"]
            path, _, query = target.partition("?")
            status, reason, op, template, drift = expect
            calls.append({
                "connection": name, "client_port": client_port, "depth": depth,
                "host": host, "method": method, "path": path,
                "query": query if "?" in target else None,
                "content_type": ctype, "response_status": resp.status,
                "expected": {"status": status, "reason": reason, "operation_id": op,
                             "template": template, "drift": drift},
            })
        conn.close()
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--truth", required=True)
    args = ap.parse_args()
    calls = run(args.port)
    by_status = {}
    for c in calls:
        s = c["expected"]["status"]
        by_status[s] = by_status.get(s, 0) + 1
    truth = {
        "schema_version": SCHEMA_VERSION,
        "spec": "shop.openapi.yaml",
        "config": {"retired": ["/api/v0/*"]},
        "server_port": args.port,
        "totals": {"requests": len(calls), "connections": len(CONNECTIONS),
                   "by_status": dict(sorted(by_status.items()))},
        "requests": calls,
    }
    with open(args.truth, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print(f"[inventory-workload] {len(calls)} calls on {len(CONNECTIONS)} connections: "
          f"{truth['totals']['by_status']}", file=sys.stderr)


if __name__ == "__main__":
    main()
