//! Command-line interface: flags in, a command run, an exit code out. This is the one place
//! where a command's result becomes an exit code and a fatal error is printed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::error::{Outcome, RunError};

/// Passive API-traffic sensor: HTTP transactions from mirrored traffic, as JSON lines.
#[derive(Debug, Parser)]
#[command(
    name = "apitap",
    version,
    about,
    after_help = "Exit codes: 0 ok; 1 an input file is damaged (events before the damage were written); \
                  2 usage or config error, or an input cannot be opened; 3 events could not be written; \
                  4 some events were not delivered to Kafka (dropped, failed or undelivered at shutdown, \
                  counted in the summary); 5 live/listen: packets were dropped before decoding (kernel \
                  ring or worker queue full) or a capture failed."
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
    Replay(cmd::replay::ReplayArgs),
    /// Capture live from network interfaces (SPAN/TAP ports) until SIGINT/SIGTERM.
    Live(cmd::live::LiveArgs),
    /// Receive cloud traffic mirrors (VXLAN, GENEVE) on UDP sockets until SIGINT/SIGTERM.
    Listen(cmd::listen::ListenArgs),
    /// Read apitap events back from Kafka: a session timeline, or the records (`--json`).
    Consume(cmd::consume::ConsumeArgs),
    /// The API inventory rebuilt from records (files or Kafka): a table, JSON, an OpenAPI
    /// document (`--openapi`) or the diff against a spec (`--diff`).
    Inventory(cmd::inventory::InventoryArgs),
    /// Investigate and share sessions in a browser: ingest records (files, stdin or Kafka) into
    /// a store and serve the web UI (docs/ui.md).
    Ui(cmd::ui::UiArgs),
    /// Validate a config file and print the effective configuration as TOML (defaults filled
    /// in, secrets replaced by a placeholder).
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
    },
}

/// Run one command.
pub fn run(command: &Command) -> Result<Outcome, RunError> {
    match command {
        Command::Replay(args) => cmd::replay::run(args),
        Command::Live(args) => cmd::live::run(args),
        Command::Listen(args) => cmd::listen::run(args),
        Command::Consume(args) => cmd::consume::run(args),
        Command::Inventory(args) => cmd::inventory::run(args),
        Command::Ui(args) => cmd::ui::run(args),
        Command::CheckConfig { file } => cmd::check_config::run(file),
    }
}

/// Parse the command line and run; returns the process exit code. Every problem of a run
/// that completed, and the error that stopped one, is printed here, once.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(outcome) => {
            for p in &outcome.problems {
                eprintln!("apitap: {p}");
            }
            outcome.exit_code()
        }
        Err(e) => {
            eprintln!("apitap: {e}");
            e.exit_code()
        }
    }
}
