//! A worker's memory of values found clean: most requests repeat the values of the requests
//! before them (User-Agent, Accept, a client's cookies on every request of its session), and a
//! value that was read once and held no attack holds none the next time.
//!
//! A verdict depends on the value's bytes, its kind and the last part of its name (a rule
//! reads the parameter name: `url`, `webhook`); the detector's config is fixed for the
//! scanner's life. All three are the key, compared byte for byte on a hit: a hash collision
//! can cost a scan, never hide a finding. Only clean verdicts are kept; a value with a finding
//! is read again every time, so its findings are always made the same way.
//!
//! Direct-mapped: the key's hash picks one slot, and a new entry replaces whatever was there
//! (counted). The table holds [`VERDICT_CACHE_ENTRIES`] entries of at most
//! [`MAX_CACHED_VALUE_BYTES`] each; longer values are not kept.

use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::FixedState;

use crate::fields::Kind;

/// Slots of a scanner's verdict cache (a power of two). A request reads a few values that
/// repeat across requests; 512 keeps the common ones of many clients.
pub const VERDICT_CACHE_ENTRIES: usize = 512;

/// Longest key (name part and value together) the cache keeps, in bytes: long enough for a
/// browser's User-Agent or Accept header, short enough that the table stays under 256 KiB.
pub const MAX_CACHED_VALUE_BYTES: usize = 512;

/// One clean value: its key, name part first.
struct Entry {
    hash: u64,
    kind: Kind,
    name_len: usize,
    /// The name part, then the value.
    key: Vec<u8>,
}

impl Entry {
    fn is(&self, hash: u64, kind: Kind, name: &[u8], value: &[u8]) -> bool {
        self.hash == hash
            && self.kind == kind
            && self.name_len == name.len()
            && self.key.len() == name.len() + value.len()
            && self.key.get(..name.len()) == Some(name)
            && self.key.get(name.len()..) == Some(value)
    }
}

/// What [`VerdictCache::remember`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The value was kept in an empty slot (or was there already).
    Kept,
    /// The value was kept in place of another entry.
    Replaced,
    /// The value is longer than [`MAX_CACHED_VALUE_BYTES`] and was not kept.
    TooLong,
}

/// Values found clean, by (kind, name part, value).
#[derive(Default)]
pub(crate) struct VerdictCache {
    /// [`VERDICT_CACHE_ENTRIES`] slots once the first value is kept; empty before.
    slots: Vec<Option<Entry>>,
    hasher: FixedState,
}

impl VerdictCache {
    fn hash(&self, kind: Kind, name: &[u8], value: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        kind.hash(&mut h);
        name.hash(&mut h);
        value.hash(&mut h);
        h.finish()
    }

    fn slot(hash: u64) -> usize {
        // The table's size is a power of two: the hash's low bits pick the slot.
        (hash as usize) & (VERDICT_CACHE_ENTRIES - 1)
    }

    /// Whether this value of this kind and name was found clean before.
    pub(crate) fn is_clean(&self, kind: Kind, name: &[u8], value: &[u8]) -> bool {
        if name.len() + value.len() > MAX_CACHED_VALUE_BYTES {
            return false;
        }
        let hash = self.hash(kind, name, value);
        self.slots
            .get(Self::slot(hash))
            .and_then(Option::as_ref)
            .is_some_and(|e| e.is(hash, kind, name, value))
    }

    /// Keeps a value found clean.
    pub(crate) fn remember(&mut self, kind: Kind, name: &[u8], value: &[u8]) -> Remembered {
        if name.len() + value.len() > MAX_CACHED_VALUE_BYTES {
            return Remembered::TooLong;
        }
        let hash = self.hash(kind, name, value);
        if self.slots.is_empty() {
            self.slots.resize_with(VERDICT_CACHE_ENTRIES, || None);
        }
        let Some(slot) = self.slots.get_mut(Self::slot(hash)) else {
            return Remembered::TooLong; // unreachable: the table has every slot
        };
        let outcome = match slot {
            Some(e) if e.is(hash, kind, name, value) => return Remembered::Kept,
            Some(_) => Remembered::Replaced,
            None => Remembered::Kept,
        };
        // A replaced entry's buffer is reused: a full table allocates nothing more.
        let entry = slot.get_or_insert_with(|| Entry {
            hash,
            kind,
            name_len: 0,
            key: Vec::new(),
        });
        entry.hash = hash;
        entry.kind = kind;
        entry.name_len = name.len();
        entry.key.clear();
        entry.key.extend_from_slice(name);
        entry.key.extend_from_slice(value);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_clean_only_with_its_kind_and_name() {
        let mut c = VerdictCache::default();
        assert!(!c.is_clean(Kind::UserAgent, b"", b"okhttp/4.12.0"));
        assert_eq!(
            c.remember(Kind::UserAgent, b"", b"okhttp/4.12.0"),
            Remembered::Kept
        );
        assert!(c.is_clean(Kind::UserAgent, b"", b"okhttp/4.12.0"));
        assert!(
            !c.is_clean(Kind::Value, b"", b"okhttp/4.12.0"),
            "another kind"
        );
        assert!(
            !c.is_clean(Kind::UserAgent, b"x", b"okhttp/4.12.0"),
            "another name"
        );
        assert!(
            !c.is_clean(Kind::UserAgent, b"", b"okhttp/4.12.1"),
            "another value"
        );
        // The name and the value are told apart where they meet.
        c.remember(Kind::Value, b"ab", b"c");
        assert!(!c.is_clean(Kind::Value, b"a", b"bc"));
    }

    #[test]
    fn long_values_are_not_kept() {
        let mut c = VerdictCache::default();
        let long = vec![b'a'; MAX_CACHED_VALUE_BYTES + 1];
        assert_eq!(c.remember(Kind::Value, b"", &long), Remembered::TooLong);
        assert!(!c.is_clean(Kind::Value, b"", &long));
        let fits = &long[..MAX_CACHED_VALUE_BYTES];
        assert_eq!(c.remember(Kind::Value, b"", fits), Remembered::Kept);
        assert!(c.is_clean(Kind::Value, b"", fits));
    }

    /// At the bound a new value takes its slot's place: the table never grows past
    /// [`VERDICT_CACHE_ENTRIES`], each replacement is reported, and the value replaced is
    /// read again (it is no longer clean to the cache).
    #[test]
    fn a_full_slot_is_replaced_and_said_so() {
        let mut c = VerdictCache::default();
        let values: Vec<String> = (0..4 * VERDICT_CACHE_ENTRIES)
            .map(|i| format!("v{i}"))
            .collect();
        let replaced = values
            .iter()
            .filter(|v| c.remember(Kind::Value, b"", v.as_bytes()) == Remembered::Replaced)
            .count();
        assert_eq!(c.slots.len(), VERDICT_CACHE_ENTRIES);
        let kept = values
            .iter()
            .filter(|v| c.is_clean(Kind::Value, b"", v.as_bytes()))
            .count();
        let occupied = c.slots.iter().filter(|s| s.is_some()).count();
        assert_eq!(kept, occupied);
        assert_eq!(replaced, values.len() - occupied);
    }
}
