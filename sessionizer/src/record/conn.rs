//! The `websocket` and `tls` records: one per connection that spoke WebSocket or TLS, written
//! when it ended.

use std::net::SocketAddr;

use crate::http::finished::{ConnKind, ConnRecord, Decryption, TlsConn, WebSocketConn};
use crate::session::body::BodyKind;
use crate::session::HashId;
use crate::tls::decrypt::DecryptCounts;
use crate::tunnel::TunnelInfo;
use crate::websocket::DirectionSummary;

use super::body::{cut_at_char, redact_body};
use super::http::{side_str, write_tunnel};
use super::json::{
    key, write_hex_str, write_ip, write_opt_bool, write_opt_str, write_str, write_str_known,
    write_ts_micros, write_u64, Arr, Obj,
};
use super::{Redactor, SCHEMA_VERSION};

/// A connection's record, ready to write.
pub struct ConnRecordJson<'a> {
    /// The connection.
    pub rec: &'a ConnRecord,
    /// Redaction rules (text samples) and the body-capture setting.
    pub redactor: &'a Redactor,
    /// The outermost tunnel the connection's packets came through.
    pub tunnel: Option<&'a TunnelInfo>,
    /// Its session: a WebSocket connection's upgrade's, a TLS connection's client-IP
    /// fallback session when one was open.
    pub session_id: Option<HashId>,
    /// The sensor that saw it (`export.sensor_id`); `null` when unset.
    pub sensor_id: Option<&'a str>,
}

impl ConnRecordJson<'_> {
    /// The record type: `"websocket"` or `"tls"`.
    pub fn kind(&self) -> &'static str {
        match self.rec.kind {
            ConnKind::WebSocket(_) => "websocket",
            ConnKind::Tls(_) => "tls",
        }
    }

    /// Append this record as one line of JSON (no newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let r = self.rec;
        let mut o = Obj::open(out);
        write_str_known(o.key(key!("type")), self.kind(), true);
        write_u64(o.key(key!("schema_version")), u64::from(SCHEMA_VERSION));
        write_opt_str(o.key(key!("sensor_id")), self.sensor_id);
        write_ts_micros(o.key(key!("ts")), r.ts_us);
        write_ts_micros(o.key(key!("end_ts")), r.end_ts_us);
        write_u64(o.key(key!("conn_id")), r.conn.0);
        write_flow(r.client, r.server, o.key(key!("flow")));
        let sid = o.key(key!("session_id"));
        match self.session_id {
            Some(id) => write_hex_str(sid, &id.0),
            None => sid.extend_from_slice(b"null"),
        }
        match &r.kind {
            ConnKind::WebSocket(ws) => self.write_websocket(ws, &mut o),
            ConnKind::Tls(tls) => write_tls(tls, r, &mut o),
        }
        if let Some(t) = self.tunnel {
            write_tunnel(t, o.key(key!("tunnel")));
        }
        if let Some(a) = &r.connect_authority {
            write_str(o.key(key!("connect_authority")), a);
        }
        o.close();
    }

    fn write_websocket(&self, ws: &WebSocketConn, o: &mut Obj<'_>) {
        let r = self.rec;
        let id = o.key(key!("transaction_id"));
        id.push(b'"');
        write_u64(id, r.conn.0);
        id.push(b'-');
        write_u64(id, u64::from(ws.upgrade_depth));
        id.push(b'"');
        let s = &ws.summary;
        write_direction(&s.client, o.key(key!("client")));
        write_direction(&s.server, o.key(key!("server")));
        let mut ops = Arr::open(o.key(key!("opcodes")));
        for op in s.opcodes.iter() {
            write_str_known(ops.item(), op.name(), true);
        }
        ops.close();
        let close = o.key(key!("close"));
        match &s.close {
            None => close.extend_from_slice(b"null"),
            Some(c) => {
                let mut co = Obj::open(close);
                write_str_known(co.key(key!("initiator")), side_str(c.initiator), true);
                let code = co.key(key!("code"));
                match c.code {
                    Some(n) => write_u64(code, u64::from(n)),
                    None => code.extend_from_slice(b"null"),
                }
                write_str(co.key(key!("reason")), &c.reason);
                write_opt_bool(co.key(key!("acknowledged")), Some(c.acknowledged));
                write_ts_micros(co.key(key!("ts")), c.ts_us);
                co.close();
            }
        }
        write_opt_ts(o.key(key!("first_ts")), s.first_ts_us);
        write_opt_ts(o.key(key!("last_ts")), s.last_ts_us);
        let mut a = Arr::open(o.key(key!("anomalies")));
        for name in s.anomalies.iter().map(|x| x.name()) {
            write_str_known(a.item(), name, true);
        }
        for name in r.tcp_anomalies.iter().map(|x| x.name()) {
            write_str_known(a.item(), name, true);
        }
        a.close();
        self.write_samples(ws, o);
    }

    /// Text samples, when body capture is on: each cut at `body_capture_bytes` and redacted
    /// as a body would be (secret JSON members and form fields, JWTs).
    fn write_samples(&self, ws: &WebSocketConn, o: &mut Obj<'_>) {
        let (max, _) = self.redactor.body_capture();
        if max == 0 || ws.summary.samples.is_empty() {
            return;
        }
        let mut list = Arr::open(o.key(key!("samples")));
        for sample in &ws.summary.samples {
            let text = redact_body(self.redactor, &BodyKind::Other, &sample.text);
            let cut = cut_at_char(&text, max);
            let mut so = Obj::open(list.item());
            write_str_known(so.key(key!("from")), side_str(sample.from), true);
            write_ts_micros(so.key(key!("ts")), sample.ts_us);
            write_str(so.key(key!("text")), cut);
            let truncated = sample.truncated || cut.len() < text.len();
            write_opt_bool(so.key(key!("truncated")), Some(truncated));
            so.close();
        }
        list.close();
    }
}

