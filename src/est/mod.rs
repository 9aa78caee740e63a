//! EST (RFC 7030, with the RFC 8951 clarifications) as operations on typed values.
//!
//! This module never sees HTTP: `src/http/est.rs` turns requests into calls here and
//! [`Error`]s into RFC 7030 status codes and text.

pub mod bootstrap;
#[cfg(test)]
mod flow_tests;
mod renewal;
pub mod throttle;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ca::csr::Csr;
use crate::ca::issuance::{self, IssueRequest, Key, NameRule, Outcome, Spend};
use crate::ca::pkcs7::{self, AttrOrOid};
use crate::ca::profile::SanName;
use crate::ca::{keys, Ca};
use crate::ca::{KeyType, Profile};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::{Label, ProfileName, Serial};
use crate::registry::approvals::{self, ApprovalRequest, Decision};
use crate::registry::credentials;
use crate::secrets::Secrets;
use crate::store::{AcmeStore, Store};
use bootstrap::BootstrapCa;

/// How the client authenticated at the HTTP and TLS layers.
#[derive(Debug, Default, Clone)]
pub struct ClientAuth {
    /// HTTP Basic username and password (RFC 7030 §3.2.3).
    pub basic: Option<(String, String)>,
    /// The TLS client certificate (end entity, DER), if one was presented and verified.
    pub client_cert: Option<Vec<u8>>,
    /// RFC 9266 tls-exporter value of the connection (TLS 1.3 only).
    pub tls_exporter: Option<Vec<u8>>,
    /// The client's address (failed-authentication backoff).
    pub peer: Option<std::net::IpAddr>,
}

/// A freshly issued or re-delivered certificate.
pub use crate::ca::issuance::Issued;

/// What an enrolment came to when it did not fail.
#[derive(Debug)]
pub enum Enrolment<T = Issued> {
    /// The certificate (and, for server-side key generation, its key).
    Issued(T),
    /// RFC 7030 §4.2.3 manual approval: the request is recorded and waits for an
    /// administrator; the client retries the identical request after `retry_after` seconds.
    Pending {
        /// The approval request's id, for the administrator and the client's message.
        request: String,
        /// Seconds the client should wait before retrying.
        retry_after: u64,
    },
}

impl<T> Enrolment<T> {
    /// The issued value, transformed; a pending enrolment stays pending.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Enrolment<U> {
        match self {
            Enrolment::Issued(t) => Enrolment::Issued(f(t)),
            Enrolment::Pending {
                request,
                retry_after,
            } => Enrolment::Pending {
                request,
                retry_after,
            },
        }
    }
}

/// The policy a label (or the default path) selects.
struct LabelPolicy<'a> {
    label: Option<Label>,
    profile_name: ProfileName,
    profile: &'a Profile,
    require_channel_binding: bool,
    require_approval: bool,
    bootstrap: &'a [BootstrapCa],
}

/// Who is enrolling, and what they may ask for.
struct Entitlement {
    common_name: String,
    sans: Vec<SanName>,
    /// The credential to spend, for credential-authenticated enrolment.
    credential: Option<crate::store::CredentialRecord>,
    /// The registered subject, checked inside the issuance transaction.
    subject_id: Option<crate::ids::SubjectId>,
    /// A profile the credential names, overriding the label's.
    profile: Option<ProfileName>,
    /// The fingerprint approvals are keyed on when it is not the CSR's own (serverkeygen: the
    /// client's CSR, not the request rebuilt around a fresh key).
    approval_fingerprint: Option<String>,
    channel: &'static str,
}

/// The EST service: shared by every request.
pub struct Est {
    /// The issuing CA.
    pub ca: Arc<Ca>,
    /// Certificates and credentials.
    pub store: Arc<dyn Store>,
    /// ACME accounts and EAB keys: a renewal of an ACME-issued certificate re-checks them.
    pub acme_store: Arc<dyn AcmeStore>,
    /// Profiles and labels.
    pub cfg: Arc<Config>,
    /// Hash key for credential secrets.
    pub secrets: Arc<Secrets>,
    /// Bootstrap (IDevID) CAs per label.
    bootstrap: BTreeMap<Label, Vec<BootstrapCa>>,
    /// Backoff after failed Basic authentications (shared with SCEP's failed challenges).
    pub throttle: Arc<throttle::Throttle>,
    /// Credential, certificate and backoff times.
    clock: SharedClock,
}

