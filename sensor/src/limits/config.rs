//! The memory budget's setting (`[limits]`): one number, checked; [`super`] splits it.

use serde::{Deserialize, Serialize};

/// Smallest budget accepted: below it the fixed costs alone (code, caches, queues) exceed it.
pub const MIN_MEMORY_MB: u64 = 16;

/// Largest budget accepted (16 TiB): a guard against a typo in the unit.
pub const MAX_MEMORY_MB: u64 = 16 * 1024 * 1024;

/// The memory budget (`[limits]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Memory the sensor's traffic state may use, in MiB, split into shares (flows,
    /// reassembly buffers, HTTP, sessions); each component's bound is derived from its share.
    /// Peak memory stays within about this plus a fixed cost (`docs/config.md`).
    pub max_memory_mb: u64,
}

/// 1 GiB: a small VM or container; `docs/config.md` says what it holds.
fn default_max_memory_mb() -> u64 {
    1024
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_memory_mb: default_max_memory_mb(),
        }
    }
}

impl LimitsConfig {
    /// Reject a budget that cannot work; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&self.max_memory_mb) {
            return Err(format!(
                "limits.max_memory_mb = {}: set it between {MIN_MEMORY_MB} and {MAX_MEMORY_MB} (MiB)",
                self.max_memory_mb
            ));
        }
        Ok(())
    }
}
