//! A worker's memory of decisions made on a name alone (how a header is read, whether a
//! parameter's name says URL or host): the same few dozen names come in every request, and
//! each is decided once.
//!
//! Direct-mapped by a hash of the name's length and end bytes, a new name replacing the one in
//! its slot; names are compared byte for byte, so the memo always answers what the decision
//! answers. [`NAME_MEMO_ENTRIES`] slots of names up to [`MAX_NAME_MEMO_BYTES`] (longer ones are
//! decided every time): about 3 KiB.

/// Slots of a scanner's memo of names (a power of two): more than the distinct header or
/// parameter names a worker's clients send most.
pub const NAME_MEMO_ENTRIES: usize = 64;

/// Longest name a scanner's memo of names keeps, in bytes (longer ones are decided every
/// time): every common header and parameter name is shorter.
pub const MAX_NAME_MEMO_BYTES: usize = 32;

/// Names and what was decided on each.
pub(crate) struct NameMemo<T> {
    /// [`NAME_MEMO_ENTRIES`] slots once the first name is kept; empty before.
    slots: Vec<Option<KnownName<T>>>,
}

impl<T> Default for NameMemo<T> {
    fn default() -> Self {
        NameMemo { slots: Vec::new() }
    }
}

/// A name and its decision.
#[derive(Clone, Copy)]
struct KnownName<T> {
    name: [u8; MAX_NAME_MEMO_BYTES],
    len: usize,
    decided: T,
}

impl<T: Copy> NameMemo<T> {
    /// What `decide` says of `name`, decided once.
    pub(crate) fn get(&mut self, name: &[u8], decide: impl FnOnce() -> T) -> T {
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return decide();
        };
        if name.len() > MAX_NAME_MEMO_BYTES {
            return decide();
        }
        let slot = (name.len() ^ usize::from(first) << 1 ^ usize::from(last) << 3)
            & (NAME_MEMO_ENTRIES - 1);
        if self.slots.is_empty() {
            self.slots.resize_with(NAME_MEMO_ENTRIES, || None);
        }
        let Some(entry) = self.slots.get_mut(slot) else {
            return decide(); // unreachable: the table has every slot
        };
        if let Some(known) = entry {
            if known.name.get(..known.len) == Some(name) {
                return known.decided;
            }
        }
        let decided = decide();
        let mut known = KnownName {
            name: [0; MAX_NAME_MEMO_BYTES],
            len: name.len(),
            decided,
        };
        if let Some(dst) = known.name.get_mut(..name.len()) {
            dst.copy_from_slice(name);
        }
        *entry = Some(known);
        decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name is decided once, another name (or the same in another case) again, a long name
    /// every time.
    #[test]
    fn each_name_decided_once() {
        let mut memo = NameMemo::default();
        let decisions = std::cell::Cell::new(0);
        let mut ask = |name: &str| {
            memo.get(name.as_bytes(), || {
                decisions.set(decisions.get() + 1);
                name.len()
            })
        };
        assert_eq!(ask("Host"), 4);
        assert_eq!(ask("Host"), 4);
        assert_eq!(ask("host"), 4);
        let long = "x".repeat(MAX_NAME_MEMO_BYTES + 1);
        assert_eq!(ask(&long), long.len());
        assert_eq!(ask(&long), long.len());
        assert_eq!(ask(""), 0);
        assert_eq!(
            decisions.get(),
            5,
            "Host, host, the long name twice, the empty name"
        );
    }
}
