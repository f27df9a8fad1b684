//! Attack detection: each request scanned ([`apitap_detect::Detector`]) after its body is
//! content-decoded, the HTTP layer's smuggling and evasion anomalies added as `protocol`
//! findings, and, when anything was found, the response's verdict on it
//! ([`apitap_detect::outcome`]).
//!
//! The verdict reads the response's body, which only an attack needs: [`RequestGate`] scans
//! each HTTP/1 request as it completes, so that the HTTP stage stores its response's body
//! only for a request with findings. What it found is not scanned again here (unless an
//! allow rule names endpoints or clients, which the gate does not know).

use std::sync::Arc;

use apitap_detect::{outcome, Class, Detector, Finding, Location, Outcome, Request, Scanner};
use apitap_sessionizer::http::{
    GateNote, GateVerdict, Headers, Request as HttpRequest, ResponseGate, Transaction,
};
use apitap_sessionizer::session::body;
use apitap_sessionizer::session::config::BodyConfig;

use super::Analyzer;
use crate::staged::{Scan, StagedBatch};

/// HTTP and TCP anomalies that are smuggling or evasion attempts rather than broken
/// software, as `protocol` findings: the anomaly's name, and where it is.
const PROTOCOL_ANOMALIES: [(&str, &str); 5] = [
    ("transfer_encoding_and_content_length", "transfer-encoding"),
    ("conflicting_content_length", "content-length"),
    ("invalid_transfer_encoding", "transfer-encoding"),
    ("invalid_content_length", "content-length"),
    ("retransmission_mismatch", ""),
];

/// Scans every transaction's request for attacks.
pub struct AttackScan {
    /// This worker's scanner: the shared rules, its buffers and its memory of clean values
    /// (a client's User-Agent, Accept and cookies are read once, not on every request).
    scanner: Scanner,
    /// Body decoding limits (`session.body`).
    limits: BodyConfig,
    /// Reused: the findings of the transaction being scanned.
    findings: Vec<Finding>,
    /// The response gate's findings are the scan's: no allow rule names an endpoint or a
    /// client, which the gate does not know ([`Detector::allows_by_context`]).
    gate_findings_hold: bool,
}

impl AttackScan {
    /// A scanner with `detector`, decoding bodies within `limits`.
    pub fn new(detector: Arc<Detector>, limits: &BodyConfig) -> Self {
        AttackScan {
            scanner: detector.scanner(),
            limits: limits.clone(),
            findings: Vec::new(),
            gate_findings_hold: !detector.allows_by_context(),
        }
    }

    /// The findings of one transaction: the detector's on its request (read by the response
    /// gate already when it has read it, and the allow-lists do not need the endpoint or the
    /// client), then the protocol anomalies'.
    fn scan(&mut self, tx: &Transaction, endpoint: Option<&str>, client: std::net::IpAddr) {
        self.findings.clear();
        let read = match &tx.gate {
            GateVerdict::Declined => Some(&[][..]),
            GateVerdict::Kept(note) => note.get::<Vec<Finding>>().map(Vec::as_slice),
            GateVerdict::NotAsked => None,
        };
        match (read.filter(|_| self.gate_findings_hold), &tx.request) {
            (Some(found), _) => self.findings.extend_from_slice(found),
            (None, Some(r)) => {
                let (scanner, found) = (&mut self.scanner, &mut self.findings);
                scan_request(scanner, &self.limits, r, endpoint, Some(client), found);
            }
            (None, None) => {}
        }
        for name in tx.anomaly_names() {
            let Some((rule, header)) = PROTOCOL_ANOMALIES.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            self.findings.push(Finding {
                class: Class::Protocol,
                rule: protocol_rule(rule),
                location: if header.is_empty() {
                    Location::BodyWhole
                } else {
                    Location::Header((*header).to_string())
                },
                evidence: (*rule).to_string(),
            });
        }
    }

    /// What the response says of the attacks in its request.
    fn verdict(&self, tx: &Transaction) -> Outcome {
        let Some(r) = &tx.response else {
            return outcome(None, None, &[]);
        };
        let (body, _) = body::decode(
            r.headers.get("content-encoding"),
            &r.body,
            r.body_truncated,
            &self.limits,
        );
        outcome(Some(r.status), content_type(&r.headers), &body)
    }
}

