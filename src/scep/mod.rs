//! SCEP (RFC 8894) as operations on typed values, for MDM products and devices.
//!
//! This module never sees HTTP: `src/http/scep.rs` turns `GET`/`POST /scep[/<label>]` into
//! calls here. A client's pkiMessage is read ([`message`]), its signature checked and its
//! envelope opened with the RA key ([`cms`], [`envelope`], [`crate::ca::ra`]); the request
//! goes through the one issuance pipeline with an enrolment credential (the challenge), a
//! renewal or a pending approval, exactly as EST's; and the answer is a signed CertRep.

pub mod client;
pub mod cms;
pub mod der;
pub mod envelope;
#[cfg(test)]
mod flow_tests;
pub mod message;
mod replay;
pub mod validation;

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::ca::csr::Csr;
use crate::ca::issuance::{self, IssueRequest, Issued, Key, NameRule, Outcome, Spend};
use crate::ca::profile::SanName;
use crate::ca::ra::Ra;
use crate::ca::Ca;
use crate::clock::SharedClock;
use crate::config::{Config, ScepPath, SubjectPolicy};
use crate::error::{Error, Result};
use crate::ids::{Label, ProfileName, Serial};
use crate::registry::approvals::{self, ApprovalRequest, Decision};
use crate::registry::credentials;
use crate::secrets::Secrets;
use crate::status::StatusService;
use crate::store::{CredentialRecord, ScepTransactionRecord, Store};
use cms::{refuse, Refused};
use envelope::{Cipher, Recipient};
use message::{MessageType, Status};

/// RFC 8894 §3.2.1.4 failInfo, in the RFC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailInfo {
    /// 0: unrecognised or unsupported algorithm.
    BadAlg = 0,
    /// 1: integrity check (signature or digest) failed.
    BadMessageCheck = 1,
    /// 2: transaction not permitted or supported.
    BadRequest = 2,
    /// 3: signingTime too far from the server's time.
    BadTime = 3,
    /// 4: no certificate could be identified matching the criteria.
    BadCertId = 4,
}

/// Prefix of SCEP challenge credentials: an EST credential is not a SCEP challenge.
pub use crate::registry::credentials::SCEP_PREFIX as CHALLENGE_PREFIX;

/// The SCEP service: shared by every request.
pub struct Scep {
    /// The issuing CA.
    ca: Arc<Ca>,
    /// The RA key(s) that open requests and sign replies.
    ra: Arc<Ra>,
    /// Certificates, credentials, approvals, pending transactions.
    store: Arc<dyn Store>,
    /// Paths, profiles, limits.
    cfg: Arc<Config>,
    /// Hash key of challenge secrets.
    secrets: Arc<Secrets>,
    /// The CRL for GetCRL.
    status: Arc<StatusService>,
    /// Backoff after failed challenges, shared with EST's failed logins.
    throttle: Arc<crate::est::throttle::Throttle>,
    /// Seen senderNonces.
    replay: replay::Nonces,
    /// The challenge validator of each path that does not use registry challenges.
    validators: std::collections::BTreeMap<Option<Label>, validation::Validator>,
    /// Time of every rule.
    clock: SharedClock,
}

/// The policy a path selects.
struct PathPolicy {
    label: Option<Label>,
    path: ScepPath,
}

/// What the server answers a GetCACert with.
pub struct CaCerts {
    /// `application/x-x509-ca-ra-cert` (a degenerate PKCS#7 with the RA and CA
    /// certificates) or `application/x-x509-ca-cert` (the CA certificate, DER).
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Scep {
    /// Builds the service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ca: Arc<Ca>,
        ra: Arc<Ra>,
        store: Arc<dyn Store>,
        cfg: Arc<Config>,
        secrets: Arc<Secrets>,
        status: Arc<StatusService>,
        throttle: Arc<crate::est::throttle::Throttle>,
        clock: SharedClock,
    ) -> std::result::Result<Self, crate::config::ConfigError> {
        let mut validators = std::collections::BTreeMap::new();
        let paths = std::iter::once((None, cfg.scep.default_path())).chain(
            cfg.scep
                .labels
                .iter()
                .map(|(l, p)| (Some(l.clone()), p.clone())),
        );
        for (label, path) in paths {
            if let Some(v) = validation::Validator::from_config(&path.validation, clock.clone())? {
                validators.insert(label, v);
            }
        }
        Ok(Scep {
            ca,
            ra,
            store,
            cfg,
            secrets,
            status,
            throttle,
            replay: replay::Nonces::default(),
            validators,
            clock,
        })
    }

