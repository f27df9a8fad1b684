//! HTTP/2 over cleartext TCP (h2c, RFC 9113) with HPACK (RFC 7541) and gRPC accounting: a
//! pure frame parser ([`frame`]), a tolerant HPACK decoder ([`hpack`]), per-connection state
//! ([`connection`]) emitting one [`H2Exchange`] per stream, and gRPC calls ([`grpc`]).
//!
//! Which connections are HTTP/2 is the HTTP tracker's decision: the client preface
//! ([`frame::preface`]), a 101 answering `Upgrade: h2c`, or frames found mid-stream
//! ([`frame::looks_like_http2`]).

pub mod anomaly;
pub mod config;
pub mod connection;
pub mod exchange;
pub mod frame;
pub mod grpc;
pub mod hpack;
pub mod huffman;
pub mod stats;

pub use anomaly::H2Anomaly;
pub use config::Http2Config;
pub use connection::{Ctx, H2Connection};
pub use exchange::{Body, H2Exchange, H2Request, H2Response, Reset};
pub use grpc::{GrpcCall, MessageCounts};
pub use stats::Http2Stats;
