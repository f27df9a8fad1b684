//! `brute_force`: many failed logins for one username, from any address.
//!
//! Each failed login of the username is evidence, with the client's fingerprint. The alert
//! fires when `min_failures` failed within `window_ms` (CrowdSec's http-generic-bf leaks 5
//! failures per address per 10 s; per username, across addresses, 10 in 5 minutes).

use super::config::BruteForceConfig;
use super::entity::UserState;
use super::found::Found;
use super::state::Evidence;

/// Kind name.
pub const KIND: &str = "brute_force";

/// A login of the user failed (`ev.aux`: the client's fingerprint).
#[inline(never)]
pub fn on_failed_login(
    cfg: &BruteForceConfig,
    user: &mut UserState,
    ev: Evidence,
) -> Option<Found> {
    let now = ev.ts_us;
    user.failed_logins.push(ev, cfg.min_failures);
    let window_us = cfg.window_ms.saturating_mul(1000);
    let ring = user
        .failed_logins
        .full_within(cfg.min_failures, now, window_us)?;
    let mut clients: Vec<i64> = ring.iter().map(|e| e.aux).collect();
    clients.sort_unstable();
    clients.dedup();
    let span_us = now.saturating_sub(ring.front().map_or(now, |e| e.ts_us));
    let found = Found::new(KIND, ring, None)
        .with("failures", ring.len() as u64)
        .with("clients", clients.len() as u64)
        .with("span_ms", span_us / 1000)
        .with("window_ms", cfg.window_ms);
    user.failed_logins.fired(now, window_us);
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_sessionizer::session::TransactionId;

    fn ev(s: u64, client: i64) -> Evidence {
        Evidence {
            ts_us: s * 1_000_000,
            tx: TransactionId {
                conn: 1,
                depth: s as u32,
            },
            before: 0,
            aux: client,
        }
    }

    #[test]
    fn failures_within_the_window_fire_and_mistypes_do_not() {
        let c = BruteForceConfig {
            min_failures: 5,
            window_ms: 60_000,
            ..BruteForceConfig::default()
        };
        let mut u = UserState::default();
        assert!(on_failed_login(&c, &mut u, ev(0, 1)).is_none());
        assert!(
            on_failed_login(&c, &mut u, ev(5, 1)).is_none(),
            "two mistypes"
        );
        for s in [10, 20, 30] {
            assert!(on_failed_login(&c, &mut u, ev(s, 2)).is_none() || s == 30);
        }
        let mut u = UserState::default();
        let found: Vec<Found> = (0..5)
            .filter_map(|s| on_failed_login(&c, &mut u, ev(s * 15, s as i64 % 2)))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "5 failures in 60 s, the window's edge included"
        );
        assert_eq!(found[0].evidence["clients"], 2);
        let mut u = UserState::default();
        let late: Vec<Found> = (0..5)
            .filter_map(|s| on_failed_login(&c, &mut u, ev(s * 16, 1)))
            .collect();
        assert!(late.is_empty(), "64 s: one past the window");
    }
}
