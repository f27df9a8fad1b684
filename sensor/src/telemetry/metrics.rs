//! Counters and gauges in the Prometheus text format (version 0.0.4). Every name is listed in
//! `docs/metrics.md`; counters are `apitap_<what>_<unit>_total`, drop and error counters carry
//! bounded labels (`place`, `stage`, `reason`), never a raw message.

use std::fmt::Write;

use apitap_sessionizer::http::HttpAnomaly;

use crate::capture::live::KernelStats;
use crate::pipeline::PipelineStats;

/// Counters of one capture interface.
#[derive(Clone, Debug, Default)]
pub struct InterfaceCounters {
    /// The interface.
    pub interface: String,
    /// libpcap's counters.
    pub kernel: KernelStats,
}

/// Everything one scrape shows.
pub struct Snapshot<'a> {
    /// The pipeline's counters, merged over workers.
    pub stats: &'a PipelineStats,
    /// Per-interface capture counters (empty for replay).
    pub interfaces: &'a [InterfaceCounters],
    /// Packets dropped at full worker queues.
    pub queue_drops: u64,
    /// Worker threads.
    pub workers: usize,
    /// Seconds since start.
    pub uptime_s: f64,
}

/// One metric family being written.
struct Family<'o> {
    out: &'o mut String,
    name: &'static str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) -> &mut Self {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }
}

/// Label values: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family<'o>(out: &'o mut String, name: &'static str, kind: &str, help: &str) -> Family<'o> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out, name }
}

