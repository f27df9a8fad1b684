//! `apitap consume`: read apitap events back from Kafka, filter them and print a session
//! timeline (or the records unchanged with `--json`).

pub mod filter;
pub mod reader;
pub mod timeline;

pub use reader::run;
