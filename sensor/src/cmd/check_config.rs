//! `apitap check-config`: validate a config file and print the effective configuration.

use std::path::Path;

use crate::config::Config;
use crate::error::{Outcome, RunError};

/// Run `apitap check-config FILE`.
pub fn run(file: &Path) -> Result<Outcome, RunError> {
    let cfg = Config::load(file)?;
    println!("{}: valid", file.display());
    println!("# effective configuration (defaults filled in)");
    println!("{cfg:#?}");
    Ok(Outcome::clean())
}
