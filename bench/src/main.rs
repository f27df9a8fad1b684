//! `apitap-gen-traffic`: writes a large synthetic HTTP API-traffic pcap for benchmarks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use apitap_bench::{generate, PcapSink, TrafficConfig};
use clap::Parser;

/// Output buffer size: large sequential writes.
const WRITE_BUFFER_BYTES: usize = 4 << 20;

/// Generate a synthetic HTTP API-traffic pcap (keep-alive, JSON, gzip, chunked).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// pcap file to write.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the JSON summary (default: `<out>.json`).
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Traffic shape.
    #[command(flatten)]
    traffic: TrafficConfig,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let started = Instant::now();
    let file =
        File::create(&cli.out).with_context(|| format!("cannot create {}", cli.out.display()))?;
    let mut sink = PcapSink::new(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file))?;
    let summary = generate(&cli.traffic, &mut sink)?;
    sink.into_inner()
        .flush()
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    let elapsed = started.elapsed();

    let json_path = cli.summary_json.unwrap_or_else(|| {
        let mut p = cli.out.clone().into_os_string();
        p.push(".json");
        p.into()
    });
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(&json_path, json + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;

    eprintln!(
        "wrote {}: {} packets, {} wire bytes, {} transactions, {} connections (max {} concurrent), \
         {:.3} s of traffic, generated in {:.2} s; summary in {}",
        cli.out.display(),
        summary.packets,
        summary.wire_bytes,
        summary.transactions,
        summary.connections,
        summary.max_concurrent_connections,
        summary.duration_us as f64 / 1e6,
        elapsed.as_secs_f64(),
        json_path.display()
    );
    Ok(())
}