/// Scans `r` (its body content-decoded within `limits`) with `scanner`, appending its
/// findings to `findings`; `endpoint` and `client` pick its allow-lists.
fn scan_request(
    scanner: &mut Scanner,
    limits: &BodyConfig,
    r: &HttpRequest,
    endpoint: Option<&str>,
    client: Option<std::net::IpAddr>,
    findings: &mut Vec<Finding>,
) {
    let headers: Vec<(&str, &str)> = r.headers.iter().collect();
    let (body, _) = body::decode(
        r.headers.get("content-encoding"),
        &r.body,
        r.body_truncated,
        limits,
    );
    let req = Request {
        method: &r.method,
        target: &r.uri,
        headers: &headers,
        body: &body,
        body_truncated: r.body_truncated,
        endpoint,
        client,
    };
    scanner.scan(&req, findings);
}

/// Attack detection's response gate ([`ResponseGate`]): the HTTP stage stores a response's
/// body only when its request holds findings, since only an attack's outcome reads it.
///
/// It scans without endpoint or client: the allow-lists that name them are not applied, so
/// it finds all that [`AttackScan`] would find and maybe more. A request it finds clean is
/// clean there too ([`GateVerdict::Declined`]); the findings of one it keeps go with the
/// response ([`GateNote`]). Neither is read again, unless an allow rule names endpoints or
/// clients: a request with findings is then scanned again with its allow-lists.
pub struct RequestGate {
    /// This worker's gate scanner (its own memory of clean values).
    scanner: Scanner,
    /// Body decoding limits (`session.body`).
    limits: BodyConfig,
    /// Reused: the findings of the request being read.
    findings: Vec<Finding>,
}

impl RequestGate {
    /// A gate scanning with `detector`, decoding bodies within `limits`.
    pub fn new(detector: &Detector, limits: &BodyConfig) -> Self {
        RequestGate {
            scanner: detector.scanner(),
            limits: limits.clone(),
            findings: Vec::new(),
        }
    }
}

impl std::fmt::Debug for RequestGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestGate").finish_non_exhaustive()
    }
}

impl ResponseGate for RequestGate {
    fn keeps_response_body(&mut self, tx: &Transaction) -> Option<GateNote> {
        let Some(r) = &tx.request else {
            return Some(GateNote::default());
        };
        self.findings.clear();
        // Anywhere: no endpoint or client, so no allow-list that names them applies.
        scan_request(
            &mut self.scanner,
            &self.limits,
            r,
            None,
            None,
            &mut self.findings,
        );
        (!self.findings.is_empty()).then(|| GateNote::new(std::mem::take(&mut self.findings)))
    }
}

/// The `Content-Type` of a message.
fn content_type(h: &Headers) -> Option<&str> {
    h.get("content-type")
}

/// The stable rule id of a protocol anomaly (`protocol.<anomaly>`).
fn protocol_rule(anomaly: &str) -> &'static str {
    match anomaly {
        "transfer_encoding_and_content_length" => "protocol.transfer_encoding_and_content_length",
        "conflicting_content_length" => "protocol.conflicting_content_length",
        "invalid_transfer_encoding" => "protocol.invalid_transfer_encoding",
        "invalid_content_length" => "protocol.invalid_content_length",
        _ => "protocol.retransmission_mismatch",
    }
}

impl Analyzer for AttackScan {
    fn analyze(&mut self, batch: &mut StagedBatch) {
        for item in batch.items.iter_mut().filter(|i| i.scan.is_none()) {
            let endpoint = item.facts.as_ref().and_then(|f| f.endpoint());
            let client = item
                .facts
                .as_ref()
                .map_or(item.tx.client.ip(), |f| f.client_ip());
            self.scan(&item.tx, endpoint, client);
            let outcome = if self.findings.is_empty() {
                Outcome::NoResponse
            } else {
                self.verdict(&item.tx)
            };
            item.scan = Some(Scan {
                findings: std::mem::take(&mut self.findings),
                outcome,
            });
        }
    }
}