/// `flow`: client → server.
fn write_flow(client: SocketAddr, server: SocketAddr, out: &mut Vec<u8>) {
    let mut flow = Obj::open(out);
    write_ip(flow.key(key!("src_ip")), client.ip());
    write_u64(flow.key(key!("src_port")), u64::from(client.port()));
    write_ip(flow.key(key!("dst_ip")), server.ip());
    write_u64(flow.key(key!("dst_port")), u64::from(server.port()));
    flow.close();
}

fn write_opt_ts(out: &mut Vec<u8>, ts_us: Option<u64>) {
    match ts_us {
        Some(t) => write_ts_micros(out, t),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_direction(d: &DirectionSummary, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    for (name, v) in [
        (key!("messages"), d.messages),
        (key!("text_messages"), d.text_messages),
        (key!("binary_messages"), d.binary_messages),
        (key!("compressed_messages"), d.compressed_messages),
        (key!("message_bytes"), d.message_bytes),
        (key!("frames"), d.frames),
        (key!("pings"), d.pings),
        (key!("pongs"), d.pongs),
        (key!("lost_bytes"), d.lost_bytes),
        (key!("unparsed_bytes"), d.unparsed_bytes),
    ] {
        write_u64(o.key(name), v);
    }
    o.close();
}

/// The TLS fields: the client address, the handshake, the bytes, what decryption gave.
fn write_tls(t: &TlsConn, r: &ConnRecord, o: &mut Obj<'_>) {
    let s = &t.summary;
    write_ip(o.key(key!("client_ip")), r.client.ip());
    write_opt_str(o.key(key!("version")), s.version.as_deref());
    write_opt_str(o.key(key!("sni")), s.sni.as_deref());
    let mut alpn = Arr::open(o.key(key!("alpn")));
    for p in &s.alpn {
        write_str(alpn.item(), p);
    }
    alpn.close();
    write_opt_str(o.key(key!("alpn_selected")), s.alpn_selected.as_deref());
    write_opt_str(o.key(key!("cipher")), s.cipher.as_deref());
    write_opt_str(o.key(key!("ja4")), s.ja4.as_deref());
    write_opt_str(o.key(key!("ja3")), s.ja3.as_deref());
    write_opt_str(o.key(key!("ja3_hash")), s.ja3_hash.as_deref());
    write_opt_bool(
        o.key(key!("hello_retry_request")),
        Some(s.hello_retry_request),
    );
    let alert = o.key(key!("alert"));
    match &s.alert {
        None => alert.extend_from_slice(b"null"),
        Some(a) => {
            let mut ao = Obj::open(alert);
            write_str_known(ao.key(key!("from")), side_str(a.from), true);
            write_u64(ao.key(key!("level")), u64::from(a.level));
            write_u64(ao.key(key!("description")), u64::from(a.description));
            ao.close();
        }
    }
    write_u64(o.key(key!("client_bytes")), s.client_bytes);
    write_u64(o.key(key!("server_bytes")), s.server_bytes);
    write_opt_bool(o.key(key!("joined_late")), Some(t.joined_late));
    let mut a = Arr::open(o.key(key!("anomalies")));
    for name in s.anomalies.iter().map(|x| x.name()) {
        write_str_known(a.item(), name, true);
    }
    let stopped = t
        .decryption
        .iter()
        .flat_map(|d| [d.client.stopped, d.server.stopped]);
    let mut seen = Vec::new();
    for why in stopped.flatten() {
        if !seen.contains(&why) {
            seen.push(why);
            write_str_known(a.item(), why.name(), true);
        }
    }
    for name in r.tcp_anomalies.iter().map(|x| x.name()) {
        write_str_known(a.item(), name, true);
    }
    a.close();
    if let Some(d) = &t.decryption {
        write_decryption(d, o.key(key!("decryption")));
    }
}

fn write_decryption(d: &Decryption, out: &mut Vec<u8>) {
    let side = |c: &DecryptCounts, out: &mut Vec<u8>| {
        let mut o = Obj::open(out);
        write_u64(o.key(key!("records")), c.records);
        write_u64(o.key(key!("plaintext_bytes")), c.plaintext_bytes);
        write_opt_str(o.key(key!("stopped")), c.stopped.map(|s| s.name()));
        o.close();
    };
    let mut o = Obj::open(out);
    side(&d.client, o.key(key!("client")));
    side(&d.server, o.key(key!("server")));
    o.close();
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
