//! The issuance pipeline, one for every channel (STYLE.md habit 9): EST, ACME finalize and
//! pickup links hand it what they proved (a verified CSR or a key the server made, the names the
//! caller is entitled to, the subject, the profile, the requested validity, what the issuance
//! consumes, the actor) and translate its typed outcome. The rules live here once: key-type
//! policy, name rules, SAN kinds, the validity window, and the sign-and-record step that
//! commits the certificate with what it consumes and its audit entry in one transaction,
//! durable before the channel answers.
//!
//! Two steps, so a channel may act between deciding and signing (EST holds a decided request
//! for an administrator's approval): [`plan`] checks the request and fixes what the certificate
//! will say; [`commit`] (or [`commit_blocking`]) signs and records it.
//!
//! Windows strong mapping ([`super::windows_sid`]) is decided here too, so every channel gets
//! it: the SID comes from the subject's registry record, read by [`plan`]; a SID URI in an
//! entitlement (an earlier certificate's names, a credential's) is dropped and replaced by
//! the registry's, and a CSR may ask only for the registry's own SID URI.

use time::OffsetDateTime;

use super::csr::Csr;
use super::profile::{check_san_kinds, SanName};
use super::smime::{self, PersonName, Validation};
use super::windows_sid;
use super::{serial, Ca, IssueParams};
use crate::ca::{KeyType, Profile};
use crate::error::{Error, Result};
use crate::ids::{AccountId, CredentialId, Label, ProfileName, Serial, SubjectId, WindowsSid};
use crate::store::{
    AuditDraft, CertStatus, CertificateCommit, CertificateRecord, CommitKind, Consumes,
    CredentialSpend, InsertOutcome, OrderRecord, Store,
};

/// The key the certificate certifies.
pub enum Key<'a> {
    /// A CSR whose self-signature was verified; its names are checked against the rule.
    Csr(&'a Csr),
    /// A key the server generated (EST serverkeygen, pickup links).
    Generated {
        /// Subject public key info, DER.
        spki_der: &'a [u8],
        /// Its type.
        key_type: KeyType,
    },
}

/// How the names the caller is entitled to become the certificate's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// EST: the CN is the entitled one; the SANs are those the CSR asks for, each entitled
    /// (all entitled SANs if it asks for none). A CSR asking for anything else is refused.
    AsRequested,
    /// Pickup links: every entitled name, whatever subset the CSR asks for; a CSR asking
    /// for a name outside the entitlement is still refused.
    Entitlement,
    /// ACME: the channel matched the CSR against the order's identifiers already; the names
    /// are taken as given.
    Decided,
    /// SCEP: every entitled name; the CSR's subject and SANs are the client's own template
    /// (an MDM's, an Apple device's `com.apple.security.scep.<UUID>`) and are not read.
    Registry,
}

/// What the issuance consumes, recorded in the same transaction as the certificate.
#[derive(Debug, Clone)]
pub enum Spend {
    /// Nothing (bootstrap certificates).
    Nothing,
    /// One use of an enrolment credential, for this CSR.
    Credential {
        /// The credential.
        id: CredentialId,
        /// SHA-256 of the CSR (hex): the identical retry gets the same certificate.
        csr_fingerprint: String,
    },
    /// A one-time pickup link.
    Pickup {
        /// The link's id.
        id: String,
    },
    /// The one renewal a certificate allows (RFC 7030 §4.2.2).
    Renewal {
        /// The certificate being renewed.
        old: Serial,
        /// SHA-256 of the renewal CSR (hex).
        csr_fingerprint: String,
    },
    /// An ACME order, which must still be `ready`; stored as given (status `valid`) with the
    /// certificate's serial set.
    Order(Box<OrderRecord>),
}

