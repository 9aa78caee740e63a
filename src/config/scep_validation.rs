//! How a SCEP path checks challenges.

use serde::Deserialize;

/// The challenge validator of a SCEP path.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChallengeValidation {
    /// enrolld's own one-time challenges, bound to a registry subject.
    #[default]
    Registry,
}
