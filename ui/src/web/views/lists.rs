//! The alerts list, the endpoint inventory, the overview and the login form.

use std::fmt::Write;

use crate::store::{AlertView, EndpointView, MinuteView, Overview, TopEntry};
use crate::web::chart::minute_bars;
use crate::web::html::{badge, page, seg, status_class, time, url, Esc, Mode, Nav, OrDash};

use super::session::evidence;

/// The alerts page: kinds as tabs with counts, then the alerts of the chosen kind, newest
/// first. `rows` holds one more alert than a page when there is a next page.
pub fn alerts(
    kind: Option<&str>,
    kinds: &[(String, i64)],
    mut rows: Vec<AlertView>,
    page_no: usize,
    per_page: usize,
) -> String {
    let has_next = rows.len() > per_page;
    rows.truncate(per_page);
    let mut b = String::from("<div class=\"head\"><h1>Alerts</h1></div><nav class=\"tabs\">");
    let total: i64 = kinds.iter().map(|(_, n)| n).sum();
    let _ = write!(
        b,
        "<a href=\"/alerts\"{}>all <span class=\"dim\">{total}</span></a>",
        if kind.is_none() { " class=\"on\"" } else { "" }
    );
    for (k, n) in kinds {
        let _ = write!(
            b,
            "<a href=\"{}\"{}>{} <span class=\"dim\">{n}</span></a>",
            Esc(&url("/alerts", &[("kind", k.clone())])),
            if kind == Some(k.as_str()) {
                " class=\"on\""
            } else {
                ""
            },
            Esc(k)
        );
    }
    b.push_str("</nav>");
    if rows.is_empty() {
        b.push_str("<p class=\"empty\">No alerts. Alerts come from attack detection and abuse analyses (see docs/ui.md).</p>");
    } else {
        b.push_str("<table class=\"list\"><thead><tr><th>Raised</th><th>Kind</th><th>User</th><th>Client</th><th>Endpoint</th><th>Evidence</th><th>Session</th></tr></thead><tbody>");
        for a in &rows {
            alert_row(&mut b, a);
        }
        b.push_str("</tbody></table>");
    }
    let mut q: Vec<(&str, String)> = kind.map(|k| ("kind", k.to_owned())).into_iter().collect();
    b.push_str("<nav class=\"pager\">");
    if page_no > 0 {
        q.push(("page", (page_no - 1).to_string()));
        let _ = write!(b, "<a href=\"{}\">← newer</a>", Esc(&url("/alerts", &q)));
        q.pop();
    }
    let _ = write!(b, "<span>page {}</span>", page_no + 1);
    if has_next {
        q.push(("page", (page_no + 1).to_string()));
        let _ = write!(b, "<a href=\"{}\">older →</a>", Esc(&url("/alerts", &q)));
    }
    b.push_str("</nav>");
    page("Alerts", Nav::Alerts, Mode::Live, &b)
}

fn alert_row(b: &mut String, a: &AlertView) {
    let _ = write!(b, "<tr><td class=\"t\">{}</td><td>", Esc(&time(a.ts_us)));
    badge(b, "alert", &a.kind);
    let _ = write!(
        b,
        "</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>",
        OrDash(a.user.as_deref()),
        Esc(a.client_ip.as_deref().unwrap_or("–")),
        OrDash(a.endpoint.as_deref())
    );
    evidence(b, &a.evidence);
    b.push_str("</td><td>");
    match &a.session_id {
        Some(s) => {
            let mut href = url(
                &format!("/sessions/{}", seg(s)),
                &[("alert", a.id.to_string())],
            );
            href.push_str("#evidence");
            let _ = write!(
                b,
                "<a class=\"sid\" href=\"{}\">open session, {} evidence</a>",
                Esc(&href),
                a.transaction_ids.len()
            );
        }
        None => {
            let q: Vec<(&str, String)> = a.client_ip.iter().map(|ip| ("ip", ip.clone())).collect();
            let _ = write!(
                b,
                "<a href=\"{}\">sessions of this client</a>",
                Esc(&url("/sessions", &q))
            );
        }
    }
    b.push_str("</td></tr>");
}