/// One request to issue.
pub struct IssueRequest<'a> {
    /// The key.
    pub key: Key<'a>,
    /// Subject CN the caller is entitled to.
    pub common_name: &'a str,
    /// SANs the caller is entitled to.
    pub sans: &'a [SanName],
    /// How those become the certificate's names.
    pub rule: NameRule,
    /// Profile name (recorded).
    pub profile_name: &'a ProfileName,
    /// The profile: key types, SAN kinds, extensions, validity.
    pub profile: &'a Profile,
    /// Requested start of validity, unix seconds (ACME `notBefore`); default: 5 minutes ago.
    pub not_before: Option<i64>,
    /// Requested end of validity, unix seconds (ACME `notAfter`); default: the profile's
    /// lifetime.
    pub not_after: Option<i64>,
    /// The registered subject, if any: it must be active when the certificate is recorded,
    /// and its registry record is where a Windows SID comes from.
    pub subject_id: Option<SubjectId>,
    /// What the issuance consumes.
    pub spend: Spend,
    /// Channel recorded with the certificate (`est-simpleenroll`, `acme`, `pickup`, …).
    pub channel: &'a str,
    /// EST label, if any.
    pub label: Option<Label>,
    /// The credential that authorised it, if any (recorded).
    pub credential: Option<CredentialId>,
    /// The certificate this one renews, if any.
    pub replaces: Option<Serial>,
    /// The ACME account that ordered it, if any.
    pub account: Option<AccountId>,
    /// Who asks, for the audit entry written with the certificate.
    pub actor: String,
    /// Unix seconds now, from the caller's clock.
    pub now: i64,
}

/// A request that passed every rule: what the certificate will say.
pub struct Plan<'a> {
    req: IssueRequest<'a>,
    spki_der: Vec<u8>,
    key_type: KeyType,
    /// The subject CN the certificate will carry.
    pub common_name: String,
    /// The SANs it will carry (with the SID URI when the profile puts one there).
    pub sans: Vec<SanName>,
    /// The registry SID for the szOID_NTDS_CA_SECURITY_EXT extension, when the profile puts
    /// one there.
    extension_sid: Option<WindowsSid>,
    /// The person's registry names, for an individual-validated S/MIME subject.
    person: Option<PersonName>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// A signed and recorded certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Its serial.
    pub serial: Serial,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// What [`commit`] produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Signed and recorded, durable.
    Issued(Issued),
    /// An identical retry: the credential or the renewal already paid for this very CSR, with
    /// the certificate of this serial.
    SameAsBefore(Serial),
    /// The subject is suspended, off-boarded or gone (checked inside the transaction).
    SubjectInactive,
    /// What the issuance consumes was spent, withdrawn or expired meanwhile, or (ACME) the
    /// order is no longer ready: another request won.
    LostRace,
}

/// Checks the request against the profile and the name rule and fixes the certificate's
/// names and validity. Refusals are [`Error::BadCsr`] with the reason, and
/// [`Error::NotPermitted`] when the profile maps certificates to Windows accounts and the
/// subject has no SID in `store`'s registry.
pub fn plan<'a>(store: &dyn Store, req: IssueRequest<'a>) -> Result<Plan<'a>> {
    let (spki_der, key_type) = match &req.key {
        Key::Csr(csr) => (csr.spki_der.clone(), csr.key_type),
        Key::Generated { spki_der, key_type } => (spki_der.to_vec(), *key_type),
    };
    if !req.profile.key_types.contains(&key_type) {
        return Err(Error::BadCsr(format!(
            "profile {} does not accept {:?} keys",
            req.profile_name, key_type
        )));
    }
    let sid = registry_sid(store, &req)?;
    let sid_uri = sid
        .as_ref()
        .filter(|_| req.profile.windows_sid.in_san())
        .map(windows_sid::san_uri);
    if let Key::Csr(csr) = &req.key {
        if let Some(asked) = csr
            .sans
            .iter()
            .find(|s| windows_sid::is_sid_uri(s) && Some(*s) != sid_uri.as_ref())
        {
            return Err(Error::BadCsr(format!(
                "CSR requests {asked}: a SID URI comes only from the subject's registry record"
            )));
        }
    }
    // The entitlement without any SID URI, plus the registry's: a CSR may ask for that one.
    let mut entitled: Vec<SanName> = req
        .sans
        .iter()
        .filter(|s| !windows_sid::is_sid_uri(s))
        .cloned()
        .collect();
    entitled.extend(sid_uri.clone());
    let (common_name, mut sans) = match (&req.key, req.rule) {
        (Key::Csr(csr), NameRule::AsRequested) => csr.names_for(req.common_name, &entitled)?,
        (Key::Csr(csr), NameRule::Entitlement) => {
            csr.names_for(req.common_name, &entitled)?;
            (req.common_name.to_owned(), entitled)
        }
        _ => (req.common_name.to_owned(), entitled),
    };
    // The profile's setting is what issues the SID URI, whatever its san_types say.
    sans.retain(|s| Some(s) != sid_uri.as_ref());
    check_san_kinds(req.profile, &req.profile_name.0, &sans)?;
    sans.extend(sid_uri);
    let extension_sid = sid.filter(|_| req.profile.windows_sid.in_extension());
    let (not_before, not_after) = validity(req.profile, req.not_before, req.not_after, req.now)?;
    // An S/MIME profile decides the subject itself (S/MIME BR §7.1.4.2): fixed here, so a
    // person without the names an individual certificate needs is refused before anything
    // is spent, and the record keeps the commonName the certificate carries.
    let (common_name, person) = match &req.profile.smime {
        None => (common_name, None),
        Some(s) => {
            let person = match s.validation {
                Validation::Mailbox => None,
                Validation::Individual => registry_person(store, &req)?,
            };
            s.key_usages(key_type)?;
            let dn = s.subject(&sans, person.as_ref())?;
            // The subject holds UTF8Strings only (pushed as text by `Smime::subject`).
            let cn = match dn.get(&rcgen::DnType::CommonName) {
                Some(rcgen::DnValue::Utf8String(t)) => t.clone(),
                _ => String::new(),
            };
            (cn, person)
        }
    };
    Ok(Plan {
        req,
        spki_der,
        key_type,
        common_name,
        sans,
        extension_sid,
        person,
        not_before,
        not_after,
    })
}

