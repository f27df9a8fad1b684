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
                  2 usage or config error, or an input cannot be opened; 3 events could not be written."
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

/// Flags of `apitap replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng); several are merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write events: a file path, or `-` for stdout.
    #[arg(short, long, default_value = "-", value_name = "PATH")]
    pub output: PathBuf,
    /// Pipeline config file (TOML); defaults apply without one.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
