//! A worker's memory of values found clean: most requests repeat the values of the requests
//! before them (User-Agent, Accept, a client's cookies on every request of its session, the
//! API's paths and query strings, content types, JSON strings with punctuation), and a value
//! that was read once and held no attack holds none the next time.
//!
//! Plain words and numbers without a dot (path segments, parameter and member names, ids,
//! `page=2`, `"method":"card"`) are not kept on their own (a group that holds them is kept
//! whole, below): the prefilter's gates decide them in fewer steps than a look-up, which
//! hashes the value and reads a slot that, for the values that never come back (ids,
//! request ids), is out of the caches (`ScanSink::scan_value`). Nor is the whole path, read
//! only when its group was not kept, and kept with its group.
//!
//! A verdict depends on the value's bytes, its kind and, for the kinds the SSRF rule reads
//! from level 2, the last part of its name (`url`, `webhook`: the only rule that reads a
//! name); the detector's config is fixed for the scanner's life. The caller builds the key
//! from exactly these (`Compiled::verdict_name` in `detector.rs`); it is compared byte for
//! byte on a hit: a hash collision can cost a scan, never hide a finding. Only clean verdicts
//! are kept; a value with a finding is read again every time, so its findings are always made
//! the same way.
//!
//! Groups: the path (whole and segments), the query string and a `Cookie` header are also
//! kept whole, once every value of them was found clean, with the number of values and bytes
//! they count: a scan that meets the same bytes again counts them as reading them would and
//! takes none of them apart. Their values, kinds and names are read from those bytes alone, so
//! the group's bytes are its key. A group is taken only where reading its values one by one
//! would read them all (`max_fields`, `max_request_scan_bytes`); else its values are read one
//! by one, each from the memory where it can be.
//!
//! Admission: a value (or group) is kept only when it is found clean a second time. The first
//! time only its hash is noted, in a table of [`SEEN_ENTRIES`] (direct-mapped, a new hash
//! replacing the old one): ids, request ids and timestamps, which never come back, then cost a
//! store and push nothing out of the table of values that do.
//!
//! The table: direct-mapped, the key's hash picks one slot, and a new entry replaces whatever
//! was there (counted). [`VERDICT_CACHE_ENTRIES`] entries of at most
//! [`MAX_CACHED_VALUE_BYTES`] each (longer values are not kept), [`MAX_CACHE_KEY_BYTES`] of
//! keys in all (past it a new value is not kept, counted). 896 KiB of slots, 128 KiB of noted
//! hashes and at most 1 MiB of keys per scanner.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;

use crate::fields::{Group, Kind};

/// Slots of a scanner's verdict cache (a power of two), 56 bytes each. A request reads a few
/// values that repeat across requests, and a group or two; 16,384 keep the common ones and the
/// cookies of a few thousand clients at once.
pub const VERDICT_CACHE_ENTRIES: usize = 16384;

/// Longest key (name part and value together) the cache keeps, in bytes: long enough for a
/// browser's User-Agent or Accept header.
pub const MAX_CACHED_VALUE_BYTES: usize = 512;

/// Bytes of every key a scanner's memory keeps, all together: with the slots and the notes, a
/// scanner's memory stays about 2 MiB at most, whatever the values' lengths. At the bound a
/// new value is kept only in place of one at least as long (`ScanReport::cache_full` counts
/// the others).
pub const MAX_CACHE_KEY_BYTES: usize = 1 << 20;

/// Hashes of values seen clean once (a power of two), 4 bytes each: a value is kept only when
/// seen clean again before its hash is replaced, so that ids and request ids, which never come
/// back, do not push out the values that do. 32,768 notes outlast a few thousand requests'
/// worth of one-off values, the time between two requests of one client among thousands.
pub const SEEN_ENTRIES: usize = 32768;

/// What a verdict was made on: one value of a kind, or a group of values read from one
/// stretch of the request (`fields::Group`), all clean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// One value.
    Value(Kind),
    /// Every value of a group.
    Group(Group),
}

impl Place {
    /// A number of its own for each place, hashed with the key.
    fn code(self) -> u64 {
        match self {
            Place::Value(kind) => kind as u64,
            Place::Group(group) => 0x100 | group as u64,
        }
    }
}

/// What a clean verdict covers: for a group, its values and their bytes, so that a scan that
/// takes the verdict counts them as reading them would (`ScanReport::values`, the request's
/// budgets); for one value, 1 and its length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    /// Values counted.
    pub(crate) values: u32,
    /// Value bytes counted.
    pub(crate) bytes: usize,
}

/// One clean value or group: its key, name part first, and what it covers.
struct Entry {
    hash: u64,
    place: Place,
    span: Span,
    name_len: usize,
    /// The name part, then the value.
    key: Box<[u8]>,
}

impl Entry {
    fn is(&self, key: &Key<'_>) -> bool {
        self.hash == key.hash
            && self.place == key.place
            && self.name_len == key.name.len()
            && self.key.len() == key.name.len() + key.value.len()
            && (key.name.is_empty() || self.key.get(..key.name.len()) == Some(key.name))
            && self.key.get(key.name.len()..) == Some(key.value)
    }
}

