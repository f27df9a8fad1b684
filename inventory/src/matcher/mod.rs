//! Classification of transactions against the loaded specs, built once.
//!
//! Each (host, base path) a spec applies to is a *mount* with a segment trie of its templates.
//! A transaction's host picks its mounts (by hash; those of specs that cover every host come
//! with every host), longest base path first; the first mount whose base path leads the
//! request path and whose trie has a template for the method decides. Specs are inserted in
//! config order, so when two document the same method and template on the same mount the
//! first one wins.

mod keymap;
mod result;
mod retired;
mod trie;

use std::borrow::Cow;
use std::sync::Arc;

use hashbrown::HashMap;
use smallvec::SmallVec;

pub use result::{ApiReason, ApiRequest, ApiStatus, ClassKey, Classification, Drift, Drifts};

use crate::config::{ApiConfig, ApiConfigError, SpecOverride};
use crate::spec::{base_path, media_essence, Method, Operation, ServerBase, Spec};
use keymap::KeyMap;
use retired::Retired;
use trie::{segments, Trie, NONE};

/// Undocumented query parameter names listed per transaction; further ones are not listed
/// (the drift is already plain from these).
pub const MAX_QUERY_DRIFT_NAMES: usize = 8;

/// Path segments looked at on the stack; a deeper path is collected on the heap.
const INLINE_SEGMENTS: usize = 16;

/// A template under a mount, pointing to its operation.
#[derive(Debug)]
struct Route {
    /// Index into [`Matcher::operations`].
    op: u32,
    /// The full template: base path and the spec's path (shared with every record of it).
    template: Arc<str>,
}

/// One (host, base path) and the templates under it.
#[derive(Debug)]
struct Mount {
    /// The base path (`""` or `/`-led without a trailing `/`).
    base: Box<str>,
    /// How many segments the base path has: a request below it skips that many.
    base_segments: usize,
    /// Whether it covers every host.
    any_host: bool,
    /// The spec that first claimed it (named for shadow calls under it).
    spec: u32,
    /// Its templates.
    trie: Trie,
}

/// An operation and its spec.
#[derive(Debug)]
struct Entry {
    /// Index into [`Matcher::specs`].
    spec: u32,
    /// The operation.
    op: Operation,
    /// Its `operationId`, shared with every record of it.
    operation_id: Option<Arc<str>>,
}

/// The classifier: specs and config compiled into per-host tries. Immutable once built;
/// share it between threads by reference or `Arc`.
#[derive(Debug)]
pub struct Matcher {
    /// Spec names, in config order (shared with every record naming them).
    specs: Vec<Arc<str>>,
    /// Every operation of every spec.
    entries: Vec<Entry>,
    /// Every template of every mount.
    routes: Vec<Route>,
    /// Every mount.
    mounts: Vec<Mount>,
    /// Mount indexes per lowercase host, longest base path first (every-host mounts
    /// included).
    by_host: KeyMap<Box<[u32]>>,
    /// Mount indexes of specs that cover every host, longest base path first.
    any_host: Box<[u32]>,
    /// `api.retired`.
    retired: Retired,
}

impl Matcher {
    /// Build the matcher from parsed specs (in `api.specs` order) and the config's retired
    /// list and overrides.
    pub fn new(specs: Vec<Spec>, config: &ApiConfig) -> Result<Matcher, ApiConfigError> {
        check_overrides(&specs, &config.overrides)?;
        let mut m = Matcher {
            specs: Vec::with_capacity(specs.len()),
            entries: Vec::new(),
            routes: Vec::new(),
            mounts: Vec::new(),
            by_host: KeyMap::default(),
            any_host: Box::default(),
            retired: Retired::new(&config.retired)?,
        };
        let mut mount_of: HashMap<ServerBase, u32> = HashMap::new();
        for spec in specs {
            if m.specs.iter().any(|s| **s == *spec.name) {
                return Err(ApiConfigError::DuplicateSpec { name: spec.name });
            }
            let spec_idx = index(m.specs.len());
            let ovr = config
                .overrides
                .iter()
                .find(|o| names_spec(&o.spec, &spec.name));
            for op in spec.operations {
                let op_idx = index(m.entries.len());
                for base in apply_override(&op.servers, ovr) {
                    let mount = *mount_of.entry(base.clone()).or_insert_with(|| {
                        m.mounts.push(Mount {
                            base: base.base_path.clone().into(),
                            base_segments: segments(&base.base_path).count(),
                            any_host: base.host.is_none(),
                            spec: spec_idx,
                            trie: Trie::default(),
                        });
                        index(m.mounts.len() - 1)
                    });
                    m.add_route(mount, &op, op_idx);
                }
                let operation_id = op.operation_id.as_deref().map(Arc::from);
                m.entries.push(Entry {
                    spec: spec_idx,
                    op,
                    operation_id,
                });
            }
            m.specs.push(spec.name.into());
        }
        m.index_hosts(&mount_of);
        Ok(m)
    }

