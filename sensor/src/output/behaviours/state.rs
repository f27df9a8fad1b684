//! The building blocks of the behaviours' state, each bounded: an LRU table of entities, a
//! set of id fingerprints, and a ring of evidence on packet time.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};

use apitap_sessionizer::prefetch;
use apitap_sessionizer::session::TransactionId;
use apitap_table::{Keyed, SlabTable};

/// Fingerprints of values (object ids, usernames, endpoints): a fixed seed, so that nothing
/// that reaches a record depends on the run. Two values collide with odds of 2^-64.
pub fn fingerprint(v: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6170_6974_6170_6265).hash_one(v)
}

/// Fingerprint of a pair of values (an endpoint and an id).
pub fn fingerprint2(a: &[u8], b: &[u8]) -> u64 {
    fingerprint(a) ^ fingerprint(b).rotate_left(17)
}

/// Heap bytes a piece of the behaviours' state owns, as allocated (capacities, not lengths):
/// what the stage's byte account (`behaviours.max_held_bytes`) adds up.
pub trait HeapBytes {
    /// Bytes owned on the heap.
    fn heap_bytes(&self) -> usize;
}

/// One entity's state in an [`Lru`] table, laid out for the touch: the key, the flags and
/// the state's first fields (the ones every transaction's update reads, [`SessionState`]'s
/// and [`ClientState`]'s first) in the slot's first [`HOT_SLOT_BYTES`], the slot on a line of
/// its own. A slot placed wherever the one before it ended (232 bytes for a session) spread
/// those fields over three or four lines.
///
/// [`SessionState`]: super::entity::SessionState
/// [`ClientState`]: super::entity::ClientState
#[derive(Debug)]
#[repr(C, align(64))]
struct Slot<K, V> {
    /// The key.
    key: K,
    /// Touched since it was last measured (on the table's `touched` list).
    dirty: bool,
    /// What the entry cost when last measured ([`Accounted::settle`]): its table entry and what
    /// its state owns.
    bytes: usize,
    /// The state.
    value: V,
}

/// Bytes at the start of a slot that a touch and an update read (the prefetch pass requests
/// these): two lines.
const HOT_SLOT_BYTES: usize = 128;

impl<K: Eq, V> Keyed for Slot<K, V> {
    type Key = K;
    fn key(&self) -> &K {
        &self.key
    }
}

/// Per-entity state (sessions, clients, users...), at most `max` entities; the least recently
/// touched one is forgotten to make room (counted in [`Lru::evicted`]). The table keeps an
/// account of the bytes its entries hold ([`Accounted::held_bytes`]), brought up to date by
/// [`Accounted::settle`] after the entries touched since the last one have changed.
///
/// Invariant: the table holds at most `max` entries, all on its one list, least recently
/// touched first; after [`Accounted::settle`], `held` is the sum of the entries' `bytes`.
#[derive(Debug)]
pub struct Lru<K, V> {
    /// The entries, with their list by last touch. Keys are chosen by whoever sends the
    /// traffic: the index hashes with a per-run seed (no output depends on it).
    table: SlabTable<Slot<K, V>, foldhash::fast::RandomState, 1>,
    /// The bound.
    max: usize,
    /// Bytes held by the entries, as last measured.
    held: usize,
    /// Slots touched since the last [`Accounted::settle`], each once (a slot forgotten and taken
    /// by a new entry may appear twice).
    touched: Vec<u32>,
    /// Entries forgotten at the bound.
    pub evicted: u64,
}

impl<K: Eq + Hash, V: Default + HeapBytes> Lru<K, V> {
    /// What an entry costs before its state owns anything: its slot, links and index share.
    pub const ENTRY_BYTES: usize =
        SlabTable::<Slot<K, V>, foldhash::fast::RandomState, 1>::ENTRY_BYTES;

    /// An empty table of at most `max` entries (at least 1).
    pub fn new(max: usize) -> Self {
        Lru {
            table: SlabTable::new(foldhash::fast::RandomState::default()),
            max: max.max(1),
            held: 0,
            touched: Vec::new(),
            evicted: 0,
        }
    }

