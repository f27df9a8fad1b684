//! Inference and merging.

use super::*;
use proptest::prelude::*;

/// The schema of a complete body.
fn infer(body: &str) -> Schema {
    match infer_json(body.as_bytes()) {
        Inference::Complete(s) => s,
        other => panic!("{body}: {other:?}"),
    }
}

/// `pointer: types` lines, with `?` for an optional field and the format if one.
fn describe(s: &Schema) -> Vec<String> {
    s.fields
        .iter()
        .map(|(p, f)| {
            let types: Vec<_> = f.types.iter().map(|t| t.as_str()).collect();
            let format = f.format().map(|f| format!(" ({f:?})")).unwrap_or_default();
            let opt = if s.required(p) { "" } else { "?" };
            format!("{p}{opt}: {}{format}", types.join("|"))
        })
        .collect()
}

#[test]
fn a_body_gives_its_pointers_and_types() {
    let s = infer(
        r#"{"id": 7, "price": 2.5, "name": "mug", "tags": ["a", "b"], "in_stock": true,
            "owner": {"id": "550e8400-e29b-41d4-a716-446655440000", "email": "a@b.example"},
            "created": "2024-05-01T10:00:00Z", "day": "2024-05-01", "note": null,
            "a/b~c": 1, "": 0}"#,
    );
    assert_eq!(
        describe(&s),
        [
            ": object",
            "/: integer",
            "/a~1b~0c: integer",
            "/created: string (DateTime)",
            "/day: string (Date)",
            "/id: integer",
            "/in_stock: boolean",
            "/name: string",
            "/note: null",
            "/owner: object",
            "/owner/email: string (Email)",
            "/owner/id: string (Uuid)",
            "/price: number",
            "/tags: array",
            "/tags/*: string",
        ]
    );
    assert_eq!(s.samples(), 1);
}