    /// Put `op` into the trie of `mount` (a second operation at the same method and
    /// template stays out: the first spec wins).
    fn add_route(&mut self, mount: u32, op: &Operation, op_idx: u32) {
        let route = index(self.routes.len());
        let Some(mt) = self.mounts.get_mut(mount as usize) else {
            return;
        };
        if mt.trie.insert(&op.path, op.method, route).is_ok() {
            let template = if op.path.starts_with('/') {
                format!("{}{}", mt.base, op.path)
            } else {
                format!("{}/{}", mt.base, op.path)
            };
            self.routes.push(Route {
                op: op_idx,
                template: template.into(),
            });
        }
    }

    /// Fill `by_host` and `any_host` from the mounts.
    fn index_hosts(&mut self, mount_of: &HashMap<ServerBase, u32>) {
        let mut hosts: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut any = Vec::new();
        for (base, &mount) in mount_of {
            match &base.host {
                Some(h) => hosts.entry(h.as_str()).or_default().push(mount),
                None => any.push(mount),
            }
        }
        let mounts = &self.mounts;
        // Longest base path first; at equal length a host's own mount before every-host
        // ones; then the older mount (config order).
        let order = |list: &mut Vec<u32>| {
            list.sort_by_key(|&i| {
                let mt = &mounts[i as usize];
                (std::cmp::Reverse(mt.base.len()), mt.any_host, i)
            })
        };
        order(&mut any);
        let mut by_host = KeyMap::default();
        for (host, mut list) in hosts {
            list.extend_from_slice(&any);
            order(&mut list);
            // Each host once: `hosts` is a map.
            let _ = by_host.insert(host, list.into_boxed_slice());
        }
        self.by_host = by_host;
        self.any_host = any.into_boxed_slice();
    }

    /// Spec names, in config order.
    pub fn spec_names(&self) -> impl Iterator<Item = &str> {
        self.specs.iter().map(|s| &**s)
    }

    /// Every operation of every spec, with its spec's name, in load order; indexes are
    /// [`Classification::operation_index`].
    pub fn operations(&self) -> impl Iterator<Item = (&str, &Operation)> {
        self.entries
            .iter()
            .map(|e| (self.spec_name(e.spec).map_or("", |s| &**s), &e.op))
    }

    /// The name of spec `i`.
    fn spec_name(&self, i: u32) -> Option<&Arc<str>> {
        self.specs.get(i as usize)
    }

    /// Classify one transaction.
    pub fn classify<'m, 'a>(&'m self, req: &ApiRequest<'a>) -> Classification<'m, 'a> {
        let retired = self.retired.names(req.path);
        let mounts = self.mounts_of(req.host);
        let Some(&first) = mounts.first() else {
            return self.unmatched(ApiStatus::Unmanaged, ApiReason::NoSpec, None, None, retired);
        };
        let method = Method::from_token(req.method);
        // The path is split once; each mount skips its base path's segments.
        // Filled in place: `collect` would build it and then copy it out.
        let mut segs: SmallVec<[&str; INLINE_SEGMENTS]> = SmallVec::new();
        segs.extend(segments(req.path));
        let mut covering = None;
        // The first documented path that fits, whatever its methods: an undocumented method.
        let mut documented_path: Option<(u32, u32)> = None;
        for &mi in mounts {
            let Some((mount, rest)) = self.below(mi, req.path, &segs) else {
                continue;
            };
            covering.get_or_insert(mount.spec);
            let (found, any) = mount.trie.find_both(rest, method);
            if let Some(r) = found {
                return self.matched(r, req, retired);
            }
            if let (None, Some(r)) = (documented_path, any) {
                documented_path = Some((mount.spec, r));
            }
        }
        if let Some((spec, r)) = documented_path {
            return self.unmatched(
                ApiStatus::Shadow,
                ApiReason::UndocumentedMethod,
                Some(spec),
                Some(r),
                retired,
            );
        }
        let spec = covering.or_else(|| self.mounts.get(first as usize).map(|m| m.spec));
        self.unmatched(
            ApiStatus::Shadow,
            ApiReason::UndocumentedPath,
            spec,
            None,
            retired,
        )
    }

