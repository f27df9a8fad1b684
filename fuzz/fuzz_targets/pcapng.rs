//! The pcapng reader: any bytes as a file, read block by block to the end or to damage.
//!
//! Checks: no panic; every packet lies inside the reader's buffer and inside its block; the
//! position never passes the input's length and only grows; a clean end is at a block
//! boundary, the whole input read.
#![no_main]

use apitap::capture::pcapng::{PcapNgFile, Step};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut f = PcapNgFile::from_reader(Box::new(std::io::Cursor::new(data.to_vec())));
    let mut last = 0;
    loop {
        let step = f.advance();
        let pos = f.position();
        assert!(pos >= last && pos <= data.len() as u64);
        last = pos;
        match step {
            Ok(Step::Packet(p)) => {
                assert!(p.start + p.len <= f.bytes().len());
            }
            Ok(Step::Secrets(_)) => {}
            Ok(Step::End) => {
                assert_eq!(pos, data.len() as u64, "a clean end reads everything");
                break;
            }
            Err(_) => break,
        }
    }
});
