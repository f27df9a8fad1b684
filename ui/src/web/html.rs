//! HTML building: every value from a record goes through [`Esc`] (text and attributes alike);
//! URLs are built with [`url`] (percent-encoded, then escaped). The page frame is [`page`].

use std::fmt::{self, Display, Write};

use crate::record::show_ts;

/// The stylesheet, embedded (also inlined into exports).
pub const STYLE_CSS: &str = include_str!("../../assets/style.css");
/// The script of the live pages (never in exports).
pub const APP_JS: &str = include_str!("../../assets/app.js");

/// Text escaped for HTML element content and quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// An optional value, escaped, or a dash.
pub struct OrDash<'a>(pub Option<&'a str>);

impl Display for OrDash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) if !s.is_empty() => Esc(s).fmt(f),
            _ => f.write_str("<span class=\"dim\">–</span>"),
        }
    }
}

/// A path with query parameters, percent-encoded (not yet HTML-escaped: write it with
/// [`Esc`]).
pub fn url(path: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

/// A path segment (a session id): every byte but letters, digits and `-._~` percent-encoded
/// (RFC 3986 section 2.3, unreserved characters).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Where a page is going: served live, or saved as a self-contained file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Served: links to the other views, the stylesheet and script by URL.
    Live,
    /// Exported: the stylesheet inlined, no script, no link back to the server.
    Export,
}

/// The five views, for the navigation bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// `/overview`.
    Overview,
    /// `/sessions`.
    Sessions,
    /// `/alerts`.
    Alerts,
    /// `/endpoints`.
    Endpoints,
    /// A page of none of them (login).
    None,
}

/// The whole page around `body`.
pub fn page(title: &str, nav: Nav, mode: Mode, body: &str) -> String {
    let mut h = String::with_capacity(body.len() + 4096);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    match mode {
        Mode::Live => {
            h.push_str("<link rel=\"stylesheet\" href=\"/assets/style.css\">");
            h.push_str("<script src=\"/assets/app.js\" defer></script>");
        }
        Mode::Export => {
            // No script and no fetch: the file works offline, and the CSP says so again.
            h.push_str(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
                 style-src 'unsafe-inline'; img-src data:\">",
            );
            let _ = write!(h, "<style>{STYLE_CSS}</style>");
        }
    }
    let _ = write!(h, "<title>{} · apitap</title></head><body>", Esc(title));
    h.push_str("<header class=\"top\"><span class=\"brand\">apitap</span>");
    if mode == Mode::Live {
        h.push_str("<nav>");
        for (n, href, label) in [
            (Nav::Overview, "/overview", "Overview"),
            (Nav::Sessions, "/sessions", "Sessions"),
            (Nav::Alerts, "/alerts", "Alerts"),
            (Nav::Endpoints, "/endpoints", "Endpoints"),
        ] {
            let cls = if n == nav { " class=\"on\"" } else { "" };
            let _ = write!(h, "<a href=\"{href}\"{cls}>{label}</a>");
        }
        h.push_str("</nav>");
    } else {
        h.push_str("<span class=\"dim\">exported session</span>");
    }
    h.push_str("</header><main>");
    h.push_str(body);
    h.push_str("</main></body></html>\n");
    h
}

/// A time for display (UTC, milliseconds).
pub fn time(us: i64) -> String {
    show_ts(us)
}

/// A duration in microseconds, short (`850 µs`, `12.3 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`).
pub fn duration(us: i64) -> String {
    let us = us.max(0);
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=999_999 => format!("{:.1} ms", us as f64 / 1e3),
        1_000_000..=59_999_999 => format!("{:.1} s", us as f64 / 1e6),
        60_000_000..=3_599_999_999 => format!("{} min {} s", us / 60_000_000, us / 1_000_000 % 60),
        _ => format!("{} h {} min", us / 3_600_000_000, us / 60_000_000 % 60),
    }
}

/// The CSS class of a status code: `s2`, `s3`, `s4`, `s5`, or `s0` without a response.
pub fn status_class(status: Option<i64>) -> &'static str {
    match status.unwrap_or(0) {
        100..=299 => "s2",
        300..=399 => "s3",
        400..=499 => "s4",
        500..=599 => "s5",
        _ => "s0",
    }
}

/// A badge: `<span class="badge CLASS">TEXT</span>`, the text escaped.
pub fn badge(out: &mut String, class: &str, text: &str) {
    let _ = write!(out, "<span class=\"badge {class}\">{}</span>", Esc(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        let s = Esc("<script>alert('x')</script> & \"y\"").to_string();
        assert_eq!(
            s,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(Esc("plain é").to_string(), "plain é");
    }

    #[test]
    fn urls_are_percent_encoded() {
        let u = url("/sessions", &[("endpoint", "GET /a?b&c=\"d\"".into())]);
        assert_eq!(u, "/sessions?endpoint=GET+%2Fa%3Fb%26c%3D%22d%22");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(duration(850), "850 µs");
        assert_eq!(duration(12_300), "12.3 ms");
        assert_eq!(duration(185_000_000), "3 min 5 s");
        assert_eq!(duration(7_800_000_000), "2 h 10 min");
    }
}
