//! The `websocket` and `tls` records, parsed back.

use apitap_reassembly::{ConnId, Side, TcpAnomaly};
use serde_json::Value;

use super::*;
use crate::http::finished::TlsConn;
use crate::session::config::BodyConfig;
use crate::tls::decrypt::DecryptAnomaly;
use crate::tls::{TlsAnomaly, TlsSummary};
use crate::websocket::{CloseInfo, Opcode, TextSample, WebSocketSummary, WsAnomaly};

fn record(kind: ConnKind) -> ConnRecord {
    ConnRecord {
        conn: ConnId(9),
        zone: 0,
        client: "10.0.0.1:40000".parse().unwrap(),
        server: "10.0.0.2:443".parse().unwrap(),
        ts_us: 1_700_000_000_000_000,
        end_ts_us: 1_700_000_001_000_000,
        connect_authority: None,
        tcp_anomalies: vec![TcpAnomaly::MidStreamPickup],
        kind,
    }
}

fn written(rec: &ConnRecord, redactor: &Redactor, session_id: Option<HashId>) -> Value {
    let mut out = Vec::new();
    ConnRecordJson {
        rec,
        redactor,
        tunnel: None,
        session_id,
        sensor_id: Some("tap-1"),
    }
    .write_json(&mut out);
    let v: Value = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
    assert_eq!(v["sensor_id"], "tap-1", "every record names its sensor");
    v
}

fn websocket() -> ConnRecord {
    let mut summary = WebSocketSummary::default();
    summary.client.messages = 3;
    summary.client.text_messages = 3;
    summary.client.message_bytes = 42;
    summary.server.messages = 2;
    summary.opcodes.insert(Opcode::Text);
    summary.opcodes.insert(Opcode::Close);
    summary.close = Some(CloseInfo {
        initiator: Side::Client,
        code: Some(1000),
        reason: "done".into(),
        acknowledged: true,
        ts_us: 1_700_000_000_500_000,
    });
    summary.first_ts_us = Some(1_700_000_000_100_000);
    summary.anomalies.insert(WsAnomaly::WsGap);
    summary.samples.push(TextSample {
        from: Side::Client,
        ts_us: 1_700_000_000_200_000,
        text: r#"{"op":"login","password":"hunter2","note":"a long note"}"#.into(),
        truncated: false,
    });
    record(ConnKind::WebSocket(Box::new(WebSocketConn {
        upgrade_depth: 3,
        summary,
    })))
}

#[test]
fn websocket_record_fields() {
    let v = written(
        &websocket(),
        &Redactor::default_rules(),
        Some(HashId([0xcd; 16])),
    );
    assert_eq!(v["type"], "websocket");
    assert_eq!(v["conn_id"], 9);
    assert_eq!(v["transaction_id"], "9-3");
    assert_eq!(v["session_id"], "cd".repeat(16));
    assert_eq!(v["flow"]["dst_port"], 443);
    assert_eq!(v["client"]["messages"], 3);
    assert_eq!(v["client"]["message_bytes"], 42);
    assert_eq!(v["server"]["messages"], 2);
    assert_eq!(v["opcodes"], serde_json::json!(["text", "close"]));
    assert_eq!(v["close"]["code"], 1000);
    assert_eq!(v["close"]["initiator"], "client");
    assert_eq!(v["first_ts"], "2023-11-14T22:13:20.100000Z");
    assert!(v["last_ts"].is_null());
    assert_eq!(
        v["anomalies"],
        serde_json::json!(["ws_gap", "mid_stream_pickup"])
    );
    assert!(v.get("samples").is_none(), "body capture off: no samples");
}

/// Samples go through the body-capture setting: cut at its size, secret members redacted.
#[test]
fn websocket_samples_follow_body_capture_and_redaction() {
    let red = Redactor::default_rules().with_body_capture(40, &BodyConfig::default());
    let v = written(&websocket(), &red, None);
    let sample = &v["samples"][0];
    let text = sample["text"].as_str().unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.len() <= 40, "{text}");
    assert_eq!(sample["truncated"], true);
    assert_eq!(sample["from"], "client");
    assert!(v["session_id"].is_null());
}

#[test]
fn tls_record_fields() {
    let mut summary = TlsSummary {
        version: Some("TLS 1.3".into()),
        sni: Some("api.example.test".into()),
        alpn: vec!["h2".into(), "http/1.1".into()],
        cipher: Some("TLS_AES_256_GCM_SHA384".into()),
        ja4: Some("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6".into()),
        ja3: Some("771,4866".into()),
        ja3_hash: Some("0149f47eabf9a20d0893e2a44e5a6323".into()),
        client_bytes: 517,
        server_bytes: 4096,
        ..TlsSummary::default()
    };
    summary.anomalies.insert(TlsAnomaly::TlsIncompleteHandshake);
    let mut decryption = Decryption::default();
    decryption.client.records = 4;
    decryption.server.stopped = Some(DecryptAnomaly::TlsKeyMissing);
    let mut rec = record(ConnKind::Tls(Box::new(TlsConn {
        summary,
        joined_late: false,
        decryption: Some(decryption),
    })));
    rec.connect_authority = Some("api.example.test:443".into());
    let v = written(&rec, &Redactor::default_rules(), None);
    assert_eq!(v["type"], "tls");
    assert_eq!(v["client_ip"], "10.0.0.1");
    assert_eq!(v["version"], "TLS 1.3");
    assert_eq!(v["sni"], "api.example.test");
    assert_eq!(v["alpn"], serde_json::json!(["h2", "http/1.1"]));
    assert!(v["alpn_selected"].is_null());
    assert_eq!(v["ja4"], "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");
    assert_eq!(v["ja3_hash"], "0149f47eabf9a20d0893e2a44e5a6323");
    assert_eq!(v["client_bytes"], 517);
    assert_eq!(v["joined_late"], false);
    assert_eq!(
        v["anomalies"],
        serde_json::json!([
            "tls_incomplete_handshake",
            "tls_key_missing",
            "mid_stream_pickup"
        ])
    );
    assert_eq!(v["decryption"]["client"]["records"], 4);
    assert_eq!(v["decryption"]["server"]["stopped"], "tls_key_missing");
    assert_eq!(v["connect_authority"], "api.example.test:443");
}
