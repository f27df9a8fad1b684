//! The session page: summary, analysts' tags and notes, timeline, alerts, and the ordered
//! transactions, each expandable to its full record. The same renderer writes the exported
//! file ([`Mode::Export`]): records inline, no script, no link back to the server.

use std::fmt::Write;

use serde_json::Value;

use crate::store::{AlertView, SessionDetail, TimelinePoint, TxView};
use crate::web::chart;
use crate::web::html::{
    badge, duration, page, seg, status_class, time, url, Esc, Mode, Nav, OrDash,
};

use super::sessions::short_id;

/// What the page is asked to show besides the session.
pub struct SessionOptions<'a> {
    /// Live page or export.
    pub mode: Mode,
    /// The alert whose evidence transactions are highlighted (`?alert=ID`).
    pub highlight: Option<&'a AlertView>,
    /// Transactions stored for the session (all pages).
    pub tx_total: usize,
    /// Transactions per page.
    pub page_rows: usize,
    /// A message after a refused tag or note.
    pub message: Option<&'a str>,
}

/// The whole session page.
pub fn render(d: &SessionDetail, timeline: &[TimelinePoint], o: &SessionOptions<'_>) -> String {
    let mut b = String::with_capacity(64 * 1024 + d.tx.len() * 600);
    header(&mut b, d, o);
    if let Some(m) = o.message {
        let _ = write!(b, "<p class=\"warn\">{}</p>", Esc(m));
    }
    if let Some(a) = o.highlight {
        let _ = write!(
            b,
            "<p class=\"banner\" id=\"evidence\">Alert <b>{}</b> raised {}: its {} evidence transaction{} {} highlighted below.</p>",
            Esc(&a.kind),
            Esc(&time(a.ts_us)),
            a.transaction_ids.len(),
            if a.transaction_ids.len() == 1 { "" } else { "s" },
            if a.transaction_ids.len() == 1 { "is" } else { "are" }
        );
    }
    b.push_str("<section class=\"cards\">");
    summary_card(&mut b, d, o.mode);
    clients_card(&mut b, d);
    context_card(&mut b, d);
    analyst_card(&mut b, d, o.mode);
    b.push_str("</section>");
    b.push_str("<section><h2>Timeline</h2>");
    b.push_str(&chart::timeline(timeline, &d.alerts));
    b.push_str(
        "<p class=\"legend\"><span class=\"dotkey s2\"></span>2xx <span class=\"dotkey s3\"></span>3xx \
         <span class=\"dotkey s4\"></span>4xx <span class=\"dotkey s5\"></span>5xx \
         <span class=\"dotkey s0\"></span>no response <span class=\"atkkey\"></span>attack \
         <span class=\"alertkey\"></span>alert</p></section>",
    );
    alerts(&mut b, d, o);
    other_records(&mut b, d);
    transactions(&mut b, d, o);
    let title = format!("Session {}", short_id(&d.row.session_id));
    page(&title, Nav::Sessions, o.mode, &b)
}

fn header(b: &mut String, d: &SessionDetail, o: &SessionOptions<'_>) {
    let r = &d.row;
    let _ = write!(
        b,
        "<div class=\"head\"><h1>Session <code class=\"sid-full\">{}</code></h1><div class=\"badges\">",
        Esc(&r.session_id)
    );
    for (class, n) in &r.attacks {
        badge(b, "atk", &format!("{class} {n}"));
    }
    for (kind, n) in &r.alerts {
        badge(b, "alert", &format!("{kind} {n}"));
    }
    if r.shadow > 0 {
        badge(b, "api-shadow", &format!("shadow {}", r.shadow));
    }
    if r.zombie > 0 {
        badge(b, "api-zombie", &format!("zombie {}", r.zombie));
    }
    b.push_str("</div>");
    if o.mode == Mode::Live {
        let base = format!("/sessions/{}", seg(&r.session_id));
        let _ = write!(
            b,
            "<div class=\"actions\"><a class=\"button\" href=\"{0}/export.html\" download>Export HTML</a>\
             <a class=\"button\" href=\"{0}/export.json\" download>Export JSON</a></div>",
            Esc(&base)
        );
    }
    b.push_str("</div>");
}

