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
//! Only values from headers and cookies are kept: they repeat from request to request (the
//! same client, the same browser), where a path, a query or a body carries ids and text that
//! mostly do not, and would only push out the ones that do.
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
    fn is(&self, key: &Key<'_>) -> bool {
        self.hash == key.hash
            && self.kind == key.kind
            && self.name_len == key.name.len()
            && self.key.len() == key.name.len() + key.value.len()
            && self.key.get(..key.name.len()) == Some(key.name)
            && self.key.get(key.name.len()..) == Some(key.value)
    }
}

/// What [`VerdictCache::remember`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The value was kept in an empty slot (or was there already).
    Kept,
    /// The value was kept in place of another entry.
    Replaced,
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

    /// The key of a value of this kind and name, or None for a value too long to keep.
    pub(crate) fn key<'v>(&self, kind: Kind, name: &'v [u8], value: &'v [u8]) -> Option<Key<'v>> {
        (name.len() + value.len() <= MAX_CACHED_VALUE_BYTES).then(|| Key {
            kind,
            name,
            value,
            hash: self.hash(kind, name, value),
        })
    }

    /// Whether the value of `key` was found clean before.
    pub(crate) fn is_clean(&self, key: &Key<'_>) -> bool {
        self.slots
            .get(Self::slot(key.hash))
            .and_then(Option::as_ref)
            .is_some_and(|e| e.is(key))
    }

    /// Keeps the value of `key`, found clean.
    pub(crate) fn remember(&mut self, key: &Key<'_>) -> Remembered {
        if self.slots.is_empty() {
            self.slots.resize_with(VERDICT_CACHE_ENTRIES, || None);
        }
        let Some(slot) = self.slots.get_mut(Self::slot(key.hash)) else {
            return Remembered::Kept; // unreachable: the table has every slot
        };
        let outcome = match slot {
            Some(e) if e.is(key) => return Remembered::Kept,
            Some(_) => Remembered::Replaced,
            None => Remembered::Kept,
        };
        // A replaced entry's buffer is reused: a full table allocates nothing more.
        let entry = slot.get_or_insert_with(|| Entry {
            hash: key.hash,
            kind: key.kind,
            name_len: 0,
            key: Vec::new(),
        });
        entry.hash = key.hash;
        entry.kind = key.kind;
        entry.name_len = key.name.len();
        entry.key.clear();
        entry.key.extend_from_slice(key.name);
        entry.key.extend_from_slice(key.value);
        outcome
    }
}

/// What a verdict is kept under: the value, its kind and name part, and their hash.
pub(crate) struct Key<'v> {
    kind: Kind,
    name: &'v [u8],
    value: &'v [u8],
    hash: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(c: &VerdictCache, kind: Kind, name: &[u8], value: &[u8]) -> bool {
        c.key(kind, name, value).is_some_and(|k| c.is_clean(&k))
    }

    fn remember(c: &mut VerdictCache, kind: Kind, name: &[u8], value: &[u8]) -> Option<Remembered> {
        let key = c.key(kind, name, value)?;
        Some(c.remember(&key))
    }

    #[test]
    fn a_value_is_clean_only_with_its_kind_and_name() {
        let mut c = VerdictCache::default();
        let ua = b"okhttp/4.12.0";
        assert!(!clean(&c, Kind::UserAgent, b"", ua));
        assert_eq!(
            remember(&mut c, Kind::UserAgent, b"", ua),
            Some(Remembered::Kept)
        );
        assert!(clean(&c, Kind::UserAgent, b"", ua));
        assert!(!clean(&c, Kind::Value, b"", ua), "another kind");
        assert!(!clean(&c, Kind::UserAgent, b"x", ua), "another name");
        assert!(
            !clean(&c, Kind::UserAgent, b"", b"okhttp/4.12.1"),
            "another value"
        );
        // The name and the value are told apart where they meet.
        remember(&mut c, Kind::Value, b"ab", b"c");
        assert!(!clean(&c, Kind::Value, b"a", b"bc"));
    }

    #[test]
    fn long_values_are_not_kept() {
        let mut c = VerdictCache::default();
        let long = vec![b'a'; MAX_CACHED_VALUE_BYTES + 1];
        assert_eq!(remember(&mut c, Kind::Value, b"", &long), None);
        assert!(!clean(&c, Kind::Value, b"", &long));
        let fits = &long[..MAX_CACHED_VALUE_BYTES];
        assert_eq!(
            remember(&mut c, Kind::Value, b"", fits),
            Some(Remembered::Kept)
        );
        assert!(clean(&c, Kind::Value, b"", fits));
        assert_eq!(
            remember(&mut c, Kind::Value, b"n", fits),
            None,
            "with its name, too long"
        );
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
            .filter(|v| {
                remember(&mut c, Kind::Value, b"", v.as_bytes()) == Some(Remembered::Replaced)
            })
            .count();
        assert_eq!(c.slots.len(), VERDICT_CACHE_ENTRIES);
        let kept = values
            .iter()
            .filter(|v| clean(&c, Kind::Value, b"", v.as_bytes()))
            .count();
        let occupied = c.slots.iter().filter(|s| s.is_some()).count();
        assert_eq!(kept, occupied);
        assert_eq!(replaced, values.len() - occupied);
    }
}
