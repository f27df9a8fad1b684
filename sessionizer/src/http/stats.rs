//! Counters of the HTTP stage. Monotonic; the sensor reads them per batch and exports them as
//! `apitap_http_<name>_total`.

use serde::ser::{SerializeMap, Serializer};

use super::HttpAnomaly;

/// HTTP stage counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    /// Connections opened (Open events).
    pub connections: u64,
    /// Connections whose client and server were swapped after the first bytes.
    pub reoriented_connections: u64,
    /// Connections where HTTP parsing stopped (CONNECT tunnel, upgrade, HTTP/0.9).
    pub switched_connections: u64,
    /// Transactions emitted.
    pub transactions: u64,
    /// Request heads parsed (including HTTP/0.9 and heads salvaged from a too-large head).
    pub requests: u64,
    /// Final response heads parsed.
    pub responses: u64,
    /// Interim (1xx other than 101) response heads parsed.
    pub interim_responses: u64,
    /// Final responses with no waiting request (emitted with `request: None`).
    pub unmatched_responses: u64,
    /// Interim responses with no waiting request (dropped, only counted).
    pub unmatched_interim_responses: u64,
    /// Requests emitted without a response.
    pub requests_without_response: u64,
    /// Reassembly gaps seen.
    pub gaps: u64,
    /// Bytes lost in reassembly gaps.
    pub gap_bytes: u64,
    /// Of `gap_bytes`, those counted into a body whose framing survived the gap.
    pub gap_bytes_in_bodies: u64,
    /// Times a direction lost HTTP framing and started looking for the next start line.
    pub desyncs: u64,
    /// Times a start line was found again after a desync.
    pub resyncs: u64,
    /// Bytes received but skipped while looking for a start line.
    pub desync_skipped_bytes: u64,
    /// Times the parser made no progress and skipped the rest of a segment (a bug guard: it
    /// should stay 0).
    pub stalls: u64,
    /// Connections picked up mid-stream whose first bytes on a side finished a message that
    /// began before the capture (skipped to the next start line, not counted as malformed).
    pub pickup_tails: u64,
    /// Bytes received after HTTP parsing stopped on a connection (tunnels, upgrades, HTTP/0.9).
    pub opaque_bytes: u64,
    /// Partial heads dropped at connection close.
    pub heads_cut_by_close: u64,
    /// Stream events for a connection that was never opened (a reassembler contract breach).
    pub events_unknown_conn: u64,
    /// Collections read by id not remembered for body capture at its bound
    /// (`capture::MAX_OBJECT_NOUNS`): their listings are not stored.
    pub object_nouns_dropped: u64,
    /// Connections seen from their handshake whose first client bytes are neither TLS, HTTP/2
    /// nor an HTTP/1 request line: no record, nothing parsed.
    pub not_http_connections: u64,
    /// Bytes of `not_http` connections and of tunnels carrying something else.
    pub not_http_bytes: u64,
    /// Connections whose protocol could not be told from their first client bytes (lost, or
    /// the server spoke at length first): read as HTTP/1, as if joined mid-stream.
    pub sniff_fallbacks: u64,
    /// Connections (and tunnels) read as HTTP/2: prior knowledge, `Upgrade: h2c` or frames
    /// found mid-stream.
    pub http2_connections: u64,
    /// Connections upgraded to WebSocket.
    pub websocket_connections: u64,
    /// WebSocket messages (both directions) of the connections that ended.
    pub websocket_messages: u64,
    /// Connections (and tunnels) that speak TLS: their content is not visible.
    pub tls_connections: u64,
    /// Of `tls_connections`, those joined after the handshake (encrypted records only).
    pub tls_joined_late: u64,
    /// Of `tls_connections`, those decrypted with a key log (replay `--tls-keylog`).
    pub tls_decrypted_connections: u64,
    /// CONNECT tunnels opened (a 2xx to CONNECT): their first client bytes are sniffed again.
    pub tunnels: u64,
    /// Of `tunnels`, those carrying neither HTTP nor TLS.
    pub opaque_tunnels: u64,
    /// Connections whose held state (partial heads, waiting requests, stored bodies) was given
    /// up at `max_held_bytes_total`, least recently active first (anomaly `memory_limit` on
    /// the transactions it cut).
    pub memory_evictions: u64,
    /// Bytes those evictions gave back.
    pub memory_evicted_bytes: u64,
    /// Most bytes the HTTP stage held at once (heads, waiting requests, stored bodies): what
    /// `max_held_bytes_total` bounds.
    pub held_bytes_peak: u64,
    /// Anomalies by kind, counted when they happen (a transaction carries each kind once).
    #[serde(serialize_with = "serialize_anomalies")]
    pub anomalies: [u64; HttpAnomaly::COUNT],
}

impl HttpStats {
    /// Counts one anomaly.
    #[inline]
    pub fn count_anomaly(&mut self, a: HttpAnomaly) {
        if let Some(c) = self.anomalies.get_mut(a.index()) {
            *c += 1;
        }
    }

    /// How many anomalies of kind `a` happened.
    pub fn anomaly_count(&self, a: HttpAnomaly) -> u64 {
        self.anomalies.get(a.index()).copied().unwrap_or(0)
    }

    /// Non-zero anomaly counters, in declaration order.
    pub fn anomalies_by_kind(&self) -> impl Iterator<Item = (HttpAnomaly, u64)> + '_ {
        HttpAnomaly::ALL
            .iter()
            .map(|a| (*a, self.anomaly_count(*a)))
            .filter(|(_, n)| *n > 0)
    }
}

fn serialize_anomalies<S: Serializer>(
    counts: &[u64; HttpAnomaly::COUNT],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(HttpAnomaly::COUNT))?;
    for (a, n) in HttpAnomaly::ALL.iter().zip(counts.iter()) {
        map.serialize_entry(a.name(), n)?;
    }
    map.end()
}
