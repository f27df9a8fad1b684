#!/usr/bin/env python3
"""Query latency of a running `apitap ui` (scripts/bench-ui.sh runs it): the sessions list with
each single filter, a long session's page, and that page in a real browser.

  bench_ui.py --base http://127.0.0.1:PORT --db STORE --runs 30 [--browser]

Latency is the wall time of one HTTP request on loopback (connect, query, render, read), as a
browser's first byte to last byte would be; p50 and p95 over --runs requests after one warm-up.
"""

import argparse
import sqlite3
import statistics
import tempfile
import time
import urllib.parse
import urllib.request


def timed_get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        status = r.status
    return time.perf_counter() - t, status, len(body)


def p95(xs):
    xs = sorted(xs)
    return xs[max(0, int(round(0.95 * len(xs))) - 1)]


def measure(base, path, runs):
    timed_get(base + path)  # warm-up: statement cache, pages
    times = []
    size = 0
    for _ in range(runs):
        dt, status, size = timed_get(base + path)
        assert status == 200, (path, status)
        times.append(dt * 1000)
    return statistics.median(times), p95(times), size


def filters(db):
    """One value of each filter that selects something real in the store."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    one = lambda sql: c.execute(sql).fetchone()[0]
    half = one("SELECT count(*) FROM sessions") // 2
    ip = one(f"SELECT client_ip FROM sessions WHERE client_ip IS NOT NULL LIMIT 1 OFFSET {min(5000, half)}")
    user = one("SELECT user FROM sessions WHERE user LIKE 'user%' LIMIT 1")
    first, last = c.execute("SELECT min(first_us), max(last_us) FROM sessions").fetchone()
    mid = (first + last) // 2
    iso = lambda us: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))
    long_sid, long_n = c.execute("SELECT session_id, tx_count FROM sessions ORDER BY tx_count DESC LIMIT 1").fetchone()
    return [
        ("none", {}),
        ("ip (one address)", {"ip": ip}),
        ("ip (a /16)", {"ip": ".".join(ip.split(".")[:2]) + ".0.0/16"}),
        ("user", {"user": user}),
        ("user wildcard", {"user": "user12*"}),
        ("endpoint", {"endpoint": "GET /api/v0/users/{id}"}),
        ("endpoint wildcard", {"endpoint": "POST /api/v1/*"}),
        ("time range (10 min)", {"from": iso(mid), "to": iso(mid + 600_000_000)}),
        ("has attacks", {"attacks": "1"}),
        ("has alerts", {"alerts": "1"}),
        ("alert kind", {"alert": "attack"}),
        ("attack class", {"attack": "sqli"}),
        ("zombie use", {"api": "zombie"}),
        ("sensor", {"sensor": "tap-2"}),
        ("sort by requests", {"sort": "requests"}),
    ], (long_sid, long_n)


def browser(base, sid, runs):
    """Navigation to the long session's page in Debian's chromium: the browser's own timing
    (navigation start to the load event: the HTML received and parsed, the list laid out, the
    timeline drawn), and the wall time from the test's side until the last row and the
    timeline are on the page."""
    from playwright.sync_api import sync_playwright
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    loads, walls = [], []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(), executable_path="/usr/bin/chromium",
                                                   headless=True, args=args, viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        page.goto(f"{base}/sessions/{sid}")
        for _ in range(runs):
            page.goto(base + "/overview")
            t = time.perf_counter()
            page.goto(f"{base}/sessions/{sid}", wait_until="load")
            page.locator("details.tx").last.wait_for(state="attached")
            page.locator("svg.timeline").wait_for(state="visible")
            walls.append((time.perf_counter() - t) * 1000)
            loads.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        ctx.close()
    return (statistics.median(loads), p95(loads)), (statistics.median(walls), p95(walls))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--browser", action="store_true")
    a = ap.parse_args()
    fs, (sid, n) = filters(a.db)
    print(f"{'sessions list filter':28} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}")
    for name, q in fs:
        path = "/sessions" + ("?" + urllib.parse.urlencode(q) if q else "")
        p50, p, size = measure(a.base, path, a.runs)
        print(f"{name:28} {p50:8.1f} {p:8.1f} {size:8d}")
    p50, p, size = measure(a.base, f"/sessions/{sid}", a.runs)
    print(f"{'session page (' + str(n) + ' tx)':28} {p50:8.1f} {p:8.1f} {size:8d}")
    p50, p, size = measure(a.base, "/overview", a.runs)
    print(f"{'overview':28} {p50:8.1f} {p:8.1f} {size:8d}")
    if a.browser:
        (l50, l95), (w50, w95) = browser(a.base, sid, max(10, a.runs // 2))
        print(f"{'browser: load event':28} {l50:8.1f} {l95:8.1f}")
        print(f"{'browser: rows+timeline (wall)':28} {w50:8.1f} {w95:8.1f}")


if __name__ == "__main__":
    main()
