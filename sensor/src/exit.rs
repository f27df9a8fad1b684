//! Process exit codes (documented in the README and `apitap --help`).

/// Everything was read and every event written.
pub const OK: i32 = 0;
/// An input file is damaged (truncated or corrupt): the packets before the damage were
/// processed and their events written, the rest of that file was not read.
pub const INPUT_DAMAGED: i32 = 1;
/// Bad usage: unknown flag, invalid config, a capture file that cannot be opened or has an
/// unsupported link type. Nothing was processed.
pub const USAGE: i32 = 2;
/// Events could not be written (disk full, closed pipe); processing stopped.
pub const OUTPUT_FAILED: i32 = 3;
/// Some events were not delivered to Kafka: dropped (buffer full, too large), failed
/// (retriable, final or unknown delivery errors) or still queued when the shutdown flush timed
/// out. Processing completed; the summary and `--stats-json` count every lost record by reason.
pub const EXPORT_LOSS: i32 = 4;
/// `apitap live` and `listen`: packets were dropped before decoding (the kernel ring or a
/// worker queue was full), or a capture (an interface, a mirror socket) failed; every other
/// record was written. The drops are counted in
/// `apitap_dropped_packets_total` and in the final log line.
pub const PACKETS_DROPPED: i32 = 5;
