//! The response gate: when a request is whole, a reader of requests (attack detection) can
//! say whether it needs the response's body. Storing every response body costs a copy of
//! most of the traffic; detection reads one only to judge an attack's outcome, so with a gate
//! it is stored for the requests that carry one.
//!
//! With [`super::capture::SelectedCapture::gated_responses`] set, the gate is asked for
//! every HTTP/1 request as it completes (its bytes just parsed, still in cache), and its
//! verdict waits on the transaction for the final response, with a body or not, even one
//! another reader stores anyway: the gate's reading of the request is then the only one. A
//! request not yet whole when its response begins (the server answered early), or one that
//! raised an HTTP or TCP anomaly by then (a `protocol` finding), keeps its response's body
//! without asking. The answer is recorded on the response ([`GateVerdict`]), so that the
//! reader can skip reading again a request it already found clean.

use super::transaction::{GateNote, GateVerdict, Transaction};

/// Decides, from a whole request, whether its response's body is stored.
pub trait ResponseGate: Send + std::fmt::Debug {
    /// Whether the response to `tx` (its request whole; its response may not have begun)
    /// should have its body stored: `Some` with what the gate notes for its reader, or `None`.
    fn keeps_response_body(&mut self, tx: &Transaction) -> Option<GateNote>;
}

/// The gate's verdict on `tx`'s response body: [`GateVerdict::Kept`] with an empty note,
/// without asking, when the request is not whole or carries an anomaly; else what `gate`
/// says.
pub fn verdict(gate: &mut dyn ResponseGate, tx: &Transaction, request_whole: bool) -> GateVerdict {
    if !request_whole || anomalous(tx) {
        return GateVerdict::Kept(GateNote::default());
    }
    match gate.keeps_response_body(tx) {
        Some(note) => GateVerdict::Kept(note),
        None => GateVerdict::Declined,
    }
}

/// True when `tx` raised an HTTP or TCP anomaly: its response's body is kept without asking
/// (a `protocol` finding's outcome reads it).
pub fn anomalous(tx: &Transaction) -> bool {
    !tx.anomalies.is_empty() || !tx.tcp_anomalies.is_empty()
}
