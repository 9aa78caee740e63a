//! The registry service: what the admin API does with people, devices, credentials per
//! subject and the audit log (no HTTP here). Its other operations live beside it: the
//! certificate inventory (`inventory.rs`), admin tokens (`tokens.rs`), approvals
//! (`approvals.rs`), loose credentials and EAB keys (`admin_credentials.rs`), pickup links
//! (`pickup.rs`), Apple configuration profiles with a SCEP challenge (`apple_profile.rs`),
//! bulk import and its dry run (`bulk.rs`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::credentials;
use super::subjects::{self, Registered, SubjectInput};
use crate::acme::eab::NewEabKey;
use crate::ca::profile::SanName;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::{ProfileName, Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::secrets::Secrets;
use crate::states::SubjectStatus;
use crate::store::AcmeStore;
use crate::store::{AllowedIdentifier, AuditRecord, Store, SubjectRecord};

/// The registry service.
pub struct Registry {
    /// Everything.
    pub store: Arc<dyn Store>,
    /// Token and credential hashing.
    pub secrets: Arc<Secrets>,
    /// Profiles, labels, registry settings.
    pub cfg: Arc<Config>,
    /// ACME records: the EAB keys the registry hands out.
    pub acme_store: Arc<dyn AcmeStore>,
    /// Signs pickup-link certificates.
    pub ca: Arc<crate::ca::Ca>,
    /// Signs the audit log's checkpoints; its key checks them.
    pub audit_signer: Arc<crate::audit::Checkpointer>,
    /// Link, credential and token times.
    pub clock: crate::clock::SharedClock,
    /// Signs Apple configuration profiles, when `[scep]` configures a signer.
    pub profile_signer: Option<super::profile_signing::ProfileSigner>,
    /// Composes pickup and reminder mail, when `[mail]` names a relay.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
}

/// One row of a bulk import's answer.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    /// Row number (1 = first data row).
    pub row: usize,
    /// The row's external id, if it had one.
    pub external_id: Option<String>,
    /// `created`, `updated`, `unchanged` or `error`.
    pub result: String,
    /// The subject id, on success.
    pub id: Option<String>,
    /// Why the row failed.
    pub error: Option<String>,
    /// The mail that carries the subject's pickup link, when the import sends them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Why no link was mailed to this row's subject, when the import sends them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_error: Option<String>,
}

/// The filters of a page of subjects (`Registry::list_page`); absent fields match everything.
#[derive(Debug, Clone, Default)]
pub struct SubjectQuery {
    /// `person` or `device`.
    pub kind: Option<String>,
    /// `active`, `suspended` or `offboarded` (any other name matches nothing).
    pub status: Option<String>,
    /// Exact department.
    pub department: Option<String>,
    /// Case-insensitive substring of the external id, names, e-mail address or department.
    pub search: Option<String>,
    /// The page starts after this subject id (the previous page's last).
    pub after: Option<String>,
}

/// `POST /api/v1/subjects/{id}/credentials` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubjectCredential {
    /// `est`, `scep`, `acme` or `pickup`.
    pub kind: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// EST and SCEP: enrolments allowed (default 1).
    #[serde(default)]
    pub uses: Option<u32>,
    /// EST and SCEP: label the credential is scoped to (default: none, the default path).
    #[serde(default)]
    pub label: Option<String>,
    /// Pickup: also offer the legacy 3DES / SHA-1 PKCS#12 format.
    #[serde(default)]
    pub legacy_p12: bool,
    /// Pickup: `email` sends the link to the subject's address instead of answering with it.
    #[serde(default)]
    pub deliver: Option<String>,
}

/// Refuses a credential that could never yield a certificate: an individual-validated S/MIME
/// profile puts the person's given and family name (or pseudonym) in the subject, so a person
/// without them on record gets a clear refusal now rather than at enrolment.
fn individual_names_present(
    cfg: &crate::config::Config,
    profile: &ProfileName,
    s: &SubjectRecord,
) -> Result<()> {
    use crate::ca::smime::{PersonName, Validation};
    let individual = cfg
        .profiles
        .get(profile)
        .and_then(|p| p.smime.as_ref())
        .is_some_and(|sm| sm.validation == Validation::Individual);
    let names = PersonName {
        given_name: s.given_name.clone(),
        family_name: s.family_name.clone(),
        pseudonym: s.pseudonym.clone(),
    };
    if individual && !names.is_complete() {
        return Err(Error::Malformed(format!(
            "profile {profile} issues individual-validated S/MIME certificates: the person \
             needs a given_name and family_name (or a pseudonym) in the registry first"
        )));
    }
    Ok(())
}

