//! `apitap replay`: capture files through the pipeline to an exporter.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::time::Instant;

use apitap_exporters::{ExportError, Exporter, JsonLinesExporter};
use indicatif::{ProgressBar, ProgressStyle};

use crate::capture::{OfflineSource, PacketRef};
use crate::cli::{load_config, Progress, ReplayArgs};
use crate::exit;
use crate::pipeline::Pipeline;
use crate::summary::Summary;

/// Output buffer size: large writes keep the exporter off the profile.
const OUTPUT_BUFFER_BYTES: usize = 1 << 20;
/// The progress bar is updated once per this many packets (cheap, and smooth enough).
const PROGRESS_EVERY_PACKETS: u64 = 16_384;
/// Bytes of a pcap record header, to turn captured lengths into file position.
const PCAP_RECORD_HEADER_LEN: u64 = 16;

/// Open the output named on the command line (`-` is stdout).
fn open_output(path: &std::path::Path) -> std::io::Result<Box<dyn Exporter>> {
    let w: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(path)?)
    };
    Ok(Box::new(JsonLinesExporter::new(BufWriter::with_capacity(
        OUTPUT_BUFFER_BYTES,
        w,
    ))))
}

/// Run `apitap replay`; returns the exit code.
pub fn run(args: &ReplayArgs) -> i32 {
    let cfg = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut source = match OfflineSource::open(&args.files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("apitap: {e}");
            return exit::USAGE;
        }
    };
    let exporter = match open_output(&args.output) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("apitap: cannot open output {}: {e}", args.output.display());
            return exit::USAGE;
        }
    };
    let mut pipeline = Pipeline::new(&cfg, exporter);
    let bar = progress_bar(args.progress, source.total_bytes());
    let started = Instant::now();

    let mut out_err: Option<ExportError> = None;
    let mut packets = 0u64;
    let mut file_pos = 0u64;
    source.run(|pkt: PacketRef<'_>| {
        packets += 1;
        file_pos += PCAP_RECORD_HEADER_LEN + pkt.data.len() as u64;
        if packets % PROGRESS_EVERY_PACKETS == 0 {
            if let Some(b) = &bar {
                b.set_position(file_pos);
            }
        }
        match pipeline.on_packet(pkt) {
            Ok(()) => true,
            Err(e) => {
                out_err = Some(e);
                false
            }
        }
    });
    if out_err.is_none() {
        out_err = pipeline.finish().err();
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let elapsed = started.elapsed();
    let input_errors = source.take_errors();
    let stats = pipeline.stats();

    if let Some(path) = &args.stats_json {
        let written = serde_json::to_vec_pretty(&stats)
            .map_err(std::io::Error::other)
            .and_then(|j| std::fs::write(path, j));
        if let Err(e) = written {
            eprintln!("apitap: cannot write stats to {}: {e}", path.display());
        }
    }
    if !args.quiet {
        let summary = Summary {
            files: source.reports(),
            stats: &stats,
            elapsed,
        };
        eprint!("{summary}");
    }
    for e in &input_errors {
        eprintln!("apitap: {e}");
    }
    if let Some(e) = out_err {
        eprintln!("apitap: {e}; processing stopped");
        return exit::OUTPUT_FAILED;
    }
    if !input_errors.is_empty() {
        return exit::INPUT_DAMAGED;
    }
    exit::OK
}

/// A byte-based progress bar when asked for (or when stderr is a terminal).
fn progress_bar(mode: Progress, total: u64) -> Option<ProgressBar> {
    let show = match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    if !show {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
