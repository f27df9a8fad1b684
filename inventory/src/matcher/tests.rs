//! Classification: precedence, hosts and base paths, statuses, drift, overrides; the trie
//! against a slow twin.

use super::*;
use crate::config::SpecOverride;

/// A spec from YAML text.
fn spec(name: &str, yaml: &str) -> Spec {
    Spec::parse(name, yaml.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// A matcher over `specs` with `config`.
fn matcher_with(specs: &[(&str, &str)], config: &ApiConfig) -> Matcher {
    let specs = specs.iter().map(|(n, y)| spec(n, y)).collect();
    Matcher::new(specs, config).unwrap_or_else(|e| panic!("{e}"))
}

/// A matcher over `specs` with the default config.
fn matcher(specs: &[(&str, &str)]) -> Matcher {
    matcher_with(specs, &ApiConfig::new())
}

/// A request without query, status or content type.
fn req<'a>(host: &'a str, method: &'a str, path: &'a str) -> ApiRequest<'a> {
    ApiRequest {
        host: (!host.is_empty()).then_some(host),
        method,
        path,
        ..ApiRequest::default()
    }
}

/// `status template operationId` of a classification, `-` for what is absent.
fn summary(c: &Classification<'_, '_>) -> String {
    format!(
        "{} {} {}",
        c.status.as_str(),
        c.template().unwrap_or("-"),
        c.operation_id().unwrap_or("-")
    )
}

/// A spec on `http://api.example.com` with the given `paths:` block.
fn on_api(paths: &str) -> String {
    format!(
        "openapi: 3.1.0\ninfo: {{title: T, version: '1'}}\nservers: [{{url: 'http://api.example.com'}}]\npaths:\n{paths}"
    )
}

const PRECEDENCE: &str = r#"
  /users/me: {get: {operationId: me}}
  /users/{id}: {get: {operationId: user}, delete: {operationId: deleteUser}}
  /users/{id}/orders: {get: {operationId: orders}}
  /users/me/orders: {get: {operationId: myOrders}}
  /{entity}/me: {get: {operationId: entityMe}}
  /books/{id}: {get: {operationId: book}}
  /files/{name}: {get: {operationId: file}}
  /files/{name}.json: {get: {operationId: jsonFile}}
  /files/report-{n}.json: {get: {operationId: report}}
  /: {get: {operationId: root}}
"#;

#[test]
fn a_literal_segment_beats_a_parameter_from_the_left() {
    let m = matcher(&[("p.yaml", &on_api(PRECEDENCE))]);
    let table = [
        ("GET", "/users/me", "documented /users/me me"),
        ("GET", "/users/42", "documented /users/{id} user"),
        (
            "GET",
            "/users/me/orders",
            "documented /users/me/orders myOrders",
        ),
        (
            "GET",
            "/users/7/orders",
            "documented /users/{id}/orders orders",
        ),
        // `/books/{id}` has the literal first: it wins over `/{entity}/me`.
        ("GET", "/books/me", "documented /books/{id} book"),
        ("GET", "/cars/me", "documented /{entity}/me entityMe"),
        (
            "GET",
            "/files/a.json",
            "documented /files/{name}.json jsonFile",
        ),
        (
            "GET",
            "/files/report-7.json",
            "documented /files/report-{n}.json report",
        ),
        ("GET", "/files/a.xml", "documented /files/{name} file"),
        ("GET", "/", "documented / root"),
        ("GET", "", "documented / root"),
        ("GET", "/users/42/", "documented /users/{id} user"),
        // Per method: `/users/me` has no DELETE, `/users/{id}` has.
        ("DELETE", "/users/me", "documented /users/{id} deleteUser"),
        // A parameter never matches an empty segment.
        ("GET", "/users//orders", "shadow - -"),
        ("GET", "/users/7/orders/9", "shadow - -"),
    ];
    for (method, path, want) in table {
        let got = m.classify(&req("api.example.com", method, path));
        assert_eq!(summary(&got), want, "{method} {path}");
    }
}

