//! The HTTP stage: one [`HttpConnection`] per reassembled connection, fed by stream events.

use apitap_reassembly::{ConnId, StreamEvent, StreamSink};
use foldhash::fast::FixedState;
use hashbrown::HashMap;

use super::capture::ObjectNouns;
use super::connection::{Ctx, HttpConnection};
use super::{HttpConfig, HttpStats, Transaction};

/// Turns reassembled streams into HTTP transactions.
///
/// The connection table holds exactly the connections the reassembler has open (created on
/// `Open`, removed on `Close`), so it is bounded by the reassembler's flow limit; idle expiry
/// is the reassembler's too (it sends `Close { reason: Idle }`). Per connection, memory is
/// bounded by [`HttpConfig`]. The map uses a fixed-seed hasher and is never iterated, so output
/// does not depend on hashing: transactions leave in completion order, which only depends on
/// the event order.
#[derive(Debug)]
pub struct HttpTracker {
    config: HttpConfig,
    conns: HashMap<ConnId, HttpConnection, FixedState>,
    out: Vec<Transaction>,
    stats: HttpStats,
    /// Collections read by id, for body capture.
    nouns: ObjectNouns,
}

impl HttpTracker {
    /// A tracker with these limits (clamped into their valid ranges; call
    /// [`HttpConfig::validate`] first to reject bad settings instead).
    pub fn new(config: HttpConfig) -> Self {
        HttpTracker {
            config: config.clamped(),
            conns: HashMap::with_hasher(FixedState::default()),
            out: Vec::new(),
            stats: HttpStats::default(),
            nouns: ObjectNouns::default(),
        }
    }

    /// Finished transactions since the last drain, in completion order (deterministic).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Transaction> {
        self.out.drain(..)
    }

    /// Counters since creation.
    pub fn stats(&self) -> &HttpStats {
        &self.stats
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
        let mut cx = Ctx {
            cfg: &self.config,
            stats: &mut self.stats,
            out: &mut self.out,
            nouns: &mut self.nouns,
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
                let new = HttpConnection::new(conn, zone, client, server, basis);
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
