//! The `http` record: one transaction. Written in two halves: the [head](HttpRecord::write_json_head)
//! (every field that does not depend on sessions, about 90 % of the bytes, written where the
//! transaction was parsed) and the [tail](write_json_tail) (the session fields and the
//! closing brace, written by the session stage).

use std::borrow::Cow;

use apitap_detect::{Finding, Outcome};
use apitap_inventory::{ApiRecord, BodySchema, DriftRecord};

use crate::http::target::{split_target, target_authority};
use crate::http::transaction::SwitchedProtocol;
use crate::http::{Headers, Http2Info, Request, Response, Transaction};
use crate::session::secret::HEX_LEN;
use crate::session::TxSession;
use crate::text::is_clean;
use crate::tunnel::TunnelInfo;

use super::body::Sample;
use super::json::{
    key, write_ip, write_opt_bool, write_opt_str, write_opt_str_known, write_str, write_str_known,
    write_ts_micros, write_u64, Arr, Obj,
};
use super::{Redactor, SCHEMA_VERSION};

/// An `http` record: one transaction, ready to write.
pub struct HttpRecord<'a> {
    /// The transaction.
    pub tx: &'a Transaction,
    /// Redaction rules.
    pub redactor: &'a Redactor,
    /// The outermost tunnel the transaction's packets came through; the `tunnel` field is
    /// written only when there is one.
    pub tunnel: Option<&'a TunnelInfo>,
    /// What attack detection found, when it ran: the `attacks` field is written then (an
    /// empty list when nothing was found), and not at all with detection off.
    pub attacks: Option<Attacks<'a>>,
    /// Its API classification, when it ran: the `api` field is written then.
    pub api: Option<&'a ApiRecord>,
    /// The sensor that saw it (`export.sensor_id`); `null` when unset.
    pub sensor_id: Option<&'a str>,
}

/// The attacks found in a transaction's request and what its response says of them.
#[derive(Clone, Copy, Debug)]
pub struct Attacks<'a> {
    /// The findings, in the order found.
    pub findings: &'a [Finding],
    /// The response's verdict, the same for every finding of the request.
    pub outcome: Outcome,
}

/// The version, quoted: `"HTTP/2"` for an HTTP/2 stream, else `"HTTP/1.x"` from the minor
/// version.
fn version_json(h2: bool, minor: u8) -> &'static [u8] {
    match (h2, minor) {
        (true, _) => b"\"HTTP/2\"",
        (false, 0) => b"\"HTTP/1.0\"",
        (false, _) => b"\"HTTP/1.1\"",
    }
}