/// The inventory page. `rows` holds one more endpoint than a page when there is a next page.
pub fn endpoints(
    pattern: Option<&str>,
    api_status: Option<&str>,
    mut rows: Vec<EndpointView>,
    page_no: usize,
    per_page: usize,
) -> String {
    let has_next = rows.len() > per_page;
    rows.truncate(per_page);
    let mut b = String::from("<div class=\"head\"><h1>Endpoints</h1></div>");
    let _ = write!(
        b,
        "<form class=\"filters narrow\" method=\"get\" action=\"/endpoints\"><label>Endpoint<input name=\"q\" value=\"{}\" placeholder=\"GET /api/*\"></label>\
         <label>API status<select name=\"api\"><option value=\"\">any</option>",
        Esc(pattern.unwrap_or(""))
    );
    for s in ["documented", "shadow", "zombie", "unmanaged"] {
        let sel = if api_status == Some(s) {
            " selected"
        } else {
            ""
        };
        let _ = write!(b, "<option{sel}>{s}</option>");
    }
    b.push_str("</select></label><div class=\"buttons\"><button type=\"submit\">Apply</button><a href=\"/endpoints\">Reset</a></div></form>");
    if rows.is_empty() {
        b.push_str("<p class=\"empty\">No endpoint matches.</p>");
    } else {
        b.push_str("<table class=\"list\"><thead><tr><th>Endpoint</th><th>API</th><th class=\"num\">Requests</th><th>Status codes</th><th>Auth</th><th class=\"num\">Attacks</th><th>Last seen</th><th class=\"num\">Sessions</th></tr></thead><tbody>");
        for e in &rows {
            endpoint_row(&mut b, e);
        }
        b.push_str("</tbody></table>");
    }
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(p) = pattern {
        q.push(("q", p.to_owned()));
    }
    if let Some(s) = api_status {
        q.push(("api", s.to_owned()));
    }
    b.push_str("<nav class=\"pager\">");
    if page_no > 0 {
        q.push(("page", (page_no - 1).to_string()));
        let _ = write!(
            b,
            "<a href=\"{}\">← previous</a>",
            Esc(&url("/endpoints", &q))
        );
        q.pop();
    }
    let _ = write!(b, "<span>page {}</span>", page_no + 1);
    if has_next {
        q.push(("page", (page_no + 1).to_string()));
        let _ = write!(b, "<a href=\"{}\">next →</a>", Esc(&url("/endpoints", &q)));
    }
    b.push_str("</nav>");
    page("Endpoints", Nav::Endpoints, Mode::Live, &b)
}

fn endpoint_row(b: &mut String, e: &EndpointView) {
    let _ = write!(
        b,
        "<tr><td><code>{}</code><div class=\"dim small\">{}</div></td><td>",
        Esc(&e.endpoint),
        Esc(e.host.as_deref().unwrap_or(""))
    );
    match e.api_status.as_deref() {
        Some(s) => {
            badge(b, &format!("api-{s}"), s);
            if let Some(op) = &e.operation_id {
                let _ = write!(b, "<div class=\"dim small\">{}</div>", Esc(op));
            }
        }
        None => b.push_str("<span class=\"dim\">unknown</span>"),
    }
    let _ = write!(b, "</td><td class=\"num\">{}</td><td>", e.requests);
    for (status, n) in &e.status {
        let shown = if *status == 0 {
            "none".to_owned()
        } else {
            status.to_string()
        };
        let _ = write!(
            b,
            "<span class=\"code {}\">{shown}<small>×{n}</small></span> ",
            status_class((*status != 0).then_some(*status))
        );
    }
    b.push_str("</td><td>");
    for (scheme, n) in &e.auth {
        let _ = write!(
            b,
            "<span class=\"auth\">{}<small>×{n}</small></span> ",
            Esc(scheme)
        );
    }
    let _ = write!(
        b,
        "</td><td class=\"num\">{}</td><td class=\"t\">{}</td><td class=\"num\"><a href=\"{}\">{}</a></td></tr>",
        e.attacks,
        Esc(&e.last_us.map(time).unwrap_or_default()),
        Esc(&url("/sessions", &[("endpoint", e.endpoint.clone())])),
        e.sessions
    );
}

/// One per-minute chart of the overview.
struct Series {
    title: &'static str,
    value: fn(&MinuteView) -> i64,
    /// Its colour (a stylesheet class).
    class: &'static str,
}

/// The overview's charts, in order.
const SERIES: [Series; 4] = [
    Series {
        title: "Requests",
        value: |m| m.requests,
        class: "c-req",
    },
    Series {
        title: "Sessions started",
        value: |m| m.sessions,
        class: "c-ses",
    },
    Series {
        title: "Attacks",
        value: |m| m.attacks,
        class: "c-atk",
    },
    Series {
        title: "Alerts",
        value: |m| m.alerts,
        class: "c-alert",
    },
];

