//! Sign-and-commit, shared by every channel: picks a random serial, signs, builds the
//! certificate record and commits it with what the issuance consumes and its audit entry (one
//! transaction, durable before the channel answers), retrying on a serial collision.

use time::OffsetDateTime;

use super::profile::SanName;
use super::{serial, Ca, IssueParams};
use crate::config::{KeyType, Profile};
use crate::error::{Error, Result};
use crate::ids::{AccountId, CredentialId, Label, ProfileName, Serial, SubjectId};
use crate::store::{
    AuditDraft, CertStatus, CertificateCommit, CertificateRecord, CommitKind, InsertOutcome, Store,
};

/// Everything about one certificate to issue.
pub struct NewCertificate<'a> {
    /// Subject public key info (DER).
    pub spki_der: &'a [u8],
    /// Its type.
    pub key_type: KeyType,
    /// Subject CN.
    pub common_name: &'a str,
    /// SANs.
    pub sans: &'a [SanName],
    /// Profile name (recorded).
    pub profile_name: &'a ProfileName,
    /// Profile (extensions, validity).
    pub profile: &'a Profile,
    /// Channel for the record (`est-simpleenroll`, `pickup`, …).
    pub channel: &'a str,
    /// EST label, if any.
    pub label: Option<Label>,
    /// Credential, if any.
    pub credential: Option<CredentialId>,
    /// Registered subject, if any (checked inside the transaction).
    pub subject_id: Option<SubjectId>,
    /// The certificate this one renews, if any.
    pub replaces: Option<Serial>,
    /// The ACME account that ordered it, if any.
    pub account: Option<AccountId>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// The default validity window: from five minutes ago (clock skew) for the profile's lifetime.
pub fn default_validity(profile: &Profile) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (
        now - time::Duration::minutes(5),
        now + time::Duration::days(i64::from(profile.validity_days)),
    )
}

/// What a commit produced: the outcome, and the serial and DER of the certificate signed last.
pub type Committed = (InsertOutcome, Serial, Vec<u8>);

/// Signs with a fresh serial and builds the commit for it.
fn sign(
    ca: &Ca,
    n: &NewCertificate<'_>,
    kind: &dyn Fn(&CertificateRecord) -> CommitKind,
    audit: &Option<AuditDraft>,
) -> Result<(Serial, Vec<u8>, CertificateCommit)> {
    let serial = serial::random_serial()?;
    let der = ca.issue(&IssueParams {
        spki_der: n.spki_der,
        key_type: n.key_type,
        common_name: n.common_name,
        sans: n.sans,
        profile: n.profile,
        serial: &serial,
        not_before: n.not_before,
        not_after: n.not_after,
    })?;
    let cert = CertificateRecord {
        version: 1,
        serial: serial.clone(),
        issuer: ca.issuer_name().to_owned(),
        subject: n.common_name.to_owned(),
        sans: n.sans.iter().map(|s| s.to_string()).collect(),
        profile: n.profile_name.clone(),
        not_before: n.not_before.unix_timestamp(),
        not_after: n.not_after.unix_timestamp(),
        status: CertStatus::Good,
        channel: n.channel.to_owned(),
        label: n.label.clone(),
        credential: n.credential.clone(),
        replaces: n.replaces.clone(),
        issued_at: OffsetDateTime::now_utc().unix_timestamp(),
        account: n.account.clone(),
        subject_id: n.subject_id.clone(),
        renewed_by: None,
        renewal_window: None,
        der: der.clone(),
    };
    let commit = CertificateCommit {
        kind: kind(&cert),
        cert,
        audit: audit.clone(),
    };
    Ok((serial, der, commit))
}

/// Signs and commits through the store's group committer: the certificate, what it consumes
/// (`kind`, given the record) and its audit entry in one transaction, durable when this
/// returns. Retries with a new serial on a collision.
pub async fn issue_and_commit(
    ca: &Ca,
    store: &dyn Store,
    n: &NewCertificate<'_>,
    kind: &(dyn Fn(&CertificateRecord) -> CommitKind + Sync),
    audit: Option<AuditDraft>,
) -> Result<Committed> {
    for _ in 0..4 {
        let (serial, der, commit) = sign(ca, n, kind, &audit)?;
        match store.commit_certificate(commit).wait().await? {
            InsertOutcome::SerialTaken => continue,
            outcome => return Ok((outcome, serial, der)),
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}

/// [`issue_and_commit`] for callers on a blocking thread (never on an async worker).
pub fn issue_and_commit_blocking(
    ca: &Ca,
    store: &dyn Store,
    n: &NewCertificate<'_>,
    kind: &dyn Fn(&CertificateRecord) -> CommitKind,
    audit: Option<AuditDraft>,
) -> Result<Committed> {
    for _ in 0..4 {
        let (serial, der, commit) = sign(ca, n, kind, &audit)?;
        match store.commit_certificate(commit).wait_blocking()? {
            InsertOutcome::SerialTaken => continue,
            outcome => return Ok((outcome, serial, der)),
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}