impl HttpRecord<'_> {
    /// Append this record as one line of JSON (no newline), the session fields when given:
    /// [`Self::write_json_head`] followed by [`write_json_tail`].
    pub fn write_json(&self, session: Option<&TxSession>, out: &mut Vec<u8>) {
        self.write_json_head(out);
        write_json_tail(session, &mut [0; HEX_LEN], out);
    }

    /// Append the part of the record that does not depend on sessions, leaving the object
    /// open for [`write_json_tail`].
    pub fn write_json_head(&self, out: &mut Vec<u8>) {
        let tx = self.tx;
        let mut o = Obj::open(out);
        write_str_known(o.key(key!("type")), "http", true);
        write_u64(o.key(key!("schema_version")), u64::from(SCHEMA_VERSION));
        write_opt_str(o.key(key!("sensor_id")), self.sensor_id);
        write_ts_micros(o.key(key!("ts")), tx.ts_us());
        write_u64(o.key(key!("conn_id")), tx.conn.0);
        write_u64(o.key(key!("depth")), u64::from(tx.depth));
        let mut flow = Obj::open(o.key(key!("flow")));
        write_ip(flow.key(key!("src_ip")), tx.client.ip());
        write_u64(flow.key(key!("src_port")), u64::from(tx.client.port()));
        write_ip(flow.key(key!("dst_ip")), tx.server.ip());
        write_u64(flow.key(key!("dst_port")), u64::from(tx.server.port()));
        flow.close();
        match &tx.request {
            None => o.key(key!("request")).extend_from_slice(b"null"),
            Some(r) => self.write_request(r, o.key(key!("request"))),
        }
        match &tx.response {
            None => o.key(key!("response")).extend_from_slice(b"null"),
            Some(r) => self.write_response(r, o.key(key!("response"))),
        }
        let latency = o.key(key!("latency_us"));
        match (&tx.request, &tx.response) {
            (Some(q), Some(r)) => write_u64(latency, r.ts_us.saturating_sub(q.end_ts_us)),
            _ => latency.extend_from_slice(b"null"),
        }
        let switched = o.key(key!("switched_protocol"));
        match &tx.switched {
            None => switched.extend_from_slice(b"null"),
            Some(SwitchedProtocol::Connect) => write_str(switched, "connect"),
            Some(SwitchedProtocol::Upgrade(u)) => {
                write_str(switched, &format!("upgrade:{}", u.to_ascii_lowercase()))
            }
        }
        let mut anomalies = Arr::open(o.key(key!("anomalies")));
        for name in tx.anomaly_names() {
            write_str_known(anomalies.item(), name, true);
        }
        anomalies.close();
        if let Some(a) = self.attacks {
            self.write_attacks(a, o.key(key!("attacks")));
        }
        if let Some(api) = self.api {
            write_api(api, o.key(key!("api")));
        }
        if let Some(t) = self.tunnel {
            write_tunnel(t, o.key(key!("tunnel")));
        }
        if let Some(h2) = &tx.http2 {
            write_http2(h2, &mut o);
        }
        if let Some(a) = &tx.connect_authority {
            write_str(o.key(key!("connect_authority")), a);
        }
        if tx.decrypted {
            o.key(key!("decrypted")).extend_from_slice(b"true");
        }
        o.suspend();
    }

    /// The `request` object. The target's secrets (userinfo, secret query parameters, JWTs)
    /// are redacted before it is split into path, query and host.
    fn write_request(&self, r: &Request, out: &mut Vec<u8>) {
        let red = self.redactor;
        let uri = red.url(&r.uri);
        let (path, query) = split_target(&uri);
        // The path, query and an absolute-form host are parts of the target: clean when it
        // is (replacements are). Values of a plain header list are clean.
        let uri_clean = is_clean(r.uri.as_bytes());
        let plain = r.headers.is_plain();
        // HTTP/2's `:authority`; else (RFC 9112 section 3.2.2) an absolute-form target's
        // authority, whatever Host says; else Host.
        let host = r
            .authority
            .as_deref()
            .map(|a| (red.header_value("host", a), false));
        let host = host.or_else(|| target_authority(&r.uri).map(|a| (Cow::Borrowed(a), uri_clean)));
        let host = host.or_else(|| {
            r.headers
                .get("host")
                .map(|h| (red.header_value("host", h), plain))
        });
        let (host, host_clean) = match host {
            Some((h, clean)) => (Some(h), clean),
            None => (None, true),
        };
        let mut o = Obj::open(out);
        write_str(o.key(key!("method")), &r.method);
        write_str_known(o.key(key!("uri")), &uri, uri_clean);
        write_str_known(o.key(key!("path")), path, uri_clean);
        write_opt_str_known(o.key(key!("query")), query, uri_clean);
        write_opt_str_known(o.key(key!("host")), host.as_deref(), host_clean);
        o.key(key!("version"))
            .extend_from_slice(version_json(self.tx.http2.is_some(), r.version_minor));
        let field = |name: &str| r.headers.get(name).map(|v| red.header_value(name, v));
        let ua = field("user-agent");
        write_opt_str_known(o.key(key!("user_agent")), ua.as_deref(), plain);
        let ct = field("content-type");
        write_opt_str_known(o.key(key!("content_type")), ct.as_deref(), plain);
        self.write_headers(&r.headers, o.key(key!("headers")));
        write_u64(o.key(key!("body_bytes")), r.body_bytes);
        self.write_body(&r.body, r.body_truncated, &r.headers, &mut o);
        o.close();
    }

    /// The `body` sample of a message, when body capture is on (`output.body_capture_bytes`).
    fn write_body(&self, raw: &[u8], truncated: bool, headers: &Headers, o: &mut Obj<'_>) {
        let (max, limits) = self.redactor.body_capture();
        if max == 0 {
            return;
        }
        let sample = Sample {
            raw,
            truncated,
            headers,
        };
        sample.write(self.redactor, limits, max, o.key(key!("body")));
    }

    /// The `response` object.
    fn write_response(&self, r: &Response, out: &mut Vec<u8>) {
        let plain = r.headers.is_plain();
        let mut o = Obj::open(out);
        write_u64(o.key(key!("status")), u64::from(r.status));
        write_str(o.key(key!("reason")), &r.reason);
        o.key(key!("version"))
            .extend_from_slice(version_json(self.tx.http2.is_some(), r.version_minor));
        let ct = r.headers.get("content-type");
        let ct = ct.map(|v| self.redactor.header_value("content-type", v));
        write_opt_str_known(o.key(key!("content_type")), ct.as_deref(), plain);
        self.write_headers(&r.headers, o.key(key!("headers")));
        write_u64(o.key(key!("body_bytes")), r.body_bytes);
        self.write_body(&r.body, r.body_truncated, &r.headers, &mut o);
        let mut interim = Arr::open(o.key(key!("interim")));
        for &code in &r.interim {
            write_u64(interim.item(), u64::from(code));
        }
        interim.close();
        o.close();
    }

    /// `[[name, value], ...]` in wire order, secret values redacted
    /// ([`Redactor::header_value`]).
    fn write_headers(&self, headers: &Headers, out: &mut Vec<u8>) {
        // Every name and value, with room for each field's framing: `["`, `","`, `"]` and a
        // comma.
        const FRAME_BYTES: usize = 8;
        out.reserve(headers.text_len() + FRAME_BYTES * headers.len() + 2);
        // Replacements are clean: a plain list stays clean.
        let plain = headers.is_plain();
        let mut list = Arr::open(out);
        for (name, value) in headers {
            let value = self.redactor.header_value(name, value);
            let mut field = Arr::open(list.item());
            write_str_known(field.item(), name, plain);
            write_str_known(field.item(), &value, plain);
            field.close();
        }
        list.close();
    }
}

