//! Attack detection for apitap (issue 22): one HTTP request in, [`Finding`]s out.
//!
//! Pure: no I/O, no threads, no clocks. A [`Detector`] is built once from [`DetectConfig`] and
//! shared by reference; [`Detector::scan`] takes a borrowed [`Request`] (the HTTP layer's parse
//! after body decoding) and appends findings: class, stable rule id, location (`query:id`,
//! `body:/a/0/b`...) and at most 64 bytes of evidence. [`outcome()`] reads what the response says
//! about an attack. The classes, their methods and the normalisers are described in
//! docs/detection.md.

mod allow;
mod body;
mod cache;
pub mod config;
mod detector;
mod fields;
pub mod finding;
mod names;
pub mod normalize;
pub mod outcome;
mod prefilter;
pub mod request;
mod rules;

#[cfg(test)]
mod tests;

pub use body::{MAX_JSON_DEPTH, MAX_MULTIPART_PARTS};
pub use cache::{MAX_CACHED_VALUE_BYTES, MAX_CACHE_KEY_BYTES, SEEN_ENTRIES, VERDICT_CACHE_ENTRIES};
pub use config::{AllowRule, ClassToggles, DetectConfig, DetectConfigError};
pub use detector::{Detector, ScanReport, Scanner};
pub use finding::{Class, Finding, Location, MAX_EVIDENCE_BYTES};
pub use names::{MAX_NAME_MEMO_BYTES, NAME_MEMO_ENTRIES};
pub use normalize::MAX_NORMALIZE_ROUNDS;
pub use outcome::{outcome, Outcome};
pub use request::Request;
pub use rules::jndi::MAX_LOOKUP_STEPS;
