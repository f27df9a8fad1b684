//! Whether the brokers can be reached, told apart quickly: a host name that does not resolve,
//! a connection refused, or no answer in time. librdkafka retries all three alike, forever;
//! its log says at once which one it met, and this module listens to that log.
//!
//! [`BrokerHealth`] is fed from a client context's callbacks (`rdkafka` delivers librdkafka's
//! log lines as events, when the client is polled); [`wait_for_brokers`] fetches metadata in
//! short steps, serves those events between two, and gives up as soon as every bootstrap
//! broker has failed to connect.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::Client;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// How long one metadata request of [`wait_for_brokers`] waits before the failures seen so far
/// are looked at again.
const METADATA_STEP: Duration = Duration::from_millis(250);

/// Why a broker connection failed, as librdkafka's log tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The host name does not resolve.
    Unresolvable,
    /// The host answered the connection with a refusal (nothing listens on the port).
    Refused,
    /// Anything else: a timeout, a reset, TLS or SASL trouble.
    Other,
}

/// One broker connection failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What kind.
    pub kind: FailureKind,
    /// librdkafka's words, without its thread prefix.
    pub message: String,
}

/// What a failed connection was, from a librdkafka `FAIL` log line; None for other lines.
/// `[thrd:b:9/bootstrap]: b:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection
/// refused (after 0ms in state CONNECT)` gives the broker `b:9/bootstrap` and `Refused`.
pub fn parse_failure(message: &str) -> Option<(String, Failure)> {
    let rest = match message.strip_prefix("[thrd:") {
        Some(r) => r.split_once("]: ")?.1,
        None => message,
    };
    let (broker, text) = rest.split_once(": ")?;
    let kind = if text.contains("Failed to resolve") {
        FailureKind::Unresolvable
    } else if text.contains("Connection refused") {
        FailureKind::Refused
    } else {
        FailureKind::Other
    };
    Some((
        broker.to_owned(),
        Failure {
            kind,
            message: text.to_owned(),
        },
    ))
}

/// What the client's callbacks said about the brokers. Shared between librdkafka's threads
/// and the caller; every method is cheap.
#[derive(Debug, Default)]
pub struct BrokerHealth {
    /// The last failure of each broker (by librdkafka's name, `host:port/id`), cleared when the
    /// brokers are known to answer.
    failures: Mutex<BTreeMap<String, Failure>>,
    /// Since when every broker connection is down (`AllBrokersDown`); None while one is up.
    down_since: Mutex<Option<Instant>>,
    /// A failure or a down period is noted: [`BrokerHealth::note_answer`], called for every
    /// delivered record, has something to clear (otherwise it costs one load).
    trouble: AtomicBool,
}

impl BrokerHealth {
    /// A `FAIL` log line: remember what happened to that broker.
    pub fn note_log(&self, facility: &str, message: &str) {
        if facility != "FAIL" {
            return;
        }
        if let Some((broker, failure)) = parse_failure(message) {
            if let Ok(mut f) = self.failures.lock() {
                f.insert(broker, failure);
                self.trouble.store(true, Ordering::Release);
            }
        }
    }

    /// A client error event: `AllBrokersDown` starts a down period. Returns true when it is
    /// the start of one (worth a log line), false otherwise.
    pub fn note_error(&self, code: RDKafkaErrorCode) -> bool {
        if code != RDKafkaErrorCode::AllBrokersDown {
            return false;
        }
        match self.down_since.lock() {
            Ok(mut d) if d.is_none() => {
                *d = Some(Instant::now());
                self.trouble.store(true, Ordering::Release);
                true
            }
            _ => false,
        }
    }

    /// A broker answered (a delivery, metadata): the down period and the failures are over.
    pub fn note_answer(&self) {
        if !self.trouble.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut d) = self.down_since.lock() {
            *d = None;
        }
        if let Ok(mut f) = self.failures.lock() {
            f.clear();
        }
    }

    /// How long every broker has been down, if they are.
    pub fn down_for(&self) -> Option<Duration> {
        self.down_since.lock().ok()?.map(|t| t.elapsed())
    }

    /// When each of `bootstrap` brokers has failed to connect: the failure that says the most
    /// (unresolvable before refused before anything else). None while one has not failed yet.
    pub fn all_failed(&self, bootstrap: usize) -> Option<Failure> {
        let f = self.failures.lock().ok()?;
        let bootstrap_failed = f.keys().filter(|b| b.ends_with("/bootstrap")).count();
        if bootstrap == 0 || bootstrap_failed < bootstrap {
            return None;
        }
        let rank = |k: FailureKind| match k {
            FailureKind::Unresolvable => 0,
            FailureKind::Refused => 1,
            FailureKind::Other => 2,
        };
        f.values().min_by_key(|x| rank(x.kind)).cloned()
    }

    /// The last failure seen, whatever it was (for a timeout's message).
    pub fn any_failure(&self) -> Option<Failure> {
        self.failures.lock().ok()?.values().next().cloned()
    }
}