/// The person's names for an individual-validated S/MIME certificate, from the registry
/// record, never from the request. Without a registered subject there are none (and
/// [`smime::Smime::subject`] refuses); a subject gone from the registry is left to [`commit`].
fn registry_person(store: &dyn Store, req: &IssueRequest<'_>) -> Result<Option<PersonName>> {
    let Some(id) = req.subject_id.as_ref() else {
        return Ok(None);
    };
    Ok(store.get_subject(id)?.map(|s| PersonName {
        given_name: s.given_name,
        family_name: s.family_name,
        pseudonym: s.pseudonym,
    }))
}

/// The subject's SID when the profile maps certificates to Windows accounts: from the registry
/// record, never from the request. A profile that maps refuses subjects without one, rather
/// than issue a certificate domain controllers in full enforcement turn away at logon (or map
/// by a weak name). A subject gone from the registry is left to [`commit`], which answers
/// [`Outcome::SubjectInactive`].
fn registry_sid(store: &dyn Store, req: &IssueRequest<'_>) -> Result<Option<WindowsSid>> {
    if !req.profile.windows_sid.is_on() {
        return Ok(None);
    }
    let missing = || {
        Error::NotPermitted(format!(
            "profile {} maps certificates to Windows accounts: it issues only to registered \
             subjects with a windows_sid, and this request's subject has none",
            req.profile_name
        ))
    };
    let id = req.subject_id.as_ref().ok_or_else(missing)?;
    match store.get_subject(id)? {
        None => Ok(None),
        Some(s) => s.windows_sid.map(Some).ok_or_else(missing),
    }
}

/// The validity window: the requested bounds, or from five minutes ago (clock skew) for the
/// profile's lifetime. Without a requested end, the lifetime counts from the requested start
/// (RFC 8555 §7.4: a `notBefore` in the future moves the whole window).
fn validity(
    profile: &Profile,
    not_before: Option<i64>,
    not_after: Option<i64>,
    now: i64,
) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(Error::internal);
    let lifetime = time::Duration::days(i64::from(profile.validity_days));
    let now = at(now)?;
    let (start, default_end) = match not_before {
        Some(t) => (at(t)?, at(t)? + lifetime),
        None => (now - time::Duration::minutes(5), now + lifetime),
    };
    let mut end = match not_after {
        Some(t) => at(t)?,
        None => default_end,
    };
    if profile.smime.is_some() {
        // S/MIME BR §6.3.2: whatever was asked, never past the generation's maximum.
        end = end.min(start + time::Duration::seconds(smime::MAX_VALIDITY_SECS));
    }
    Ok((start, end))
}

