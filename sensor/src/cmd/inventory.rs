//! `apitap inventory`: the API inventory rebuilt from records (JSON-lines files, stdin, or
//! Kafka topics): every host and endpoint seen, with its API status, parameters, media types,
//! auth schemes, statuses, drift, sessions and users; printed as a table, as JSON, as an
//! OpenAPI 3.1 document (`--openapi`), or as the diff against a spec (`--diff`).
//! docs/api-inventory.md.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use apitap_inventory::{
    diff, openapi_from_inventory, render_diff, render_table, to_yaml, Aggregator, Inventory,
    OpenApiOptions, Spec,
};
use clap::Args;
use serde_json::Value;

use crate::config::Config;
use crate::consume::reader::{Reader, ReaderOptions, StartAt};
use crate::error::{Outcome, RunError};

/// Longest line read from a records file: a record past it is counted as unreadable rather
/// than held (records are far smaller; `output.body_capture_bytes` is at most 1 MiB).
pub const MAX_RECORD_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Flags of `apitap inventory`.
#[derive(Debug, Args)]
#[command(
    after_help = "Records come from FILEs (JSON lines as `apitap replay` writes them; `-` is stdin) \
                  or, with -b, from Kafka: the http and session topics read from the beginning to \
                  their end. Without --json, --openapi or --diff the inventory is printed as a table."
)]
pub struct InventoryArgs {
    /// JSON-lines record files (`-` for stdin).
    #[arg(value_name = "FILE", conflicts_with = "brokers")]
    pub files: Vec<PathBuf>,
    /// Read the records from Kafka instead: brokers, `host:port,host:port`.
    #[arg(short = 'b', long, value_name = "BROKERS")]
    pub brokers: Option<String>,
    /// Topic to read; repeat for several. Default: the config's (or the default) http and
    /// sessions topics.
    #[arg(
        short = 't',
        long = "topic",
        value_name = "TOPIC",
        requires = "brokers"
    )]
    pub topics: Vec<String>,
    /// A librdkafka consumer property, `name=value`; repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE", requires = "brokers")]
    pub properties: Vec<String>,
    /// Take the topics and librdkafka properties from this config file's `[export.kafka]`.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Give up when no broker answers within this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Print the inventory as one JSON document.
    #[arg(long, conflicts_with_all = ["openapi", "diff"])]
    pub json: bool,
    /// Write the OpenAPI 3.1 document rebuilt from the traffic to this file (`-`: stdout).
    #[arg(long, value_name = "OUT")]
    pub openapi: Option<PathBuf>,
    /// `info.title` of the `--openapi` document.
    #[arg(long, value_name = "TITLE", requires = "openapi")]
    pub title: Option<String>,
    /// Compare the traffic with this spec (OpenAPI 3.x or Swagger 2.0, YAML or JSON): shadow
    /// endpoints, zombie calls, drift, and operations never called.
    #[arg(long, value_name = "SPEC")]
    pub diff: Option<PathBuf>,
}

