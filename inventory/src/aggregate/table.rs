//! The inventory as a terminal table: per host a heading, per endpoint a row.

use std::fmt::Write;

use super::model::{EndpointInventory, Inventory, NameCounts};

/// Widest cell of the endpoint column, in characters; a longer one is cut with `…`.
const MAX_ENDPOINT_CHARS: usize = 60;

/// Widest cell of the other list columns, in characters.
const MAX_LIST_CHARS: usize = 40;

/// The inventory as text: one block per host, one row per endpoint.
pub fn render_table(inv: &Inventory) -> String {
    let mut out = String::new();
    for host in &inv.hosts {
        let _ = writeln!(
            out,
            "{}  ({} endpoints, {} requests)",
            host.host,
            host.endpoints.len(),
            host.requests
        );
        let rows: Vec<[String; 9]> = host.endpoints.iter().map(row).collect();
        let header = [
            "ENDPOINT",
            "API",
            "REQS",
            "STATUS",
            "AUTH",
            "QUERY",
            "SESS",
            "USERS",
            "LAST SEEN",
        ]
        .map(String::from);
        let mut widths = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for r in std::iter::once(&header).chain(&rows) {
            let mut line = String::from("  ");
            for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
                let right = matches!(i, 2 | 6 | 7);
                let pad = w.saturating_sub(cell.chars().count());
                if right {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str("  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let s = &inv.stats;
    let _ = writeln!(
        out,
        "{} http records ({} with an unreadable `api`), {} session records, {} skipped; \
         dropped: {} hosts, {} endpoints",
        s.http_records,
        s.unreadable_api,
        s.session_records,
        s.skipped_records,
        s.hosts_dropped,
        s.endpoints_dropped
    );
    out
}

/// The cells of one endpoint.
fn row(ep: &EndpointInventory) -> [String; 9] {
    let mut status: Vec<String> = ep
        .responses
        .iter()
        .map(|(code, r)| format!("{code}:{}", r.count))
        .collect();
    if ep.no_response > 0 {
        status.push(format!("none:{}", ep.no_response));
    }
    let capped =
        |c: super::DistinctCount| format!("{}{}", c.count, if c.capped { "+" } else { "" });
    let mut api = ep
        .main_status()
        .map_or_else(|| "-".to_string(), |s| s.as_str().to_string());
    if ep.api.len() > 1 {
        api.push('*');
    }
    if !ep.drift.is_empty() {
        api.push_str(" drift");
    }
    [
        cut(
            &format!("{} {}", ep.method, ep.template),
            MAX_ENDPOINT_CHARS,
        ),
        api,
        ep.requests.to_string(),
        cut(&status.join(" "), MAX_LIST_CHARS),
        cut(&names(&ep.auth), MAX_LIST_CHARS),
        cut(&names(&ep.query_params), MAX_LIST_CHARS),
        capped(ep.sessions),
        capped(ep.users),
        ep.last_seen.clone(),
    ]
}

/// The names of counts, comma-separated, `-` for none.
fn names(c: &NameCounts) -> String {
    if c.is_empty() {
        return "-".into();
    }
    c.counts
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// At most `max` characters of `s`, `…` ending a cut one.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
