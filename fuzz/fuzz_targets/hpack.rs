//! The tolerant HPACK decoder (`apitap_sessionizer::http2::hpack`) and Huffman decoding on raw
//! bytes: the input is split into header blocks at 0xFF 0x00 pairs and decoded in order by
//! one decoder (so that the dynamic table carries over), then again by a decoder that joined
//! late.
//!
//! Checks: no panic; the table stays within its size and its limit after every block; every
//! field a late decoder reports with a known name and value is the one the full decoder
//! reports at the same position in the same block, where the full decoder knows it (a
//! reference the full decoder cannot resolve is one no real encoder makes).
#![no_main]

use apitap_sessionizer::http2::hpack::Decoder;
use apitap_sessionizer::http2::huffman;
use libfuzzer_sys::fuzz_target;

type Fields = Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>;

fn decode(d: &mut Decoder, block: &[u8]) -> (Fields, bool) {
    let mut fields = Vec::new();
    let ok = d
        .decode(block, |f| fields.push((f.name.map(<[u8]>::to_vec), f.value.map(<[u8]>::to_vec))))
        .is_ok();
    (fields, ok)
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = huffman::decode(data, &mut out);
    let limit = 256 + usize::from(data.first().copied().unwrap_or(0)) * 16;
    let blocks: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let mut full = Decoder::new(limit);
    let mut late = Decoder::joined_late(limit);
    let skip = blocks.len() / 3;
    for (i, block) in blocks.iter().enumerate() {
        let (want, ok) = decode(&mut full, block);
        assert!(full.table().size() <= full.table().max_size() && full.table().max_size() <= limit);
        if !ok {
            // The full decoder's state is unknown past an error: compare no further.
            return;
        }
        if i < skip {
            continue;
        }
        let (got, _) = decode(&mut late, block);
        assert!(late.table().size() <= late.table().max_size() && late.table().max_size() <= limit);
        for (g, w) in got.iter().zip(want.iter()) {
            // Only references the full decoder resolves are ones a real encoder could make.
            if let ((Some(gn), Some(gv)), (Some(wn), Some(wv))) = (g, w) {
                assert_eq!((gn, gv), (wn, wv), "late field differs");
            }
        }
    }
});
