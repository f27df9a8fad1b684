//! The HTTP stage: one [`Conn`] per reassembled connection, fed by stream events. Each
//! connection sniffs its protocol and reads it (HTTP/1, HTTP/2, WebSocket, TLS; see
//! [`super::conn`]); transactions and connection records leave in the order they finish.

use std::mem;
use std::sync::Arc;

use apitap_reassembly::{CloseReason, ConnId, StreamEvent, StreamSink};
use apitap_table::{Keyed, SlabTable};
use foldhash::fast::FixedState;

use super::capture::ObjectNouns;
use super::conn::{Conn, Cx, Protocols};
use super::finished::{ConnRecord, Finished};
use super::gate::ResponseGate;
use super::{HttpAnomaly, HttpConfig, HttpStats, Transaction};
use crate::http2::{Http2Config, Http2Stats};
use crate::tls::decrypt::KeyLog;
use crate::websocket::WebSocketConfig;

/// The list of connections that hold bytes, least recently active first: the order in which
/// the global account gives them up.
const HOLDING: usize = 0;

/// One open connection and the bytes it was last counted as holding.
#[derive(Debug)]
struct Tracked {
    id: ConnId,
    conn: Conn,
    /// [`Conn::held_bytes`] after its last event: its part of `HttpTracker::held_total`.
    held: usize,
}

impl Keyed for Tracked {
    type Key = ConnId;
    fn key(&self) -> &ConnId {
        &self.id
    }
}

/// Turns reassembled streams into HTTP transactions and connection records.
///
/// The connection table holds exactly the connections the reassembler has open (created on
/// `Open`, removed on `Close`), so it is bounded by the reassembler's flow limit; idle expiry
/// is the reassembler's too (it sends `Close { reason: Idle }`). Per connection, memory is
/// bounded by [`HttpConfig`] and the other protocols' settings; over all connections, the
/// bytes they hold (partial heads, waiting requests, stored bodies: [`Conn::held_bytes`]) by
/// `max_held_bytes_total`. Beyond it the connection that holds bytes and was active least
/// recently gives them up: what it read leaves as transactions marked
/// [`HttpAnomaly::MemoryLimit`], and it goes on as if joined mid-stream. The table's hash has
/// a fixed seed (connection ids are counters) and it is never iterated, so output does not
/// depend on hashing: everything leaves in completion order, which only depends on the event
/// order.
///
/// Invariant: `held_total` is the sum of the entries' `held`; an entry is on the `HOLDING`
/// list exactly when its `held` is non-zero, in the order of their last events; between
/// events `held_total <= max_held_bytes_total`.
#[derive(Debug)]
pub struct HttpTracker {
    config: HttpConfig,
    protocols: Protocols,
    conns: SlabTable<Tracked, FixedState, 1>,
    held_total: usize,
    out: Vec<Transaction>,
    /// Connection records, each after the transactions of `out` finished before it.
    records: Vec<(usize, ConnRecord)>,
    stats: HttpStats,
    /// Collections read by id, for body capture.
    nouns: ObjectNouns,
    h2_stats: Http2Stats,
    /// Decides which response bodies are stored for their request's sake (`selected`'s
    /// `gated_responses`); none: every body it would decide is stored.
    gate: Option<Box<dyn ResponseGate>>,
}

impl HttpTracker {
    /// A tracker with these limits (clamped into their valid ranges; call
    /// [`HttpConfig::validate`] first to reject bad settings instead), and the defaults of
    /// the other protocols.
    pub fn new(config: HttpConfig) -> Self {
        HttpTracker {
            config: config.clamped(),
            protocols: Protocols::default(),
            conns: SlabTable::new(FixedState::default()),
            held_total: 0,
            out: Vec::new(),
            records: Vec::new(),
            stats: HttpStats::default(),
            nouns: ObjectNouns::default(),
            h2_stats: Http2Stats::default(),
            gate: None,
        }
    }

