//! Analyses that read a finished transaction and need no state beyond their config: they
//! run where the transaction was parsed (the single pipeline, or each worker, in parallel),
//! over a whole [`StagedBatch`] at a time, and add what they find to each [`Staged`] item.
//!
//! Stateful analyses (anything that needs the session table, or every transaction in order)
//! are output stages instead ([`crate::output::Stage`]).
//!
//! [`Staged`]: crate::staged::Staged

mod facts;

pub use facts::SessionFacts;

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
    /// The analyses the config turns on, in order.
    pub fn new(facts: Option<SessionFacts>) -> Self {
        let mut chain: Vec<Box<dyn Analyzer>> = Vec::new();
        if let Some(f) = facts {
            chain.push(Box::new(f));
        }
        Analyses { chain }
    }

    /// Run every analysis over `batch`, one after the other.
    pub fn run(&mut self, batch: &mut StagedBatch) {
        for a in &mut self.chain {
            a.analyze(batch);
        }
    }
}
