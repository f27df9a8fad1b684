//! Where a spec applies: the hosts and base paths of its `servers` (OpenAPI 3.x section 4.8.5,
//! "Server Object"), or of Swagger 2.0's `host`, `basePath` and `schemes`.
//!
//! Server variables expand to every value of their `enum`, or to their `default` alone. A host
//! is kept as a `Host` header carries it: without the port for the scheme's default one, and
//! also with it (`api.example.com` and `api.example.com:443` for `https://api.example.com`).
//! A relative URL (`/v1`, or no `servers` at all) covers every host.

use serde_json::{Map, Value};

use super::document::Doc;
use super::error::{Pointer, SpecError};
use super::MAX_SERVER_EXPANSIONS;

/// One place a spec's paths hang: a host (or every host) and a base path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerBase {
    /// Lowercase host as in a `Host` header (`api.example.com`, `api.example.com:8443`);
    /// `None` for every host.
    pub host: Option<String>,
    /// The base path, `""` for none, else `/`-led without a trailing `/` (`/api/v1`).
    pub base_path: String,
}

/// The bases of an OpenAPI 3.x `servers` array (`at` points to it).
pub fn openapi_servers(
    doc: &Doc<'_>,
    servers: &Value,
    at: &Pointer,
) -> Result<Vec<ServerBase>, SpecError> {
    let mut out = Vec::new();
    for (i, server) in doc.array(servers, at)?.iter().enumerate() {
        let at = at.index(i);
        let server = doc.object(server, &at)?;
        let url = doc
            .opt_string(server, "url", &at)?
            .ok_or_else(|| doc.invalid(&at, "a server needs a `url`"))?;
        let vars = match server.get("variables") {
            Some(v) => Some(doc.object(v, &at.child("variables"))?),
            None => None,
        };
        for url in expand(doc, url, vars, &at)? {
            out.extend(bases_of_url(&url));
        }
    }
    if out.is_empty() {
        // An empty `servers` means what an absent one does: `/` (section 4.8.1).
        out.push(every_host(""));
    }
    dedup(&mut out);
    Ok(out)
}

/// The bases of a Swagger 2.0 document (`host`, `basePath`, `schemes`; Swagger 2.0 "Swagger
/// Object").
pub fn swagger_servers(
    doc: &Doc<'_>,
    root: &Map<String, Value>,
    at: &Pointer,
) -> Result<Vec<ServerBase>, SpecError> {
    let base = base_path(doc.opt_string(root, "basePath", at)?.unwrap_or(""));
    let Some(host) = doc.opt_string(root, "host", at)? else {
        return Ok(vec![every_host(&base)]);
    };
    let mut schemes = Vec::new();
    if let Some(s) = root.get("schemes") {
        let s_at = at.child("schemes");
        for (i, scheme) in doc.array(s, &s_at)?.iter().enumerate() {
            schemes.push(doc.string(scheme, &s_at.index(i))?.to_ascii_lowercase());
        }
    }
    let mut out = Vec::new();
    if schemes.is_empty() {
        out.extend(hosts_of_authority(None, host).map(|h| with_base(h, &base)));
    }
    for scheme in &schemes {
        out.extend(hosts_of_authority(Some(scheme), host).map(|h| with_base(h, &base)));
    }
    dedup(&mut out);
    Ok(out)
}

/// Every URL a server's variables give, bounded by [`MAX_SERVER_EXPANSIONS`].
fn expand(
    doc: &Doc<'_>,
    url: &str,
    vars: Option<&Map<String, Value>>,
    at: &Pointer,
) -> Result<Vec<String>, SpecError> {
    let mut urls = vec![String::new()];
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| doc.invalid(&at.child("url"), "a `{` without its `}`"))?;
        let name = &rest[open + 1..close];
        let values = variable_values(doc, vars, name, at)?;
        let literal = &rest[..open];
        if urls.len() * values.len() > MAX_SERVER_EXPANSIONS {
            return Err(doc.invalid(
                &at.child("url"),
                format!(
                    "the variables expand to more than {MAX_SERVER_EXPANSIONS} URLs; \
                     name the hosts in an [[api.overrides]] entry instead"
                ),
            ));
        }
        urls = urls
            .iter()
            .flat_map(|u| values.iter().map(move |v| format!("{u}{literal}{v}")))
            .collect();
        rest = &rest[close + 1..];
    }
    for u in &mut urls {
        u.push_str(rest);
    }
    Ok(urls)
}

/// The values of server variable `name`: its `enum`, else its `default`.
fn variable_values<'d>(
    doc: &Doc<'d>,
    vars: Option<&'d Map<String, Value>>,
    name: &str,
    at: &Pointer,
) -> Result<Vec<&'d str>, SpecError> {
    let var_at = at.child("variables").child(name);
    let var = vars.and_then(|v| v.get(name)).ok_or_else(|| {
        doc.invalid(
            &at.child("url"),
            format!("the URL uses variable {{{name}}} that `variables` does not define"),
        )
    })?;
    let var = doc.object(var, &var_at)?;
    if let Some(values) = var.get("enum") {
        let e_at = var_at.child("enum");
        let values = doc.array(values, &e_at)?;
        if !values.is_empty() {
            return values
                .iter()
                .enumerate()
                .map(|(i, v)| doc.string(v, &e_at.index(i)))
                .collect();
        }
    }
    let default = doc
        .opt_string(var, "default", &var_at)?
        .ok_or_else(|| doc.invalid(&var_at, "a server variable needs a `default`"))?;
    Ok(vec![default])
}

/// The bases of one expanded server URL.
fn bases_of_url(url: &str) -> Vec<ServerBase> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), Some(r)),
        None => (None, url.strip_prefix("//")),
    };
    let Some(rest) = rest else {
        // Relative to wherever the spec is served: any host.
        return vec![every_host(&base_path(url))];
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let base = base_path(path);
    hosts_of_authority(scheme.as_deref(), authority)
        .map(|h| with_base(h, &base))
        .collect()
}

/// The `Host` header forms of an authority: lowercase, without user info, and for the
/// scheme's default port both without and with it (RFC 9110 section 7.2: the port is
/// omitted when it is the scheme's default). Without a scheme both 80 and 443 are default.
fn hosts_of_authority(scheme: Option<&str>, authority: &str) -> impl Iterator<Item = String> {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = authority.to_ascii_lowercase();
    let has_port = match host.rfind(':') {
        Some(i) => !host[i..].contains(']'),
        None => false,
    };
    let defaults: &[u16] = match scheme {
        _ if has_port => &[],
        Some("http" | "ws") => &[80],
        Some("https" | "wss") => &[443],
        Some(_) => &[],
        None => &[80, 443],
    };
    let with_ports: Vec<String> = defaults.iter().map(|p| format!("{host}:{p}")).collect();
    std::iter::once(host).chain(with_ports)
}

/// A base path in its kept form: `/`-led, no trailing `/`, `""` for the root.
pub fn base_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// A base on every host.
fn every_host(base: &str) -> ServerBase {
    ServerBase {
        host: None,
        base_path: base.to_string(),
    }
}

/// A base on `host`.
fn with_base(host: String, base: &str) -> ServerBase {
    ServerBase {
        host: Some(host),
        base_path: base.to_string(),
    }
}

/// Sorted, each once.
fn dedup(v: &mut Vec<ServerBase>) {
    v.sort();
    v.dedup();
}
