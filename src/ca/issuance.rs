//! Sign-and-record, shared by every channel: picks a random serial, signs, builds the
//! certificate record and hands it to the channel's store write (which records what the
//! issuance consumes in the same transaction), retrying on a serial collision.

use time::OffsetDateTime;

use super::profile::SanName;
use super::{serial, Ca, IssueParams};
use crate::config::{KeyType, Profile};
use crate::error::{Error, Result};
use crate::ids::{AccountId, CredentialId, Label, ProfileName, Serial, SubjectId};
use crate::store::{CertStatus, CertificateRecord, InsertOutcome};

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

/// Signs and records through `write` (the channel's store call); returns the outcome and the
/// serial and DER of the last certificate signed.
pub fn issue_and_record(
    ca: &Ca,
    n: &NewCertificate<'_>,
    write: &mut dyn FnMut(&CertificateRecord) -> Result<InsertOutcome>,
) -> Result<(InsertOutcome, Serial, Vec<u8>)> {
    let now = OffsetDateTime::now_utc();
    for _ in 0..4 {
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
        let rec = CertificateRecord {
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
            issued_at: now.unix_timestamp(),
            account: n.account.clone(),
            subject_id: n.subject_id.clone(),
            renewed_by: None,
            renewal_window: None,
            der: der.clone(),
        };
        match write(&rec)? {
            InsertOutcome::SerialTaken => continue,
            outcome => return Ok((outcome, serial, der)),
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}
