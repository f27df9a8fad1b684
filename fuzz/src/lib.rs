//! Shared input types of the fuzz targets.
//!
//! The targets derive [`arbitrary::Arbitrary`] for their inputs, so libFuzzer's byte strings
//! become structured operations. Byte payloads use [`Payload`] rather than `Vec<u8>`: arbitrary's
//! own slices take their length from the *end* of the input, which makes seeds hard to write by
//! hand; a payload here is a little-endian `u16` length followed by that many bytes (fewer when
//! the input ends first). `fuzz/gen_seeds.py` writes seeds in this encoding.

use arbitrary::{Arbitrary, Result, Unstructured};

/// A run of bytes: `u16` LE length, then the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Payload {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let len = usize::from(u16::arbitrary(u)?).min(u.len());
        Ok(Payload(u.bytes(len)?.to_vec()))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, None)
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Show text as text: most payloads are HTTP.
        write!(f, "Payload({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Every DLT `apitap::decode::LinkType::from_dlt` accepts, as an input choice.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dlt {
    Null,
    Ethernet,
    Raw12,
    Raw14,
    Raw101,
    Loop,
    LinuxSll,
    Ipv4,
    Ipv6,
    Nflog,
    LinuxSll2,
    Ppp,
    PppHdlc,
    CiscoHdlc,
    Ieee80211,
    Radiotap,
    Ppi,
}

impl Dlt {
    /// The DLT number.
    pub fn number(self) -> i32 {
        match self {
            Dlt::Null => 0,
            Dlt::Ethernet => 1,
            Dlt::Raw12 => 12,
            Dlt::Raw14 => 14,
            Dlt::Raw101 => 101,
            Dlt::Loop => 108,
            Dlt::LinuxSll => 113,
            Dlt::Ipv4 => 228,
            Dlt::Ipv6 => 229,
            Dlt::Nflog => 239,
            Dlt::LinuxSll2 => 276,
            Dlt::Ppp => 9,
            Dlt::PppHdlc => 50,
            Dlt::CiscoHdlc => 104,
            Dlt::Ieee80211 => 105,
            Dlt::Radiotap => 127,
            Dlt::Ppi => 192,
        }
    }
}
