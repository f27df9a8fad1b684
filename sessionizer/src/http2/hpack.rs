//! A tolerant HPACK decoder (RFC 7541) for a passive observer.
//!
//! An endpoint's decoder treats a reference to a table entry it does not hold as a connection
//! error. A sensor cannot: it joins connections late and loses packets, so it never saw the
//! entries inserted before it started, or inside a lost header block. This decoder goes on:
//!
//! - **Index order is what makes tolerance sound.** Dynamic index 62 is always the newest
//!   entry (RFC 7541 section 2.3.3). The entries this decoder inserted are therefore the
//!   newest ones of the encoder's table, at the same indices, as long as no insertion was
//!   missed. A reference beyond them is to an entry inserted before the capture started:
//!   the field is reported as unknown ([`Field::name`] or [`Field::value`] is `None`) and
//!   decoding goes on with the next representation.
//! - **A missed insertion shifts every index**, so after a lost header block (a gap, a block
//!   too large to keep, a block that failed to decode) the caller calls
//!   [`Decoder::forget`]: the table is emptied and later references beyond what is inserted
//!   again are unknown, never wrong.
//! - **Keeping too much is harmless, evicting too early is not.** Entries the encoder
//!   evicted are the oldest and are never referenced again, so a decoder that holds extra old
//!   entries still resolves every index correctly. That is why an entry whose name is unknown
//!   counts only its value towards the table size (the size is then an underestimate), and
//!   why a decoder started mid-stream uses its whole configured limit as the table size
//!   ([`Decoder::joined_late`]). The configured limit bounds memory; a table-size update above
//!   it is capped, and references to the entries that cost are reported unknown.

use std::collections::VecDeque;

use super::huffman::{self, HuffmanError};

/// Bytes an entry costs beyond its name and value (RFC 7541 section 4.1).
pub const ENTRY_OVERHEAD_BYTES: usize = 32;
/// Dynamic table size at the start of a connection: the initial SETTINGS_HEADER_TABLE_SIZE
/// (RFC 9113 section 6.5.2).
pub const INITIAL_TABLE_BYTES: usize = 4096;
/// Entries of the static table (RFC 7541 Appendix A); dynamic indices start after them.
pub const STATIC_ENTRIES: usize = 61;
/// Largest integer accepted in a representation: enough for any index, length or table size
/// a peer could use, small enough that no arithmetic on it overflows.
const MAX_INTEGER: u64 = u32::MAX as u64;
/// Largest shift of a continuation octet in an integer (8 octets of 7 bits: 56 + 7 < 64).
const MAX_INTEGER_SHIFT: u32 = 56;

/// The static table, RFC 7541 Appendix A (index 1 first).
pub const STATIC_TABLE: [(&str, &str); STATIC_ENTRIES] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Why a header block stopped decoding. The fields before the error were delivered; the
/// rest of the block is lost, and with it any insertion it made: call [`Decoder::forget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HpackError {
    /// The block ends inside a representation.
    #[error("a header block ends inside a field representation: the block is cut or corrupt")]
    Truncated,
    /// An integer larger than any table, index or length can be.
    #[error("a header block holds an integer above 2^32: the block is corrupt")]
    IntegerOverflow,
    /// Index 0 in an indexed field (RFC 7541 section 6.1: a decoding error).
    #[error("a header block refers to index 0: the block is corrupt")]
    ZeroIndex,
    /// A Huffman string that does not decode.
    #[error(transparent)]
    Huffman(#[from] HuffmanError),
}

/// One decoded field. A part that refers to a dynamic-table entry this decoder never saw is
/// `None`; `index` then says which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, or `None` when it is an entry never seen.
    pub name: Option<&'a [u8]>,
    /// The value, or `None` when it is an entry never seen.
    pub value: Option<&'a [u8]>,
    /// The encoder asked that the field never be indexed (RFC 7541 section 6.2.3): usually a
    /// credential.
    pub never_indexed: bool,
    /// The (1-based, static then dynamic) index a part was taken from; 0 for a literal name.
    pub index: u32,
}

impl Field<'_> {
    /// True when the name and value are both known.
    pub fn is_known(&self) -> bool {
        self.name.is_some() && self.value.is_some()
    }
}

/// What one header block did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockSummary {
    /// Fields delivered.
    pub fields: usize,
    /// Of those, fields with an unknown name or value.
    pub unknown_fields: usize,
    /// Dynamic table size updates read.
    pub size_updates: usize,
    /// Size updates above the configured limit (capped to it).
    pub capped_size_updates: usize,
    /// Entries evicted from the dynamic table.
    pub evictions: usize,
    /// Entries too large for the table, which emptied it (RFC 7541 section 4.4).
    pub oversized_entries: usize,
}

/// One dynamic-table entry. `name` is `None` when it was inserted by a literal whose name
/// index was never seen.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    name: Option<Box<[u8]>>,
    value: Box<[u8]>,
}

