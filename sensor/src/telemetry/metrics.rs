//! Counters and gauges for `/metrics`, through `prometheus-client`: one [`Collector`] reads a
//! [`Snapshot`] of the pipeline's counters at each scrape and encodes it in the Prometheus text
//! format (version 0.0.4). Every name is listed in `docs/metrics.md`; counters are
//! `apitap_<what>_<unit>_total`, drop and error counters carry bounded labels (`place`,
//! `stage`, `reason`), never a raw message.

use std::fmt;

use apitap_sessionizer::http::HttpAnomaly;
use apitap_sessionizer::http2::H2Anomaly;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::capture::live::KernelStats;
use crate::pipeline::PipelineStats;

/// Counters of one capture interface (or mirror socket).
#[derive(Clone, Debug, Default)]
pub struct InterfaceCounters {
    /// The interface.
    pub interface: String,
    /// libpcap's counters.
    pub kernel: KernelStats,
}

/// Everything one scrape shows.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The pipeline's counters, merged over workers.
    pub stats: PipelineStats,
    /// Per-interface capture counters.
    pub interfaces: Vec<InterfaceCounters>,
    /// Packets dropped at full worker queues.
    pub queue_drops: u64,
    /// Worker threads.
    pub workers: usize,
    /// Seconds since start.
    pub uptime_s: f64,
}

/// Where a scrape gets its [`Snapshot`]: called once per scrape.
pub type Source = Box<dyn Fn() -> Snapshot + Send + Sync>;

/// Labels of one sample, in the order they are printed.
type Labels<'a> = [(&'a str, &'a str)];

/// The collector behind the registry: the whole exposition from one snapshot.
struct SensorCollector {
    source: Source,
}

impl fmt::Debug for SensorCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensorCollector").finish_non_exhaustive()
    }
}

/// The registry of a sensor: every apitap metric, read from `source` at each scrape.
pub fn registry(source: Source) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(SensorCollector { source }));
    r
}

/// The exposition of `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(8192);
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A counter family: `name` as documented (ending in `_total`, which the encoder adds back),
/// one sample per label set.
fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(&Labels<'_>, u64)],
) -> fmt::Result {
    let base = name.strip_suffix("_total").unwrap_or(name);
    let mut family = enc.encode_descriptor(base, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        if labels.is_empty() {
            ConstCounter::new(*v).encode(family.encode_family(&[] as &[(&str, &str); 0])?)?;
        } else {
            ConstCounter::new(*v).encode(family.encode_family(labels)?)?;
        }
    }
    Ok(())
}

/// A counter without labels.
fn counter1(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    counter(enc, name, help, &[(&[], v)])
}

/// A gauge without labels.
fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: N,
) -> fmt::Result {
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for SensorCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = (self.source)();
        gauge(
            &mut enc,
            "apitap_uptime_seconds",
            "Seconds since the sensor started.",
            s.uptime_s,
        )?;
        gauge(
            &mut enc,
            "apitap_workers",
            "Reassembly/HTTP worker threads.",
            s.workers as u64,
        )?;
        encode_capture(&mut enc, &s)?;
        encode_decode(&mut enc, &s.stats)?;
        encode_reassembly(&mut enc, &s.stats)?;
        encode_http(&mut enc, &s.stats)?;
        encode_protocols(&mut enc, &s.stats)?;
        encode_sessions(&mut enc, &s.stats)?;
        encode_export(&mut enc, &s.stats)
    }
}

