//! `[scep]`: the SCEP service (RFC 8894), its default path and its labels.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::ids::{Label, ProfileName};

/// SCEP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScepConfig {
    /// Serve `/scep` at all.
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// Certificate profile issued on `/scep` (no label).
    #[serde(default = "super::default_profile")]
    pub profile: ProfileName,
    /// `/scep` accepts DES-EDE3-CBC and SHA-1 (see [`ScepPath::legacy`]).
    #[serde(default)]
    pub legacy: bool,
    /// The CSR subject rule of `/scep` (see [`ScepPath::subject`]).
    #[serde(default)]
    pub subject: SubjectPolicy,
    /// Enrolments on `/scep` wait for an administrator's approval.
    #[serde(default)]
    pub require_approval: bool,
    /// How `/scep` checks challenges.
    #[serde(default)]
    pub validation: super::scep_validation::ChallengeValidation,
    /// `/scep/<label>`: a path per profile, like EST labels.
    #[serde(default)]
    pub labels: BTreeMap<Label, ScepPath>,
    /// Lifetime of a new SCEP challenge when the request names none, in seconds.
    #[serde(default = "default_challenge_ttl")]
    pub challenge_ttl_secs: u64,
    /// Use the issuing CA's own key as the RA (RSA CAs only): GetCACert answers the CA
    /// certificate alone (`application/x-x509-ca-cert`), requests are encrypted to it and
    /// replies signed with it. Off: a separate RSA RA certificate (works with ECDSA CAs).
    #[serde(default)]
    pub ca_as_ra: bool,
    /// Lifetime of the RA certificate made at start or by `enrolld ca rotate-ra`, in days.
    #[serde(default = "default_ra_validity")]
    pub ra_validity_days: u32,
    /// Largest pkiMessage accepted (POST body or decoded GET `message`), in bytes. Intune's
    /// challenges are several KB; a request with a 4096-bit key and such a challenge fits.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Seconds a signingTime may differ from the server's clock (RFC 8894 §3.2.1.4 badTime).
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: i64,
    /// PEM certificate (its chain may follow) that signs the Apple configuration profiles of
    /// `GET /api/v1/subjects/{id}/apple-profile`, so that devices show them as verified.
    /// Unsigned profiles without it. Requires `profile_signing_key`.
    #[serde(default)]
    pub profile_signing_cert: Option<PathBuf>,
    /// PEM RSA private key (PKCS#8 or PKCS#1, unencrypted) of `profile_signing_cert`. Read at
    /// start: an unreadable file or a key that is not RSA stops the server.
    #[serde(default)]
    pub profile_signing_key: Option<PathBuf>,
}

impl Default for ScepConfig {
    fn default() -> Self {
        ScepConfig {
            enabled: true,
            profile: super::default_profile(),
            legacy: false,
            subject: SubjectPolicy::default(),
            require_approval: false,
            validation: Default::default(),
            labels: BTreeMap::new(),
            challenge_ttl_secs: default_challenge_ttl(),
            ca_as_ra: false,
            ra_validity_days: default_ra_validity(),
            max_message_bytes: default_max_message(),
            max_clock_skew_secs: default_skew(),
            profile_signing_cert: None,
            profile_signing_key: None,
        }
    }
}

impl ScepConfig {
    /// The policy of `/scep` (no label).
    pub fn default_path(&self) -> ScepPath {
        ScepPath {
            profile: self.profile.clone(),
            legacy: self.legacy,
            subject: self.subject,
            require_approval: self.require_approval,
            validation: self.validation.clone(),
        }
    }
}

/// The policy of one SCEP path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScepPath {
    /// Certificate profile issued on this path.
    #[serde(default = "super::default_profile")]
    pub profile: ProfileName,
    /// Accept DES-EDE3-CBC and SHA-1 (older Apple devices, some network gear). Weak: a
    /// profile should opt in only for the clients that need it.
    #[serde(default)]
    pub legacy: bool,
    /// What the CSR's subject must be: `ignore` (the default: SCEP clients fill it from their
    /// own templates; the certificate's names come from the registry) or `match` (its CN must be
    /// the registry's name).
    #[serde(default)]
    pub subject: SubjectPolicy,
    /// Enrolments wait for an administrator's approval (CertRep PENDING; the client polls).
    #[serde(default)]
    pub require_approval: bool,
    /// How challenges are checked: enrolld's one-time challenges (the default), a webhook or
    /// Microsoft Intune.
    #[serde(default)]
    pub validation: super::scep_validation::ChallengeValidation,
}

impl Default for ScepPath {
    fn default() -> Self {
        ScepPath {
            profile: super::default_profile(),
            legacy: false,
            subject: SubjectPolicy::default(),
            require_approval: false,
            validation: Default::default(),
        }
    }
}

/// What the CSR subject of a SCEP request must be.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SubjectPolicy {
    /// Not read: the certificate's names come from the registry.
    #[default]
    Ignore,
    /// The CSR's CN must be the registry's name (other attributes are not read).
    Match,
}

fn default_challenge_ttl() -> u64 {
    7 * 24 * 3600
}
fn default_ra_validity() -> u32 {
    730
}
fn default_max_message() -> usize {
    64 * 1024
}
fn default_skew() -> i64 {
    24 * 3600
}
