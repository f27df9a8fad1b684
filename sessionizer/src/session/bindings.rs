//! Server-set values (a `Set-Cookie` value, a token in a login response) and the session part
//! that received them: a later request carrying the value is linked to that session.

use std::collections::VecDeque;

use hashbrown::HashMap;

use super::secret::HashId;
use super::FixedHasher;

/// Bounded table of bindings, forgetting the oldest first.
///
/// Invariant: `order` holds exactly the keys of `map`, oldest first; `map.len() <= max`.
#[derive(Debug)]
pub(crate) struct Bindings {
    /// Keyed hash of the value → id of the session part that received it.
    map: HashMap<HashId, HashId, FixedHasher>,
    /// Insertion order.
    order: VecDeque<HashId>,
    /// Bound.
    max: usize,
}

impl Bindings {
    /// An empty table holding at most `max` bindings.
    pub fn new(max: usize) -> Self {
        Bindings {
            map: HashMap::with_hasher(FixedHasher::default()),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Bind `value` to `session`. Returns `(added, evicted)`: a rebinding of a known value
    /// moves it to the new session without changing its age.
    pub fn bind(&mut self, value: HashId, session: HashId) -> (bool, bool) {
        if let Some(s) = self.map.get_mut(&value) {
            *s = session;
            return (false, false);
        }
        let mut evicted = false;
        if self.map.len() >= self.max {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
                evicted = true;
            }
        }
        self.map.insert(value, session);
        self.order.push_back(value);
        debug_assert_eq!(self.map.len(), self.order.len());
        debug_assert!(self.map.len() <= self.max);
        (true, evicted)
    }

    /// The session part that received `value`.
    pub fn get(&self, value: &HashId) -> Option<HashId> {
        self.map.get(value).copied()
    }

    /// Bindings held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> HashId {
        HashId([b; 16])
    }

    #[test]
    fn oldest_binding_goes_first_and_state_stays_consistent() {
        let mut b = Bindings::new(2);
        assert_eq!(b.bind(id(1), id(10)), (true, false));
        assert_eq!(b.bind(id(2), id(20)), (true, false));
        assert_eq!(b.bind(id(1), id(11)), (false, false));
        assert_eq!(b.bind(id(3), id(30)), (true, true));
        assert_eq!(b.get(&id(1)), None);
        assert_eq!(b.get(&id(2)), Some(id(20)));
        assert_eq!(b.get(&id(3)), Some(id(30)));
        assert_eq!(b.len(), 2);
    }
}
