//! A slab of entries with a hash index over a key each entry holds, and `L` intrusive
//! doubly linked lists through the slots: the shape of apitap's flow table (one list: least
//! recently seen first) and session table (lists by last activity, part start and last
//! update).
//!
//! - The index holds only slot numbers (4 bytes each); the key lives once, in the entry.
//! - The lists' links live in an array beside the slab, `8 * L` bytes per slot: moving an
//!   entry to the back of a list (every packet, every transaction) rewrites its neighbours'
//!   links, which inside the entries were two cold entries' cache lines; the links of
//!   thousands of slots fit in the L1 cache.
//! - Slots are reused from a free list, so slot numbers and list orders do not depend on the
//!   index's hash: a table may use a per-run random seed (keys chosen by whoever sends the
//!   traffic) without changing any output.
//!
//! The table does not bound itself: the caller checks [`SlabTable::len`] against its limit
//! and removes the head of a list (its oldest entry) before inserting, and says what that
//! eviction means.

use hashbrown::HashTable;

/// An entry that carries the key it is indexed by.
pub trait Keyed {
    /// The key.
    type Key: Eq;
    /// The entry's key.
    fn key(&self) -> &Self::Key;
}

/// How a table hashes keys: a `std::hash::BuildHasher` for `Hash` keys, or a function of a key
/// that is already uniform (a keyed-hash output).
pub trait KeyHash<K> {
    /// The index hash of `key`.
    fn hash_key(&self, key: &K) -> u64;
}

impl<K: std::hash::Hash, S: std::hash::BuildHasher> KeyHash<K> for S {
    #[inline]
    fn hash_key(&self, key: &K) -> u64 {
        self.hash_one(key)
    }
}

/// "No slot" in the links.
const NIL: u32 = u32::MAX;

/// Bytes of the index per entry at the worst: a 4-byte slot number and a control byte per
/// bucket, at most 7 entries per 8 buckets and the bucket count rounded up to a power of two
/// (hashbrown's layout), so up to `5 * 8 / 7 * 2` bytes, rounded up.
const INDEX_BYTES_PER_ENTRY: usize = 12;

/// Bytes of the free list per slot at the worst (every slot freed once; a table built
/// [`SlabTable::with_capacity`] reserves them, so the list never doubles past them).
const FREE_BYTES_PER_SLOT: usize = std::mem::size_of::<u32>();

/// Most slots a table may hold: slot numbers are `u32` and `NIL` is reserved.
pub const MAX_SLOTS: usize = NIL as usize;

/// A slot's neighbours in one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Link {
    /// Older neighbour.
    prev: u32,
    /// Newer neighbour.
    next: u32,
}

/// Links of a slot outside a list.
const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// Ends of one list.
#[derive(Clone, Copy, Debug)]
struct Ends {
    /// Oldest.
    head: u32,
    /// Newest.
    tail: u32,
}

/// An empty list.
const EMPTY: Ends = Ends {
    head: NIL,
    tail: NIL,
};

/// Entries in a slab, indexed by key, threaded on `L` lists.
///
/// Invariant: `index` holds exactly the occupied slots, each hashed by its entry's key;
/// `free` lists exactly the empty slots; each list links occupied slots only, from `head` to
/// `tail` through `links`, and a slot outside a list has `UNLINKED` links for it.
#[derive(Debug)]
pub struct SlabTable<T, H, const L: usize> {
    index: HashTable<u32>,
    hasher: H,
    slots: Vec<Option<T>>,
    links: Vec<[Link; L]>,
    free: Vec<u32>,
    lists: [Ends; L],
}

