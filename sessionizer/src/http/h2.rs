//! HTTP/2 in the HTTP tracker: an [`H2Connection`] whose exchanges leave as ordinary
//! [`Transaction`]s, so that sessions, detection and everything downstream read HTTP/2 streams
//! as they read HTTP/1 exchanges.
//!
//! The mapping: `:method` → `method`, `:path` → `uri`, `:authority` → `authority` (the host),
//! `:status` → `status` (reason empty: HTTP/2 has none), fields, trailers, bodies and packet
//! times as they are; what is HTTP/2's own (stream id, reset, gRPC call, HTTP/2 anomalies)
//! goes to [`Http2Info`]. A pseudo-header that could not be decoded (HPACK state unknown) is
//! an empty string, and the exchange carries `hpack_state_unknown`.

use apitap_reassembly::Side;

use super::transaction::Http2Info;
use super::{Request, Response, Transaction};
use crate::http2::{
    self, H2Connection, H2Exchange, H2Request, H2Response, Http2Config, Http2Stats,
};

/// HTTP/2 state of one connection, with the exchanges it finished not yet taken.
#[derive(Debug)]
pub struct H2State {
    conn: H2Connection,
    done: Vec<H2Exchange>,
}

impl H2State {
    /// Heap bytes the state holds: the connection's reader and the exchanges finished but
    /// not yet handed on.
    pub fn heap_bytes(&self) -> usize {
        self.conn.heap_bytes()
            + self.done.capacity() * std::mem::size_of::<H2Exchange>()
            + self.done.iter().map(H2Exchange::heap_bytes).sum::<usize>()
    }

    /// State around a connection's HTTP/2 reader.
    pub fn new(conn: H2Connection) -> Self {
        H2State {
            conn,
            done: Vec::new(),
        }
    }

    /// In-order bytes of one direction (`from` oriented).
    pub fn on_data(
        &mut self,
        ts_us: u64,
        from: Side,
        data: &[u8],
        cfg: &Http2Config,
        stats: &mut Http2Stats,
    ) {
        let mut cx = http2::Ctx {
            cfg,
            stats,
            out: &mut self.done,
        };
        self.conn.on_data(ts_us, from, data, &mut cx);
    }

    /// `len` bytes of one direction were lost.
    pub fn on_gap(
        &mut self,
        ts_us: u64,
        from: Side,
        len: u64,
        cfg: &Http2Config,
        stats: &mut Http2Stats,
    ) {
        let mut cx = http2::Ctx {
            cfg,
            stats,
            out: &mut self.done,
        };
        self.conn.on_gap(ts_us, from, len, &mut cx);
    }

    /// The connection ended: every open stream is finished; the exchanges are returned.
    pub fn close(self, ts_us: u64, cfg: &Http2Config, stats: &mut Http2Stats) -> Vec<H2Exchange> {
        let H2State { conn, mut done } = self;
        let mut cx = http2::Ctx {
            cfg,
            stats,
            out: &mut done,
        };
        conn.close(ts_us, &mut cx);
        done
    }

    /// The exchanges finished since the last call, in completion order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, H2Exchange> {
        self.done.drain(..)
    }
}

/// The transaction of an exchange: `base` gives the connection's identity and numbering
/// (its `request`, `response` and `http2` are replaced).
pub fn transaction(ex: H2Exchange, mut base: Transaction) -> Transaction {
    let H2Exchange {
        stream_id,
        pushed,
        request,
        response,
        reset,
        grpc,
        anomalies,
    } = ex;
    base.request = request.map(request_of);
    base.response = response.map(response_of);
    base.http2 = Some(Box::new(Http2Info {
        stream_id,
        pushed,
        reset: reset.map(|r| (r.by, r.error_code)),
        grpc,
        anomalies,
    }));
    base
}

fn request_of(r: H2Request) -> Request {
    Request {
        method: r.method.unwrap_or_default(),
        uri: r.path.unwrap_or_default(),
        authority: r.authority,
        version_minor: 0,
        headers: r.headers,
        body_bytes: r.body.bytes,
        body: r.body.captured,
        body_truncated: r.body.truncated,
        trailers: r.trailers,
        ts_us: r.ts_us,
        end_ts_us: r.end_ts_us,
    }
}

fn response_of(r: H2Response) -> Response {
    Response {
        status: r.status.unwrap_or(0),
        reason: String::new(),
        version_minor: 0,
        headers: r.headers,
        body_bytes: r.body.bytes,
        body: r.body.captured,
        body_truncated: r.body.truncated,
        trailers: r.trailers,
        interim: r.interim,
        ts_us: r.ts_us,
        end_ts_us: r.end_ts_us,
        // HTTP/2 bodies are stored by `max_body_capture_bytes` alone, not selected.
        issues_ids: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;
    use crate::http2::{Body, GrpcCall, H2Anomaly, MessageCounts, Reset};
    use apitap_reassembly::ConnId;

    /// Every part of an exchange lands in its place in the transaction.
    #[test]
    fn exchange_fields_map_onto_the_transaction() {
        let headers: Headers = [("content-type", "application/grpc")].into_iter().collect();
        let trailers: Headers = [("grpc-status", "5")].into_iter().collect();
        let ex = H2Exchange {
            stream_id: 3,
            pushed: false,
            request: Some(H2Request {
                method: Some("POST".into()),
                scheme: Some("http".into()),
                authority: Some("orders.svc:50051".into()),
                path: Some("/shop.Orders/GetOrder".into()),
                headers: headers.clone(),
                body: Body {
                    bytes: 12,
                    captured: b"abc".to_vec(),
                    truncated: true,
                },
                ts_us: 10,
                end_ts_us: 11,
                complete: true,
                ..H2Request::default()
            }),
            response: Some(H2Response {
                status: Some(200),
                interim: vec![100],
                headers,
                trailers: trailers.clone(),
                ts_us: 20,
                end_ts_us: 25,
                complete: true,
                ..H2Response::default()
            }),
            reset: Some(Reset {
                by: Side::Client,
                error_code: 8,
            }),
            grpc: Some(GrpcCall {
                service: "shop.Orders".into(),
                method: "GetOrder".into(),
                status: Some(5),
                request: MessageCounts {
                    messages: 1,
                    bytes: 7,
                    compressed: 0,
                },
                ..GrpcCall::default()
            }),
            anomalies: vec![H2Anomaly::RstStream],
        };
        let base = Transaction::new(
            ConnId(4),
            2,
            0,
            "10.0.0.1:1".parse().unwrap(),
            "10.0.0.2:2".parse().unwrap(),
        );
        let t = transaction(ex, base);
        let q = t.request.as_ref().unwrap();
        assert_eq!(
            (q.method.as_str(), q.uri.as_str(), q.authority.as_deref()),
            ("POST", "/shop.Orders/GetOrder", Some("orders.svc:50051"))
        );
        assert_eq!(
            (q.body_bytes, q.body_truncated, q.ts_us, q.end_ts_us),
            (12, true, 10, 11)
        );
        let r = t.response.as_ref().unwrap();
        assert_eq!(
            (r.status, r.reason.as_str(), &r.interim[..]),
            (200, "", &[100][..])
        );
        assert_eq!(r.trailers, trailers);
        let h2 = t.http2.as_ref().unwrap();
        assert_eq!((h2.stream_id, h2.reset), (3, Some((Side::Client, 8))));
        assert_eq!(h2.grpc.as_ref().unwrap().status, Some(5));
        assert_eq!(t.depth, 2);
        assert_eq!(t.anomaly_names().collect::<Vec<_>>(), vec!["rst_stream"]);
    }
}