    /// Largest pkiMessage accepted, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.cfg.scep.max_message_bytes
    }

    fn policy(&self, label: Option<&Label>) -> Result<PathPolicy> {
        if !self.cfg.scep.enabled {
            return Err(Error::NotFound("SCEP is not enabled".into()));
        }
        match label {
            None => Ok(PathPolicy {
                label: None,
                path: self.cfg.scep.default_path(),
            }),
            Some(l) => {
                let path = self
                    .cfg
                    .scep
                    .labels
                    .get(l)
                    .ok_or_else(|| Error::NotFound("unknown SCEP label".into()))?
                    .clone();
                Ok(PathPolicy {
                    label: Some(l.clone()),
                    path,
                })
            }
        }
    }

    /// RFC 8894 §3.5.2 GetCACaps: one capability per line.
    pub fn caps(&self, label: Option<&Label>) -> Result<String> {
        let p = self.policy(label)?;
        let mut caps = vec![
            "AES",
            "POSTPKIOperation",
            "Renewal",
            "SCEPStandard",
            "SHA-256",
            "SHA-512",
        ];
        if p.path.legacy {
            caps.extend(["DES3", "SHA-1"]);
        }
        Ok(caps.join("\n") + "\n")
    }

    /// RFC 8894 §4.2 GetCACert: the RA certificate and the CA chain, degenerate PKCS#7; or
    /// the CA certificate alone when the CA is its own RA.
    pub fn ca_certs(&self, label: Option<&Label>) -> Result<CaCerts> {
        self.policy(label)?;
        if self.cfg.scep.ca_as_ra {
            return Ok(CaCerts {
                content_type: "application/x-x509-ca-cert",
                body: self.ca.issuing_der().to_vec(),
            });
        }
        let mut certs: Vec<&[u8]> = vec![&self.ra.current.cert_der];
        certs.extend(self.ca.chain().iter().map(Vec::as_slice));
        Ok(CaCerts {
            content_type: "application/x-x509-ca-ra-cert",
            body: cms::degenerate(&certs, &[]),
        })
    }

    /// RFC 8894 §4.3 PKIOperation: answers a CertRep (DER). A message that cannot be
    /// answered (unreadable, no transactionID or senderNonce) is [`Error::Malformed`].
    pub async fn pki_operation(
        &self,
        label: Option<&Label>,
        body: &[u8],
        peer: Option<std::net::IpAddr>,
    ) -> Result<Vec<u8>> {
        let policy = self.policy(label)?;
        if body.len() > self.cfg.scep.max_message_bytes {
            return Err(Error::TooLarge(format!(
                "SCEP messages may be at most {} bytes",
                self.cfg.scep.max_message_bytes
            )));
        }
        let req = message::read_request(body)?;
        let status = match self.handle(&policy, &req, peer).await {
            Ok(s) => s,
            Err(Handled::Refused(r)) => {
                tracing::info!(transaction = %req.transaction_id, fail_info = ?r.info, reason = %r.text, "SCEP request refused");
                Status::Failure(r.info, r.text)
            }
            Err(Handled::Internal(e)) => return Err(e),
        };
        let signer = cms::Signer {
            cert_der: &self.ra.current.cert_der,
            key: &self.ra.current.signing,
        };
        message::cert_rep(&req.transaction_id, &req.sender_nonce, &status, &signer)
    }

    async fn handle(
        &self,
        policy: &PathPolicy,
        req: &message::Request<'_>,
        peer: Option<std::net::IpAddr>,
    ) -> std::result::Result<Status, Handled> {
        let legacy = policy.path.legacy;
        let mt = req
            .message_type
            .clone()
            .map_err(|t| refuse(FailInfo::BadRequest, format!("unknown messageType {t:?}")))?;
        let signer_der = req.signed.verify(legacy)?;
        let now = self.clock.now();
        if let Some(t) = req.signing_time {
            if (t - now).abs() > self.cfg.scep.max_clock_skew_secs {
                return Err(refuse(
                    FailInfo::BadTime,
                    "signingTime is too far from the server's time",
                )
                .into());
            }
        }
        if !self.replay.first_use(&req.sender_nonce, now)
            && !self.resends_pending_request(mt, req, signer_der)?
        {
            return Err(refuse(
                FailInfo::BadRequest,
                "this senderNonce was used before (replay)",
            )
            .into());
        }
        let content =
            req.signed.content.as_deref().ok_or_else(|| {
                refuse(FailInfo::BadRequest, "the message has no pkcsPKIEnvelope")
            })?;
        let recipients: Vec<Recipient<'_>> = self
            .ra
            .keys()
            .map(|k| Recipient {
                cert_der: &k.cert_der,
                key: &k.decrypting,
            })
            .collect();
        let opened = envelope::open(content, &recipients, legacy)?;
        let signer = Requester {
            der: signer_der,
            cipher: opened.cipher,
        };
        match mt {
            MessageType::PkcsReq => {
                let csr = parse_csr(&opened.content, legacy)?;
                self.enrol(policy, req, &signer, csr, peer).await
            }
            MessageType::RenewalReq => {
                let csr = parse_csr(&opened.content, legacy)?;
                self.renew(&signer, csr).await
            }
            MessageType::CertPoll => self.poll(policy, req, &signer).await,
            MessageType::GetCert => self.get_cert(&opened.content, &signer),
            MessageType::GetCrl => self.get_crl(&signer).await,
            MessageType::CertRep => {
                Err(refuse(FailInfo::BadRequest, "a CertRep is the server's message").into())
            }
        }
    }

    /// Whether a message whose senderNonce was seen before is a PKCSReq sent again, byte for
    /// byte, for a request that was answered PENDING: micromdm's scepclient polls that way
    /// instead of with CertPoll. It goes through every check again, and the answer is sealed
    /// to the key that made the request, so it gets nothing a CertPoll would not.
    fn resends_pending_request(
        &self,
        mt: MessageType,
        req: &message::Request<'_>,
        signer_der: &[u8],
    ) -> std::result::Result<bool, Handled> {
        if mt != MessageType::PkcsReq {
            return Ok(false);
        }
        let key = transaction_key(&req.transaction_id, signer_der);
        let pending = self
            .store
            .get_scep_transaction(&key)
            .map_err(Handled::Internal)?;
        Ok(pending.is_some())
    }

    /// PKCSReq: the CSR's challengePassword is a one-time challenge from the registry.
    async fn enrol(
        &self,
        policy: &PathPolicy,
        req: &message::Request<'_>,
        signer: &Requester<'_>,
        csr: Csr,
        peer: Option<std::net::IpAddr>,
    ) -> std::result::Result<Status, Handled> {
        let challenge = csr.challenge_password.clone().ok_or_else(|| {
            refuse(
                FailInfo::BadRequest,
                "the request carries no challengePassword",
            )
        })?;
        if let Some(v) = self.validators.get(&policy.label) {
            return self
                .enrol_validated(v, policy, req, signer, &csr, &challenge, peer)
                .await;
        }
        let cred = self
            .authenticate(&challenge, peer)
            .map_err(Handled::from_error)?;
        if cred.label != policy.label {
            return Err(refuse(
                FailInfo::BadRequest,
                "this challenge is not valid on this SCEP path",
            )
            .into());
        }
        let profile_name = cred
            .profile
            .clone()
            .unwrap_or_else(|| policy.path.profile.clone());
        let txn = ScepTransactionRecord {
            version: 1,
            key: transaction_key(&req.transaction_id, signer.der),
            label: policy.label.clone(),
            credential: Some(cred.id.clone()),
            renews: None,
            csr: Base64::encode_string(&csr.der),
            created_at: self.clock.now(),
        };
        self.issue_with_credential(policy, &profile_name, cred, &csr, signer, &txn)
            .await
    }

    /// PKCSReq on a path whose challenges a webhook or Intune decides: the validator's allow
    /// may name a registry subject (its names go into the certificate); without one, the
    /// validator vouched for the CSR, and its CN and SANs are the certificate's.
    #[allow(clippy::too_many_arguments)]
    async fn enrol_validated(
        &self,
        v: &validation::Validator,
        policy: &PathPolicy,
        req: &message::Request<'_>,
        signer: &Requester<'_>,
        csr: &Csr,
        challenge: &str,
        peer: Option<std::net::IpAddr>,
    ) -> std::result::Result<Status, Handled> {
        let profile_name = policy.path.profile.clone();
        let label_text = policy.label.as_ref().map(|l| l.to_string());
        let vreq = validation::ValidationRequest {
            transaction_id: &req.transaction_id,
            csr_der: &csr.der,
            challenge,
            profile: &profile_name.0,
            label: label_text.as_deref(),
        };
        // Failed challenges back off per (path, address), like EST's failed logins.
        let user = format!("scep:{}", label_text.as_deref().unwrap_or(""));
        let ip = peer.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let now = self.clock.now();
        self.throttle
            .check(&user, ip, now)
            .map_err(Handled::from_error)?;
        let subject = match v.validate(&vreq).await.map_err(Handled::Internal)? {
            validation::Verdict::Allow { subject } => {
                self.throttle.succeeded(&user, ip);
                subject
            }
            validation::Verdict::Deny { reason } => {
                self.throttle.failed(&user, ip, now);
                return Err(refuse(
                    FailInfo::BadRequest,
                    format!("the challenge was refused: {reason}"),
                )
                .into());
            }
        };
        let (common_name, sans, subject_id, rule) = match subject {
            Some(id) => {
                let id = crate::ids::SubjectId::parse(&id).map_err(Handled::from_error)?;
                let s = self
                    .store
                    .get_subject(&id)
                    .map_err(Handled::Internal)?
                    .ok_or_else(|| {
                        refuse(
                            FailInfo::BadRequest,
                            "the validator named an unknown subject",
                        )
                    })?;
                let (cn, sans) = crate::registry::pickup::subject_names(&s);
                (cn, sans, Some(id), NameRule::Registry)
            }
            None => {
                let cn = csr.common_name.clone().unwrap_or_default();
                (cn, csr.sans.clone(), None, NameRule::Decided)
            }
        };
        let profile = self.cfg.profile(&profile_name).map_err(Handled::Internal)?;
        let result = async {
            let plan = issuance::plan(
                &*self.store,
                IssueRequest {
                    key: Key::Csr(csr),
                    common_name: &common_name,
                    sans: &sans,
                    rule,
                    profile_name: &profile_name,
                    profile,
                    not_before: None,
                    not_after: None,
                    subject_id,
                    spend: Spend::Nothing,
                    channel: "scep",
                    label: policy.label.clone(),
                    credential: None,
                    replaces: None,
                    account: None,
                    actor: format!("scep:validator:{}", label_text.as_deref().unwrap_or("")),
                    now: self.clock.now(),
                },
            )
            .map_err(Handled::from_error)?;
            issuance::commit(&self.ca, &*self.store, &plan)
                .await
                .map_err(Handled::Internal)
        }
        .await;
        match result {
            Ok(Outcome::Issued(issued)) => {
                let (_, cert) = X509Certificate::from_der(&issued.der)
                    .map_err(|e| Handled::Internal(Error::internal(e)))?;
                let info = validation::IssuedInfo {
                    serial_hex: &issued.serial.to_hex(),
                    der: &issued.der,
                    not_after: cert.validity().not_after.timestamp(),
                    issuer: self.ca.issuer_name(),
                };
                v.notify_success(&vreq, &info).await;
                self.outcome(Outcome::Issued(issued), signer, "").await
            }
            Ok(other) => {
                v.notify_failure(&vreq, HRESULT_FAIL, "the certificate was not issued")
                    .await;
                self.outcome(other, signer, "the request lost a race").await
            }
            Err(e) => {
                let text = match &e {
                    Handled::Refused(r) => r.text.clone(),
                    Handled::Internal(_) => "internal error".to_owned(),
                };
                v.notify_failure(&vreq, HRESULT_FAIL, &text).await;
                Err(e)
            }
        }
    }

    /// Issues for a challenge credential (PKCSReq, or CertPoll of a pending PKCSReq).
    async fn issue_with_credential(
        &self,
        policy: &PathPolicy,
        profile_name: &ProfileName,
        cred: CredentialRecord,
        csr: &Csr,
        signer: &Requester<'_>,
        txn: &ScepTransactionRecord,
    ) -> std::result::Result<Status, Handled> {
        let profile = self.cfg.profile(profile_name).map_err(Handled::Internal)?;
        let fingerprint = csr.fingerprint();
        // An identical retry (same challenge, same CSR) gets the same certificate back.
        if let Some(u) = cred.uses.iter().find(|u| u.csr_fingerprint == fingerprint) {
            return self.deliver_serial(&u.serial, signer).await;
        }
        if cred.uses_left == 0 {
            return Err(refuse(FailInfo::BadRequest, "this challenge was used already").into());
        }
        if policy.path.subject == SubjectPolicy::Match {
            let matches = csr
                .common_name
                .as_deref()
                .is_some_and(|cn| cn.eq_ignore_ascii_case(&cred.common_name));
            if !matches {
                return Err(refuse(
                    FailInfo::BadRequest,
                    format!(
                        "the request's subject CN must be {:?} on this path",
                        cred.common_name
                    ),
                )
                .into());
            }
        }
        let sans = cred
            .sans
            .iter()
            .map(|s| SanName::parse(s))
            .collect::<Result<Vec<_>>>()
            .map_err(Handled::Internal)?;
        let plan = issuance::plan(
            &*self.store,
            IssueRequest {
                key: Key::Csr(csr),
                common_name: &cred.common_name,
                sans: &sans,
                rule: NameRule::Registry,
                profile_name,
                profile,
                not_before: None,
                not_after: None,
                subject_id: cred.subject_id.clone(),
                spend: Spend::Credential {
                    id: cred.id.clone(),
                    csr_fingerprint: fingerprint.clone(),
                },
                channel: "scep",
                label: policy.label.clone(),
                credential: Some(cred.id.clone()),
                replaces: None,
                account: None,
                actor: format!("scep:{}", cred.id),
                now: self.clock.now(),
            },
        )
        .map_err(Handled::from_error)?;
        if policy.path.require_approval || profile.require_approval {
            let gate = approvals::gate(
                &*self.store,
                ApprovalRequest {
                    credential: &cred.id,
                    csr_fingerprint: &fingerprint,
                    common_name: &plan.common_name,
                    sans: &plan.sans,
                    key: plan.key_type(),
                    profile: profile_name,
                    subject_id: cred.subject_id.clone(),
                },
                self.clock.now(),
            )
            .await
            .map_err(Handled::Internal)?;
            match gate {
                Decision::Approved => {}
                Decision::Rejected => {
                    return Err(refuse(FailInfo::BadRequest, "the request was rejected").into())
                }
                Decision::Pending { .. } => {
                    self.store
                        .put_scep_transaction(txn)
                        .map_err(Handled::Internal)?;
                    self.store
                        .durable()
                        .durable()
                        .await
                        .map_err(Handled::Internal)?;
                    return Ok(Status::Pending);
                }
            }
        }
        let outcome = issuance::commit(&self.ca, &*self.store, &plan)
            .await
            .map_err(Handled::Internal)?;
        self.outcome(outcome, signer, "this challenge was used already")
            .await
    }

    /// RenewalReq: signed with a current certificate of this CA; the new certificate keeps
    /// its names and profile (the one renewal it allows, as EST's).
    async fn renew(
        &self,
        signer: &Requester<'_>,
        csr: Csr,
    ) -> std::result::Result<Status, Handled> {
        let current = self.current_certificate(signer.der)?;
        let fingerprint = csr.fingerprint();
        if let Some(u) = &current.renewed_by {
            if u.csr_fingerprint == fingerprint {
                return self.deliver_serial(&u.serial, signer).await;
            }
            return Err(refuse(
                FailInfo::BadRequest,
                "this certificate was renewed already; renew with its successor",
            )
            .into());
        }
        let profile = self.cfg.profile(&current.profile).map_err(|_| {
            refuse(
                FailInfo::BadRequest,
                "the certificate's profile no longer exists",
            )
        })?;
        let sans = current
            .sans
            .iter()
            .map(|s| SanName::parse(s))
            .collect::<Result<Vec<_>>>()
            .map_err(Handled::Internal)?;
        let plan = issuance::plan(
            &*self.store,
            IssueRequest {
                key: Key::Csr(&csr),
                common_name: &current.subject,
                sans: &sans,
                rule: NameRule::Registry,
                profile_name: &current.profile,
                profile,
                not_before: None,
                not_after: None,
                subject_id: current.subject_id.clone(),
                spend: Spend::Renewal {
                    old: current.serial.clone(),
                    csr_fingerprint: fingerprint,
                },
                channel: "scep-renewal",
                label: current.label.clone(),
                credential: None,
                replaces: Some(current.serial.clone()),
                account: None,
                actor: format!("scep:certificate:{}", current.serial),
                now: self.clock.now(),
            },
        )
        .map_err(Handled::from_error)?;
        let outcome = issuance::commit(&self.ca, &*self.store, &plan)
            .await
            .map_err(Handled::Internal)?;
        self.outcome(
            outcome,
            signer,
            "this certificate was renewed already or revoked",
        )
        .await
    }

    /// The certificate record of a RenewalReq's signer: issued here, good and unexpired.
    fn current_certificate(
        &self,
        der: &[u8],
    ) -> std::result::Result<crate::store::CertificateRecord, Handled> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| {
            refuse(
                FailInfo::BadCertId,
                "the signer's certificate does not parse",
            )
        })?;
        let not_ours = || {
            Handled::from(refuse(
                FailInfo::BadCertId,
                "a renewal must be signed with a current certificate of this CA",
            ))
        };
        let (_, ca) = X509Certificate::from_der(self.ca.issuing_der())
            .map_err(|_| Handled::Internal(Error::Internal("issuing CA does not parse".into())))?;
        if cert.verify_signature(Some(ca.public_key())).is_err() {
            return Err(not_ours());
        }
        let serial = Serial::from_bytes(cert.raw_serial()).map_err(|_| not_ours())?;
        let rec = self
            .store
            .get_certificate(&serial)
            .map_err(Handled::Internal)?
            .filter(|r| r.der == der)
            .ok_or_else(not_ours)?;
        let now = self.clock.now();
        if !matches!(rec.status, crate::store::CertStatus::Good) || rec.not_after <= now {
            return Err(refuse(
                FailInfo::BadCertId,
                "the signing certificate is revoked, on hold or expired",
            )
            .into());
        }
        Ok(rec)
    }

    /// CertPoll: the pending request of this transaction, from the same key.
    async fn poll(
        &self,
        policy: &PathPolicy,
        req: &message::Request<'_>,
        signer: &Requester<'_>,
    ) -> std::result::Result<Status, Handled> {
        let key = transaction_key(&req.transaction_id, signer.der);
        let txn = self
            .store
            .get_scep_transaction(&key)
            .map_err(Handled::Internal)?
            .ok_or_else(|| {
                refuse(
                    FailInfo::BadCertId,
                    "no pending request with this transactionID",
                )
            })?;
        if txn.label != policy.label {
            return Err(refuse(
                FailInfo::BadRequest,
                "the request was made on another SCEP path",
            )
            .into());
        }
        let csr_der = Base64::decode_vec(&txn.csr)
            .map_err(|_| Handled::Internal(Error::Internal("stored SCEP request".into())))?;
        let csr = parse_csr(&csr_der, policy.path.legacy)?;
        let cred_id = txn
            .credential
            .clone()
            .ok_or_else(|| refuse(FailInfo::BadRequest, "nothing to poll for"))?;
        let cred = self
            .store
            .get_credential(&cred_id)
            .map_err(Handled::Internal)?
            .filter(|c| !c.disabled)
            .ok_or_else(|| refuse(FailInfo::BadRequest, "the challenge was withdrawn"))?;
        let profile_name = cred
            .profile
            .clone()
            .unwrap_or_else(|| policy.path.profile.clone());
        self.issue_with_credential(policy, &profile_name, cred, &csr, signer, &txn)
            .await
    }

    /// GetCert: a certificate of this CA by issuer and serial, to the holder of its key only
    /// (the message must be signed with that key): certificates name people and devices.
    fn get_cert(
        &self,
        content: &[u8],
        signer: &Requester<'_>,
    ) -> std::result::Result<Status, Handled> {
        let serial = issuer_and_serial(content, self.ca.issuing_der())?;
        let unknown = || {
            refuse(
                FailInfo::BadCertId,
                "no certificate of this key with this serial",
            )
        };
        let rec = self
            .store
            .get_certificate(&serial)
            .map_err(Handled::Internal)?
            .ok_or_else(unknown)?;
        let key_of = |der: &[u8]| {
            X509Certificate::from_der(der)
                .ok()
                .map(|(_, c)| c.public_key().raw.to_vec())
        };
        match (key_of(&rec.der), key_of(signer.der)) {
            (Some(a), Some(b)) if a == b => self.deliver(&[&rec.der], &[], signer),
            _ => Err(unknown().into()),
        }
    }

    /// GetCRL: the issuing CA's current CRL.
    async fn get_crl(&self, signer: &Requester<'_>) -> std::result::Result<Status, Handled> {
        let status = self.status.clone();
        let crl = tokio::task::spawn_blocking(move || status.issuing_crl())
            .await
            .map_err(|e| Handled::Internal(Error::internal(e)))?
            .map_err(Handled::Internal)?;
        self.deliver(&[], &[&crl.der], signer)
    }

    async fn outcome(
        &self,
        outcome: Outcome,
        signer: &Requester<'_>,
        lost_race: &str,
    ) -> std::result::Result<Status, Handled> {
        match outcome {
            Outcome::Issued(Issued { serial, der }) => {
                tracing::info!(%serial, channel = "scep", "certificate issued");
                self.deliver(&[&der], &[], signer)
            }
            Outcome::SameAsBefore(s) => self.deliver_serial(&s, signer).await,
            Outcome::SubjectInactive => Err(refuse(
                FailInfo::BadRequest,
                "the subject of this enrolment is suspended or off-boarded",
            )
            .into()),
            Outcome::LostRace => Err(refuse(FailInfo::BadRequest, lost_race).into()),
        }
    }

    async fn deliver_serial(
        &self,
        serial: &Serial,
        signer: &Requester<'_>,
    ) -> std::result::Result<Status, Handled> {
        // The first request may still be flushing.
        self.store
            .durable()
            .durable()
            .await
            .map_err(Handled::Internal)?;
        let rec = self
            .store
            .get_certificate(serial)
            .map_err(Handled::Internal)?
            .ok_or_else(|| {
                Handled::Internal(Error::Internal(format!("missing certificate {serial}")))
            })?;
        self.deliver(&[&rec.der], &[], signer)
    }

    /// A SUCCESS whose degenerate SignedData is sealed to the requester.
    fn deliver(
        &self,
        certs: &[&[u8]],
        crls: &[&[u8]],
        signer: &Requester<'_>,
    ) -> std::result::Result<Status, Handled> {
        let inner = cms::degenerate(certs, crls);
        let sealed =
            envelope::seal(&inner, signer.der, signer.cipher).map_err(Handled::Internal)?;
        Ok(Status::Success(sealed))
    }

    /// The challenge's credential: `scep-<id>.<secret>`; failures count toward the
    /// per-(credential, address) backoff shared with EST.
    fn authenticate(
        &self,
        challenge: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<CredentialRecord> {
        let fail = || Error::Unauthenticated("invalid or expired challenge".into());
        let (id, secret) = challenge.trim().split_once('.').ok_or_else(fail)?;
        if !id.starts_with(CHALLENGE_PREFIX) {
            return Err(fail());
        }
        let ip = peer.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let now = self.clock.now();
        self.throttle.check(id, ip, now)?;
        match credentials::authenticate(&*self.store, &self.secrets, id, secret, now) {
            Ok(c) => {
                self.throttle.succeeded(id, ip);
                Ok(c)
            }
            Err(_) => {
                self.throttle.failed(id, ip, now);
                Err(fail())
            }
        }
    }
}