#[test]
fn an_undocumented_method_on_a_documented_path_is_shadow_with_the_template() {
    let m = matcher(&[("p.yaml", &on_api(PRECEDENCE))]);
    for method in ["POST", "PROPFIND"] {
        let c = m.classify(&req("api.example.com", method, "/users/me/orders"));
        assert_eq!(summary(&c), "shadow /users/me/orders -", "{method}");
        assert_eq!(c.reason, ApiReason::UndocumentedMethod);
        assert_eq!(c.spec(), Some("p.yaml"));
    }
    let c = m.classify(&req("api.example.com", "GET", "/nowhere/at/all"));
    assert_eq!(
        (c.status, c.reason),
        (ApiStatus::Shadow, ApiReason::UndocumentedPath)
    );
    assert_eq!((c.spec(), c.template()), (Some("p.yaml"), None));
}

#[test]
fn hosts_match_with_their_port_variants_and_any_case() {
    let m = matcher(&[("p.yaml", &on_api(PRECEDENCE))]);
    let table = [
        ("api.example.com", "documented"),
        ("api.example.com:80", "documented"),
        ("API.Example.COM", "documented"),
        ("api.example.com.", "documented"),
        ("api.example.com:8080", "unmanaged"),
        ("other.example.com", "unmanaged"),
        ("", "unmanaged"),
    ];
    for (host, want) in table {
        let c = m.classify(&req(host, "GET", "/users/me"));
        assert_eq!(c.status.as_str(), want, "{host:?}");
        if want == "unmanaged" {
            assert_eq!(
                (c.reason, c.spec(), c.template()),
                (ApiReason::NoSpec, None, None)
            );
        }
    }
}

#[test]
fn base_paths_pick_the_longest_mount_first() {
    let v1 = "openapi: 3.0.0\ninfo: {title: V1, version: '1'}\nservers: [{url: 'https://api.example.com/api/v1'}]\npaths:\n  /users: {get: {operationId: v1Users}}\n  /: {get: {operationId: v1Root}}\n";
    let root = "openapi: 3.0.0\ninfo: {title: R, version: '1'}\nservers: [{url: '/'}]\npaths:\n  /health: {get: {operationId: health}}\n  /api/v1/status: {get: {operationId: status}}\n";
    let m = matcher(&[("v1.yaml", v1), ("root.yaml", root)]);
    let table = [
        (
            "api.example.com",
            "/api/v1/users",
            "documented /api/v1/users v1Users",
        ),
        ("api.example.com", "/api/v1", "documented /api/v1/ v1Root"),
        ("api.example.com", "/api/v1/", "documented /api/v1/ v1Root"),
        // Not under v1.yaml's base: root.yaml (every host) has it.
        ("api.example.com", "/health", "documented /health health"),
        // Under v1.yaml's base, not in it: the shorter base is tried next.
        (
            "api.example.com",
            "/api/v1/status",
            "documented /api/v1/status status",
        ),
        // A base path ends at a segment boundary.
        ("api.example.com", "/api/v10/users", "shadow - -"),
        ("elsewhere.test", "/health", "documented /health health"),
        ("elsewhere.test", "/api/v1/users", "shadow - -"),
        ("", "/health", "documented /health health"),
    ];
    for (host, path, want) in table {
        let c = m.classify(&req(host, "GET", path));
        assert_eq!(summary(&c), want, "{host} {path}");
    }
    let c = m.classify(&req("api.example.com", "GET", "/api/v1/nope"));
    assert_eq!(
        c.spec(),
        Some("v1.yaml"),
        "shadow calls name the spec of the longest base"
    );
}

#[test]
fn servers_with_variables_and_swagger_hosts_are_covered() {
    let vars = "openapi: 3.0.0\ninfo: {title: V, version: '1'}\nservers:\n  - url: 'https://{region}.example.com:{port}/v2'\n    variables: {region: {default: eu, enum: [eu, us]}, port: {default: '8443'}}\npaths:\n  /ping: {get: {operationId: ping}}\n";
    let swagger = "swagger: '2.0'\ninfo: {title: S, version: '1'}\nhost: legacy.example.com\nbasePath: /rest\nschemes: [https]\npaths:\n  /ping: {get: {operationId: legacyPing, responses: {200: {description: ok}}}}\n";
    let m = matcher(&[("vars.yaml", vars), ("swagger.yaml", swagger)]);
    let table = [
        (
            "eu.example.com:8443",
            "/v2/ping",
            "documented /v2/ping ping",
        ),
        (
            "us.example.com:8443",
            "/v2/ping",
            "documented /v2/ping ping",
        ),
        ("eu.example.com", "/v2/ping", "unmanaged - -"),
        ("ap.example.com:8443", "/v2/ping", "unmanaged - -"),
        (
            "legacy.example.com",
            "/rest/ping",
            "documented /rest/ping legacyPing",
        ),
        (
            "legacy.example.com:443",
            "/rest/ping",
            "documented /rest/ping legacyPing",
        ),
        ("legacy.example.com", "/ping", "shadow - -"),
    ];
    for (host, path, want) in table {
        assert_eq!(
            summary(&m.classify(&req(host, "GET", path))),
            want,
            "{host} {path}"
        );
    }
}

