//! The front stages, packet by packet: decode → reassembly → HTTP. One [`Front`] runs in the
//! single-threaded [`crate::pipeline::Pipeline`] and one in each worker of the sharded
//! pipeline ([`crate::shard`]); both stage what it finishes in a [`StagedBatch`] for the
//! output stages.

use std::net::SocketAddr;

use apitap_reassembly::{ConnId, InsertionStats, Reassembler, ReassemblyStats};
use apitap_sessionizer::http::capture::PathKeywords;
use apitap_sessionizer::http::{Finished, HttpConfig, HttpStats, HttpTracker, ResponseGate};
use apitap_sessionizer::http2::{Http2Config, Http2Stats};
use apitap_sessionizer::websocket::WebSocketConfig;

use crate::analyze::{RequestGate, Shared};
use crate::capture::PacketRef;
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder, UdpTunnel};
use crate::staged::StagedBatch;

/// How often (packet time) timeouts are checked: idle flows, holes waiting to become gaps,
/// idle sessions and periodic session updates.
pub const EXPIRE_INTERVAL_US: u64 = 100_000;

/// Body bytes stored per message when a session key or context parameter reads bodies,
/// attack detection scans them or API classification infers their schemas, and
/// `http.max_body_capture_bytes` is lower: enough for login responses, order payloads and the
/// error pages that tell an attack's outcome.
const ANALYSIS_BODY_CAPTURE_BYTES: usize = 64 * 1024;

/// Which bodies the analyses read whole, each of them: requests (a session key or parameter
/// that reads request bodies, attack detection, schema inference) and responses (a session
/// key or parameter that reads response bodies, schema inference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BodyReaders {
    /// Every request body is read.
    requests: bool,
    /// Every response body is read.
    responses: bool,
}

impl BodyReaders {
    /// What `cfg` reads.
    fn of(cfg: &Config) -> Self {
        let schemas = cfg.api.is_on() && cfg.api.infer_body_schemas;
        let need = cfg.session.enabled.then(|| cfg.session.body_capture());
        BodyReaders {
            requests: schemas || need.is_some_and(|n| n.request) || cfg.detect.enabled,
            responses: schemas || need.is_some_and(|n| n.response),
        }
    }

    /// True when responses are stored only for the requests that ask (the response gate,
    /// [`crate::analyze::RequestGate`]): attack detection reads a response only for an attack's
    /// outcome, and nothing else reads every response.
    fn gates_responses(self, cfg: &Config) -> bool {
        cfg.detect.enabled && !self.responses
    }
}

/// Attack detection's response gate when `cfg` has the HTTP stage ask one which response
/// bodies to store (detection on, and nothing else reading every response body): one per
/// front, from the detector `shared` holds.
pub fn response_gate(cfg: &Config, shared: &Shared) -> Option<Box<dyn ResponseGate>> {
    if !BodyReaders::of(cfg).gates_responses(cfg) {
        return None;
    }
    let detector = shared.detector.as_deref()?;
    Some(Box::new(RequestGate::new(detector, &cfg.session.body)))
}

/// The HTTP settings with body capture raised for what reads bodies: every body when a
/// session key or parameter or schema inference reads responses; every request body, and the
/// responses of requests with findings (the response gate), when only requests are read
/// whole (attack detection); for the behaviours, the bodies of logins (the user is read from
/// login forms) and of responses that issue object ids (`bola`'s ownership); and to the
/// records' body samples (`output.body_capture_bytes`).
fn http_config(cfg: &Config) -> HttpConfig {
    let mut http = cfg.http.clone();
    let readers = BodyReaders::of(cfg);
    let all = readers.responses;
    if readers.requests && !all {
        let sel = &mut http.selected;
        sel.all_requests = true;
        sel.gated_responses = readers.gates_responses(cfg);
        sel.max_bytes = sel.max_bytes.max(ANALYSIS_BODY_CAPTURE_BYTES);
    }
    if cfg.session.enabled {
        let need = cfg.session.body_capture();
        let sel = &mut http.selected;
        if need.login || cfg.behaviours.reads_logins() {
            // An empty keyword would select every body: left out.
            let words: Vec<String> = cfg
                .session
                .login
                .path_keywords
                .iter()
                .filter(|k| !k.is_empty())
                .cloned()
                .collect();
            sel.path_keywords = PathKeywords::new(&words);
            sel.max_bytes = sel.max_bytes.max(ANALYSIS_BODY_CAPTURE_BYTES);
        }
        if cfg.behaviours.reads_object_responses() {
            sel.object_responses = true;
            sel.max_bytes = sel.max_bytes.max(cfg.behaviours.max_scan_bytes);
        }
    }
    if all {
        http.max_body_capture_bytes = http.max_body_capture_bytes.max(ANALYSIS_BODY_CAPTURE_BYTES);
    }
    http.max_body_capture_bytes = http
        .max_body_capture_bytes
        .max(cfg.output.body_capture_bytes);
    http
}

