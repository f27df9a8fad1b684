//! `apitap ui`: ingest apitap records (JSON-lines files, stdin, or Kafka as a consumer group)
//! into the store and serve the web views until SIGINT/SIGTERM (docs/ui.md).
//!
//! Threads: one reader per source in turn (files, then stdin, then Kafka), sending chunks of
//! lines over a bounded channel to the writer thread, which owns the store's one write
//! connection and commits a batch when it is full or has waited `ui.flush_interval_ms`; the
//! web server on its own thread; this thread waits for signals.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apitap_ui::web::{App, Credential, Server, ServerConfig};
use apitap_ui::{IngestStats, Prepared, Preparer, Store, StoreError, Token, UiConfig};
use clap::Args;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::daemon::Signals;
use crate::config::Config;
use crate::consume::reader::{Reader, ReaderOptions, StartAt};
use crate::error::{Outcome, RunError};

/// Environment variable holding the bearer token; it takes the place of `ui.token`.
pub const TOKEN_ENV: &str = "APITAP_UI_TOKEN";
/// Lines per chunk sent from a file reader to the writer.
const CHUNK_LINES: usize = 512;
/// Chunks the channel holds before a reader waits for the writer.
const CHANNEL_CHUNKS: usize = 64;
/// How often the main thread looks at signals and at the other threads.
const WAIT_STEP: Duration = Duration::from_millis(100);
/// The store's file under the user's data directory.
const DEFAULT_DB: &str = "apitap/ui.sqlite";

/// Flags of `apitap ui`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --input or --brokers the store is served as it is. Any --listen \
                        address but loopback needs a token (ui.token, ui.analysts or APITAP_UI_TOKEN). \
                        See docs/ui.md."
)]
pub struct UiArgs {
    /// Serve the web UI on this address.
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// JSON-lines files of apitap records to ingest, in order; `-` reads stdin.
    #[arg(long = "input", value_name = "FILE", num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// The store (SQLite). Default: `$XDG_DATA_HOME/apitap/ui.sqlite`
    /// (`~/.local/share/apitap/ui.sqlite`).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Config file: its `[ui]` section, and `[export.kafka]` for the consumer's topics and
    /// librdkafka properties.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Consume apitap records from these brokers, `host:port,host:port` (as `apitap consume -b`),
    /// and keep consuming.
    #[arg(short = 'b', long, value_name = "BROKERS")]
    pub brokers: Option<String>,
    /// Topic to read; repeat for several. Default: the config's http, sessions and alerts topics.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Consumer group: `ui` instances of one group share the partitions; offsets are committed.
    #[arg(
        short = 'G',
        long = "group",
        default_value = "apitap-ui",
        value_name = "GROUP"
    )]
    pub group: String,
    /// Where a partition without a committed offset starts: beginning (default) or end.
    #[arg(short = 'o', long, value_name = "OFFSET")]
    pub offset: Option<String>,
    /// A librdkafka consumer property, `name=value`; repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE")]
    pub properties: Vec<String>,
    /// Give up when no broker answers within this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Ingest the inputs, print what was stored and exit, without serving.
    #[arg(long, conflicts_with = "brokers")]
    pub ingest_only: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A chunk of lines for the writer, each read already (parsing runs on the reader thread,
/// beside the writer's inserts).
struct Chunk {
    lines: Vec<Prepared>,
}

impl Chunk {
    fn with_capacity(n: usize) -> Self {
        Chunk {
            lines: Vec::with_capacity(n),
        }
    }

    /// Read a line (parse it, pack its text) and add it; blank lines are left out.
    fn add(
        &mut self,
        prep: &mut Preparer,
        line: &[u8],
        sensor: Option<&str>,
    ) -> Result<(), RunError> {
        if let Some(p) = prep.prepare(line, sensor).map_err(RunError::StoreWrite)? {
            self.lines.push(p);
        }
        Ok(())
    }
}

/// The store's path: `--db`, else under `$XDG_DATA_HOME` (else `~/.local/share`).
fn db_path(arg: Option<&Path>) -> Result<PathBuf, RunError> {
    if let Some(p) = arg {
        return Ok(p.to_path_buf());
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            RunError::Usage("no --db and neither XDG_DATA_HOME nor HOME is set".into())
        })?;
    Ok(base.join(DEFAULT_DB))
}

