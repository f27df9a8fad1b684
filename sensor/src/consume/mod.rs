//! Reading apitap events back from Kafka for `apitap consume` (`cmd/consume.rs`): the
//! reader, the record filters, the session timeline.

pub mod filter;
pub mod reader;
pub mod timeline;
