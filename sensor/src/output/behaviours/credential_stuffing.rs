//! `credential_stuffing`: one client address, or several sharing a User-Agent, logs in as
//! many distinct usernames and mostly fails.
//!
//! Each new username that fails for an entity is evidence, with the entity's attempt and
//! failure counts before it (successful logins count as attempts, never as evidence: the
//! colleagues behind one address who log in are not the list being tried). The alert fires
//! when `min_usernames` (per address) or `min_usernames_per_agent` (per
//! User-Agent seen from at least `min_agent_clients` addresses) new usernames were tried
//! within `window_ms` and at least `min_failure_ratio` of the attempts in that time failed.

use super::config::CredentialStuffingConfig;
use super::entity::Logins;
use super::found::{round4, Found};
use super::state::{Bound, Evidence};

/// Kind name.
pub const KIND: &str = "credential_stuffing";

/// Who tried the usernames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One client address.
    Client,
    /// One User-Agent over `clients` addresses.
    Agent {
        /// Distinct addresses it logged in from.
        clients: usize,
    },
}

/// A login attempt of the entity as username `user_fp`, `failed` or not.
#[inline(never)]
pub fn on_attempt(
    cfg: &CredentialStuffingConfig,
    logins: &mut Logins,
    ev: Evidence,
    user_fp: u64,
    failed: bool,
    scope: Scope,
    mut bound: Bound<'_>,
) -> Option<Found> {
    logins.attempts += 1;
    logins.failures += u64::from(failed);
    if !failed || !bound.first(&mut logins.usernames, user_fp) {
        return None;
    }
    let now = ev.ts_us;
    let min = match scope {
        Scope::Client => cfg.min_usernames,
        Scope::Agent { .. } => cfg.min_usernames_per_agent,
    };
    logins.ring.push(
        Evidence {
            before: logins.attempts - 1,
            aux: (logins.failures - 1) as i64,
            ..ev
        },
        min,
    );
    if let Scope::Agent { clients } = scope {
        if clients < cfg.min_agent_clients {
            return None;
        }
    }
    let window_us = cfg.window_ms.saturating_mul(1000);
    let ring = logins.ring.full_within(min, now, window_us)?;
    let front = ring.front()?;
    let attempts = logins.attempts - front.before;
    let failures = logins.failures.saturating_sub(front.aux.max(0) as u64);
    let ratio = failures as f64 / attempts.max(1) as f64;
    if ratio < cfg.min_failure_ratio {
        return None;
    }
    let mut found = Found::new(KIND, ring, None)
        .with("usernames", ring.len() as u64)
        .with("attempts", attempts)
        .with("failures", failures)
        .with("failure_ratio", round4(ratio))
        .with("window_ms", cfg.window_ms);
    found = match scope {
        Scope::Client => found.with("scope", "client_ip"),
        Scope::Agent { clients } => found
            .with("scope", "user_agent")
            .with("clients", clients as u64),
    };
    logins.ring.fired(now, window_us);
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_sessionizer::session::TransactionId;

    fn cfg() -> CredentialStuffingConfig {
        CredentialStuffingConfig {
            min_usernames: 4,
            min_usernames_per_agent: 4,
            min_agent_clients: 2,
            ..CredentialStuffingConfig::default()
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

    fn attempts(list: &[(u64, bool)], scope: Scope) -> Vec<Found> {
        let (c, mut l, mut d) = (cfg(), Logins::default(), 0);
        list.iter()
            .enumerate()
            .filter_map(|(i, (user, failed))| {
                let b = Bound {
                    max: 100,
                    dropped: &mut d,
                };
                on_attempt(&c, &mut l, ev(i as u64), *user, *failed, scope, b)
            })
            .collect()
    }

    #[test]
    fn many_usernames_mostly_failing_fire() {
        let f = attempts(&[(1, true), (2, true), (3, true), (4, true)], Scope::Client);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence["usernames"], 4);
        assert_eq!(f[0].evidence["failure_ratio"], 1.0);
        assert_eq!(f[0].evidence["scope"], "client_ip");
    }

    /// An office behind one address: several people log in, one mistypes twice.
    #[test]
    fn colleagues_behind_one_address_do_not_fire() {
        let office = [
            (1, true),
            (1, true),
            (1, false),
            (2, false),
            (3, false),
            (4, false),
            (5, false),
        ];
        assert!(attempts(&office, Scope::Client).is_empty());
    }

    #[test]
    fn an_agent_fires_only_across_addresses() {
        let list = [(1, true), (2, true), (3, true), (4, true)];
        assert!(attempts(&list, Scope::Agent { clients: 1 }).is_empty());
        assert_eq!(attempts(&list, Scope::Agent { clients: 2 }).len(), 1);
    }
}