    /// Request the slots that may hold `key`'s entry (a batch's prefetch pass, before its
    /// touches; only a hint). Returns the key's hash for [`Lru::find_hashed`].
    #[inline]
    pub fn prefetch(&self, key: &K) -> u64 {
        let hash = self.table.hash(key);
        self.table.candidates_hashed(hash, |slot| {
            let hot = HOT_SLOT_BYTES.min(std::mem::size_of::<Option<Slot<K, V>>>());
            prefetch::bytes(slot, hot)
        });
        hash
    }

    /// The slot of `key`'s entry when held, without touching it: a prefetch pass's hint for
    /// [`Lru::touch_at`], with the hash [`Lru::prefetch`] returned for `key`.
    #[inline]
    pub fn find_hashed(&self, hash: u64, key: &K) -> Option<u32> {
        self.table.find_hashed(hash, key)
    }

    /// The state in `slot` (from [`Lru::find_hashed`]), without touching it.
    #[inline]
    pub fn peek_at(&self, slot: u32) -> Option<&V> {
        Some(&self.table.get(slot)?.value)
    }

    /// The state of `key`, created (empty) when absent, and marked most recently touched.
    pub fn touch(&mut self, key: K) -> &mut V {
        self.touch_at(key, None)
    }

    /// [`Lru::touch`], looking in `hint` first (a slot [`Lru::find_hashed`] gave for `key`
    /// earlier: used only while it still holds `key`, so a stale hint costs a lookup, never
    /// a wrong entry).
    pub fn touch_at(&mut self, key: K, hint: Option<u32>) -> &mut V {
        let hinted = hint.filter(|&s| self.table.get(s).is_some_and(|e| e.key == key));
        let slot = match hinted.or_else(|| self.table.find(&key)) {
            Some(s) => {
                self.table.move_to_back(0, s);
                s
            }
            None => self.insert_new(key),
        };
        debug_assert!(self.table.len() <= self.max);
        let e = self.table.get_mut(slot).expect("a slot just found");
        if !e.dirty {
            e.dirty = true;
            self.touched.push(slot);
        }
        &mut e.value
    }

    /// The slot of a new, empty entry for `key` (not held), made most recently touched; at
    /// the bound the least recently touched entry is forgotten first. Out of line: an entity
    /// is made once and touched many times, and every transaction runs the touch's code.
    #[cold]
    #[inline(never)]
    fn insert_new(&mut self, key: K) -> u32 {
        if self.table.len() >= self.max && self.forget_oldest() {
            self.evicted += 1;
        }
        let slot = self
            .table
            .insert(Slot {
                key,
                value: V::default(),
                bytes: 0,
                dirty: false,
            })
            .expect("bounds are validated far below the slot limit");
        self.table.push_back(0, slot);
        slot
    }

    /// Entities held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }
}

/// A table in the behaviours' byte account: what it holds, and how it gives some up.
pub trait Accounted {
    /// Measure again what changed since the last call.
    fn settle(&mut self);
    /// Bytes held, as of the last [`Accounted::settle`].
    fn held_bytes(&self) -> usize;
    /// Forget the least recently touched entity; `false` when there is none. The caller
    /// counts why.
    fn forget_oldest(&mut self) -> bool;
}

impl<K: Eq + Hash, V: Default + HeapBytes> Accounted for Lru<K, V> {
    /// Measure again the entries touched since the last call. A touched entry forgotten since
    /// is skipped (its bytes left with it); one whose slot a new entry took is measured as
    /// that entry.
    fn settle(&mut self) {
        for slot in self.touched.drain(..) {
            if let Some(e) = self.table.get_mut(slot).filter(|e| e.dirty) {
                let now = Self::ENTRY_BYTES + e.value.heap_bytes();
                self.held = self.held - e.bytes + now;
                e.bytes = now;
                e.dirty = false;
            }
        }
    }

    fn held_bytes(&self) -> usize {
        self.held
    }

    fn forget_oldest(&mut self) -> bool {
        let Some(old) = self.table.head(0) else {
            return false;
        };
        if let Some(e) = self.table.remove(old) {
            self.held -= e.bytes;
        }
        true
    }
}

/// What [`IdSet::insert`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The value was new and is now remembered.
    New,
    /// The value was remembered already.
    Seen,
    /// The value is new, but the set is full: not remembered (counted by the caller).
    Full,
}

/// Values an [`IdSet`] holds in sorted order before it turns to a hash set: up to here an
/// insert's search and shift stay within a few cache lines (2 KiB at the most), and most
/// sets (a session's ids of one endpoint, its issued ids) never reach it.
const SORTED_MAX_IDS: usize = 256;

