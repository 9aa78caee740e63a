//! `[registry]`: people and devices.

use serde::Deserialize;

/// Registry settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Suspending a subject puts its certificates on hold (RFC 5280 certificateHold); the hold
    /// is lifted on reactivation.
    #[serde(default = "super::yes")]
    pub hold_on_suspend: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            hold_on_suspend: true,
        }
    }
}