    /// The same tracker asking `gate`, when a response with a body begins, whether its body
    /// is stored ([`super::SelectedCapture::gated_responses`]).
    pub fn with_response_gate(mut self, gate: Box<dyn ResponseGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Memory one open connection's entry costs at the most, in bytes, beyond what it holds
    /// ([`Self::held_bytes`]): its state and its table slot, in a tracker built
    /// [`Self::with_connection_capacity`] and held to it.
    pub const CONN_BYTES: usize = SlabTable::<Tracked, FixedState, 1>::ENTRY_BYTES;

    /// The same tracker with room for `connections` open connections (the reassembler's
    /// `max_flows`): the table never copies itself growing up to it, so each connection
    /// costs [`Self::CONN_BYTES`] at the most.
    pub fn with_connection_capacity(mut self, connections: usize) -> Self {
        debug_assert!(self.conns.is_empty(), "size the table before use");
        self.conns = SlabTable::with_capacity(FixedState::default(), connections);
        self
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

    /// Bytes the open connections hold now (what `max_held_bytes_total` bounds).
    pub fn held_bytes(&self) -> usize {
        self.held_total
    }

    /// The limits in use.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}

/// The output context of a connection's event, borrowing the tracker's fields other than its
/// connection table (so that one connection can be borrowed from it at the same time).
macro_rules! cx {
    ($t:ident) => {
        Cx {
            http: &$t.config,
            protocols: &$t.protocols,
            stats: &mut $t.stats,
            h2_stats: &mut $t.h2_stats,
            out: &mut $t.out,
            nouns: &mut $t.nouns,
            records: &mut $t.records,
            gate: $t.gate.as_deref_mut(),
        }
    };
}

impl StreamSink for HttpTracker {
    fn on_event(&mut self, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Open {
                conn,
                ts_us,
                zone,
                client,
                server,
                basis,
            } => self.open(conn, ts_us, Conn::new(conn, zone, client, server, basis)),
            StreamEvent::Data {
                conn,
                ts_us,
                from,
                data,
            } => self.feed(conn, ts_us, |c, cx| c.on_data(ts_us, from, data, cx)),
            StreamEvent::Gap {
                conn,
                ts_us,
                from,
                len,
            } => self.feed(conn, ts_us, |c, cx| c.on_gap(ts_us, from, len, cx)),
            StreamEvent::Anomaly {
                conn, from, kind, ..
            } => match self.conns.find(&conn).and_then(|s| self.conns.get_mut(s)) {
                Some(t) => t.conn.on_tcp_anomaly(from, kind),
                None => self.stats.events_unknown_conn += 1,
            },
            StreamEvent::Close {
                conn,
                ts_us,
                reason,
            } => match self.conns.find(&conn).and_then(|s| self.conns.remove(s)) {
                Some(t) => {
                    self.held_total -= t.held;
                    let first = self.out.len();
                    t.conn.close(ts_us, &mut cx!(self));
                    if reason == CloseReason::Evicted {
                        // The flow table's share of the memory budget was full.
                        self.mark_cut(first);
                    }
                }
                None => self.stats.events_unknown_conn += 1,
            },
        }
    }
}

impl HttpTracker {
    /// A connection opened: it holds nothing yet.
    fn open(&mut self, id: ConnId, ts_us: u64, conn: Conn) {
        self.stats.connections += 1;
        if let Some(old) = self.conns.find(&id).and_then(|s| self.conns.remove(s)) {
            // Contract breach (an id reused while open): flush the old state.
            self.stats.events_unknown_conn += 1;
            self.held_total -= old.held;
            old.conn.close(ts_us, &mut cx!(self));
        }
        let tracked = Tracked { id, conn, held: 0 };
        if self.conns.insert(tracked).is_none() {
            // Only past `apitap_table::MAX_SLOTS` open connections, which the reassembler's
            // flow bound keeps far away.
            self.stats.events_unknown_conn += 1;
        }
    }

    /// An event for connection `id` (bytes or a gap), handled by `f`, then counted into the
    /// account.
    fn feed(&mut self, id: ConnId, ts_us: u64, f: impl FnOnce(&mut Conn, &mut Cx<'_>)) {
        let Some(slot) = self.conns.find(&id) else {
            self.stats.events_unknown_conn += 1;
            return;
        };
        if let Some(t) = self.conns.get_mut(slot) {
            f(&mut t.conn, &mut cx!(self));
        }
        self.account(slot, ts_us);
    }

    /// Counts what the connection in `slot` holds after an event (it is now the most
    /// recently active), then gives up the held state of the least recently active ones
    /// while the total is over `max_held_bytes_total`.
    fn account(&mut self, slot: u32, ts_us: u64) {
        let Some(t) = self.conns.get_mut(slot) else {
            return;
        };
        let now = t.conn.held_bytes();
        let before = mem::replace(&mut t.held, now);
        self.held_total = self.held_total - before + now;
        let linked = self.conns.is_linked(HOLDING, slot);
        match (now > 0, linked) {
            (true, true) => self.conns.move_to_back(HOLDING, slot),
            (true, false) => self.conns.push_back(HOLDING, slot),
            (false, true) => self.conns.unlink(HOLDING, slot),
            (false, false) => {}
        }
        // The peak is what was held, the overshoot of this event included.
        self.stats.held_bytes_peak = self.stats.held_bytes_peak.max(self.held_total as u64);
        while self.held_total > self.config.max_held_bytes_total {
            let Some(oldest) = self.conns.head(HOLDING) else {
                break;
            };
            self.evict(oldest, ts_us);
        }
    }

    /// Gives up what the connection in `slot` holds: it is closed as far as it was read (its
    /// transactions leave, marked [`HttpAnomaly::MemoryLimit`]) and goes on as a fresh state
    /// that looks for the next message ([`Conn::restarted`]).
    fn evict(&mut self, slot: u32, ts_us: u64) {
        let Some(t) = self.conns.get_mut(slot) else {
            return;
        };
        let fresh = t.conn.restarted();
        let old = mem::replace(&mut t.conn, fresh);
        let freed = mem::replace(&mut t.held, 0);
        self.held_total -= freed;
        self.conns.unlink(HOLDING, slot);
        self.stats.memory_evictions += 1;
        self.stats.memory_evicted_bytes += freed as u64;
        let first = self.out.len();
        old.close(ts_us, &mut cx!(self));
        // The close may have numbered transactions the fresh state did not know of (a
        // protocol decided only now, HTTP/2 streams): it numbers after them.
        if let (Some(depth), Some(t)) = (self.mark_cut(first), self.conns.get_mut(slot)) {
            t.conn.number_after(depth);
        }
    }

    /// Marks the transactions emitted from `first` on [`HttpAnomaly::MemoryLimit`] (a share of
    /// the memory budget was full and their connection gave up its state); returns the
    /// largest depth among them.
    fn mark_cut(&mut self, first: usize) -> Option<u32> {
        let mut last_depth = None;
        for tx in self.out.iter_mut().skip(first) {
            last_depth = last_depth.max(Some(tx.depth));
            if !tx.anomalies.contains(&HttpAnomaly::MemoryLimit) {
                tx.anomalies.push(HttpAnomaly::MemoryLimit);
                self.stats.count_anomaly(HttpAnomaly::MemoryLimit);
            }
        }
        last_depth
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
