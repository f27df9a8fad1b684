//! `volume_spike`: a session or a user whose total of a numeric context parameter (order
//! amount, transfer volume) over the window is far above the other sessions' (users') on the
//! same endpoint: the seed's "unusual spike in orders".
//!
//! Robust statistics: the median and the median absolute deviation (MAD) of the others'
//! window totals, and the modified z-score `0.6745 * (total - median) / MAD` (Iglewicz and
//! Hoaglin). The alert fires when the score is at least `min_score`, the total at least
//! `min_ratio` times the median, the window holds at least `min_values` values, and at least
//! `min_population` others are known.

use super::config::{Statistic, VolumeSpikeConfig};
use super::entity::{Population, Volume, VolumeEvent};
use super::found::{round4, Found};
use super::state::median;

/// Kind name.
pub const KIND: &str = "volume_spike";

/// `0.6745`: the MAD of a normal distribution in standard deviations (the 0.75 quantile).
const MAD_TO_SIGMA: f64 = 0.6745;

/// Whose total it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A session.
    Session,
    /// A user, over sessions.
    User,
}

/// The entity `key` had value `e` of the parameter on an endpoint whose population of
/// totals is `pop`. Returns the finding, and how many values were dropped early at
/// `max_events`.
#[inline(never)]
pub fn on_value(
    cfg: &VolumeSpikeConfig,
    vol: &mut Volume,
    pop: &mut Population,
    key: u64,
    e: VolumeEvent,
    scope: Scope,
    endpoint: &str,
) -> (Option<Found>, u64) {
    let window_us = cfg.window_ms.saturating_mul(1000);
    let dropped = vol.add(e, window_us, cfg.max_events);
    pop.set(key, vol.total, cfg.max_population);
    if e.ts_us < vol.quiet_until_us || vol.events.len() < cfg.min_values {
        return (None, dropped);
    }
    let mut others = pop.others(key);
    if others.len() < cfg.min_population {
        return (None, dropped);
    }
    let Some(m) = median(&mut others) else {
        return (None, dropped);
    };
    let mut dev: Vec<f64> = others.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev).unwrap_or(0.0);
    // Most others equal (MAD 0): measure against the mean deviation instead, else the
    // median itself, so that one value just above identical ones is not infinitely far.
    let mean_dev = dev.iter().sum::<f64>() / dev.len().max(1) as f64;
    let scale = [mad, mean_dev, m.abs()]
        .into_iter()
        .find(|s| *s > 0.0)
        .unwrap_or(1.0);
    let total = vol.total;
    let score = MAD_TO_SIGMA * (total - m) / scale;
    if score < cfg.min_score || total < cfg.min_ratio * m || total <= m {
        return (None, dropped);
    }
    let txs: std::collections::VecDeque<_> = vol
        .events
        .iter()
        .map(|v| super::state::Evidence {
            ts_us: v.ts_us,
            tx: v.tx,
            before: 0,
            aux: 0,
        })
        .collect();
    let statistic = match cfg.statistic {
        Statistic::Sum => "sum",
        Statistic::Count => "count",
    };
    let found = Found::new(KIND, &txs, Some(endpoint))
        .with("param", cfg.param.as_str())
        .with("statistic", statistic)
        .with("total", round4(total))
        .with("values", vol.events.len() as u64)
        .with("median", round4(m))
        .with("mad", round4(mad))
        .with("score", round4(score))
        .with("population", others.len() as u64)
        .with(
            "scope",
            match scope {
                Scope::Session => "session",
                Scope::User => "user",
            },
        )
        .with("window_ms", cfg.window_ms);
    vol.quiet_until_us = e.ts_us.saturating_add(window_us);
    (Some(found), dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_sessionizer::session::TransactionId;

    fn cfg() -> VolumeSpikeConfig {
        VolumeSpikeConfig {
            min_population: 5,
            min_values: 1,
            ..VolumeSpikeConfig::default()
        }
    }

    /// One large value is not a spike with `min_values = 3`; the third is.
    #[test]
    fn a_spike_needs_several_values() {
        let c = VolumeSpikeConfig {
            min_population: 5,
            ..VolumeSpikeConfig::default()
        };
        let (mut p, mut v) = (population(), Volume::default());
        let fired: Vec<bool> = (0..3)
            .map(|s| {
                on_value(&c, &mut v, &mut p, 99, e(s, 400.0), Scope::Session, "x")
                    .0
                    .is_some()
            })
            .collect();
        assert_eq!(fired, [false, false, true]);
    }

    fn e(s: u64, value: f64) -> VolumeEvent {
        VolumeEvent {
            ts_us: s * 1_000_000,
            value,
            tx: TransactionId {
                conn: 1,
                depth: s as u32,
            },
        }
    }

    /// Ten sessions ordering 20-60 each, then one ordering 2,000.
    fn population() -> Population {
        let mut p = Population::default();
        for k in 0..10u64 {
            p.set(k, 20.0 + 4.0 * k as f64, 100);
        }
        p
    }

    #[test]
    fn a_total_far_above_the_others_fires_once() {
        let (c, mut p, mut v) = (cfg(), population(), Volume::default());
        let mut found = Vec::new();
        for s in 0..10 {
            found.extend(
                on_value(
                    &c,
                    &mut v,
                    &mut p,
                    99,
                    e(s, 200.0),
                    Scope::Session,
                    "POST /orders",
                )
                .0,
            );
        }
        assert_eq!(found.len(), 1, "quiet for the window after firing");
        let f = &found[0];
        assert_eq!(f.evidence["median"], 38.0);
        assert_eq!(f.evidence["population"], 10);
        assert!(f.evidence["score"].as_f64().unwrap() >= 5.0, "{f:?}");
        assert_eq!(f.txs.len(), f.evidence["values"].as_u64().unwrap() as usize);
    }

    #[test]
    fn an_ordinary_total_and_a_small_population_do_not_fire() {
        let (c, mut p, mut v) = (cfg(), population(), Volume::default());
        assert!(
            on_value(&c, &mut v, &mut p, 99, e(0, 55.0), Scope::Session, "x")
                .0
                .is_none()
        );
        let mut small = Population::default();
        for k in 0..4 {
            small.set(k, 10.0, 100);
        }
        let mut v = Volume::default();
        assert!(
            on_value(&c, &mut v, &mut small, 99, e(0, 5000.0), Scope::User, "x")
                .0
                .is_none()
        );
    }

    /// Identical others (MAD 0) are measured against the median: a little more is nothing.
    #[test]
    fn identical_others_are_not_a_zero_scale() {
        let c = cfg();
        let mut p = Population::default();
        for k in 0..10 {
            p.set(k, 10.0, 100);
        }
        let mut v = Volume::default();
        assert!(
            on_value(&c, &mut v, &mut p, 99, e(0, 12.0), Scope::Session, "x")
                .0
                .is_none()
        );
        let mut v = Volume::default();
        assert!(
            on_value(&c, &mut v, &mut p, 98, e(0, 100.0), Scope::Session, "x")
                .0
                .is_some()
        );
    }
}