/// A client context that only notes broker failures in its [`BrokerHealth`], for the clients
/// that wait for brokers (`consume`'s consumer, the topic check of `create_topics`).
#[derive(Debug, Default)]
pub struct HealthContext {
    /// What the callbacks said.
    pub health: BrokerHealth,
}

impl ClientContext for HealthContext {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.health.note_log(fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, _reason: &str) {
        if let Some(code) = error.rdkafka_error_code() {
            self.health.note_error(code);
        }
    }
}

impl rdkafka::consumer::ConsumerContext for HealthContext {}

impl rdkafka::producer::ProducerContext for HealthContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

/// Whether every broker of `brokers` (`host:port` each) refuses a TCP connection right now,
/// or has a name that does not resolve: the failure that says so, else None (one accepts, or
/// does not answer within `timeout`, which is not known to be down). Independent of
/// librdkafka, whose reconnection backoff (up to 10 s) can lag behind a broker that is back.
pub fn refusing(brokers: &[String], timeout: Duration) -> Option<Failure> {
    use std::net::{TcpStream, ToSocketAddrs};
    let mut last = None;
    for b in brokers {
        let addrs = match b.to_socket_addrs() {
            Ok(a) => a.collect::<Vec<_>>(),
            Err(e) => {
                last = Some(Failure {
                    kind: FailureKind::Unresolvable,
                    message: format!("cannot resolve {b}: {e}"),
                });
                continue;
            }
        };
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    last = Some(Failure {
                        kind: FailureKind::Refused,
                        message: format!("{b} ({addr}) refused the connection"),
                    });
                }
                // Accepted, or no answer: not known to be down.
                _ => return None,
            }
        }
    }
    last
}

/// No broker could be reached.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// A host name of the bootstrap list does not resolve.
    #[error(
        "cannot resolve the broker address in {brokers}: {message}; check the host name \
         (and DNS)"
    )]
    Unresolvable {
        /// The bootstrap list.
        brokers: String,
        /// librdkafka's words.
        message: String,
    },
    /// Every bootstrap broker refused the connection.
    #[error(
        "brokers {brokers} refused the connection: {message}; check the port and that the \
         broker runs"
    )]
    Refused {
        /// The bootstrap list.
        brokers: String,
        /// librdkafka's words.
        message: String,
    },
    /// Every bootstrap broker failed some other way (TLS, SASL, reset).
    #[error("cannot connect to brokers {brokers}: {message}")]
    Failed {
        /// The bootstrap list.
        brokers: String,
        /// librdkafka's words.
        message: String,
    },
    /// Nothing answered in time (a firewall that drops, a host that is down).
    #[error("no broker of {brokers} answered within {timeout_ms} ms{last}")]
    Timeout {
        /// The bootstrap list.
        brokers: String,
        /// The wait.
        timeout_ms: u64,
        /// `: <the last failure>`, or nothing.
        last: String,
    },
}

impl Unreachable {
    /// The error for a failure of every bootstrap broker.
    pub fn from_failure(brokers: &str, f: Failure) -> Self {
        let brokers = brokers.to_owned();
        let message = f.message;
        match f.kind {
            FailureKind::Unresolvable => Unreachable::Unresolvable { brokers, message },
            FailureKind::Refused => Unreachable::Refused { brokers, message },
            FailureKind::Other => Unreachable::Failed { brokers, message },
        }
    }
}