#[test]
fn array_elements_merge_and_say_which_fields_are_optional() {
    let s = infer(r#"[{"id": 1, "name": "a"}, {"id": 2}, {"id": 3.5, "name": null}, 4]"#);
    assert_eq!(
        describe(&s),
        [
            ": array",
            "/*: integer|object",
            "/*/id: integer|number",
            "/*/name?: null|string",
        ]
    );
    assert_eq!(s.fields["/*"].count, 4);
    assert_eq!(s.fields["/*"].objects, 3);
}

#[test]
fn samples_merge_into_unions_with_optional_fields() {
    let mut s = infer(r#"{"id": 1, "name": "a", "meta": {"v": 1}}"#);
    s.merge(&infer(r#"{"id": "x", "meta": {"v": 2, "w": true}}"#));
    s.merge(&infer(r#"{"id": 3, "name": "b", "meta": {"v": 3}}"#));
    assert_eq!(
        describe(&s),
        [
            ": object",
            "/id: integer|string",
            "/meta: object",
            "/meta/v: integer",
            "/meta/w?: boolean",
            "/name?: string",
        ]
    );
    assert_eq!(s.samples(), 3);
    let children: Vec<_> = s.children("/meta").map(|(k, _)| k).collect();
    assert_eq!(children, ["v", "w"]);
    let top: Vec<_> = s.children("").map(|(k, _)| k).collect();
    assert_eq!(top, ["id", "meta", "name"]);
}

#[test]
fn a_format_holds_only_when_every_string_had_it() {
    let mut s = infer(r#"{"id": "550e8400-e29b-41d4-a716-446655440000"}"#);
    assert_eq!(s.fields["/id"].format(), Some(StringFormat::Uuid));
    s.merge(&infer(r#"{"id": "not-a-uuid"}"#));
    assert_eq!(s.fields["/id"].format(), None);
}

#[test]
fn depth_and_field_count_are_bounded() {
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let s = infer(&deep);
    assert!(s.depth_limited);
    assert_eq!(s.fields.len(), MAX_SCHEMA_DEPTH + 1);
    let wide: Vec<String> = (0..MAX_SCHEMA_FIELDS + 10)
        .map(|i| format!("\"f{i}\": 1"))
        .collect();
    let s = infer(&format!("{{{}}}", wide.join(",")));
    assert_eq!(s.fields.len(), MAX_SCHEMA_FIELDS);
    assert_eq!(s.dropped_fields, 11, "the root takes one slot");
    let mut merged = s.clone();
    merged.merge(&infer(r#"{"zzz": 1}"#));
    assert_eq!(merged.fields.len(), MAX_SCHEMA_FIELDS);
    assert_eq!(merged.dropped_fields, 12);
}

#[test]
fn no_value_leaves_a_schema() {
    let body = r#"{"password": "hunter2-secret", "card": 4111111111111111, "ok": true,
                   "user": {"email": "alice@example.com"}}"#;
    let json = serde_json::to_string(&infer(body)).unwrap();
    for secret in ["hunter2", "4111", "alice", "example.com", "true"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    assert!(json.contains("/password") && json.contains("/user/email"));
}

#[test]
fn the_serialized_schema_reads_back() {
    let s = infer(r#"{"a": [1, "x"], "b": {"c": null}}"#);
    let back: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn fingerprints_follow_the_shape_not_the_values_or_counts() {
    let a = infer(r#"{"id": 1, "tags": ["x"]}"#);
    let b = infer(r#"{"tags": ["y", "z", "w"], "id": 99}"#);
    let c = infer(r#"{"id": "1", "tags": ["x"]}"#);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_eq!(a.fingerprint().len(), 16);
    // Pinned: records carry it, so changing the canonical text changes every fingerprint.
    // `{}` is the text "\0object,\n": python3 -c "import hashlib;
    // print(hashlib.sha256(b'\x00object,\n').hexdigest()[:16])".
    assert_eq!(infer("{}").fingerprint(), "60e2d8cc6635ead1");
}

#[test]
fn invalid_utf8_in_a_string_is_not_json() {
    // Found by the fuzz target: RFC 8259 section 8.1 text is UTF-8.
    let body = b"{\"id\": 1, \"er\": {\"email\": \"a@b.c\xec\xec\"}}";
    assert_eq!(infer_json(body), Inference::NotJson);
}

#[test]
fn bodies_that_are_not_json_or_cut_short_give_no_schema() {
    let table = [
        ("", Inference::Truncated),
        ("  ", Inference::Truncated),
        ("{\"a\": [1, 2", Inference::Truncated),
        ("{\"a\": \"unterminated", Inference::Truncated),
        ("<html>", Inference::NotJson),
        ("{\"a\": 1} trailing", Inference::NotJson),
        ("{'a': 1}", Inference::NotJson),
        ("tru", Inference::Truncated),
        ("nul!", Inference::NotJson),
    ];
    for (body, want) in table {
        assert_eq!(infer_json(body.as_bytes()), want, "{body:?}");
    }
}

/// JSON values of a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z\\\\\"é€ \u{1}\u{1F600}/~]{0,6}".prop_map(serde_json::Value::from),
        "2024-0[1-9]-1[0-9](T10:00:00Z)?|[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}|[a-z]{1,3}@[a-z]{1,3}\\.io"
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-c/~]{0,3}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Every prefix of a JSON document is `Truncated`, or `Complete` when it is itself a
    /// document (a number cut short), never `NotJson`.
    #[test]
    fn every_prefix_is_truncated_never_an_error(v in json_value(), pretty: bool) {
        let text = if pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            serde_json::to_string(&v).unwrap()
        };
        prop_assert!(matches!(infer_json(text.as_bytes()), Inference::Complete(_)));
        for cut in 0..text.len() {
            let prefix = &text.as_bytes()[..cut];
            let got = infer_json(prefix);
            prop_assert!(got != Inference::NotJson, "{:?} of {}", String::from_utf8_lossy(prefix), text);
        }
    }

    /// Merging is order-free: the same samples in any order give the same schema.
    #[test]
    fn merging_does_not_depend_on_order(vs in prop::collection::vec(json_value(), 1..5)) {
        let schemas: Vec<Schema> = vs.iter().map(|v| infer(&v.to_string())).collect();
        let mut forward = Schema::default();
        schemas.iter().for_each(|s| forward.merge(s));
        let mut backward = Schema::default();
        schemas.iter().rev().for_each(|s| backward.merge(s));
        prop_assert_eq!(&forward, &backward);
        prop_assert_eq!(forward.samples() as usize, vs.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The hand-written reader gives the schemas the serde visitor gave, compact or pretty,
    /// with the values' escapes (`/`, `~`, quotes, control characters, non-BMP characters
    /// written as `\uXXXX` pairs).
    #[test]
    fn the_reader_agrees_with_serdes_events(v in json_value(), pretty: bool, ascii: bool) {
        let mut text = if pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            serde_json::to_string(&v).unwrap()
        };
        if ascii {
            text = text.chars().map(|c| match c {
                c if c.is_ascii() => c.to_string(),
                c => c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect(),
            }).collect();
        }
        prop_assert_eq!(infer_json(text.as_bytes()), super::reference::infer_json_serde(text.as_bytes()), "{}", text);
    }
}

#[test]
fn numbers_are_typed_as_serde_json_reads_them() {
    let table: [(&str, Inference); 16] = [
        ("0", typed(JsonType::Integer)),
        ("-0", typed(JsonType::Number)),
        ("-0.0", typed(JsonType::Number)),
        ("18446744073709551615", typed(JsonType::Integer)),
        ("18446744073709551616", typed(JsonType::Number)),
        ("-9223372036854775808", typed(JsonType::Integer)),
        ("-9223372036854775809", typed(JsonType::Number)),
        ("1E2", typed(JsonType::Number)),
        ("1e-400", typed(JsonType::Number)),
        ("1e308", typed(JsonType::Number)),
        ("1e400", Inference::NotJson),
        ("0.0001e400", Inference::NotJson),
        ("01", Inference::NotJson),
        ("1.e5", Inference::NotJson),
        ("1.", Inference::Truncated),
        ("-", Inference::Truncated),
    ];
    for (body, want) in table {
        assert_eq!(infer_json(body.as_bytes()), want, "{body}");
        let value = serde_json::from_str::<serde_json::Value>(body);
        assert_eq!(
            value.is_ok(),
            matches!(want, Inference::Complete(_)),
            "{body}"
        );
    }
    let huge = format!("1{}", "0".repeat(400));
    assert_eq!(infer_json(huge.as_bytes()), Inference::NotJson);
    let large = format!("1{}", "0".repeat(300));
    assert_eq!(infer_json(large.as_bytes()), typed(JsonType::Number));
}

/// The schema of a body that is one value of type `t`.
fn typed(t: JsonType) -> Inference {
    let mut s = Schema::default();
    let mut shape = FieldShape::default();
    shape.observe(t, None);
    s.fields.insert(String::new(), shape);
    Inference::Complete(s)
}

#[test]
fn strings_and_nesting_follow_rfc_8259_as_serde_json_does() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let table: [(String, Inference); 12] = [
        (r#""\ud83d\ude00""#.into(), typed(JsonType::String)),
        (r#""\ud800""#.into(), Inference::NotJson),
        (r#""\udc00""#.into(), Inference::NotJson),
        (r#""\x""#.into(), Inference::NotJson),
        (r#""\u12"#.into(), Inference::Truncated),
        (r#""\u12x4""#.into(), Inference::NotJson),
        ("\"a\u{1}\"".into(), Inference::NotJson),
        ("\"a\u{7f}\"".into(), typed(JsonType::String)),
        ("[1,]".into(), Inference::NotJson),
        ("{\"a\":1,}".into(), Inference::NotJson),
        (deep(MAX_NESTING_FOR_TESTS), Inference::NotJson),
        ("\u{c}1".into(), Inference::NotJson),
    ];
    for (body, want) in table {
        let got = infer_json(body.as_bytes());
        assert_eq!(
            matches!(got, Inference::Complete(_)),
            matches!(want, Inference::Complete(_)),
            "{body}"
        );
        if !matches!(want, Inference::Complete(_)) {
            assert_eq!(got, want, "{body}");
        }
        let value = serde_json::from_str::<serde_json::Value>(&body);
        assert_eq!(
            value.is_ok(),
            matches!(want, Inference::Complete(_)),
            "{body}"
        );
    }
    assert!(matches!(
        infer_json(deep(MAX_NESTING_FOR_TESTS - 1).as_bytes()),
        Inference::Complete(_)
    ));
}

/// Nesting `serde_json` refuses: one more than [`walk::MAX_NESTING`].
const MAX_NESTING_FOR_TESTS: usize = walk::MAX_NESTING + 1;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// Arbitrary bytes never panic, and give a schema only when they are JSON.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        // `Value` checks strings' UTF-8, as inference does (`IgnoredAny` skips them).
        let is_json = serde_json::from_slice::<serde_json::Value>(&bytes).is_ok();
        let got = infer_json(&bytes);
        prop_assert_eq!(matches!(got, Inference::Complete(_)), is_json);
    }
}

#[test]
fn the_documented_example_has_its_documented_fingerprint() {
    let items: Vec<String> = (0..10).map(|i| format!("{{\"id\": {i}}}")).collect();
    let s = infer(&format!("{{\"items\": [{}]}}", items.join(",")));
    // docs/api-inventory.md shows this schema and fingerprint.
    assert_eq!(s.fingerprint(), "609e6a4bda0aecb9");
    assert_eq!(s.fields["/items/*"].count, 10);
}

#[test]
fn formats_are_named_as_debug_and_serde_name_them() {
    for f in [
        StringFormat::Uuid,
        StringFormat::DateTime,
        StringFormat::Date,
        StringFormat::Email,
    ] {
        assert_eq!(f.debug_name(), format!("{f:?}"));
        assert_eq!(
            serde_json::to_value(f).unwrap(),
            serde_json::Value::from(f.as_str())
        );
    }
}
