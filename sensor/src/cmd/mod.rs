//! The commands. Each takes its flags and returns an [`Outcome`](crate::error::Outcome) or a
//! [`RunError`](crate::error::RunError); `cli::main` prints and maps them to the exit code.
//! `sink` (where events go) and `daemon` (signals, metrics, the end of a run) are shared.

pub mod check_config;
pub mod consume;
pub mod daemon;
pub mod inventory;
pub mod listen;
pub mod live;
pub mod replay;
pub mod sink;
pub mod ui;
