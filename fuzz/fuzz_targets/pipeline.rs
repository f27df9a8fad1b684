//! The whole pipeline in memory: a capture's packets (one link type, timestamps, captured
//! bytes, wire lengths) through decode, reassembly, HTTP, sessions and record encoding, as
//! `apitap replay` runs them, with small reassembly bounds and a fixed session secret (so runs
//! are reproducible). Seeds are packets of the fixture pcaps.
//!
//! Checks: no panic; every exported record is one line of valid JSON; the counters agree with
//! what was exported; nothing is left open after `finish`.
#![no_main]

use apitap::capture::PacketRef;
use apitap::config::Config;
use apitap::decode::LinkType;
use apitap::pipeline::Pipeline;
use apitap_exporters::{EventMeta, ExportError, ExportStats, Exporter};
use apitap_fuzz::{Dlt, Payload};
use apitap_sessionizer::session::{EndReason, Secret};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Packet {
    /// Microseconds since the previous packet.
    dt_us: u32,
    /// Wire length minus captured length.
    cut_bytes: u16,
    data: Payload,
}

#[derive(Arbitrary, Debug)]
struct Input {
    dlt: Dlt,
    packets: Vec<Packet>,
}

/// Checks each record and counts it.
#[derive(Default)]
struct Check {
    stats: ExportStats,
}

impl Exporter for Check {
    fn export(&mut self, meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError> {
        assert!(
            matches!(
                meta.kind,
                "http" | "session" | "alert" | "websocket" | "tls"
            ),
            "record kind {}",
            meta.kind
        );
        assert!(!json.contains(&b'\n'), "record spans lines");
        let v: serde_json::Value = serde_json::from_slice(json).expect("record is JSON");
        assert!(v.is_object(), "record is not an object");
        self.stats.records += 1;
        self.stats.bytes += json.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    fn stats(&self) -> &ExportStats {
        &self.stats
    }
}

fuzz_target!(|input: Input| {
    let Some(link) = LinkType::from_dlt(input.dlt.number()) else {
        return;
    };
    let mut cfg = Config::default();
    cfg.reassembly.max_flows = 8;
    cfg.reassembly.max_ooo_bytes_per_stream = 2048;
    cfg.reassembly.max_ooo_bytes_total = 4096;
    cfg.http.max_body_capture_bytes = 256;
    cfg.session.secret = Some(Secret::new(vec![0x5a; 32]));
    let mut p = Pipeline::new(&cfg, Box::new(Check::default())).expect("default config works");
    let mut ts_us: u64 = 1_700_000_000_000_000;
    let n = input.packets.len() as u64;
    for pkt in &input.packets {
        ts_us = ts_us.saturating_add(u64::from(pkt.dt_us));
        let data = &pkt.data.0;
        let wire_len = (data.len() as u32).saturating_add(u32::from(pkt.cut_bytes));
        p.on_packet(PacketRef {
            ts_us,
            link,
            data,
            wire_len,
        })
        .expect("export cannot fail");
    }
    p.finish(EndReason::EndOfInput).expect("export cannot fail");
    let s = p.stats();
    let (front, out) = (&s.front, &s.output);
    assert_eq!(front.decode.packets, n);
    let records = out.transactions
        + out.session_records
        + out.alerts
        + out.websocket_records
        + out.tls_records;
    assert_eq!(out.export.records, records);
    assert_eq!(front.active_flows, 0);
    assert_eq!(out.active_sessions, 0);
});