/// Seconds a client waiting for approval is told to wait (RFC 7030 §4.2.3 Retry-After).
pub const APPROVAL_RETRY_AFTER: u64 = 60;

impl Est {
    /// Builds the service, loading each label's bootstrap CA files.
    pub fn new(
        ca: Arc<Ca>,
        store: Arc<dyn Store>,
        acme_store: Arc<dyn AcmeStore>,
        cfg: Arc<Config>,
        secrets: Arc<Secrets>,
        clock: SharedClock,
    ) -> Result<Self> {
        let mut bootstrap = BTreeMap::new();
        for (label, l) in &cfg.est.labels {
            let mut cas = Vec::new();
            for f in &l.bootstrap_ca_files {
                cas.extend(BootstrapCa::load(f)?);
            }
            bootstrap.insert(label.clone(), cas);
        }
        Ok(Est {
            ca,
            store,
            acme_store,
            cfg,
            secrets,
            bootstrap,
            throttle: Arc::new(throttle::Throttle::from_env()),
            clock,
        })
    }

    /// Every bootstrap CA certificate (DER), for the TLS client-certificate verifier.
    pub fn bootstrap_anchors(&self) -> Vec<Vec<u8>> {
        self.bootstrap
            .values()
            .flatten()
            .map(|b| b.der.clone())
            .collect()
    }