/// The overview page.
pub fn overview(o: &Overview) -> String {
    let mut b = String::from("<div class=\"head\"><h1>Overview</h1>");
    if let (Some(first), Some(last)) = (o.minutes.first(), o.minutes.last()) {
        let _ = write!(
            b,
            "<span class=\"dim\">the last {} minutes with traffic, to {} UTC</span>",
            o.minutes.len(),
            Esc(&time((last.minute + 1) * 60_000_000))
        );
        let _ = first;
    }
    b.push_str("</div><section class=\"totals\">");
    for (name, n) in &o.totals {
        let _ = write!(
            b,
            "<div class=\"total\"><b>{n}</b><span>{name}</span></div>"
        );
    }
    b.push_str("</section><section class=\"sparks\">");
    for s in SERIES {
        b.push_str(&minute_bars(s.title, &o.minutes, s.value, s.class));
    }
    b.push_str("</section><section class=\"tops\">");
    top(&mut b, "Top endpoints", &o.endpoints, |n| {
        url("/sessions", &[("endpoint", n.to_owned())])
    });
    top(&mut b, "Top client IPs", &o.ips, |n| {
        url("/sessions", &[("ip", n.to_owned())])
    });
    top(
        &mut b,
        "Top users (sessions in these minutes)",
        &o.users,
        |n| url("/sessions", &[("user", n.to_owned())]),
    );
    counts(&mut b, "Alerts by kind", &o.alert_kinds, |k| {
        url("/alerts", &[("kind", k.to_owned())])
    });
    counts(&mut b, "Attacks by class", &o.attack_classes, |k| {
        url("/sessions", &[("attack", k.to_owned())])
    });
    counts(&mut b, "Store counters", &o.counters, |_| String::new());
    b.push_str("</section>");
    page("Overview", Nav::Overview, Mode::Live, &b)
}

fn top(b: &mut String, title: &str, rows: &[TopEntry], link: impl Fn(&str) -> String) {
    let _ = write!(b, "<div class=\"card\"><h3>{}</h3>", Esc(title));
    if rows.is_empty() {
        b.push_str("<p class=\"dim\">none yet</p></div>");
        return;
    }
    let max = rows.iter().map(|r| r.requests).max().unwrap_or(1).max(1);
    b.push_str("<table class=\"mini top\"><tr><th></th><th class=\"num\">requests</th><th class=\"num\">attacks</th></tr>");
    for r in rows {
        let _ = write!(
            b,
            "<tr><td><a href=\"{}\"><code>{}</code></a><svg class=\"share\" viewBox=\"0 0 100 4\" preserveAspectRatio=\"none\"><rect width=\"{:.1}\" height=\"4\"/></svg></td><td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
            Esc(&link(&r.name)),
            Esc(&r.name),
            r.requests as f64 * 100.0 / max as f64,
            r.requests,
            if r.attacks > 0 { " hot" } else { "" },
            r.attacks
        );
    }
    b.push_str("</table></div>");
}

fn counts(b: &mut String, title: &str, rows: &[(String, i64)], link: impl Fn(&str) -> String) {
    let _ = write!(b, "<div class=\"card\"><h3>{}</h3>", Esc(title));
    if rows.is_empty() {
        b.push_str("<p class=\"dim\">none yet</p></div>");
        return;
    }
    b.push_str("<table class=\"mini\">");
    for (name, n) in rows {
        let href = link(name);
        if href.is_empty() {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
                Esc(name)
            );
        } else {
            let _ = write!(
                b,
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"num\">{n}</td></tr>",
                Esc(&href),
                Esc(name)
            );
        }
    }
    b.push_str("</table></div>");
}

/// The login form (token auth): the token is posted once and kept in a cookie.
pub fn login(failed: bool) -> String {
    let mut b = String::from("<div class=\"login card\"><h1>Sign in</h1><p>This apitap ui needs a token (<code>ui.token</code>, <code>ui.analysts</code> or <code>APITAP_UI_TOKEN</code>).</p>");
    if failed {
        b.push_str("<p class=\"warn\">That token is not valid.</p>");
    }
    b.push_str("<form method=\"post\" action=\"/login\"><input type=\"password\" name=\"token\" required autofocus placeholder=\"token\"><button type=\"submit\">Sign in</button></form></div>");
    page("Sign in", Nav::None, Mode::Live, &b)
}