/// The HTTP/2 settings with the body capture of HTTP/1 ([`http_config`]): sessions, analyses
/// and body samples read HTTP/2 bodies as they read HTTP/1's. HTTP/2 bodies are not selected
/// one by one: every body is stored when any is read whole.
fn http2_config(cfg: &Config, http: &HttpConfig) -> Http2Config {
    let mut h2 = cfg.http2.clone();
    let readers = BodyReaders::of(cfg);
    let whole = if readers.requests || readers.responses {
        ANALYSIS_BODY_CAPTURE_BYTES
    } else {
        0
    };
    h2.max_body_capture_bytes = h2
        .max_body_capture_bytes
        .max(http.max_body_capture_bytes)
        .max(whole);
    h2
}

/// The WebSocket settings: text messages are sampled only when records carry body samples
/// (`output.body_capture_bytes`), and no more of each than a body sample holds.
fn websocket_config(cfg: &Config) -> WebSocketConfig {
    let mut ws = cfg.websocket.clone();
    match cfg.output.body_capture_bytes {
        0 => ws.max_sampled_messages = 0,
        n => ws.max_sample_bytes = ws.max_sample_bytes.min(n),
    }
    ws
}

/// The HTTP stage: every protocol's settings, the response gate and the key log when there
/// are.
fn http_tracker(cfg: &Config, gate: Option<Box<dyn ResponseGate>>) -> HttpTracker {
    let http = http_config(cfg);
    let mut tracker = HttpTracker::new(http.clone())
        .with_connection_capacity(cfg.reassembly.max_flows)
        .with_http2(http2_config(cfg, &http))
        .with_websocket(websocket_config(cfg));
    if let Some(gate) = gate {
        tracker = tracker.with_response_gate(gate);
    }
    match &cfg.inputs.tls_keylog {
        Some(keys) => tracker.with_keylog(std::sync::Arc::clone(keys)),
        None => tracker,
    }
}

/// What the front stages counted.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FrontStats {
    /// Decode counters.
    pub decode: DecodeStats,
    /// Reassembly counters.
    pub reassembly: ReassemblyStats,
    /// What reassembly's checks against insertion evasion counted.
    pub insertion: InsertionStats,
    /// HTTP counters.
    pub http: HttpStats,
    /// HTTP/2 counters.
    pub http2: Http2Stats,
    /// Connections tracked now.
    pub active_flows: usize,
}

/// Decode, reassembly and HTTP for the packets given to it.
///
/// Invariant: `now_us` never decreases; a timeout check runs whenever it reaches
/// `next_expire_us`, and every transaction HTTP finishes is staged, with the packet time it
/// finished at, before the next packet.
pub struct Front {
    decoder: Decoder,
    reassembler: Reassembler,
    http: HttpTracker,
    /// Latest packet (or clock) time; packet time never goes backwards inside the front.
    now_us: u64,
    next_expire_us: u64,
}

