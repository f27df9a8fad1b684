//! Maps from short strings (path segments, hosts) to values, looked up by words instead of
//! bytes: every transaction looks up its host and each of its path segments.
//!
//! A key is compared by its length and its first and last 8 bytes (fewer, zero-padded, below
//! 8 bytes), read as two words: for a key of up to 16 bytes these words are the key, and
//! one comparison of three numbers replaces a call to `memcmp`. A longer key (a host with
//! its port, `orders.internal.example.com:8080`) is compared whole when its words agree.
//! Up to [`MAX_SCANNED_KEYS`] keys are scanned; more are hashed from the same words into an
//! open-addressed table, so that a look-up hashes no byte of the key.

use crate::ascii::{le32, le64};

/// Keys scanned one after the other up to this many; a table beyond: a short scan beats
/// hashing.
pub const MAX_SCANNED_KEYS: usize = 8;

/// Table slots per key at least (its load stays at or below one half, so probe runs stay
/// short).
const SLOTS_PER_KEY: usize = 2;

/// An empty table slot.
const EMPTY: u32 = u32::MAX;

/// A key's length and its first and last 8 bytes (zero-padded below 8 bytes: the first
/// holds the key, the last is 0): [`Self::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Words {
    /// The length in bytes.
    len: usize,
    /// The first 8 bytes, little-endian.
    head: u64,
    /// The last 8 bytes, little-endian.
    tail: u64,
}

/// Keys up to this many bytes are all in their [`Words`].
const WORDS_BYTES: usize = 16;

impl Words {
    /// The words of `s`.
    #[inline(always)]
    fn of(s: &[u8]) -> Words {
        let n = s.len();
        let (head, tail) = if n >= 8 {
            (le64(s, 0), le64(s, n - 8))
        } else if n >= 4 {
            (le32(s, 0) | le32(s, n - 4) << 32, 0)
        } else {
            let mut w = 0u64;
            for (i, b) in s.iter().enumerate() {
                w |= u64::from(*b) << (8 * i);
            }
            (w, 0)
        };
        Words { len: n, head, tail }
    }

    /// Where the key goes in a table of `1 << bits` slots.
    #[inline(always)]
    fn slot(self, bits: u32) -> usize {
        let mixed = (self.head ^ self.tail.rotate_left(23) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> (64 - bits)) as usize
    }
}

/// `a == b` for slices of equal length, in 8-byte words: the rest of a long key, whose words
/// agreed.
#[inline]
fn long_eq(a: &[u8], b: &[u8]) -> bool {
    let mut ac = a.chunks_exact(8);
    let mut bc = b.chunks_exact(8);
    for (x, y) in ac.by_ref().zip(bc.by_ref()) {
        if x != y {
            return false;
        }
    }
    ac.remainder() == bc.remainder()
}

/// One key and its value.
#[derive(Debug)]
struct Entry<V> {
    /// The key's words.
    words: Words,
    /// The key.
    key: Box<str>,
    /// Its value.
    value: V,
}

/// A map from strings to `V`, built once and read per transaction.
// Invariant: keys are distinct; with more than `MAX_SCANNED_KEYS` entries, `slots` has
// `1 << bits` slots (at least `SLOTS_PER_KEY` per entry), each `EMPTY` or an index into
// `entries`, and every entry is reached from its `Words::slot` by a forward run of taken
// slots; with fewer, `slots` is empty.
#[derive(Debug)]
pub struct KeyMap<V> {
    /// The entries, in insertion order.
    entries: Vec<Entry<V>>,
    /// The table of entry indexes, once there are many.
    slots: Box<[u32]>,
    /// log2 of the table's length.
    bits: u32,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            entries: Vec::new(),
            slots: Box::default(),
            bits: 0,
        }
    }
}

impl<V> KeyMap<V> {
    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&V> {
        let i = self.position(key.as_bytes())?;
        self.entries.get(i).map(|e| &e.value)
    }

    /// Whether entry `e` has the key of words `w` and bytes `key`.
    #[inline(always)]
    fn is(e: &Entry<V>, w: Words, key: &[u8]) -> bool {
        e.words == w && (w.len <= WORDS_BYTES || long_eq(e.key.as_bytes(), key))
    }

    /// The index of `key`'s entry.
    #[inline]
    fn position(&self, key: &[u8]) -> Option<usize> {
        let w = Words::of(key);
        if self.slots.is_empty() {
            return self.entries.iter().position(|e| Self::is(e, w, key));
        }
        let mask = self.slots.len() - 1;
        let mut at = w.slot(self.bits);
        loop {
            let i = *self.slots.get(at)?;
            if i == EMPTY {
                return None;
            }
            if self
                .entries
                .get(i as usize)
                .is_some_and(|e| Self::is(e, w, key))
            {
                return Some(i as usize);
            }
            at = (at + 1) & mask;
        }
    }

    /// Add `key` with `value`; `Err` with the value back when `key` is there already.
    pub fn insert(&mut self, key: &str, value: V) -> Result<(), V> {
        if self.position(key.as_bytes()).is_some() {
            return Err(value);
        }
        self.entries.push(Entry {
            words: Words::of(key.as_bytes()),
            key: key.into(),
            value,
        });
        if self.entries.len() > MAX_SCANNED_KEYS {
            self.rebuild_slots();
        }
        Ok(())
    }

    /// Fill the table anew for the entries (grown past [`MAX_SCANNED_KEYS`]).
    fn rebuild_slots(&mut self) {
        let want = (self.entries.len() * SLOTS_PER_KEY).next_power_of_two();
        if self.slots.len() < want {
            self.bits = want.trailing_zeros();
            self.slots = vec![EMPTY; want].into_boxed_slice();
        } else {
            self.slots.fill(EMPTY);
        }
        let mask = self.slots.len() - 1;
        for (i, e) in self.entries.iter().enumerate() {
            let mut at = e.words.slot(self.bits);
            while self.slots[at] != EMPTY {
                at = (at + 1) & mask;
            }
            // Entries are far fewer than 2^32 (keys of a spec of at most 64 MiB).
            self.slots[at] = u32::try_from(i).unwrap_or(EMPTY);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn keys_of_every_length_around_the_words_are_told_apart() {
        let keys = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "bbcdefghijklmnopq",
            "abcdefghXjklmnopq",
        ];
        let mut m = KeyMap::default();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.insert(k, i), Ok(()), "{k}");
        }
        assert_eq!(m.insert("abc", 99), Err(99), "a key goes in once");
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k), Some(&i), "{k}");
        }
        for absent in [
            "b",
            "abd",
            "abcdefgi",
            "Abcdefghijklmnop",
            "abcdefghijklmnopqr",
            "a\0",
        ] {
            assert_eq!(m.get(absent), None, "{absent}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The map agrees with `std`'s on keys that share words (few letters, lengths around 8
        /// and 16), scanned and hashed.
        #[test]
        fn agrees_with_a_hash_map(
            keys in proptest::collection::vec("[ab\\x00/]{0,20}", 0..40),
            probes in proptest::collection::vec("[ab\\x00/]{0,20}", 0..40),
        ) {
            let mut m = KeyMap::default();
            let mut twin = HashMap::new();
            for (i, k) in keys.iter().enumerate() {
                let fresh = !twin.contains_key(k.as_str());
                prop_assert_eq!(m.insert(k, i).is_ok(), fresh);
                twin.entry(k.as_str()).or_insert(i);
            }
            prop_assert_eq!(m.entries.len(), twin.len());
            for k in keys.iter().chain(&probes) {
                prop_assert_eq!(m.get(k), twin.get(k.as_str()), "{:?}", k);
            }
        }
    }
}
