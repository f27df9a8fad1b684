//! Counters of the HTTP/2 stage. Monotonic; the sensor reads them per batch and exports them
//! as `apitap_http2_<name>_total`.

use serde::ser::{SerializeMap, Serializer};

use super::H2Anomaly;

/// HTTP/2 stage counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Http2Stats {
    /// Client connection prefaces seen.
    pub prefaces: u64,
    /// Frames read (every type, valid or not).
    pub frames: u64,
    /// DATA frames.
    pub data_frames: u64,
    /// DATA payload bytes, padding excluded (bytes lost in gaps inside a DATA frame included).
    pub data_bytes: u64,
    /// Header blocks decoded (HEADERS or PUSH_PROMISE with their CONTINUATIONs).
    pub header_blocks: u64,
    /// SETTINGS frames.
    pub settings_frames: u64,
    /// PING frames.
    pub ping_frames: u64,
    /// WINDOW_UPDATE frames.
    pub window_update_frames: u64,
    /// PRIORITY frames.
    pub priority_frames: u64,
    /// PUSH_PROMISE frames.
    pub push_promises: u64,
    /// RST_STREAM frames.
    pub rst_streams: u64,
    /// GOAWAY frames.
    pub goaways: u64,
    /// Frames of a type RFC 9113 does not define (skipped, section 5.5).
    pub unknown_frames: u64,
    /// Frames that broke RFC 9113 framing (skipped).
    pub frame_errors: u64,
    /// Frames for a stream already closed (late WINDOW_UPDATE, RST after END_STREAM...).
    pub frames_on_closed_streams: u64,
    /// Streams opened by frames (exchanges started); an upgraded connection's stream 1,
    /// opened by the HTTP/1.1 request, is not counted here.
    pub streams: u64,
    /// Exchanges emitted.
    pub exchanges: u64,
    /// Open streams emitted early to make room (`max_concurrent_streams`).
    pub stream_limit_evictions: u64,
    /// Fields decoded with an unknown name or value (dynamic entries never seen).
    pub hpack_unknown_fields: u64,
    /// Header blocks that failed to decode.
    pub hpack_errors: u64,
    /// Dynamic table entries evicted.
    pub hpack_evictions: u64,
    /// Dynamic table size updates read.
    pub hpack_size_updates: u64,
    /// Size updates above `max_dynamic_table_bytes` (capped to it).
    pub hpack_capped_size_updates: u64,
    /// Times a direction's HPACK state was forgotten (a gap, a block not decoded).
    pub hpack_state_resets: u64,
    /// Fields decoded but not kept because their list passed `max_header_list_bytes`.
    pub header_fields_over_limit: u64,
    /// Header blocks skipped whole because their compressed form passed
    /// `max_header_list_bytes`.
    pub header_blocks_too_large: u64,
    /// Reassembly gaps seen.
    pub gaps: u64,
    /// Bytes lost in reassembly gaps.
    pub gap_bytes: u64,
    /// Of `gap_bytes`, those inside a frame whose framing survived the gap.
    pub gap_bytes_in_frames: u64,
    /// Times a direction lost frame sync and started looking for a frame header.
    pub desyncs: u64,
    /// Times a frame header was found again.
    pub resyncs: u64,
    /// Bytes skipped while looking for a frame header.
    pub desync_skipped_bytes: u64,
    /// Exchanges recognised as gRPC calls.
    pub grpc_calls: u64,
    /// gRPC messages counted, both directions.
    pub grpc_messages: u64,
    /// Anomalies by kind, counted once per exchange that carries them.
    #[serde(serialize_with = "serialize_anomalies")]
    pub anomalies: [u64; H2Anomaly::COUNT],
}

impl Http2Stats {
    /// Counts one anomaly.
    #[inline]
    pub fn count_anomaly(&mut self, a: H2Anomaly) {
        if let Some(c) = self.anomalies.get_mut(a.index()) {
            *c += 1;
        }
    }

    /// How many exchanges carried anomaly `a`.
    pub fn anomaly_count(&self, a: H2Anomaly) -> u64 {
        self.anomalies.get(a.index()).copied().unwrap_or(0)
    }

    /// Non-zero anomaly counters, in declaration order.
    pub fn anomalies_by_kind(&self) -> impl Iterator<Item = (H2Anomaly, u64)> + '_ {
        H2Anomaly::ALL
            .iter()
            .map(|a| (*a, self.anomaly_count(*a)))
            .filter(|(_, n)| *n > 0)
    }
}

fn serialize_anomalies<S: Serializer>(
    counts: &[u64; H2Anomaly::COUNT],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(H2Anomaly::COUNT))?;
    for (a, n) in H2Anomaly::ALL.iter().zip(counts.iter()) {
        map.serialize_entry(a.name(), n)?;
    }
    map.end()
}
