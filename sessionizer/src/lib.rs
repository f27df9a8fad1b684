//! HTTP/1.x transactions and API sessions, from reassembled TCP streams.
//!
//! Pure: bytes and packet timestamps in, transactions and session records out. The
//! [`http::HttpTracker`] is a [`apitap_reassembly::StreamSink`]: give it every stream event and
//! drain the finished [`http::Transaction`]s; give each to [`session::Sessionizer::observe`] for
//! its session fields and the `session` records.

pub mod alert;
pub mod http;
pub mod http2;
pub mod prefetch;
pub mod record;
pub mod session;
mod text;
pub mod tls;
pub mod tunnel;
pub mod websocket;
