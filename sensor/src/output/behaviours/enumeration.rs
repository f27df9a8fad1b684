//! `enumeration`: a session or a client walks ids (or paths), in order or not, and mostly
//! fails (404, 403).
//!
//! Each distinct failing object (endpoint and id, or the path of an endpoint without an id)
//! is evidence, with the entity's request count before it. The alert fires when
//! `min_failed_ids` distinct objects failed within `window_ms` and the failures are at least
//! `min_failure_ratio` of the entity's requests in that time (CrowdSec's http-probing: 10
//! distinct failing paths per 10 s).

use std::collections::VecDeque;

use super::config::EnumerationConfig;
use super::entity::Failures;
use super::found::{round4, Found};
use super::state::{Bound, Evidence};

/// Kind name.
pub const KIND: &str = "enumeration";

/// `aux` of evidence without a numeric id.
pub const NO_NUMBER: i64 = i64::MIN;

/// A request of the entity failed on object `key_fp` (`ev.aux`: its id when numeric, else
/// [`NO_NUMBER`]). `requests` is the entity's request count with this one; `bound` bounds
/// the distinct failing objects remembered.
pub fn on_failure(
    cfg: &EnumerationConfig,
    f: &mut Failures,
    ev: Evidence,
    key_fp: u64,
    requests: u64,
    endpoint: Option<&str>,
    mut bound: Bound<'_>,
) -> Option<Found> {
    if !bound.first(&mut f.seen, key_fp) {
        return None;
    }
    let now = ev.ts_us;
    f.ring.push(
        Evidence {
            before: requests.saturating_sub(1),
            ..ev
        },
        cfg.min_failed_ids,
    );
    let window_us = cfg.window_ms.saturating_mul(1000);
    f.ring.full_within(cfg.min_failed_ids, now, window_us)?;
    decide(cfg, f, now, requests, endpoint)
}

/// The evidence is complete: the failure ratio decides. Out of the per-transaction path.
#[cold]
#[inline(never)]
fn decide(
    cfg: &EnumerationConfig,
    f: &mut Failures,
    now: u64,
    requests: u64,
    endpoint: Option<&str>,
) -> Option<Found> {
    let window_us = cfg.window_ms.saturating_mul(1000);
    let ring = f.ring.full_within(cfg.min_failed_ids, now, window_us)?;
    let failed = ring.len() as u64;
    let in_window = requests - ring.front().map_or(0, |e| e.before);
    let ratio = failed as f64 / in_window.max(1) as f64;
    if ratio < cfg.min_failure_ratio {
        return None;
    }
    let found = Found::new(KIND, ring, endpoint)
        .with("failed_ids", failed)
        .with("requests", in_window)
        .with("failure_ratio", round4(ratio))
        .with("sequential_ratio", round4(sequential_ratio(ring)))
        .with("window_ms", cfg.window_ms);
    f.ring.fired(now, window_us);
    Some(found)
}

/// Share of the evidence's consecutive numeric ids that differ by one: 1 for a walk
/// `1, 2, 3...`, near 0 for random ids.
fn sequential_ratio(ring: &VecDeque<Evidence>) -> f64 {
    let pairs: Vec<(i64, i64)> = ring
        .iter()
        .zip(ring.iter().skip(1))
        .map(|(a, b)| (a.aux, b.aux))
        .filter(|(a, b)| *a != NO_NUMBER && *b != NO_NUMBER)
        .collect();
    if pairs.is_empty() {
        return 0.0;
    }
    let steps = pairs.iter().filter(|(a, b)| a.abs_diff(*b) == 1).count();
    steps as f64 / pairs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_sessionizer::session::TransactionId;

    fn cfg() -> EnumerationConfig {
        EnumerationConfig {
            min_failed_ids: 4,
            window_ms: 10_000,
            ..EnumerationConfig::default()
        }
    }

    fn b(max: usize, dropped: &mut u64) -> Bound<'_> {
        Bound { max, dropped }
    }

    fn ev(ms: u64, id: i64) -> Evidence {
        Evidence {
            ts_us: ms * 1000,
            tx: TransactionId {
                conn: 1,
                depth: ms as u32,
            },
            before: 0,
            aux: id,
        }
    }

    /// A sequential walk of failing ids fires, with its evidence; repeating one id does not
    /// count twice.
    #[test]
    fn a_failing_walk_fires() {
        let (c, mut f, mut u) = (cfg(), Failures::default(), 0);
        for r in 1..=3 {
            let again = on_failure(&c, &mut f, ev(r, 1), 1, r, None, b(100, &mut u));
            assert!(again.is_none());
        }
        assert_eq!(
            f.ring.len(),
            1,
            "one id failing three times is one piece of evidence"
        );
        let mut fired = Vec::new();
        for i in 2..=4u64 {
            let e = ev(1000 + i, i as i64);
            fired.extend(on_failure(
                &c,
                &mut f,
                e,
                i,
                2 + i,
                Some("GET /o/{id}"),
                b(100, &mut u),
            ));
        }
        let found = fired.pop().expect("4 distinct failures");
        assert!(fired.is_empty());
        assert_eq!(found.evidence["failed_ids"], 4);
        assert_eq!(found.evidence["requests"], 6, "from the first evidence on");
        assert_eq!(found.evidence["sequential_ratio"], 1.0);
        assert_eq!(found.endpoint.as_deref(), Some("GET /o/{id}"));
    }

    /// Many successes among the failures (a NAT address, a busy session) keep the ratio low.
    #[test]
    fn failures_among_many_successes_do_not_fire() {
        let (c, mut f, mut u) = (cfg(), Failures::default(), 0);
        let mut requests = 0;
        for i in 0..4u64 {
            requests += 10; // nine successes between failures
            assert!(on_failure(
                &c,
                &mut f,
                ev(i, i as i64 * 7),
                i,
                requests,
                None,
                b(100, &mut u)
            )
            .is_none());
        }
    }

    /// Failures spread beyond the window do not fire; the distinct set's bound is counted.
    #[test]
    fn window_edge_and_bound() {
        let (c, mut f, mut u) = (cfg(), Failures::default(), 0);
        for (i, ms) in [0u64, 4000, 8000, 10_001].into_iter().enumerate() {
            assert!(on_failure(
                &c,
                &mut f,
                ev(ms, 0),
                i as u64,
                i as u64 + 1,
                None,
                b(100, &mut u)
            )
            .is_none());
        }
        assert!(
            on_failure(&c, &mut f, ev(10_002, 0), 9, 5, None, b(100, &mut u)).is_some(),
            "4000..10002"
        );
        let (mut f, mut u) = (Failures::default(), 0);
        for i in 0..5 {
            on_failure(&c, &mut f, ev(i, 0), i, i + 1, None, b(2, &mut u));
        }
        assert_eq!(u, 3);
    }
}
