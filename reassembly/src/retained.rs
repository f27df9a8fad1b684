//! Delivered bytes of one direction kept until the peer acknowledges them, so that a later
//! copy of them can be compared (insertion evasion: a first copy the receiver never accepted,
//! then the real one).

use std::collections::VecDeque;

/// Buffer capacity a stream keeps once everything it retained was acknowledged; a larger one
/// (left by a burst) is freed, so that idle keep-alive connections hold no memory for it.
const IDLE_CAPACITY_BYTES: usize = 4096;

/// The two bounds of what all streams keep, and what they keep now.
#[derive(Debug, Default)]
pub(crate) struct RetainBudget {
    /// `max_retained_bytes_per_stream` of the config; 0 keeps nothing.
    pub max_stream_bytes: usize,
    /// `max_retained_bytes_total` of the config.
    pub max_total_bytes: usize,
    /// Bytes kept over all streams.
    pub total: usize,
    /// Times the per-stream bound dropped kept bytes.
    pub stream_hits: u64,
    /// Times the total bound made a stream drop what it kept.
    pub global_hits: u64,
}

/// The delivered, unacknowledged tail of one direction: bytes `[start, start + bytes.len())`
/// of its stream.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    /// Stream offset of `bytes[0]`.
    start: u64,
    /// The bytes, in stream order.
    bytes: VecDeque<u8>,
}

// Invariant: `bytes.len() <= max_stream_bytes`, and the `bytes.len()` of every stream sums to
// `RetainBudget::total`, which stays at or below `max_total_bytes`.
impl Retained {
    /// Offset one past the last kept byte.
    #[inline]
    pub(crate) fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Bytes kept.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Keeps `data`, just delivered at stream offset `at`. Bytes before a gap are no longer
    /// comparable and are dropped; at a bound the oldest are dropped (counted).
    pub(crate) fn push(&mut self, at: u64, data: &[u8], budget: &mut RetainBudget) {
        if budget.max_stream_bytes == 0 || data.is_empty() {
            return;
        }
        if at != self.end() {
            self.clear(budget);
            self.start = at;
        }
        let over = (self.bytes.len() + data.len()).saturating_sub(budget.max_stream_bytes);
        if over > 0 {
            budget.stream_hits += 1;
        }
        // The `over` oldest bytes go: the kept ones first, then the head of `data`.
        let from_kept = over.min(self.bytes.len());
        self.drop_front(from_kept, budget);
        let cut = over - from_kept;
        self.start += cut as u64;
        let data = data.get(cut..).unwrap_or_default();
        if budget.total.saturating_add(data.len()) > budget.max_total_bytes {
            budget.global_hits += 1;
            self.clear(budget);
            self.start += data.len() as u64;
            return;
        }
        self.bytes.extend(data);
        budget.total += data.len();
    }

    /// The peer acknowledged every byte before stream offset `acked`.
    pub(crate) fn ack(&mut self, acked: u64, budget: &mut RetainBudget) {
        if acked <= self.start {
            return;
        }
        let n = usize::try_from(acked - self.start).unwrap_or(usize::MAX);
        self.drop_front(n, budget);
        if self.bytes.is_empty() {
            self.start = acked.max(self.start);
            self.release_capacity();
        }
    }

    /// The offset of the first byte of `data` (at stream offset `at`) that differs from the
    /// kept bytes it overlaps; None when they agree or do not overlap.
    pub(crate) fn first_difference(&self, at: u64, data: &[u8]) -> Option<u64> {
        let from = at.max(self.start);
        let to = (at + data.len() as u64).min(self.end());
        if from >= to {
            return None;
        }
        let ours = usize::try_from(from - at).ok()?;
        let kept = usize::try_from(from - self.start).ok()?;
        let n = usize::try_from(to - from).ok()?;
        let theirs = data.get(ours..ours + n)?;
        self.bytes
            .range(kept..kept + n)
            .zip(theirs)
            .position(|(a, b)| a != b)
            .map(|k| from + k as u64)
    }

