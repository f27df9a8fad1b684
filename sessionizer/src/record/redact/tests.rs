//! Redaction by name and by shape.

use base64::Engine;

use super::*;

/// A JWT with header `{"alg":"HS256"}`, as a client would send it.
fn jwt() -> String {
    let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        e(br#"{"alg":"HS256","typ":"JWT"}"#),
        e(br#"{"sub":"alice"}"#),
        e(b"signature-bytes")
    )
}

#[test]
fn names_and_patterns_match_case_insensitively() {
    let r = Redactor::default_rules();
    for secret in [
        "Authorization",
        "COOKIE",
        "X-CSRF-Token",
        "X-Session-Token",
        "access_token",
        "api_key",
        "X-Api-Key",
        "apikey",
        "password",
        "new_passwd",
        "client_secret",
        "code",
        "sig",
        "X-Amz-Signature",
        "PHPSESSION",
    ] {
        assert!(r.redacts(secret), "{secret}");
    }
    for plain in [
        "Host",
        "Accept",
        "User-Agent",
        "page",
        "q",
        "signal",
        "codec",
        "keyboard",
    ] {
        assert!(!r.redacts(plain), "{plain}");
    }
}

#[test]
fn globs_anchor_where_they_have_no_star() {
    let cfg = RedactConfig {
        names: vec![],
        patterns: vec!["x-*-id".into(), "pin*".into(), "*code".into()],
    };
    let r = Redactor::new(&cfg, RedactMode::Replace, None).unwrap();
    assert!(r.redacts("X-Request-Id") && r.redacts("pin") && r.redacts("PINS"));
    assert!(r.redacts("zipcode") && !r.redacts("codes") && !r.redacts("x-id"));
    assert!(!r.redacts("spin") && !r.redacts("x-request-id-2"));
    let all = RedactConfig {
        names: vec![],
        patterns: vec!["**".into()],
    };
    assert!(matches!(
        Redactor::new(&all, RedactMode::Replace, None),
        Err(RedactConfigError::MatchesEverything(_))
    ));
    assert_eq!(
        Redactor::new(&RedactConfig::default(), RedactMode::Hash, None).unwrap_err(),
        RedactConfigError::NoSecret
    );
}

#[test]
fn urls_lose_userinfo_secret_parameters_and_tokens() {
    let r = Redactor::default_rules();
    let t = jwt();
    let cases = [
        (
            "/a?page=2&api_key=K1&q=x",
            "/a?page=2&api_key=[redacted]&q=x",
        ),
        ("/cb?code=OAUTHCODE&state=s", "/cb?code=[redacted]&state=s"),
        (
            "/a?access%5Ftoken=T&x=1#frag",
            "/a?access%5Ftoken=[redacted]&x=1#frag",
        ),
        (
            "http://user:pass@host/p?x=1",
            "http://[redacted]@host/p?x=1",
        ),
        ("user:pass@host:443", "[redacted]@host:443"),
        ("/plain/path", "/plain/path"),
        ("/a?token", "/a?token"),
    ];
    for (url, want) in cases {
        assert_eq!(r.url(url), want, "{url}");
    }
    assert_eq!(r.url(&format!("/v1/items/{t}/x")), "/v1/items/[redacted]/x");
    // A base64url run that does not decode to a JSON header with `alg` is left alone.
    assert_eq!(r.url("/eyJabc.def.ghi"), "/eyJabc.def.ghi");
}

#[test]
fn header_values_by_name_url_and_shape() {
    let r = Redactor::default_rules();
    let t = jwt();
    assert_eq!(r.header_value("X-Csrf-Token", "abc"), "[redacted]");
    assert_eq!(
        r.header_value("Referer", "https://a.example/cb?code=X&id=1"),
        "https://a.example/cb?code=[redacted]&id=1"
    );
    assert_eq!(
        r.header_value("Location", "https://u:p@idp.example/auth?client_secret=S"),
        "https://[redacted]@idp.example/auth?client_secret=[redacted]"
    );
    assert_eq!(
        r.header_value("X-Forwarded-Claims", &format!("v1 {t};")),
        "v1 [redacted];"
    );
    assert_eq!(r.header_value("Accept", "*/*"), "*/*");
}

#[test]
fn hash_mode_writes_the_same_keyed_hash_for_the_same_value() {
    let secret = Secret::new(b"a-long-enough-secret".to_vec());
    let r = Redactor::new(&RedactConfig::default(), RedactMode::Hash, Some(&secret)).unwrap();
    let a = r.header_value("X-Api-Key", "K1");
    let b = r.url("/x?api_key=K1");
    assert!(
        a.starts_with(HASHED_PREFIX) && a.len() == HASHED_PREFIX.len() + 32,
        "{a}"
    );
    assert_eq!(b, format!("/x?api_key={a}"));
    assert_ne!(r.header_value("X-Api-Key", "K2"), a);
    let other = Secret::new(b"another-long-secret".to_vec());
    let r2 = Redactor::new(&RedactConfig::default(), RedactMode::Hash, Some(&other)).unwrap();
    assert_ne!(r2.header_value("X-Api-Key", "K1"), a);
}

proptest::proptest! {
    /// A glob matches exactly what a regex translation of it matches.
    #[test]
    fn globs_match_like_their_regex(
        pattern in "[ab*]{1,6}",
        name in "[abAB]{0,8}",
    ) {
        proptest::prop_assume!(pattern.chars().any(|c| c != '*'));
        let re = format!(
            "(?i)^{}$",
            pattern.split('*').map(regex::escape).collect::<Vec<_>>().join(".*")
        );
        let want = regex::Regex::new(&re).unwrap().is_match(&name);
        let cfg = RedactConfig { names: vec![], patterns: vec![pattern.clone()] };
        let r = Redactor::new(&cfg, RedactMode::Replace, None).unwrap();
        proptest::prop_assert_eq!(r.redacts(&name), want, "{} {}", pattern, name);
    }

    /// Redaction never panics and never grows a clean text into one that needs escaping.
    #[test]
    fn any_url_redacts_without_panic(url in "\\PC{0,60}") {
        let r = Redactor::default_rules();
        let out = r.url(&url);
        if crate::text::is_clean(url.as_bytes()) {
            proptest::prop_assert!(crate::text::is_clean(out.as_bytes()));
        }
    }
}

/// The common names' verdicts, worked out once, are the rules' own: under the defaults and
/// under rules that redact some common names, in any case.
#[test]
fn common_names_are_judged_by_the_rules() {
    let custom = RedactConfig {
        names: vec!["X-Request-Id".into()],
        patterns: vec!["*forward*".into(), "serv*".into()],
    };
    for r in [
        Redactor::default_rules(),
        Redactor::new(&custom, RedactMode::Replace, None).unwrap(),
    ] {
        for &name in COMMON_NAMES {
            assert!(r.common.get(name).is_some(), "{name} is in the table");
            for n in [
                name.to_string(),
                name.to_ascii_uppercase(),
                capitalized(name),
            ] {
                assert_eq!(r.redacts(&n), r.redacts_by_rules(&n), "{n}");
            }
        }
    }
    let r = Redactor::new(&custom, RedactMode::Replace, None).unwrap();
    assert!(r.redacts("X-REQUEST-ID") && r.redacts("X-Forwarded-For") && r.redacts("Server"));
    assert!(!r.redacts("Host") && !r.redacts("Content-Type"));
}

/// `content-type` as `Content-Type`.
fn capitalized(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An attack's evidence never carries a secret: found under a secret name (a query
/// parameter, a header, a cookie, a body field at the end of its pointer) it is replaced
/// whole; elsewhere the JWTs in it are.
#[test]
fn evidence_under_a_secret_name_is_redacted() {
    let r = Redactor::default_rules();
    let finding = |location: Location, evidence: &str| Finding {
        class: apitap_detect::Class::Sqli,
        rule: "sqli.fingerprint",
        location,
        evidence: evidence.into(),
    };
    for at in [
        Location::Query("password".into()),
        Location::Header("x-api-key".into()),
        Location::Cookie("SESSIONID".into()),
        Location::Body("/user/password".into()),
        Location::Body("credentials.api_key".into()),
    ] {
        let f = finding(at.clone(), "hunter2' OR '1'='1");
        assert_eq!(r.evidence(&f), REDACTED, "{at}");
    }
    let token = jwt();
    let f = finding(Location::Query("q".into()), &format!("' OR 1=1 -- {token}"));
    let shown = r.evidence(&f);
    assert!(
        !shown.contains(&token) && shown.starts_with("' OR 1=1 -- "),
        "{shown}"
    );
    let f = finding(Location::Path, "../../etc/passwd");
    assert_eq!(r.evidence(&f), "../../etc/passwd");
}