impl HttpRecord<'_> {
    /// `[{class, rule, where, evidence, outcome}, ...]`. Evidence found under a secret name is
    /// redacted like the value it came from, and JWTs in it are redacted wherever they are.
    fn write_attacks(&self, a: Attacks<'_>, out: &mut Vec<u8>) {
        let mut list = Arr::open(out);
        for f in a.findings {
            let mut o = Obj::open(list.item());
            write_str_known(o.key(key!("class")), f.class.name(), true);
            write_str(o.key(key!("rule")), f.rule);
            let place = f.location.to_string();
            write_str(o.key(key!("where")), &place);
            let evidence = self.redactor.evidence(f);
            write_str(o.key(key!("evidence")), &evidence);
            write_str_known(o.key(key!("outcome")), a.outcome.name(), true);
            o.close();
        }
        list.close();
    }
}

/// The `api` object (docs/api-inventory.md): names, templates and types from the specs and
/// the config, and names (never values) from the request. Written by hand like the rest of
/// the record (`serde_json` spent about 3,000 instructions a transaction on it); the bodies'
/// schemas, on the few sampled transactions, go through `serde_json`. The oracle's test holds
/// it to `serde_json`'s bytes for the same record.
fn write_api(api: &ApiRecord, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    match api.members_json.get() {
        Some(json) => {
            debug_assert_eq!(
                json,
                api_members_json(api),
                "the classifier's members are the fields'"
            );
            o.raw_members(json);
        }
        None => write_members(api, &mut o),
    }
    for (key, schema) in [
        (key!("request_schema"), &api.request_schema),
        (key!("response_schema"), &api.response_schema),
    ] {
        if let Some(schema) = schema {
            write_schema(schema, o.key(key));
        }
    }
    o.close();
}