#[test]
fn deprecated_operations_and_retired_paths_are_zombies() {
    let paths = "  /old: {get: {operationId: old, deprecated: true}}\n  /api/v0/items: {get: {operationId: v0Items}}\n  /new: {get: {operationId: new}}\n";
    let config = ApiConfig {
        retired: vec!["/api/v0/*".into()],
        ..ApiConfig::new()
    };
    let m = matcher_with(&[("z.yaml", &on_api(paths))], &config);
    let table = [
        (
            "/old",
            ApiStatus::Zombie,
            ApiReason::Deprecated,
            Some("old"),
        ),
        (
            "/api/v0/items",
            ApiStatus::Zombie,
            ApiReason::Retired,
            Some("v0Items"),
        ),
        (
            "/api/v0/undocumented",
            ApiStatus::Zombie,
            ApiReason::Retired,
            None,
        ),
        (
            "/new",
            ApiStatus::Documented,
            ApiReason::Operation,
            Some("new"),
        ),
    ];
    for (path, status, reason, op) in table {
        let c = m.classify(&req("api.example.com", "GET", path));
        assert_eq!(
            (c.status, c.reason, c.operation_id()),
            (status, reason, op),
            "{path}"
        );
    }
    // A retired path is a zombie on hosts no spec covers too.
    let c = m.classify(&req("other.test", "GET", "/api/v0/items"));
    assert_eq!(
        (c.status, c.reason, c.spec()),
        (ApiStatus::Zombie, ApiReason::Retired, None)
    );
}

#[test]
fn drift_lists_undocumented_query_names_undeclared_statuses_and_unaccepted_bodies() {
    let paths = r#"
  /items:
    get:
      parameters: [{name: page, in: query}, {name: filter, in: query, style: deepObject}]
      responses: {"200": {description: ok}, 4XX: {description: client}}
    post:
      requestBody: {content: {application/json: {}}}
      responses: {"201": {description: created}, default: {description: any}}
"#;
    let m = matcher(&[("d.yaml", &on_api(paths))]);
    let drift = |method, query, status, content_type| {
        let r = ApiRequest {
            host: Some("api.example.com"),
            method,
            path: "/items",
            query,
            status,
            content_type,
        };
        let c = m.classify(&r);
        c.drift
            .iter()
            .map(|d| match d {
                Drift::UndocumentedQueryParam(n) => format!("query:{n}"),
                Drift::UndeclaredStatus(s) => format!("status:{s}"),
                Drift::UnacceptedContentType(t) => format!("type:{t}"),
            })
            .collect::<Vec<_>>()
    };
    let none: Vec<String> = Vec::new();
    assert_eq!(
        drift("GET", Some("page=2&filter[a]=1"), Some(200), None),
        none
    );
    assert_eq!(drift("GET", Some("page=2"), Some(404), None), none);
    assert_eq!(
        drift(
            "GET",
            Some("page=2&debug=1&debug=2&x+y&%64ebug2="),
            Some(500),
            None
        ),
        ["query:debug", "query:x y", "query:debug2", "status:500"]
    );
    assert_eq!(
        drift("GET", Some(""), None, Some("text/plain")),
        ["type:text/plain"]
    );
    assert_eq!(
        drift(
            "POST",
            None,
            Some(503),
            Some("application/json; charset=utf-8")
        ),
        none
    );
    assert_eq!(
        drift("POST", None, Some(201), Some("application/xml;q=1")),
        ["type:application/xml"]
    );
    let many: String = (0..20).map(|i| format!("p{i}=1&")).collect();
    assert_eq!(
        drift("GET", Some(&many), Some(200), None).len(),
        MAX_QUERY_DRIFT_NAMES
    );
    // No drift without an operation.
    let c = m.classify(&ApiRequest {
        query: Some("zzz=1"),
        ..req("api.example.com", "GET", "/nothing")
    });
    assert!(c.drift.is_empty());
}

