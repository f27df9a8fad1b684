//! API calls in sessions: each transaction's API status counted in its session, the shadow
//! and zombie endpoints it called listed, and an alert the first time a session calls each
//! one (`shadow_api`, `zombie_api`): an undocumented or retired API in use is what an API
//! security team hunts, and the session says who used it and what else they did.

use apitap_exporters::ExportError;
use apitap_inventory::{ApiRecord, ApiStatus};
use apitap_sessionizer::alert::Alert;
use apitap_sessionizer::session::{
    ApiCallCounts, SessionSummary, TxSession, MAX_SESSION_API_ENDPOINTS,
};
use serde_json::{Map, Value};

use super::{OutputStats, Records, SessionCx, Stage};
use crate::staged::Staged;

/// Alert kind of a session's first call to a shadow endpoint.
pub const ALERT_SHADOW_API: &str = "shadow_api";
/// Alert kind of a session's first call to a zombie endpoint.
pub const ALERT_ZOMBIE_API: &str = "zombie_api";

/// Counts API calls by status, in sessions and over the run, and raises the shadow and
/// zombie alerts.
#[derive(Debug, Default)]
pub struct ApiCalls {
    /// Transactions by API status over the run (counters, as a session's: a map's look-up
    /// per transaction cost more than the count).
    by_status: ApiCallCounts,
}

/// How a session lists an endpoint: the session's endpoint name (the spec's template when
/// one matched), or the method and the path of the record.
fn endpoint_name(item: &Staged, ts: &TxSession) -> Box<str> {
    if let Some(e) = &ts.endpoint {
        return e.as_str().into();
    }
    match &item.tx.request {
        Some(r) => {
            let (path, _) = apitap_sessionizer::http::target::split_target(&r.uri);
            format!("{} {path}", r.method).into()
        }
        None => "".into(),
    }
}

/// Note `name` in `list`; true when it is new there (and was listed). A new name past the
/// bound is counted in `dropped`.
fn note(list: &mut Vec<Box<str>>, dropped: &mut u64, name: Box<str>) -> bool {
    if list.contains(&name) {
        return false;
    }
    if list.len() >= MAX_SESSION_API_ENDPOINTS {
        *dropped += 1;
        return false;
    }
    list.push(name);
    true
}

impl ApiCalls {
    /// The alert of kind `kind` about `item`'s call in session `ts`.
    fn alert(
        kind: &'static str,
        item: &Staged,
        api: &ApiRecord,
        endpoint: &str,
        ts: &TxSession,
        sum: &SessionSummary,
    ) -> Alert {
        let mut evidence = Map::new();
        evidence.insert("endpoint".into(), endpoint.into());
        evidence.insert("reason".into(), api.reason.as_str().into());
        if let Some(spec) = &api.spec {
            evidence.insert("spec".into(), (**spec).into());
        }
        if let Some(op) = &api.operation_id {
            evidence.insert("operation_id".into(), (**op).into());
        }
        let status = item.tx.response.as_ref().map(|r| r.status);
        evidence.insert("status".into(), status.map_or(Value::Null, Value::from));
        let auth: Vec<Value> = api
            .auth
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
            .collect();
        evidence.insert("auth".into(), auth.into());
        super::transaction_alert(kind, item, ts, sum, Some(endpoint.to_string()), evidence)
    }
}

impl Stage for ApiCalls {
    fn transaction(
        &mut self,
        _now_us: u64,
        item: &Staged,
        session: Option<SessionCx<'_>>,
        records: &mut Records,
    ) -> Result<(), ExportError> {
        let Some(api) = &item.api else {
            return Ok(());
        };
        self.by_status.add(api.status, 1);
        let Some(SessionCx {
            tx: ts,
            state: Some(sum),
        }) = session
        else {
            return Ok(());
        };
        sum.api_calls.add(api.status, 1);
        let (list, kind) = match api.status {
            ApiStatus::Shadow => (&mut sum.shadow_endpoints, ALERT_SHADOW_API),
            ApiStatus::Zombie => (&mut sum.zombie_endpoints, ALERT_ZOMBIE_API),
            ApiStatus::Documented | ApiStatus::Unmanaged => return Ok(()),
        };
        let name = endpoint_name(item, ts);
        if !note(list, &mut sum.api_endpoints_dropped, name.clone()) {
            return Ok(());
        }
        sum.count_alert(kind);
        let alert = ApiCalls::alert(kind, item, api, &name, ts, sum);
        records.alert(&alert)
    }

    fn add_stats(&self, stats: &mut OutputStats) {
        for (status, n) in self.by_status.iter() {
            *stats.api_calls.entry(status.to_owned()).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lists_each_endpoint_once_and_counts_what_does_not_fit() {
        let mut list = Vec::new();
        let mut dropped = 0;
        assert!(note(&mut list, &mut dropped, "GET /a".into()));
        assert!(!note(&mut list, &mut dropped, "GET /a".into()));
        for i in 1..MAX_SESSION_API_ENDPOINTS {
            assert!(note(&mut list, &mut dropped, format!("GET /{i}").into()));
        }
        assert_eq!(list.len(), MAX_SESSION_API_ENDPOINTS);
        assert!(!note(&mut list, &mut dropped, "GET /late".into()));
        assert!(!note(&mut list, &mut dropped, "GET /later".into()));
        assert_eq!(dropped, 2);
        // Known names are still recognised, not counted again.
        assert!(!note(&mut list, &mut dropped, "GET /a".into()));
        assert_eq!(dropped, 2);
    }
}