impl<T: Keyed, H: KeyHash<T::Key>, const L: usize> SlabTable<T, H, L> {
    /// An empty table hashing keys with `hasher`.
    pub fn new(hasher: H) -> Self {
        SlabTable {
            index: HashTable::new(),
            hasher,
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY; L],
        }
    }

    /// An empty table with room for `capacity` entries: the slab, the links and the index
    /// never grow (nor copy themselves) below it. The slab's room is address space until
    /// entries use it, so a table sized for its bound costs memory as it fills. Room the
    /// system refuses (a bound far beyond the machine's memory) is not reserved: the table
    /// then grows as [`SlabTable::new`]'s does.
    pub fn with_capacity(hasher: H, capacity: usize) -> Self {
        let capacity = capacity.min(MAX_SLOTS);
        let mut t = SlabTable::new(hasher);
        // The index is empty: nothing is rehashed, the hash function is never called.
        let reserved = t.index.try_reserve(capacity, |_| 0).is_ok()
            && t.slots.try_reserve_exact(capacity).is_ok()
            && t.links.try_reserve_exact(capacity).is_ok()
            && t.free.try_reserve_exact(capacity).is_ok();
        if !reserved {
            return SlabTable::new(t.hasher);
        }
        t
    }

    /// Memory one entry costs at the most, in bytes: its slot, its links, its share of the
    /// index and of the free list, in a table built [`SlabTable::with_capacity`] and held to
    /// that capacity (a table grown by pushing may hold up to twice its slab while it
    /// doubles). What the entry owns on the heap is its own to count.
    pub const ENTRY_BYTES: usize = std::mem::size_of::<Option<T>>()
        + std::mem::size_of::<[Link; L]>()
        + INDEX_BYTES_PER_ENTRY
        + FREE_BYTES_PER_SLOT;

    /// Entries held.
    #[inline]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no entry is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of the entry keyed `key`.
    #[inline]
    pub fn find(&self, key: &T::Key) -> Option<u32> {
        self.find_hashed(self.hash(key), key)
    }

    /// The index hash of `key`, for a caller that looks it up twice ([`Self::candidates_hashed`],
    /// then [`Self::find_hashed`]).
    #[inline]
    pub fn hash(&self, key: &T::Key) -> u64 {
        self.hasher.hash_key(key)
    }

    /// [`Self::find`], with `hash` = [`Self::hash`] of `key`.
    #[inline]
    pub fn find_hashed(&self, hash: u64, key: &T::Key) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |&s| {
                entry_in(slots, s).is_some_and(|e| e.key() == key)
            })
            .copied()
    }

    /// Call `visit` with every slot that may hold `key`, without reading the slots (the
    /// index's own memory only): a batch's prefetch pass requests them before its lookups.
    #[inline]
    pub fn candidates(&self, key: &T::Key, visit: impl FnMut(*const Option<T>)) {
        self.candidates_hashed(self.hash(key), visit);
    }

    /// [`Self::candidates`], with `hash` = [`Self::hash`] of the key.
    #[inline]
    pub fn candidates_hashed(&self, hash: u64, mut visit: impl FnMut(*const Option<T>)) {
        let _ = self.index.find(hash, |&s| {
            if let Some(slot) = self.slots.get(s as usize) {
                visit(slot as *const Option<T>);
            }
            false
        });
    }

    /// The entry in `slot`, if it holds one.
    #[inline]
    pub fn get(&self, slot: u32) -> Option<&T> {
        entry_in(&self.slots, slot)
    }

    /// The entry in `slot`, if it holds one.
    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Store `entry`, whose key is not in the table, in a free slot; it is on no list yet.
    /// Returns its slot; `None` (and the entry is dropped) when [`MAX_SLOTS`] are in use,
    /// which a caller bounding the table far below that never sees.
    pub fn insert(&mut self, entry: T) -> Option<u32> {
        debug_assert!(self.find(entry.key()).is_none(), "duplicate key");
        let hash = self.hasher.hash_key(entry.key());
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(entry);
                self.links[slot as usize] = [UNLINKED; L];
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).ok().filter(|&s| s != NIL)?;
                self.slots.push(Some(entry));
                self.links.push([UNLINKED; L]);
                slot
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, slot, |&s| {
            entry_in(slots, s).map_or(0, |e| hasher.hash_key(e.key()))
        });
        debug_assert_eq!(self.index.len() + self.free.len(), self.slots.len());
        Some(slot)
    }

    /// Take the entry out of `slot` (off every list it is on) and free the slot.
    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        let hash = self.hasher.hash_key(entry.key());
        if let Ok(e) = self.index.find_entry(hash, |&s| s == slot) {
            e.remove();
        } else {
            debug_assert!(false, "occupied slot missing from the index");
        }
        for list in 0..L {
            if self.is_linked(list, slot) {
                self.unlink(list, slot);
            }
        }
        self.free.push(slot);
        debug_assert_eq!(self.index.len() + self.free.len(), self.slots.len());
        Some(entry)
    }

    /// The oldest slot of `list`.
    #[inline]
    pub fn head(&self, list: usize) -> Option<u32> {
        self.lists.get(list).map(|e| e.head).filter(|&h| h != NIL)
    }

    /// True when `slot` is on `list`.
    #[inline]
    pub fn is_linked(&self, list: usize, slot: u32) -> bool {
        let Some(link) = self.links.get(slot as usize).and_then(|l| l.get(list)) else {
            return false;
        };
        *link != UNLINKED || self.lists.get(list).is_some_and(|e| e.head == slot)
    }

    /// Append `slot` (on no list `list`) at the newest end of `list`.
    #[inline]
    pub fn push_back(&mut self, list: usize, slot: u32) {
        debug_assert!(self.get(slot).is_some() && !self.is_linked(list, slot));
        let Some(ends) = self.lists.get_mut(list) else {
            return;
        };
        let old_tail = ends.tail;
        ends.tail = slot;
        if old_tail == NIL {
            ends.head = slot;
        } else {
            self.links[old_tail as usize][list].next = slot;
        }
        self.links[slot as usize][list] = Link {
            prev: old_tail,
            next: NIL,
        };
    }

    /// Take `slot` off `list`.
    #[inline]
    pub fn unlink(&mut self, list: usize, slot: u32) {
        let Some(ends) = self.lists.get_mut(list) else {
            return;
        };
        let Link { prev, next } = self.links[slot as usize][list];
        if prev == NIL {
            ends.head = next;
        } else {
            self.links[prev as usize][list].next = next;
        }
        if next == NIL {
            ends.tail = prev;
        } else {
            self.links[next as usize][list].prev = prev;
        }
        self.links[slot as usize][list] = UNLINKED;
    }

    /// Move `slot` (on `list`) to the newest end of `list`.
    #[inline]
    pub fn move_to_back(&mut self, list: usize, slot: u32) {
        if self.lists.get(list).is_some_and(|e| e.tail != slot) {
            self.unlink(list, slot);
            self.push_back(list, slot);
        }
    }

    /// The slots of `list`, oldest first.
    pub fn list(&self, list: usize) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.lists.get(list).map_or(NIL, |e| e.head);
        std::iter::from_fn(move || {
            let slot = at;
            if slot == NIL {
                return None;
            }
            at = self.links[slot as usize][list].next;
            Some(slot)
        })
    }

    /// Every occupied slot and its entry, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i as u32, e.as_ref()?)))
    }

    /// Check the invariant (tests and debug builds): every list is consistent both ways and
    /// holds occupied slots only, and the index holds exactly the occupied slots.
    pub fn check(&self) -> Result<(), String> {
        for list in 0..L {
            let mut prev = NIL;
            for slot in self.list(list) {
                if self.get(slot).is_none() {
                    return Err(format!("list {list} links empty slot {slot}"));
                }
                if self.links[slot as usize][list].prev != prev {
                    return Err(format!("list {list}: slot {slot} has a wrong back link"));
                }
                prev = slot;
            }
            if self.lists[list].tail != prev {
                return Err(format!("list {list}: tail is not the last slot"));
            }
        }
        let occupied = self.slots.iter().filter(|s| s.is_some()).count();
        if occupied != self.index.len() || occupied + self.free.len() != self.slots.len() {
            return Err("index, free list and slots disagree".into());
        }
        match self.iter().find(|(s, e)| self.find(e.key()) != Some(*s)) {
            Some((slot, _)) => Err(format!("slot {slot} is not found by its key")),
            None => Ok(()),
        }
    }
}

/// The entry in `slot` of `slots`, if any.
#[inline]
fn entry_in<T>(slots: &[Option<T>], slot: u32) -> Option<&T> {
    slots.get(slot as usize)?.as_ref()
}

#[cfg(test)]
mod tests;