/// Values of a sorted [`IdSet`] a prefetch requests whole (four cache lines); of a larger
/// set, only the lines a binary search reads first.
const PREFETCH_WHOLE_IDS: usize = 32;

/// Room a sorted [`IdSet`] first makes: most sets hold a handful of values.
const SORTED_FIRST_IDS: usize = 4;

/// Fingerprints of distinct values, at most `max` (given at each insert: the bound is a
/// config field and sets are many). Small sets are a sorted vector grown by half (8 bytes a
/// value and a quarter spare at the most, where a hash set's buckets and control bytes took
/// 10-20 bytes a value), large ones a hash set.
///
/// Invariant: a sorted set holds at most [`SORTED_MAX_IDS`] values, ascending, distinct.
#[derive(Debug)]
pub struct IdSet {
    /// The values.
    repr: IdRepr,
}

/// How an [`IdSet`] holds its values.
#[derive(Debug)]
enum IdRepr {
    /// Ascending.
    Sorted(Vec<u64>),
    /// Beyond [`SORTED_MAX_IDS`] (boxed: a set is then a vector's 24 bytes, where sets are
    /// many and few are large).
    Hashed(Box<hashbrown::HashSet<u64, foldhash::fast::FixedState>>),
}

impl Default for IdSet {
    fn default() -> Self {
        IdSet {
            repr: IdRepr::Sorted(Vec::new()),
        }
    }
}

impl IdSet {
    /// Remember `fp`, unless `max` values are remembered already.
    pub fn insert(&mut self, fp: u64, max: usize) -> Insert {
        let set = match &mut self.repr {
            IdRepr::Hashed(set) => set,
            IdRepr::Sorted(v) => {
                let Err(at) = v.binary_search(&fp) else {
                    return Insert::Seen;
                };
                if v.len() >= max {
                    return Insert::Full;
                }
                if v.len() < SORTED_MAX_IDS {
                    if v.len() == v.capacity() {
                        let more = (v.len() / 2).max(SORTED_FIRST_IDS);
                        v.reserve_exact(more.min(SORTED_MAX_IDS - v.len()));
                    }
                    v.insert(at, fp);
                    debug_assert!(v.len() <= SORTED_MAX_IDS);
                    return Insert::New;
                }
                // Full of sorted values and below the bound: from here on, a hash set.
                let mut set: hashbrown::HashSet<u64, _> = v.iter().copied().collect();
                set.insert(fp);
                self.repr = IdRepr::Hashed(Box::new(set));
                return Insert::New;
            }
        };
        // Below the bound one probe decides; at it, a value not there is turned away.
        if set.len() < max {
            return if set.insert(fp) {
                Insert::New
            } else {
                Insert::Seen
            };
        }
        if set.contains(&fp) {
            Insert::Seen
        } else {
            Insert::Full
        }
    }

    /// Request the values a search will read first (a sorted set's: all of a small one, the
    /// middle and quartiles of a large one, where a binary search looks first; a hash set's
    /// one probe is left to its lookup).
    #[inline]
    pub fn prefetch(&self) {
        let IdRepr::Sorted(v) = &self.repr else {
            return;
        };
        if v.len() <= PREFETCH_WHOLE_IDS {
            prefetch::slice(v);
        } else {
            for at in [v.len() / 4, v.len() / 2, v.len() * 3 / 4] {
                if let Some(x) = v.get(at) {
                    prefetch::line(x);
                }
            }
        }
    }

    /// True when `fp` is remembered.
    pub fn contains(&self, fp: u64) -> bool {
        match &self.repr {
            IdRepr::Sorted(v) => v.binary_search(&fp).is_ok(),
            IdRepr::Hashed(set) => set.contains(&fp),
        }
    }

    /// Values remembered.
    pub fn len(&self) -> usize {
        match &self.repr {
            IdRepr::Sorted(v) => v.len(),
            IdRepr::Hashed(set) => set.len(),
        }
    }
}

impl HeapBytes for IdSet {
    fn heap_bytes(&self) -> usize {
        match &self.repr {
            IdRepr::Sorted(v) => v.capacity() * std::mem::size_of::<u64>(),
            IdRepr::Hashed(set) => {
                std::mem::size_of::<hashbrown::HashSet<u64, foldhash::fast::FixedState>>()
                    + set.allocation_size()
            }
        }
    }
}

