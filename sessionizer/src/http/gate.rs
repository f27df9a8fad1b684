//! The response gate: when a response's head arrives, its request is whole, and a reader of
//! requests (attack detection) can say whether it needs the response's body. Storing every
//! response body costs a copy of most of the traffic; detection reads one only to judge an
//! attack's outcome, so with a gate it is stored for the requests that carry one.
//!
//! With [`super::capture::SelectedCapture::gated_responses`] set, the gate is asked at every
//! HTTP/1 final response, with a body or not, even one another reader stores anyway: its
//! reading of the request is then the only one. A request not yet whole (the server
//! answered early), or one that already raised an HTTP or TCP anomaly (a `protocol`
//! finding), keeps its response's body without asking. The answer is recorded on the
//! response ([`GateVerdict`]), so that the reader can skip reading again a request it
//! already found clean.

use super::transaction::{GateNote, GateVerdict, Transaction};

/// Decides, from a whole request, whether its response's body is stored.
pub trait ResponseGate: Send + std::fmt::Debug {
    /// Whether the response to `tx` (its request whole, its response head parsed) should
    /// have its body stored: `Some` with what the gate notes for its reader, or `None`.
    fn keeps_response_body(&mut self, tx: &Transaction) -> Option<GateNote>;
}

/// The gate's verdict on `tx`'s response body: [`GateVerdict::Kept`] with an empty note,
/// without asking, when the request is not whole or carries an anomaly; else what `gate`
/// says.
pub fn verdict(gate: &mut dyn ResponseGate, tx: &Transaction, request_whole: bool) -> GateVerdict {
    let anomalous = !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty();
    if !request_whole || anomalous {
        return GateVerdict::Kept(GateNote::default());
    }
    match gate.keeps_response_body(tx) {
        Some(note) => GateVerdict::Kept(note),
        None => GateVerdict::Declined,
    }
}
