//! `apitap-gen-scenario`: a capture of abusive actors mixed into benign traffic against a
//! small shop API, with its truth file (every actor, its addresses and User-Agent, and the
//! alert kind it must raise or `benign`). See `fixtures/behaviours/README.md`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use apitap_bench::scenario::{generate, write_truth};
use apitap_bench::PcapSink;
use clap::Parser;

/// Generate a behaviours scenario capture and its truth file.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// pcap file to write.
    #[arg(long)]
    out: PathBuf,
    /// Truth file to write (default: `<out>` with `.truth.json` for `.pcap`).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// PRNG seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file =
        File::create(&cli.out).with_context(|| format!("cannot create {}", cli.out.display()))?;
    let mut sink = PcapSink::new(BufWriter::new(file))?;
    let truth = generate(cli.seed, &mut sink)?;
    sink.into_inner()
        .flush()
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    let path = cli
        .truth
        .unwrap_or_else(|| cli.out.with_extension("truth.json"));
    let mut out = BufWriter::new(
        File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    write_truth(&truth, &mut out)?;
    out.flush()?;
    let abusive = truth.actors.iter().filter(|a| a.label != "benign").count();
    eprintln!(
        "wrote {}: {} requests from {} actors ({abusive} abusive); truth in {}",
        cli.out.display(),
        truth.requests,
        truth.actors.len(),
        path.display()
    );
    Ok(())
}
