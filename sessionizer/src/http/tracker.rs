//! The HTTP stage: one [`Conn`] per reassembled connection, fed by stream events. Each
//! connection sniffs its protocol and reads it (HTTP/1, HTTP/2, WebSocket, TLS; see
//! [`super::conn`]); transactions and connection records leave in the order they finish.

use std::sync::Arc;

use apitap_reassembly::{ConnId, StreamEvent, StreamSink};
use foldhash::fast::FixedState;
use hashbrown::HashMap;

use super::capture::ObjectNouns;
use super::conn::{Conn, Cx, Protocols};
use super::finished::{ConnRecord, Finished};
use super::{HttpConfig, HttpStats, Transaction};
use crate::http2::{Http2Config, Http2Stats};
use crate::tls::decrypt::KeyLog;
use crate::websocket::WebSocketConfig;

/// Turns reassembled streams into HTTP transactions and connection records.
///
/// The connection table holds exactly the connections the reassembler has open (created on
/// `Open`, removed on `Close`), so it is bounded by the reassembler's flow limit; idle expiry
/// is the reassembler's too (it sends `Close { reason: Idle }`). Per connection, memory is
/// bounded by [`HttpConfig`] and the other protocols' settings. The map uses a fixed-seed
/// hasher and is never iterated, so output does not depend on hashing: everything leaves in
/// completion order, which only depends on the event order.
#[derive(Debug)]
pub struct HttpTracker {
    config: HttpConfig,
    protocols: Protocols,
    conns: HashMap<ConnId, Conn, FixedState>,
    out: Vec<Transaction>,
    /// Connection records, each after the transactions of `out` finished before it.
    records: Vec<(usize, ConnRecord)>,
    stats: HttpStats,
    /// Collections read by id, for body capture.
    nouns: ObjectNouns,
    h2_stats: Http2Stats,
}

impl HttpTracker {
    /// A tracker with these limits (clamped into their valid ranges; call
    /// [`HttpConfig::validate`] first to reject bad settings instead), and the defaults of
    /// the other protocols.
    pub fn new(config: HttpConfig) -> Self {
        HttpTracker {
            config: config.clamped(),
            protocols: Protocols::default(),
            conns: HashMap::with_hasher(FixedState::default()),
            out: Vec::new(),
            records: Vec::new(),
            stats: HttpStats::default(),
            nouns: ObjectNouns::default(),
            h2_stats: Http2Stats::default(),
        }
    }

    /// The same tracker with these HTTP/2 limits (clamped).
    pub fn with_http2(mut self, config: Http2Config) -> Self {
        self.protocols.http2 = config.clamped();
        self
    }

    /// The same tracker with these WebSocket limits.
    pub fn with_websocket(mut self, config: WebSocketConfig) -> Self {
        self.protocols.websocket = config;
        self
    }

    /// The same tracker decrypting TLS with these secrets (replay only).
    pub fn with_keylog(mut self, keylog: Arc<KeyLog>) -> Self {
        self.protocols.keylog = Some(keylog);
        self
    }

    /// Finished transactions since the last drain, in completion order (deterministic). The
    /// connection records finished meanwhile are dropped: [`Self::drain_finished`] gives both.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Transaction> {
        self.records.clear();
        self.out.drain(..)
    }

    /// Everything finished since the last drain, in the order it finished.
    pub fn drain_finished(&mut self, mut f: impl FnMut(Finished)) {
        let mut records = self.records.drain(..).peekable();
        for (i, tx) in self.out.drain(..).enumerate() {
            while let Some((_, r)) = records.next_if(|(at, _)| *at <= i) {
                f(Finished::Connection(r));
            }
            f(Finished::Transaction(tx));
        }
        for (_, r) in records {
            f(Finished::Connection(r));
        }
    }

    /// HTTP counters since creation (connection classes included).
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// HTTP/2 counters since creation.
    pub fn http2_stats(&self) -> &Http2Stats {
        &self.h2_stats
    }

    /// Connections currently open.
    pub fn active_connections(&self) -> usize {
        self.conns.len()
    }

    /// The limits in use.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}

impl StreamSink for HttpTracker {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        let mut cx = Cx {
            http: &self.config,
            protocols: &self.protocols,
            stats: &mut self.stats,
            h2_stats: &mut self.h2_stats,
            out: &mut self.out,
            nouns: &mut self.nouns,
            records: &mut self.records,
        };
        match ev {
            StreamEvent::Open {
                conn,
                ts_us,
                zone,
                client,
                server,
                basis,
            } => {
                cx.stats.connections += 1;
                let new = Conn::new(conn, zone, client, server, basis);
                if let Some(old) = self.conns.insert(conn, new) {
                    // Contract breach (an id reused while open): flush the old state.
                    cx.stats.events_unknown_conn += 1;
                    old.close(ts_us, &mut cx);
                }
            }
            StreamEvent::Data {
                conn,
                ts_us,
                from,
                data,
            } => match self.conns.get_mut(&conn) {
                Some(c) => c.on_data(ts_us, from, data, &mut cx),
                None => cx.stats.events_unknown_conn += 1,
            },
            StreamEvent::Gap {
                conn,
                ts_us,
                from,
                len,
            } => match self.conns.get_mut(&conn) {
                Some(c) => c.on_gap(ts_us, from, len, &mut cx),
                None => cx.stats.events_unknown_conn += 1,
            },
            StreamEvent::Anomaly {
                conn, from, kind, ..
            } => match self.conns.get_mut(&conn) {
                Some(c) => c.on_tcp_anomaly(from, kind),
                None => cx.stats.events_unknown_conn += 1,
            },
            StreamEvent::Close { conn, ts_us, .. } => match self.conns.remove(&conn) {
                Some(c) => c.close(ts_us, &mut cx),
                None => cx.stats.events_unknown_conn += 1,
            },
        }
    }
}