/// A bound on an [`IdSet`] and the counter of the values it turned away.
#[derive(Debug)]
pub struct Bound<'a> {
    /// Values a set may hold.
    pub max: usize,
    /// Values not remembered at the bound.
    pub dropped: &'a mut u64,
}

impl Bound<'_> {
    /// Remember `fp` in `set`; `true` when it is new (a value turned away at the bound is
    /// counted and is not new: it cannot be told apart from the next time).
    pub fn first(&mut self, set: &mut IdSet, fp: u64) -> bool {
        match set.insert(fp, self.max) {
            Insert::New => true,
            Insert::Seen => false,
            Insert::Full => {
                *self.dropped += 1;
                false
            }
        }
    }
}

/// Entries a ring first makes room for: most rings stay small (a session's reads of one
/// endpoint), and each growth copies what is held.
const RING_FIRST_ENTRIES: usize = 4;

/// A piece of evidence in a [`Ring`]: a transaction at a packet time.
pub trait Timed: Copy {
    /// Packet time.
    fn ts_us(&self) -> u64;
    /// The transaction.
    fn tx(&self) -> TransactionId;
}

/// One piece of evidence: a transaction at a packet time, with a counter of its entity as it
/// stood before it (requests, attempts...), from which the window's totals follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Packet time.
    pub ts_us: u64,
    /// The transaction.
    pub tx: TransactionId,
    /// A counter of the entity before this transaction (what it is depends on the kind).
    pub before: u64,
    /// A second kind-specific value (a second counter, a numeric id, a client fingerprint).
    pub aux: i64,
}

impl Timed for Evidence {
    fn ts_us(&self) -> u64 {
        self.ts_us
    }
    fn tx(&self) -> TransactionId {
        self.tx
    }
}

/// A first read of an object (`bola`, `scraping`): the evidence most of the stage's memory
/// holds (every session and client reading objects keeps two rings of them), in 24 bytes
/// where an [`Evidence`] takes 40. Its counter keeps the low 32 bits: [`Read::since`] is
/// exact while fewer than 2^32 counts (requests of one entity, ids it owns) fall between a
/// read and now, and a ring holds reads of one window (a session making 2^32 requests in
/// `bola.window_ms`' 10 minutes would make 7 million a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// Packet time.
    pub ts_us: u64,
    /// The transaction's connection ([`TransactionId::conn`]).
    conn: u64,
    /// The transaction's position on it ([`TransactionId::depth`]).
    depth: u32,
    /// The low 32 bits of a counter of the entity before this read.
    before: u32,
}

impl Read {
    /// The read of `tx` at `ts_us`, with the entity's counter `before` it.
    pub fn new(ts_us: u64, tx: TransactionId, before: u64) -> Self {
        Read {
            ts_us,
            conn: tx.conn,
            depth: tx.depth,
            // The low bits: differences are taken modulo 2^32 (`since`).
            before: before as u32,
        }
    }

    /// How far the counter moved from this read's `before` to `now` (the same counter).
    pub fn since(&self, now: u64) -> u64 {
        u64::from((now as u32).wrapping_sub(self.before))
    }
}

impl Timed for Read {
    fn ts_us(&self) -> u64 {
        self.ts_us
    }
    fn tx(&self) -> TransactionId {
        TransactionId {
            conn: self.conn,
            depth: self.depth,
        }
    }
}

/// The last `cap` pieces of evidence of one kind for one entity. "At least `cap` events
/// within `window`" holds exactly when the ring is full and its oldest entry is within the
/// window: the ring needs no more than `cap` entries to decide it. It grows by half
/// (exactly, never past `cap`) rather than doubling: most rings never fill, and doubling
/// left a quarter of what they held unused.
#[derive(Debug)]
pub struct Ring<E = Evidence> {
    /// Oldest first.
    items: VecDeque<E>,
    /// Packet time before which this kind does not fire again for the entity (it fired).
    pub quiet_until_us: u64,
}

impl<E> Default for Ring<E> {
    fn default() -> Self {
        Ring {
            items: VecDeque::new(),
            quiet_until_us: 0,
        }
    }
}

