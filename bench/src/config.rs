//! What the user sets: the shape of the synthetic traffic.

use clap::Args;

use crate::error::GenError;

/// Default number of HTTP transactions (request/response pairs) in the capture.
pub const DEFAULT_TRANSACTIONS: u64 = 200_000;
/// Default number of concurrently open keep-alive connections.
pub const DEFAULT_CONNECTIONS: u32 = 2_000;
/// Default PRNG seed.
pub const DEFAULT_SEED: u64 = 1;
/// Default TCP MSS: 1500-byte Ethernet MTU minus 20 (IPv4) minus 20 (TCP) minus 12 (timestamps
/// option, RFC 7323 §3), as Linux advertises on Ethernet.
pub const DEFAULT_MSS: u16 = 1448;
/// Default share of responses with `Content-Encoding: gzip`.
pub const DEFAULT_GZIP_RATIO: f64 = 0.3;
/// Default share of responses with `Transfer-Encoding: chunked`.
pub const DEFAULT_CHUNKED_RATIO: f64 = 0.25;
/// Default share of connections carried over IPv6.
pub const DEFAULT_IPV6_RATIO: f64 = 0.0;
/// Default upper bound of requests per keep-alive connection (uniform in `1..=max`).
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u32 = 100;
/// VXLAN Network Identifier used when `--vxlan` is given without a value.
pub const DEFAULT_VNI: u32 = 42;
/// Largest VNI: the field is 24 bits (RFC 7348 §5).
pub const MAX_VNI: u32 = (1 << 24) - 1;
/// Smallest MSS a host must accept (RFC 9293 §3.7.1: 576-byte datagrams, 536 bytes of data).
pub const MIN_MSS: u16 = 536;
/// Largest MSS accepted: a 9000-byte jumbo frame minus IPv6 and TCP headers with timestamps.
pub const MAX_MSS: u16 = 8928;

/// Shape of the generated traffic.
#[derive(Debug, Clone, Args)]
pub struct TrafficConfig {
    /// Number of HTTP transactions (request/response pairs) to generate.
    #[arg(long, default_value_t = DEFAULT_TRANSACTIONS)]
    pub transactions: u64,
    /// Number of concurrently open keep-alive connections.
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: u32,
    /// PRNG seed; the same flags and seed give a byte-identical pcap.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// TCP maximum segment size in bytes (payload bytes per data segment).
    #[arg(long, default_value_t = DEFAULT_MSS)]
    pub mss: u16,
    /// Share (0..=1) of responses compressed with `Content-Encoding: gzip`.
    #[arg(long, default_value_t = DEFAULT_GZIP_RATIO)]
    pub gzip_ratio: f64,
    /// Share (0..=1) of responses sent with `Transfer-Encoding: chunked`.
    #[arg(long, default_value_t = DEFAULT_CHUNKED_RATIO)]
    pub chunked_ratio: f64,
    /// Share (0..=1) of connections carried over IPv6 instead of IPv4.
    #[arg(long, default_value_t = DEFAULT_IPV6_RATIO)]
    pub ipv6_ratio: f64,
    /// Upper bound of requests per connection; each connection draws uniformly in 1..=max.
    #[arg(long, default_value_t = DEFAULT_MAX_REQUESTS_PER_CONNECTION)]
    pub max_requests_per_connection: u32,
    /// Wrap every frame in outer Ethernet/IPv4/UDP 4789/VXLAN with this VNI (default 42).
    #[arg(long, value_name = "VNI", num_args = 0..=1, default_missing_value = "42")]
    pub vxlan: Option<u32>,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            transactions: DEFAULT_TRANSACTIONS,
            connections: DEFAULT_CONNECTIONS,
            seed: DEFAULT_SEED,
            mss: DEFAULT_MSS,
            gzip_ratio: DEFAULT_GZIP_RATIO,
            chunked_ratio: DEFAULT_CHUNKED_RATIO,
            ipv6_ratio: DEFAULT_IPV6_RATIO,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            vxlan: None,
        }
    }
}

impl TrafficConfig {
    /// Rejects settings that cannot produce a valid capture, naming the flag to fix.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |msg: String| Err(GenError::InvalidConfig(msg));
        if self.connections == 0 {
            return bad("--connections must be at least 1".into());
        }
        if self.max_requests_per_connection == 0 {
            return bad("--max-requests-per-connection must be at least 1".into());
        }
        if !(MIN_MSS..=MAX_MSS).contains(&self.mss) {
            return bad(format!(
                "--mss {} is outside {MIN_MSS}..={MAX_MSS}",
                self.mss
            ));
        }
        for (name, v) in [
            ("--gzip-ratio", self.gzip_ratio),
            ("--chunked-ratio", self.chunked_ratio),
            ("--ipv6-ratio", self.ipv6_ratio),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} {v} is outside 0..=1"));
            }
        }
        if let Some(vni) = self.vxlan {
            if vni > MAX_VNI {
                return bad(format!(
                    "--vxlan {vni} exceeds the 24-bit VNI maximum {MAX_VNI}"
                ));
            }
        }
        Ok(())
    }
}
