//! The threaded pipeline: flow-sharded workers around the same stages as
//! [`crate::pipeline::Pipeline`], for `apitap live` and `apitap replay --workers N`.
//! See `docs/architecture.md` (threading).

pub mod dispatch;
pub mod merge;
pub mod sharded;
pub mod worker;

pub use dispatch::{
    flow_hash, Dispatcher, PacketBatch, QueueDrops, Router, ToWorker, BATCH_PACKETS,
};
pub use sharded::{AnyPipeline, Sharded, Shared};
pub use worker::MAX_WORKERS;