/// Capture: what each interface received and where packets were lost before decoding.
fn encode_capture(enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let received: Vec<([(&str, &str); 1], u64)> = s
        .interfaces
        .iter()
        .map(|i| ([("interface", i.interface.as_str())], i.kernel.received))
        .collect();
    let samples: Vec<(&Labels<'_>, u64)> = received.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_capture_received_packets_total",
        "Packets the kernel passed to the capture (libpcap ps_recv), per interface.",
        &samples,
    )?;
    let mut drops: Vec<([(&str, &str); 3], u64)> = Vec::new();
    for i in &s.interfaces {
        let name = i.interface.as_str();
        drops.push((
            [
                ("place", "interface"),
                ("reason", "nic"),
                ("interface", name),
            ],
            i.kernel.if_dropped,
        ));
        drops.push((
            [
                ("place", "kernel"),
                ("reason", "ring_full"),
                ("interface", name),
            ],
            i.kernel.dropped,
        ));
    }
    let queue: &Labels<'_> = &[("place", "worker_queue"), ("reason", "full")];
    let mut samples: Vec<(&Labels<'_>, u64)> = drops.iter().map(|(l, v)| (&l[..], *v)).collect();
    samples.push((queue, s.queue_drops));
    counter(
        enc,
        "apitap_dropped_packets_total",
        "Packets lost before decoding, by place (interface, kernel, worker_queue) and reason.",
        &samples,
    )
}

/// Decode: packets, bytes, and those without a TCP segment, by reason.
fn encode_decode(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let d = &p.front.decode;
    counter1(
        enc,
        "apitap_packets_total",
        "Packets decoded by the workers.",
        d.packets,
    )?;
    counter1(
        enc,
        "apitap_wire_bytes_total",
        "Bytes on the wire of the packets decoded.",
        d.bytes,
    )?;
    counter1(
        enc,
        "apitap_tcp_segments_total",
        "Packets that carried a TCP segment.",
        d.tcp_segments,
    )?;
    let reasons = [
        ("not_ip", d.not_ip),
        ("udp", d.udp),
        ("other_ip_protocol", d.other_ip_protocol),
        ("ip_fragment", d.ip_fragments),
        ("truncated_header", d.truncated_headers),
        ("malformed_link", d.malformed_link),
        ("malformed_ip", d.malformed_ip),
        ("malformed_tcp", d.malformed_tcp),
    ];
    let labels: Vec<([(&str, &str); 2], u64)> = reasons
        .iter()
        .map(|(r, v)| ([("stage", "decode"), ("reason", *r)], *v))
        .collect();
    let samples: Vec<(&Labels<'_>, u64)> = labels.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_skipped_packets_total",
        "Packets without a TCP segment for reassembly, by reason.",
        &samples,
    )
}

/// Reassembly: flows and gaps.
fn encode_reassembly(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let r = &p.front.reassembly;
    gauge(
        enc,
        "apitap_flows_active",
        "TCP connections tracked now.",
        p.front.active_flows as u64,
    )?;
    counter1(
        enc,
        "apitap_flows_opened_total",
        "TCP connections opened.",
        r.flows_opened,
    )?;
    let other = r
        .flows_closed
        .saturating_sub(r.flows_evicted + r.flows_idle_closed + r.flows_reused);
    counter(
        enc,
        "apitap_flows_closed_total",
        "TCP connections closed, by reason.",
        &[
            (&[("reason", "evicted")], r.flows_evicted),
            (&[("reason", "idle")], r.flows_idle_closed),
            (&[("reason", "reused")], r.flows_reused),
            (&[("reason", "fin_rst_or_end")], other),
        ],
    )?;
    counter1(
        enc,
        "apitap_reassembly_payload_bytes_total",
        "TCP payload bytes given to reassembly.",
        r.payload_bytes,
    )?;
    counter1(
        enc,
        "apitap_reassembly_gaps_total",
        "Gaps declared in TCP streams (lost bytes).",
        r.gaps,
    )?;
    counter1(
        enc,
        "apitap_reassembly_gap_bytes_total",
        "Bytes lost in gaps.",
        r.gap_bytes,
    )
}

/// HTTP: transactions and heads, and the anomalies of every stage.
fn encode_http(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let (h, r, ss) = (&p.front.http, &p.front.reassembly, &p.output.session);
    counter1(
        enc,
        "apitap_http_transactions_total",
        "HTTP transactions exported.",
        p.output.transactions,
    )?;
    counter1(
        enc,
        "apitap_http_requests_total",
        "HTTP request heads parsed.",
        h.requests,
    )?;
    counter1(
        enc,
        "apitap_http_memory_evictions_total",
        "HTTP connections that gave up what they held at http.max_held_bytes_total (the memory budget's HTTP share).",
        h.memory_evictions,
    )?;
    counter1(
        enc,
        "apitap_http_memory_evicted_bytes_total",
        "Bytes those HTTP connections gave up.",
        h.memory_evicted_bytes,
    )?;
    gauge(
        enc,
        "apitap_http_held_bytes_peak",
        "Most bytes the HTTP stage held at once (summed over workers).",
        h.held_bytes_peak,
    )?;
    counter1(
        enc,
        "apitap_http_responses_total",
        "HTTP final response heads parsed.",
        h.responses,
    )?;
    let mut anomalies: Vec<([(&str, &str); 2], u64)> = HttpAnomaly::ALL
        .iter()
        .map(|a| {
            (
                [("stage", "http"), ("reason", a.name())],
                h.anomaly_count(*a),
            )
        })
        .collect();
    for a in H2Anomaly::ALL {
        let v = p.front.http2.anomaly_count(a);
        anomalies.push(([("stage", "http2"), ("reason", a.name())], v));
    }
    for (reason, v) in [
        ("retransmission_mismatch", r.retransmission_mismatches),
        ("stream_buffer_limit", r.stream_buffer_limit_hits),
        ("global_buffer_limit", r.global_buffer_limit_hits),
        ("mid_stream_pickup", r.mid_stream_pickups),
        ("out_of_window", r.out_of_window_segments),
        ("ttl_changed", p.front.insertion.ttl_changes),
        ("bad_checksum", p.front.insertion.bad_checksum_segments),
        ("retained_limit", p.front.insertion.retained_limit_hits),
        (
            "global_retained_limit",
            p.front.insertion.global_retained_limit_hits,
        ),
    ] {
        anomalies.push(([("stage", "tcp"), ("reason", reason)], v));
    }
    for (reason, v) in [
        ("body_decode_limit", ss.body_decode_limit),
        ("body_decode_failed", ss.body_decode_failed),
        ("json_parse_failed", ss.json_parse_failed),
        ("multipart_parts_limit", ss.multipart_parts_limit),
        ("jwt_signature_invalid", ss.jwt_verify_failed),
        ("forwarded_header_invalid", ss.client_ip_header_invalid),
    ] {
        anomalies.push(([("stage", "session"), ("reason", reason)], v));
    }
    let samples: Vec<(&Labels<'_>, u64)> = anomalies.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_anomalies_total",
        "Anomalies by stage (tcp, http, http2, session) and kind.",
        &samples,
    )
}

/// The protocols besides HTTP/1: connections handed to each parser, HTTP/2 streams, gRPC
/// calls and WebSocket messages.
fn encode_protocols(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let h = &p.front.http;
    counter(
        enc,
        "apitap_protocol_connections_total",
        "Connections (and CONNECT tunnels) by what they speak besides HTTP/1.",
        &[
            (&[("protocol", "http2")], h.http2_connections),
            (&[("protocol", "websocket")], h.websocket_connections),
            (&[("protocol", "tls")], h.tls_connections),
            (
                &[("protocol", "not_http")],
                h.not_http_connections + h.opaque_tunnels,
            ),
        ],
    )?;
    counter1(
        enc,
        "apitap_http2_streams_total",
        "HTTP/2 streams reported as transactions.",
        p.front.http2.exchanges,
    )?;
    counter1(
        enc,
        "apitap_grpc_calls_total",
        "gRPC calls among the HTTP/2 streams.",
        p.front.http2.grpc_calls,
    )?;
    counter1(
        enc,
        "apitap_websocket_messages_total",
        "WebSocket messages, both directions, of the connections that ended.",
        h.websocket_messages,
    )
}

/// Sessions and records.
fn encode_sessions(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let ss = &p.output.session;
    gauge(
        enc,
        "apitap_sessions_active",
        "Sessions open now.",
        p.output.active_sessions as u64,
    )?;
    counter1(
        enc,
        "apitap_sessions_started_total",
        "Sessions (and later parts) started.",
        ss.sessions_started + ss.parts_started,
    )?;
    counter(
        enc,
        "apitap_sessions_ended_total",
        "Session parts ended, by reason.",
        &[
            (&[("reason", "idle")], ss.ended_idle),
            (&[("reason", "max_duration")], ss.ended_max_duration),
            (&[("reason", "evicted")], ss.ended_evicted),
            (&[("reason", "end_of_input")], ss.ended_end_of_input),
            (&[("reason", "shutdown")], ss.ended_shutdown),
        ],
    )?;
    let b = &p.output.behaviours;
    gauge(
        enc,
        "apitap_behaviours_held_bytes",
        "Bytes the behaviours' tables hold (their share of the memory budget: behaviours.max_held_bytes).",
        b.held_bytes as u64,
    )?;
    counter1(
        enc,
        "apitap_behaviours_memory_evictions_total",
        "Entities the behaviours forgot at behaviours.max_held_bytes.",
        b.memory_evictions,
    )?;
    counter(
        enc,
        "apitap_records_total",
        "Records produced, by type.",
        &[
            (&[("type", "http")], p.output.transactions),
            (&[("type", "session")], p.output.session_records),
            (&[("type", "alert")], p.output.alerts),
            (&[("type", "websocket")], p.output.websocket_records),
            (&[("type", "tls")], p.output.tls_records),
        ],
    )?;
    let mut by_class: Vec<([(&str, &str); 1], u64)> = Vec::new();
    for c in apitap_detect::Class::ALL {
        by_class.push((
            [("class", c.name())],
            p.output.attacks.get(c.name()).copied().unwrap_or(0),
        ));
    }
    let samples: Vec<(&Labels<'_>, u64)> = by_class.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_attacks_total",
        "Transactions carrying attacks, by class (a transaction counts once per class).",
        &samples,
    )?;
    let outcomes = ["blocked", "rejected", "error", "served", "no_response"];
    let by_outcome: Vec<([(&str, &str); 1], u64)> = outcomes
        .iter()
        .map(|o| {
            (
                [("outcome", *o)],
                p.output.attack_outcomes.get(*o).copied().unwrap_or(0),
            )
        })
        .collect();
    let samples: Vec<(&Labels<'_>, u64)> = by_outcome.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_attack_outcomes_total",
        "Transactions carrying attacks, by what their response said.",
        &samples,
    )?;
    let statuses = ["documented", "shadow", "zombie", "unmanaged"];
    let by_status: Vec<([(&str, &str); 1], u64)> = statuses
        .iter()
        .map(|s| {
            (
                [("status", *s)],
                p.output.api_calls.get(*s).copied().unwrap_or(0),
            )
        })
        .collect();
    let samples: Vec<(&Labels<'_>, u64)> = by_status.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_api_calls_total",
        "Transactions by API status against the loaded specs (API classification on).",
        &samples,
    )
}

/// Export: accepted, delivered, lost by cause, in flight.
fn encode_export(enc: &mut DescriptorEncoder, p: &PipelineStats) -> fmt::Result {
    let e = &p.output.export;
    counter1(
        enc,
        "apitap_export_queued_records_total",
        "Records accepted by the exporter (written or queued for the broker).",
        e.records,
    )?;
    counter1(
        enc,
        "apitap_export_delivered_records_total",
        "Records the destination confirmed.",
        e.delivered,
    )?;
    counter1(
        enc,
        "apitap_export_failed_records_total",
        "Records that did not arrive, whatever the reason.",
        e.failed,
    )?;
    let mut lost: Vec<([(&str, &str); 2], u64)> = Vec::new();
    for (reason, v) in &e.dropped {
        lost.push(([("place", "dropped"), ("reason", reason.as_str())], *v));
    }
    for (reason, v) in &e.delivery_failed {
        lost.push(([("place", "delivery"), ("reason", reason.as_str())], *v));
    }
    lost.push((
        [("place", "shutdown"), ("reason", "undelivered")],
        e.undelivered_at_shutdown,
    ));
    let samples: Vec<(&Labels<'_>, u64)> = lost.iter().map(|(l, v)| (&l[..], *v)).collect();
    counter(
        enc,
        "apitap_export_lost_records_total",
        "Records lost by the exporter, by place (dropped before queueing, failed delivery) and reason.",
        &samples,
    )?;
    gauge(
        enc,
        "apitap_export_in_flight_records",
        "Records queued whose delivery is not settled yet.",
        e.in_flight(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(s: Snapshot) -> String {
        render(&registry(Box::new(move || s.clone()))).unwrap()
    }

    #[test]
    fn every_sample_has_help_and_type_and_labels_are_escaped() {
        let mut stats = PipelineStats::default();
        stats.front.decode.packets = 7;
        let text = scrape(Snapshot {
            stats,
            interfaces: vec![InterfaceCounters {
                interface: "eth\"1".into(),
                kernel: KernelStats {
                    received: 9,
                    dropped: 1,
                    if_dropped: 0,
                },
            }],
            queue_drops: 2,
            workers: 3,
            uptime_s: 1.0,
        });
        assert!(text.contains("apitap_packets_total 7\n"), "{text}");
        assert!(text.contains("apitap_workers 3\n"), "{text}");
        assert!(text.contains(
            "apitap_dropped_packets_total{place=\"kernel\",reason=\"ring_full\",interface=\"eth\\\"1\"} 1\n"
        ), "{text}");
        assert!(text
            .contains("apitap_dropped_packets_total{place=\"worker_queue\",reason=\"full\"} 2\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
            assert!(name.starts_with("apitap_"), "{name}");
        }
    }

    /// The names docs/metrics.md lists are the names served, and no other.
    #[test]
    fn the_documented_names_are_the_served_names() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md"),
        )
        .unwrap();
        let mut documented: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `apitap_")?.split('`').next())
            .collect();
        documented.sort_unstable();
        let text = scrape(Snapshot::default());
        let mut served: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE apitap_")?.split(' ').next())
            .collect();
        served.sort_unstable();
        assert_eq!(served, documented);
    }
}
