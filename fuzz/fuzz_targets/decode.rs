//! Decode: link layer, IPv4/IPv6 and TCP headers of one captured packet.
//!
//! Input: a link type (every DLT apitap accepts), how much longer the packet was on the wire
//! than captured (0 = not cut), then the captured bytes.
//! Checks: no panic; a segment's payload is a slice of the packet; exactly one counter moved.
#![no_main]

use apitap::decode::{Decoder, LinkType};
use apitap_fuzz::Dlt;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    dlt: Dlt,
    /// Wire length minus captured length.
    cut_bytes: u16,
    data: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let Some(link) = LinkType::from_dlt(input.dlt.number()) else {
        panic!("DLT {} is listed as supported", input.dlt.number());
    };
    let data = input.data;
    let wire_len = u32::try_from(data.len())
        .unwrap_or(u32::MAX)
        .saturating_add(u32::from(input.cut_bytes));
    let mut dec = Decoder::new();
    let seg = dec.decode(link, data, wire_len);
    let s = dec.stats();
    assert_eq!(s.packets, 1);
    assert_eq!(s.bytes, u64::from(wire_len));
    let skips = s.not_ip
        + s.udp
        + s.other_ip_protocol
        + s.ip_fragments
        + s.truncated_headers
        + s.malformed_link
        + s.malformed_ip
        + s.malformed_tcp;
    match seg {
        Some(seg) => {
            assert_eq!((s.tcp_segments, skips), (1, 0));
            assert!(s.truncated_payloads + s.ip_length_mismatches <= 1);
            // Borrowed straight from the packet.
            let range = data.as_ptr_range();
            let p = seg.payload.as_ptr_range();
            assert!(range.start <= p.start && p.end <= range.end);
        }
        None => assert_eq!((s.tcp_segments, skips), (0, 1)),
    }
    if input.cut_bytes == 0 {
        // Truncated is not malformed: an uncut packet is never counted as cut.
        assert_eq!(s.truncated_payloads + s.truncated_headers, 0);
    }
    // Decoding is a pure function of the bytes.
    let again = Decoder::new().decode(link, data, wire_len);
    assert_eq!(
        again.map(|s| (s.src, s.dst, s.seq, s.ack, s.flags, s.payload)),
        seg.map(|s| (s.src, s.dst, s.seq, s.ack, s.flags, s.payload))
    );
});