impl<E: Timed> Ring<E> {
    /// Add `e`, forgetting the oldest entry when `cap` are held.
    pub fn push(&mut self, e: E, cap: usize) {
        let cap = cap.max(1);
        let len = self.items.len();
        if len >= cap {
            while self.items.len() >= cap {
                self.items.pop_front();
            }
        } else if len == self.items.capacity() {
            let more = (len / 2).max(RING_FIRST_ENTRIES).min(cap - len);
            self.items.reserve_exact(more);
        }
        self.items.push_back(e);
        debug_assert!(self.items.capacity() <= cap.max(RING_FIRST_ENTRIES));
    }

    /// The evidence, oldest first, when the ring holds `cap` entries and the oldest is at most
    /// `window_us` older than `now_us`, and the kind is not quiet.
    pub fn full_within(&self, cap: usize, now_us: u64, window_us: u64) -> Option<&VecDeque<E>> {
        // The length and the quiet time first: they are in the ring's header, where the
        // oldest entry is a line of its own, out of the caches for most rings (most never
        // fill, and a ring of a first read is pushed at its other end).
        if self.items.len() < cap || now_us < self.quiet_until_us {
            return None;
        }
        let oldest = self.items.front()?;
        (now_us.saturating_sub(oldest.ts_us()) <= window_us).then_some(&self.items)
    }

    /// The kind fired at `now_us`: forget the evidence and stay quiet for `window_us`.
    pub fn fired(&mut self, now_us: u64, window_us: u64) {
        self.items.clear();
        self.quiet_until_us = now_us.saturating_add(window_us);
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

impl<E> HeapBytes for Ring<E> {
    fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<E>()
    }
}

/// Registers of a [`Distinct`] estimate, as a power of two: 2^11 one-byte registers, a
/// standard error of about 1.04 / sqrt(2048) = 2.3 % (Flajolet et al., HyperLogLog, 2007).
const HLL_BITS: u32 = 11;
/// Registers of a [`Distinct`] estimate.
const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// An estimate of how many distinct values were added (HyperLogLog): a fixed 2 KiB however
/// many, where a set of a popular endpoint's objects grew to megabytes and cost a cache miss
/// per insert. Registers are allocated with the first value; the estimator's sum is kept up
/// to date as registers change, so that taking it ([`Distinct::snapshot`]) costs nothing.
///
/// Invariant: `sum` is the sum of `2^-r` over the registers and `zeros` counts the zero
/// ones (both for all-zero registers before the first value).
#[derive(Debug)]
pub struct Distinct {
    /// Per register, the largest rank seen.
    regs: Option<Box<[u8; HLL_REGISTERS]>>,
    /// Sum of `2^-register`.
    sum: f64,
    /// Registers still zero.
    zeros: usize,
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct {
            regs: None,
            sum: HLL_REGISTERS as f64,
            zeros: HLL_REGISTERS,
        }
    }
}

impl Distinct {
    /// Add a value by its fingerprint (uniform 64 bits).
    pub fn add(&mut self, fp: u64) {
        let regs = self
            .regs
            .get_or_insert_with(|| Box::new([0; HLL_REGISTERS]));
        let idx = (fp >> (64 - HLL_BITS)) as usize;
        // The rank of the remaining bits: leading zeros + 1, with a stop bit so that all
        // zeros rank 64 - HLL_BITS + 1.
        let rest = (fp << HLL_BITS) | (1 << (HLL_BITS - 1));
        let rank = (rest.leading_zeros() + 1) as u8;
        if let Some(r) = regs.get_mut(idx).filter(|r| **r < rank) {
            self.sum += pow2_neg(rank) - pow2_neg(*r);
            if *r == 0 {
                self.zeros -= 1;
            }
            *r = rank;
        }
    }

    /// The estimator as it stands, to be worked out later: most readers never need the
    /// estimate (a logarithm), only the few decisions that get that far.
    pub fn snapshot(&self) -> Estimate {
        Estimate {
            sum: self.sum,
            zeros: self.zeros,
        }
    }
}

/// `2^-r` for a register's rank (at most 64 - [`HLL_BITS`] + 1, far inside an `f64`'s
/// exponent), built from its bits: exactly the value `2f64.powi(-r)` gives, without a call.
fn pow2_neg(r: u8) -> f64 {
    f64::from_bits((1023 - u64::from(r)) << 52)
}

/// A [`Distinct`]'s estimator at one moment ([`Distinct::snapshot`]); the default is the
/// estimate of nothing (0).
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// Sum of `2^-register`.
    sum: f64,
    /// Registers still zero.
    zeros: usize,
}

