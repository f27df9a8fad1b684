//! Command-line interface: flags in, a command run, an exit code out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::exit;

/// Passive API-traffic sensor: HTTP transactions from mirrored traffic, as JSON lines.
#[derive(Debug, Parser)]
#[command(
    name = "apitap",
    version,
    about,
    after_help = "Exit codes: 0 ok; 1 an input file is damaged (events before the damage were written); \
                  2 usage or config error, or an input cannot be opened; 3 events could not be written; \
                  4 some events were not delivered to Kafka (dropped, failed or undelivered at shutdown, \
                  counted in the summary); 5 live: packets were dropped before decoding (kernel ring or \
                  worker queue full) or a capture failed."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay pcap/pcapng files through the pipeline and write events (JSON lines).
    Replay(ReplayArgs),
    /// Capture live from network interfaces (SPAN/TAP ports) until SIGINT/SIGTERM.
    Live(crate::live::LiveArgs),
    /// Receive cloud traffic mirrors (VXLAN, GENEVE) on UDP sockets until SIGINT/SIGTERM.
    Listen(crate::listen::ListenArgs),
    /// Read apitap events back from Kafka: a session timeline, or the records (`--json`).
    Consume(ConsumeArgs),
    /// Validate a config file and print the effective configuration (defaults filled in).
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
    },
}

/// When to draw a progress bar on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The config and output flags of `replay`, `live` and `listen`: one definition, so every
/// output option works the same in each.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Pipeline config file (TOML); defaults apply without one.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write events: a file path, or `-` for stdout (the default without Kafka).
    /// Not allowed with Kafka export.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Export to Kafka through these brokers (`host:port,host:port`) instead of JSON lines;
    /// overrides `export.kafka.brokers`, the rest of `[export.kafka]` still applies.
    #[arg(long, value_name = "BROKERS")]
    pub kafka_brokers: Option<String>,
}

/// Flags of `apitap replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng); several are merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Pace packets at the capture's original timing (wall clock), as a live feed would
    /// arrive; gaps longer than a few seconds are shortened.
    #[arg(long)]
    pub realtime: bool,
    /// Reassembly/HTTP worker threads, as `apitap live` runs them (the reading and the session
    /// and export stage have a thread each); 0 runs everything on this one thread. With one
    /// worker the records are the single-threaded ones, byte for byte; with more, they leave
    /// in completion order over the workers, which varies between runs. On two cores, one
    /// worker replays with sessions faster on a quiet machine and slower on a busy one
    /// (docs/bench.md), so one thread is the default.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: usize,
    /// Config and output.
    #[command(flatten)]
    pub sink: SinkArgs,
    /// Also write the final counters as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Do not print the run summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Load the config file, or the defaults without one; errors are printed.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, i32> {
    match path {
        None => Ok(Config::default()),
        Some(p) => Config::load(p).map_err(|e| {
            eprintln!("apitap: {e}");
            exit::USAGE
        }),
    }
}

/// Parse the command line and run; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => crate::replay::run(&args),
        Command::Live(args) => crate::live::run(&args),
        Command::Listen(args) => crate::listen::run(&args),
        Command::Consume(args) => crate::consume::run(&args),
        Command::CheckConfig { file } => match load_config(Some(&file)) {
            Ok(cfg) => {
                println!("{}: valid", file.display());
                println!("# effective configuration (defaults filled in)");
                print!("{}", render_config(&cfg));
                exit::OK
            }
            Err(code) => code,
        },
    }
}

/// The effective configuration as TOML-like text for `check-config`.
fn render_config(cfg: &Config) -> String {
    format!("{cfg:#?}\n")
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// When stdout is a terminal (and `NO_COLOR` is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags of `apitap consume`. Where they overlap, they follow kcat (`-b`, `-t`, `-G`, `-o`,
/// `-e`, `-X`).
#[derive(Debug, Args)]
#[command(
    after_help = "Offsets (-o): beginning, end, stored (with -G), N (absolute), -N (N before the end). \
                        Without -G every partition is read from -o (default beginning) and the command exits \
                        at the end of the topics unless --follow is given. With -G the group's committed \
                        offsets are used and -o applies to partitions without one."
)]
pub struct ConsumeArgs {
    /// Brokers, `host:port,host:port` (kcat -b).
    #[arg(short = 'b', long, value_name = "BROKERS")]
    pub brokers: String,
    /// Topic to read (kcat -t); repeat for several. Default: apitap.http and apitap.sessions.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Start at the earliest offset of every partition (same as `-o beginning`).
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,
    /// Where to start: beginning, end, stored, N or -N (kcat -o).
    #[arg(short = 'o', long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Keep reading new records as they arrive (otherwise exit at the end of every partition).
    #[arg(short = 'f', long, conflicts_with = "exit_at_end")]
    pub follow: bool,
    /// Exit at the end of every partition (kcat -e); the default unless --follow.
    #[arg(short = 'e')]
    pub exit_at_end: bool,
    /// Consumer group (kcat -G): partitions are shared with the group's members and offsets
    /// committed.
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Only the session with this id (or id prefix).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only records involving this address or network (client, server, or resolved client IP).
    #[arg(long, value_name = "ADDR[/PREFIX]")]
    pub ip: Option<String>,
    /// Only requests to matching endpoints: `*` is a wildcard, otherwise a substring of
    /// `METHOD /path/{template}`.
    #[arg(long, value_name = "PATTERN")]
    pub endpoint: Option<String>,
    /// Only the sessions of this user (the session's `user`, or a context value on a request).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Print alerts (read from the alerts topic too), each with its session's timeline around
    /// its evidence transactions, which are marked; the other filters select the alerts.
    #[arg(long)]
    pub alerts: bool,
    /// With `--alerts`: only alerts of this kind (`bola`, `enumeration`...).
    #[arg(long, value_name = "K", requires = "alerts")]
    pub kind: Option<String>,
    /// Print the matching records unchanged, one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Colours in the timeline.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// A librdkafka consumer property, `name=value` (kcat -X), e.g. for SASL or TLS; repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE")]
    pub properties: Vec<String>,
    /// Take librdkafka properties (SASL, TLS) from this config file's `[export.kafka.librdkafka]`;
    /// producer-only ones are skipped.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Give up when no broker answers within this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,
}
