//! The sessions list: the filter form, the sorted page of sessions, paging links.

use std::fmt::Write;

use crate::filter::{ApiUse, FilterError, SessionFilter, SortKey};
use crate::store::{SessionPage, SessionRowView};
use crate::web::html::{badge, duration, page, seg, time, url, Esc, Mode, Nav, OrDash};

/// What the list page shows besides the rows: choices for the form's selects.
pub struct ListChoices {
    /// Alert kinds in the store, with counts.
    pub alert_kinds: Vec<(String, i64)>,
    /// Sensors seen.
    pub sensors: Vec<String>,
}

/// The whole sessions page.
pub fn render(
    f: &SessionFilter,
    errors: &[FilterError],
    rows: &SessionPage,
    choices: &ListChoices,
) -> String {
    let mut b = String::with_capacity(16_384);
    b.push_str("<div class=\"head\"><h1>Sessions</h1>");
    let _ = write!(
        b,
        "<a class=\"permalink\" href=\"{}\" title=\"this exact view: send it to a colleague\">link to this view</a></div>",
        Esc(&url("/sessions", &f.to_query()))
    );
    form(&mut b, f, choices);
    for e in errors {
        let _ = write!(b, "<p class=\"warn\">Ignored {}</p>", Esc(&e.to_string()));
    }
    if rows.rows.is_empty() {
        b.push_str("<p class=\"empty\">No session matches these filters.</p>");
    } else {
        table(&mut b, f, &rows.rows);
    }
    pager(&mut b, f, rows.has_next);
    page("Sessions", Nav::Sessions, Mode::Live, &b)
}

fn form(b: &mut String, f: &SessionFilter, choices: &ListChoices) {
    let text = |b: &mut String, name: &str, label: &str, v: Option<&str>, hint: &str| {
        let _ = write!(
            b,
            "<label>{label}<input name=\"{name}\" value=\"{}\" placeholder=\"{}\"></label>",
            Esc(v.unwrap_or("")),
            Esc(hint)
        );
    };
    b.push_str("<form class=\"filters\" method=\"get\" action=\"/sessions\">");
    text(
        b,
        "ip",
        "Client IP or CIDR",
        f.ip.as_ref().map(|(t, _)| t.as_str()),
        "e.g. 10.0.0.0/8",
    );
    text(b, "user", "User", f.user.as_deref(), "e.g. alice or ali*");
    text(
        b,
        "endpoint",
        "Endpoint",
        f.endpoint.as_deref(),
        "e.g. GET /api/v1/orders*",
    );
    let time_input = |b: &mut String, name: &str, label: &str, v: Option<&str>| {
        let _ = write!(
            b,
            "<label>{label}<input name=\"{name}\" value=\"{}\" placeholder=\"e.g. 2024-05-01T10:00Z\"></label>",
            Esc(v.unwrap_or(""))
        );
    };
    time_input(
        b,
        "from",
        "Active from (UTC)",
        f.from.as_ref().map(|(t, _)| t.as_str()),
    );
    time_input(
        b,
        "to",
        "Active until (UTC)",
        f.to.as_ref().map(|(t, _)| t.as_str()),
    );
    let select = |b: &mut String,
                  name: &str,
                  label: &str,
                  current: Option<&str>,
                  opts: &[(String, String)]| {
        let _ = write!(
            b,
            "<label>{label}<select name=\"{name}\"><option value=\"\">any</option>"
        );
        for (value, shown) in opts {
            let sel = if current == Some(value.as_str()) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                b,
                "<option value=\"{}\"{sel}>{}</option>",
                Esc(value),
                Esc(shown)
            );
        }
        b.push_str("</select></label>");
    };
    let kinds: Vec<(String, String)> = choices
        .alert_kinds
        .iter()
        .map(|(k, n)| (k.clone(), format!("{k} ({n})")))
        .collect();
    select(b, "alert", "Alert kind", f.alert_kind.as_deref(), &kinds);
    let api = [
        ("shadow", "shadow endpoints"),
        ("zombie", "zombie endpoints"),
        ("any", "shadow or zombie"),
    ]
    .map(|(v, s)| (v.to_owned(), s.to_owned()));
    select(b, "api", "API use", f.api.map(api_name), &api);
    let sensors: Vec<(String, String)> = choices
        .sensors
        .iter()
        .map(|s| (s.clone(), s.clone()))
        .collect();
    select(b, "sensor", "Sensor", f.sensor.as_deref(), &sensors);
    text(b, "tag", "Tag", f.tag.as_deref(), "e.g. incident-42");
    text(
        b,
        "attack",
        "Attack class",
        f.attack_class.as_deref(),
        "e.g. sqli",
    );
    let check = |b: &mut String, name: &str, label: &str, on: bool| {
        let c = if on { " checked" } else { "" };
        let _ = write!(b, "<label class=\"check\"><input type=\"checkbox\" name=\"{name}\" value=\"1\"{c}> {label}</label>");
    };
    b.push_str("<div class=\"checks\">");
    check(b, "attacks", "has attacks", f.has_attacks);
    check(b, "alerts", "has alerts", f.has_alerts);
    b.push_str("</div>");
    if f.sort != SortKey::Last {
        let _ = write!(
            b,
            "<input type=\"hidden\" name=\"sort\" value=\"{}\">",
            f.sort.name()
        );
    }
    if f.ascending {
        b.push_str("<input type=\"hidden\" name=\"order\" value=\"asc\">");
    }
    b.push_str("<div class=\"buttons\"><button type=\"submit\">Apply</button><a href=\"/sessions\">Reset</a></div></form>");
}