/// A string field of the session record.
fn field<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(key)).and_then(Value::as_str)
}

fn summary_card(b: &mut String, d: &SessionDetail, mode: Mode) {
    let r = &d.row;
    let s = d.summary.as_ref();
    b.push_str("<div class=\"card\"><h3>Summary</h3><dl class=\"kv\">");
    let verified = s
        .and_then(|v| v.pointer("/session_key/verified"))
        .and_then(Value::as_bool)
        .map(|v| {
            if v {
                " (signature verified)"
            } else {
                " (signature NOT verified)"
            }
        })
        .unwrap_or("");
    let _ = write!(
        b,
        "<dt>Key source</dt><dd>{}{}</dd><dt>User</dt><dd>{}</dd><dt>Role</dt><dd>{}</dd>",
        OrDash(r.key_source.as_deref()),
        Esc(verified),
        OrDash(r.user.as_deref()),
        OrDash(d.role.as_deref())
    );
    let _ = write!(
        b,
        "<dt>First seen</dt><dd>{}</dd><dt>Last seen</dt><dd>{} <span class=\"dim\">({})</span></dd>",
        Esc(&time(r.first_us)),
        Esc(&time(r.last_us)),
        Esc(&duration(r.last_us - r.first_us))
    );
    let _ = write!(
        b,
        "<dt>Requests</dt><dd>{} <span class=\"dim\">({} stored)</span></dd>",
        r.requests, r.tx_count
    );
    if let Some(v) = s {
        let bytes = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
        let _ = write!(
            b,
            "<dt>Body bytes</dt><dd>{} up, {} down</dd>",
            bytes("request_bytes"),
            bytes("response_bytes")
        );
        let part = v.get("part").and_then(Value::as_i64).unwrap_or(1);
        let _ = write!(b, "<dt>Part</dt><dd>{part}");
        if let Some(prev) = field(s, "previous_part") {
            let _ = write!(b, " · previous: {}", session_link(prev, mode));
        }
        b.push_str("</dd>");
        if let Some(from) = field(s, "linked_from") {
            let _ = write!(b, "<dt>Led here by</dt><dd>{} <span class=\"dim\">(the login or session that set this key)</span></dd>", session_link(from, mode));
        }
        let _ = write!(
            b,
            "<dt>Phase</dt><dd>{}{}</dd>",
            OrDash(field(s, "phase")),
            field(s, "reason")
                .map(|r| format!(" ({})", Esc(r)))
                .unwrap_or_default()
        );
    }
    let _ = write!(
        b,
        "<dt>Sensor</dt><dd>{}</dd></dl></div>",
        OrDash(r.sensor.as_deref())
    );
}

/// A link to another session part (plain text in exports, which have no server to go to).
fn session_link(id: &str, mode: Mode) -> String {
    if mode == Mode::Export {
        return format!("<code>{}</code>", Esc(id));
    }
    format!(
        "<a class=\"sid\" href=\"/sessions/{}\"><code>{}</code></a>",
        Esc(&seg(id)),
        Esc(short_id(id))
    )
}