#[test]
fn overrides_replace_hosts_and_base_paths() {
    let s = "openapi: 3.0.0\ninfo: {title: O, version: '1'}\nservers: [{url: 'https://prod.example.com/v1'}]\npaths:\n  /ping: {get: {operationId: ping}}\n";
    let with = |ovr: SpecOverride| {
        let config = ApiConfig {
            overrides: vec![ovr],
            ..ApiConfig::new()
        };
        matcher_with(&[("specs/o.yaml", s)], &config)
    };
    let hosts = with(SpecOverride {
        spec: "o.yaml".into(),
        hosts: vec!["Staging.example.com:8080".into()],
        base_path: None,
    });
    assert_eq!(
        summary(&hosts.classify(&req("staging.example.com:8080", "GET", "/v1/ping"))),
        "documented /v1/ping ping"
    );
    assert_eq!(
        hosts
            .classify(&req("prod.example.com", "GET", "/v1/ping"))
            .status,
        ApiStatus::Unmanaged
    );
    let base = with(SpecOverride {
        spec: "specs/o.yaml".into(),
        hosts: vec![],
        base_path: Some("/api/".into()),
    });
    assert_eq!(
        summary(&base.classify(&req("prod.example.com", "GET", "/api/ping"))),
        "documented /api/ping ping"
    );
    let anywhere = with(SpecOverride {
        spec: "o.yaml".into(),
        hosts: vec!["*".into()],
        base_path: Some("/".into()),
    });
    assert_eq!(
        summary(&anywhere.classify(&req("x.test", "GET", "/ping"))),
        "documented /ping ping"
    );
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let s = "openapi: 3.0.0\ninfo: {title: O, version: '1'}\npaths: {}\n";
    let build = |names: &[&str], overrides: Vec<SpecOverride>| {
        let specs = names.iter().map(|n| spec(n, s)).collect();
        let config = ApiConfig {
            overrides,
            ..ApiConfig::new()
        };
        Matcher::new(specs, &config)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let ovr = |spec: &str, hosts: &[&str]| SpecOverride {
        spec: spec.into(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        base_path: None,
    };
    assert_eq!(
        build(&["a.yaml"], vec![ovr("b.yaml", &[])]),
        "api.overrides: spec = \"b.yaml\" is not one of api.specs; name it as in `specs`"
    );
    assert_eq!(
        build(&["a.yaml"], vec![ovr("a.yaml", &[]), ovr("a.yaml", &["x"])]),
        "api.overrides: spec = \"a.yaml\" is overridden twice; merge the two entries"
    );
    assert_eq!(
        build(&["a.yaml"], vec![ovr("a.yaml", &["http://x/"])]),
        "api.overrides: host \"http://x/\" of spec \"a.yaml\" is not a host; write `name` or `name:port`"
    );
    assert_eq!(
        build(&["a.yaml", "a.yaml"], vec![]),
        "api.specs: \"a.yaml\" is loaded twice; list each spec once"
    );
}

#[test]
fn the_matcher_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Matcher>();
}

#[test]
fn the_first_spec_wins_a_shared_operation() {
    let a = on_api("  /x: {get: {operationId: fromA}}\n");
    let b = on_api("  /x: {get: {operationId: fromB}, post: {operationId: postB}}\n");
    let m = matcher(&[("a.yaml", &a), ("b.yaml", &b)]);
    let get = m.classify(&req("api.example.com", "GET", "/x"));
    assert_eq!(
        (get.operation_id(), get.spec()),
        (Some("fromA"), Some("a.yaml"))
    );
    let post = m.classify(&req("api.example.com", "POST", "/x"));
    assert_eq!(
        (post.operation_id(), post.spec()),
        (Some("postB"), Some("b.yaml"))
    );
    assert_eq!(m.operations().count(), 3);
}

#[test]
fn the_config_reads_from_toml_and_refuses_unknown_fields() {
    let text = r#"
specs = ["shop.yaml"]
retired = ["/api/v0/*"]
[[overrides]]
spec = "shop.yaml"
hosts = ["shop.example.test"]
base_path = "/"
"#;
    let c: ApiConfig = toml::from_str(text).unwrap();
    assert_eq!(c.specs, ["shop.yaml"]);
    assert!(c.infer_body_schemas);
    assert_eq!(c.overrides[0].base_path.as_deref(), Some("/"));
    let empty: ApiConfig = toml::from_str("").unwrap();
    assert_eq!(empty, ApiConfig::default());
    assert!(empty.infer_body_schemas);
    let e = toml::from_str::<ApiConfig>("spec = []")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `spec`"), "{e}");
}

/// The slow twin: every template that fits, then the most specific by the documented
/// order (per segment from the left: literal, then mixed with more literal characters,
/// then parameter; then insertion order).
mod twin {
    use regex::Regex;

    /// How specific a template segment is: lower is more.
    fn rank(seg: &str) -> (u8, std::cmp::Reverse<usize>) {
        if !seg.contains('{') {
            (0, std::cmp::Reverse(0))
        } else if seg.starts_with('{') && seg.ends_with('}') && seg.matches('{').count() == 1 {
            (2, std::cmp::Reverse(0))
        } else {
            let literal = seg.len() - seg.matches('{').count() * 3;
            (1, std::cmp::Reverse(literal))
        }
    }

    /// Whether one template segment fits one request segment.
    fn fits(t: &str, p: &str) -> bool {
        match rank(t).0 {
            0 => t == p,
            2 => !p.is_empty(),
            _ => {
                let re = Regex::new(&format!(
                    "^{}$",
                    Regex::new(r"\{[^}]*\}")
                        .unwrap()
                        .split(t)
                        .map(regex::escape)
                        .collect::<Vec<_>>()
                        .join(".+")
                ))
                .unwrap();
                re.is_match(p)
            }
        }
    }

    /// The index of the template chosen for `path`, if any.
    pub fn choose(templates: &[String], path: &str) -> Option<usize> {
        let p: Vec<&str> = super::segments(path).collect();
        templates
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let t: Vec<&str> = super::segments(t).collect();
                t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| fits(t, p))
            })
            .min_by_key(|(i, t)| (super::segments(t).map(rank).collect::<Vec<_>>(), *i))
            .map(|(i, _)| i)
    }
}

