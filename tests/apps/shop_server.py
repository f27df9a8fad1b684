#!/usr/bin/env python3
"""A small HTTP/1.1 shop API, written for apitap's end-to-end session tests.

Python 3 standard library only. Binds 127.0.0.1 only.

    shop_server.py PORT [--seed N]     serve until SIGINT/SIGTERM

The server is deliberately ordinary: keep-alive HTTP/1.1 (http.server.ThreadingHTTPServer),
a Content-Length on every response, cookie login, HS256 JWT bearer auth, orders with
amounts and a public product catalogue. tests/apps/journeys.py drives it and
scripts/capture-journeys.sh captures the traffic into fixtures/sessions/.

Endpoints (JSON in and out unless noted):

    POST /login                    form `username=..&password=..`; 200 with
                                   `Set-Cookie: SHOPSESSID=<32 hex>; Path=/; HttpOnly`
    POST /logout                   cookie; clears the session and the cookie
    POST /api/v1/auth/token        JSON {"username","password"}; 200 {"access_token": <JWT>,
                                   "token_type": "Bearer", "expires_in": 3600}
    GET  /api/v1/products?page=N   public; 10 products a page; gzip if the client accepts it
    GET  /api/v1/products/<id>     public
    GET  /api/v1/users/<id>/orders auth (cookie or bearer); only the caller's own orders;
                                   `?status=` is a deliberately injectable filter: a quote in it
                                   gives a 500 with a MySQL syntax error (attack-detection tests)
    POST /api/v1/orders            auth; JSON {"product_id","quantity","amount","currency"};
                                   201 with the order and `Location`
    GET  /api/v1/orders/<uuid>     auth; only the caller's own orders
    GET  /api/v0/orders/<uuid>     auth; ANY order (deliberately vulnerable, for the
                                   behaviours scenarios of tests/apps/abuse.py)

Added for the API inventory (tests/apps/shop.openapi.yaml documents the intended API;
scripts/capture-inventory.sh calls each of these):

    GET  /healthz                        public; {"ok": true}
    GET  /api/v1/products/<id>/price     public; deprecated in the spec
    GET  /api/v1/products?debug=1        `debug` is accepted, undocumented: adds build info
    GET  /api/v1/admin/users             auth; undocumented (a shadow endpoint)
    DELETE /api/v1/products/<id>         auth; undocumented method on a documented path;
                                         answers as if deleted, changes nothing
    GET  /api/v0/products/<id>           public; the old v0 shape, still served

Unauthenticated calls to the auth endpoints get 401 with `WWW-Authenticate: Bearer`.

Randomness (session ids, JWT `jti`, order ids) comes from one `random.Random(seed)`, so a run
that sends the same requests in the same order gets the same ids. The session ids are
therefore predictable: this is a test fixture, never run it anywhere that matters. JWT
`iat`/`exp` are the wall clock so that a token in a capture is valid at the capture's time.
"""

import argparse
import base64
import gzip
import hashlib
import hmac
import http.server
import json
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid

HOST = "127.0.0.1"

# The HS256 signing key. A published test constant (fixtures/sessions/README.md): the sensor
# tests use it to verify the tokens in the capture. Never a real secret.
SHOP_JWT_SECRET = "test-jwt-secret-do-not-use"
JWT_TTL_S = 3600
COOKIE_NAME = "SHOPSESSID"
PAGE_SIZE = 10

# username -> (numeric id, password). The passwords are test secrets: apitap must never
# print them. Only [a-z0-9-] so that their form-encoded and JSON forms equal the raw value.
USERS = {
    "alice": (1, "alice-password-123"),
    "bob": (2, "bob-password-456"),
    "carol": (3, "carol-password-789"),
    "dave": (4, "dave-password-321"),
    "erin": (5, "erin-password-654"),
}

