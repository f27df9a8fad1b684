#!/usr/bin/env python3
"""apitap ui in a real browser: Debian's chromium driven by Playwright (tests/tests/ui.rs runs
this against `apitap ui` serving fixtures/ui/incident.jsonl).

Each step is what an analyst does; each check can fail. Screenshots of every view go to
--screenshots (docs/img/ when regenerating the docs).

  browser_test.py --base http://127.0.0.1:PORT --screenshots DIR
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright, expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
ATTACKER_IP = "192.0.2.66"


class Run:
    def __init__(self, base, shots):
        self.base = base.rstrip("/")
        self.shots = pathlib.Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.dialogs = []
        self.errors = []
        self.step_no = 0
        self.scratch = None  # the run's scratch directory, set by main

    def step(self, name):
        self.step_no += 1
        print(f"[{self.step_no}] {name}", flush=True)

    def watch(self, page):
        # A dialog is what an executed XSS payload would open: any one fails the run.
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def shot(self, page, name, full=True):
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full)


def rows(page):
    return page.locator("table.sessions tbody tr")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--screenshots", required=True)
    ap.add_argument("--token", help="sign in with this token first (the login form)")
    ap.add_argument("--analyst", help="the name the token signs notes with")
    a = ap.parse_args()
    r = Run(a.base, a.screenshots)
    r.analyst = a.analyst
    # The browser profile and the export, removed at the end (runs left them in /tmp).
    with tempfile.TemporaryDirectory(prefix="apitap-ui-browser-", ignore_cleanup_errors=True) as scratch, \
            sync_playwright() as p:
        r.scratch = pathlib.Path(scratch)
        ctx = p.chromium.launch_persistent_context(
            str(r.scratch / "profile"), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={"width": 1440, "height": 900}, accept_downloads=True)
        page = ctx.new_page()
        r.watch(page)
        if a.token:
            sign_in(r, page, a.token)
        sid = sessions_and_filters(r, page)
        session_with_attack(r, page, sid)
        alert_to_session(r, page, sid)
        exported = export_html(r, page, sid)
        reopen_offline(r, p, exported)
        notes_and_tags(r, page, sid)
        other_views(r, page)
        ctx.close()
    assert not r.dialogs, f"a payload ran: dialogs {r.dialogs}"
    assert not r.errors, f"page errors: {r.errors}"
    print(f"browser test: {r.step_no} steps passed, screenshots in {r.shots}")


def sign_in(r, page, token):
    r.step("sign in with the analyst's token")
    page.goto(r.base + "/sessions")
    page.wait_for_url("**/login")
    page.fill("input[name=token]", "not-the-token-0123456789")
    page.click("button[type=submit]")
    expect(page.locator("p.warn")).to_contain_text("not valid")
    # The refused token's 401 is the one console error this run expects.
    r.errors = [e for e in r.errors if "401" not in e]
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/overview")


def sessions_and_filters(r, page):
    r.step("open the sessions list")
    page.goto(r.base + "/sessions")
    expect(page.locator("h1")).to_have_text("Sessions")
    total = rows(page).count()
    assert total > 20, f"only {total} sessions listed"
    r.shot(page, "sessions", full=False)

    r.step("filter by client IP")
    page.fill("input[name=ip]", ATTACKER_IP)
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/sessions?ip=192.0.2.66")  # empty filters are left out of the link
    assert rows(page).count() == 1, "one session from the attacker's address"
    expect(rows(page).first.locator("td").nth(2)).to_have_text("mallory")
    sid_href = rows(page).first.locator("a.sid").get_attribute("href")

    r.step("filter by network and user")
    page.goto(r.base + "/sessions")
    page.fill("input[name=ip]", "198.51.100.0/24")
    page.fill("input[name=user]", "alice")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/sessions?ip=198.51.100.0%2F24&user=alice")
    n = rows(page).count()
    assert n >= 2, f"alice has {n} sessions"
    for i in range(n):
        expect(rows(page).nth(i).locator("td").nth(2)).to_have_text("alice")
    r.shot(page, "sessions-filtered", full=False)

    r.step("sessions with attacks, by the checkbox")
    page.goto(r.base + "/sessions")
    page.check("input[name=attacks]")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/sessions?attacks=1")
    assert rows(page).count() == 1
    assert rows(page).first.locator("a.sid").get_attribute("href") == sid_href
    return sid_href.rsplit("/", 1)[1]


def session_with_attack(r, page, sid):
    r.step("open the session with attacks")
    t = time.monotonic()
    page.click("table.sessions a.sid")
    page.wait_for_url(f"**/sessions/{sid}")
    expect(page.locator("svg.timeline")).to_be_visible()
    print(f"    session page usable after {1000 * (time.monotonic() - t):.0f} ms")
    txs = page.locator("details.tx")
    n = txs.count()
    assert n == 28, f"{n} transactions listed"
    dots = page.locator("svg.timeline circle.dot").count()
    assert dots == n, f"timeline has {dots} dots for {n} transactions"
    assert page.locator("svg.timeline .atk-mark").count() == 5, "five attacks marked"
    assert page.locator("svg.timeline .alert-mark").count() == 3, "three alerts marked"

    r.step("the evidence is shown, and the XSS payload is text")
    evidence = page.locator("details.tx.attacked code.evidence")
    texts = [evidence.nth(i).inner_text() for i in range(evidence.count())]
    assert XSS[:64] in texts, f"payload not shown as text: {texts}"
    assert "1' OR '1'='1' --" in texts
    # Inert: no element the payload would have made, no script but ours, no dialog.
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script").count() == 1
    assert page.evaluate("document.querySelectorAll('script:not([src=\"/assets/app.js\"])').length") == 0
    r.shot(page, "session")

    r.step("expand a transaction to its full record")
    attacked = page.locator("details.tx.attacked").nth(1)
    attacked.locator("summary").click()
    record = attacked.locator("pre.record")
    expect(record).to_contain_text('"class": "xss"')
    rec = json.loads(record.inner_text())
    assert rec["request"]["query"].endswith(XSS), "the record's query holds the raw payload"
    attacked.scroll_into_view_if_needed()
    r.shot(page, "session-record", full=False)
    assert not r.dialogs


def alert_to_session(r, page, sid):
    r.step("follow an alert to its session")
    page.goto(r.base + "/alerts")
    expect(page.locator("nav.tabs a.on")).to_contain_text("all")
    r.shot(page, "alerts", full=False)
    page.click("nav.tabs a:has-text('attack_served')")
    page.wait_for_url("**/alerts?kind=attack_served")
    link = page.locator("table.list a.sid")
    assert link.count() == 1
    link.click()
    page.wait_for_url(f"**/sessions/{sid}?alert=*")
    expect(page.locator("p.banner")).to_contain_text("attack_served")
    hl = page.locator("details.tx.hl")
    assert hl.count() == 3, f"{hl.count()} evidence transactions highlighted"
    for i in range(hl.count()):
        assert hl.nth(i).get_attribute("open") is not None, "evidence rows are opened"
        expect(hl.nth(i).locator("summary code.evidence")).to_be_visible()
    page.locator("p.banner").scroll_into_view_if_needed()
    r.shot(page, "session-alert", full=False)


def export_html(r, page, sid):
    r.step("export the session as HTML")
    page.goto(f"{r.base}/sessions/{sid}")
    with page.expect_download() as d:
        page.click("a:has-text('Export HTML')")
    path = r.scratch / "export" / d.value.suggested_filename
    path.parent.mkdir(exist_ok=True)
    d.value.save_as(path)
    html = path.read_text()
    assert "<script" not in html, "an export has no script"
    assert 'src="http' not in html and 'href="http' not in html and "/assets/" not in html
    return path


def reopen_offline(r, p, path):
    r.step("reopen the export offline")
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    ctx = browser.new_context(offline=True, viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    r.watch(page)
    requests = []
    page.on("request", lambda q: requests.append(q.url))
    page.goto(path.as_uri())
    expect(page.locator("h1")).to_contain_text("Session")
    assert page.locator("details.tx").count() == 28
    assert page.locator("svg.timeline circle.dot").count() == 28
    first = page.locator("details.tx.attacked").first
    first.locator("summary").click()
    expect(first.locator("pre.record")).to_contain_text('"attacks"')
    # Styled from its own <style>: the header bar has its dark background.
    bg = page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert bg == "rgb(24, 32, 51)", f"export not styled: {bg}"
    assert all(u.startswith("file:") for u in requests), f"the export fetched {requests}"
    r.shot(page, "export-offline", full=False)
    browser.close()


def notes_and_tags(r, page, sid):
    r.step("add a note and a tag, see them after a reload")
    page.goto(f"{r.base}/sessions/{sid}")
    note = "Confirmed: the search reflects q unescaped. Ticket INC-42. <b>not bold</b>"
    page.fill("form.note-form textarea", note)
    page.click("form.note-form button[type=submit]")
    page.wait_for_url(f"**/sessions/{sid}")
    page.fill("form.row input[name=tag]", "incident-42")
    page.click("form.row button[type=submit]")
    page.wait_for_url(f"**/sessions/{sid}")
    page.reload()
    expect(page.locator("ol.notes li .text")).to_have_text(note)
    if r.analyst:
        expect(page.locator("ol.notes li .meta")).to_contain_text(r.analyst + ", ")
    expect(page.locator(".card.analyst .badge.tag")).to_contain_text("incident-42")
    assert page.locator("ol.notes b").count() == 0, "note markup stays text"
    page.locator(".card.analyst").scroll_into_view_if_needed()
    r.shot(page, "session-notes", full=False)
    page.goto(r.base + "/sessions?tag=incident-42")
    assert rows(page).count() == 1
    expect(rows(page).first).to_contain_text("1 note")


def other_views(r, page):
    r.step("overview and endpoints")
    page.goto(r.base + "/overview")
    assert page.locator("figure.spark svg").count() == 4
    r.shot(page, "overview")
    page.goto(r.base + "/endpoints")
    expect(page.locator("table.list")).to_contain_text("zombie")
    r.shot(page, "endpoints", full=False)
    page.click("table.list tr:has-text('GET /api/v0/users/{id}') td.num a")
    page.wait_for_url("**/sessions?endpoint=*")
    assert rows(page).count() >= 1


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"browser test FAILED: {e}", file=sys.stderr)
        sys.exit(1)