/// Template segments of the twin test: literals, parameters and mixed segments.
const TEMPLATE_SEGMENTS: &[&str] = &["a", "b", "{x}", "{y}", "{f}.json", "ab{z}", "{p}-{q}"];

/// Request segments of the twin test, chosen to fit several template segments at once.
const PATH_SEGMENTS: &[&str] = &[
    "a", "b", "c", "ab", "abc", "a-b", "ab-c", "a.json", "ab.json", "-", "",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// The trie chooses what the slow twin chooses, for templates and paths over a small
    /// alphabet (so that they collide often).
    #[test]
    fn the_trie_chooses_what_the_slow_twin_chooses(
        templates in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(TEMPLATE_SEGMENTS), 0..4), 1..12),
        paths in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(PATH_SEGMENTS), 0..4), 1..12),
    ) {
        let templates: Vec<String> =
            templates.iter().map(|segs| format!("/{}", segs.join("/"))).collect();
        let mut trie = Trie::default();
        // Every third template is DELETE, the others GET. Insertion order is template
        // order; a repeated template (per method) keeps its first route.
        let method_of = |i: usize| if i % 3 == 2 { Method::Delete } else { Method::Get };
        let mut first_of = Vec::new();
        for (i, t) in templates.iter().enumerate() {
            let route = u32::try_from(i).unwrap();
            first_of.push(match trie.insert(t, method_of(i), route) {
                Ok(()) => route,
                Err(existing) => existing,
            });
        }
        let gets: Vec<String> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| if method_of(i) == Method::Get { t.clone() } else { "/\u{0}never".into() })
            .collect();
        // Mixed segments of the alphabet differ in literal length, so that no tie between
        // two of them leaves the choice to insertion order at one segment, which the twin's
        // whole-template comparison would not see.
        for segs in &paths {
            let path = format!("/{}", segs.join("/"));
            let path_segs: Vec<&str> = segments(&path).collect();
            let got = trie.find(&path_segs, Some(Method::Get));
            let want = twin::choose(&gets, &path).map(|i| first_of[i]);
            let shape = |r: Option<u32>| r.map(|r| shape_of(&templates[r as usize]));
            proptest::prop_assert_eq!(shape(got), shape(want), "{} in {:?}", path, templates);
            // Whatever the method: the most specific template of any.
            let any_want = twin::choose(&templates, &path).map(|i| first_of[i]);
            let any = trie.find(&path_segs, None);
            proptest::prop_assert_eq!(shape(any), shape(any_want), "any: {} in {:?}", path, templates);
            // One walk gives both.
            proptest::prop_assert_eq!(trie.find_both(&path_segs, Some(Method::Get)), (got, any));
        }
    }
}

