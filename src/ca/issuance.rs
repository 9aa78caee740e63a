//! Sign-and-record: picks a free serial, signs, and stores the certificate together with what
//! the issuance consumes, in one store transaction.

use time::OffsetDateTime;

use super::profile::SanName;
use super::{serial, Ca, IssueParams};
use crate::config::{KeyType, Profile};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, Label, ProfileName, Serial, SubjectId};
use crate::store::{CertStatus, CertificateRecord, Consumes, InsertOutcome, Store};

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
}

/// Signs and records; returns the outcome and, when inserted, the serial and DER.
pub fn issue_and_record(
    ca: &Ca,
    store: &dyn Store,
    n: &NewCertificate<'_>,
    consumes: Option<&Consumes>,
) -> Result<(InsertOutcome, Serial, Vec<u8>)> {
    let now = OffsetDateTime::now_utc();
    let not_before = now - time::Duration::minutes(5);
    let not_after = now + time::Duration::days(i64::from(n.profile.validity_days));
    for _ in 0..4 {
        let serial = serial::random_serial()?;
        let der = ca.issue(&IssueParams {
            spki_der: n.spki_der,
            key_type: n.key_type,
            common_name: n.common_name,
            sans: n.sans,
            profile: n.profile,
            serial: &serial,
            not_before,
            not_after,
        })?;
        let rec = CertificateRecord {
            version: 1,
            serial: serial.clone(),
            issuer: ca.issuer_name().to_owned(),
            subject: n.common_name.to_owned(),
            sans: n.sans.iter().map(|s| s.to_string()).collect(),
            profile: n.profile_name.clone(),
            not_before: not_before.unix_timestamp(),
            not_after: not_after.unix_timestamp(),
            status: CertStatus::Good,
            channel: n.channel.to_owned(),
            label: n.label.clone(),
            credential: n.credential.clone(),
            replaces: n.replaces.clone(),
            issued_at: now.unix_timestamp(),
            account: None,
            subject_id: n.subject_id.clone(),
            renewed_by: None,
            renewal_window: None,
            der: der.clone(),
        };
        match store.insert_certificate(&rec, consumes)? {
            InsertOutcome::SerialTaken => continue,
            outcome => return Ok((outcome, serial, der)),
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}
