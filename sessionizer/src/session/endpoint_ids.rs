//! Endpoint names as numbers, for the session table.
//!
//! Every transaction adds to its session's count for its endpoint. Finding the endpoint among
//! the session's by name read each listed name (a cold cache line apiece, the session's list
//! another); with an id per name, kept inside the session, the search compares numbers the
//! session already holds, and only the matching entry is read. The names themselves are few
//! and read on every transaction, so the table that numbers them stays in cache.
//!
//! Ids are only a shortcut, never the identity: a session whose ids do not hold a
//! transaction's id compares names before it adds an entry (see
//! [`super::Sessionizer::observe_facts`]). So clearing the table when it is full loses
//! nothing: ids are never reused, and a session's ids from before a clear only send it down
//! the name comparison once per endpoint.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use foldhash::fast::RandomState;

/// Names numbered before the table is cleared (each costs its name and a few words).
pub const MAX_ENDPOINT_IDS: usize = 65_536;

/// Ids kept inside a session before they spill to the heap: a session usually calls a
/// handful of endpoints.
pub const INLINE_ENDPOINT_IDS: usize = 6;

/// Numbers endpoint names: the same name, the same id until the table is cleared; an id is
/// never given to two names.
///
/// Invariant: every id in `table` is below `next`; `table.len() <= MAX_ENDPOINT_IDS`.
#[derive(Debug, Default)]
pub(crate) struct EndpointIds {
    /// Names and their ids.
    table: HashTable<(Box<str>, u64)>,
    /// Hashes names: with a per-run random seed, since paths are chosen by whoever sends the
    /// traffic (ids come from a counter, so nothing depends on the hash).
    hasher: RandomState,
    /// The next id to give (a `u64` never wraps: ids stay unique).
    next: u64,
}

impl EndpointIds {
    /// The id of `name`, numbered now if new.
    pub(crate) fn id(&mut self, name: &str) -> u64 {
        let hash = self.hasher.hash_one(name);
        if let Some((_, id)) = self.table.find(hash, |(n, _)| **n == *name) {
            return *id;
        }
        if self.table.len() >= MAX_ENDPOINT_IDS {
            self.table.clear();
        }
        let id = self.next;
        self.next += 1;
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, (name.into(), id), |(n, _)| hasher.hash_one(&**n));
        debug_assert!(self.table.len() <= MAX_ENDPOINT_IDS);
        id
    }

    /// Forget every name, as a full table does, keeping ids unique.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name keeps its id; ids differ between names and are not reused after a clear.
    #[test]
    fn names_keep_their_ids_and_ids_are_never_reused() {
        let mut ids = EndpointIds::default();
        let a = ids.id("GET /a");
        let b = ids.id("GET /b");
        assert_ne!(a, b);
        assert_eq!(ids.id("GET /a"), a);
        let mut seen = std::collections::HashSet::from([a, b]);
        for i in 0..MAX_ENDPOINT_IDS {
            assert!(seen.insert(ids.id(&format!("GET /{i}"))));
        }
        // Full: the table was cleared; `GET /a` comes back with a new id.
        let again = ids.id("GET /a");
        assert!(seen.insert(again));
        assert!(ids.table.len() <= MAX_ENDPOINT_IDS);
    }
}