_ADJ = ["red", "blue", "green", "steel", "oak", "linen", "glass", "copper", "wool", "paper"]
_NOUN = ["mug", "lamp", "chair", "notebook", "kettle", "scarf", "vase", "bowl", "pen", "clock"]
# 30 products; deterministic so listings (and their gzip) are the same on every run.
PRODUCTS = [
    {
        "id": i,
        "sku": f"SKU-{i:04d}",
        "name": f"{_ADJ[i % len(_ADJ)]} {_NOUN[(i * 7) % len(_NOUN)]}",
        "price": round(2.5 + (i * 37 % 200) / 4, 2),
        "currency": "EUR",
        "in_stock": i % 5 != 0,
        "description": f"A {_ADJ[i % len(_ADJ)]} {_NOUN[(i * 7) % len(_NOUN)]} from the "
        f"apitap test catalogue, item number {i}. Nothing here is for sale.",
    }
    for i in range(1, 31)
]

_ORDER_PATH = re.compile(r"^/api/v1/orders/([0-9a-f-]{36})$")
_USER_ORDERS_PATH = re.compile(r"^/api/v1/users/(\d+)/orders$")
_PRODUCT_PATH = re.compile(r"^/api/v1/products/(\d+)$")
_PRODUCT_PRICE_PATH = re.compile(r"^/api/v1/products/(\d+)/price$")
_V0_PRODUCT_PATH = re.compile(r"^/api/v0/products/(\d+)$")
BUILD_INFO = {"build": "apitap-shop/1.0", "python": "3"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, secret=SHOP_JWT_SECRET):
    """RFC 7519 JWT, RFC 7515 compact serialisation, HS256 (RFC 7518 section 3.2)."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def verify_jwt(token, now, secret=SHOP_JWT_SECRET):
    """The claims if the token is a valid, unexpired HS256 JWT signed with `secret`, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if header.get("alg") != "HS256":
        return None
    expected = hmac.new(
        secret.encode(), (parts[0] + "." + parts[1]).encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(b64url(expected), parts[2]):
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    return claims


class Shop:
    """All server state, behind one lock (requests from several connections run in threads)."""

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.sessions = {}  # SHOPSESSID -> username
        self.orders = {}  # order id -> order dict (with "user")

    def new_session(self, username):
        with self.lock:
            sid = "%032x" % self.rng.getrandbits(128)
            self.sessions[sid] = username
            return sid

    def end_session(self, sid):
        with self.lock:
            return self.sessions.pop(sid, None)

    def session_user(self, sid):
        with self.lock:
            return self.sessions.get(sid)

    def new_uuid(self):
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add_order(self, order):
        with self.lock:
            self.orders[order["id"]] = order

    def user_orders(self, username):
        with self.lock:
            return [o for o in self.orders.values() if o["user"] == username]

    def order(self, order_id):
        with self.lock:
            return self.orders.get(order_id)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "apitap-shop/1.0"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this many seconds

    shop = None  # set in main()

    def log_message(self, fmt, *args):  # the capture script wants a quiet server
        pass

    # ---- responses -------------------------------------------------------------------

    def _send(self, status, obj, headers=(), compressible=False):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if compressible and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            # mtime=0: the same body gives the same gzip bytes on every run.
            body = gzip.compress(body, mtime=0)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, message, headers=()):
        self._send(status, {"error": message}, headers)

    def _sql_error(self, value):
        body = ("You have an error in your SQL syntax; check the manual that corresponds to "
                f"your MySQL server version for the right syntax to use near '{value}' at line 1"
                ).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _unauthorized(self):
        self._error(401, "authentication required", [("WWW-Authenticate", 'Bearer realm="shop"')])

    # ---- request helpers -------------------------------------------------------------

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self):
        try:
            obj = json.loads(self._body() or b"null")
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    def _cookie(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME:
                return value
        return None

    def _user(self):
        """The authenticated username (bearer JWT first, then the session cookie), or None."""
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            claims = verify_jwt(auth[len("Bearer "):].strip(), int(time.time()))
            name = claims and claims.get("name")
            return name if name in USERS else None
        sid = self._cookie()
        return self.shop.session_user(sid) if sid else None

    # ---- routes ----------------------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/api/v1/products":
            query = urllib.parse.parse_qs(url.query)
            try:
                page = int(query.get("page", ["1"])[0])
            except ValueError:
                return self._error(400, "page must be an integer")
            pages = (len(PRODUCTS) + PAGE_SIZE - 1) // PAGE_SIZE
            if page < 1:
                return self._error(400, "page must be >= 1")
            items = PRODUCTS[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            listing = {"page": page, "pages": pages, "per_page": PAGE_SIZE,
                       "total": len(PRODUCTS), "items": items}
            if "debug" in query:  # undocumented; absent, the listing is as it always was
                listing["debug"] = BUILD_INFO
            return self._send(200, listing, compressible=True)
        m = _PRODUCT_PATH.match(path)
        if m:
            pid = int(m.group(1))
            if 1 <= pid <= len(PRODUCTS):
                return self._send(200, PRODUCTS[pid - 1])
            return self._error(404, "no such product")
        m = _USER_ORDERS_PATH.match(path)
        if m:
            user = self._user()
            if user is None:
                return self._unauthorized()
            if USERS[user][0] != int(m.group(1)):
                return self._error(403, "not your orders")
            status = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("status")
            if status and "'" in status[0]:
                # A deliberately vulnerable filter: the value reaches SQL unquoted, and the
                # database's error page leaks (what detection reads as the attack's outcome).
                return self._sql_error(status[0])
            orders = [_public(o) for o in self.shop.user_orders(user)]
            return self._send(200, {"user_id": USERS[user][0], "orders": orders,
                                    "count": len(orders)}, compressible=True)
        m = _ORDER_PATH.match(path)
        if m:
            user = self._user()
            if user is None:
                return self._unauthorized()
            order = self.shop.order(m.group(1))
            if order is None or order["user"] != user:
                return self._error(404, "no such order")
            return self._send(200, _public(order))
        if abuse_route(self, path):
            return None
        return self._get_inventory_routes(path)

    def _get_inventory_routes(self, path):
        """The GET routes added for the API inventory (module docstring)."""
        if path == "/healthz":
            return self._send(200, {"ok": True})
        m = _PRODUCT_PRICE_PATH.match(path)
        if m:
            pid = int(m.group(1))
            if 1 <= pid <= len(PRODUCTS):
                p = PRODUCTS[pid - 1]
                return self._send(200, {"id": pid, "price": p["price"], "currency": p["currency"]})
            return self._error(404, "no such product")
        m = _V0_PRODUCT_PATH.match(path)
        if m:
            pid = int(m.group(1))
            if 1 <= pid <= len(PRODUCTS):
                p = PRODUCTS[pid - 1]
                return self._send(200, {"id": pid, "title": p["name"], "cost": p["price"]})
            return self._error(404, "no such product")
        if path == "/api/v1/admin/users":
            if self._user() is None:
                return self._unauthorized()
            users = [{"id": uid, "username": name, "admin": name == "alice"}
                     for name, (uid, _) in sorted(USERS.items(), key=lambda kv: kv[1][0])]
            return self._send(200, {"users": users, "count": len(users)})
        return self._error(404, "not found")

    def do_DELETE(self):
        path = urllib.parse.urlsplit(self.path).path
        self._body()
        m = _PRODUCT_PATH.match(path)
        if m:
            if self._user() is None:
                return self._unauthorized()
            pid = int(m.group(1))
            if not 1 <= pid <= len(PRODUCTS):
                return self._error(404, "no such product")
            return self._send(200, {"ok": True, "id": pid, "deleted": True})
        return self._error(404, "not found")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/login":
            form = urllib.parse.parse_qs(self._body().decode("utf-8", "replace"))
            username = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            if username not in USERS or not hmac.compare_digest(USERS[username][1], password):
                return self._error(401, "bad credentials")
            sid = self.shop.new_session(username)
            return self._send(
                200, {"ok": True, "user": username},
                [("Set-Cookie", f"{COOKIE_NAME}={sid}; Path=/; HttpOnly")],
            )
        if path == "/logout":
            self._body()
            sid = self._cookie()
            if not sid or self.shop.end_session(sid) is None:
                return self._unauthorized()
            return self._send(
                200, {"ok": True},
                [("Set-Cookie", f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly")],
            )
        if path == "/api/v1/auth/token":
            req = self._json_body()
            if req is None:
                return self._error(400, "expected a JSON object")
            username = req.get("username")
            password = req.get("password")
            if (not isinstance(username, str) or username not in USERS
                    or not isinstance(password, str)
                    or not hmac.compare_digest(USERS[username][1], password)):
                return self._error(401, "bad credentials")
            now = int(time.time())
            token = make_jwt({
                "sub": f"user-{username}",
                "name": username,
                "role": "customer",
                "iat": now,
                "exp": now + JWT_TTL_S,
                "jti": self.shop.new_uuid(),
            })
            return self._send(
                200,
                {"access_token": token, "token_type": "Bearer", "expires_in": JWT_TTL_S},
                [("Cache-Control", "no-store")],
            )
        if path == "/api/v1/orders":
            req = self._json_body()
            user = self._user()
            if user is None:
                return self._unauthorized()
            if req is None:
                return self._error(400, "expected a JSON object")
            pid, qty, amount = req.get("product_id"), req.get("quantity"), req.get("amount")
            if (not isinstance(pid, int) or not 1 <= pid <= len(PRODUCTS)
                    or not isinstance(qty, int) or qty < 1
                    or not isinstance(amount, (int, float)) or amount <= 0):
                return self._error(422, "product_id, quantity and amount are required")
            order = {
                "id": self.shop.new_uuid(),
                "user": user,
                "user_id": USERS[user][0],
                "product_id": pid,
                "quantity": qty,
                "amount": amount,
                "currency": req.get("currency", "EUR"),
                "status": "placed",
            }
            self.shop.add_order(order)
            return self._send(201, _public(order),
                              [("Location", f"/api/v1/orders/{order['id']}")])
        self._body()
        return self._error(404, "not found")


def _public(order):
    return {k: v for k, v in order.items() if k != "user"}


# ---- behaviours scenarios (tests/apps/abuse.py, scripts/capture-abuse.sh) ----------------
# A legacy order route without the ownership check, so that a BOLA attack can succeed, and
# extra customers (--extra-users), so that behaviours have a population to compare with.
# Nothing here changes the routes above.

_LEGACY_ORDER_PATH = re.compile(r"^/api/v0/orders/([0-9a-f-]{36})$")


def abuse_route(handler, path):
    """Serve GET /api/v0/orders/<uuid>: any authenticated user gets any order (deliberately
    vulnerable: broken object-level authorization). True when the path was this route."""
    m = _LEGACY_ORDER_PATH.match(path)
    if not m:
        return False
    if handler._user() is None:
        handler._unauthorized()
        return True
    order = handler.shop.order(m.group(1))
    if order is None:
        handler._error(404, "no such order")
    else:
        handler._send(200, _public(order))
    return True


def extra_users(n):
    """Customers shopper01.. with passwords shopper-pass-01.., ids from 101."""
    return {f"shopper{i:02d}": (100 + i, f"shopper-pass-{i:02d}") for i in range(1, n + 1)}


def _stop(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--seed", type=int, default=1, help="seed for session, token and order ids")
    ap.add_argument("--host", default=HOST, help="address to bind (tests: inside their own network namespace)")
    ap.add_argument("--extra-users", type=int, default=0,
                    help="add customers shopper01.. (behaviours scenarios)")
    args = ap.parse_args()
    USERS.update(extra_users(args.extra_users))
    Handler.shop = Shop(args.seed)
    srv = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    # Stop cleanly on SIGTERM and on SIGINT. Both are set explicitly: a background job of a
    # non-interactive shell starts with SIGINT ignored, and Python keeps an ignored SIGINT.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    print(f"shop_server listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
