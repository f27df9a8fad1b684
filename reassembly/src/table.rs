//! The flow table: a hash index over a slab of flows, with an intrusive LRU list.
//!
//! The index holds only slot numbers; the key lives once, in the slab (a `FlowKey` is 72
//! bytes, so this saves that much per flow at `max_flows` scale).
//!
//! The LRU list is ordered by last-seen packet time (the reassembler's monotonic clock), so the
//! oldest flow is both the one to evict at `max_flows` and the first to check for idleness:
//! eviction, touch and idle expiry are O(1) per flow.
//!
//! The list's links live in their own array beside the slab, 8 bytes per slot: a touch (every
//! packet) rewrites the links of the flow's two neighbours, and with the links inside the
//! flows each of those was a cold flow's cache line (two write misses per packet among
//! thousands of flows); the links of 4,000 flows fit in 32 KiB.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::event::{ConnId, Side};
use crate::segment::FlowKey;
use crate::stream::Stream;

/// Seed of the flow-index hasher: fixed so that runs are reproducible (no `RandomState`).
const INDEX_HASH_SEED: u64 = 0x6170_6974_6170_0001;

/// "No slot" in the LRU links.
const NIL: u32 = u32::MAX;

/// Index of a side in [`Flow::streams`].
#[inline]
pub(crate) fn side_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// One tracked connection.
#[derive(Debug)]
pub(crate) struct Flow {
    /// Table key.
    pub key: FlowKey,
    /// Connection id announced in Open.
    pub conn: ConnId,
    /// True when `key.lo` is the client.
    pub lo_is_client: bool,
    /// Reassembler clock at the last segment.
    pub last_seen_us: u64,
    /// Both directions, indexed by [`side_index`] of the sender.
    pub streams: [Stream; 2],
    /// Slot live (false while on the free list).
    live: bool,
}

/// A slot's neighbours in the LRU list.
#[derive(Clone, Copy, Debug)]
struct Link {
    /// Older neighbour.
    prev: u32,
    /// Newer neighbour.
    next: u32,
}

/// Links of a slot outside the list.
const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

impl Flow {
    /// A new flow, not yet linked.
    pub(crate) fn new(key: FlowKey, conn: ConnId, lo_is_client: bool) -> Flow {
        Flow {
            key,
            conn,
            lo_is_client,
            last_seen_us: 0,
            streams: [Stream::default(), Stream::default()],
            live: true,
        }
    }