impl Registry {
    /// The EAB keys of the registry's stores.
    pub fn eab_keys(&self) -> crate::acme::eab::EabKeys<'_> {
        crate::acme::eab::EabKeys {
            acme_store: &*self.acme_store,
            store: &*self.store,
            secrets: &self.secrets,
            cfg: &self.cfg,
        }
    }

    /// Appends an audit entry (a failure to append is logged, not fatal to the action already
    /// done), then flushes: the action and its entry are durable together before the client
    /// hears of either.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<()> {
        if let Err(e) =
            self.store
                .append_audit(actor, action, target, outcome, detail, self.clock.now())
        {
            tracing::error!(error = %e, action, "audit append failed");
        }
        self.store.flush()
    }

    /// Registers one subject.
    pub fn register(&self, actor: &str, kind: &str, input: &SubjectInput) -> Result<Registered> {
        let r = subjects::register(&*self.store, kind, input, self.clock.now())?;
        if r.result != "unchanged" {
            self.audit(
                actor,
                &format!("subject.{}", r.result),
                r.subject.id.as_str(),
                "ok",
                &r.subject.external_id,
            )?;
        }
        Ok(r)
    }

    /// A subject by id, or NotFound.
    pub(super) fn subject(&self, id: &str) -> Result<SubjectRecord> {
        let id = SubjectId::parse(id)?;
        self.store
            .get_subject(&id)?
            .ok_or_else(|| Error::NotFound("no such subject".into()))
    }

    /// A subject with its certificates and credentials.
    pub fn get(&self, id: &str) -> Result<Value> {
        let s = self.subject(id)?;
        let certs: Vec<String> = self
            .store
            .subject_certificates(&s.id)?
            .iter()
            .map(Serial::to_hex)
            .collect();
        let (scep, creds): (Vec<String>, Vec<String>) = self
            .store
            .subject_credentials(&s.id)?
            .iter()
            .map(|c| c.to_string())
            .partition(|c| c.starts_with(credentials::SCEP_PREFIX));
        let eabs: Vec<String> = self
            .store
            .subject_eab_keys(&s.id)?
            .iter()
            .map(|c| c.to_string())
            .collect();
        let mut v = serde_json::to_value(&s)?;
        v["certificates"] = json!(certs);
        v["est_credentials"] = json!(creds);
        v["scep_challenges"] = json!(scep);
        v["eab_keys"] = json!(eabs);
        Ok(v)
    }

    /// Subjects matching the filters.
    pub fn list(
        &self,
        kind: Option<&str>,
        status: Option<&str>,
        department: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubjectRecord>> {
        let q = SubjectQuery {
            kind: kind.map(str::to_owned),
            status: status.map(str::to_owned),
            department: department.map(str::to_owned),
            ..SubjectQuery::default()
        };
        Ok(self.list_page(&q, limit)?.0)
    }

    /// One page of the subjects matching `q`, in id order, and the id the next page starts
    /// after when there may be more. `search` is a case-insensitive substring of the external
    /// id, display name, device name, e-mail address or department.
    pub fn list_page(
        &self,
        q: &SubjectQuery,
        limit: usize,
    ) -> Result<(Vec<SubjectRecord>, Option<String>)> {
        // An unknown status matches no subject.
        let status = q.status.as_deref().map(SubjectStatus::from_name);
        let needle = q.search.as_deref().map(str::to_lowercase);
        let limit = limit.max(1);
        let mut out = Vec::new();
        let mut more = false;
        // A cursor that is no valid id matches nothing before it: start at the beginning and
        // skip, as before; a valid one starts the scan right after it.
        let cursor = q.after.as_deref().and_then(|a| SubjectId::parse(a).ok());
        self.store.scan_subjects_after(cursor.as_ref(), &mut |s| {
            if q.after.as_deref().is_some_and(|a| s.id.as_str() <= a) {
                return true;
            }
            let found = needle.as_deref().is_none_or(|n| {
                [
                    Some(&s.external_id),
                    s.display_name.as_ref(),
                    s.name.as_ref(),
                    s.email.as_ref(),
                    s.department.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|v| v.to_lowercase().contains(n))
            });
            let ok = found
                && q.kind.as_deref().is_none_or(|k| s.kind == k)
                && status.is_none_or(|st| st == Some(s.status))
                && q.department
                    .as_deref()
                    .is_none_or(|d| s.department.as_deref() == Some(d));
            if ok {
                if out.len() == limit {
                    more = true;
                    return false;
                }
                out.push(s);
            }
            true
        })?;
        let next = if more {
            out.last().map(|s| s.id.as_str().to_owned())
        } else {
            None
        };
        Ok((out, next))
    }

    /// Changes a subject's status: `suspended` (certificates on hold when configured),
    /// `active` (the holds the suspension placed are lifted; a hold an administrator placed,
    /// or a later revocation for good, stays) or `offboarded` (everything revoked and
    /// disabled, final).
    pub fn set_status(&self, actor: &str, id: &str, status: &str) -> Result<Value> {
        let s = self.subject(id)?;
        let t = self.clock.now();
        let mut detail = json!({});
        match (s.status, SubjectStatus::from_name(status)) {
            (SubjectStatus::Offboarded, _) => {
                return Err(Error::Conflict(
                    "an off-boarded subject cannot change status".into(),
                ))
            }
            (_, Some(SubjectStatus::Offboarded)) => {
                let sum = self.store.offboard_subject(
                    &s.id,
                    t,
                    RevocationReason::CessationOfOperation,
                )?;
                detail = serde_json::to_value(&sum)?;
            }
            // Suspended or active already (off-boarding is handled above).
            (from, Some(to)) if from == to => {}
            (_, Some(SubjectStatus::Suspended)) => {
                let mut new = s.clone();
                new.status = SubjectStatus::Suspended;
                new.updated_at = t;
                if !self.store.update_subject(&s, &new)? {
                    return Err(Error::Conflict(
                        "subject changed concurrently; retry".into(),
                    ));
                }
                let mut held = 0;
                if self.cfg.registry.hold_on_suspend {
                    for serial in self.store.subject_certificates(&s.id)? {
                        if self.store.hold_for_suspension(&serial, t)? {
                            held += 1;
                        }
                    }
                }
                detail = json!({"certificates_on_hold": held});
            }
            (_, Some(SubjectStatus::Active)) => {
                let mut new = s.clone();
                new.status = SubjectStatus::Active;
                new.updated_at = t;
                if !self.store.update_subject(&s, &new)? {
                    return Err(Error::Conflict(
                        "subject changed concurrently; retry".into(),
                    ));
                }
                let mut released = 0;
                for serial in self.store.subject_certificates(&s.id)? {
                    if self.store.release_hold(&serial)? {
                        released += 1;
                    }
                }
                detail = json!({"holds_released": released});
            }
            (_, None) => {
                return Err(Error::Malformed(format!(
                    "status must be active, suspended or offboarded, not {status:?}"
                )))
            }
        }
        self.audit(
            actor,
            &format!("subject.{status}"),
            s.id.as_str(),
            "ok",
            &detail.to_string(),
        )?;
        let mut v = self.get(id)?;
        v["changes"] = detail;
        Ok(v)
    }

    /// A credential for a subject: an EST Basic credential or an ACME EAB key whose names come
    /// from the registry.
    pub fn create_credential(
        &self,
        actor: &str,
        id: &str,
        req: NewSubjectCredential,
    ) -> Result<Value> {
        let s = self.subject(id)?;
        if s.status != SubjectStatus::Active {
            return Err(Error::NotPermitted(format!("the subject is {}", s.status)));
        }
        let profile = ProfileName(s.kind.clone());
        individual_names_present(&self.cfg, &profile, &s)?;
        let (cn, names) = super::pickup::subject_names(&s);
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut allowed: Vec<AllowedIdentifier> = names
            .iter()
            .map(|n| {
                let (kind, value) = match n {
                    SanName::Email(v) => ("email", v.clone()),
                    SanName::Dns(v) => ("dns", v.clone()),
                    SanName::Uri(v) => ("uri", v.clone()),
                    SanName::Ip(v) => ("ip", v.to_string()),
                };
                AllowedIdentifier {
                    kind: kind.into(),
                    value,
                    challenge: false,
                }
            })
            .collect();
        if let Some(sn) = s.serial_number.as_ref().filter(|_| s.kind == "device") {
            allowed.push(AllowedIdentifier {
                kind: "permanent-identifier".into(),
                value: sn.clone(),
                challenge: false,
            });
        }
        let v = match req.kind.as_str() {
            "est" => {
                let issued = credentials::create(
                    &*self.store,
                    &self.secrets,
                    &self.cfg,
                    credentials::NewEstCredential {
                        label: req.label,
                        common_name: cn,
                        sans,
                        expires_in: req.expires_in,
                        uses: req.uses,
                        subject_id: Some(s.id.clone()),
                        profile: Some(profile),
                        channel: credentials::Channel::Est,
                    },
                    self.clock.now(),
                )?;
                serde_json::to_value(&issued)?
            }
            "scep" => {
                let issued = credentials::create(
                    &*self.store,
                    &self.secrets,
                    &self.cfg,
                    credentials::NewEstCredential {
                        label: req.label.clone(),
                        common_name: cn,
                        sans,
                        expires_in: req.expires_in,
                        uses: req.uses,
                        subject_id: Some(s.id.clone()),
                        profile: Some(profile),
                        channel: credentials::Channel::Scep,
                    },
                    self.clock.now(),
                )?;
                let path = match &issued.label {
                    Some(l) => format!("/scep/{l}"),
                    None => "/scep".to_owned(),
                };
                // The challenge is the id and the secret: the id finds the record, the secret
                // is checked against its keyed hash.
                json!({
                    "challenge": format!("{}.{}", issued.username, issued.password),
                    "id": issued.username,
                    "url": format!("{}{path}", self.cfg.status_base_url()),
                    "label": issued.label,
                    "expires_at": issued.expires_at,
                })
            }
            "acme" => {
                if allowed.is_empty() {
                    return Err(Error::Malformed(
                        "the device has no DNS names or serial number to order".into(),
                    ));
                }
                let issued = self.eab_keys().create(
                    NewEabKey {
                        profile: Some(profile.0),
                        allowed_identifiers: allowed,
                        expires_in: req.expires_in,
                        subject_id: Some(s.id.clone()),
                    },
                    self.clock.now(),
                )?;
                serde_json::to_value(&issued)?
            }
            "pickup" if req.deliver.as_deref() == Some("email") => serde_json::to_value(
                self.mail_pickup(actor, &s, req.expires_in, req.legacy_p12)?,
            )?,
            "pickup" if req.deliver.is_some() => {
                return Err(Error::Malformed(
                    "deliver must be \"email\" (or absent)".into(),
                ))
            }
            "pickup" => {
                let (url, expires_at) =
                    self.create_pickup(actor, &s, req.expires_in, req.legacy_p12)?;
                json!({"url": url, "expires_at": expires_at})
            }
            other => {
                return Err(Error::Malformed(format!(
                    "kind must be est, scep, acme or pickup, not {other:?}"
                )))
            }
        };
        // The detail names what was made: a username, a key id or a link id (never the
        // secret after the link id's dot).
        let made = match (&v["username"], &v["kid"], &v["url"]) {
            (Value::String(u), _, _) => u.clone(),
            _ if v["challenge"].is_string() => v["id"].as_str().unwrap_or_default().to_owned(),
            _ if v["mail"].is_string() => format!(
                "{} by mail {}",
                v["pickup"].as_str().unwrap_or_default(),
                v["mail"].as_str().unwrap_or_default()
            ),
            (_, Value::String(k), _) => k.clone(),
            (_, _, Value::String(url)) => url
                .rsplit('/')
                .next()
                .and_then(|t| t.split('.').next())
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        self.audit(
            actor,
            &format!("credential.{}", req.kind),
            s.id.as_str(),
            "ok",
            &made,
        )?;
        Ok(v)
    }

    /// Audit entries after `after`.
    pub fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        self.store.audit_entries(after, limit.clamp(1, 1000))
    }

    /// Verifies the audit log: chain, head and every signed checkpoint, with the server's
    /// own audit signing key.
    pub fn verify_audit(&self) -> Result<std::result::Result<crate::audit::Verified, String>> {
        let latest = match self.audit_signer.latest() {
            Ok(l) => l,
            Err(e) => return Ok(Err(e.public_message().to_owned())),
        };
        crate::audit::verify(
            &*self.store,
            self.audit_signer.public_key(),
            latest.as_ref(),
        )
    }
}
