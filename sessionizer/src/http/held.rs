//! Stream events held back, in arrival order, until it is known which parser reads them: the
//! first bytes of a connection while its protocol is sniffed, and the client bytes that follow
//! a request that may switch protocols (CONNECT, `Upgrade`). Handed on piece by piece, they
//! reach the next parser exactly as they came, gaps included.

use apitap_reassembly::Side;

/// One held event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// Bytes of `side`, received at `ts_us`, ending at `end` in `Held::bytes`.
    Data { side: Side, ts_us: u64, end: usize },
    /// `len` bytes of `side` lost (a gap, or past the bound).
    Gap { side: Side, ts_us: u64, len: u64 },
}

/// A held event, as handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Bytes of one side and their packet time.
    Data(Side, u64, &'a [u8]),
    /// Bytes of one side lost, noticed at a packet time.
    Gap(Side, u64, u64),
}

/// Held events and their bytes.
///
/// Invariant: the `end`s of `Data` pieces are strictly increasing, the last one is
/// `bytes.len()`, and every data piece is non-empty. `kept[i]` is the bytes of side `i` held;
/// once a side lost bytes (`lost[i] > 0`) it holds no more data, only a gap count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    kept: [usize; 2],
    lost: [u64; 2],
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Held {
    /// Nothing held.
    pub fn new() -> Self {
        Held::default()
    }

    /// Bytes held, both sides.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Heap bytes held, as allocated (bytes and the list of pieces).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.pieces.capacity() * std::mem::size_of::<Piece>()
    }

    /// True when nothing (no byte, no gap) is held.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Bytes of `side` held.
    pub fn kept(&self, side: Side) -> usize {
        self.kept.get(index(side)).copied().unwrap_or(0)
    }

    /// Bytes of `side` not held: lost in gaps, or past the bound.
    pub fn lost(&self, side: Side) -> u64 {
        self.lost.get(index(side)).copied().unwrap_or(0)
    }

    /// Holds `data` of `side`, received at `ts_us`, as far as `max_bytes` of that side allow;
    /// returns how many bytes did not fit. They are held as a gap, and so is everything of that
    /// side after them.
    pub fn push(&mut self, side: Side, ts_us: u64, data: &[u8], max_bytes: usize) -> usize {
        let i = index(side);
        let room = if self.lost(side) > 0 {
            0
        } else {
            max_bytes.saturating_sub(self.kept(side))
        };
        let keep = data.get(..room.min(data.len())).unwrap_or_default();
        if !keep.is_empty() {
            self.bytes.extend_from_slice(keep);
            let end = self.bytes.len();
            self.pieces.push(Piece::Data { side, ts_us, end });
            if let Some(k) = self.kept.get_mut(i) {
                *k += keep.len();
            }
        }
        let over = data.len() - keep.len();
        self.lose(side, ts_us, over as u64);
        over
    }

    /// `len` bytes of `side` were lost at `ts_us` (a reassembly gap).
    pub fn lose(&mut self, side: Side, ts_us: u64, len: u64) {
        if len == 0 {
            return;
        }
        if let Some(l) = self.lost.get_mut(index(side)) {
            *l += len;
        }
        match self.pieces.last_mut() {
            Some(Piece::Gap {
                side: s, len: n, ..
            }) if *s == side => *n += len,
            _ => self.pieces.push(Piece::Gap { side, ts_us, len }),
        }
    }

    /// The bytes of `side` held, in order (copied only when the other side's bytes are
    /// interleaved).
    pub fn side_bytes(&self, side: Side) -> std::borrow::Cow<'_, [u8]> {
        if self.kept(side) == self.bytes.len() {
            return std::borrow::Cow::Borrowed(&self.bytes);
        }
        let mut out = Vec::with_capacity(self.kept(side));
        for e in self.events() {
            if let Event::Data(s, _, d) = e {
                if s == side {
                    out.extend_from_slice(d);
                }
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// The events in arrival order.
    pub fn events(&self) -> impl Iterator<Item = Event<'_>> + '_ {
        let mut start = 0;
        self.pieces.iter().map(move |p| match *p {
            Piece::Data { side, ts_us, end } => {
                let piece = self.bytes.get(start..end).unwrap_or_default();
                start = end;
                Event::Data(side, ts_us, piece)
            }
            Piece::Gap { side, ts_us, len } => Event::Gap(side, ts_us, len),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_in_order_with_their_times_up_to_the_bound() {
        let mut h = Held::new();
        assert_eq!(h.push(Side::Client, 1, b"ab", 5), 0);
        assert_eq!(h.push(Side::Server, 2, b"xyz", 5), 0);
        assert_eq!(h.push(Side::Client, 3, b"", 5), 0);
        assert_eq!(h.push(Side::Client, 4, b"cdef", 5), 1);
        assert_eq!(
            h.push(Side::Client, 5, b"g", 9),
            1,
            "nothing is held after a loss"
        );
        h.lose(Side::Server, 6, 10);
        let events: Vec<Event<'_>> = h.events().collect();
        assert_eq!(
            events,
            vec![
                Event::Data(Side::Client, 1, b"ab"),
                Event::Data(Side::Server, 2, b"xyz"),
                Event::Data(Side::Client, 4, b"cde"),
                Event::Gap(Side::Client, 4, 2),
                Event::Gap(Side::Server, 6, 10),
            ]
        );
        assert_eq!(&*h.side_bytes(Side::Client), b"abcde");
        assert_eq!((h.kept(Side::Client), h.lost(Side::Client)), (5, 2));
        assert_eq!((h.len(), h.lost(Side::Server)), (8, 10));
    }
}
