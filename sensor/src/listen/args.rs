//! Flags of `apitap listen`.

use crate::cli::SinkArgs;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// 32 MiB: about a quarter of a second of a busy 1 Gbit/s mirror session.
const DEFAULT_RCVBUF_BYTES: usize = 32 << 20;

/// Flags of `apitap listen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Receives mirrored traffic as a UDP endpoint: no libpcap, no promiscuous mode. \
                        Every datagram on a --vxlan socket is decoded as VXLAN, on a --geneve socket as \
                        GENEVE, whatever `[decode]` ports say. SIGINT/SIGTERM flush and exit. \
                        See docs/deploy.md (Cloud and switch mirroring)."
)]
pub struct ListenArgs {
    /// Receive VXLAN (AWS VPC Traffic Mirroring, Azure vTAP) on this address, e.g.
    /// `0.0.0.0:4789`; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub vxlan: Vec<SocketAddr>,
    /// Receive GENEVE (AWS Gateway Load Balancer) on this address, e.g. `0.0.0.0:6081`;
    /// repeatable.
    #[arg(long, value_name = "ADDR")]
    pub geneve: Vec<SocketAddr>,
    /// Socket receive buffer per socket, bytes (`SO_RCVBUFFORCE` as root, else capped by
    /// `net.core.rmem_max`). Drops at a full buffer are counted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RCVBUF_BYTES)]
    pub rcvbuf_bytes: usize,
    /// Config and output, as for replay.
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Serve /metrics and /healthz on this address; replaces `telemetry.listen`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Write the final counters as JSON to this file at exit.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Stop by itself after this many milliseconds (tests, timed captures).
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
    /// Do not print the summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}
