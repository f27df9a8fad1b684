//! Analyses that read a finished transaction and need no state beyond their config: they
//! run where the transaction was parsed (the single pipeline, or each worker, in parallel),
//! over a whole [`StagedBatch`] at a time, and add what they find to each [`Staged`] item.
//!
//! Stateful analyses (anything that needs the session table, or every transaction in order)
//! are output stages instead ([`crate::output::Stage`]).
//!
//! [`Staged`]: crate::staged::Staged

mod api;
mod detect;
mod facts;

pub use api::{matcher, ApiClassify};
pub use detect::{AttackScan, RequestGate};
pub use facts::SessionFacts;

use std::sync::Arc;

use apitap_detect::Detector;
use apitap_inventory::Matcher;
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
    /// The analyses given, in order: session facts first (the endpoint and client address
    /// the others read), then API classification (which names endpoints by the spec's
    /// templates), then attack detection.
    pub fn new(
        facts: Option<SessionFacts>,
        api: Option<ApiClassify>,
        attacks: Option<AttackScan>,
    ) -> Self {
        let mut chain: Vec<Box<dyn Analyzer>> = Vec::new();
        if let Some(f) = facts {
            chain.push(Box::new(f));
        }
        if let Some(a) = api {
            chain.push(Box::new(a));
        }
        if let Some(a) = attacks {
            chain.push(Box::new(a));
        }
        Analyses { chain }
    }

    /// The analyses `cfg` turns on: session facts read with `extractor` (sessions on), the
    /// rest with what `shared` holds (each on when it holds its part).
    pub fn for_config(cfg: &Config, extractor: Option<Extractor>, shared: &Shared) -> Self {
        Analyses::new(
            extractor.map(SessionFacts::new),
            shared
                .matcher
                .clone()
                .map(|m| ApiClassify::new(m, &cfg.api, &cfg.session.body)),
            shared
                .detector
                .clone()
                .map(|d| AttackScan::new(d, &cfg.session.body)),
        )
    }

    /// Run every analysis over `batch`, one after the other.
    pub fn run(&mut self, batch: &mut StagedBatch) {
        for a in &mut self.chain {
            a.analyze(batch);
        }
    }
}

/// What the analyses of every worker share, built once from the config: compiled rules
/// and specs are read-only and large.
#[derive(Clone, Default)]
pub struct Shared {
    /// The attack detector; `None` with detection off.
    pub detector: Option<Arc<Detector>>,
    /// The API classifier; `None` with classification off.
    pub matcher: Option<Arc<Matcher>>,
}

impl Shared {
    /// Build what `cfg` turns on; the error says which part of the config to fix.
    pub fn new(cfg: &Config) -> Result<Self, String> {
        Ok(Shared {
            detector: detector(cfg)?,
            matcher: matcher(cfg)?,
        })
    }
}

/// The attack detector `cfg` asks for, built once and shared by every worker; `None` with
/// detection off.
fn detector(cfg: &Config) -> Result<Option<Arc<Detector>>, String> {
    if !cfg.detect.enabled {
        return Ok(None);
    }
    let d = Detector::new(&cfg.detect).map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(d)))
}
