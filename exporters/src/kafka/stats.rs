//! Counters shared between the capture thread and librdkafka's delivery-report thread, and
//! rate-limited logging of errors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::classify::ErrorClass;

/// At most one log line per error class per this interval; the lines in between are
/// counted and the next line says how many were suppressed.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Outcomes of queued records, counted by the delivery-report callback.
///
/// Invariant: every queued record gets exactly one delivery report (librdkafka guarantees
/// it, purged records included), so once the queue is empty
/// `queued = delivered + retriable + final + unknown + shutdown`.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Acknowledged by the broker (with `acks=all`: by every in-sync replica).
    pub delivered: AtomicU64,
    /// Failed after retries ran out (`message_timeout_ms`).
    pub retriable: AtomicU64,
    /// Refused for good.
    pub final_: AtomicU64,
    /// Failed with an unclassified error.
    pub unknown: AtomicU64,
    /// Purged at shutdown, fate unknown.
    pub shutdown: AtomicU64,
}

impl DeliveryCounters {
    /// Count one delivery report.
    pub fn count(&self, outcome: Option<ErrorClass>) {
        let c = match outcome {
            None => &self.delivered,
            Some(ErrorClass::Retriable) => &self.retriable,
            Some(ErrorClass::Final) => &self.final_,
            Some(ErrorClass::Unknown) => &self.unknown,
            Some(ErrorClass::Shutdown) => &self.shutdown,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `[delivered, retriable, final, unknown, shutdown]` as they stand.
    pub fn load(&self) -> [u64; 5] {
        [
            self.delivered.load(Ordering::Relaxed),
            self.retriable.load(Ordering::Relaxed),
            self.final_.load(Ordering::Relaxed),
            self.unknown.load(Ordering::Relaxed),
            self.shutdown.load(Ordering::Relaxed),
        ]
    }
}

/// One line per [`LOG_INTERVAL`] at most, from any thread.
#[derive(Debug)]
pub struct RateLimitedLog {
    /// Reference point of `last_ms`.
    epoch: Instant,
    /// Milliseconds after `epoch` of the last line, `u64::MAX` before the first.
    last_ms: AtomicU64,
    /// Events not logged since the last line.
    suppressed: AtomicU64,
}

impl Default for RateLimitedLog {
    fn default() -> Self {
        RateLimitedLog {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl RateLimitedLog {
    /// Print `apitap: kafka: <line>` to stderr unless a line was printed less than
    /// [`LOG_INTERVAL`] ago; then only count it. `line` is built only when printed.
    pub fn log(&self, line: impl FnOnce() -> String) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let n = self.suppressed.swap(0, Ordering::Relaxed);
            if n > 0 {
                eprintln!(
                    "apitap: kafka: {} ({n} more like it in the last {} s)",
                    line(),
                    LOG_INTERVAL.as_secs()
                );
            } else {
                eprintln!("apitap: kafka: {}", line());
            }
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One [`RateLimitedLog`] per kind of trouble.
#[derive(Debug, Default)]
pub struct Logs {
    /// Retriable delivery failures.
    pub retriable: RateLimitedLog,
    /// Final delivery failures.
    pub final_: RateLimitedLog,
    /// Unknown delivery failures.
    pub unknown: RateLimitedLog,
    /// Client-level errors: brokers down, authentication, TLS.
    pub client: RateLimitedLog,
    /// librdkafka's own warnings and errors (connection refused, unknown producer id...).
    pub librdkafka: RateLimitedLog,
    /// Records refused by `send` (buffer full, too large).
    pub dropped: RateLimitedLog,
}

impl Logs {
    /// The log of a delivery failure class (`Shutdown` is reported once, at the end).
    pub fn for_class(&self, class: ErrorClass) -> Option<&RateLimitedLog> {
        match class {
            ErrorClass::Retriable => Some(&self.retriable),
            ErrorClass::Final => Some(&self.final_),
            ErrorClass::Unknown => Some(&self.unknown),
            ErrorClass::Shutdown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_line_within_interval_is_suppressed() {
        let l = RateLimitedLog::default();
        let mut built = 0;
        l.log(|| {
            built += 1;
            "first".into()
        });
        l.log(|| {
            built += 1;
            "second".into()
        });
        assert_eq!(built, 1);
        assert_eq!(l.suppressed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn counters_sum_up() {
        let c = DeliveryCounters::default();
        c.count(None);
        c.count(Some(ErrorClass::Final));
        c.count(Some(ErrorClass::Shutdown));
        assert_eq!(c.load(), [1, 0, 1, 0, 1]);
    }
}
