//! Analyses that read a finished transaction and need no state beyond their config: they
//! run where the transaction was parsed (the single pipeline, or each worker, in parallel),
//! over a whole [`StagedBatch`] at a time, and add what they find to each [`Staged`] item.
//!
//! Stateful analyses (anything that needs the session table, or every transaction in order)
//! are output stages instead ([`crate::output::Stage`]).
//!
//! [`Staged`]: crate::staged::Staged

mod detect;
mod facts;

pub use detect::AttackScan;
pub use facts::SessionFacts;

use std::sync::Arc;

use apitap_detect::Detector;
use apitap_sessionizer::session::Extractor;

use crate::config::Config;
use crate::staged::StagedBatch;

/// A stateless per-transaction analysis. Each worker holds its own (cloned from one built
/// from the config), so `analyze` takes `&mut self` for caches, never for results that
/// depend on other transactions.
pub trait Analyzer: Send {
    /// Read every transaction of `batch` that this analysis has not read yet, adding what
    /// it finds to its item.
    fn analyze(&mut self, batch: &mut StagedBatch);
}

/// The analyses, in order: later ones may read what earlier ones added.
#[derive(Default)]
pub struct Analyses {
    chain: Vec<Box<dyn Analyzer>>,
}

impl Analyses {
    /// The analyses the config turns on, in order: session facts first (the endpoint and
    /// client address the others read), then attack detection.
    pub fn new(facts: Option<SessionFacts>, attacks: Option<AttackScan>) -> Self {
        let mut chain: Vec<Box<dyn Analyzer>> = Vec::new();
        if let Some(f) = facts {
            chain.push(Box::new(f));
        }
        if let Some(a) = attacks {
            chain.push(Box::new(a));
        }
        Analyses { chain }
    }

    /// The analyses `cfg` turns on: session facts read with `extractor` (sessions on), attacks
    /// found with `detector` (detection on).
    pub fn for_config(
        cfg: &Config,
        extractor: Option<Extractor>,
        detector: Option<Arc<Detector>>,
    ) -> Self {
        Analyses::new(
            extractor.map(SessionFacts::new),
            detector.map(|d| AttackScan::new(d, &cfg.session.body)),
        )
    }

    /// Run every analysis over `batch`, one after the other.
    pub fn run(&mut self, batch: &mut StagedBatch) {
        for a in &mut self.chain {
            a.analyze(batch);
        }
    }
}

/// The attack detector `cfg` asks for, built once and shared by every worker; `None` with
/// detection off.
pub fn detector(cfg: &Config) -> Result<Option<Arc<Detector>>, String> {
    if !cfg.detect.enabled {
        return Ok(None);
    }
    let d = Detector::new(&cfg.detect).map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(d)))
}