impl Default for Estimate {
    fn default() -> Self {
        Distinct::default().snapshot()
    }
}

impl Estimate {
    /// The estimated number of distinct values (linear counting while registers are empty).
    pub fn value(&self) -> f64 {
        let m = HLL_REGISTERS as f64;
        if self.zeros == HLL_REGISTERS {
            return 0.0;
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / self.sum;
        if raw <= 2.5 * m && self.zeros > 0 {
            m * (m / self.zeros as f64).ln()
        } else {
            raw
        }
    }

    /// [`Estimate::value`], rounded to a count.
    pub fn count(&self) -> usize {
        self.value().round() as usize
    }
}

impl HeapBytes for Distinct {
    fn heap_bytes(&self) -> usize {
        self.regs.as_ref().map_or(0, |r| r.len())
    }
}

/// Coefficient of variation (standard deviation / mean) of the gaps between the evidence
/// times; `None` with fewer than two gaps or a zero mean.
pub fn interval_cv<E: Timed>(items: &VecDeque<E>) -> Option<f64> {
    let gaps: Vec<f64> = items
        .iter()
        .zip(items.iter().skip(1))
        .map(|(a, b)| b.ts_us().saturating_sub(a.ts_us()) as f64)
        .collect();
    if gaps.len() < 2 {
        return None;
    }
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

/// Median of `v` (reordered); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HeapBytes for u64 {
        fn heap_bytes(&self) -> usize {
            0
        }
    }

    impl HeapBytes for IdSetOwner {
        fn heap_bytes(&self) -> usize {
            self.0.heap_bytes()
        }
    }

    /// An entity that owns a set, for the byte account's tests.
    #[derive(Default)]
    struct IdSetOwner(IdSet);

    /// The account follows what entries own as they grow, and what leaves with them.
    #[test]
    fn lru_accounts_for_what_its_entries_hold() {
        let mut t: Lru<u32, IdSetOwner> = Lru::new(10);
        let entry = Lru::<u32, IdSetOwner>::ENTRY_BYTES;
        t.touch(1);
        t.touch(2);
        t.settle();
        assert_eq!(t.held_bytes(), 2 * entry, "empty sets own nothing");
        for i in 0..1000 {
            t.touch(1).0.insert(i, usize::MAX);
        }
        t.settle();
        let one = t.touch(1).0.heap_bytes();
        assert!(one >= 1000 * 8, "{one}");
        assert_eq!(t.held_bytes(), 2 * entry + one);
        assert!(t.forget_oldest(), "2 is the least recently touched");
        t.settle();
        assert_eq!(t.held_bytes(), entry + one);
        assert!(t.forget_oldest());
        assert!(!t.forget_oldest(), "empty");
        t.settle();
        assert_eq!(
            t.held_bytes(),
            0,
            "a touched entry forgotten since left nothing"
        );
    }

    fn ev(ts_us: u64) -> Evidence {
        Evidence {
            ts_us,
            tx: TransactionId { conn: 1, depth: 1 },
            before: 0,
            aux: 0,
        }
    }

    /// At the bound the least recently touched entity goes, and the eviction is counted.
    #[test]
    fn lru_forgets_the_least_recently_touched() {
        let mut t: Lru<u32, u64> = Lru::new(2);
        *t.touch(1) = 10;
        *t.touch(2) = 20;
        assert_eq!(*t.touch(1), 10, "touching 1 makes 2 the oldest");
        *t.touch(3) = 30;
        assert_eq!((t.len(), t.evicted), (2, 1));
        assert_eq!(*t.touch(1), 10);
        assert_eq!(*t.touch(2), 0, "2 was forgotten: it starts over");
        assert_eq!(t.evicted, 2);
    }

