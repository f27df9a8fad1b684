//! Charts as inline SVG, drawn on the server: a session's timeline and the overview's
//! per-minute bars. Colours come from the stylesheet's classes (no inline style, which the
//! Content-Security-Policy forbids); every label is escaped.

use std::fmt::Write;

use crate::store::{AlertView, MinuteView, TimelinePoint};

use super::html::{status_class, Esc};

/// Timeline width and height in SVG units (it scales to the page's width).
const TL_WIDTH: f64 = 1000.0;
const TL_HEIGHT: f64 = 176.0;
/// Left margin for the lane labels, right margin.
const TL_LEFT: f64 = 58.0;
const TL_RIGHT: f64 = 12.0;
/// Ticks on the time axis.
const TL_TICKS: usize = 6;

/// The lanes, top to bottom: status classes, as `(css class, label)`.
const LANES: [(&str, &str); 5] = [
    ("s5", "5xx"),
    ("s4", "4xx"),
    ("s3", "3xx"),
    ("s2", "2xx"),
    ("s0", "none"),
];

/// y of a lane's centre; the attack row sits above lane 0, alerts span the plot.
fn lane_y(i: usize) -> f64 {
    44.0 + i as f64 * 22.0
}

/// A session's requests over time: one dot per request in its status lane, a triangle above
/// each attacked request, a dashed line at each alert. Every mark links to its row
/// (`#tx-<id>`) and says what it is on hover.
pub fn timeline(points: &[TimelinePoint], alerts: &[AlertView]) -> String {
    let mut s = String::with_capacity(points.len() * 160 + 2048);
    let _ = write!(
        s,
        "<svg class=\"timeline\" viewBox=\"0 0 {TL_WIDTH} {TL_HEIGHT}\" role=\"img\" \
         aria-label=\"requests over time\">"
    );
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        s.push_str("<text x=\"20\" y=\"40\" class=\"axis\">no transactions stored</text></svg>");
        return s;
    };
    let (t0, t1) = (first.ts_us, last.ts_us.max(first.ts_us + 1));
    let plot = TL_WIDTH - TL_LEFT - TL_RIGHT;
    let x = |t: i64| TL_LEFT + (t.clamp(t0, t1) - t0) as f64 / (t1 - t0) as f64 * plot;
    if points.iter().any(|p| p.attacks > 0) {
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.0}\" class=\"lane-label atk\">attack</text>",
            lane_y(0) - 18.0
        );
    }
    for (i, (cls, label)) in LANES.iter().enumerate() {
        let y = lane_y(i);
        let _ = write!(
            s,
            "<line x1=\"{TL_LEFT}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" class=\"lane\"/>\
             <text x=\"4\" y=\"{:.0}\" class=\"lane-label {cls}\">{label}</text>",
            TL_WIDTH - TL_RIGHT,
            y + 4.0
        );
    }
    let axis_y = lane_y(LANES.len() - 1) + 26.0;
    for i in 0..TL_TICKS {
        let t = t0 + (t1 - t0) * i as i64 / (TL_TICKS as i64 - 1);
        let anchor = match i {
            0 => "start",
            i if i == TL_TICKS - 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{axis_y:.0}\" class=\"axis\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            Esc(&tick_label(t, t1 - t0))
        );
    }
    for a in alerts {
        let ax = x(a.ts_us);
        let _ = write!(
            s,
            "<g class=\"alert-mark\"><line x1=\"{ax:.1}\" x2=\"{ax:.1}\" y1=\"14\" y2=\"{:.0}\"/>\
             <text x=\"{:.1}\" y=\"11\" text-anchor=\"{}\">{}</text><title>alert {} at {}</title></g>",
            lane_y(LANES.len() - 1) + 8.0,
            ax,
            if ax > TL_WIDTH * 0.8 { "end" } else { "middle" },
            Esc(&a.kind),
            Esc(&a.kind),
            Esc(&super::html::time(a.ts_us))
        );
    }
    for p in points {
        let lane = LANES
            .iter()
            .position(|(c, _)| *c == status_class(p.status))
            .unwrap_or(LANES.len() - 1);
        let (px, py) = (x(p.ts_us), lane_y(lane));
        let status = p.status.map_or("no response".to_owned(), |c| c.to_string());
        let _ = write!(
            s,
            "<a href=\"#tx-{}\"><circle cx=\"{px:.1}\" cy=\"{py}\" r=\"4\" class=\"dot {}\">\
             <title>{} · {} · {}</title></circle>",
            p.id,
            status_class(p.status),
            Esc(&p.transaction_id),
            Esc(&super::html::time(p.ts_us)),
            Esc(&status)
        );
        if p.attacks > 0 {
            let ty = lane_y(0) - 22.0;
            let _ = write!(
                s,
                "<path class=\"atk-mark\" d=\"M{:.1} {:.1} l5 9 h-10 z\"><title>{} attack(s) · {}</title></path>",
                px,
                ty,
                p.attacks,
                Esc(&p.transaction_id)
            );
        }
        s.push_str("</a>");
    }
    s.push_str("</svg>");
    s
}

/// An axis label: the time of day, with milliseconds when the span is short.
fn tick_label(t: i64, span_us: i64) -> String {
    let full = super::html::time(t);
    let clock = full.split(' ').nth(1).unwrap_or(&full).to_owned();
    if span_us < 10_000_000 {
        clock
    } else {
        clock.split('.').next().unwrap_or(&clock).to_owned()
    }
}

/// Bar chart width and height.
const BAR_WIDTH: f64 = 320.0;
const BAR_HEIGHT: f64 = 64.0;

/// A small per-minute bar chart of one series, with its peak written beside it.
pub fn minute_bars(
    title: &str,
    minutes: &[MinuteView],
    value: fn(&MinuteView) -> i64,
    class: &str,
) -> String {
    let max = minutes.iter().map(value).max().unwrap_or(0);
    let total: i64 = minutes.iter().map(value).sum();
    let mut s = format!(
        "<figure class=\"spark\"><figcaption><b>{}</b> <span class=\"dim\">total {total}, peak {max}/min</span></figcaption>\
         <svg viewBox=\"0 0 {BAR_WIDTH} {BAR_HEIGHT}\" class=\"bars {class}\" role=\"img\" aria-label=\"{} per minute\">",
        Esc(title),
        Esc(title)
    );
    let n = minutes.len().max(1) as f64;
    let w = BAR_WIDTH / n;
    for (i, m) in minutes.iter().enumerate() {
        let v = value(m);
        let h = if max > 0 {
            (v as f64 / max as f64 * (BAR_HEIGHT - 4.0)).max(if v > 0 { 1.5 } else { 0.0 })
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\"><title>{} · {v}</title></rect>",
            i as f64 * w + 0.5,
            BAR_HEIGHT - h,
            (w - 1.0).max(0.5),
            Esc(&super::html::time(m.minute * 60_000_000))
        );
    }
    let _ = write!(s, "<line x1=\"0\" x2=\"{BAR_WIDTH}\" y1=\"{BAR_HEIGHT}\" y2=\"{BAR_HEIGHT}\" class=\"base\"/></svg></figure>");
    s
}
