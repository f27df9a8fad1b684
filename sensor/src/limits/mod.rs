//! One memory budget for the whole sensor (`[limits]`): `max_memory_mb` is split into shares,
//! one per kind of state that grows with the traffic, and each component's bound is derived
//! from its share divided by what one entry costs. A bound set explicitly in its own section
//! that is smaller wins. When a share is full its oldest state is evicted, counted, and
//! marked on the transactions it cuts (`docs/config.md`, "Memory budget").
//!
//! | share | state | bound derived | at the bound |
//! | --- | --- | --- | --- |
//! | [`FLOWS_PERCENT`] | TCP flows and their HTTP connection entries | `reassembly.max_flows` | least recently seen flow closed (`flows_evicted`) |
//! | [`OOO_PERCENT`] | out-of-order bytes | `reassembly.max_ooo_bytes_total` | the stream gives up its holes (`global_buffer_limit`) |
//! | [`RETAINED_PERCENT`] | delivered bytes kept until acknowledged | `reassembly.max_retained_bytes_total` | the stream drops what it keeps (`global_retained_limit`) |
//! | [`HTTP_PERCENT`] | partial heads, waiting requests, stored bodies | `http.max_held_bytes_total` | least recently active connection gives them up (`memory_limit`) |
//! | [`SESSIONS_PERCENT`] | open sessions | `session.max_sessions` | least recently active session ends (`evicted`) |
//!
//! The rest ([`UNSHARED_PERCENT`]) is for what has fixed bounds of its own: the behaviours'
//! tables (their `max_sessions` follows the sessions' bound), the detection and JWT caches,
//! batches and queues, the program itself.
//!
//! The flow, reassembly and HTTP shares are per worker thread: with `N` workers each gets
//! its share divided by `N`. Sessions live on one thread and keep the whole share.

mod budget;
pub mod config;

pub use budget::*;
pub use config::{LimitsConfig, MAX_MEMORY_MB, MIN_MEMORY_MB};