impl Entry {
    /// Size counted against the table (RFC 7541 section 4.1); an unknown name counts 0,
    /// which underestimates the size (see the module comment: that is the safe side).
    fn size(&self) -> usize {
        self.name.as_ref().map_or(0, |n| n.len()) + self.value.len() + ENTRY_OVERHEAD_BYTES
    }
}

/// The dynamic table (RFC 7541 section 2.3.2), newest entry first.
///
/// Invariant: `size` is the sum of the entries' sizes and `size <= max_size <= limit`.
#[derive(Clone, Debug)]
pub struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    limit: usize,
}

impl DynamicTable {
    /// Heap bytes the table holds: its entries' names and values, counted at their RFC 7541
    /// section 4.1 size (32 bytes over name and value per entry, about what an entry and its
    /// two allocations take), and the ring of entries as allocated.
    pub fn heap_bytes(&self) -> usize {
        self.size + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// An empty table of `max_size` bytes, never larger than `limit`.
    pub fn new(max_size: usize, limit: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size: max_size.min(limit),
            limit,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes counted against the table.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The current maximum size, in bytes.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Name and value of dynamic entry `i` (0 = newest); a `None` name is unknown.
    pub fn get(&self, i: usize) -> Option<(Option<&[u8]>, &[u8])> {
        self.entries.get(i).map(|e| (e.name.as_deref(), &*e.value))
    }

    /// Sets the maximum size (a size update); returns true when it was capped to the limit.
    fn resize(&mut self, new_size: usize, summary: &mut BlockSummary) -> bool {
        self.max_size = new_size.min(self.limit);
        self.evict_to(self.max_size, summary);
        new_size > self.limit
    }

    /// Inserts an entry as the newest, evicting the oldest to make room; an entry larger than
    /// the table empties it (RFC 7541 section 4.4).
    fn insert(&mut self, entry: Entry, summary: &mut BlockSummary) {
        let size = entry.size();
        if size > self.max_size {
            summary.evictions += self.entries.len();
            summary.oversized_entries += 1;
            self.clear();
            return;
        }
        self.evict_to(self.max_size - size, summary);
        self.entries.push_front(entry);
        self.size += size;
        debug_assert!(self.size <= self.max_size);
    }

    fn evict_to(&mut self, target: usize, summary: &mut BlockSummary) {
        while self.size > target {
            let Some(old) = self.entries.pop_back() else {
                break;
            };
            self.size -= old.size();
            summary.evictions += 1;
        }
        debug_assert!(self.size <= target || self.entries.is_empty());
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }
}

/// The decoder of one direction of a connection (one encoder's header blocks).
#[derive(Clone, Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Insertions may have been missed (joined late, or [`Self::forget`] was called).
    state_lost: bool,
    /// Scratch space for a decoded name and value (reused across fields).
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

/// Where a part of a field comes from.
enum Part {
    /// In `name_buf` / `value_buf`.
    Scratch,
    /// Static table entry (0-based).
    Static(usize),
    /// Dynamic table entry (0-based), or beyond the table (unknown).
    Dynamic(usize),
}

impl Decoder {
    /// Heap bytes the decoder holds: its dynamic table and scratch space.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.name_buf.capacity() + self.value_buf.capacity()
    }

    /// A decoder at the start of a connection: empty table of 4096 bytes (RFC 9113 section
    /// 6.5.2), never larger than `limit_bytes`.
    pub fn new(limit_bytes: usize) -> Self {
        Decoder {
            table: DynamicTable::new(INITIAL_TABLE_BYTES, limit_bytes),
            state_lost: false,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// A decoder for a connection joined after its start: the table's history is unknown and
    /// its size may have been raised, so the whole limit is used (keeping extra old entries
    /// is harmless, evicting too early is not).
    pub fn joined_late(limit_bytes: usize) -> Self {
        Decoder {
            table: DynamicTable::new(limit_bytes, limit_bytes),
            state_lost: true,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Insertions were lost (a gap, a block not decoded): forget every entry, since their
    /// indices are no longer known.
    pub fn forget(&mut self) {
        self.table.clear();
        self.table.max_size = self.table.limit;
        self.state_lost = true;
    }

    /// True when insertions may have been missed: unknown references are then expected.
    pub fn state_lost(&self) -> bool {
        self.state_lost
    }

    /// The dynamic table.
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// Decodes one complete header block, calling `emit` for each field in order.
    ///
    /// Fields that refer to entries never seen are delivered with `None` parts and decoding
    /// goes on. On error the fields before it were delivered and the rest is lost.
    pub fn decode(
        &mut self,
        mut block: &[u8],
        mut emit: impl FnMut(Field<'_>),
    ) -> Result<BlockSummary, HpackError> {
        let mut summary = BlockSummary::default();
        while let Some(&first) = block.first() {
            if first & 0x80 != 0 {
                let index = integer(&mut block, 7)?;
                if index == 0 {
                    return Err(HpackError::ZeroIndex);
                }
                let field = self.indexed(index);
                summary.fields += 1;
                summary.unknown_fields += usize::from(!field.is_known());
                emit(field);
            } else if first & 0xe0 == 0x20 {
                let size = integer(&mut block, 5)?;
                summary.size_updates += 1;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if self.table.resize(size, &mut summary) {
                    summary.capped_size_updates += 1;
                }
            } else {
                let (prefix, indexing, never_indexed) = match first & 0xf0 {
                    f if f & 0xc0 == 0x40 => (6, true, false),
                    0x10 => (4, false, true),
                    _ => (4, false, false),
                };
                let name_index = integer(&mut block, prefix)?;
                let name = self.name_part(&mut block, name_index)?;
                self.value_buf.clear();
                string(&mut block, &mut self.value_buf)?;
                let field = Field {
                    name: self.resolve_name(&name),
                    value: Some(&self.value_buf),
                    never_indexed,
                    index: u32::try_from(name_index).unwrap_or(u32::MAX),
                };
                summary.fields += 1;
                summary.unknown_fields += usize::from(!field.is_known());
                emit(field);
                if indexing {
                    let entry = Entry {
                        name: self.resolve_name(&name).map(Box::from),
                        value: Box::from(self.value_buf.as_slice()),
                    };
                    self.table.insert(entry, &mut summary);
                }
            }
        }
        Ok(summary)
    }

    /// The field of an indexed representation (RFC 7541 section 6.1).
    fn indexed(&self, index: u64) -> Field<'_> {
        let index32 = u32::try_from(index).unwrap_or(u32::MAX);
        let (name, value) = match self.lookup(index) {
            Some((name, value)) => (name, Some(value)),
            None => (None, None),
        };
        Field {
            name,
            value,
            never_indexed: false,
            index: index32,
        }
    }

    /// Name and value at `index` (1-based, static then dynamic); `None` beyond the table.
    fn lookup(&self, index: u64) -> Option<(Option<&[u8]>, &[u8])> {
        let i = usize::try_from(index).ok()?.checked_sub(1)?;
        match STATIC_TABLE.get(i) {
            Some((n, v)) => Some((Some(n.as_bytes()), v.as_bytes())),
            None => self.table.get(i - STATIC_ENTRIES),
        }
    }

    /// Reads a literal's name: a new name into `name_buf`, or a reference to a table entry.
    fn name_part(&mut self, block: &mut &[u8], name_index: u64) -> Result<Part, HpackError> {
        if name_index == 0 {
            self.name_buf.clear();
            string(block, &mut self.name_buf)?;
            return Ok(Part::Scratch);
        }
        let i = usize::try_from(name_index - 1).unwrap_or(usize::MAX);
        Ok(if i < STATIC_ENTRIES {
            Part::Static(i)
        } else {
            Part::Dynamic(i - STATIC_ENTRIES)
        })
    }

    fn resolve_name(&self, part: &Part) -> Option<&[u8]> {
        match *part {
            Part::Scratch => Some(&self.name_buf),
            Part::Static(i) => STATIC_TABLE.get(i).map(|(n, _)| n.as_bytes()),
            Part::Dynamic(i) => self.table.get(i).and_then(|(n, _)| n),
        }
    }
}

/// Reads an integer with an `prefix`-bit prefix (RFC 7541 section 5.1), advancing `block`.
pub fn integer(block: &mut &[u8], prefix: u32) -> Result<u64, HpackError> {
    let (&first, mut rest) = block.split_first().ok_or(HpackError::Truncated)?;
    let max_prefix = (1u64 << prefix) - 1;
    let mut value = u64::from(first) & max_prefix;
    if value == max_prefix {
        let mut shift = 0u32;
        loop {
            let (&b, tail) = rest.split_first().ok_or(HpackError::Truncated)?;
            rest = tail;
            // Past 8 continuation octets the value exceeds MAX_INTEGER or the octets are
            // zero padding; either way stop before the shift could overflow.
            if shift > MAX_INTEGER_SHIFT {
                return Err(HpackError::IntegerOverflow);
            }
            value += u64::from(b & 0x7f) << shift;
            if value > MAX_INTEGER {
                return Err(HpackError::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
    }
    *block = rest;
    Ok(value)
}

/// Reads a string literal (RFC 7541 section 5.2) into `out`, Huffman-decoded when flagged.
fn string(block: &mut &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
    let huffman_coded = block.first().is_some_and(|b| b & 0x80 != 0);
    let len = integer(block, 7)?;
    let len = usize::try_from(len).map_err(|_| HpackError::Truncated)?;
    if len > block.len() {
        return Err(HpackError::Truncated);
    }
    let (raw, rest) = block.split_at(len);
    *block = rest;
    if huffman_coded {
        huffman::decode(raw, out)?;
    } else {
        out.extend_from_slice(raw);
    }
    Ok(())
}

#[cfg(test)]
#[path = "hpack_tests.rs"]
mod tests;
