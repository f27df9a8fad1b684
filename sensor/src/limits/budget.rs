//! The shares of the budget and the bounds they give each component.

use crate::config::Config;
use apitap_reassembly::Reassembler;
use apitap_sessionizer::http::HttpTracker;
use apitap_sessionizer::session::Sessionizer;

/// Bytes per MiB.
const MIB: u64 = 1024 * 1024;

/// Percent of the budget for TCP flows (the reassembler's flow table and the HTTP stage's
/// connection table: [`flow_bytes`] each).
pub const FLOWS_PERCENT: u64 = 20;
/// Percent of the budget for out-of-order bytes waiting for a hole to fill.
pub const OOO_PERCENT: u64 = 10;
/// Percent of the budget for delivered bytes kept until the peer acknowledges them.
pub const RETAINED_PERCENT: u64 = 5;
/// Percent of the budget for what HTTP connections hold (heads, waiting requests, bodies).
pub const HTTP_PERCENT: u64 = 20;
/// Percent of the budget for open sessions (at [`Sessionizer::session_bytes`] each).
pub const SESSIONS_PERCENT: u64 = 30;
/// Percent of the budget for the behaviours' tables (sessions, clients, users, User-Agents
/// and endpoints with their id sets and evidence), counted in bytes as they hold them.
pub const BEHAVIOURS_PERCENT: u64 = 10;
/// Percent left for state with fixed bounds of its own (detection and JWT caches, batches,
/// queues).
pub const UNSHARED_PERCENT: u64 = 100
    - FLOWS_PERCENT
    - OOO_PERCENT
    - RETAINED_PERCENT
    - HTTP_PERCENT
    - SESSIONS_PERCENT
    - BEHAVIOURS_PERCENT;

/// What one TCP flow costs before it buffers anything, in bytes: the reassembler's entry and
/// the HTTP stage's (a half-open connection of a SYN flood costs this).
pub fn flow_bytes() -> usize {
    Reassembler::FLOW_BYTES + HttpTracker::CONN_BYTES
}

/// The bounds the budget gives each component, after the explicit bounds that are smaller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// `limits.max_memory_mb` in bytes.
    pub memory_bytes: u64,
    /// Worker threads the per-worker shares are divided among (at least 1).
    pub workers: usize,
    /// `reassembly.max_flows`, per worker.
    pub max_flows: usize,
    /// `reassembly.max_ooo_bytes_total`, per worker.
    pub max_ooo_bytes_total: usize,
    /// `reassembly.max_retained_bytes_total`, per worker.
    pub max_retained_bytes_total: usize,
    /// `http.max_held_bytes_total`, per worker.
    pub max_held_bytes_total: usize,
    /// `session.max_sessions` (one table for all workers).
    pub max_sessions: usize,
    /// `behaviours.max_held_bytes` (one stage for all workers).
    pub behaviours_held_bytes: usize,
    /// [`flow_bytes`].
    pub flow_bytes: usize,
    /// [`Sessionizer::session_bytes`] with the config's per-session bounds.
    pub session_bytes: usize,
}

impl Budget {
    /// The bounds for `cfg` run by `workers` worker threads (0: the single pipeline, as 1).
    pub fn of(cfg: &Config, workers: usize) -> Budget {
        let workers = workers.max(1);
        let memory_bytes = cfg.limits.max_memory_mb.saturating_mul(MIB);
        let share = |percent: u64, per_worker: bool| -> usize {
            let bytes = memory_bytes / 100 * percent;
            let bytes = if per_worker {
                bytes / workers as u64
            } else {
                bytes
            };
            usize::try_from(bytes).unwrap_or(usize::MAX)
        };
        let flow_bytes = flow_bytes();
        let session_bytes = Sessionizer::session_bytes(&cfg.session).max(1);
        let (r, h) = (&cfg.reassembly, &cfg.http);
        Budget {
            memory_bytes,
            workers,
            max_flows: r
                .max_flows
                .min(share(FLOWS_PERCENT, true) / flow_bytes)
                .max(1),
            max_ooo_bytes_total: r.max_ooo_bytes_total.min(share(OOO_PERCENT, true)),
            max_retained_bytes_total: r
                .max_retained_bytes_total
                .min(share(RETAINED_PERCENT, true)),
            max_held_bytes_total: h.max_held_bytes_total.min(share(HTTP_PERCENT, true)),
            max_sessions: cfg
                .session
                .max_sessions
                .min(share(SESSIONS_PERCENT, false) / session_bytes)
                .max(1),
            behaviours_held_bytes: cfg
                .behaviours
                .max_held_bytes
                .min(share(BEHAVIOURS_PERCENT, false)),
            flow_bytes,
            session_bytes,
        }
    }