    /// Side of the sender of a segment, given whether it came from `key.lo`.
    #[inline]
    pub(crate) fn side_of(&self, from_lo: bool) -> Side {
        if from_lo == self.lo_is_client {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// Stream sent by `side`.
    #[inline]
    pub(crate) fn stream_mut(&mut self, side: Side) -> &mut Stream {
        &mut self.streams[side_index(side)]
    }

    /// Stream sent by `side`.
    #[inline]
    pub(crate) fn stream(&self, side: Side) -> &Stream {
        &self.streams[side_index(side)]
    }
}

/// Hash index + slab + LRU list of flows.
#[derive(Debug)]
pub(crate) struct FlowTable {
    /// Slots of the live flows, hashed by their key.
    index: HashTable<u32>,
    /// Hasher of the keys (fixed seed: deterministic).
    hasher: FixedState,
    /// Flow storage; free slots are listed in `free`.
    slots: Vec<Flow>,
    /// LRU links, by slot (as long as `slots`).
    links: Vec<Link>,
    /// Free slots.
    free: Vec<u32>,
    /// Least recently seen live flow.
    head: u32,
    /// Most recently seen live flow.
    tail: u32,
}

// Invariant: `index` holds exactly the live slots, each hashed by its flow's key; the LRU list
// from `head` to `tail` (through `links`) links exactly the live slots, in non-decreasing
// `last_seen_us`; `free` lists exactly the slots that are not live.
impl FlowTable {
    /// An empty table.
    pub(crate) fn new() -> FlowTable {
        FlowTable {
            index: HashTable::new(),
            hasher: FixedState::with_seed(INDEX_HASH_SEED),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Live flows.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Slot of `key`.
    #[inline]
    pub(crate) fn get(&self, key: &FlowKey) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hasher.hash_one(key), |&slot| {
                slots[slot as usize].key == *key
            })
            .copied()
    }

    /// The flow in `slot`, if live.
    #[inline]
    pub(crate) fn live(&self, slot: u32) -> Option<&Flow> {
        self.slots.get(slot as usize).filter(|f| f.live)
    }

    /// The flow in `slot`, which must be live.
    #[inline]
    pub(crate) fn flow(&self, slot: u32) -> &Flow {
        debug_assert!(self.slots[slot as usize].live);
        &self.slots[slot as usize]
    }

    /// The flow in `slot`, which must be live.
    #[inline]
    pub(crate) fn flow_mut(&mut self, slot: u32) -> &mut Flow {
        debug_assert!(self.slots[slot as usize].live);
        &mut self.slots[slot as usize]
    }

    /// Least recently seen flow.
    #[inline]
    pub(crate) fn oldest(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Slots of all live flows with their connection ids, in no particular order.
    pub(crate) fn live_conns(&self) -> Vec<(ConnId, u32)> {
        self.index
            .iter()
            .map(|&slot| (self.slots[slot as usize].conn, slot))
            .collect()
    }

    /// Stores a new flow (key not present) as the most recent one; returns its slot.
    pub(crate) fn insert(&mut self, flow: Flow, now_us: u64) -> u32 {
        debug_assert!(self.get(&flow.key).is_none(), "duplicate flow key");
        let hash = self.hasher.hash_one(flow.key);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = flow;
                slot
            }
            None => {
                self.slots.push(flow);
                self.links.push(UNLINKED);
                // Cannot fail: the reassembler caps `max_flows` below `u32::MAX` (= NIL).
                u32::try_from(self.slots.len() - 1).expect("more than 2^32 flow slots")
            }
        };
        self.slots[slot as usize].last_seen_us = now_us;
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| hasher.hash_one(slots[s as usize].key));
        self.link_tail(slot);
        debug_assert_eq!(self.index.len() + self.free.len(), self.slots.len());
        slot
    }

    /// Marks `slot` as just seen at `now_us` (moves it to the recent end).
    #[inline]
    pub(crate) fn touch(&mut self, slot: u32, now_us: u64) {
        debug_assert!(now_us >= self.slots[self.tail as usize].last_seen_us);
        self.slots[slot as usize].last_seen_us = now_us;
        if self.tail != slot {
            self.unlink(slot);
            self.link_tail(slot);
        }
    }

    /// Removes the flow in `slot` and frees the slot. Its streams must have been released.
    pub(crate) fn remove(&mut self, slot: u32) {
        let hash = self.hasher.hash_one(self.slots[slot as usize].key);
        debug_assert!(self.slots[slot as usize].live);
        debug_assert!(self.slots[slot as usize]
            .streams
            .iter()
            .all(|s| s.buffered() == 0));
        match self.index.find_entry(hash, |&s| s == slot) {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => debug_assert!(false, "live slot missing from the index"),
        }
        self.unlink(slot);
        self.slots[slot as usize].live = false;
        self.free.push(slot);
        debug_assert_eq!(self.index.len() + self.free.len(), self.slots.len());
    }

    /// Appends `slot` at the recent end of the LRU list.
    fn link_tail(&mut self, slot: u32) {
        let old_tail = self.tail;
        self.links[slot as usize] = Link {
            prev: old_tail,
            next: NIL,
        };
        if old_tail == NIL {
            self.head = slot;
        } else {
            self.links[old_tail as usize].next = slot;
        }
        self.tail = slot;
    }

    /// Takes `slot` out of the LRU list.
    fn unlink(&mut self, slot: u32) {
        let Link { prev, next } = self.links[slot as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        self.links[slot as usize] = UNLINKED;
    }
}