    /// Mount `mi` and the request segments below its base path, if the path is under it
    /// (`segs` are the path's; the base is compared as a prefix of the path, in one go).
    #[inline]
    fn below<'s, 'p>(
        &'s self,
        mi: u32,
        path: &str,
        segs: &'s [&'p str],
    ) -> Option<(&'s Mount, &'s [&'p str])> {
        let mount = self.mounts.get(mi as usize)?;
        // Most specs mount at the host's root: every path is below it.
        if !mount.base.is_empty() {
            let rest = path.strip_prefix(&*mount.base)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
        }
        Some((mount, segs.get(mount.base_segments..)?))
    }

    /// The mounts for a `Host` header value.
    fn mounts_of(&self, host: Option<&str>) -> &[u32] {
        let Some(host) = host else {
            return &self.any_host;
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        // Hosts are nearly always lowercase already: look up as sent, lowercase on a miss.
        let hit = self.by_host.get(host).or_else(|| {
            host.bytes()
                .any(|b| b.is_ascii_uppercase())
                .then(|| self.by_host.get(host.to_ascii_lowercase().as_str()))
                .flatten()
        });
        hit.map_or(&self.any_host, |l| l)
    }

    /// The classification of a matched route.
    fn matched<'m, 'a>(
        &'m self,
        route: u32,
        req: &ApiRequest<'a>,
        retired: bool,
    ) -> Classification<'m, 'a> {
        let key_route = route;
        let route = self.routes.get(route as usize);
        let entry = route.and_then(|r| self.entries.get(r.op as usize));
        let op = entry.map(|e| &e.op);
        let (status, reason) = if retired {
            (ApiStatus::Zombie, ApiReason::Retired)
        } else if op.is_some_and(|o| o.deprecated) {
            (ApiStatus::Zombie, ApiReason::Deprecated)
        } else {
            (ApiStatus::Documented, ApiReason::Operation)
        };
        Classification {
            status,
            reason,
            spec: entry.and_then(|e| self.spec_name(e.spec)),
            operation: op,
            operation_index: route.map(|r| r.op as usize),
            operation_id: entry.and_then(|e| e.operation_id.as_ref()),
            template: route.map(|r| &r.template),
            key: ClassKey {
                status,
                reason,
                spec: entry.map_or(NONE, |e| e.spec),
                route: key_route,
            },
            drift: op.map(|o| drift(o, req)).unwrap_or_default(),
        }
    }

    /// The classification of a call that matched no operation (`route`: the documented path
    /// of an undocumented method); `retired` makes it a zombie.
    fn unmatched<'m, 'a>(
        &'m self,
        status: ApiStatus,
        reason: ApiReason,
        spec: Option<u32>,
        route: Option<u32>,
        retired: bool,
    ) -> Classification<'m, 'a> {
        let (status, reason) = if retired {
            (ApiStatus::Zombie, ApiReason::Retired)
        } else {
            (status, reason)
        };
        Classification {
            status,
            reason,
            spec: spec.and_then(|s| self.spec_name(s)),
            operation: None,
            operation_index: None,
            operation_id: None,
            template: route
                .and_then(|r| self.routes.get(r as usize))
                .map(|r| &r.template),
            key: ClassKey {
                status,
                reason,
                spec: spec.unwrap_or(NONE),
                route: route.unwrap_or(NONE),
            },
            drift: Drifts::new(),
        }
    }
}

/// How a request strays from `op`.
fn drift<'a>(op: &Operation, req: &ApiRequest<'a>) -> Drifts<'a> {
    let mut out = Drifts::new();
    let mut listed = 0;
    for name in req.query.into_iter().flat_map(query_names) {
        if listed == MAX_QUERY_DRIFT_NAMES {
            break;
        }
        if op.query.documents(&name) {
            continue;
        }
        let d = Drift::UndocumentedQueryParam(name);
        if !out.contains(&d) {
            out.push(d);
            listed += 1;
        }
    }
    if let Some(status) = req.status {
        if !op.responses.declares(status) {
            out.push(Drift::UndeclaredStatus(status));
        }
    }
    if let Some(ct) = req.content_type {
        if !op.request_body.as_ref().is_some_and(|b| b.accepts(ct)) {
            out.push(Drift::UnacceptedContentType(media_essence(ct)));
        }
    }
    out
}