/// What [`VerdictCache::remember`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The value was seen clean for the first time: noted, not kept.
    Noted,
    /// The value was kept in an empty slot (or was there already).
    Kept,
    /// The value was kept in place of another entry.
    Replaced,
    /// The value was not kept: its key would take the memory past [`MAX_CACHE_KEY_BYTES`].
    Full,
}

/// Values found clean, by (kind, name part, value).
#[derive(Default)]
pub(crate) struct VerdictCache {
    /// [`VERDICT_CACHE_ENTRIES`] slots once the first value is kept; empty before.
    slots: Vec<Option<Entry>>,
    /// The hashes of values seen clean once, [`SEEN_ENTRIES`] of them once the first is
    /// noted; 0 for none. A value is kept only when seen clean a second time.
    seen: Vec<u32>,
    /// Bytes of every kept key together, at most [`MAX_CACHE_KEY_BYTES`].
    key_bytes: usize,
    hasher: FixedState,
}

impl VerdictCache {
    fn hash(&self, place: Place, name: &[u8], value: &[u8]) -> u64 {
        // The place and the name's length in one word, then the bytes: the entry's length
        // check tells the name from the value where they meet.
        let mut h = self.hasher.build_hasher();
        h.write_u64((place.code() << 32) | name.len() as u64);
        if !name.is_empty() {
            h.write(name);
        }
        h.write(value);
        h.finish()
    }

    fn slot(hash: u64) -> usize {
        // The table's size is a power of two: the hash's low bits pick the slot.
        (hash as usize) & (VERDICT_CACHE_ENTRIES - 1)
    }

    /// The key of a value (or group) in this place with this name part, or None for one too
    /// long to keep.
    pub(crate) fn key<'v>(&self, place: Place, name: &'v [u8], value: &'v [u8]) -> Option<Key<'v>> {
        (name.len() + value.len() <= MAX_CACHED_VALUE_BYTES).then(|| Key {
            place,
            name,
            value,
            hash: self.hash(place, name, value),
        })
    }

    /// What the verdict on `key` covers, when it was found clean before.
    pub(crate) fn clean(&self, key: &Key<'_>) -> Option<Span> {
        self.slots
            .get(Self::slot(key.hash))
            .and_then(Option::as_ref)
            .filter(|e| e.is(key))
            .map(|e| e.span)
    }

    /// Notes the value of `key`, found clean; keeps it when it was noted before (a
    /// fingerprint of 0 counts as noted: such a value is kept the first time, harmlessly).
    pub(crate) fn remember(&mut self, key: &Key<'_>, span: Span) -> Remembered {
        if self.seen.is_empty() {
            self.seen.resize(SEEN_ENTRIES, 0);
        }
        // The hash's high bits pick the seen slot: not the main table's.
        let seen_slot = (key.hash >> 32) as usize & (SEEN_ENTRIES - 1);
        let fingerprint = key.hash as u32;
        if let Some(seen) = self.seen.get_mut(seen_slot) {
            if *seen != fingerprint {
                *seen = fingerprint;
                return Remembered::Noted;
            }
        }
        if self.slots.is_empty() {
            self.slots.resize_with(VERDICT_CACHE_ENTRIES, || None);
        }
        let Some(slot) = self.slots.get_mut(Self::slot(key.hash)) else {
            return Remembered::Kept; // unreachable: the table has every slot
        };
        let replaced = match slot {
            Some(e) if e.is(key) => return Remembered::Kept,
            Some(e) => e.key.len(),
            None => 0,
        };
        let len = key.name.len() + key.value.len();
        let key_bytes = self.key_bytes - replaced + len;
        if key_bytes > MAX_CACHE_KEY_BYTES {
            return Remembered::Full; // the entry in the slot, if any, stays
        }
        self.key_bytes = key_bytes;
        let outcome = match slot {
            Some(_) => Remembered::Replaced,
            None => Remembered::Kept,
        };
        *slot = Some(Entry {
            hash: key.hash,
            place: key.place,
            span,
            name_len: key.name.len(),
            key: [key.name, key.value].concat().into_boxed_slice(),
        });
        outcome
    }
}