    /// Drops everything kept.
    pub(crate) fn clear(&mut self, budget: &mut RetainBudget) {
        budget.total -= self.bytes.len();
        self.start = self.end();
        self.bytes.clear();
        self.release_capacity();
    }

    /// Frees a large buffer once nothing is kept in it.
    fn release_capacity(&mut self) {
        if self.bytes.capacity() > IDLE_CAPACITY_BYTES {
            self.bytes = VecDeque::new();
        }
    }

    /// Drops the `n` oldest bytes (all when fewer).
    fn drop_front(&mut self, n: usize, budget: &mut RetainBudget) {
        let n = n.min(self.bytes.len());
        if n == 0 {
            return;
        }
        self.bytes.drain(..n);
        self.start += n as u64;
        budget.total -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(stream: usize, total: usize) -> RetainBudget {
        RetainBudget {
            max_stream_bytes: stream,
            max_total_bytes: total,
            ..RetainBudget::default()
        }
    }

    /// Kept bytes are compared where they overlap; acknowledged ones are forgotten.
    #[test]
    fn compares_until_acknowledged() {
        let mut b = budget(100, 1000);
        let mut r = Retained::default();
        r.push(0, b"GET /a HTTP/1.1\r\n", &mut b);
        assert_eq!(r.first_difference(4, b"/a"), None);
        assert_eq!(r.first_difference(4, b"/b"), Some(5));
        assert_eq!(r.first_difference(15, b"\r\nHost"), None, "past the end");
        r.ack(6, &mut b);
        assert_eq!(r.first_difference(4, b"/b"), None, "acknowledged");
        assert_eq!(r.len(), 11);
        assert_eq!(b.total, 11);
    }

    /// Once everything is acknowledged a burst's buffer is freed: an idle connection holds
    /// no memory for it.
    #[test]
    fn acknowledged_burst_frees_its_buffer() {
        let mut b = budget(1 << 20, 1 << 20);
        let mut r = Retained::default();
        r.push(0, &[7u8; 100_000], &mut b);
        assert!(r.bytes.capacity() >= 100_000);
        r.ack(100_000, &mut b);
        assert_eq!((r.len(), b.total), (0, 0));
        assert!(r.bytes.capacity() <= IDLE_CAPACITY_BYTES);
        r.push(100_000, b"next", &mut b);
        assert_eq!(r.first_difference(100_000, b"next"), None);
    }

    /// At the per-stream bound the oldest bytes go, and the hit is counted; the budget
    /// follows every change.
    #[test]
    fn stream_bound_drops_the_oldest() {
        let mut b = budget(4, 1000);
        let mut r = Retained::default();
        r.push(0, b"abc", &mut b);
        r.push(3, b"def", &mut b);
        assert_eq!((r.len(), b.total, b.stream_hits), (4, 4, 1));
        assert_eq!(r.first_difference(2, b"cdef"), None);
        assert_eq!(r.first_difference(0, b"xx"), None, "a and b were dropped");
        r.push(6, b"0123456789", &mut b);
        assert_eq!((r.len(), b.stream_hits), (4, 2));
        assert_eq!(r.first_difference(12, b"6789"), None);
        assert_eq!(r.first_difference(12, b"6x89"), Some(13));
    }

    /// A gap restarts what is kept; the total bound makes a stream keep nothing.
    #[test]
    fn gap_and_total_bound() {
        let mut b = budget(100, 5);
        let mut r = Retained::default();
        r.push(0, b"abc", &mut b);
        r.push(10, b"xy", &mut b);
        assert_eq!((r.len(), b.total), (2, 2), "bytes before the gap dropped");
        r.push(12, b"zzzz", &mut b);
        assert_eq!((r.len(), b.total, b.global_hits), (0, 0, 1));
        r.clear(&mut b);
        assert_eq!(b.total, 0);
    }

    /// A bound of 0 keeps nothing and counts nothing.
    #[test]
    fn zero_keeps_nothing() {
        let mut b = budget(0, 5);
        let mut r = Retained::default();
        r.push(0, b"abc", &mut b);
        assert_eq!((r.len(), b.total, b.stream_hits), (0, 0, 0));
    }
}
