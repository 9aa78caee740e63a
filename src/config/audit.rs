//! `[audit]`: signed checkpoints of the audit log.

use serde::Deserialize;

/// When the server signs a checkpoint of the audit log (`src/audit/`); it also signs one at
/// start and at shutdown. Entries after the newest checkpoint are not yet authenticated.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// A checkpoint once this many entries wait for one.
    #[serde(default = "default_checkpoint_entries")]
    pub checkpoint_entries: u64,
    /// A checkpoint at most this many seconds after the first entry that waits for one.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_entries: default_checkpoint_entries(),
            checkpoint_interval_secs: default_checkpoint_interval(),
        }
    }
}

fn default_checkpoint_entries() -> u64 {
    100
}
fn default_checkpoint_interval() -> u64 {
    60
}