/// The members of the `api` object from `status` to `auth` (all but the schemas), from the
/// fields.
fn write_members(api: &ApiRecord, o: &mut Obj<'_>) {
    write_str_known(o.key(key!("status")), api.status.as_str(), true);
    write_str_known(o.key(key!("reason")), api.reason.as_str(), true);
    write_opt_str(o.key(key!("spec")), api.spec.as_deref());
    write_opt_str(o.key(key!("operation_id")), api.operation_id.as_deref());
    write_opt_str(o.key(key!("template")), api.template.as_deref());
    if api.drift.is_empty() {
        o.key(key!("drift")).extend_from_slice(b"[]");
    } else {
        write_drift(&api.drift, o.key(key!("drift")));
    }
    let mut auth = Arr::open(o.key(key!("auth")));
    for a in &api.auth {
        // The scheme's object is written once, in the inventory crate (its test holds it to
        // serde's); a name goes in before its closing brace.
        let object = a.scheme.json_object().as_bytes();
        let out = auth.item();
        match &a.name {
            None => out.extend_from_slice(object),
            Some(name) => {
                out.extend_from_slice(object.strip_suffix(b"}").unwrap_or(object));
                out.extend_from_slice(b",\"name\":");
                write_str(out, name);
                out.push(b'}');
            }
        }
    }
    auth.close();
}

/// The members of `api`'s object from `status` to `auth`, as the record writer writes them
/// (without braces): what a classifier may keep in [`ApiRecord::members_json`] for records
/// whose fields are the same.
pub fn api_members_json(api: &ApiRecord) -> String {
    let mut out = Vec::new();
    let mut o = Obj::open(&mut out);
    write_members(api, &mut o);
    o.close();
    let s = String::from_utf8_lossy(&out);
    s.get(1..s.len() - 1).unwrap_or_default().to_string()
}

/// The `drift` list, not empty.
fn write_drift(list: &[DriftRecord], out: &mut Vec<u8>) {
    let mut drift = Arr::open(out);
    for d in list {
        let mut e = Obj::open(drift.item());
        match d {
            DriftRecord::UndocumentedQueryParam { name } => {
                write_str_known(e.key(key!("kind")), "undocumented_query_param", true);
                write_str(e.key(key!("name")), name);
            }
            DriftRecord::UndeclaredStatus { status } => {
                write_str_known(e.key(key!("kind")), "undeclared_status", true);
                write_u64(e.key(key!("status")), u64::from(*status));
            }
            DriftRecord::UnacceptedContentType { content_type } => {
                write_str_known(e.key(key!("kind")), "unaccepted_content_type", true);
                write_str(e.key(key!("content_type")), content_type);
            }
        }
        e.close();
    }
    drift.close();
}

/// A body's schema as `serde` writes [`BodySchema`] (the proptest below holds them equal):
/// by hand, since `#[serde(flatten)]` buffers the flattened fields through a map.
fn write_schema(b: &BodySchema, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    write_str(o.key(key!("fingerprint")), &b.fingerprint);
    let mut fields = Obj::open(o.key(key!("fields")));
    for (pointer, shape) in &b.schema.fields {
        let mut f = Obj::open(fields.dyn_key(pointer));
        let mut types = Arr::open(f.key(key!("types")));
        for t in &shape.types {
            write_str_known(types.item(), t.as_str(), true);
        }
        types.close();
        if !shape.formats.is_empty() {
            let mut formats = Arr::open(f.key(key!("formats")));
            for fmt in &shape.formats {
                write_str_known(formats.item(), fmt.as_str(), true);
            }
            formats.close();
        }
        if shape.plain_strings != 0 {
            write_u64(f.key(key!("plain_strings")), u64::from(shape.plain_strings));
        }
        write_u64(f.key(key!("count")), u64::from(shape.count));
        if shape.objects != 0 {
            write_u64(f.key(key!("objects")), u64::from(shape.objects));
        }
        f.close();
    }
    fields.close();
    if b.schema.dropped_fields != 0 {
        write_u64(
            o.key(key!("dropped_fields")),
            u64::from(b.schema.dropped_fields),
        );
    }
    if b.schema.depth_limited {
        o.key(key!("depth_limited")).extend_from_slice(b"true");
    }
    o.close();
}