/// The names of a raw query (`a=1&b&c=`: `a`, `b`, `c`), percent-decoded as forms are
/// (`+` is a space) only when they need it. A byte scan, as for path segments.
pub fn query_names(query: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let mut rest = Some(query);
    std::iter::from_fn(move || loop {
        let r = rest?;
        let end = r.bytes().position(|b| b == b'&');
        let pair = match end {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i).unwrap_or("")
            }
            None => {
                rest = None;
                r
            }
        };
        let name_end = pair.bytes().position(|b| b == b'=').unwrap_or(pair.len());
        let name = pair.get(..name_end).unwrap_or("");
        if name.is_empty() {
            continue;
        }
        if name.bytes().any(|b| b == b'%' || b == b'+') {
            if let Some((k, _)) = form_urlencoded::parse(name.as_bytes()).next() {
                return Some(Cow::Owned(k.into_owned()));
            }
            continue;
        }
        return Some(Cow::Borrowed(name));
    })
}

/// The bases an operation applies to once an override (if any) is applied.
fn apply_override(servers: &[ServerBase], ovr: Option<&SpecOverride>) -> Vec<ServerBase> {
    let Some(ovr) = ovr else {
        return servers.to_vec();
    };
    let mut bases: Vec<String> = match &ovr.base_path {
        Some(b) => vec![base_path(b)],
        None => servers.iter().map(|s| s.base_path.clone()).collect(),
    };
    bases.sort();
    bases.dedup();
    let mut out = Vec::new();
    for base in &bases {
        if ovr.hosts.is_empty() {
            out.extend(
                servers
                    .iter()
                    .filter(|s| ovr.base_path.is_some() || &s.base_path == base)
                    .map(|s| ServerBase {
                        host: s.host.clone(),
                        base_path: base.clone(),
                    }),
            );
        }
        for h in &ovr.hosts {
            out.push(ServerBase {
                host: (h != "*").then(|| h.to_ascii_lowercase()),
                base_path: base.clone(),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether an override's `spec` names the spec loaded as `name` (equal, or its file name).
fn names_spec(wanted: &str, name: &str) -> bool {
    wanted == name || name.rsplit(['/', '\\']).next() == Some(wanted)
}

/// Every override names a loaded spec, once, with usable hosts.
fn check_overrides(specs: &[Spec], overrides: &[SpecOverride]) -> Result<(), ApiConfigError> {
    for (i, o) in overrides.iter().enumerate() {
        if !specs.iter().any(|s| names_spec(&o.spec, &s.name)) {
            return Err(ApiConfigError::UnknownSpec {
                spec: o.spec.clone(),
            });
        }
        if overrides[..i].iter().any(|p| p.spec == o.spec) {
            return Err(ApiConfigError::DuplicateOverride {
                spec: o.spec.clone(),
            });
        }
        if let Some(h) = o.hosts.iter().find(|h| h.is_empty() || h.contains('/')) {
            return Err(ApiConfigError::BadHost {
                spec: o.spec.clone(),
                host: h.clone(),
            });
        }
    }
    Ok(())
}

/// A table position as a `u32` (tables of specs are far below 2^32 entries).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

#[cfg(test)]
mod tests;