    /// A prefetch pass's slot is only a hint: once its entry is forgotten and the slot taken
    /// by another key, touching the first key by it makes the first key's entry again, never
    /// returns the slot's new one, and keeps the LRU order.
    #[test]
    fn a_stale_slot_hint_is_looked_past() {
        let mut t: Lru<u32, u64> = Lru::new(3);
        *t.touch(1) = 10;
        let find = |t: &Lru<u32, u64>, k| t.find_hashed(t.prefetch(&k), &k);
        let hint = find(&t, 1);
        assert_eq!(hint.and_then(|s| t.peek_at(s)), Some(&10));
        assert_eq!(*t.touch_at(1, hint), 10, "a fresh hint finds its entry");
        *t.touch(2) = 20;
        *t.touch(3) = 30;
        *t.touch(4) = 40; // forgets 1: 4 takes its slot
        assert_eq!(find(&t, 4), hint);
        assert_eq!(*t.touch_at(1, hint), 0, "1 was forgotten: it starts over");
        assert_eq!(t.evicted, 2, "and 2, the oldest, made room for it");
        assert_eq!(*t.touch_at(4, hint), 40, "the slot's own key");
        *t.touch(5) = 50; // forgets 3, the oldest
        assert_eq!((*t.touch(4), *t.touch(1), *t.touch(3)), (40, 0, 0));
    }

    /// What every transaction's update reads of a session's and a client's slot lies in the
    /// slot's first two lines, and the slot starts a line.
    #[test]
    fn the_updates_fields_are_in_the_slots_first_lines() {
        use super::super::entity::{Activity, ClientState, Objects, SessionState};
        use apitap_sessionizer::session::HashId;
        use std::mem::{align_of, offset_of, size_of};
        type S = Slot<HashId, SessionState>;
        type C = Slot<std::net::IpAddr, ClientState>;
        let session_end = offset_of!(S, value) + offset_of!(SessionState, objects);
        let client_end = offset_of!(C, value) + offset_of!(ClientState, objects);
        assert!(session_end + size_of::<Objects>() <= HOT_SLOT_BYTES);
        assert!(client_end + size_of::<Objects>() <= HOT_SLOT_BYTES);
        assert!(offset_of!(S, value) + offset_of!(SessionState, known) < session_end);
        assert!(offset_of!(C, value) + size_of::<Activity>() <= client_end);
        assert_eq!((align_of::<S>(), align_of::<C>()), (64, 64));
    }

    #[test]
    fn id_sets_are_bounded() {
        let mut s = IdSet::default();
        assert_eq!(s.insert(1, 2), Insert::New);
        assert_eq!(s.insert(1, 2), Insert::Seen);
        assert_eq!(s.insert(2, 2), Insert::New);
        assert_eq!(s.insert(3, 2), Insert::Full);
        assert_eq!(s.insert(2, 2), Insert::Seen);
        assert!(!s.contains(3) && s.len() == 2);
    }

    proptest::proptest! {
        /// An id set answers as a plain hash set with the same bound does, small and past
        /// its sorted size, and its byte account is what it holds.
        #[test]
        fn id_sets_answer_as_a_hash_set(
            values in proptest::collection::vec(0u64..400, 0..900),
            max in 1usize..600,
        ) {
            let mut fast = IdSet::default();
            let mut slow = std::collections::HashSet::new();
            for v in values {
                let fp = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let want = if slow.contains(&fp) {
                    Insert::Seen
                } else if slow.len() >= max {
                    Insert::Full
                } else {
                    slow.insert(fp);
                    Insert::New
                };
                proptest::prop_assert_eq!(fast.insert(fp, max), want);
                proptest::prop_assert_eq!(fast.len(), slow.len());
                proptest::prop_assert!(fast.contains(fp) == slow.contains(&fp));
                proptest::prop_assert!(fast.heap_bytes() >= 8 * fast.len());
            }
        }
    }

    /// Small sets hold 8 bytes a value and grow by half.
    #[test]
    fn small_id_sets_are_compact() {
        assert_eq!(std::mem::size_of::<IdSet>(), 24, "a vector");
        let mut s = IdSet::default();
        assert_eq!(s.heap_bytes(), 0);
        for i in 0..20u64 {
            s.insert(i * 7, usize::MAX);
        }
        assert_eq!(s.heap_bytes(), 27 * 8, "room for 4, 8, 12, 18, 27");
        for i in 20..(SORTED_MAX_IDS as u64 + 1) {
            s.insert(i * 7, usize::MAX);
        }
        assert!(s.contains(0) && s.contains(SORTED_MAX_IDS as u64 * 7));
        assert!(matches!(s.repr, IdRepr::Hashed(_)), "past the sorted size");
    }