/// The HTTP/2 fields: `stream_id`, `reset` when the stream was reset, and the `grpc` object of
/// a gRPC call.
fn write_http2(h2: &Http2Info, o: &mut Obj<'_>) {
    write_u64(o.key(key!("stream_id")), u64::from(h2.stream_id));
    if let Some((by, code)) = h2.reset {
        let mut r = Obj::open(o.key(key!("reset")));
        write_str_known(r.key(key!("by")), side_str(by), true);
        write_u64(r.key(key!("error_code")), u64::from(code));
        r.close();
    }
    if let Some(g) = &h2.grpc {
        let mut c = Obj::open(o.key(key!("grpc")));
        write_str(c.key(key!("service")), &g.service);
        write_str(c.key(key!("method")), &g.method);
        let status = c.key(key!("status"));
        match g.status {
            Some(n) => write_u64(status, u64::from(n)),
            None => status.extend_from_slice(b"null"),
        }
        write_opt_str(c.key(key!("message")), g.message.as_deref());
        write_u64(c.key(key!("request_messages")), g.request.messages);
        write_u64(c.key(key!("response_messages")), g.response.messages);
        write_u64(c.key(key!("request_message_bytes")), g.request.bytes);
        write_u64(c.key(key!("response_message_bytes")), g.response.bytes);
        c.close();
    }
}

/// `"client"` or `"server"`.
pub(crate) fn side_str(side: apitap_reassembly::Side) -> &'static str {
    match side {
        apitap_reassembly::Side::Client => "client",
        apitap_reassembly::Side::Server => "server",
    }
}

/// The `tunnel` object: its type, its id under the type's own name, the outer addresses and
/// the nesting depth.
pub(crate) fn write_tunnel(t: &TunnelInfo, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    write_str_known(o.key(key!("type")), t.kind.name(), true);
    if let Some((name, id)) = t.kind.id_name().zip(t.id) {
        write_u64(o.dyn_key(name), u64::from(id));
    }
    write_ip(o.key(key!("outer_src")), t.outer_src);
    write_ip(o.key(key!("outer_dst")), t.outer_dst);
    write_u64(o.key(key!("depth")), u64::from(t.depth));
    o.close();
}

/// Append the session fields of an `http` record (when `session` is given) and close it: the
/// second half of [`HttpRecord::write_json`], after [`HttpRecord::write_json_head`].
///
/// Returns the session id's hex digits, written into `hex` (the record's partitioning key):
/// the exporter's key and the record's `session_id` come from one encoding.
pub fn write_json_tail<'h>(
    session: Option<&TxSession>,
    hex: &'h mut [u8; HEX_LEN],
    out: &mut Vec<u8>,
) -> Option<&'h str> {
    let mut o = Obj::resume(out);
    let mut key = None;
    if let Some(ts) = session {
        let id = o.key(key!("session_id"));
        match &ts.session_id {
            Some(sid) => {
                let digits = sid.hex_in(hex);
                write_str_known(id, digits, true);
                key = Some(digits);
            }
            None => id.extend_from_slice(b"null"),
        }
        let txid = o.key(key!("transaction_id"));
        txid.push(b'"');
        write_u64(txid, ts.transaction_id.conn);
        txid.push(b'-');
        write_u64(txid, u64::from(ts.transaction_id.depth));
        txid.push(b'"');
        let source = o.key(key!("session_key"));
        match ts.key_source.as_deref() {
            None => source.extend_from_slice(b"null"),
            Some(label) => {
                let mut k = Obj::open(source);
                write_str(k.key(key!("source")), label);
                write_opt_bool(k.key(key!("verified")), ts.jwt_verified);
                k.close();
            }
        }
        write_ip(o.key(key!("client_ip")), ts.client_ip);
        write_opt_str(o.key(key!("endpoint")), ts.endpoint.as_deref());
        let mut context = Obj::open(o.key(key!("context")));
        for (name, value) in &ts.context {
            write_str(context.dyn_key(name), value);
        }
        context.close();
        let mut anomalies = Arr::open(o.key(key!("session_anomalies")));
        for a in &ts.anomalies {
            write_str_known(anomalies.item(), a.name(), true);
        }
        anomalies.close();
    }
    o.close();
    key
}

#[cfg(test)]
mod tests {
    use apitap_inventory::{
        infer_json, ApiReason, ApiStatus, AuthScheme, AuthSeen, Inference, MembersJson,
    };
    use proptest::prelude::*;

    use super::*;

