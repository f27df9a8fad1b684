//! Loading specs: versions, servers, `$ref`s and the errors of bad specs.

use super::*;

/// The spec parsed, or the test fails with the error.
fn spec(name: &str, text: &str) -> Spec {
    Spec::parse(name, text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of a spec that must not load, as text.
fn error(name: &str, text: &str) -> String {
    match Spec::parse(name, text.as_bytes()) {
        Ok(s) => panic!("loaded: {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// Bases as `host base` strings (`* ` for every host).
fn bases(op: &Operation) -> Vec<String> {
    op.servers
        .iter()
        .map(|s| format!("{} {}", s.host.as_deref().unwrap_or("*"), s.base_path))
        .collect()
}

const SHOP_31: &str = r#"
openapi: 3.1.0
info: {title: Shop, version: "1"}
servers:
  - url: https://api.example.com/v1
paths:
  /users/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
      - {name: fields, in: query, schema: {type: string}}
    get:
      operationId: getUser
      parameters:
        - {name: expand, in: query, schema: {type: string}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses:
        200: {description: ok}
        4XX: {description: client error}
    delete:
      operationId: deleteUser
      deprecated: true
      responses:
        default: {description: any}
  /users:
    post:
      operationId: createUser
      requestBody:
        content:
          application/json: {schema: {type: object}}
          application/*+xml: {}
          text/*: {}
      responses:
        "201": {description: created}
"#;

#[test]
fn openapi_31_operations_carry_what_classification_needs() {
    let s = spec("shop.yaml", SHOP_31);
    assert_eq!(s.version, SpecVersion::OpenApi31);
    assert_eq!(s.title.as_deref(), Some("Shop"));
    let ids: Vec<_> = s
        .operations
        .iter()
        .map(|o| {
            (
                o.method,
                o.path.as_str(),
                o.operation_id.as_deref().unwrap_or(""),
            )
        })
        .collect();
    // Sorted by path (serde_json's maps are), then in `METHODS` order.
    assert_eq!(
        ids,
        [
            (Method::Post, "/users", "createUser"),
            (Method::Get, "/users/{id}", "getUser"),
            (Method::Delete, "/users/{id}", "deleteUser"),
        ]
    );
    let get = &s.operations[1];
    assert!(!get.deprecated);
    assert_eq!(get.query.names, ["fields", "expand"]);
    assert_eq!(get.responses.codes, [200]);
    assert!(get.responses.declares(404) && get.responses.declares(200));
    assert!(!get.responses.declares(500) && !get.responses.declares(201));
    assert_eq!(get.request_body, None);
    assert_eq!(get.pointer, "/paths/~1users~1{id}/get");
    assert_eq!(
        bases(get),
        ["api.example.com /v1", "api.example.com:443 /v1"]
    );
    let delete = &s.operations[2];
    assert!(delete.deprecated && delete.responses.declares(599));
    let body = s.operations[0].request_body.as_ref().unwrap();
    assert!(body.accepts("application/json; charset=utf-8"));
    assert!(body.accepts("Text/Plain"));
    assert!(!body.accepts("application/x-www-form-urlencoded"));
}

#[test]
fn the_same_spec_in_json_loads_the_same() {
    let yaml = spec("a.yaml", SHOP_31);
    let value: serde_json::Value = yaml_serde::from_str(SHOP_31).unwrap();
    let json = spec("a.json", &serde_json::to_string_pretty(&value).unwrap());
    assert_eq!(json.operations, yaml.operations);
}

#[test]
fn server_variables_expand_to_their_enum_or_default() {
    let s = spec(
        "v.yaml",
        r#"
openapi: 3.0.3
info: {title: V, version: "1"}
servers:
  - url: "{scheme}://{region}.api.example.com:{port}/{base}"
    variables:
      scheme: {default: https}
      region: {default: eu, enum: [eu, us]}
      port: {default: "8443"}
      base: {default: v2}
  - url: http://Legacy.Example.com/
paths:
  /ping: {get: {responses: {"200": {description: ok}}}}
"#,
    );
    assert_eq!(
        bases(&s.operations[0]),
        [
            "eu.api.example.com:8443 /v2",
            "legacy.example.com ",
            "legacy.example.com:80 ",
            "us.api.example.com:8443 /v2",
        ]
    );
}

#[test]
fn relative_and_absent_servers_cover_every_host() {
    let s = spec(
        "r.yaml",
        r#"
openapi: 3.0.0
info: {title: R, version: "1"}
servers: [{url: /api/}]
paths:
  /a:
    get: {responses: {"200": {description: ok}}}
    servers: [{url: "//b.example.com/b"}]
  /c:
    get:
      servers: [{url: "c/"}]
      responses: {"200": {description: ok}}
"#,
    );
    assert_eq!(
        bases(&s.operations[0]),
        [
            "b.example.com /b",
            "b.example.com:443 /b",
            "b.example.com:80 /b"
        ]
    );
    assert_eq!(bases(&s.operations[1]), ["* /c"]);
    let none = spec(
        "n.yaml",
        "openapi: 3.1.0\ninfo: {title: N, version: '1'}\npaths: {/x: {get: {}}}\n",
    );
    assert_eq!(bases(&none.operations[0]), ["* "]);
}

#[test]
fn a_server_variable_without_definition_or_default_is_an_error() {
    let e = error(
        "v.yaml",
        "openapi: 3.0.0\ninfo: {title: V, version: '1'}\nservers: [{url: 'http://{h}/'}]\npaths: {}\n",
    );
    assert_eq!(
        e,
        "v.yaml: at #/servers/0/url: the URL uses variable {h} that `variables` does not define"
    );
    let e = error(
        "v.yaml",
        "openapi: 3.0.0\ninfo: {title: V, version: '1'}\nservers: [{url: 'http://{h}/', variables: {h: {enum: []}}}]\npaths: {}\n",
    );
    assert_eq!(
        e,
        "v.yaml: at #/servers/0/variables/h: a server variable needs a `default`"
    );
}

#[test]
fn swagger_2_uses_host_base_path_schemes_and_consumes() {
    let s = spec(
        "petstore.json",
        r##"{
  "swagger": "2.0",
  "info": {"title": "Pets", "version": "1"},
  "host": "petstore.example.com:8080",
  "basePath": "/v2/",
  "schemes": ["http"],
  "consumes": ["application/json"],
  "parameters": {"limit": {"name": "limit", "in": "query", "type": "integer"}},
  "paths": {
    "/pets": {
      "get": {"operationId": "listPets", "parameters": [{"$ref": "#/parameters/limit"}],
              "responses": {"200": {"description": "ok"}}},
      "post": {"parameters": [{"name": "pet", "in": "body", "schema": {"$ref": "#/definitions/Pet"}}],
               "responses": {"201": {"description": "created"}}}
    },
    "/pets/{id}/photo": {
      "put": {"deprecated": true, "consumes": ["multipart/form-data"],
              "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"},
                             {"name": "file", "in": "formData", "type": "file"}],
              "responses": {"default": {"description": "any"}}}
    },
    "/login": {
      "post": {"parameters": [{"name": "user", "in": "formData", "type": "string"}],
               "consumes": [], "responses": {"200": {"description": "ok"}}}
    }
  },
  "definitions": {"Pet": {"type": "object"}}
}"##,
    );
    assert_eq!(s.version, SpecVersion::Swagger2);
    let [login, list, create, photo] = &s.operations[..] else {
        panic!("{:?}", s.operations)
    };
    assert_eq!(bases(list), ["petstore.example.com:8080 /v2"]);
    assert_eq!(list.query.names, ["limit"]);
    assert_eq!(list.request_body, None);
    assert!(create
        .request_body
        .as_ref()
        .unwrap()
        .accepts("application/json"));
    assert!(!create.request_body.as_ref().unwrap().accepts("text/plain"));
    assert!(photo.deprecated);
    assert!(photo
        .request_body
        .as_ref()
        .unwrap()
        .accepts("multipart/form-data; boundary=x"));
    assert!(!photo
        .request_body
        .as_ref()
        .unwrap()
        .accepts("application/json"));
    let form = login.request_body.as_ref().unwrap();
    assert!(form.accepts("application/x-www-form-urlencoded"));
    assert!(!form.accepts("application/json"));
}

#[test]
fn swagger_2_without_host_covers_every_host() {
    let s = spec(
        "s.yaml",
        "swagger: '2.0'\ninfo: {title: S, version: '1'}\nbasePath: /api\npaths: {/x: {get: {responses: {200: {description: ok}}}}}\n",
    );
    assert_eq!(bases(&s.operations[0]), ["* /api"]);
    assert_eq!(s.operations[0].responses.codes, [200]);
}

#[test]
fn refs_resolve_for_parameters_bodies_responses_and_path_items() {
    let s = spec(
        "refs.yaml",
        r##"
openapi: 3.0.3
info: {title: Refs, version: "1"}
paths:
  /a:
    $ref: "#/components/pathItems/A"
  /b/{id}:
    post:
      parameters:
        - $ref: "#/components/parameters/Chained"
      requestBody: {$ref: "#/components/requestBodies/Form"}
      responses:
        "200": {$ref: "#/components/responses/Ok"}
components:
  pathItems:
    A:
      get:
        parameters: [{$ref: "#/components/parameters/Page"}]
        responses: {"200": {$ref: "#/components/responses/Ok"}}
  parameters:
    Page: {name: page, in: query, schema: {type: integer}}
    Chained: {$ref: "#/components/parameters/Filter"}
    Filter: {name: filter, in: query, style: deepObject, schema: {$ref: "#/components/schemas/Filter"}}
  requestBodies:
    Form:
      content: {application/x-www-form-urlencoded: {schema: {$ref: "#/components/schemas/Node"}}}
  responses:
    Ok: {description: ok}
  schemas:
    Filter: {type: object}
    Node:
      type: object
      properties:
        child: {$ref: "#/components/schemas/Node"}
        "a/b~c": {type: string}
"##,
    );
    assert_eq!(s.operations[0].query.names, ["page"]);
    assert_eq!(s.operations[0].pointer, "/components/pathItems/A/get");
    let b = &s.operations[1];
    assert!(b.query.documents("filter[status]") && !b.query.documents("filterx"));
    assert!(b
        .request_body
        .as_ref()
        .unwrap()
        .accepts("application/x-www-form-urlencoded"));
}

#[test]
fn a_form_object_parameter_documents_every_name() {
    let s = spec(
        "o.yaml",
        r##"
openapi: 3.1.0
info: {title: O, version: "1"}
paths:
  /search:
    get:
      parameters:
        - {name: q, in: query, schema: {$ref: "#/components/schemas/Q"}}
components: {schemas: {Q: {type: object, properties: {term: {type: string}}}}}
"##,
    );
    assert!(s.operations[0].query.documents("anything"));
}

#[test]
fn a_percent_encoded_ref_resolves() {
    let s = spec(
        "p.yaml",
        r##"
openapi: 3.1.0
info: {title: P, version: "1"}
paths:
  /x/{id}: {get: {parameters: [{name: q, in: query}]}}
  /y: {$ref: "#/paths/~1x~1%7Bid%7D"}
"##,
    );
    assert_eq!(s.operations[1].query.names, ["q"]);
}

#[test]
fn ref_errors_name_the_file_and_the_pointer() {
    let cycle = r##"Loop1: {$ref: "#/components/parameters/Loop2"}, Loop2: {$ref: "#/components/parameters/Loop1"}"##;
    let table = [
        (
            r##"{"$ref": "#/components/parameters/Missing"}"##,
            "",
            "r.yaml: at #/paths/~1x/get/parameters/0/$ref: $ref \"#/components/parameters/Missing\" does not resolve: nothing in the document is there",
        ),
        (
            r##"{"$ref": "#/components/parameters/Loop1"}"##,
            cycle,
            "r.yaml: at #/components/parameters/Loop1/$ref: $ref \"#/components/parameters/Loop2\" is part of a cycle of references that never reaches a value",
        ),
        (
            r##"{"$ref": "common.yaml#/parameters/Page"}"##,
            "",
            "r.yaml: at #/paths/~1x/get/parameters/0/$ref: $ref \"common.yaml#/parameters/Page\" points outside the document; bundle the spec into one file (e.g. `redocly bundle`)",
        ),
    ];
    for (param, components, want) in table {
        let text = format!(
            r##"
openapi: 3.0.0
info: {{title: R, version: "1"}}
paths:
  /x: {{get: {{parameters: [{param}]}}}}
components:
  parameters: {{{components}}}
"##
        );
        assert_eq!(error("r.yaml", &text), want);
    }
}

#[test]
fn a_dangling_schema_ref_is_an_error_even_where_the_matcher_never_looks() {
    let e = error(
        "s.yaml",
        "openapi: 3.1.0\ninfo: {title: S, version: '1'}\ncomponents: {schemas: {A: {properties: {b: {$ref: '#/components/schemas/B'}}}}}\n",
    );
    assert!(
        e.starts_with("s.yaml: at #/components/schemas/A/properties/b/$ref: $ref \"#/components/schemas/B\" does not resolve"),
        "{e}"
    );
}

#[test]
fn syntax_errors_name_the_file_line_and_column() {
    let e = error("bad.yaml", "openapi: 3.0.0\npaths:\n  /x: {get: [\n");
    assert!(
        e.starts_with("bad.yaml: not valid YAML at line 4, column 1: "),
        "{e}"
    );
    let e = error("bad.json", "{\"openapi\": \"3.0.0\",\n \"paths\": {]}");
    assert!(
        e.starts_with("bad.json: not valid JSON at line 2, column 12: "),
        "{e}"
    );
}

#[test]
fn wrong_types_name_the_pointer_and_what_was_expected() {
    let head = "openapi: 3.0.0\ninfo: {title: W, version: '1'}\n";
    let table = [
        ("paths: []\n", "w.yaml: at #/paths: expected an object, found an array"),
        (
            "paths: {/x: {get: {deprecated: 'yes'}}}\n",
            "w.yaml: at #/paths/~1x/get/deprecated: expected a boolean, found a string",
        ),
        (
            "paths: {/x: {get: {operationId: 7}}}\n",
            "w.yaml: at #/paths/~1x/get/operationId: expected a string, found a number",
        ),
        (
            "paths: {x: {get: {}}}\n",
            "w.yaml: at #/paths/x: path \"x\" must start with `/`",
        ),
        (
            "paths: {/x: {get: {responses: {ok: {description: ok}}}}}\n",
            "w.yaml: at #/paths/~1x/get/responses/ok: \"ok\" is not a response status: write a code (`404`), a range (`4XX`) or `default`",
        ),
        (
            "paths: {/x: {get: {parameters: [{name: a, in: body}]}}}\n",
            "w.yaml: at #/paths/~1x/get/parameters/0/in: `in: body`; a parameter is in query, path, header or cookie",
        ),
        (
            "paths: {/x: {get: {parameters: [{in: query}]}}}\n",
            "w.yaml: at #/paths/~1x/get/parameters/0: a parameter needs a `name`",
        ),
        (
            "servers: [{url: 7}]\npaths: {}\n",
            "w.yaml: at #/servers/0/url: expected a string, found a number",
        ),
    ];
    for (rest, want) in table {
        assert_eq!(error("w.yaml", &format!("{head}{rest}")), want, "{rest}");
    }
}

#[test]
fn documents_that_are_not_openapi_are_refused() {
    assert_eq!(
        error("x.yaml", "info: {title: X}\n"),
        "x.yaml: at #: neither `openapi` nor `swagger` is set: not an OpenAPI or Swagger document"
    );
    assert_eq!(
        error("x.yaml", "openapi: 4.0.0\n"),
        "x.yaml: at #/openapi: openapi version \"4.0.0\" is not supported; 3.0.x and 3.1.x are"
    );
    assert_eq!(
        error("x.yaml", "swagger: '1.2'\n"),
        "x.yaml: at #/swagger: swagger version \"1.2\"; only \"2.0\" is"
    );
    assert_eq!(
        error("x.yaml", "- a\n- b\n"),
        "x.yaml: at #: expected an object, found an array"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Arbitrary bytes and mangled specs never panic: they load or give an error.
    #[test]
    fn arbitrary_specs_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        cut in 0usize..2000,
        flip in 0usize..2000,
    ) {
        let _ = Spec::parse("a.yaml", &bytes);
        let mut text = SHOP_31.as_bytes().to_vec();
        text.truncate(cut.min(text.len()));
        let _ = Spec::parse("cut.yaml", &text);
        let mut text = SHOP_31.as_bytes().to_vec();
        if let Some(b) = text.get_mut(flip % SHOP_31.len()) {
            *b = b'{';
        }
        let _ = Spec::parse("flip.yaml", &text);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// Escaping a pointer segment by runs writes what escaping it a character at a time
    /// writes, whatever the key (`~` and `/` made common).
    #[test]
    fn pointer_escapes_by_runs_match_the_character_loop(
        key in "([~/a]|\\PC){0,24}",
        prefix in "/[a-z]{0,4}",
    ) {
        let (mut fast, mut slow) = (prefix.clone(), prefix);
        push_escaped(&mut fast, &key);
        error::push_escaped_slow(&mut slow, &key);
        proptest::prop_assert_eq!(fast, slow);
    }
}
