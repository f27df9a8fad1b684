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

use apitap_inventory::ascii::eq_lower;
use apitap_inventory::{
    detect_auth, infer_json, ApiConfig, ApiRecord, ApiRequest, AuthSeen, BearerShape, BodySchema,
    ClassKey, Inference, Matcher, MembersJson, Spec,
};
use apitap_sessionizer::http::target::{split_target, target_authority};
use apitap_sessionizer::http::{Headers, Transaction};
use apitap_sessionizer::record::api_members_json;
use apitap_sessionizer::session::body;
use apitap_sessionizer::session::config::BodyConfig;
use apitap_sessionizer::session::TxFacts;
use hashbrown::HashTable;

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
    /// Records' members written for earlier transactions.
    written: MembersMemo,
}

impl ApiClassify {
    /// A classifier with `matcher`, inferring schemas as `cfg` says, decoding bodies within
    /// `limits`.
    pub fn new(matcher: Arc<Matcher>, cfg: &ApiConfig, limits: &BodyConfig) -> Self {
        ApiClassify {
            matcher,
            cfg: cfg.clone(),
            limits: limits.clone(),
            written: MembersMemo::default(),
        }
    }

    /// The `api` object of `tx`; `None` without a request. `bearer` is the shape of its
    /// bearer token when the session facts judged it.
    fn classify(&mut self, tx: &Transaction, bearer: Option<BearerShape>) -> Option<ApiRecord> {
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
            bearer,
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
        // Drift names what the request sent: its members are written per record.
        if api.drift.is_empty() {
            api.members_json = MembersJson(Some(self.written.members(c.key(), &api)));
        }
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
    fn schema(&self, headers: &Headers, raw: &[u8], truncated: bool) -> Option<Box<BodySchema>> {
        if raw.is_empty() || truncated || !is_json(headers.get("content-type")?) {
            return None;
        }
        let (bytes, _) = body::decode(headers.get("content-encoding"), raw, false, &self.limits);
        match infer_json(&bytes) {
            Inference::Complete(s) => Some(Box::new(s.into())),
            Inference::Truncated | Inference::NotJson => None,
        }
    }
}

/// Distinct (classification, schemes) pairs whose members a classifier remembers; at the
/// bound the memo starts again empty (a request's cookie name is the client's to choose, so
/// the pairs are not bounded by the specs).
pub const MAX_REMEMBERED_MEMBERS: usize = 4096;

/// The members of records written for earlier transactions ([`api_members_json`]), by the
/// classification's key and the schemes seen: the specs' names and the schemes' objects are
/// written once per pair instead of once per transaction. Per worker.
#[derive(Default)]
struct MembersMemo {
    /// The entries.
    table: HashTable<Remembered>,
    /// The hasher of keys: cookie and API-key names are the client's to choose, so a per-run
    /// seed (as the behaviours' tables have), lest chosen names collide into long probes.
    /// Nothing written depends on it: the memo only finds what it would write again.
    hasher: foldhash::fast::RandomState,
}

/// One remembered record's members.
struct Remembered {
    /// Its classification.
    key: ClassKey,
    /// Its schemes.
    auth: Box<[AuthSeen]>,
    /// Its members.
    json: Arc<str>,
}

impl MembersMemo {
    /// The members of `api` (classified with `key`, without drift), remembered or written.
    fn members(&mut self, key: ClassKey, api: &ApiRecord) -> Arc<str> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one((key, &api.auth[..]));
        let same = |r: &Remembered| r.key == key && *r.auth == api.auth[..];
        if let Some(r) = self.table.find(hash, same) {
            return r.json.clone();
        }
        if self.table.len() >= MAX_REMEMBERED_MEMBERS {
            self.table.clear();
        }
        let json: Arc<str> = api_members_json(api).into();
        let hasher = &self.hasher;
        self.table.insert_unique(
            hash,
            Remembered {
                key,
                auth: api.auth.iter().cloned().collect(),
                json: json.clone(),
            },
            |r| hasher.hash_one((r.key, &r.auth[..])),
        );
        json
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
        if slot.is_none() && eq_lower(name, wanted) {
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
            // Made in its place: a record moved is a copy of all its bytes.
            let bearer = item.facts.as_ref().and_then(TxFacts::bearer_shape);
            item.api = self.classify(&item.tx, bearer);
            // The spec's template names the endpoint in the session and for the analyses
            // after this one.
            let template = item.api.as_ref().and_then(|a| a.template.as_ref());
            if let (Some(t), Some(facts), Some(r)) =
                (template, item.facts.as_mut(), &item.tx.request)
            {
                facts.set_endpoint(&r.method, t);
            }
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

    /// A documented record of route `route` with schemes `auth`, and its key.
    fn record(route: u32, auth: &[AuthSeen]) -> (ClassKey, ApiRecord) {
        use apitap_inventory::{ApiReason, ApiStatus};
        let key = ClassKey {
            status: ApiStatus::Documented,
            reason: ApiReason::Operation,
            spec: 0,
            route,
        };
        let api = ApiRecord {
            status: key.status,
            reason: key.reason,
            spec: Some("a.yaml".into()),
            operation_id: Some(format!("op{route}").into()),
            template: Some(format!("/r{route}/{{id}}").into()),
            drift: Vec::new(),
            auth: auth.iter().cloned().collect(),
            request_schema: None,
            response_schema: None,
            members_json: MembersJson::default(),
        };
        (key, api)
    }

    #[test]
    fn remembered_members_are_the_written_ones_per_classification_and_schemes() {
        use apitap_inventory::AuthScheme;
        let bearer = AuthSeen {
            scheme: AuthScheme::BearerJwt,
            name: None,
        };
        let cookie = |n: &str| AuthSeen {
            scheme: AuthScheme::Cookie,
            name: Some(n.into()),
        };
        let cases = [
            (0, vec![bearer.clone()]),
            (0, vec![bearer.clone(), cookie("sid")]),
            (0, vec![cookie("sid"), bearer.clone()]),
            (1, vec![bearer.clone(), cookie("sid")]),
            (0, vec![cookie("sid")]),
            (0, vec![cookie("other")]),
        ];
        let mut memo = MembersMemo::default();
        for round in 0..2 {
            for (route, auth) in &cases {
                let (key, api) = record(*route, auth);
                assert_eq!(&*memo.members(key, &api), api_members_json(&api));
            }
            assert_eq!(memo.table.len(), cases.len(), "round {round}");
        }
    }

    #[test]
    fn the_memo_starts_again_at_its_bound() {
        use apitap_inventory::AuthScheme;
        let mut memo = MembersMemo::default();
        for i in 0..=MAX_REMEMBERED_MEMBERS {
            let name = format!("c{i}");
            let cookie = AuthSeen {
                scheme: AuthScheme::Cookie,
                name: Some(name.as_str().into()),
            };
            let (key, api) = record(0, &[cookie]);
            assert!(memo.members(key, &api).contains(&name));
            assert!(memo.table.len() <= MAX_REMEMBERED_MEMBERS);
        }
        assert_eq!(
            memo.table.len(),
            1,
            "emptied at the bound, then the last one"
        );
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
