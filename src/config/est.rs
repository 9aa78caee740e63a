//! `[est]`: the EST service and its labels.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::ids::{Label, ProfileName};

/// EST settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstConfig {
    /// Profile used by `/.well-known/est/` without a label.
    #[serde(default = "super::default_profile")]
    pub default_profile: ProfileName,
    /// Lifetime of a new enrolment credential when the request names none, in seconds.
    #[serde(default = "default_cred_ttl")]
    pub credential_ttl_secs: u64,
    /// Policy for the default (unlabelled) path.
    #[serde(default)]
    pub require_channel_binding: bool,
    /// Labels (RFC 7030 §3.2.2), each selecting a profile and its policy.
    #[serde(default)]
    pub labels: BTreeMap<Label, EstLabel>,
}

impl Default for EstConfig {
    fn default() -> Self {
        EstConfig {
            default_profile: super::default_profile(),
            credential_ttl_secs: default_cred_ttl(),
            require_channel_binding: false,
            labels: BTreeMap::new(),
        }
    }
}

/// Policy of one EST label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstLabel {
    /// Certificate profile issued under this label.
    pub profile: ProfileName,
    /// PEM files of manufacturer (IDevID) CAs whose certificates may enrol under this label.
    #[serde(default)]
    pub bootstrap_ca_files: Vec<PathBuf>,
    /// Require the RFC 9266 tls-exporter value in the CSR's challengePassword.
    #[serde(default)]
    pub require_channel_binding: bool,
    /// Enrolments wait for an administrator's approval (RFC 7030 §4.2.3: 202 + Retry-After).
    #[serde(default)]
    pub require_approval: bool,
}

fn default_cred_ttl() -> u64 {
    7 * 24 * 3600
}