/// The whole exposition.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::with_capacity(8192);
    let o = &mut out;
    let p = s.stats;

    family(
        o,
        "apitap_uptime_seconds",
        "gauge",
        "Seconds since the sensor started.",
    )
    .sample(&[], format!("{:.3}", s.uptime_s));
    family(
        o,
        "apitap_workers",
        "gauge",
        "Reassembly/HTTP worker threads.",
    )
    .sample(&[], s.workers);

    // Capture.
    let mut f = family(
        o,
        "apitap_capture_received_packets_total",
        "counter",
        "Packets the kernel passed to the capture (libpcap ps_recv), per interface.",
    );
    for i in s.interfaces {
        f.sample(&[("interface", &i.interface)], i.kernel.received);
    }
    let mut f = family(
        o,
        "apitap_dropped_packets_total",
        "counter",
        "Packets lost before decoding, by place (interface, kernel, worker_queue) and reason.",
    );
    for i in s.interfaces {
        f.sample(
            &[
                ("place", "interface"),
                ("reason", "nic"),
                ("interface", &i.interface),
            ],
            i.kernel.if_dropped,
        );
        f.sample(
            &[
                ("place", "kernel"),
                ("reason", "ring_full"),
                ("interface", &i.interface),
            ],
            i.kernel.dropped,
        );
    }
    f.sample(
        &[("place", "worker_queue"), ("reason", "full")],
        s.queue_drops,
    );

    // Decode.
    let d = &p.decode;
    family(
        o,
        "apitap_packets_total",
        "counter",
        "Packets decoded by the workers.",
    )
    .sample(&[], d.packets);
    family(
        o,
        "apitap_wire_bytes_total",
        "counter",
        "Bytes on the wire of the packets decoded.",
    )
    .sample(&[], d.bytes);
    family(
        o,
        "apitap_tcp_segments_total",
        "counter",
        "Packets that carried a TCP segment.",
    )
    .sample(&[], d.tcp_segments);
    let mut f = family(
        o,
        "apitap_skipped_packets_total",
        "counter",
        "Packets without a TCP segment for reassembly, by reason.",
    );
    for (reason, v) in [
        ("not_ip", d.not_ip),
        ("udp", d.udp),
        ("other_ip_protocol", d.other_ip_protocol),
        ("ip_fragment", d.ip_fragments),
        ("truncated_header", d.truncated_headers),
        ("malformed_link", d.malformed_link),
        ("malformed_ip", d.malformed_ip),
        ("malformed_tcp", d.malformed_tcp),
    ] {
        f.sample(&[("stage", "decode"), ("reason", reason)], v);
    }

    // Reassembly.
    let r = &p.reassembly;
    family(
        o,
        "apitap_flows_active",
        "gauge",
        "TCP connections tracked now.",
    )
    .sample(&[], p.active_flows);
    family(
        o,
        "apitap_flows_opened_total",
        "counter",
        "TCP connections opened.",
    )
    .sample(&[], r.flows_opened);
    let mut f = family(
        o,
        "apitap_flows_closed_total",
        "counter",
        "TCP connections closed, by reason.",
    );
    let other = r
        .flows_closed
        .saturating_sub(r.flows_evicted + r.flows_idle_closed + r.flows_reused);
    for (reason, v) in [
        ("evicted", r.flows_evicted),
        ("idle", r.flows_idle_closed),
        ("reused", r.flows_reused),
        ("fin_rst_or_end", other),
    ] {
        f.sample(&[("reason", reason)], v);
    }
    family(
        o,
        "apitap_reassembly_payload_bytes_total",
        "counter",
        "TCP payload bytes given to reassembly.",
    )
    .sample(&[], r.payload_bytes);
    family(
        o,
        "apitap_reassembly_gaps_total",
        "counter",
        "Gaps declared in TCP streams (lost bytes).",
    )
    .sample(&[], r.gaps);
    family(
        o,
        "apitap_reassembly_gap_bytes_total",
        "counter",
        "Bytes lost in gaps.",
    )
    .sample(&[], r.gap_bytes);

    // HTTP.
    let h = &p.http;
    family(
        o,
        "apitap_http_transactions_total",
        "counter",
        "HTTP transactions exported.",
    )
    .sample(&[], p.transactions);
    family(
        o,
        "apitap_http_requests_total",
        "counter",
        "HTTP request heads parsed.",
    )
    .sample(&[], h.requests);
    family(
        o,
        "apitap_http_responses_total",
        "counter",
        "HTTP final response heads parsed.",
    )
    .sample(&[], h.responses);
    let mut f = family(
        o,
        "apitap_anomalies_total",
        "counter",
        "Anomalies by stage (tcp, http, session) and kind.",
    );
    for a in HttpAnomaly::ALL {
        f.sample(
            &[("stage", "http"), ("reason", a.name())],
            h.anomaly_count(a),
        );
    }
    for (reason, v) in [
        ("retransmission_mismatch", r.retransmission_mismatches),
        ("stream_buffer_limit", r.stream_buffer_limit_hits),
        ("global_buffer_limit", r.global_buffer_limit_hits),
        ("mid_stream_pickup", r.mid_stream_pickups),
        ("out_of_window", r.out_of_window_segments),
    ] {
        f.sample(&[("stage", "tcp"), ("reason", reason)], v);
    }
    let ss = &p.session;
    for (reason, v) in [
        ("body_decode_limit", ss.body_decode_limit),
        ("body_decode_failed", ss.body_decode_failed),
        ("json_parse_failed", ss.json_parse_failed),
        ("multipart_parts_limit", ss.multipart_parts_limit),
        ("jwt_signature_invalid", ss.jwt_verify_failed),
        ("forwarded_header_invalid", ss.client_ip_header_invalid),
    ] {
        f.sample(&[("stage", "session"), ("reason", reason)], v);
    }

    // Sessions.
    family(o, "apitap_sessions_active", "gauge", "Sessions open now.")
        .sample(&[], p.active_sessions);
    family(
        o,
        "apitap_sessions_started_total",
        "counter",
        "Sessions (and later parts) started.",
    )
    .sample(&[], ss.sessions_started + ss.parts_started);
    let mut f = family(
        o,
        "apitap_sessions_ended_total",
        "counter",
        "Session parts ended, by reason.",
    );
    for (reason, v) in [
        ("idle", ss.ended_idle),
        ("max_duration", ss.ended_max_duration),
        ("evicted", ss.ended_evicted),
        ("end_of_input", ss.ended_end_of_input),
        ("shutdown", ss.ended_shutdown),
    ] {
        f.sample(&[("reason", reason)], v);
    }

    // Records and export.
    let mut f = family(
        o,
        "apitap_records_total",
        "counter",
        "Records produced, by type.",
    );
    f.sample(&[("type", "http")], p.transactions);
    f.sample(&[("type", "session")], p.session_records);
    let e = &p.export;
    family(
        o,
        "apitap_export_queued_records_total",
        "counter",
        "Records accepted by the exporter (written or queued for the broker).",
    )
    .sample(&[], e.records);
    family(
        o,
        "apitap_export_delivered_records_total",
        "counter",
        "Records the destination confirmed.",
    )
    .sample(&[], e.delivered);
    family(
        o,
        "apitap_export_failed_records_total",
        "counter",
        "Records that did not arrive, whatever the reason.",
    )
    .sample(&[], e.failed);
    let mut f = family(
        o,
        "apitap_export_lost_records_total",
        "counter",
        "Records lost by the exporter, by place (dropped before queueing, failed delivery) and reason.",
    );
    for (reason, v) in &e.dropped {
        f.sample(&[("place", "dropped"), ("reason", reason)], v);
    }
    for (reason, v) in &e.delivery_failed {
        f.sample(&[("place", "delivery"), ("reason", reason)], v);
    }
    f.sample(
        &[("place", "shutdown"), ("reason", "undelivered")],
        e.undelivered_at_shutdown,
    );
    family(
        o,
        "apitap_export_in_flight_records",
        "gauge",
        "Records queued whose delivery is not settled yet.",
    )
    .sample(&[], e.in_flight());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_has_help_and_type_and_labels_are_escaped() {
        let mut stats = PipelineStats::default();
        stats.decode.packets = 7;
        let ifs = [InterfaceCounters {
            interface: "eth\"1".into(),
            kernel: KernelStats {
                received: 9,
                dropped: 1,
                if_dropped: 0,
            },
        }];
        let text = render(&Snapshot {
            stats: &stats,
            interfaces: &ifs,
            queue_drops: 2,
            workers: 3,
            uptime_s: 1.0,
        });
        assert!(text.contains("apitap_packets_total 7\n"), "{text}");
        assert!(text.contains(
            "apitap_dropped_packets_total{place=\"kernel\",reason=\"ring_full\",interface=\"eth\\\"1\"} 1\n"
        ));
        assert!(text
            .contains("apitap_dropped_packets_total{place=\"worker_queue\",reason=\"full\"} 2\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
            assert!(name.starts_with("apitap_"), "{name}");
        }
    }
}