    /// N events within the window, exactly: the window's edge included, one microsecond
    /// beyond it excluded.
    #[test]
    fn ring_decides_n_within_a_window_at_its_edges() {
        let mut r = Ring::default();
        for t in [0, 500, 1000] {
            r.push(ev(t), 3);
        }
        assert!(
            r.full_within(3, 1000, 1000).is_some(),
            "span 1000 within 1000"
        );
        assert!(
            r.full_within(3, 1001, 1000).is_none(),
            "oldest now 1001 old"
        );
        assert!(r.full_within(4, 1000, 1000).is_none(), "only 3 held");
        r.push(ev(1001), 3);
        assert!(r.full_within(3, 1001, 1000).is_some(), "oldest is 500 now");
        r.fired(1001, 1000);
        assert_eq!(r.len(), 0);
        for t in [1100, 1200, 1300] {
            r.push(ev(t), 3);
        }
        assert!(r.full_within(3, 1300, 1000).is_none(), "quiet until 2001");
        for t in [2001, 2002] {
            r.push(ev(t), 3);
        }
        assert!(r.full_within(3, 2002, 1000).is_some());
    }

    /// A ring makes room by half of what it holds, never past its cap, and counts what it
    /// makes room for in the byte account.
    #[test]
    fn rings_grow_by_half_up_to_their_cap() {
        let mut r: Ring<Read> = Ring::default();
        assert_eq!(r.heap_bytes(), 0, "nothing before the first push");
        let mut caps = Vec::new();
        for t in 0..200 {
            r.push(Read::new(t, TransactionId { conn: 1, depth: 1 }, t), 100);
            let cap = r.heap_bytes() / std::mem::size_of::<Read>();
            if caps.last() != Some(&cap) {
                caps.push(cap);
            }
        }
        assert_eq!(caps, [4, 8, 12, 18, 27, 40, 60, 90, 100]);
        assert_eq!(r.len(), 100);
        let mut small: Ring<Read> = Ring::default();
        small.push(Read::new(0, TransactionId { conn: 1, depth: 1 }, 0), 2);
        assert_eq!(small.heap_bytes(), 2 * std::mem::size_of::<Read>());
    }

    /// A read keeps its transaction and time whole, and the counter's distance exact across
    /// the low 32 bits' wrap.
    #[test]
    fn reads_are_compact_and_exact() {
        assert_eq!(std::mem::size_of::<Read>(), 24);
        let tx = TransactionId {
            conn: u64::MAX - 3,
            depth: u32::MAX,
        };
        let r = Read::new(u64::MAX, tx, (1 << 32) - 2);
        assert_eq!((r.ts_us(), r.tx()), (u64::MAX, tx));
        assert_eq!(r.since((1 << 32) - 2), 0);
        assert_eq!(r.since((1 << 32) + 5), 7, "across the wrap");
        assert_eq!(
            r.since((1 << 33) - 3),
            (1 << 32) - 1,
            "the largest exact distance"
        );
    }

    #[test]
    fn steady_gaps_have_a_small_cv_and_bursts_a_large_one() {
        let steady: VecDeque<Evidence> = (0..10).map(|i| ev(i * 1000)).collect();
        assert!(interval_cv(&steady).unwrap() < 1e-9);
        let bursty: VecDeque<Evidence> = [0, 1, 2, 3, 10_000, 10_001, 10_002, 20_000]
            .into_iter()
            .map(ev)
            .collect();
        assert!(interval_cv(&bursty).unwrap() > 1.0);
        assert_eq!(interval_cv(&steady.iter().take(2).copied().collect()), None);
    }

    /// The estimate stays within a few standard errors of the exact count, small and large.
    #[test]
    fn distinct_estimates_are_close() {
        for n in [0u64, 1, 10, 100, 1000, 20_000, 200_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.add(fingerprint(&i.to_le_bytes()));
                d.add(fingerprint(&i.to_le_bytes()));
            }
            let e = d.snapshot().value();
            let tolerance = (n as f64 * 0.07).max(1.0);
            assert!((e - n as f64).abs() <= tolerance, "{n}: {e}");
        }
    }

    /// The registers' powers of two are the ones `powi` computes, bit for bit, for every
    /// rank a register can take.
    #[test]
    fn powers_of_two_are_exact() {
        for r in 0..=(64 - HLL_BITS + 1) as u8 {
            assert_eq!(
                pow2_neg(r).to_bits(),
                2f64.powi(-i32::from(r)).to_bits(),
                "{r}"
            );
        }
        assert_eq!(Estimate::default().count(), 0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
