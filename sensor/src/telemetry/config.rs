//! `[telemetry]`: where `/metrics` and `/healthz` listen, and how often the status line is
//! logged.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `[telemetry]` section.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Address of the `/metrics` (Prometheus text format) and `/healthz` endpoints, e.g.
    /// `"127.0.0.1:9464"`. None (the default): no listener. `--metrics-listen` replaces it.
    /// Any address other than loopback exposes traffic statistics: firewall it.
    pub listen: Option<SocketAddr>,
    /// Milliseconds between two status lines in the log (packets/s, drops, flows, sessions);
    /// 0 = none.
    pub status_interval_ms: u64,
}

/// 10 s: a line a human can follow, cheap at any rate.
fn default_status_interval_ms() -> u64 {
    10_000
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            listen: None,
            status_interval_ms: default_status_interval_ms(),
        }
    }
}
