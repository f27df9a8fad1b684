//! The flow table: a hash index over a slab of flows, with an LRU list
//! ([`apitap_table::SlabTable`], shared with the session table).
//!
//! The LRU list is ordered by last-seen packet time (the reassembler's monotonic clock), so the
//! oldest flow is both the one to evict at `max_flows` and the first to check for idleness:
//! eviction, touch and idle expiry are O(1) per flow.
//!
//! Flow keys are chosen by whoever sends the traffic, so the index hashes them with a per-run
//! random seed: slot numbers, list order and connection ids do not depend on the hash, so
//! output does not either.

use apitap_table::{Keyed, SlabTable};
use foldhash::fast::RandomState;

use crate::event::{ConnId, Side};
use crate::segment::FlowKey;
use crate::stream::Stream;

/// The LRU list, by last-seen packet time.
const LRU: usize = 0;

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
}

impl Keyed for Flow {
    type Key = FlowKey;
    fn key(&self) -> &FlowKey {
        &self.key
    }
}

impl Flow {
    /// A new flow, not yet linked.
    pub(crate) fn new(key: FlowKey, conn: ConnId, lo_is_client: bool) -> Flow {
        Flow {
            key,
            conn,
            lo_is_client,
            last_seen_us: 0,
            streams: [Stream::default(), Stream::default()],
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
    table: SlabTable<Flow, RandomState, 1>,
}

// Invariant: the LRU list links exactly the live slots, in non-decreasing `last_seen_us`
// (the table's own invariant covers the index and the slots).
impl FlowTable {
    /// Memory one flow costs at the most, in bytes (its slot, link and index share), in a
    /// table built [`FlowTable::with_capacity`] and held to it; its streams own nothing
    /// until they buffer out-of-order or retained bytes, which the global budgets count.
    pub(crate) const FLOW_BYTES: usize = SlabTable::<Flow, RandomState, 1>::ENTRY_BYTES;

    /// An empty table that never copies itself growing up to `max_flows` flows (a copy holds
    /// the old and the new slab at once).
    pub(crate) fn with_capacity(max_flows: usize) -> FlowTable {
        FlowTable {
            table: SlabTable::with_capacity(RandomState::default(), max_flows),
        }
    }

    /// Live flows.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Slot of `key`.
    #[inline]
    pub(crate) fn get(&self, key: &FlowKey) -> Option<u32> {
        self.table.find(key)
    }

    /// The flow in `slot`, if live.
    #[inline]
    pub(crate) fn live(&self, slot: u32) -> Option<&Flow> {
        self.table.get(slot)
    }

    /// The flow in `slot`, which must be live (slots come from this table: a dead one is a
    /// bug in the reassembler, not something packets can cause).
    #[inline]
    pub(crate) fn flow(&self, slot: u32) -> &Flow {
        self.table.get(slot).expect("a live flow slot")
    }

    /// The flow in `slot`, which must be live.
    #[inline]
    pub(crate) fn flow_mut(&mut self, slot: u32) -> &mut Flow {
        self.table.get_mut(slot).expect("a live flow slot")
    }

    /// Least recently seen flow.
    #[inline]
    pub(crate) fn oldest(&self) -> Option<u32> {
        self.table.head(LRU)
    }

    /// Slots of all live flows with their connection ids, in slot order.
    pub(crate) fn live_conns(&self) -> Vec<(ConnId, u32)> {
        self.table.iter().map(|(slot, f)| (f.conn, slot)).collect()
    }

    /// Stores a new flow (key not present) as the most recent one; returns its slot. The
    /// reassembler caps `max_flows` far below the table's slot limit, so this never fails.
    pub(crate) fn insert(&mut self, mut flow: Flow, now_us: u64) -> u32 {
        flow.last_seen_us = now_us;
        let slot = self
            .table
            .insert(flow)
            .expect("max_flows below the slot limit");
        self.table.push_back(LRU, slot);
        slot
    }

    /// Marks `slot` as just seen at `now_us` (moves it to the recent end).
    #[inline]
    pub(crate) fn touch(&mut self, slot: u32, now_us: u64) {
        self.flow_mut(slot).last_seen_us = now_us;
        self.table.move_to_back(LRU, slot);
    }

    /// Removes the flow in `slot` and frees the slot. Its streams must have been released.
    pub(crate) fn remove(&mut self, slot: u32) {
        debug_assert!(self.flow(slot).streams.iter().all(|s| s.buffered() == 0));
        self.table.remove(slot);
    }
}
