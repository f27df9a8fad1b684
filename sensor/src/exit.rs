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