/// A template with its parameter names blanked (`/a/{}`): the trie keeps one route per shape.
fn shape_of(t: &str) -> String {
    regex::Regex::new(r"\{[^}]*\}")
        .unwrap()
        .replace_all(t, "{}")
        .into_owned()
}

proptest::proptest! {
    /// The byte scan finds the names `split` finds.
    #[test]
    fn query_names_are_what_splitting_gives(q in "[a=&é%+b]{0,16}") {
        let slow: Vec<String> = q
            .split('&')
            .map(|p| p.split('=').next().unwrap_or(""))
            .filter(|n| !n.is_empty())
            .map(|n| form_urlencoded::parse(n.as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default())
            .collect();
        let fast: Vec<String> = query_names(&q).map(|c| c.into_owned()).collect();
        proptest::prop_assert_eq!(fast, slow);
    }

    /// The byte scan cuts paths where `split('/')` does (after the leading and one trailing
    /// `/`).
    #[test]
    fn segments_are_what_splitting_gives(p in "[/aé]{0,12}") {
        let t = p.strip_prefix('/').unwrap_or(&p);
        let t = t.strip_suffix('/').unwrap_or(t);
        let slow: Vec<&str> = if t.is_empty() { Vec::new() } else { t.split('/').collect() };
        proptest::prop_assert_eq!(segments(&p).collect::<Vec<_>>(), slow);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Arbitrary request fields never panic, and only a matched operation has drift.
    #[test]
    fn arbitrary_requests_never_panic(
        host in "[a-zA-Z.:é]{0,12}",
        method in "GET|DELETE|[A-Zé]{0,6}",
        path in "[/a-z{}%é.]{0,24}",
        query in proptest::option::of("[a-z=&%+é]{0,16}"),
        status in proptest::option::of(0u16..1000),
        content_type in proptest::option::of("[a-z/;= é]{0,16}"),
    ) {
        let m = matcher(&[("p.yaml", &on_api(PRECEDENCE))]);
        let r = ApiRequest {
            host: Some(&host),
            method: &method,
            path: &path,
            query: query.as_deref(),
            status,
            content_type: content_type.as_deref(),
        };
        let c = m.classify(&r);
        proptest::prop_assert!(c.operation.is_some() || c.drift.is_empty());
    }
}

#[test]
fn equal_keys_name_the_same_spec_operation_and_template() {
    let yaml = on_api(
        "  /users/{id}: {get: {operationId: getUser}, put: {operationId: putUser}}\n  /orders: {post: {}}\n",
    );
    let m = matcher(&[("a.yaml", &yaml)]);
    let calls = [
        ("api.example.com", "GET", "/users/1"),
        ("api.example.com", "GET", "/users/2"),
        ("api.example.com", "PUT", "/users/1"),
        ("api.example.com", "DELETE", "/users/1"),
        ("api.example.com", "DELETE", "/users/9"),
        ("api.example.com", "POST", "/orders"),
        ("api.example.com", "GET", "/orders"),
        ("api.example.com", "GET", "/nowhere"),
        ("other.example.com", "GET", "/users/1"),
    ];
    /// What a record names.
    type Names<'m> = (
        ApiStatus,
        ApiReason,
        Option<&'m str>,
        Option<&'m str>,
        Option<&'m str>,
    );
    fn names<'m>(c: &Classification<'m, '_>) -> Names<'m> {
        (c.status, c.reason, c.spec(), c.operation_id(), c.template())
    }
    for a in calls {
        for b in calls {
            let (ca, cb) = (
                m.classify(&req(a.0, a.1, a.2)),
                m.classify(&req(b.0, b.1, b.2)),
            );
            assert_eq!(
                ca.key() == cb.key(),
                names(&ca) == names(&cb),
                "{a:?} {b:?}"
            );
        }
    }
}