    /// `cfg` with these bounds in place: what the components are built from. A per-stream
    /// bound larger than its total is lowered to it.
    pub fn applied(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        let r = &mut c.reassembly;
        r.max_flows = self.max_flows;
        r.max_ooo_bytes_total = self.max_ooo_bytes_total;
        r.max_ooo_bytes_per_stream = r.max_ooo_bytes_per_stream.min(self.max_ooo_bytes_total);
        r.max_retained_bytes_total = self.max_retained_bytes_total;
        r.max_retained_bytes_per_stream = r
            .max_retained_bytes_per_stream
            .min(self.max_retained_bytes_total);
        c.http.max_held_bytes_total = self.max_held_bytes_total;
        c.session.max_sessions = self.max_sessions;
        // The behaviours follow sessions: tracking more than the session table holds is
        // state for sessions that ended.
        c.behaviours.max_sessions = c.behaviours.max_sessions.min(self.max_sessions);
        c.behaviours.max_held_bytes = self.behaviours_held_bytes;
        c
    }

    /// The bounds as TOML comments, for `check-config` and the logs.
    pub fn describe(&self) -> String {
        let mib = |b: usize| b as f64 / MIB as f64;
        let per = if self.workers > 1 {
            format!(" (per worker, {} workers)", self.workers)
        } else {
            String::new()
        };
        format!(
            "# Memory budget: limits.max_memory_mb = {} gives{per}\n\
             #   reassembly.max_flows = {} ({} bytes per flow, {FLOWS_PERCENT} %)\n\
             #   reassembly.max_ooo_bytes_total = {} ({:.1} MiB, {OOO_PERCENT} %)\n\
             #   reassembly.max_retained_bytes_total = {} ({:.1} MiB, {RETAINED_PERCENT} %)\n\
             #   http.max_held_bytes_total = {} ({:.1} MiB, {HTTP_PERCENT} %)\n\
             #   session.max_sessions = {} ({} bytes per session at the worst, {SESSIONS_PERCENT} %, all workers)\n\
             #   behaviours.max_held_bytes = {} ({:.1} MiB, {BEHAVIOURS_PERCENT} %, all workers)\n\
             # (a bound set lower in its own section wins; {UNSHARED_PERCENT} % is left for fixed costs)\n",
            self.memory_bytes / MIB,
            self.max_flows,
            self.flow_bytes,
            self.max_ooo_bytes_total,
            mib(self.max_ooo_bytes_total),
            self.max_retained_bytes_total,
            mib(self.max_retained_bytes_total),
            self.max_held_bytes_total,
            mib(self.max_held_bytes_total),
            self.max_sessions,
            self.session_bytes,
            self.behaviours_held_bytes,
            mib(self.behaviours_held_bytes),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    #[test]
    fn the_shares_add_up_to_the_whole_budget() {
        assert_eq!(
            FLOWS_PERCENT
                + OOO_PERCENT
                + RETAINED_PERCENT
                + HTTP_PERCENT
                + SESSIONS_PERCENT
                + BEHAVIOURS_PERCENT
                + UNSHARED_PERCENT,
            100
        );
    }

    /// Each derived bound times its per-entry cost fits its share.
    #[test]
    fn each_component_gets_its_share_over_its_entry_cost() {
        let cfg = parse("[limits]\nmax_memory_mb = 100\n");
        let b = Budget::of(&cfg, 0);
        let mb = 100 * MIB as usize;
        assert_eq!(b.max_flows, mb / 100 * 20 / flow_bytes());
        assert_eq!(b.max_ooo_bytes_total, mb / 100 * 10);
        assert_eq!(b.max_retained_bytes_total, mb / 100 * 5);
        assert_eq!(b.max_held_bytes_total, mb / 100 * 20);
        assert_eq!(b.max_sessions, mb / 100 * 30 / b.session_bytes);
        assert_eq!(b.behaviours_held_bytes, mb / 100 * 10);
        let used = b.max_flows * b.flow_bytes
            + b.max_ooo_bytes_total
            + b.max_retained_bytes_total
            + b.max_held_bytes_total
            + b.max_sessions * b.session_bytes
            + b.behaviours_held_bytes;
        assert!(used <= mb / 100 * (100 - UNSHARED_PERCENT as usize));
    }

    #[test]
    fn workers_divide_the_per_worker_shares_not_the_sessions() {
        let cfg = parse("[limits]\nmax_memory_mb = 100\n");
        let (one, four) = (Budget::of(&cfg, 1), Budget::of(&cfg, 4));
        assert_eq!(four.max_flows, one.max_flows / 4);
        assert_eq!(four.max_held_bytes_total, one.max_held_bytes_total / 4);
        assert_eq!(four.max_ooo_bytes_total, one.max_ooo_bytes_total / 4);
        assert_eq!(four.max_sessions, one.max_sessions);
        assert_eq!(four.behaviours_held_bytes, one.behaviours_held_bytes);
        assert_eq!(
            Budget::of(&cfg, 0),
            one,
            "the single pipeline is one worker"
        );
    }

    #[test]
    fn an_explicit_smaller_bound_wins_and_per_stream_bounds_follow_their_totals() {
        let cfg = parse(
            "[limits]\nmax_memory_mb = 16\n[reassembly]\nmax_flows = 10\n\
             [session]\nmax_sessions = 3\n[behaviours]\nmax_held_bytes = 1048576\n",
        );
        let b = Budget::of(&cfg, 1);
        assert_eq!((b.max_flows, b.max_sessions), (10, 3));
        assert_eq!(b.behaviours_held_bytes, 1_048_576, "below 10 % of 16 MiB");
        let applied = b.applied(&cfg);
        assert_eq!(applied.reassembly.max_flows, 10);
        assert_eq!(applied.http.max_held_bytes_total, b.max_held_bytes_total);
        assert_eq!(applied.behaviours.max_held_bytes, 1_048_576);
        assert_eq!(
            applied.behaviours.max_sessions, 3,
            "behaviours follow sessions"
        );
        assert!(
            applied.reassembly.max_ooo_bytes_per_stream <= applied.reassembly.max_ooo_bytes_total
        );
        assert!(
            applied.reassembly.max_retained_bytes_per_stream
                <= applied.reassembly.max_retained_bytes_total
        );
        assert!(
            b.max_ooo_bytes_total < cfg.reassembly.max_ooo_bytes_total,
            "16 MiB is the smaller bound here"
        );
    }

    #[test]
    fn the_default_budget_bounds_a_million_syns_below_a_gibibyte() {
        let b = Budget::of(&Config::default(), 1);
        assert!(b.max_flows < 1_000_000);
        assert!((b.max_flows * b.flow_bytes) as u64 <= b.memory_bytes / 100 * FLOWS_PERCENT);
        assert!(b.describe().contains("reassembly.max_flows"));
    }

    #[test]
    fn a_budget_out_of_range_is_refused_naming_the_field() {
        for text in [
            "[limits]\nmax_memory_mb = 1\n",
            "[limits]\nmax_memory_mb = 99999999999\n",
        ] {
            let e = Config::parse(text).unwrap_err().to_string();
            assert!(e.contains("limits.max_memory_mb"), "{e}");
        }
        assert!(Config::parse("[limits]\nmax_memory = 5\n").is_err());
    }
}
