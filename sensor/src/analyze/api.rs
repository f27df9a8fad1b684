//! API classification: each transaction matched against the loaded OpenAPI specs
//! ([`apitap_inventory::Matcher`]) as `documented`, `shadow`, `zombie` or `unmanaged`, with
//! the operation, the drift from it, the authentication schemes seen and, for JSON bodies, the
//! inferred schemas (field names and types, never values). docs/api-inventory.md.
//!
//! When a spec documents the call, its template names the transaction's endpoint in the
//! session (`GET /api/v1/users/{userId}`) instead of the sessionizer's guess, so sessions,
//! detection and behaviours speak the spec's names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apitap_inventory::{
    detect_auth, infer_json, ApiConfig, ApiRecord, ApiRequest, BodySchema, Inference, Matcher, Spec,
};
use apitap_sessionizer::http::target::{split_target, target_authority};
use apitap_sessionizer::http::{Headers, Transaction};
use apitap_sessionizer::session::body;
use apitap_sessionizer::session::config::BodyConfig;

use super::Analyzer;
use crate::config::Config;
use crate::staged::StagedBatch;

/// Classifies every transaction and infers its bodies' schemas.
pub struct ApiClassify {
    matcher: Arc<Matcher>,
    /// `api`: whether and which bodies' schemas are inferred.
    cfg: ApiConfig,
    /// Body decoding limits (`session.body`).
    limits: BodyConfig,
}

impl ApiClassify {
    /// A classifier with `matcher`, inferring schemas as `cfg` says, decoding bodies within
    /// `limits`.
    pub fn new(matcher: Arc<Matcher>, cfg: &ApiConfig, limits: &BodyConfig) -> Self {
        ApiClassify {
            matcher,
            cfg: cfg.clone(),
            limits: limits.clone(),
        }
    }

    /// The `api` object of `tx`; `None` without a request.
    fn classify(&self, tx: &Transaction) -> Option<ApiRecord> {
        let r = tx.request.as_ref()?;
        let (path, query) = split_target(&r.uri);
        // One walk of the header fields: the authentication schemes, and on the way the
        // `Host` and `Content-Type` the matcher reads (each was a walk of its own).
        let mut read = MatcherHeaders::default();
        let auth = detect_auth(
            r.headers
                .iter_bytes()
                .enumerate()
                .map(|(i, (name, value))| {
                    read.note(i, name);
                    (name, value)
                }),
            query,
        );
        let value = |i: Option<usize>| r.headers.value_at(i?);
        let req = ApiRequest {
            host: value(read.host).or_else(|| target_authority(&r.uri)),
            method: &r.method,
            path,
            query,
            status: tx.response.as_ref().map(|p| p.status),
            content_type: value(read.content_type),
        };
        let c = self.matcher.classify(&req);
        let mut api = ApiRecord::new(&c, auth);
        if self.cfg.samples_schema(tx.client, tx.server, tx.depth) {
            api.request_schema = self.schema(&r.headers, &r.body, r.body_truncated);
            if let Some(p) = &tx.response {
                api.response_schema = self.schema(&p.headers, &p.body, p.body_truncated);
            }
        }
        Some(api)
    }

    /// The schema of a JSON body: decoded, and whole (a body cut at the capture bound says
    /// nothing of the fields past the cut).
    fn schema(&self, headers: &Headers, raw: &[u8], truncated: bool) -> Option<BodySchema> {
        if raw.is_empty() || truncated || !is_json(headers.get("content-type")?) {
            return None;
        }
        let (bytes, _) = body::decode(headers.get("content-encoding"), raw, false, &self.limits);
        match infer_json(&bytes) {
            Inference::Complete(s) => Some(s.into()),
            Inference::Truncated | Inference::NotJson => None,
        }
    }
}

/// The header fields the matcher reads, each the first of its name, by their place.
#[derive(Default)]
struct MatcherHeaders {
    /// `Host`.
    host: Option<usize>,
    /// `Content-Type`.
    content_type: Option<usize>,
}

impl MatcherHeaders {
    /// Note field `i`, named `name`, if it is one of them, not met before; the length picks
    /// the one name to compare.
    fn note(&mut self, i: usize, name: &[u8]) {
        let (slot, wanted) = match name.len() {
            4 => (&mut self.host, b"host".as_slice()),
            12 => (&mut self.content_type, b"content-type".as_slice()),
            _ => return,
        };
        if slot.is_none() && name.eq_ignore_ascii_case(wanted) {
            *slot = Some(i);
        }
    }
}

/// Whether a media type is JSON (`application/json`, `application/problem+json`...).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((_, sub)) = essence.split_once('/') else {
        return false;
    };
    sub.eq_ignore_ascii_case("json")
        || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json")
}

impl Analyzer for ApiClassify {
    fn analyze(&mut self, batch: &mut StagedBatch) {
        for item in batch.items.iter_mut().filter(|i| i.api.is_none()) {
            let Some(api) = self.classify(&item.tx) else {
                continue;
            };
            // The spec's template names the endpoint in the session and for the analyses
            // after this one.
            if let (Some(t), Some(facts), Some(r)) =
                (&api.template, item.facts.as_mut(), &item.tx.request)
            {
                facts.set_endpoint(&r.method, t);
            }
            item.api = Some(api);
        }
    }
}

/// Where a spec named in `api.specs` is read from: absolute as written, relative to the
/// config file's directory otherwise (the working directory without a file).
fn spec_path(name: &str, config_dir: Option<&Path>) -> PathBuf {
    let p = Path::new(name);
    match config_dir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

/// The classifier `cfg` asks for, every spec read and compiled once and shared by every
/// worker; `None` with classification off (`api.enabled`). The error names the spec or the
/// field to fix.
pub fn matcher(cfg: &Config) -> Result<Option<Arc<Matcher>>, String> {
    if !cfg.api.is_on() {
        return Ok(None);
    }
    let mut specs = Vec::with_capacity(cfg.api.specs.len());
    for name in &cfg.api.specs {
        let path = spec_path(name, cfg.source_dir.as_deref());
        let bytes = std::fs::read(&path).map_err(|e| {
            format!(
                "api.specs: cannot read {name:?} (at {}): {e}",
                path.display()
            )
        })?;
        specs.push(Spec::parse(name, &bytes).map_err(|e| e.to_string())?);
    }
    let m = Matcher::new(specs, &cfg.api).map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised_with_parameters_and_suffixes() {
        for yes in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
            "application/vnd.api+json;v=2",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "application/jsonl",
            "json",
            "",
            "application/x-json5",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[test]
    fn the_matcher_reads_the_first_host_and_content_type_in_any_case() {
        let mut read = MatcherHeaders::default();
        let names = [
            "Accept",
            "HOST",
            "Content-Type",
            "Host",
            "X-Content-Type",
            "content-type",
        ];
        for (i, name) in names.iter().enumerate() {
            read.note(i, name.as_bytes());
        }
        assert_eq!((read.host, read.content_type), (Some(1), Some(2)));
    }

    #[test]
    fn relative_spec_paths_hang_under_the_config_directory() {
        let dir = Path::new("/etc/apitap");
        assert_eq!(
            spec_path("specs/a.yaml", Some(dir)),
            Path::new("/etc/apitap/specs/a.yaml")
        );
        assert_eq!(
            spec_path("/srv/a.yaml", Some(dir)),
            Path::new("/srv/a.yaml")
        );
        assert_eq!(spec_path("a.yaml", None), Path::new("a.yaml"));
    }
}