/// The accepted tokens: `APITAP_UI_TOKEN` (else `ui.token`), then `ui.analysts`.
fn credentials(cfg: &UiConfig) -> Result<Vec<Credential>, RunError> {
    let mut out = Vec::new();
    let shared = match std::env::var(TOKEN_ENV) {
        Ok(t) if !t.is_empty() => {
            if t.len() < apitap_ui::config::MIN_TOKEN_BYTES {
                return Err(RunError::Usage(format!(
                    "{TOKEN_ENV} is shorter than {} bytes; use a long random value",
                    apitap_ui::config::MIN_TOKEN_BYTES
                )));
            }
            Some(Token::new(t))
        }
        _ => cfg.token.clone(),
    };
    if let Some(token) = shared {
        out.push(Credential { name: None, token });
    }
    for (name, token) in &cfg.analysts {
        out.push(Credential {
            name: Some(name.clone()),
            token: token.clone(),
        });
    }
    Ok(out)
}

/// Run `apitap ui`.
pub fn run(args: &UiArgs) -> Result<Outcome, RunError> {
    let cfg = Config::load_or_default(args.config.as_deref())?;
    let creds = credentials(&cfg.ui)?;
    if !args.ingest_only && !args.listen.ip().is_loopback() && creds.is_empty() {
        return Err(RunError::Usage(format!(
            "--listen {} is not a loopback address: set ui.token (or {TOKEN_ENV}) so that only holders \
             of the token can read the records",
            args.listen
        )));
    }
    let kafka = match &args.brokers {
        Some(b) => Some(reader_options(args, &cfg, b)?),
        None => None,
    };
    let path = db_path(args.db.as_deref())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| RunError::OpenOutput {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let store = Store::open(&path)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = bounded::<Chunk>(CHANNEL_CHUNKS);
    let writer = spawn_writer(&store, &cfg.ui, rx, Arc::clone(&stop))?;
    let started = Instant::now();
    let prep = store.preparer()?;
    let feeder = spawn_feeder(args.inputs.clone(), kafka, prep, tx)?;
    if args.ingest_only {
        let fed = feeder.join().map_err(|_| panicked("reader"))?;
        let stats = writer.join().map_err(|_| panicked("writer"))??;
        fed?;
        report(&stats, started.elapsed(), args.quiet);
        return Ok(Outcome::clean());
    }
    let listener = std::net::TcpListener::bind(args.listen).map_err(|source| RunError::Serve {
        addr: args.listen,
        source,
    })?;
    let app = App::new(
        store,
        ServerConfig {
            page_rows: cfg.ui.page_rows,
            session_page_transactions: cfg.ui.session_page_transactions,
            credentials: creds,
        },
    )?;
    let server = Server::start(listener, app).map_err(RunError::system("start the web server"))?;
    if !args.quiet {
        eprintln!(
            "apitap ui: serving http://{} (store {})",
            server.local_addr(),
            path.display()
        );
    }
    serve_until_signal(args, server, feeder, writer, &stop, started)
}

/// Wait for SIGINT/SIGTERM (or a thread's failure), then stop: the server first, then the
/// writer, which commits what it holds.
fn serve_until_signal(
    args: &UiArgs,
    server: Server,
    feeder: JoinHandle<Result<(), RunError>>,
    writer: JoinHandle<Result<IngestStats, RunError>>,
    stop: &AtomicBool,
    started: Instant,
) -> Result<Outcome, RunError> {
    let signals = Signals::install()?;
    let mut feeder = Some(feeder);
    let mut writer = Some(writer);
    let mut failure = None;
    while failure.is_none() && !signals.terminated() && !server.is_finished() {
        if feeder.as_ref().is_some_and(|f| f.is_finished()) {
            match feeder
                .take()
                .map(|f| f.join().unwrap_or(Err(panicked("reader"))))
            {
                Some(Err(e)) => failure = Some(e),
                _ if !args.quiet && (!args.inputs.is_empty() || args.brokers.is_some()) => {
                    eprintln!(
                        "apitap ui: inputs read in {:.1} s; serving until SIGINT/SIGTERM",
                        started.elapsed().as_secs_f64()
                    )
                }
                _ => {}
            }
        }
        // The writer ends when every input is read (its channel closes) or on a store error.
        if writer.as_ref().is_some_and(|w| w.is_finished()) {
            match writer
                .take()
                .map(|w| w.join().unwrap_or(Err(panicked("writer"))))
            {
                Some(Ok(s)) => report(&s, started.elapsed(), args.quiet || s.records() == 0),
                Some(Err(e)) => failure = Some(e),
                None => {}
            }
        }
        std::thread::sleep(WAIT_STEP);
    }
    let served = server.stop();
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = writer {
        match w.join().unwrap_or(Err(panicked("writer"))) {
            Ok(s) => report(&s, started.elapsed(), args.quiet || s.records() == 0),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    served.map_err(RunError::system("serve the web UI"))?;
    Ok(Outcome::clean())
}

fn panicked(what: &'static str) -> RunError {
    RunError::System {
        what: "run apitap ui",
        source: std::io::Error::other(format!("the {what} thread panicked")),
    }
}

/// The consumer's settings: the group's committed offsets, else `-o` (default beginning);
/// follow forever.
fn reader_options(args: &UiArgs, cfg: &Config, brokers: &str) -> Result<ReaderOptions, RunError> {
    let start = match args.offset.as_deref() {
        None | Some("beginning") => StartAt::Beginning,
        Some("end") => StartAt::End,
        Some(o) => {
            return Err(RunError::Usage(format!(
                "-o {o}: apitap ui takes beginning or end (where a partition without a committed offset starts)"
            )))
        }
    };
    let k = cfg.export.kafka.clone().unwrap_or_default();
    let topics = if args.topics.is_empty() {
        vec![
            k.topic_http.clone(),
            k.topic_sessions.clone(),
            "apitap.alerts".to_owned(),
        ]
    } else {
        args.topics.clone()
    };
    let mut properties: Vec<(String, String)> = k
        .librdkafka
        .iter()
        .map(|(n, v)| (n.clone(), v.to_string()))
        .collect();
    for p in &args.properties {
        let (n, v) = p
            .split_once('=')
            .ok_or_else(|| RunError::Usage(format!("-X {p}: expected name=value")))?;
        properties.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    properties.push(("client.id".into(), "apitap-ui".into()));
    Ok(ReaderOptions {
        brokers: brokers.to_owned(),
        topics,
        topics_named: !args.topics.is_empty(),
        start,
        group: Some(args.group.clone()),
        follow: true,
        properties,
        timeout: Duration::from_millis(args.timeout_ms),
    })
}

/// The reader thread: every input file in order (`-` is stdin), then Kafka when asked.
fn spawn_feeder(
    inputs: Vec<PathBuf>,
    kafka: Option<ReaderOptions>,
    mut prep: Preparer,
    tx: Sender<Chunk>,
) -> Result<JoinHandle<Result<(), RunError>>, RunError> {
    // Files are opened here, so that a missing one is a usage error before anything runs.
    let mut sources: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    for p in &inputs {
        if p.as_os_str() == "-" {
            sources.push(("stdin".into(), Box::new(std::io::stdin())));
        } else {
            let f = std::fs::File::open(p).map_err(|e| {
                RunError::Usage(format!("cannot open --input {}: {e}", p.display()))
            })?;
            sources.push((p.display().to_string(), Box::new(f)));
        }
    }
    std::thread::Builder::new()
        .name("apitap-ui-read".into())
        .spawn(move || {
            for (name, src) in sources {
                read_lines(&name, src, &mut prep, &tx)?;
            }
            if let Some(opts) = kafka {
                let mut reader = Reader::open(opts)?;
                while let Some(rec) = reader.next_record()? {
                    let mut chunk = Chunk::with_capacity(1);
                    chunk.add(&mut prep, &rec.payload, rec.sensor_id.as_deref())?;
                    if tx.send(chunk).is_err() {
                        break;
                    }
                }
            }
            Ok(())
        })
        .map_err(RunError::system("start the reader thread"))
}

/// Send a source's lines to the writer in chunks.
fn read_lines(
    name: &str,
    src: Box<dyn Read + Send>,
    prep: &mut Preparer,
    tx: &Sender<Chunk>,
) -> Result<(), RunError> {
    let mut r = BufReader::with_capacity(1 << 20, src);
    let mut chunk = Chunk::with_capacity(CHUNK_LINES);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| RunError::Usage(format!("cannot read --input {name}: {e}")))?;
        if n > 0 {
            chunk.add(prep, &line, None)?;
        }
        if chunk.lines.len() >= CHUNK_LINES || (n == 0 && !chunk.lines.is_empty()) {
            let full = std::mem::replace(&mut chunk, Chunk::with_capacity(CHUNK_LINES));
            if tx.send(full).is_err() {
                return Ok(()); // the writer stopped; it says why
            }
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// The writer thread: lines into the store, committed per batch, or after the flush interval
/// when no more lines wait; at `stop` (or when every reader is done) what is left is committed
/// and retention runs.
fn spawn_writer(
    store: &Store,
    cfg: &UiConfig,
    rx: Receiver<Chunk>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<Result<IngestStats, RunError>>, RunError> {
    let mut w = store.writer(cfg)?;
    let flush_every = Duration::from_millis(cfg.flush_interval_ms);
    std::thread::Builder::new()
        .name("apitap-ui-write".into())
        .spawn(move || {
            let mut oldest: Option<Instant> = None;
            loop {
                let wait = oldest.map_or(flush_every, |t| flush_every.saturating_sub(t.elapsed()));
                match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                    Ok(chunk) => {
                        for line in chunk.lines {
                            w.push_prepared(line).map_err(write_error)?;
                        }
                        oldest = if w.pending() == 0 {
                            None
                        } else {
                            oldest.or(Some(Instant::now()))
                        };
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        w.flush().map_err(write_error)?;
                        oldest = None;
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                // With lines waiting (a file, a Kafka backlog) the batch grows to
                // `ui.batch_records`: a commit writes each page it dirtied once, however many
                // records changed it. A trickle is committed after `ui.flush_interval_ms`.
                if rx.is_empty() && oldest.is_some_and(|t| t.elapsed() >= flush_every) {
                    w.flush().map_err(write_error)?;
                    oldest = None;
                }
            }
            // What the readers already sent is stored too (Kafka may have committed its offsets).
            while let Ok(chunk) = rx.try_recv() {
                for line in chunk.lines {
                    w.push_prepared(line).map_err(write_error)?;
                }
            }
            w.flush().map_err(write_error)?;
            w.run_retention().map_err(write_error)?;
            Ok(w.stats().clone())
        })
        .map_err(RunError::system("start the writer thread"))
}

fn write_error(e: StoreError) -> RunError {
    RunError::StoreWrite(e)
}

/// The ingest summary on stderr.
fn report(s: &IngestStats, elapsed: Duration, quiet: bool) {
    if quiet {
        return;
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "apitap ui: {} records in {:.2} s ({:.0}/s): http {}, session {}, alert {}, other {}; skipped: {} not records, {} duplicates; \
         {} transactions without an endpoint (ui.max_endpoints); retention deleted {} transactions by age, {} by size",
        s.records(),
        secs,
        s.records() as f64 / secs,
        s.http,
        s.sessions,
        s.alerts,
        s.other,
        s.invalid,
        s.duplicates,
        s.endpoints_dropped,
        s.retention.tx_by_age,
        s.retention.tx_by_size
    );
}