/// E_FAIL, the HRESULT Intune's failureNotification gets for a refusal after validation.
const HRESULT_FAIL: i64 = 0x8000_4005;

/// The requester: its signing certificate (the reply is sealed to it) and its cipher.
struct Requester<'a> {
    der: &'a [u8],
    cipher: Cipher,
}

/// Why a request got no SUCCESS or PENDING: a FAILURE to sign, or a server fault (500).
enum Handled {
    Refused(Refused),
    Internal(Error),
}

impl From<Refused> for Handled {
    fn from(r: Refused) -> Self {
        Handled::Refused(r)
    }
}

impl Handled {
    /// A domain error as a FAILURE with its public message; a server fault stays one.
    fn from_error(e: Error) -> Handled {
        match e {
            Error::Internal(_) => Handled::Internal(e),
            other => Handled::Refused(refuse(FailInfo::BadRequest, other.public_message())),
        }
    }
}

fn parse_csr(der: &[u8], legacy: bool) -> std::result::Result<Csr, Handled> {
    let parsed = if legacy {
        Csr::parse_legacy(der)
    } else {
        Csr::parse(der)
    };
    parsed.map_err(Handled::from_error)
}

/// The key of a transaction: its id and the requester's public key, so that only the key
/// that made a request can poll for it.
fn transaction_key(transaction_id: &str, signer_der: &[u8]) -> String {
    let spki = X509Certificate::from_der(signer_der)
        .map(|(_, c)| c.public_key().raw.to_vec())
        .unwrap_or_default();
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(&(transaction_id.len() as u64).to_be_bytes());
    h.update(transaction_id.as_bytes());
    h.update(&spki);
    hex::encode(h.finish())
}

/// RFC 8894 §3.3.4 IssuerAndSerialNumber naming a certificate of `issuing_der`.
fn issuer_and_serial(content: &[u8], issuing_der: &[u8]) -> std::result::Result<Serial, Handled> {
    let bad = || {
        refuse(
            FailInfo::BadRequest,
            "GetCert needs an IssuerAndSerialNumber",
        )
    };
    let t = der::read_all(content).map_err(|_| bad())?;
    let parts = t.children().map_err(|_| bad())?;
    let [issuer, serial] = parts.as_slice() else {
        return Err(bad().into());
    };
    let (_, ca) = X509Certificate::from_der(issuing_der)
        .map_err(|_| Handled::Internal(Error::Internal("issuing CA does not parse".into())))?;
    if issuer.raw != ca.subject().as_raw() || serial.tag != der::tag::INTEGER {
        return Err(refuse(FailInfo::BadCertId, "not a certificate of this CA").into());
    }
    Serial::from_bytes(serial.content)
        .map_err(|_| refuse(FailInfo::BadCertId, "not a certificate of this CA").into())
}