    fn policy(&self, label: Option<&Label>) -> Result<LabelPolicy<'_>> {
        match label {
            None => Ok(LabelPolicy {
                label: None,
                profile_name: self.cfg.est.default_profile.clone(),
                profile: self.cfg.profile(&self.cfg.est.default_profile)?,
                require_channel_binding: self.cfg.est.require_channel_binding,
                require_approval: false,
                bootstrap: &[],
            }),
            Some(l) => {
                let lc = self
                    .cfg
                    .est
                    .labels
                    .get(l)
                    .ok_or_else(|| Error::NotFound("unknown EST label".into()))?;
                Ok(LabelPolicy {
                    label: Some(l.clone()),
                    profile_name: lc.profile.clone(),
                    profile: self.cfg.profile(&lc.profile)?,
                    require_channel_binding: lc.require_channel_binding,
                    require_approval: lc.require_approval,
                    bootstrap: self.bootstrap.get(l).map(Vec::as_slice).unwrap_or(&[]),
                })
            }
        }
    }

    /// RFC 7030 §4.1: the CA certificates, as a certs-only body (base64).
    pub fn cacerts(&self, label: Option<&Label>) -> Result<String> {
        self.policy(label)?;
        let certs: Vec<&[u8]> = self.ca.chain().iter().map(Vec::as_slice).collect();
        Ok(wire::certs_only_body(&certs))
    }

    /// RFC 7030 §4.5: what the label's profile wants in a CSR (DER, to be base64-encoded).
    pub fn csrattrs(&self, label: Option<&Label>) -> Result<Vec<u8>> {
        const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
        const P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
        const P384: &[u64] = &[1, 3, 132, 0, 34];
        const ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
        const ECDSA_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
        const RSA_SHA256: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
        const ED25519: &[u64] = &[1, 3, 101, 112];
        const CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];
        let p = self.policy(label)?;
        let mut items = Vec::new();
        match p.profile.key_types.first() {
            Some(KeyType::P384) => {
                items.push(AttrOrOid::Attr(EC_PUBLIC_KEY, vec![P384]));
                items.push(AttrOrOid::Oid(ECDSA_SHA384));
            }
            Some(KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096) => {
                items.push(AttrOrOid::Oid(RSA_SHA256));
            }
            Some(KeyType::Ed25519) => items.push(AttrOrOid::Oid(ED25519)),
            _ => {
                items.push(AttrOrOid::Attr(EC_PUBLIC_KEY, vec![P256]));
                items.push(AttrOrOid::Oid(ECDSA_SHA256));
            }
        }
        if p.require_channel_binding {
            items.push(AttrOrOid::Oid(CHALLENGE_PASSWORD));
        }
        Ok(pkcs7::csr_attrs(&items))
    }

    /// RFC 7030 §4.2.1: enrolment authenticated by a credential or a bootstrap certificate.
    pub async fn simple_enroll(
        &self,
        label: Option<&Label>,
        auth: &ClientAuth,
        body: &[u8],
    ) -> Result<Enrolment> {
        let policy = self.policy(label)?;
        let ent = self.authenticate_enroll(&policy, auth)?;
        let csr = Csr::parse(&wire::decode_body(body)?)?;
        check_channel_binding(&policy, auth, &csr)?;
        self.issue_for(&policy, ent, &csr, None).await
    }

    /// RFC 7030 §4.2.2: renewal / re-key authenticated by a certificate issued here. The new
    /// certificate keeps the subject, SANs and profile of the one presented.
    pub async fn simple_reenroll(
        &self,
        label: Option<&Label>,
        auth: &ClientAuth,
        body: &[u8],
    ) -> Result<Enrolment> {
        let label_policy = self.policy(label)?;
        let current = self.current_certificate(auth)?;
        self.check_renewal_origin(&current)?;
        let csr = Csr::parse(&wire::decode_body(body)?)?;
        // Binding is required if the path's label or the certificate's own label requires it:
        // renewing on another path must not skip the proof of possession.
        let original_requires = match &current.label {
            Some(l) => self
                .policy(Some(l))
                .is_ok_and(|p| p.require_channel_binding),
            None => self.cfg.est.require_channel_binding,
        };
        let policy = LabelPolicy {
            label: current.label.clone(),
            profile_name: current.profile.clone(),
            profile: self.cfg.profile(&current.profile).map_err(|_| {
                Error::NotPermitted("the certificate's profile no longer exists".into())
            })?,
            require_channel_binding: label_policy.require_channel_binding || original_requires,
            // A renewal of an approved certificate needs no new approval.
            require_approval: false,
            bootstrap: &[],
        };
        check_channel_binding(&policy, auth, &csr)?;
        if let Some(u) = &current.renewed_by {
            if u.csr_fingerprint == csr.fingerprint() {
                return self.redeliver(&u.serial).await.map(Enrolment::Issued);
            }
            return Err(Error::NotPermitted(
                "this certificate was renewed already; renew with its successor".into(),
            ));
        }
        let sans = current
            .sans
            .iter()
            .map(|s| SanName::parse(s))
            .collect::<Result<Vec<_>>>()?;
        let ent = Entitlement {
            common_name: current.subject.clone(),
            sans,
            subject_id: current.subject_id.clone(),
            profile: None,
            approval_fingerprint: None,
            credential: None,
            channel: "est-simplereenroll",
        };
        self.issue_for(&policy, ent, &csr, Some(current.serial.clone()))
            .await
    }

    /// RFC 7030 §4.4: the server generates the key. Returns (PKCS#8 key DER, certificate).
    /// Server-generated keys are never stored, so a spent credential cannot be answered again.
    pub async fn server_keygen(
        &self,
        label: Option<&Label>,
        auth: &ClientAuth,
        body: &[u8],
    ) -> Result<Enrolment<(Vec<u8>, Issued)>> {
        let policy = self.policy(label)?;
        let ent = self.authenticate_enroll(&policy, auth)?;
        let csr = Csr::parse(&wire::decode_body(body)?)?;
        check_channel_binding(&policy, auth, &csr)?;
        if let Some(c) = &ent.credential {
            if c.uses_left == 0 {
                return Err(Error::NotPermitted(
                    "enrolment credential already used; server-generated keys are not kept".into(),
                ));
            }
        }
        let kt = policy.profile.server_keygen_key_type;
        let key = keys::generate(kt)?;
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        // Each generated key is a distinct request for the credential's bookkeeping.
        let csr_fingerprint = csr.fingerprint();
        let mut fingerprint_src = csr.der.clone();
        fingerprint_src.extend_from_slice(&spki);
        let keyed = Csr {
            der: fingerprint_src,
            spki_der: spki,
            key_type: kt,
            ..csr
        };
        let mut ent = ent;
        ent.channel = "est-serverkeygen";
        ent.approval_fingerprint = Some(csr_fingerprint);
        let enrolment = self.issue_for(&policy, ent, &keyed, None).await?;
        Ok(enrolment.map(|issued| (key.serialize_der(), issued)))
    }

    fn authenticate_enroll(
        &self,
        policy: &LabelPolicy<'_>,
        auth: &ClientAuth,
    ) -> Result<Entitlement> {
        if let Some((user, pass)) = &auth.basic {
            let cred = {
                let ip = auth.peer.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
                let t = self.clock.now();
                self.throttle.check(user, ip, t)?;
                match credentials::authenticate(&*self.store, &self.secrets, user, pass, t) {
                    Ok(c) => {
                        self.throttle.succeeded(user, ip);
                        c
                    }
                    Err(e) => {
                        self.throttle.failed(user, ip, t);
                        return Err(e);
                    }
                }
            };
            if credentials::Channel::of(&cred.id) != credentials::Channel::Est {
                return Err(Error::Unauthenticated(
                    "a SCEP challenge is not an EST credential".into(),
                ));
            }
            if cred.label != policy.label {
                return Err(Error::NotPermitted(
                    "this enrolment credential is not valid for this label".into(),
                ));
            }
            let sans = cred
                .sans
                .iter()
                .map(|s| SanName::parse(s))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Entitlement {
                common_name: cred.common_name.clone(),
                sans,
                subject_id: cred.subject_id.clone(),
                profile: cred.profile.clone(),
                approval_fingerprint: None,
                credential: Some(cred),
                channel: "est-simpleenroll",
            });
        }
        if let Some(cert) = &auth.client_cert {
            for ca in policy.bootstrap {
                if let Some(name) = ca.device_name(cert) {
                    return Ok(Entitlement {
                        common_name: name,
                        sans: Vec::new(),
                        subject_id: None,
                        profile: None,
                        approval_fingerprint: None,
                        credential: None,
                        channel: "est-simpleenroll-bootstrap",
                    });
                }
            }
        }
        Err(Error::Unauthenticated(
            "enrolment requires HTTP Basic credentials or a trusted bootstrap certificate".into(),
        ))
    }

    async fn issue_for(
        &self,
        policy: &LabelPolicy<'_>,
        ent: Entitlement,
        csr: &Csr,
        replaces: Option<Serial>,
    ) -> Result<Enrolment> {
        let overridden;
        let policy = match &ent.profile {
            Some(p) => {
                overridden = LabelPolicy {
                    label: policy.label.clone(),
                    profile_name: p.clone(),
                    profile: self.cfg.profile(p)?,
                    require_channel_binding: policy.require_channel_binding,
                    require_approval: policy.require_approval,
                    bootstrap: policy.bootstrap,
                };
                &overridden
            }
            None => policy,
        };
        let fingerprint = csr.fingerprint();
        if let Some(cred) = &ent.credential {
            // An identical retry gets the same certificate back.
            if let Some(u) = cred.uses.iter().find(|u| u.csr_fingerprint == fingerprint) {
                return self.redeliver(&u.serial).await.map(Enrolment::Issued);
            }
            if cred.uses_left == 0 {
                return Err(Error::NotPermitted(
                    "enrolment credential already used for another request".into(),
                ));
            }
        }
        let now = self.clock.now();
        let spend = match (&ent.credential, &replaces) {
            (Some(c), _) => Spend::Credential {
                id: c.id.clone(),
                csr_fingerprint: fingerprint.clone(),
            },
            (None, Some(old)) => Spend::Renewal {
                old: old.clone(),
                csr_fingerprint: fingerprint.clone(),
            },
            (None, None) => Spend::Nothing,
        };
        let actor = match (&ent.credential, &replaces) {
            (Some(c), _) => format!("est:{}", c.id),
            (None, Some(old)) => format!("est:certificate:{old}"),
            (None, None) => "est:bootstrap".to_owned(),
        };
        let plan = issuance::plan(
            &*self.store,
            IssueRequest {
                key: Key::Csr(csr),
                common_name: &ent.common_name,
                sans: &ent.sans,
                rule: NameRule::AsRequested,
                profile_name: &policy.profile_name,
                profile: policy.profile,
                not_before: None,
                not_after: None,
                subject_id: ent.subject_id.clone(),
                spend,
                channel: ent.channel,
                label: policy.label.clone(),
                credential: ent.credential.as_ref().map(|c| c.id.clone()),
                replaces: replaces.clone(),
                account: None,
                actor,
                now,
            },
        )?;
        if replaces.is_none() && (policy.require_approval || policy.profile.require_approval) {
            let approval_fp = ent
                .approval_fingerprint
                .clone()
                .unwrap_or_else(|| fingerprint.clone());
            if let Some(pending) = self
                .approval_gate(policy, &ent, &approval_fp, &plan)
                .await?
            {
                return Ok(pending);
            }
        }
        match issuance::commit(&self.ca, &*self.store, &plan).await? {
            Outcome::Issued(issued) => {
                tracing::info!(serial = %issued.serial, subject = %plan.common_name, channel = ent.channel, "certificate issued");
                Ok(Enrolment::Issued(issued))
            }
            Outcome::SameAsBefore(s) => self.redeliver(&s).await.map(Enrolment::Issued),
            Outcome::SubjectInactive => Err(Error::NotPermitted(
                "the subject of this enrolment is suspended or off-boarded".into(),
            )),
            Outcome::LostRace if replaces.is_some() => Err(Error::NotPermitted(
                "this certificate was renewed already or revoked".into(),
            )),
            Outcome::LostRace => Err(Error::NotPermitted(
                "enrolment credential already used for another request".into(),
            )),
        }
    }

    /// RFC 7030 §4.2.3 manual approval: asks the registry's approval gate about this
    /// credential and CSR, and answers [`Enrolment::Pending`] until an administrator approves
    /// (then `None`: the certificate is issued) or rejects (refused).
    async fn approval_gate(
        &self,
        policy: &LabelPolicy<'_>,
        ent: &Entitlement,
        fingerprint: &str,
        plan: &issuance::Plan<'_>,
    ) -> Result<Option<Enrolment>> {
        let Some(cred) = &ent.credential else {
            return Err(Error::NotPermitted(
                "this profile requires approval; enrol with an enrolment credential".into(),
            ));
        };
        let req = ApprovalRequest {
            credential: &cred.id,
            csr_fingerprint: fingerprint,
            common_name: &plan.common_name,
            sans: &plan.sans,
            key: plan.key_type(),
            profile: &policy.profile_name,
            subject_id: ent.subject_id.clone(),
        };
        match approvals::gate(&*self.store, req, self.clock.now()).await? {
            Decision::Approved => Ok(None),
            Decision::Rejected => Err(Error::NotPermitted(
                "the enrolment request was rejected".into(),
            )),
            Decision::Pending { request } => Ok(Some(Enrolment::Pending {
                request,
                retry_after: APPROVAL_RETRY_AFTER,
            })),
        }
    }

    /// Answers a retry with the certificate issued before, once it is durable (the first
    /// request may still be flushing).
    async fn redeliver(&self, serial: &Serial) -> Result<Issued> {
        self.flush().await?;
        let rec = self.store.get_certificate(serial)?.ok_or_else(|| {
            Error::Internal(format!("credential names missing certificate {serial}"))
        })?;
        Ok(Issued {
            der: rec.der,
            serial: rec.serial,
        })
    }

    /// Durability before the client hears of a certificate.
    async fn flush(&self) -> Result<()> {
        self.store.durable().durable().await
    }
}

/// RFC 7030 §3.5 with RFC 9266: the CSR's challengePassword must carry the base64 tls-exporter
/// value of this TLS 1.3 connection when the label requires it.
fn check_channel_binding(policy: &LabelPolicy<'_>, auth: &ClientAuth, csr: &Csr) -> Result<()> {
    if !policy.require_channel_binding {
        return Ok(());
    }
    use base64ct::{Base64, Encoding};
    let exporter = auth.tls_exporter.as_ref().ok_or_else(|| {
        Error::BadCsr("channel binding requires TLS 1.3 (RFC 9266 tls-exporter)".into())
    })?;
    let expected = Base64::encode_string(exporter);
    match &csr.challenge_password {
        Some(p)
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                p.as_bytes(),
                expected.as_bytes(),
            )
            .is_ok() =>
        {
            Ok(())
        }
        Some(_) => Err(Error::BadCsr(
            "challengePassword does not match this TLS channel".into(),
        )),
        None => Err(Error::BadCsr(
            "CSR must carry the tls-exporter channel binding in challengePassword".into(),
        )),
    }
}