fn api_name(a: ApiUse) -> &'static str {
    match a {
        ApiUse::Shadow => "shadow",
        ApiUse::Zombie => "zombie",
        ApiUse::Any => "any",
    }
}

fn table(b: &mut String, f: &SessionFilter, rows: &[SessionRowView]) {
    b.push_str("<table class=\"list sessions\"><thead><tr>");
    let head = |b: &mut String, key: Option<SortKey>, label: &str, class: &str| {
        let Some(key) = key else {
            let _ = write!(b, "<th class=\"{class}\">{label}</th>");
            return;
        };
        let mut g = f.clone();
        g.page = 0;
        let (arrow, asc) = match (f.sort == key, f.ascending) {
            (true, false) => (" ▼", true),
            (true, true) => (" ▲", false),
            (false, _) => ("", false),
        };
        g.sort = key;
        g.ascending = asc;
        let _ = write!(
            b,
            "<th class=\"{class}\"><a href=\"{}\">{label}{arrow}</a></th>",
            Esc(&url("/sessions", &g.to_query()))
        );
    };
    head(b, Some(SortKey::First), "First seen", "");
    head(b, Some(SortKey::Last), "Last seen", "");
    head(b, None, "User", "");
    head(b, None, "Client IPs", "");
    head(b, Some(SortKey::Requests), "Requests", "num");
    head(b, Some(SortKey::Attacks), "Attacks", "");
    head(b, Some(SortKey::Alerts), "Alerts &amp; API", "");
    head(b, None, "Tags &amp; notes", "");
    head(b, None, "Session", "");
    b.push_str("</tr></thead><tbody>");
    for r in rows {
        row(b, r);
    }
    b.push_str("</tbody></table>");
}

fn row(b: &mut String, r: &SessionRowView) {
    let href = format!("/sessions/{}", seg(&r.session_id));
    let _ = write!(
        b,
        "<tr><td class=\"t\">{}</td><td class=\"t\">{}<div class=\"dim small\">{}</div></td><td>{}</td><td class=\"ips\">",
        Esc(&time(r.first_us)),
        Esc(&time(r.last_us)),
        Esc(&if r.last_us > r.first_us { duration(r.last_us - r.first_us) } else { String::new() }),
        OrDash(r.user.as_deref())
    );
    for ip in &r.ips {
        let _ = write!(b, "<code>{}</code> ", Esc(ip));
    }
    if r.ip_count > r.ips.len() as i64 {
        let _ = write!(
            b,
            "<span class=\"dim\">+{}</span>",
            r.ip_count - r.ips.len() as i64
        );
    }
    let _ = write!(b, "</td><td class=\"num\">{}</td><td>", r.requests);
    for (class, n) in &r.attacks {
        badge(b, "atk", &format!("{class} {n}"));
    }
    b.push_str("</td><td>");
    for (kind, n) in &r.alerts {
        badge(b, "alert", &format!("{kind} {n}"));
    }
    if r.shadow > 0 {
        badge(b, "api-shadow", &format!("shadow {}", r.shadow));
    }
    if r.zombie > 0 {
        badge(b, "api-zombie", &format!("zombie {}", r.zombie));
    }
    b.push_str("</td><td>");
    for t in &r.tags {
        let _ = write!(
            b,
            "<a class=\"badge tag\" href=\"{}\">{}</a>",
            Esc(&url("/sessions", &[("tag", t.clone())])),
            Esc(t)
        );
    }
    if r.notes > 0 {
        let _ = write!(
            b,
            "<span class=\"badge note\">{} note{}</span>",
            r.notes,
            if r.notes == 1 { "" } else { "s" }
        );
    }
    let _ = write!(
        b,
        "</td><td><a class=\"sid\" href=\"{}\"><code>{}</code></a></td></tr>",
        Esc(&href),
        Esc(short_id(&r.session_id))
    );
}

/// The first 12 characters of an id: enough to tell sessions apart on a page.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn pager(b: &mut String, f: &SessionFilter, has_next: bool) {
    b.push_str("<nav class=\"pager\">");
    if f.page > 0 {
        let mut g = f.clone();
        g.page -= 1;
        let _ = write!(
            b,
            "<a href=\"{}\">← previous</a>",
            Esc(&url("/sessions", &g.to_query()))
        );
    }
    let _ = write!(b, "<span>page {}</span>", f.page + 1);
    if has_next {
        let mut g = f.clone();
        g.page += 1;
        let _ = write!(
            b,
            "<a href=\"{}\">next →</a>",
            Esc(&url("/sessions", &g.to_query()))
        );
    }
    b.push_str("</nav>");
}
