//! Attacks in sessions: each transaction's findings counted in its session (by class and by
//! outcome, with the time of the first and how many requests came before it), and the alerts
//! a security team acts on: `attack` at a session's first attack, `attack_served` the first
//! time one of its attacks was served or made the application fail.

use std::collections::BTreeMap;

use apitap_detect::Outcome;
use apitap_exporters::ExportError;
use apitap_sessionizer::alert::Alert;
use apitap_sessionizer::session::{SessionSummary, TxSession};
use serde_json::{json, Map, Value};

use super::{OutputStats, Records, SessionCx, Stage};
use crate::staged::{Scan, Staged};

/// Alert kind of a session's first attack.
pub const ALERT_ATTACK: &str = "attack";
/// Alert kind of the first attack of a session that was served or made the application fail.
pub const ALERT_ATTACK_SERVED: &str = "attack_served";

/// Counts attacks in sessions and raises their alerts.
#[derive(Debug, Default)]
pub struct Attacks {
    /// Transactions carrying attacks, by class, over the run.
    by_class: BTreeMap<&'static str, u64>,
    /// Transactions carrying attacks, by outcome, over the run.
    by_outcome: BTreeMap<&'static str, u64>,
}

/// Whether an outcome means the attack reached working code: what an analyst looks at first.
fn got_through(o: Outcome) -> bool {
    matches!(o, Outcome::Served | Outcome::Error)
}

impl Attacks {
    /// The alert of kind `kind` about `item`'s attack in session `ts`.
    fn alert(
        kind: &'static str,
        item: &Staged,
        scan: &Scan,
        ts: &TxSession,
        sum: &SessionSummary,
        records: &Records,
    ) -> Alert {
        let red = records.redactor();
        let findings: Vec<Value> = scan
            .findings
            .iter()
            .map(|f| {
                json!({
                    "class": f.class.name(),
                    "rule": f.rule,
                    "where": f.location.to_string(),
                    "evidence": red.evidence(f),
                })
            })
            .collect();
        let mut evidence = Map::new();
        evidence.insert("outcome".into(), scan.outcome.name().into());
        evidence.insert("findings".into(), findings.into());
        evidence.insert(
            "requests_before_first_attack".into(),
            sum.requests_before_first_attack.into(),
        );
        super::transaction_alert(kind, item, ts, sum, ts.endpoint.clone(), evidence)
    }
}

impl Stage for Attacks {
    fn transaction(
        &mut self,
        _now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let Some(scan) = item.scan.as_ref().filter(|s| !s.findings.is_empty()) else {
            return Ok(());
        };
        let mut classes: Vec<&'static str> = scan.findings.iter().map(|f| f.class.name()).collect();
        classes.sort_unstable();
        classes.dedup();
        for c in &classes {
            *self.by_class.entry(c).or_default() += 1;
        }
        *self.by_outcome.entry(scan.outcome.name()).or_default() += 1;
        let Some(SessionCx {
            tx: ts,
            state: Some(sum),
        }) = session
        else {
            return Ok(());
        };
        let first = sum.first_attack_ts_us.is_none();
        let through_before = sum
            .attack_outcomes
            .iter()
            .any(|(o, n)| *n > 0 && (*o == Outcome::Served.name() || *o == Outcome::Error.name()));
        if first {
            sum.first_attack_ts_us = Some(item.tx.ts_us());
            // The session's own count already holds this transaction.
            sum.requests_before_first_attack = Some(sum.requests.saturating_sub(1));
        }
        for c in classes {
            *sum.attacks.entry(c).or_default() += 1;
        }
        *sum.attack_outcomes.entry(scan.outcome.name()).or_default() += 1;
        let mut kinds = Vec::new();
        if first {
            kinds.push(ALERT_ATTACK);
        }
        if !through_before && got_through(scan.outcome) {
            kinds.push(ALERT_ATTACK_SERVED);
        }
        for kind in kinds {
            sum.count_alert(kind);
            let alert = Attacks::alert(kind, item, scan, ts, sum, records);
            records.alert(&alert)?;
        }
        Ok(())
    }

    fn add_stats(&self, stats: &mut OutputStats) {
        for (c, n) in &self.by_class {
            *stats.attacks.entry((*c).to_owned()).or_default() += n;
        }
        for (o, n) in &self.by_outcome {
            *stats.attack_outcomes.entry((*o).to_owned()).or_default() += n;
        }
    }
}
