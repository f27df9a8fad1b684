//! Telemetry of the live daemon: Prometheus `/metrics` and `/healthz` (prometheus-client, axum),
//! structured logs through `tracing`, and the periodic status line. Metric names are listed in
//! `docs/metrics.md`.

pub mod config;
pub mod log;
pub mod metrics;
pub mod server;

pub use config::TelemetryConfig;
