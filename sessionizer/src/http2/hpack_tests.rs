//! HPACK decoder tests: the RFC 7541 Appendix C examples, then the tolerant paths.

use super::*;

/// A decoded field, owned, for comparisons; `?` marks an unknown part.
fn owned(f: Field<'_>) -> (String, String) {
    let part =
        |p: Option<&[u8]>| p.map_or("?".to_owned(), |b| String::from_utf8_lossy(b).into_owned());
    (part(f.name), part(f.value))
}

fn decode(
    d: &mut Decoder,
    block: &[u8],
) -> Result<(Vec<(String, String)>, BlockSummary), HpackError> {
    let mut fields = Vec::new();
    let summary = d.decode(block, |f| fields.push(owned(f)))?;
    Ok((fields, summary))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn table(d: &Decoder) -> Vec<(String, String)> {
    (0..d.table().len())
        .filter_map(|i| d.table().get(i))
        .map(|(n, v)| {
            owned(Field {
                name: n,
                value: Some(v),
                never_indexed: false,
                index: 0,
            })
        })
        .collect()
}

/// One RFC 7541 Appendix C block: its bytes, the fields, the table after it.
struct Vector {
    block: &'static str,
    fields: &'static [(&'static str, &'static str)],
    table: &'static [(&'static str, &'static str)],
    size: usize,
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const T2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const T3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];

/// C.3 (plain literals) and C.4 (Huffman): three requests on one connection.
const C3: [Vector; 3] = [
    Vector {
        block: "828684410f7777772e6578616d706c652e636f6d",
        fields: REQ1,
        table: T1,
        size: 57,
    },
    Vector {
        block: "828684be58086e6f2d6361636865",
        fields: REQ2,
        table: T2,
        size: 110,
    },
    Vector {
        block: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        fields: REQ3,
        table: T3,
        size: 164,
    },
];
const C4: [Vector; 3] = [
    Vector {
        block: "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        fields: REQ1,
        table: T1,
        size: 57,
    },
    Vector {
        block: "828684be5886a8eb10649cbf",
        fields: REQ2,
        table: T2,
        size: 110,
    },
    Vector {
        block: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        fields: REQ3,
        table: T3,
        size: 164,
    },
];

const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
];
const RT1: &[(&str, &str)] = &[
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
    (":status", "302"),
];
/// After the second response `:status: 302` was evicted to make room for `307`.
const RT2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
];
const RT3: &[(&str, &str)] = &[
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
    ("content-encoding", "gzip"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
];

/// C.5 (plain) and C.6 (Huffman): three responses with a 256-byte table, so entries evict.
const C5: [Vector; 3] = [
    Vector {
        block: "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        fields: RESP1, table: RT1, size: 222,
    },
    Vector { block: "4803333037c1c0bf", fields: RESP2, table: RT2, size: 222 },
    Vector {
        block: "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        fields: RESP3, table: RT3, size: 215,
    },
];
const C6: [Vector; 3] = [
    Vector {
        block: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        fields: RESP1, table: RT1, size: 222,
    },
    Vector { block: "4883640effc1c0bf", fields: RESP2, table: RT2, size: 222 },
    Vector {
        block: "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        fields: RESP3, table: RT3, size: 215,
    },
];

fn run_vectors(name: &str, mut d: Decoder, vectors: &[Vector]) {
    for (i, v) in vectors.iter().enumerate() {
        let (fields, summary) = decode(&mut d, &hex(v.block)).expect(name);
        assert_eq!(fields, pairs(v.fields), "{name} block {i}");
        assert_eq!(summary.unknown_fields, 0);
        assert_eq!(table(&d), pairs(v.table), "{name} table after block {i}");
        assert_eq!(d.table().size(), v.size, "{name} size after block {i}");
    }
}

/// A decoder whose table is 256 bytes, as the C.5/C.6 examples set with SETTINGS (emulated
/// with a size update, which is what an encoder sends when the setting shrinks).
fn small_table() -> Decoder {
    let mut d = Decoder::new(64 * 1024);
    decode(&mut d, &[0x3f, 0xe1, 0x01]).expect("size update to 256");
    assert_eq!(d.table().max_size(), 256);
    d
}

#[test]
fn rfc_7541_c3_requests_without_huffman() {
    run_vectors("C.3", Decoder::new(4096), &C3);
}

#[test]
fn rfc_7541_c4_requests_with_huffman() {
    run_vectors("C.4", Decoder::new(4096), &C4);
}

#[test]
fn rfc_7541_c5_responses_evict_without_huffman() {
    run_vectors("C.5", small_table(), &C5);
}

#[test]
fn rfc_7541_c6_responses_evict_with_huffman() {
    run_vectors("C.6", small_table(), &C6);
}

#[test]
fn rfc_7541_c2_single_representations() {
    let mut d = Decoder::new(4096);
    // C.2.1 literal with indexing, new name.
    let (f, _) = decode(
        &mut d,
        &hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"),
    )
    .expect("C.2.1");
    assert_eq!(f, pairs(&[("custom-key", "custom-header")]));
    assert_eq!(d.table().size(), 55);
    // C.2.2 literal without indexing, indexed name: the table is unchanged.
    let (f, _) = decode(&mut d, &hex("040c2f73616d706c652f70617468")).expect("C.2.2");
    assert_eq!(f, pairs(&[(":path", "/sample/path")]));
    assert_eq!(d.table().len(), 1);
    // C.2.3 never indexed: flagged.
    let mut never = false;
    d.decode(&hex("100870617373776f726406736563726574"), |f| {
        never = f.never_indexed
    })
    .expect("C.2.3");
    assert!(never);
    // C.2.4 indexed static field.
    assert_eq!(
        decode(&mut d, &[0x82]).expect("C.2.4").0,
        pairs(&[(":method", "GET")])
    );
}

#[test]
fn rfc_7541_c1_integers() {
    let mut b: &[u8] = &[0x0a];
    assert_eq!(integer(&mut b, 5), Ok(10));
    let mut b: &[u8] = &[0x1f, 0x9a, 0x0a, 0xff];
    assert_eq!(integer(&mut b, 5), Ok(1337));
    assert_eq!(b, &[0xff]);
    let mut b: &[u8] = &[0x2a];
    assert_eq!(integer(&mut b, 8), Ok(42));
}

// ---------------------------------------------------------------------------------------------
// Builders for hand-made blocks.

fn int(out: &mut Vec<u8>, high: u8, prefix: u32, mut v: u64) {
    let max = (1u64 << prefix) - 1;
    if v < max {
        out.push(high | v as u8);
        return;
    }
    out.push(high | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn str_lit(out: &mut Vec<u8>, s: &str) {
    int(out, 0, 7, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Literal with incremental indexing, new name.
fn insert(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x40);
    str_lit(out, name);
    str_lit(out, value);
}

/// Literal with incremental indexing, name by index.
fn insert_indexed_name(out: &mut Vec<u8>, index: u64, value: &str) {
    int(out, 0x40, 6, index);
    str_lit(out, value);
}

fn indexed(out: &mut Vec<u8>, index: u64) {
    int(out, 0x80, 7, index);
}

fn size_update(out: &mut Vec<u8>, size: u64) {
    int(out, 0x20, 5, size);
}

#[test]
fn an_unknown_dynamic_index_is_marked_and_the_fields_after_it_still_decode() {
    // Joined late: the encoder's table holds entries this decoder never saw.
    let mut d = Decoder::joined_late(4096);
    let mut b = Vec::new();
    indexed(&mut b, 3); // :method POST
    indexed(&mut b, 70); // an entry inserted before the capture
    insert_indexed_name(&mut b, 65, "x"); // a value for a name never seen
    insert(&mut b, "x-trace", "abc");
    indexed(&mut b, 4); // :path /
    let (fields, summary) = decode(&mut d, &b).expect("tolerant");
    assert_eq!(
        fields,
        pairs(&[
            (":method", "POST"),
            ("?", "?"),
            ("?", "x"),
            ("x-trace", "abc"),
            (":path", "/")
        ])
    );
    assert_eq!(summary.unknown_fields, 2);
    assert!(d.state_lost());
    // Both insertions count: the newest (index 62) is x-trace, the unknown-name one is 63.
    let mut b = Vec::new();
    indexed(&mut b, 62);
    indexed(&mut b, 63);
    let (fields, _) = decode(&mut d, &b).expect("later block");
    assert_eq!(fields, pairs(&[("x-trace", "abc"), ("?", "x")]));
}

#[test]
fn forgetting_after_a_lost_block_never_resolves_a_shifted_index() {
    let mut enc_side = Vec::new();
    insert(&mut enc_side, "a", "1");
    let mut d = Decoder::new(4096);
    decode(&mut d, &enc_side).expect("first");
    // A block inserting "b" is lost; the encoder's index 62 is now "b", 63 is "a".
    d.forget();
    let mut b = Vec::new();
    indexed(&mut b, 62);
    let (fields, summary) = decode(&mut d, &b).expect("after gap");
    assert_eq!(fields, pairs(&[("?", "?")]), "never the stale \"a\"");
    assert_eq!(summary.unknown_fields, 1);
}

#[test]
fn size_updates_evict_and_are_capped_at_the_limit() {
    let mut d = Decoder::new(100);
    assert_eq!(
        d.table().max_size(),
        100,
        "4096 capped to the 100-byte limit"
    );
    let mut b = Vec::new();
    insert(&mut b, "aaaa", "1111"); // 40 bytes
    insert(&mut b, "bbbb", "2222"); // 40 bytes
    let (_, s) = decode(&mut d, &b).expect("two entries");
    assert_eq!((d.table().len(), d.table().size(), s.evictions), (2, 80, 0));
    // A third entry does not fit: the oldest goes.
    let mut b = Vec::new();
    insert(&mut b, "cccc", "3333");
    let (_, s) = decode(&mut d, &b).expect("third");
    assert_eq!((d.table().len(), s.evictions), (2, 1));
    assert_eq!(table(&d), pairs(&[("cccc", "3333"), ("bbbb", "2222")]));
    // A size update to 50 evicts down to one entry; one to 200 is capped at 100.
    let mut b = Vec::new();
    size_update(&mut b, 50);
    size_update(&mut b, 200);
    let (_, s) = decode(&mut d, &b).expect("updates");
    assert_eq!((s.size_updates, s.capped_size_updates), (2, 1));
    assert_eq!(table(&d), pairs(&[("cccc", "3333")]));
    assert_eq!(d.table().max_size(), 100);
    // Size 0 empties the table.
    decode(&mut d, &[0x20]).expect("zero");
    assert!(d.table().is_empty());
}

#[test]
fn an_entry_larger_than_the_table_empties_it() {
    let mut d = Decoder::new(64);
    let mut b = Vec::new();
    insert(&mut b, "a", "1");
    insert(&mut b, "name", &"v".repeat(40));
    let (fields, s) = decode(&mut d, &b).expect("RFC 7541 section 4.4 is not an error");
    assert_eq!(fields.len(), 2);
    assert_eq!(
        (s.oversized_entries, d.table().len(), d.table().size()),
        (1, 0, 0)
    );
}

#[test]
fn corrupt_blocks_are_errors_after_the_fields_before_them() {
    let cases: &[(&str, &[u8], HpackError)] = &[
        ("index 0", &[0x82, 0x80], HpackError::ZeroIndex),
        ("cut integer", &[0x82, 0xff], HpackError::Truncated),
        (
            "cut string",
            &[0x82, 0x40, 0x05, b'a'],
            HpackError::Truncated,
        ),
        (
            "huge integer",
            &[0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            HpackError::IntegerOverflow,
        ),
        (
            "endless zero continuation",
            &[
                0x82, 0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
            ],
            HpackError::IntegerOverflow,
        ),
        (
            "bad huffman",
            &[0x82, 0x00, 0x81, 0xff, 0x00],
            HpackError::Huffman(HuffmanError::Padding),
        ),
    ];
    for (what, block, want) in cases {
        let mut seen = Vec::new();
        let got = Decoder::new(4096).decode(block, |f| seen.push(owned(f)));
        assert_eq!(got, Err(*want), "{what}");
        assert_eq!(
            seen,
            pairs(&[(":method", "GET")]),
            "{what}: the field before the error"
        );
    }
}

proptest::proptest! {
    /// Any bytes: an error or a summary, never a panic, and the table within its bounds.
    #[test]
    fn arbitrary_blocks_never_panic_and_keep_the_table_bounded(
        blocks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..48), 1..6),
        limit in 0usize..512,
    ) {
        let mut d = Decoder::new(limit);
        for b in &blocks {
            let _ = d.decode(b, |_| {});
            proptest::prop_assert!(d.table().size() <= d.table().max_size());
            proptest::prop_assert!(d.table().max_size() <= limit);
        }
    }

    /// Decoding a stream of blocks after losing its first ones gives, for every field, either
    /// what a decoder that saw everything gives, or an unknown part: never a different value.
    #[test]
    fn late_decoders_are_never_wrong_only_unknown(
        ops in proptest::collection::vec((0u8..4, 0usize..6, 0u64..8), 1..40),
        skip in 0usize..10,
    ) {
        let names = ["a", "bb", "ccc", "dddd", "x-long-name", "y"];
        let mut blocks = Vec::new();
        let mut inserted = 0u64;
        for chunk in ops.chunks(4) {
            let mut b = Vec::new();
            for &(op, n, i) in chunk {
                match op {
                    0 => { insert(&mut b, names[n], &"v".repeat(n * 3)); inserted += 1; }
                    1 if inserted > 0 => indexed(&mut b, 62 + i % inserted),
                    2 if inserted > 0 => { insert_indexed_name(&mut b, 62 + i % inserted, "w"); inserted += 1; }
                    _ => indexed(&mut b, 1 + (i % 61)),
                }
            }
            blocks.push(b);
        }
        let mut full = Decoder::new(4096);
        let mut late = Decoder::joined_late(4096);
        for (k, b) in blocks.iter().enumerate() {
            let (want, _) = decode(&mut full, b).expect("valid");
            if k < skip {
                continue;
            }
            let (got, _) = decode(&mut late, b).expect("valid");
            for (g, w) in got.iter().zip(want.iter()) {
                proptest::prop_assert!(g.0 == "?" || g.0 == w.0);
                proptest::prop_assert!(g.1 == "?" || g.1 == w.1);
            }
        }
    }
}
