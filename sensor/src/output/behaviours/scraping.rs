//! `scraping`: a session or a client fetches a large share of an endpoint's distinct objects
//! at a steady, machine-like pace, touching few other endpoints.
//!
//! Each distinct object the entity first reads (2xx) on an endpoint is evidence, with the
//! entity's request count before it. The alert fires when `min_objects` were first read
//! within `window_ms`, the entity's distinct objects on the endpoint are at least
//! `min_share` of those seen from everyone, the entity's distinct endpoints are at most `max_endpoint_ratio` of its
//! requests in the window (Wallarm's request uniqueness), and the gaps between the reads
//! vary little (coefficient of variation at most `max_interval_cv`: people browse in bursts,
//! a steady loop does not).

use super::config::ScrapingConfig;
use super::entity::{Activity, ObjectTrack};
use super::found::{round4, Found};
use super::state::{interval_cv, Evidence, Read};

/// Kind name.
pub const KIND: &str = "scraping";

/// The entity first read (2xx) an object on `track` (of `endpoint`); `activity` counts this
/// request already, `population` says the endpoint's distinct objects over everyone (an
/// estimate worked out only when the evidence is complete).
pub fn on_first_read(
    cfg: &ScrapingConfig,
    track: &mut ObjectTrack,
    endpoint: &str,
    activity: &Activity,
    ev: Evidence,
    population: impl Fn() -> usize,
) -> Option<Found> {
    let now = ev.ts_us;
    track.scraping.push(
        Read::new(ev.ts_us, ev.tx, activity.requests.saturating_sub(1)),
        cfg.min_objects,
    );
    let window_us = cfg.window_ms.saturating_mul(1000);
    track
        .scraping
        .full_within(cfg.min_objects, now, window_us)?;
    decide(cfg, track, endpoint, activity, now, population)
}

/// The evidence is complete: share, endpoint ratio and steadiness decide. Out of the
/// per-transaction path.
#[cold]
#[inline(never)]
fn decide(
    cfg: &ScrapingConfig,
    track: &mut ObjectTrack,
    endpoint: &str,
    activity: &Activity,
    now: u64,
    population: impl Fn() -> usize,
) -> Option<Found> {
    let population = population();
    let window_us = cfg.window_ms.saturating_mul(1000);
    let ring = track
        .scraping
        .full_within(cfg.min_objects, now, window_us)?;
    let in_window = ring.len() as u64;
    let objects = track.ids.len() as u64;
    let requests = ring
        .front()
        .map_or(activity.requests, |e| e.since(activity.requests));
    let share = objects as f64 / population.max(1) as f64;
    let endpoint_ratio = activity.endpoints.len() as f64 / requests.max(1) as f64;
    if share < cfg.min_share || endpoint_ratio > cfg.max_endpoint_ratio {
        return None;
    }
    // Last: it walks the ring.
    let cv = interval_cv(ring)?;
    if cv > cfg.max_interval_cv {
        return None;
    }
    let span_us = now.saturating_sub(ring.front().map_or(now, |e| e.ts_us));
    let found = Found::new(KIND, ring, Some(endpoint))
        .with("objects", objects)
        .with("objects_in_window", in_window)
        .with("endpoint_objects", population as u64)
        .with("share", round4(share))
        .with("requests", requests)
        .with("distinct_endpoints", activity.endpoints.len() as u64)
        .with("endpoint_ratio", round4(endpoint_ratio))
        .with("interval_cv", round4(cv))
        .with(
            "rate_per_min",
            round4(objects as f64 * 60e6 / span_us.max(1) as f64),
        )
        .with("window_ms", cfg.window_ms);
    track.scraping.fired(now, window_us);
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::behaviours::state::{IdSet, Ring};
    use apitap_sessionizer::session::TransactionId;

    fn cfg() -> ScrapingConfig {
        ScrapingConfig {
            min_objects: 10,
            window_ms: 60_000,
            ..ScrapingConfig::default()
        }
    }

    fn track() -> ObjectTrack {
        ObjectTrack {
            endpoint_fp: 1,
            ids: IdSet::default(),
            owned: 0,
            bola: Ring::default(),
            scraping: Ring::default(),
        }
    }

    /// Runs `n` first reads at the given times (ms) with `other` requests to other endpoints
    /// before each; the finding, if any.
    fn run(times_ms: &[u64], other: u64, population: usize) -> Option<Found> {
        let (c, mut t, mut a) = (cfg(), track(), Activity::default());
        let mut out = None;
        for (i, ms) in times_ms.iter().enumerate() {
            for k in 0..other {
                a.add(Some(100 + k));
            }
            a.add(Some(1));
            t.ids.insert(i as u64, 1000);
            let ev = Evidence {
                ts_us: ms * 1000,
                tx: TransactionId {
                    conn: 1,
                    depth: i as u32,
                },
                before: 0,
                aux: 0,
            };
            out = out.or(on_first_read(
                &c,
                &mut t,
                "GET /api/products/{id}",
                &a,
                ev,
                || population,
            ));
        }
        out
    }

    #[test]
    fn a_steady_loop_over_most_objects_fires() {
        let times: Vec<u64> = (0..10).map(|i| i * 500).collect();
        let f = run(&times, 0, 12).expect("10 of 12 objects every 500 ms");
        assert_eq!(f.evidence["objects"], 10);
        assert_eq!(f.evidence["interval_cv"], 0.0);
        assert_eq!(f.evidence["share"], round4(10.0 / 12.0));
    }

    #[test]
    fn browsing_is_not_scraping() {
        let steady: Vec<u64> = (0..10).map(|i| i * 500).collect();
        assert!(
            run(&steady, 0, 1000).is_none(),
            "a small share of a large catalogue"
        );
        assert!(
            run(&steady, 1, 12).is_none(),
            "as many other endpoints as objects"
        );
        let bursts = [
            0, 100, 200, 20_000, 20_100, 20_200, 40_000, 40_100, 40_200, 59_000,
        ];
        assert!(run(&bursts, 0, 12).is_none(), "bursts: a person");
        let slow: Vec<u64> = (0..10).map(|i| i * 7000).collect();
        assert!(run(&slow, 0, 12).is_none(), "63 s: beyond the window");
    }
}