    /// A body's schema, for the records that carry one.
    fn schema(json: &str) -> Option<apitap_inventory::BodySchema> {
        match infer_json(json.as_bytes()) {
            Inference::Complete(s) => Some(s.into()),
            other => panic!("{other:?}"),
        }
    }

    fn drift() -> impl Strategy<Value = DriftRecord> {
        prop_oneof![
            "\\PC{0,8}".prop_map(|name| DriftRecord::UndocumentedQueryParam { name }),
            any::<u16>().prop_map(|status| DriftRecord::UndeclaredStatus { status }),
            "[a-z/+\"\\\\]{0,12}"
                .prop_map(|content_type| DriftRecord::UnacceptedContentType { content_type }),
        ]
    }

    /// JSON bodies whose schemas have every optional part: formats, plain strings,
    /// objects, keys to escape (quotes, `/`, `~`, control characters), a field past the
    /// depth bound.
    fn body_json() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            Just("1".to_string()),
            Just("2.5".to_string()),
            Just("null".to_string()),
            Just("\"2026-12-06\"".to_string()),
            Just("\"a@b.io\"".to_string()),
            Just("\"plain\"".to_string()),
            Just(format!("{}1{}", "[".repeat(20), "]".repeat(20))),
        ];
        let member = ("[a-z\"/~\u{1}é]{0,3}", value)
            .prop_map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()));
        proptest::collection::vec(member, 0..6).prop_map(|ms| {
            let object = format!("{{{}}}", ms.join(","));
            format!("[{object},{object},{{\"x\":[]}}]")
        })
    }

    fn auth() -> impl Strategy<Value = AuthSeen> {
        let schemes = vec![
            AuthScheme::BearerJwt,
            AuthScheme::Bearer,
            AuthScheme::Basic,
            AuthScheme::Digest,
            AuthScheme::OtherAuthorization,
            AuthScheme::ApiKey,
            AuthScheme::Cookie,
            AuthScheme::None,
        ];
        (
            proptest::sample::select(schemes),
            proptest::option::of("\\PC{0,8}"),
        )
            .prop_map(|(scheme, name)| AuthSeen {
                scheme,
                name: name.map(Into::into),
            })
    }

    #[test]
    fn a_schema_past_its_field_bound_is_written_as_serde_writes_it() {
        let members: Vec<String> = (0..300).map(|i| format!("\"f{i}\":{i}")).collect();
        let s = schema(&format!("{{{}}}", members.join(","))).unwrap();
        assert!(s.schema.dropped_fields > 0);
        let mut ours = Vec::new();
        write_schema(&s, &mut ours);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&s).unwrap()
        );
    }

    proptest! {
        /// The hand-written `api` object is `serde_json`'s, byte for byte, whatever it holds.
        #[test]
        fn api_is_written_as_serde_writes_it(
            status in proptest::sample::select(vec![
                ApiStatus::Documented, ApiStatus::Zombie, ApiStatus::Shadow, ApiStatus::Unmanaged,
            ]),
            reason in proptest::sample::select(vec![
                ApiReason::Operation, ApiReason::Deprecated, ApiReason::Retired,
                ApiReason::UndocumentedMethod, ApiReason::UndocumentedPath, ApiReason::NoSpec,
            ]),
            names in proptest::collection::vec(proptest::option::of("\\PC{0,10}"), 3),
            drift in proptest::collection::vec(drift(), 0..3),
            auth in proptest::collection::vec(auth(), 0..3),
            schemas in (any::<bool>(), any::<bool>()),
            bodies in (body_json(), body_json()),
            spliced in any::<bool>(),
        ) {
            let mut api = ApiRecord {
                status,
                reason,
                spec: names[0].as_deref().map(Into::into),
                operation_id: names[1].as_deref().map(Into::into),
                template: names[2].as_deref().map(Into::into),
                drift,
                auth: auth.into(),
                request_schema: schemas.0.then(|| schema(&bodies.0)).flatten().map(Box::new),
                response_schema: schemas.1.then(|| schema(&bodies.1)).flatten().map(Box::new),
                members_json: Default::default(),
            };
            if spliced {
                api.members_json = MembersJson(Some(api_members_json(&api).into()));
            }
            let mut ours = Vec::new();
            write_api(&api, &mut ours);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&api).unwrap());
        }
    }
}
