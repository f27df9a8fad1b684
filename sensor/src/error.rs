//! How a command ends: [`Outcome`] when it ran to its end (possibly with losses it counted),
//! [`RunError`] when it could not start or had to stop. `cli::main` turns either into the
//! documented exit code ([`crate::exit`]) and prints the messages, once.

use std::net::SocketAddr;
use std::path::PathBuf;

use apitap_exporters::kafka::admin::TopicsError;
use apitap_exporters::kafka::KafkaInitError;
use apitap_exporters::ExportError;

use crate::capture::{CaptureError, LiveError};
use crate::config::ConfigError;
use crate::consume::reader::ReadError;
use crate::exit;
use crate::privilege::PrivilegeError;

/// Why a command could not run, or had to stop. Every variant but [`RunError::Write`] is
/// raised before anything was processed (exit 2); `Write`, `Print` and `StoreWrite` stop
/// processing (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Flags that cannot work together or are out of range.
    #[error("{0}")]
    Usage(String),
    /// The config file cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A capture file cannot be opened or has a link type apitap does not decode.
    #[error(transparent)]
    Input(#[from] CaptureError),
    /// An interface cannot be captured on.
    #[error(transparent)]
    Capture(#[from] LiveError),
    /// The output file cannot be created.
    #[error("cannot open output {path}: {source}; check the directory exists and is writable")]
    OpenOutput {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Kafka producer cannot be created.
    #[error(transparent)]
    Exporter(#[from] KafkaInitError),
    /// `export.kafka.create_topics`: the topics could not be created.
    #[error(transparent)]
    Topics(#[from] TopicsError),
    /// `consume`: brokers unreachable, topics missing, partitions not assignable.
    #[error(transparent)]
    Consume(#[from] ReadError),
    /// The pipeline refuses the config (a session key that does not parse, no secret).
    #[error("{0}")]
    Pipeline(String),
    /// A UDP mirror socket cannot be bound.
    #[error("cannot listen for {kind} on {addr}: {source}")]
    Bind {
        /// `vxlan` or `geneve`.
        kind: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The metrics listener cannot be bound.
    #[error("cannot listen on {addr} for metrics: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Privileges cannot be dropped as `capture.user` asks.
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// A resource of the process itself: signal handlers, a thread.
    #[error("cannot {what}: {source}")]
    System {
        /// What was being set up.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Events could not be written (disk full, closed pipe): processing stopped.
    #[error("{0}; processing stopped")]
    Write(#[from] ExportError),
    /// `ui`: the store cannot be opened.
    #[error(transparent)]
    Store(#[from] apitap_ui::StoreError),
    /// `ui`: a write to the store failed (disk full): ingest stopped.
    #[error("{0}; ingest stopped")]
    StoreWrite(apitap_ui::StoreError),
    /// `ui`: the web server cannot listen.
    #[error("cannot listen on {addr} for the web UI: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// `consume`: the records could not be written to stdout.
    #[error("cannot write output: {0}")]
    Print(std::io::Error),
}

impl RunError {
    /// The process exit code (README table, `apitap --help`).
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Write(_) | RunError::Print(_) | RunError::StoreWrite(_) => {
                exit::OUTPUT_FAILED
            }
            _ => exit::USAGE,
        }
    }

    /// A [`RunError::System`] for `what`.
    pub fn system(what: &'static str) -> impl FnOnce(std::io::Error) -> RunError {
        move |source| RunError::System { what, source }
    }
}

/// What a command that ran to its end could not do: each is counted, and each gives a
/// non-zero exit code.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// An input file is damaged: the packets before the damage were processed (exit 1).
    #[error(transparent)]
    InputDamaged(CaptureError),
    /// Records were not delivered to Kafka (exit 4); the counters say why.
    #[error("{lost} records were not delivered to Kafka (see the summary or the counters)")]
    ExportLoss {
        /// Records dropped, failed or undelivered at shutdown.
        lost: u64,
    },
    /// `live`/`listen`: packets were dropped before decoding (exit 5).
    #[error("{packets} packets were dropped before decoding (see apitap_dropped_packets_total)")]
    PacketsDropped {
        /// Kernel ring and worker queue drops.
        packets: u64,
    },
    /// `live`/`listen`: a capture stopped with an error (exit 5).
    #[error("{0}")]
    CaptureFailed(String),
}

impl Problem {
    /// The exit code this problem alone gives.
    pub fn exit_code(&self) -> i32 {
        match self {
            Problem::InputDamaged(_) => exit::INPUT_DAMAGED,
            Problem::ExportLoss { .. } => exit::EXPORT_LOSS,
            Problem::PacketsDropped { .. } | Problem::CaptureFailed(_) => exit::PACKETS_DROPPED,
        }
    }

    /// Which code wins when several problems happened: lost records (4) first, then lost
    /// packets or a failed capture (5), then damaged input (1).
    fn precedence(&self) -> u8 {
        match self {
            Problem::ExportLoss { .. } => 3,
            Problem::PacketsDropped { .. } | Problem::CaptureFailed(_) => 2,
            Problem::InputDamaged(_) => 1,
        }
    }
}

/// A command that ran to its end, and what it could not do.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every problem, in the order met.
    pub problems: Vec<Problem>,
}

impl Outcome {
    /// Nothing went wrong.
    pub fn clean() -> Self {
        Outcome::default()
    }

    /// Add a problem.
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// 0 when clean, else the code of the problem that takes precedence.
    pub fn exit_code(&self) -> i32 {
        self.problems
            .iter()
            .max_by_key(|p| p.precedence())
            .map_or(exit::OK, Problem::exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn damaged() -> Problem {
        Problem::InputDamaged(CaptureError::Damaged {
            path: "x.pcap".into(),
            packets_read: 3,
            reason: "truncated".into(),
        })
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        let table: [(Vec<Problem>, i32); 6] = [
            (vec![], exit::OK),
            (vec![damaged()], exit::INPUT_DAMAGED),
            (vec![Problem::ExportLoss { lost: 1 }], exit::EXPORT_LOSS),
            (
                vec![Problem::PacketsDropped { packets: 2 }],
                exit::PACKETS_DROPPED,
            ),
            // Lost records outrank damaged input and lost packets.
            (
                vec![damaged(), Problem::ExportLoss { lost: 1 }],
                exit::EXPORT_LOSS,
            ),
            (
                vec![
                    Problem::CaptureFailed("x".into()),
                    Problem::ExportLoss { lost: 1 },
                ],
                exit::EXPORT_LOSS,
            ),
        ];
        for (problems, code) in table {
            let shown = format!("{problems:?}");
            assert_eq!(Outcome { problems }.exit_code(), code, "{shown}");
        }
    }

    #[test]
    fn a_write_failure_is_3_and_everything_else_fatal_is_2() {
        let write = RunError::Write(ExportError::Io(std::io::Error::other("disk full")));
        assert_eq!(write.exit_code(), exit::OUTPUT_FAILED);
        assert!(write.to_string().ends_with("processing stopped"), "{write}");
        assert_eq!(RunError::Usage("no".into()).exit_code(), exit::USAGE);
        let down = RunError::Consume(ReadError::NoTopic("none".into()));
        assert_eq!(down.exit_code(), exit::USAGE);
    }
}
