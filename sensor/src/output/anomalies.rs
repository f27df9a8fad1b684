//! Anomaly counts: over the run by name (the summary, `--stats-json` and metrics), and per
//! session (the session records' `anomalies`, HTTP, TCP and session-layer kinds).

use std::collections::BTreeMap;

use apitap_exporters::ExportError;

use super::{OutputStats, Records, SessionCx, Stage};
use crate::staged::Staged;

/// Counts every exported transaction's anomalies, over the run and in its session.
#[derive(Debug, Default)]
pub struct AnomalyCounts {
    /// HTTP and TCP anomalies of exported transactions, by name.
    by_name: BTreeMap<&'static str, u64>,
}

impl Stage for AnomalyCounts {
    fn transaction(
        &mut self,
        _now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        _records: &mut Records,
    ) -> Result<(), ExportError> {
        for name in item.tx.anomaly_names() {
            *self.by_name.entry(name).or_default() += 1;
        }
        if let Some(SessionCx {
            tx,
            state: Some(state),
        }) = session
        {
            state.count_anomalies(tx.anomaly_names(&item.tx));
        }
        Ok(())
    }

    fn add_stats(&self, stats: &mut OutputStats) {
        for (name, n) in &self.by_name {
            *stats.anomalies.entry((*name).to_owned()).or_default() += n;
        }
    }
}