fn clients_card(b: &mut String, d: &SessionDetail) {
    b.push_str("<div class=\"card\"><h3>Client IPs</h3><ul class=\"plain\">");
    let listed = d
        .summary
        .as_ref()
        .and_then(|v| v.get("client_ips"))
        .and_then(Value::as_array);
    match listed {
        Some(ips) => {
            for c in ips {
                let _ = write!(
                    b,
                    "<li><code>{}</code> <span class=\"dim\">× {}</span></li>",
                    Esc(c.get("ip").and_then(Value::as_str).unwrap_or("?")),
                    c.get("count").and_then(Value::as_i64).unwrap_or(0)
                );
            }
        }
        None => {
            for ip in &d.row.ips {
                let _ = write!(b, "<li><code>{}</code></li>", Esc(ip));
            }
        }
    }
    b.push_str("</ul><h3>User agents</h3><ul class=\"plain\">");
    let agents = d
        .summary
        .as_ref()
        .and_then(|v| v.get("user_agents"))
        .and_then(Value::as_array);
    for a in agents.into_iter().flatten() {
        let _ = write!(
            b,
            "<li>{} <span class=\"dim\">× {}</span></li>",
            Esc(a.get("user_agent").and_then(Value::as_str).unwrap_or("?")),
            a.get("count").and_then(Value::as_i64).unwrap_or(0)
        );
    }
    if agents.is_none_or(|a| a.is_empty()) {
        b.push_str("<li class=\"dim\">none recorded</li>");
    }
    b.push_str("</ul></div>");
}

fn context_card(b: &mut String, d: &SessionDetail) {
    b.push_str("<div class=\"card\"><h3>Context parameters</h3>");
    let ctx = d
        .summary
        .as_ref()
        .and_then(|v| v.get("context"))
        .and_then(Value::as_object);
    match ctx {
        Some(c) if !c.is_empty() => {
            b.push_str("<table class=\"mini\"><tr><th>name</th><th>first</th><th>last</th><th class=\"num\">distinct</th></tr>");
            for (name, v) in c {
                let show = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                    Esc(name),
                    OrDash(show("first").as_deref()),
                    OrDash(show("last").as_deref()),
                    v.get("distinct").and_then(Value::as_i64).unwrap_or(0)
                );
            }
            b.push_str("</table><p class=\"dim small\">Values as exported: hashed or masked where configured.</p>");
        }
        _ => b.push_str("<p class=\"dim\">none</p>"),
    }
    b.push_str("</div>");
}

fn analyst_card(b: &mut String, d: &SessionDetail, mode: Mode) {
    let base = format!("/sessions/{}", seg(&d.row.session_id));
    b.push_str("<div class=\"card analyst\"><h3>Tags</h3><div class=\"tags\">");
    for t in &d.tags {
        let _ = write!(
            b,
            "<span class=\"badge tag\" title=\"{}\">{}",
            Esc(&signed(t.author.as_deref(), t.created_us)),
            Esc(&t.tag)
        );
        if mode == Mode::Live {
            let _ = write!(
                b,
                "<form method=\"post\" action=\"{}/tags\" class=\"inline\"><input type=\"hidden\" name=\"tag\" value=\"{}\">\
                 <input type=\"hidden\" name=\"action\" value=\"remove\"><button class=\"x\" title=\"remove\">×</button></form>",
                Esc(&base),
                Esc(&t.tag)
            );
        }
        b.push_str("</span>");
    }
    if d.tags.is_empty() {
        b.push_str("<span class=\"dim\">none</span>");
    }
    b.push_str("</div>");
    if mode == Mode::Live {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"{}/tags\" class=\"row\"><input name=\"tag\" placeholder=\"incident-42\" required maxlength=\"40\">\
             <input type=\"hidden\" name=\"action\" value=\"add\"><button type=\"submit\">Add tag</button></form>",
            Esc(&base)
        );
    }
    let _ = write!(b, "<h3>Notes ({})</h3><ol class=\"notes\">", d.notes.len());
    for n in &d.notes {
        let _ = write!(
            b,
            "<li><div class=\"meta\">{}</div><div class=\"text\">{}</div></li>",
            Esc(&signed(n.author.as_deref(), n.created_us)),
            Esc(&n.text)
        );
    }
    b.push_str("</ol>");
    if mode == Mode::Live {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"{}/notes\" class=\"note-form\"><textarea name=\"text\" rows=\"3\" required maxlength=\"4000\" \
             placeholder=\"What you found, what you did, who to ask\"></textarea><button type=\"submit\">Add note</button></form>",
            Esc(&base)
        );
    }
    b.push_str("</div>");
}