/// Fetch the cluster's metadata through `client`, giving up within `timeout`, or at once when
/// every bootstrap broker of `brokers` (comma-separated) has failed to connect. `serve` polls
/// the client, so that its log events reach `health` (a client polled by a thread of its own,
/// like a `ThreadedProducer`, needs nothing: pass `|| ()`).
pub fn wait_for_brokers<C: ClientContext>(
    client: &Client<C>,
    health: &BrokerHealth,
    brokers: &str,
    timeout: Duration,
    mut serve: impl FnMut(),
) -> Result<Metadata, Unreachable> {
    let bootstrap = brokers.split(',').filter(|b| !b.trim().is_empty()).count();
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if let Ok(md) = client.fetch_metadata(None, left.min(METADATA_STEP)) {
            health.note_answer();
            return Ok(md);
        }
        serve();
        if let Some(f) = health.all_failed(bootstrap) {
            return Err(Unreachable::from_failure(brokers, f));
        }
        if start.elapsed() >= timeout {
            return Err(Unreachable::Timeout {
                brokers: brokers.to_owned(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                last: health
                    .any_failure()
                    .map_or_else(String::new, |f| format!(" (last: {})", f.message)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines librdkafka 2.12 wrote for a refused port and an unknown host.
    const REFUSED: &str = "[thrd:127.0.0.1:9/bootstrap]: 127.0.0.1:9/bootstrap: Connect to \
                           ipv4#127.0.0.1:9 failed: Connection refused (after 0ms in state CONNECT)";
    const UNRESOLVABLE: &str = "[thrd:no-such-host.invalid:9092/bootstrap]: \
                                no-such-host.invalid:9092/bootstrap: Failed to resolve \
                                'no-such-host.invalid:9092': Name or service not known (after \
                                1ms in state CONNECT)";

    #[test]
    fn failures_are_told_apart() {
        let table = [
            (REFUSED, "127.0.0.1:9/bootstrap", FailureKind::Refused),
            (
                UNRESOLVABLE,
                "no-such-host.invalid:9092/bootstrap",
                FailureKind::Unresolvable,
            ),
            (
                "b:1/1: Disconnected (after 4ms in state UP)",
                "b:1/1",
                FailureKind::Other,
            ),
        ];
        for (line, broker, kind) in table {
            let (b, f) = parse_failure(line).unwrap();
            assert_eq!((b.as_str(), f.kind), (broker, kind), "{line}");
            assert!(!f.message.starts_with("[thrd:"), "{}", f.message);
        }
        assert_eq!(parse_failure("no colon here"), None);
    }

    #[test]
    fn all_failed_waits_for_every_bootstrap_broker_and_prefers_the_clearest_cause() {
        let h = BrokerHealth::default();
        h.note_log("FAIL", REFUSED);
        assert_eq!(h.all_failed(2), None, "one of two has not failed yet");
        h.note_log("FAIL", UNRESOLVABLE);
        assert_eq!(h.all_failed(2).unwrap().kind, FailureKind::Unresolvable);
        h.note_log("CONNECT", "ignored: not a failure line");
        h.note_answer();
        assert_eq!(h.all_failed(1), None, "an answer clears the failures");
    }

    #[test]
    fn a_down_period_starts_once() {
        let h = BrokerHealth::default();
        assert!(h.down_for().is_none());
        assert!(!h.note_error(RDKafkaErrorCode::BrokerTransportFailure));
        assert!(h.note_error(RDKafkaErrorCode::AllBrokersDown));
        assert!(!h.note_error(RDKafkaErrorCode::AllBrokersDown));
        assert!(h.down_for().is_some());
        h.note_answer();
        assert!(h.down_for().is_none());
    }

    #[test]
    fn refusing_tells_a_closed_port_from_a_listening_one() {
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listening.local_addr().unwrap().to_string();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let t = Duration::from_secs(2);
        let f = refusing(std::slice::from_ref(&closed), t).unwrap();
        assert_eq!(f.kind, FailureKind::Refused, "{}", f.message);
        assert_eq!(refusing(&[closed.clone(), open], t), None, "one accepts");
        let f = refusing(&["no-such-host.invalid:9092".into()], t).unwrap();
        assert_eq!(f.kind, FailureKind::Unresolvable, "{}", f.message);
    }

    #[test]
    fn messages_say_which_it_is() {
        let f = |kind| Failure {
            kind,
            message: "m".into(),
        };
        let resolve = Unreachable::from_failure("h:1", f(FailureKind::Unresolvable)).to_string();
        let refused = Unreachable::from_failure("h:1", f(FailureKind::Refused)).to_string();
        assert!(resolve.contains("cannot resolve"), "{resolve}");
        assert!(refused.contains("refused"), "{refused}");
        assert_ne!(resolve, refused);
    }
}