impl Front {
    /// A front numbering its connections from `first_conn`, its HTTP stage asking `gate`
    /// which response bodies to store ([`response_gate`]).
    pub fn new(cfg: &Config, first_conn: ConnId, gate: Option<Box<dyn ResponseGate>>) -> Self {
        Front {
            decoder: Decoder::with_config(&cfg.decode),
            reassembler: Reassembler::new(cfg.reassembly.clone()).with_first_conn_id(first_conn),
            http: http_tracker(cfg, gate),
            now_us: 0,
            next_expire_us: 0,
        }
    }

    /// One captured packet through every front stage; what it finishes goes to `out`.
    #[inline]
    pub fn on_packet(&mut self, pkt: PacketRef<'_>, out: &mut StagedBatch) {
        self.now_us = self.now_us.max(pkt.ts_us);
        let decoded = self
            .decoder
            .decode_at(self.now_us, pkt.link, pkt.data, pkt.wire_len);
        if let Some(seg) = decoded {
            self.reassembler.process(self.now_us, &seg, &mut self.http);
        }
        self.tick(out);
    }

    /// One datagram of a mirror listener: `data` is the payload of a UDP datagram of tunnel
    /// type `kind` from `outer_src` to `outer_dst`, received at `ts_us` (see
    /// [`Decoder::decode_tunnel_payload`]).
    pub fn on_tunnel_payload(
        &mut self,
        ts_us: u64,
        kind: UdpTunnel,
        data: &[u8],
        (outer_src, outer_dst): (SocketAddr, SocketAddr),
        out: &mut StagedBatch,
    ) {
        self.now_us = self.now_us.max(ts_us);
        let decoded =
            self.decoder
                .decode_tunnel_payload(self.now_us, kind, data, outer_src, outer_dst);
        if let Some(seg) = decoded {
            self.reassembler.process(self.now_us, &seg, &mut self.http);
        }
        self.tick(out);
    }

    /// Let time pass without a packet (an idle live source): the timeouts due run.
    pub fn advance(&mut self, now_us: u64, out: &mut StagedBatch) {
        self.now_us = self.now_us.max(now_us);
        self.tick(out);
    }

    /// Run the timeouts when due, then stage what finished. A timeout check is staged
    /// ([`StagedBatch::push_tick`]) after what it finished, so that the output stages run
    /// their own timeouts at the same point of the stream.
    #[inline]
    fn tick(&mut self, out: &mut StagedBatch) {
        if self.now_us >= self.next_expire_us {
            self.reassembler.expire(self.now_us, &mut self.http);
            self.drain(out);
            out.push_tick(self.now_us);
            self.next_expire_us = self.now_us.saturating_add(EXPIRE_INTERVAL_US);
        }
        self.drain(out);
    }

    /// End of input (or shutdown): flush every stream and stage what that finishes.
    pub fn flush(&mut self, out: &mut StagedBatch) {
        self.reassembler.flush(self.now_us, &mut self.http);
        self.drain(out);
    }

    /// Stage every transaction and connection record HTTP finished, in order, with the
    /// outermost tunnel its flow came through: the decoder that peeled the tunnel names it as
    /// the transaction leaves.
    #[inline]
    fn drain(&mut self, out: &mut StagedBatch) {
        let (decoder, now_us) = (&self.decoder, self.now_us);
        let tunnel = |zone| match zone {
            0 => None,
            zone => decoder.tunnel(zone).cloned(),
        };
        self.http.drain_finished(|f| match f {
            Finished::Transaction(tx) => {
                let t = tunnel(tx.zone);
                out.push(now_us, tx, t);
            }
            Finished::Connection(rec) => {
                let t = tunnel(rec.zone);
                out.push_conn(now_us, rec, t);
            }
        });
    }

    /// The packet clock.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Counters as they stand.
    pub fn stats(&self) -> FrontStats {
        FrontStats {
            decode: self.decoder.stats().clone(),
            reassembly: self.reassembler.stats().clone(),
            insertion: self.reassembler.insertion_stats().clone(),
            http: self.http.stats().clone(),
            http2: self.http.http2_stats().clone(),
            active_flows: self.reassembler.active_flows(),
        }
    }
}
