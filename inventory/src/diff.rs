//! An inventory against a spec: what traffic shows beyond it (shadow operations, zombie
//! calls, drift) and what it has that traffic never used.
//!
//! The spec is matched on every host (its own `servers` hosts are ignored, its base paths
//! kept): a diff asks "is this call in the spec", whichever host served it. Each endpoint is
//! classified by the first request path seen for it; drift is recomputed from the query
//! names, statuses and request media types the inventory holds, so records need no `api`.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use crate::aggregate::{EndpointInventory, Inventory, OTHER};
use crate::config::{ApiConfig, ApiConfigError, SpecOverride};
use crate::matcher::{ApiReason, ApiRequest, ApiStatus, Matcher};
use crate::record::DriftRecord;
use crate::spec::Spec;

/// An endpoint seen in traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeenEndpoint {
    /// Its host.
    pub host: String,
    /// Its method.
    pub method: String,
    /// Its template (the spec's when one matched).
    pub template: String,
    /// Requests.
    pub requests: u64,
    /// Why it is listed.
    pub reason: ApiReason,
    /// The matched `operationId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
}

/// Drift of one documented endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: SeenEndpoint,
    /// How it strays, each once.
    pub drift: Vec<DriftRecord>,
}

/// A spec operation traffic never used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnusedOperation {
    /// Its method.
    pub method: String,
    /// Its path as the spec writes it.
    pub path: String,
    /// Its `operationId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
}

/// The diff.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SpecDiff {
    /// The spec compared.
    pub spec: String,
    /// Endpoints no operation matches (undocumented paths and methods).
    pub shadow: Vec<SeenEndpoint>,
    /// Endpoints that matched deprecated operations.
    pub zombie: Vec<SeenEndpoint>,
    /// Matched endpoints that stray from their operation.
    pub drift: Vec<DriftedEndpoint>,
    /// Spec operations no endpoint matched.
    pub unused: Vec<UnusedOperation>,
}

/// Compare an inventory with a spec.
pub fn diff(inv: &Inventory, spec: Spec) -> Result<SpecDiff, ApiConfigError> {
    let name = spec.name.clone();
    let config = ApiConfig {
        overrides: vec![SpecOverride {
            spec: name.clone(),
            hosts: vec!["*".into()],
            base_path: None,
        }],
        ..ApiConfig::new()
    };
    let matcher = Matcher::new(vec![spec], &config)?;
    let mut used = vec![false; matcher.operations().count()];
    let mut out = SpecDiff {
        spec: name,
        ..SpecDiff::default()
    };
    for host in &inv.hosts {
        for ep in &host.endpoints {
            compare_endpoint(&matcher, &host.host, ep, &mut used, &mut out);
        }
    }
    out.unused = matcher
        .operations()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((_, op), _)| UnusedOperation {
            method: op.method.token().into(),
            path: op.path.clone(),
            operation_id: op.operation_id.clone(),
            deprecated: op.deprecated,
        })
        .collect();
    Ok(out)
}

/// One endpoint against the spec: shadow, or its operation marked used (and zombie or
/// drifted).
fn compare_endpoint(
    matcher: &Matcher,
    host: &str,
    ep: &EndpointInventory,
    used: &mut [bool],
    out: &mut SpecDiff,
) {
    let path = if ep.sample_path.is_empty() {
        ep.template.as_str()
    } else {
        ep.sample_path.as_str()
    };
    let base = ApiRequest {
        host: Some(host),
        method: &ep.method,
        path,
        ..ApiRequest::default()
    };
    let c = matcher.classify(&base);
    let seen = SeenEndpoint {
        host: host.to_string(),
        method: ep.method.clone(),
        template: c.template().unwrap_or(&ep.template).to_string(),
        requests: ep.requests,
        reason: c.reason,
        operation_id: c.operation_id().map(Into::into),
    };
    let Some(i) = c.operation_index else {
        out.shadow.push(seen);
        return;
    };
    if let Some(u) = used.get_mut(i) {
        *u = true;
    }
    if c.status == ApiStatus::Zombie {
        out.zombie.push(seen.clone());
    }
    let drift = endpoint_drift(matcher, ep, &base);
    if !drift.is_empty() {
        out.drift.push(DriftedEndpoint {
            endpoint: seen,
            drift,
        });
    }
}

/// The drift of an endpoint's query names, response statuses and request media types, each
/// once: one probe for the names, one per status, one per media type.
fn endpoint_drift(
    matcher: &Matcher,
    ep: &EndpointInventory,
    base: &ApiRequest<'_>,
) -> Vec<DriftRecord> {
    let names: Vec<&str> = ep
        .query_params
        .counts
        .keys()
        .map(String::as_str)
        .filter(|n| *n != OTHER)
        .collect();
    let query = names.join("&");
    let mut probes = vec![ApiRequest {
        query: Some(&query),
        ..*base
    }];
    probes.extend(ep.responses.keys().map(|s| ApiRequest {
        status: Some(*s),
        ..*base
    }));
    probes.extend(
        ep.request_content_types
            .counts
            .keys()
            .filter(|t| *t != OTHER)
            .map(|t| ApiRequest {
                content_type: Some(t),
                ..*base
            }),
    );
    let drift: BTreeSet<DriftRecord> = probes
        .iter()
        .flat_map(|p| {
            matcher
                .classify(p)
                .drift
                .iter()
                .map(DriftRecord::from)
                .collect::<Vec<_>>()
        })
        .collect();
    drift.into_iter().collect()
}

/// The diff as text.
pub fn render_diff(d: &SpecDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "traffic against {}", d.spec);
    let _ = writeln!(
        out,
        "\nshadow (in traffic, not in the spec): {}",
        d.shadow.len()
    );
    for e in &d.shadow {
        let why = match e.reason {
            ApiReason::UndocumentedMethod => "undocumented method",
            _ => "undocumented path",
        };
        let _ = writeln!(
            out,
            "  {} {} {}  ({} requests, {why})",
            e.host, e.method, e.template, e.requests
        );
    }
    let _ = writeln!(
        out,
        "\nzombie (deprecated operations called): {}",
        d.zombie.len()
    );
    for e in &d.zombie {
        let _ = writeln!(
            out,
            "  {} {} {}  ({} requests)",
            e.host, e.method, e.template, e.requests
        );
    }
    let _ = writeln!(out, "\ndrift: {}", d.drift.len());
    for e in &d.drift {
        let kinds: Vec<String> = e.drift.iter().map(DriftRecord::key).collect();
        let _ = writeln!(
            out,
            "  {} {} {}  {}",
            e.endpoint.host,
            e.endpoint.method,
            e.endpoint.template,
            kinds.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\nunused (in the spec, never in traffic): {}",
        d.unused.len()
    );
    for u in &d.unused {
        let id = u.operation_id.as_deref().unwrap_or("-");
        let dep = if u.deprecated { ", deprecated" } else { "" };
        let _ = writeln!(out, "  {} {}  ({id}{dep})", u.method, u.path);
    }
    out
}