impl Plan<'_> {
    /// The algorithm and size of the key the certificate will certify (the CSR's).
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Signs with a fresh serial and builds the one commit that records it.
    fn sign(&self, ca: &Ca) -> Result<(Issued, CertificateCommit)> {
        let req = &self.req;
        let serial = serial::random_serial()?;
        // The window the certificate really gets (cut at the CA's notAfter), for the record too.
        let (not_before, not_after) = ca.validity_within(self.not_before, self.not_after)?;
        let der = ca.issue(&IssueParams {
            spki_der: &self.spki_der,
            key_type: self.key_type,
            common_name: &self.common_name,
            sans: &self.sans,
            profile: req.profile,
            serial: &serial,
            not_before,
            not_after,
            windows_sid: self.extension_sid.as_ref(),
            person: self.person.as_ref(),
        })?;
        let cert = CertificateRecord {
            version: 1,
            serial: serial.clone(),
            issuer: ca.issuer_name().to_owned(),
            subject: self.common_name.clone(),
            sans: self.sans.iter().map(|s| s.to_string()).collect(),
            profile: req.profile_name.clone(),
            not_before: not_before.unix_timestamp(),
            not_after: not_after.unix_timestamp(),
            status: CertStatus::Good,
            channel: req.channel.to_owned(),
            label: req.label.clone(),
            credential: req.credential.clone(),
            replaces: req.replaces.clone(),
            issued_at: req.now,
            account: req.account.clone(),
            subject_id: req.subject_id.clone(),
            renewed_by: None,
            renewal_window: None,
            der: der.clone(),
        };
        let kind = match &req.spend {
            Spend::Nothing => CommitKind::Issue(None),
            Spend::Credential {
                id,
                csr_fingerprint,
            } => CommitKind::Issue(Some(Consumes::Credential(CredentialSpend {
                id: id.clone(),
                csr_fingerprint: csr_fingerprint.clone(),
                now: req.now,
            }))),
            Spend::Pickup { id } => CommitKind::Issue(Some(Consumes::Pickup {
                id: id.clone(),
                now: req.now,
            })),
            Spend::Renewal {
                old,
                csr_fingerprint,
            } => CommitKind::Issue(Some(Consumes::Renewal {
                old: old.clone(),
                csr_fingerprint: csr_fingerprint.clone(),
            })),
            Spend::Order(order) => {
                let mut done = (**order).clone();
                done.certificate = Some(serial.clone());
                CommitKind::FinalizeOrder(Box::new(done))
            }
        };
        let commit = CertificateCommit {
            cert,
            kind,
            audit: Some(AuditDraft {
                actor: req.actor.clone(),
                action: "certificate.issue".into(),
                detail: req.channel.to_owned(),
                at: req.now,
            }),
        };
        Ok((Issued { serial, der }, commit))
    }
}

/// How many fresh serials to try before giving up (a collision of 64 random bits is already
/// improbable).
const SERIAL_ATTEMPTS: usize = 4;

/// Counts an issued certificate by channel and profile (the `enrolld_certificates_issued_total`
/// counter): here, so that every channel is counted and nothing else counts.
fn counted(ca: &Ca, plan: &Plan<'_>, o: Outcome) -> Outcome {
    if let Outcome::Issued(_) = o {
        ca.metrics()
            .certificate_issued(plan.req.channel, &plan.req.profile_name.0);
    }
    o
}

fn outcome(issued: Issued, o: InsertOutcome) -> Option<Outcome> {
    match o {
        InsertOutcome::SerialTaken => None,
        InsertOutcome::Inserted => Some(Outcome::Issued(issued)),
        InsertOutcome::AlreadyIssued(s) => Some(Outcome::SameAsBefore(s)),
        InsertOutcome::SubjectInactive => Some(Outcome::SubjectInactive),
        InsertOutcome::CredentialUnusable => Some(Outcome::LostRace),
    }
}

/// Signs and records through the store's group committer; durable when this returns.
pub async fn commit(ca: &Ca, store: &dyn Store, plan: &Plan<'_>) -> Result<Outcome> {
    for _ in 0..SERIAL_ATTEMPTS {
        let (issued, c) = plan.sign(ca)?;
        if let Some(o) = outcome(issued, store.commit_certificate(c).wait().await?) {
            return Ok(counted(ca, plan, o));
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}

/// [`commit`] for callers on a blocking thread (never on an async worker).
pub fn commit_blocking(ca: &Ca, store: &dyn Store, plan: &Plan<'_>) -> Result<Outcome> {
    for _ in 0..SERIAL_ATTEMPTS {
        let (issued, c) = plan.sign(ca)?;
        if let Some(o) = outcome(issued, store.commit_certificate(c).wait_blocking()?) {
            return Ok(counted(ca, plan, o));
        }
    }
    Err(Error::Internal("no free serial after 4 attempts".into()))
}

#[cfg(test)]
#[path = "issuance_tests.rs"]
mod tests;
