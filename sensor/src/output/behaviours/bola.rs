//! `bola`: broken object-level authorization. A session reads or changes, successfully, many
//! distinct objects of one endpoint that were never issued to it.
//!
//! Ownership: an id is the session's when it appeared in one of its earlier responses (a
//! JSON body, a `Location` header) or in the path of its own request that created it
//! (`201`). Each distinct id the session reads on the endpoint with a 2xx is its own or
//! foreign, the first time. The alert fires when `min_foreign_ids` foreign ids were first
//! read within `window_ms` and they are at least `min_foreign_ratio` of the distinct ids
//! read in that time. Only sessions keyed by a credential are looked at: an anonymous client
//! that reads an object successfully was allowed to without logging in.

use super::config::BolaConfig;
use super::entity::ObjectTrack;
use super::found::{round4, Found};
use super::state::{Evidence, Read};

/// Kind name.
pub const KIND: &str = "bola";

/// The session first read (2xx) an id on `track` (of `endpoint`): `owned` when it was issued
/// to it. `known` is how many ids the session owns. At packet time `now_us`.
pub fn on_first_read(
    cfg: &BolaConfig,
    track: &mut ObjectTrack,
    endpoint: &str,
    ev: Evidence,
    owned: bool,
    known: usize,
) -> Option<Found> {
    if owned {
        track.owned += 1;
        return None;
    }
    let now = ev.ts_us;
    track
        .bola
        .push(Read::new(ev.ts_us, ev.tx, track.owned), cfg.min_foreign_ids);
    let window_us = cfg.window_ms.saturating_mul(1000);
    track
        .bola
        .full_within(cfg.min_foreign_ids, now, window_us)?;
    decide(cfg, track, endpoint, now, known)
}

/// The evidence is complete: the ratio decides. Out of the per-transaction path (the
/// instruction cache holds what every transaction runs).
#[cold]
#[inline(never)]
fn decide(
    cfg: &BolaConfig,
    track: &mut ObjectTrack,
    endpoint: &str,
    now: u64,
    known: usize,
) -> Option<Found> {
    let window_us = cfg.window_ms.saturating_mul(1000);
    let ring = track
        .bola
        .full_within(cfg.min_foreign_ids, now, window_us)?;
    let foreign = ring.len() as u64;
    let owned_in_window = ring.front().map_or(0, |e| e.since(track.owned));
    let ratio = foreign as f64 / (foreign + owned_in_window) as f64;
    if ratio < cfg.min_foreign_ratio {
        return None;
    }
    let found = Found::new(KIND, ring, Some(endpoint))
        .with("foreign_ids", foreign)
        .with("owned_ids", owned_in_window)
        .with("foreign_ratio", round4(ratio))
        .with("known_ids", known as u64)
        .with("distinct_ids_read", track.ids.len() as u64)
        .with("window_ms", cfg.window_ms);
    track.bola.fired(now, window_us);
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::behaviours::state::{IdSet, Ring};
    use apitap_sessionizer::session::TransactionId;

    fn track() -> ObjectTrack {
        ObjectTrack {
            endpoint_fp: 1,
            ids: IdSet::default(),
            owned: 0,
            bola: Ring::default(),
            scraping: Ring::default(),
        }
    }

    fn ev(s: u64) -> Evidence {
        Evidence {
            ts_us: s * 1_000_000,
            tx: TransactionId {
                conn: 1,
                depth: s as u32,
            },
            before: 0,
            aux: 0,
        }
    }

    const E: &str = "GET /api/orders/{id}";

    fn cfg() -> BolaConfig {
        BolaConfig {
            min_foreign_ids: 5,
            min_foreign_ratio: 0.8,
            window_ms: 10_000,
            ..BolaConfig::default()
        }
    }

    #[test]
    fn foreign_reads_within_the_window_fire_once() {
        let (c, mut t) = (cfg(), track());
        for s in 0..4 {
            assert_eq!(on_first_read(&c, &mut t, E, ev(s), false, 0), None);
        }
        let f = on_first_read(&c, &mut t, E, ev(4), false, 0).expect("5 foreign in 4 s");
        assert_eq!(f.evidence["foreign_ids"], 5);
        assert_eq!(f.evidence["owned_ids"], 0);
        assert_eq!(f.txs.len(), 5);
        assert_eq!(f.first_ts_us, 0);
        for s in 5..10 {
            assert_eq!(
                on_first_read(&c, &mut t, E, ev(s), false, 0),
                None,
                "quiet for the window"
            );
        }
    }

    /// The window's edge: 5 reads spanning exactly 10 s fire, spanning 11 s do not.
    #[test]
    fn window_edges() {
        let (c, mut t) = (cfg(), track());
        for s in [0, 3, 6, 9] {
            on_first_read(&c, &mut t, E, ev(s), false, 0);
        }
        assert!(on_first_read(&c, &mut t, E, ev(10), false, 0).is_some());
        let mut t = track();
        for s in [0, 3, 6, 9] {
            on_first_read(&c, &mut t, E, ev(s), false, 0);
        }
        assert!(on_first_read(&c, &mut t, E, ev(11), false, 0).is_none());
    }

    /// A user opening each of their own orders is not BOLA; owning most of what one reads
    /// keeps the ratio low even with foreign reads among them.
    #[test]
    fn own_objects_are_not_bola() {
        let (c, mut t) = (cfg(), track());
        for s in 0..40 {
            assert_eq!(on_first_read(&c, &mut t, E, ev(s / 10), true, 40), None);
        }
        assert_eq!(t.owned, 40);
        // 5 foreign among 20 reads in the window: ratio 5/17 when the fifth comes.
        let mut t = track();
        let fired = (0..20)
            .filter_map(|s| on_first_read(&c, &mut t, E, ev(s / 4), s % 4 != 0, 20))
            .count();
        assert_eq!(fired, 0);
        assert_eq!(t.bola.len(), 5, "the evidence is there, the ratio is not");
    }
}
