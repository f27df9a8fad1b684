//! Session facts: what each transaction tells the session table (keys and their keyed
//! hashes, JWT claims and signature checks, context parameters, the client address, the
//! endpoint template, the values the server set), read without the table.

use apitap_sessionizer::http::Transaction;
use apitap_sessionizer::session::{Extractor, TxFacts};

use super::Analyzer;
use crate::staged::StagedBatch;

/// Reads the session facts of every transaction ([`Extractor::facts_batch`]).
pub struct SessionFacts {
    extractor: Extractor,
    /// Reused: the transactions of a batch whose facts are read.
    facts: Vec<TxFacts>,
}

impl SessionFacts {
    /// A reader with `extractor` (from the session table: same keys, parameters and secret).
    pub fn new(extractor: Extractor) -> Self {
        SessionFacts {
            extractor,
            facts: Vec::new(),
        }
    }
}

impl Analyzer for SessionFacts {
    fn analyze(&mut self, batch: &mut StagedBatch) {
        let unread = batch.items.iter().position(|s| s.facts.is_none());
        let Some(first) = unread else {
            return;
        };
        let txs: Vec<&Transaction> = batch.items[first..].iter().map(|s| &s.tx).collect();
        self.facts.clear();
        self.extractor.facts_batch(&txs, &mut self.facts);
        for (item, facts) in batch.items[first..].iter_mut().zip(self.facts.drain(..)) {
            item.facts = Some(facts);
        }
    }
}
