//! Storage records: versioned serde types, separate from the domain types that use them.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, CredentialId, Label, ProfileName, Serial, SubjectId};

/// Revocation state of a certificate (RFC 5280 §5.3.1 reasons are added by the CRL work).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum CertStatus {
    /// Issued and not revoked.
    Good,
    /// Revoked at `revoked_at` (unix seconds) for `reason` (RFC 5280 reason name).
    Revoked {
        /// When the revocation was recorded.
        revoked_at: i64,
        /// RFC 5280 §5.3.1 reason name, e.g. `keyCompromise`.
        reason: String,
    },
}

/// One issued certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Record layout version, for migrations.
    pub version: u32,
    /// The certificate's serial number (primary key).
    pub serial: Serial,
    /// The issuing CA's subject.
    pub issuer: String,
    /// Subject commonName (the subject index key).
    pub subject: String,
    /// Subject alternative names, as `kind:value`.
    pub sans: Vec<String>,
    /// Profile the certificate was built from; a renewal keeps it.
    pub profile: ProfileName,
    /// Validity start, unix seconds.
    pub not_before: i64,
    /// Validity end, unix seconds (the expiry index key).
    pub not_after: i64,
    /// Good or revoked.
    pub status: CertStatus,
    /// The channel that requested it: `est-simpleenroll`, `est-simplereenroll`, …
    pub channel: String,
    /// EST label used, if any.
    pub label: Option<Label>,
    /// The enrolment credential that authorised it, if any.
    pub credential: Option<CredentialId>,
    /// The certificate this one renews (simplereenroll).
    pub replaces: Option<Serial>,
    /// When it was issued, unix seconds.
    pub issued_at: i64,
    /// The ACME account that ordered it, if any (may revoke it, RFC 8555 §7.6).
    #[serde(default)]
    pub account: Option<AccountId>,
    /// The registered person or device it belongs to.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
    /// The renewal that replaced this certificate (EST simplereenroll), if any.
    #[serde(default)]
    pub renewed_by: Option<CredentialUse>,
    /// ARI (RFC 9773) renewal window set by an administrator: (start, end), unix seconds.
    #[serde(default)]
    pub renewal_window: Option<(i64, i64)>,
    /// The certificate, DER (base64 in the record).
    #[serde(with = "b64")]
    pub der: Vec<u8>,
}

/// What one use of a credential produced: the key of idempotent retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialUse {
    /// SHA-256 of the CSR, hex.
    pub csr_fingerprint: String,
    /// The certificate issued for it.
    pub serial: Serial,
}

/// An enrolment credential (EST Basic username + secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Record layout version.
    pub version: u32,
    /// The username.
    pub id: CredentialId,
    /// HMAC-SHA256 of the secret under the server's hash key, hex. The secret itself is not kept.
    pub secret_hash: String,
    /// Label it is scoped to; `None` means the default label only.
    pub label: Option<Label>,
    /// The commonName it may request.
    pub common_name: String,
    /// The SANs it may request, as `kind:value`.
    pub sans: Vec<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Enrolments left (1 for a one-time credential).
    pub uses_left: u32,
    /// Enrolments done, for idempotent retries.
    pub uses: Vec<CredentialUse>,
    /// Withdrawn by an administrator.
    pub disabled: bool,
    /// The registered person or device it belongs to.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
    /// Profile it enrols (overrides the label's), set for subject credentials.
    #[serde(default)]
    pub profile: Option<ProfileName>,
}

/// An admin API token (the secret is kept only as an HMAC).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminTokenRecord {
    /// Record layout version.
    pub version: u32,
    /// The token's public id (first part of the token).
    pub id: String,
    /// HMAC-SHA256 of the secret part, hex.
    pub secret_hash: String,
    /// What the token is for, free text.
    pub name: String,
    /// Scopes: `read`, `register`, `issue`, `revoke`, `admin`.
    pub scopes: Vec<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Optional expiry, unix seconds.
    pub expires_at: Option<i64>,
}

mod b64 {
    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        Base64::decode_vec(&s).map_err(serde::de::Error::custom)
    }
}