/// What a verdict is kept under: the value, its place and name part, and their hash.
pub(crate) struct Key<'v> {
    place: Place,
    name: &'v [u8],
    value: &'v [u8],
    hash: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(c: &VerdictCache, kind: Kind, name: &[u8], value: &[u8]) -> bool {
        c.key(Place::Value(kind), name, value)
            .is_some_and(|k| c.clean(&k).is_some())
    }

    fn one(value: &[u8]) -> Span {
        Span {
            values: 1,
            bytes: value.len(),
        }
    }

    fn remember(c: &mut VerdictCache, kind: Kind, name: &[u8], value: &[u8]) -> Option<Remembered> {
        let key = c.key(Place::Value(kind), name, value)?;
        Some(c.remember(&key, one(value)))
    }

    /// Found clean twice in a row: noted, then kept.
    fn remember_twice(
        c: &mut VerdictCache,
        kind: Kind,
        name: &[u8],
        value: &[u8],
    ) -> Option<Remembered> {
        remember(c, kind, name, value)?;
        remember(c, kind, name, value)
    }

    /// The memory's size as documented: [`VERDICT_CACHE_ENTRIES`] slots of 56 bytes.
    #[test]
    fn a_slot_is_56_bytes() {
        assert!(std::mem::size_of::<Option<Entry>>() <= 56);
    }

    #[test]
    fn a_value_is_kept_when_found_clean_a_second_time() {
        let mut c = VerdictCache::default();
        let v = b"okhttp/4.12.0";
        assert_eq!(
            remember(&mut c, Kind::UserAgent, b"", v),
            Some(Remembered::Noted)
        );
        assert!(!clean(&c, Kind::UserAgent, b"", v), "seen once: not kept");
        assert_eq!(
            remember(&mut c, Kind::UserAgent, b"", v),
            Some(Remembered::Kept)
        );
        assert!(clean(&c, Kind::UserAgent, b"", v));
        assert_eq!(c.seen.len(), SEEN_ENTRIES, "the notes are bounded");
    }

    #[test]
    fn a_value_is_clean_only_with_its_kind_and_name() {
        let mut c = VerdictCache::default();
        let ua = b"okhttp/4.12.0";
        assert!(!clean(&c, Kind::UserAgent, b"", ua));
        assert_eq!(
            remember_twice(&mut c, Kind::UserAgent, b"", ua),
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
        remember_twice(&mut c, Kind::Value, b"ab", b"c");
        assert!(clean(&c, Kind::Value, b"ab", b"c"));
        assert!(!clean(&c, Kind::Value, b"a", b"bc"));
    }

    /// A group's verdict is told from a value's with the same bytes, and says how many
    /// values it covers.
    #[test]
    fn a_group_keeps_what_it_covers() {
        let mut c = VerdictCache::default();
        let q = b"page=2&sort=price";
        let span = Span {
            values: 4,
            bytes: 14,
        };
        let key = c.key(Place::Group(Group::Query), b"", q).unwrap();
        assert_eq!(c.remember(&key, span), Remembered::Noted);
        assert_eq!(c.remember(&key, span), Remembered::Kept);
        assert_eq!(c.clean(&key), Some(span));
        assert!(!clean(&c, Kind::Value, b"", q), "not a value's verdict");
        let path = c.key(Place::Group(Group::Path), b"", q).unwrap();
        assert_eq!(c.clean(&path), None, "nor another group's");
    }

    #[test]
    fn long_values_are_not_kept() {
        let mut c = VerdictCache::default();
        let long = vec![b'a'; MAX_CACHED_VALUE_BYTES + 1];
        assert_eq!(remember_twice(&mut c, Kind::Value, b"", &long), None);
        assert!(!clean(&c, Kind::Value, b"", &long));
        let fits = &long[..MAX_CACHED_VALUE_BYTES];
        assert_eq!(
            remember_twice(&mut c, Kind::Value, b"", fits),
            Some(Remembered::Kept)
        );
        assert!(clean(&c, Kind::Value, b"", fits));
        assert_eq!(
            remember(&mut c, Kind::Value, b"n", fits),
            None,
            "with its name, too long"
        );
    }

    /// At the byte bound a value whose key would take the memory past
    /// [`MAX_CACHE_KEY_BYTES`] is not kept, and says so; the kept keys never pass it.
    #[test]
    fn keys_are_bounded_in_bytes() {
        let mut c = VerdictCache::default();
        let values: Vec<Vec<u8>> = (0..2 * MAX_CACHE_KEY_BYTES / MAX_CACHED_VALUE_BYTES)
            .map(|i| {
                let mut v = format!("v{i}-").into_bytes();
                v.resize(MAX_CACHED_VALUE_BYTES, b'x');
                v
            })
            .collect();
        let mut full = 0;
        for v in &values {
            let outcome = remember_twice(&mut c, Kind::Value, b"", v);
            assert!(c.key_bytes <= MAX_CACHE_KEY_BYTES);
            if outcome == Some(Remembered::Full) {
                full += 1;
                assert!(!clean(&c, Kind::Value, b"", v), "not kept");
            }
        }
        assert!(full > 0, "the bound was reached");
        let kept: usize = c.slots.iter().flatten().map(|e| e.key.len()).sum();
        assert_eq!(kept, c.key_bytes);
        // A short value still takes the place of a long one.
        let short = (0..)
            .map(|i| format!("s{i}"))
            .find(|v| {
                let key = c.key(Place::Value(Kind::Value), b"", v.as_bytes()).unwrap();
                c.slots
                    .get(VerdictCache::slot(key.hash))
                    .is_some_and(Option::is_some)
            })
            .unwrap();
        assert_eq!(
            remember_twice(&mut c, Kind::Value, b"", short.as_bytes()),
            Some(Remembered::Replaced)
        );
        assert!(clean(&c, Kind::Value, b"", short.as_bytes()));
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
                remember_twice(&mut c, Kind::Value, b"", v.as_bytes()) == Some(Remembered::Replaced)
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