/// Run `apitap inventory`.
pub fn run(args: &InventoryArgs) -> Result<Outcome, RunError> {
    if args.files.is_empty() && args.brokers.is_none() {
        return Err(RunError::Usage(
            "apitap inventory needs records: FILEs (`-` for stdin) or -b BROKERS".into(),
        ));
    }
    // The spec is read before the records: a wrong path fails at once.
    let spec = args.diff.as_deref().map(load_spec).transpose()?;
    let mut agg = Aggregator::new();
    let unreadable = match &args.brokers {
        Some(brokers) => read_kafka(args, brokers, &mut agg)?,
        None => read_files(&args.files, &mut agg)?,
    };
    let inv = agg.finish();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let printed = print(args, &inv, spec, &mut out);
    match printed {
        Err(RunError::Print(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    out.flush().ok();
    if unreadable > 0 {
        eprintln!("apitap: {unreadable} lines or messages were not JSON records and were skipped");
    }
    let s = &inv.stats;
    eprintln!(
        "apitap: inventory of {} http records ({} session records read); {} hosts, {} endpoints",
        s.http_records,
        s.session_records,
        inv.hosts.len(),
        inv.hosts.iter().map(|h| h.endpoints.len()).sum::<usize>()
    );
    if s.hosts_dropped + s.endpoints_dropped > 0 {
        eprintln!(
            "apitap: requests not counted: {} to hosts past {}, {} to endpoints past {} per host",
            s.hosts_dropped,
            apitap_inventory::aggregate::MAX_HOSTS,
            s.endpoints_dropped,
            apitap_inventory::aggregate::MAX_ENDPOINTS_PER_HOST
        );
    }
    Ok(Outcome::clean())
}

/// What the flags ask to print.
fn print(
    args: &InventoryArgs,
    inv: &Inventory,
    spec: Option<Spec>,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let mut printed = false;
    if let Some(path) = &args.openapi {
        let opts = OpenApiOptions {
            title: args
                .title
                .clone()
                .unwrap_or_else(|| OpenApiOptions::default().title),
            ..OpenApiOptions::default()
        };
        let doc = openapi_from_inventory(inv, &opts);
        let yaml = to_yaml(&doc)
            .map_err(|e| RunError::Pipeline(format!("cannot write the OpenAPI document: {e}")))?;
        if path.as_os_str() == "-" {
            out.write_all(yaml.as_bytes()).map_err(RunError::Print)?;
            printed = true;
        } else {
            std::fs::write(path, yaml).map_err(|source| RunError::OpenOutput {
                path: path.clone(),
                source,
            })?;
        }
    }
    if let Some(spec) = spec {
        let d = diff(inv, spec).map_err(|e| RunError::Usage(e.to_string()))?;
        out.write_all(render_diff(&d).as_bytes())
            .map_err(RunError::Print)?;
        printed = true;
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, inv)
            .map_err(|e| RunError::Print(std::io::Error::other(e)))?;
        out.write_all(b"\n").map_err(RunError::Print)?;
    } else if !printed {
        out.write_all(render_table(inv).as_bytes())
            .map_err(RunError::Print)?;
    }
    Ok(())
}

/// The spec of `--diff`, named by its file name.
fn load_spec(path: &Path) -> Result<Spec, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Usage(format!("--diff {}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    Spec::parse(&name, &bytes).map_err(|e| RunError::Usage(format!("--diff: {e}")))
}

/// Feed every line of `files` to `agg`; returns the lines that were not JSON.
fn read_files(files: &[PathBuf], agg: &mut Aggregator) -> Result<u64, RunError> {
    let mut unreadable = 0;
    for path in files {
        let input: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(path).map_err(|e| {
                RunError::Usage(format!("cannot read records file {}: {e}", path.display()))
            })?;
            Box::new(BufReader::new(f))
        };
        unreadable += read_lines(input, agg).map_err(|e| {
            RunError::Usage(format!("cannot read records file {}: {e}", path.display()))
        })?;
    }
    Ok(unreadable)
}

/// Feed every line of `input` to `agg`; returns the lines that were not JSON records (too
/// long ones included).
fn read_lines(mut input: impl BufRead, agg: &mut Aggregator) -> std::io::Result<u64> {
    let mut unreadable = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut input, MAX_RECORD_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(unreadable);
        }
        if line.len() > MAX_RECORD_LINE_BYTES && !line.ends_with(b"\n") {
            // Skip the rest of the overlong line.
            unreadable += 1;
            let mut rest = Vec::new();
            input.read_until(b'\n', &mut rest)?;
            continue;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(rec) => {
                agg.add(&rec);
            }
            Err(_) => unreadable += 1,
        }
    }
}

/// Feed every record of the Kafka topics, from the beginning to their end, to `agg`; returns
/// the messages that were not JSON.
fn read_kafka(args: &InventoryArgs, brokers: &str, agg: &mut Aggregator) -> Result<u64, RunError> {
    let kafka = match &args.config {
        Some(path) => Config::load(path)?.export.kafka,
        None => None,
    }
    .unwrap_or_default();
    let topics = if args.topics.is_empty() {
        vec![kafka.topic_http.clone(), kafka.topic_sessions.clone()]
    } else {
        args.topics.clone()
    };
    let mut properties: Vec<(String, String)> = kafka
        .librdkafka
        .iter()
        .map(|(name, v)| (name.clone(), v.to_string()))
        .collect();
    for p in &args.properties {
        let Some((name, value)) = p.split_once('=') else {
            return Err(RunError::Usage(format!("-X {p}: expected name=value")));
        };
        properties.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut reader = Reader::open(ReaderOptions {
        brokers: brokers.to_owned(),
        topics,
        topics_named: !args.topics.is_empty(),
        start: StartAt::Beginning,
        group: None,
        follow: false,
        properties,
        timeout: Duration::from_millis(args.timeout_ms),
    })?;
    let mut unreadable = 0;
    while let Some(rec) = reader.next_record()? {
        match serde_json::from_slice::<Value>(&rec.payload) {
            Ok(v) => {
                agg.add(&v);
            }
            Err(_) => unreadable += 1,
        }
    }
    Ok(unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_json_are_counted_and_blank_ones_ignored() {
        let text = b"{\"type\":\"http\",\"request\":{\"method\":\"GET\",\"path\":\"/a\"}}\n\nnot json\n{\"type\":\"session\"}";
        let mut agg = Aggregator::new();
        assert_eq!(read_lines(&text[..], &mut agg).unwrap(), 1);
        let inv = agg.finish();
        assert_eq!(inv.stats.http_records, 1);
        assert_eq!(inv.stats.session_records, 1);
    }
}