/// `alice, 2024-05-01 10:00:00.000` (or `anonymous, ...` without an auth identity).
fn signed(author: Option<&str>, us: i64) -> String {
    format!("{}, {}", author.unwrap_or("anonymous"), time(us))
}

fn alerts(b: &mut String, d: &SessionDetail, o: &SessionOptions<'_>) {
    if d.alerts.is_empty() {
        return;
    }
    let _ = write!(b, "<section><h2>Alerts ({})</h2><table class=\"list\"><thead><tr><th>Raised</th><th>Kind</th><th>Endpoint</th><th>Evidence</th><th>Transactions</th></tr></thead><tbody>", d.alerts.len());
    for a in &d.alerts {
        let on = o.highlight.is_some_and(|h| h.id == a.id);
        let _ = write!(
            b,
            "<tr{}><td class=\"t\">{}</td><td>",
            if on { " class=\"hl\"" } else { "" },
            Esc(&time(a.ts_us))
        );
        badge(b, "alert", &a.kind);
        let _ = write!(b, "</td><td>{}</td><td>", OrDash(a.endpoint.as_deref()));
        evidence(b, &a.evidence);
        b.push_str("</td><td>");
        if o.mode == Mode::Live {
            let href = url(
                &format!("/sessions/{}", seg(&d.row.session_id)),
                &[("alert", a.id.to_string())],
            );
            let _ = write!(
                b,
                "<a href=\"{}\">highlight {}</a>",
                Esc(&href),
                a.transaction_ids.len()
            );
        } else {
            let _ = write!(b, "{}", Esc(&a.transaction_ids.join(" ")));
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</tbody></table></section>");
}

/// An alert's evidence object as `key: value` pairs.
pub fn evidence(b: &mut String, ev: &serde_json::Map<String, Value>) {
    b.push_str("<span class=\"kvs\">");
    for (k, v) in ev {
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(b, "<span><i>{}</i> {}</span>", Esc(k), Esc(&shown));
    }
    b.push_str("</span>");
}

fn other_records(b: &mut String, d: &SessionDetail) {
    if d.other.is_empty() {
        return;
    }
    let _ = write!(b, "<section><h2>Other records ({})</h2>", d.other.len());
    for (kind, ts, record) in &d.other {
        let _ = write!(
            b,
            "<details class=\"other\"><summary>{} <span class=\"dim\">{}</span></summary><pre class=\"record\">{}</pre></details>",
            Esc(kind),
            Esc(&time(*ts)),
            Esc(&pretty(record))
        );
    }
    b.push_str("</section>");
}

/// A record pretty-printed (as is when it does not parse).
fn pretty(record: &str) -> String {
    serde_json::from_str::<Value>(record)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| record.to_owned())
}

fn transactions(b: &mut String, d: &SessionDetail, o: &SessionOptions<'_>) {
    let _ = write!(b, "<section><h2>Transactions ({})</h2>", o.tx_total);
    b.push_str(
        "<div class=\"txhead\"><span>#</span><span>Time</span><span>Method</span><span>Endpoint</span>\
         <span>Status</span><span class=\"num\">Latency</span><span>API</span><span>Attacks</span></div>",
    );
    let first_ts = d.tx.first().map_or(0, |t| t.ts_us).min(d.row.first_us);
    for (i, t) in d.tx.iter().enumerate() {
        let hl = o
            .highlight
            .is_some_and(|a| a.transaction_ids.contains(&t.transaction_id));
        tx_row(b, d, t, d.tx_offset + i + 1, first_ts, hl, o.mode);
    }
    if o.mode == Mode::Live && o.tx_total > o.page_rows {
        let base = format!("/sessions/{}", seg(&d.row.session_id));
        b.push_str("<nav class=\"pager\">");
        let page = d.tx_offset / o.page_rows;
        if page > 0 {
            let _ = write!(
                b,
                "<a href=\"{}\">← earlier</a>",
                Esc(&url(&base, &[("tx_page", (page - 1).to_string())]))
            );
        }
        let _ = write!(
            b,
            "<span>transactions {}–{} of {}</span>",
            d.tx_offset + 1,
            d.tx_offset + d.tx.len(),
            o.tx_total
        );
        if d.tx_offset + d.tx.len() < o.tx_total {
            let _ = write!(
                b,
                "<a href=\"{}\">later →</a>",
                Esc(&url(&base, &[("tx_page", (page + 1).to_string())]))
            );
        }
        b.push_str("</nav>");
    }
    b.push_str("</section>");
}

fn tx_row(b: &mut String, d: &SessionDetail, t: &TxView, n: usize, t0: i64, hl: bool, mode: Mode) {
    let mut class = String::from("tx");
    if hl {
        class.push_str(" hl");
    }
    if !t.attacks.is_empty() {
        class.push_str(" attacked");
    }
    let _ = write!(
        b,
        "<details class=\"{class}\" id=\"tx-{}\"{}><summary><span class=\"n\">{n}</span>\
         <span class=\"t\">{}<small>+{}</small></span><span class=\"m\">{}</span>\
         <span class=\"ep\">{}<small>{}</small></span><span class=\"st {}\">{}</span><span class=\"num\">{}</span><span>",
        t.id,
        if hl { " open" } else { "" },
        Esc(time(t.ts_us).split(' ').nth(1).unwrap_or("")),
        Esc(&duration(t.ts_us - t0)),
        OrDash(t.method.as_deref()),
        OrDash(t.endpoint.as_deref()),
        Esc(t.target.as_deref().unwrap_or("")),
        status_class(t.status),
        t.status.map_or("–".to_owned(), |s| s.to_string()),
        t.latency_us.map_or("–".to_owned(), duration)
    );
    if let Some(s) = &t.api_status {
        badge(b, &format!("api-{}", api_class(s)), s);
    }
    b.push_str("</span><span class=\"atks\">");
    for a in &t.attacks {
        let _ = write!(
            b,
            "<span class=\"badge atk\">{}</span><code class=\"evidence\">{}</code><span class=\"outcome o-{}\">{}</span> ",
            Esc(&a.class),
            Esc(&a.evidence),
            api_class(&a.outcome),
            Esc(&a.outcome)
        );
    }
    b.push_str("</span></summary><div class=\"txbody\">");
    if !t.attacks.is_empty() {
        b.push_str("<table class=\"mini\"><tr><th>class</th><th>rule</th><th>where</th><th>evidence</th><th>outcome</th></tr>");
        for a in &t.attacks {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td><code class=\"evidence\">{}</code></td><td>{}</td></tr>",
                Esc(&a.class),
                Esc(&a.rule),
                Esc(&a.location),
                Esc(&a.evidence),
                Esc(&a.outcome)
            );
        }
        b.push_str("</table>");
    }
    let _ = write!(
        b,
        "<div class=\"dim small\">transaction {} · client {}</div>",
        Esc(&t.transaction_id),
        OrDash(t.client_ip.as_deref())
    );
    match (&t.record, mode) {
        (Some(r), _) => {
            let _ = write!(b, "<pre class=\"record\">{}</pre>", Esc(&pretty(r)));
        }
        (None, _) => {
            let src = format!("/sessions/{}/tx/{}", seg(&d.row.session_id), t.id);
            let _ = write!(
                b,
                "<pre class=\"record\" data-src=\"{}\">loading the record…</pre>",
                Esc(&src)
            );
        }
    }
    b.push_str("</div></details>");
}

/// A value as a CSS class suffix: letters, digits and `-` only.
fn api_class(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
