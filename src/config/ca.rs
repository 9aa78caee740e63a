//! `[ca]`: how the CA is created on first start.

use std::path::PathBuf;

use serde::Deserialize;

use crate::ca::KeyType;

/// CA creation on first start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Key algorithm of the root and issuing CA.
    #[serde(default = "default_ca_key")]
    pub key_type: KeyType,
    /// Organisation name put in the CA subjects.
    #[serde(default = "default_org")]
    pub organization: String,
    /// Root CA lifetime in days.
    #[serde(default = "default_root_days")]
    pub root_validity_days: u32,
    /// Issuing CA lifetime in days.
    #[serde(default = "default_issuing_days")]
    pub issuing_validity_days: u32,
    /// File whose first line is the passphrase encrypting the CA keys at rest (AES-256-GCM
    /// under Argon2id). Without it, `ENROLLD_CA_PASSPHRASE` is used if set.
    #[serde(default)]
    pub key_passphrase_file: Option<PathBuf>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            key_type: default_ca_key(),
            organization: default_org(),
            root_validity_days: default_root_days(),
            issuing_validity_days: default_issuing_days(),
            key_passphrase_file: None,
        }
    }
}

fn default_ca_key() -> KeyType {
    KeyType::P256
}
fn default_org() -> String {
    "enrolld demo".into()
}
fn default_root_days() -> u32 {
    3650
}
fn default_issuing_days() -> u32 {
    1825
}
