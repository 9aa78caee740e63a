//! Orders, authorizations, challenges, finalize, certificates, revocation and ARI
//! (RFC 8555 §7.4–7.6, RFC 9773).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::jws::Jwk;
use super::policy::{self, Authorisation};
use super::views::stored_problem;
use super::{Acme, Reply, Request, Response, Signer};
use crate::ca::csr::Csr;
use crate::ca::issuance::{self, IssueRequest, Key, NameRule, Outcome, Spend};
use crate::ca::pem_encode;
use crate::ca::profile::SanName;
use crate::error::{AcmeError, AcmeProblem, Error, Result};
use crate::ids::{AuthzId, OrderId, ProfileName, Serial};
use crate::revocation::RevocationReason;
use crate::secrets::random_token;
use crate::states::{AuthzStatus, ChallengeStatus, OrderStatus};
use crate::store::{
    AccountRecord, AuthzRecord, CertStatus, ChallengeRecord, Identifier, OrderRecord,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrderPayload {
    identifiers: Vec<Identifier>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    replaces: Option<String>,
}

fn parse_time(s: &str) -> Result<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            Error::acme(
                AcmeProblem::Malformed,
                format!("{s:?} is not an RFC 3339 time"),
            )
        })
}

/// A reason code an ACME client may give ([`RevocationReason::ACME`], RFC 8555 §7.6).
fn acme_reason(code: u8) -> Result<RevocationReason> {
    RevocationReason::acme(code).ok_or_else(|| {
        Error::acme(
            AcmeProblem::BadRevocationReason,
            format!("revocation reason {code} is not allowed over ACME"),
        )
    })
}

impl Acme {
    /// An order's view; `created` for newOrder (RFC 8555 §7.4: 201).
    fn order_response(&self, created: bool, o: &OrderRecord) -> Response {
        let view = self.order_json(o);
        let r = if created {
            Response::created(view)
        } else {
            Response::json(view)
        };
        let mut r = r.with_location(self.url(&format!("/acme/order/{}", o.id)));
        if o.status == OrderStatus::Processing {
            r.retry_after = Some(1);
        }
        r
    }

    /// `POST /acme/new-order` (§7.4).
    pub async fn new_order(&self, req: &Request<'_>) -> Result<Response> {
        let (jws, acct) = self.authenticate_account(req)?;
        self.limits.check(
            &format!("orders:{}", acct.id),
            self.cfg.acme.rate_limits.orders_per_account_per_minute,
            60,
            self.clock.now(),
        )?;
        let p: NewOrderPayload = jws.payload_json()?;
        if p.identifiers.is_empty() || p.identifiers.len() > 100 {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "an order names 1 to 100 identifiers",
            ));
        }
        let eab = match &acct.eab_kid {
            Some(kid) => self.acme_store.get_eab_key(kid)?,
            None => None,
        };
        let profile = match (&p.profile, &eab) {
            (Some(req_p), Some(e)) if req_p != &e.profile.0 => {
                return Err(Error::acme(
                    AcmeProblem::InvalidProfile,
                    format!("this account may only order profile {}", e.profile),
                ))
            }
            (Some(req_p), _) => ProfileName(req_p.clone()),
            (None, Some(e)) => e.profile.clone(),
            (None, None) => self.cfg.acme.default_profile.clone(),
        };
        if !self.cfg.acme.profiles.contains(&profile) {
            return Err(Error::acme(
                AcmeProblem::InvalidProfile,
                format!("profile {profile:?} is not offered"),
            ));
        }
        let prof = self.cfg.profile(&profile)?;

        let mut idents = Vec::new();
        let mut decisions = Vec::new();
        let mut subproblems = Vec::new();
        for raw in &p.identifiers {
            let decided = policy::normalise(raw).and_then(|id| {
                let san_kind = match id.kind.as_str() {
                    policy::DNS => Some("dns"),
                    policy::EMAIL => Some("email"),
                    _ => None,
                };
                if let Some(k) = san_kind {
                    if !prof.san_types.iter().any(|t| t == k) {
                        return Err(Error::acme(
                            AcmeProblem::RejectedIdentifier,
                            format!("profile {profile} does not issue {} identifiers", id.kind),
                        ));
                    }
                }
                let d = policy::decide(&self.cfg, eab.as_ref(), &id)?;
                Ok((id, d))
            });
            match decided {
                Ok((id, d)) => {
                    if !idents.contains(&id) {
                        idents.push(id);
                        decisions.push(d);
                    }
                }
                Err(Error::Acme(a)) => subproblems.push((
                    a.kind,
                    raw.kind.clone(),
                    raw.value.clone(),
                    a.detail.clone(),
                )),
                Err(e) => return Err(e),
            }
        }
        if !subproblems.is_empty() {
            let kind = if subproblems
                .iter()
                .all(|s| s.0 == AcmeProblem::UnsupportedIdentifier)
            {
                AcmeProblem::UnsupportedIdentifier
            } else if subproblems.iter().all(|s| s.0 == AcmeProblem::Malformed) {
                AcmeProblem::Malformed
            } else {
                AcmeProblem::RejectedIdentifier
            };
            return Err(Error::Acme(Box::new(AcmeError {
                kind,
                detail: "the order names identifiers this account may not have".into(),
                subproblems,
            })));
        }
        if idents
            .iter()
            .filter(|i| i.kind == policy::PERMANENT_ID)
            .count()
            > 1
        {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "an order may name at most one permanent-identifier",
            ));
        }
        let t = self.clock.now();
        let not_before = p.not_before.as_deref().map(parse_time).transpose()?;
        let not_after = p.not_after.as_deref().map(parse_time).transpose()?;
        let start = not_before.unwrap_or(t);
        if let Some(na) = not_after {
            let max = i64::from(prof.validity_days) * 86400;
            if na <= start || na - start > max || na < t {
                return Err(Error::acme(
                    AcmeProblem::Malformed,
                    format!(
                        "notAfter must be after notBefore and within {} days",
                        prof.validity_days
                    ),
                ));
            }
        }
        if not_before.is_some_and(|nb| nb < t - 3600) {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "notBefore may be at most one hour in the past",
            ));
        }
        if not_before.is_some_and(|nb| nb > t + 30 * 86400) {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "notBefore is too far in the future",
            ));
        }
        let replaces = match &p.replaces {
            Some(cert_id) => Some(self.check_replaces(&acct, cert_id, &idents)?),
            None => None,
        };
        let expires = t + self.cfg.acme.order_lifetime_secs as i64;
        let mut authzs = Vec::new();
        for (id, d) in idents.iter().zip(&decisions) {
            let challenges = match d {
                Authorisation::Preauthorised => Vec::new(),
                Authorisation::NeedsChallenge => {
                    let token = random_token(16)?;
                    ["http-01", "dns-01", "tls-alpn-01"]
                        .iter()
                        .map(|k| ChallengeRecord {
                            kind: (*k).into(),
                            token: token.clone(),
                            status: ChallengeStatus::Pending,
                            validated: None,
                            error: None,
                        })
                        .collect()
                }
            };
            authzs.push(AuthzRecord {
                version: 1,
                id: AuthzId::random()?,
                account: acct.id.clone(),
                identifier: id.clone(),
                status: if *d == Authorisation::Preauthorised {
                    AuthzStatus::Valid
                } else {
                    AuthzStatus::Pending
                },
                expires,
                challenges,
            });
        }
        let all_valid = authzs.iter().all(|a| a.status == AuthzStatus::Valid);
        let order = OrderRecord {
            version: 1,
            id: OrderId::random()?,
            account: acct.id.clone(),
            status: if all_valid {
                OrderStatus::Ready
            } else {
                OrderStatus::Pending
            },
            expires,
            identifiers: idents,
            not_before,
            not_after,
            profile,
            authorizations: authzs.iter().map(|a| a.id.clone()).collect(),
            error: None,
            certificate: None,
            replaces,
            created_at: t,
            subject_id: acct.subject_id.clone(),
        };
        self.acme_store.create_order(&order, &authzs)?;
        self.flush().await?;
        Ok(self.order_response(true, &order))
    }

    /// RFC 9773 §5: `replaces` names a certificate of this account.
    fn check_replaces(
        &self,
        acct: &AccountRecord,
        cert_id: &str,
        idents: &[Identifier],
    ) -> Result<Serial> {
        let serial = self.parse_cert_id(cert_id)?;
        let rec = self.store.get_certificate(&serial)?.ok_or_else(|| {
            Error::acme(
                AcmeProblem::Malformed,
                "replaces names an unknown certificate",
            )
        })?;
        if rec.account.as_ref() != Some(&acct.id) {
            return Err(Error::acme(
                AcmeProblem::Unauthorized,
                "replaces names another account's certificate",
            ));
        }
        let overlap = idents.iter().any(|i| {
            rec.sans
                .iter()
                .any(|s| s.split_once(':').is_some_and(|(_, v)| v == i.value))
                || rec.subject == i.value
        });
        if !overlap {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "replaces names a certificate for other identifiers",
            ));
        }
        Ok(serial)
    }

    /// RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial).
    fn parse_cert_id(&self, cert_id: &str) -> Result<Serial> {
        let bad = || {
            Error::acme(
                AcmeProblem::Malformed,
                "malformed ARI certificate identifier",
            )
        };
        let (aki, serial) = cert_id.split_once('.').ok_or_else(bad)?;
        let aki = Base64UrlUnpadded::decode_vec(aki).map_err(|_| bad())?;
        let serial = Base64UrlUnpadded::decode_vec(serial).map_err(|_| bad())?;
        if aki != self.issuing_ski()? {
            return Err(Error::NotFound("certificate not issued by this CA".into()));
        }
        Serial::from_bytes(&serial).map_err(|_| bad())
    }

    /// The RFC 9773 certificate identifier of one of our certificates.
    pub fn cert_id(&self, serial: &Serial) -> Result<String> {
        let mut s = serial.as_bytes().to_vec();
        if s.first().is_some_and(|b| b & 0x80 != 0) {
            s.insert(0, 0);
        }
        Ok(format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(&self.issuing_ski()?),
            Base64UrlUnpadded::encode_string(&s)
        ))
    }

    fn issuing_ski(&self) -> Result<Vec<u8>> {
        let (_, c) = X509Certificate::from_der(self.ca.issuing_der()).map_err(Error::internal)?;
        for e in c.extensions() {
            if let x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) =
                e.parsed_extension()
            {
                return Ok(k.0.to_vec());
            }
        }
        Err(Error::Internal("issuing CA has no SKI".into()))
    }

    fn load_order(&self, acct: &AccountRecord, id: &str) -> Result<OrderRecord> {
        let id = OrderId::parse(id)?;
        let o = self
            .acme_store
            .get_order(&id)?
            .ok_or_else(|| Error::NotFound("no such order".into()))?;
        if o.account != acct.id {
            return Err(Error::acme(AcmeProblem::Unauthorized, "not your order"));
        }
        self.refresh_order(o)
    }

    /// Brings an order's status up to date with its authorizations and expiry.
    fn refresh_order(&self, mut o: OrderRecord) -> Result<OrderRecord> {
        let old = o.status;
        let open = matches!(o.status, OrderStatus::Pending | OrderStatus::Ready);
        if open && o.expires <= self.clock.now() {
            o.status = OrderStatus::Invalid;
            o.error = Some(stored_problem(AcmeProblem::Malformed, "order expired"));
        } else if open {
            // A ready order is re-checked too: an authorization deactivated after the order
            // became ready must stop finalization (RFC 8555 §7.5.2).
            o.status = OrderStatus::Pending;
            let mut all_valid = true;
            for a in &o.authorizations {
                let authz = self
                    .acme_store
                    .get_authz(a)?
                    .ok_or_else(|| Error::Internal("order names missing authz".into()))?;
                match authz.status {
                    AuthzStatus::Valid => {}
                    AuthzStatus::Pending => all_valid = false,
                    other @ (AuthzStatus::Invalid
                    | AuthzStatus::Deactivated
                    | AuthzStatus::Expired
                    | AuthzStatus::Revoked) => {
                        o.status = OrderStatus::Invalid;
                        o.error = Some(stored_problem(
                            AcmeProblem::Unauthorized,
                            &format!("authorization for {} is {other}", authz.identifier.value),
                        ));
                        all_valid = false;
                        break;
                    }
                }
            }
            if all_valid {
                o.status = OrderStatus::Ready;
            }
        }
        if o.status != old {
            self.acme_store.update_order(old, &o)?;
        }
        Ok(o)
    }

    /// `POST /acme/order/{id}` (POST-as-GET).
    pub fn order(&self, req: &Request<'_>, id: &str) -> Result<Response> {
        let (_, acct) = self.authenticate_account(req)?;
        let o = self.load_order(&acct, id)?;
        Ok(self.order_response(false, &o))
    }

    /// `POST /acme/order/{id}/finalize` (§7.4).
    pub async fn finalize(&self, req: &Request<'_>, id: &str) -> Result<Response> {
        let (jws, acct) = self.authenticate_account(req)?;
        let o = self.load_order(&acct, id)?;
        match o.status {
            OrderStatus::Ready => {}
            OrderStatus::Valid | OrderStatus::Processing => {
                return Ok(self.order_response(false, &o))
            }
            other @ (OrderStatus::Pending | OrderStatus::Invalid) => {
                return Err(Error::acme(
                    AcmeProblem::OrderNotReady,
                    format!("order is {other}; finalize needs a ready order"),
                ))
            }
        }
        #[derive(Deserialize)]
        struct Finalize {
            csr: String,
        }
        let f: Finalize = jws.payload_json()?;
        let der = Base64UrlUnpadded::decode_vec(f.csr.trim_end_matches('='))
            .map_err(|_| Error::acme(AcmeProblem::BadCsr, "csr is not base64url"))?;
        let csr = Csr::parse(&der)
            .map_err(|e| Error::acme(AcmeProblem::BadCsr, e.public_message().to_owned()))?;
        if jwk_matches_spki(&Jwk::from_json(&acct.jwk)?, &csr.spki_der) {
            return Err(Error::acme(
                AcmeProblem::BadCsr,
                "the certificate key must not be the account key (RFC 8555 §11.1)",
            ));
        }
        let (cn, sans) = self.names_for_order(&o, &csr)?;
        let prof = self.cfg.profile(&o.profile)?;
        let mut done = o.clone();
        done.status = OrderStatus::Valid;
        let plan = issuance::plan(IssueRequest {
            key: Key::Csr(&csr),
            common_name: &cn,
            sans: &sans,
            rule: NameRule::Decided,
            profile_name: &o.profile,
            profile: prof,
            not_before: o.not_before,
            not_after: o.not_after,
            subject_id: o.subject_id.clone(),
            spend: Spend::Order(Box::new(done.clone())),
            channel: "acme",
            label: None,
            credential: None,
            replaces: o.replaces.clone(),
            account: Some(acct.id.clone()),
            actor: format!("acme:{}", acct.id),
            now: self.clock.now(),
        })
        .map_err(|e| match e {
            Error::BadCsr(m) => Error::acme(AcmeProblem::BadCsr, m),
            other => other,
        })?;
        match issuance::commit(&self.ca, &*self.store, &plan).await? {
            Outcome::Issued(issued) => {
                tracing::info!(serial = %issued.serial, account = %acct.id, "certificate issued over ACME");
                done.certificate = Some(issued.serial);
                Ok(self.order_response(false, &done))
            }
            Outcome::LostRace | Outcome::SameAsBefore(_) => {
                // Another finalize of this order won the race: answer its result.
                let current = self.load_order(&acct, id)?;
                Ok(self.order_response(false, &current))
            }
            Outcome::SubjectInactive => Err(Error::acme(
                AcmeProblem::Unauthorized,
                "the certificate's subject is suspended or off-boarded",
            )),
        }
    }

    /// The CSR must name exactly the order's identifiers (RFC 8555 §7.4): DNS and email
    /// identifiers as SANs (the CN, if any, one of them); a permanent-identifier as the CN.
    fn names_for_order(&self, o: &OrderRecord, csr: &Csr) -> Result<(String, Vec<SanName>)> {
        let bad = |m: String| Error::acme(AcmeProblem::BadCsr, m);
        if !csr.other_subject_attrs.is_empty() {
            return Err(bad("CSR subject may only contain CN".into()));
        }
        let mut want_sans: Vec<SanName> = Vec::new();
        let mut perm = None;
        for i in &o.identifiers {
            match i.kind.as_str() {
                policy::DNS => want_sans.push(SanName::Dns(i.value.clone())),
                policy::EMAIL => want_sans.push(SanName::Email(i.value.clone())),
                _ => {
                    if perm.is_some() {
                        return Err(bad("an order may name one permanent-identifier".into()));
                    }
                    perm = Some(i.value.clone());
                }
            }
        }
        want_sans.sort();
        if csr.sans != want_sans {
            return Err(bad(format!(
                "CSR names [{}], the order [{}]",
                csr.sans
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                want_sans
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let cn = match (&perm, &csr.common_name) {
            (Some(p), Some(cn)) if cn == p => p.clone(),
            (Some(_), _) => {
                return Err(bad("the CSR's CN must be the permanent-identifier".into()))
            }
            // The CN names one of the order's identifiers, compared as its type compares
            // (policy::entry_allows); the certificate carries the identifier as authorised.
            (None, Some(cn)) => want_sans
                .iter()
                .find_map(|s| match s {
                    SanName::Dns(v) if v.eq_ignore_ascii_case(cn) => Some(v.clone()),
                    SanName::Email(v) if policy::same_email(v, cn) => Some(v.clone()),
                    _ => None,
                })
                .ok_or_else(|| {
                    bad(format!(
                        "CSR CN {cn:?} is not one of the order's identifiers"
                    ))
                })?,
            (None, None) => match want_sans.first() {
                Some(SanName::Dns(v) | SanName::Email(v)) => v.clone(),
                _ => String::new(),
            },
        };
        Ok((cn, want_sans))
    }

    /// `POST /acme/authz/{id}`: POST-as-GET, or deactivation (§7.5.2).
    pub async fn authz(&self, req: &Request<'_>, id: &str) -> Result<Response> {
        let (jws, acct) = self.authenticate_account(req)?;
        let mut a = self.load_authz(&acct, id)?;
        if !jws.is_post_as_get() {
            #[derive(Deserialize)]
            struct Deact {
                status: String,
            }
            let d: Deact = jws.payload_json()?;
            if AuthzStatus::from_name(&d.status) != Some(AuthzStatus::Deactivated) {
                return Err(Error::acme(
                    AcmeProblem::Malformed,
                    "authorizations may only be deactivated",
                ));
            }
            if matches!(a.status, AuthzStatus::Valid | AuthzStatus::Pending) {
                a.status = AuthzStatus::Deactivated;
                self.acme_store.put_authz(&a)?;
                self.flush().await?;
            }
        }
        Ok(Response::json(self.authz_json(&a)))
    }

    fn load_authz(&self, acct: &AccountRecord, id: &str) -> Result<AuthzRecord> {
        let id = AuthzId::parse(id)?;
        let mut a = self
            .acme_store
            .get_authz(&id)?
            .ok_or_else(|| Error::NotFound("no such authorization".into()))?;
        if a.account != acct.id {
            return Err(Error::acme(
                AcmeProblem::Unauthorized,
                "not your authorization",
            ));
        }
        if a.status == AuthzStatus::Pending && a.expires <= self.clock.now() {
            a.status = AuthzStatus::Expired;
            self.acme_store.put_authz(&a)?;
        }
        Ok(a)
    }

    /// `POST /acme/chall/{authz}/{index}`: `{}` starts validation (§7.5.1).
    pub fn challenge(&self, req: &Request<'_>, authz_id: &str, idx: &str) -> Result<Response> {
        let (jws, acct) = self.authenticate_account(req)?;
        let mut a = self.load_authz(&acct, authz_id)?;
        let i: usize = idx
            .parse()
            .map_err(|_| Error::NotFound("no such challenge".into()))?;
        if i >= a.challenges.len() {
            return Err(Error::NotFound("no such challenge".into()));
        }
        let up = (self.url(&format!("/acme/authz/{}", a.id)), "up".to_owned());
        // One validation at a time per authorization: a second challenge cannot race the first.
        let busy = a
            .challenges
            .iter()
            .any(|c| c.status == ChallengeStatus::Processing);
        if !jws.is_post_as_get()
            && a.status == AuthzStatus::Pending
            && a.challenges[i].status == ChallengeStatus::Pending
            && !busy
        {
            a.challenges[i].status = ChallengeStatus::Processing;
            self.acme_store.put_authz(&a)?;
            let key = Jwk::from_json(&acct.jwk)?;
            let key_authz = format!("{}.{}", a.challenges[i].token, key.thumbprint());
            let validator = self.validator.clone();
            let store = self.acme_store.clone();
            let main_store = self.store.clone();
            let clock = self.clock.clone();
            let (authz_id, identifier, kind) = (
                a.id.clone(),
                a.identifier.value.clone(),
                a.challenges[i].kind.clone(),
            );
            tokio::spawn(async move {
                let outcome = validator.validate(&kind, &identifier, &key_authz).await;
                let Ok(Some(mut fresh)) = store.get_authz(&authz_id) else {
                    return;
                };
                // Only the validation that is still running may decide the authorization
                // (it may have been deactivated or have expired meanwhile).
                if fresh.status != AuthzStatus::Pending
                    || fresh.challenges[i].status != ChallengeStatus::Processing
                {
                    return;
                }
                let c = &mut fresh.challenges[i];
                match outcome {
                    Ok(()) => {
                        c.status = ChallengeStatus::Valid;
                        c.validated = Some(clock.now());
                        fresh.status = AuthzStatus::Valid;
                    }
                    Err(e) => {
                        let (kind, detail) = match &e {
                            Error::Acme(a) => (a.kind, a.detail.clone()),
                            other => (AcmeProblem::Connection, other.public_message().to_owned()),
                        };
                        tracing::info!(identifier = %identifier, challenge = %c.kind, %detail, "validation failed");
                        c.status = ChallengeStatus::Invalid;
                        c.error = Some(stored_problem(kind, &detail));
                        fresh.status = AuthzStatus::Invalid;
                    }
                }
                if store.put_authz(&fresh).is_ok() {
                    let _ = main_store.durable().durable().await;
                }
            });
        }
        let mut r = Response::json(self.challenge_json(&a, i, &a.challenges[i]));
        r.links.push(up);
        Ok(r)
    }

    /// `POST /acme/cert/{serial}` (POST-as-GET): the PEM chain (§7.4.2).
    pub fn certificate(&self, req: &Request<'_>, serial: &str) -> Result<Response> {
        let (_, acct) = self.authenticate_account(req)?;
        let serial =
            Serial::parse_hex(serial).map_err(|_| Error::NotFound("no such certificate".into()))?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .filter(|r| r.account.as_ref() == Some(&acct.id))
            .ok_or_else(|| Error::NotFound("no such certificate".into()))?;
        let mut pem = pem_encode("CERTIFICATE", &rec.der);
        pem.push_str(&pem_encode("CERTIFICATE", self.ca.issuing_der()));
        Ok(Response::new(Reply::Certificate(pem)))
    }

    /// `POST /acme/revoke-cert` (§7.6): by the ordering account or by the certificate's key.
    pub async fn revoke(&self, req: &Request<'_>) -> Result<Response> {
        let (jws, signer) = self.authenticate(req, None)?;
        #[derive(Deserialize)]
        struct Revoke {
            certificate: String,
            #[serde(default)]
            reason: Option<u8>,
        }
        let r: Revoke = jws.payload_json()?;
        let der = Base64UrlUnpadded::decode_vec(r.certificate.trim_end_matches('='))
            .map_err(|_| Error::acme(AcmeProblem::Malformed, "certificate is not base64url"))?;
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|_| Error::acme(AcmeProblem::Malformed, "certificate does not parse"))?;
        let serial = Serial::from_bytes(cert.raw_serial())?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .filter(|rec| rec.der == der)
            .ok_or_else(|| Error::NotFound("certificate not issued by this server".into()))?;
        let reason = acme_reason(r.reason.unwrap_or(0))?;
        // The audit log's actor: the ordering account, or the certificate's own key.
        let actor = match signer {
            Signer::Account(acct) => {
                let acct = self.check_account(acct)?;
                if rec.account.as_ref() != Some(&acct.id) {
                    return Err(Error::acme(
                        AcmeProblem::Unauthorized,
                        "this account did not order the certificate",
                    ));
                }
                format!("acme:{}", acct.id)
            }
            Signer::Key(jwk) => {
                let spki_matches = jwk_matches_spki(&jwk, cert.public_key().raw);
                if !spki_matches {
                    return Err(Error::acme(
                        AcmeProblem::Unauthorized,
                        "the JWS key is not the certificate's key",
                    ));
                }
                format!("acme:key:{}", jwk.thumbprint())
            }
        };
        if !self
            .store
            .revoke_certificate(&serial, self.clock.now(), reason)?
        {
            return Err(Error::acme(
                AcmeProblem::AlreadyRevoked,
                "certificate is already revoked",
            ));
        }
        let _ = self.store.append_audit(
            &actor,
            "certificate.revoke",
            &serial.to_hex(),
            "ok",
            reason.as_str(),
            self.clock.now(),
        );
        self.flush().await?;
        tracing::info!(serial = %serial, reason = reason.as_str(), "certificate revoked over ACME");
        Ok(Response::new(Reply::Done))
    }

    /// `GET /acme/renewal-info/{certid}` (RFC 9773 §4.2).
    pub fn renewal_info(&self, cert_id: &str) -> Result<Response> {
        let serial = self.parse_cert_id(cert_id)?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .ok_or_else(|| Error::NotFound("no such certificate".into()))?;
        let (start, end) = match rec.renewal_window {
            Some(w) => w,
            None => {
                let life = rec.not_after - rec.not_before;
                (rec.not_after - life / 3, rec.not_after - life / 6)
            }
        };
        let (start, end) = if matches!(rec.status, CertStatus::Revoked { .. }) {
            let t = self.clock.now();
            (t - 3600, t)
        } else {
            (start, end)
        };
        let mut r = Response::json(
            json!({"suggestedWindow": {"start": super::views::rfc3339(start), "end": super::views::rfc3339(end)}}),
        );
        r.retry_after = Some(6 * 3600);
        Ok(r)
    }
}

/// Admin: moves the ARI window of `serials` to [start, end] so clients renew early.
pub fn set_renewal_window(
    store: &dyn crate::store::Store,
    serials: &[String],
    start: i64,
    end: i64,
) -> Result<usize> {
    if end <= start {
        return Err(Error::Malformed("end must be after start".into()));
    }
    // Every serial is checked before any is changed.
    let mut records = Vec::with_capacity(serials.len());
    for s in serials {
        let serial = Serial::parse_hex(s)?;
        records.push(
            store
                .get_certificate(&serial)?
                .ok_or_else(|| Error::NotFound(format!("no certificate with serial {serial}")))?,
        );
    }
    let mut n = 0;
    for old in records {
        let mut new = old.clone();
        new.renewal_window = Some((start, end));
        store.update_certificate(&old, &new)?;
        n += 1;
    }
    store.flush()?;
    Ok(n)
}

/// Whether a JWK is the key in a certificate's SubjectPublicKeyInfo.
fn jwk_matches_spki(jwk: &Jwk, spki_der: &[u8]) -> bool {
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der) else {
        return false;
    };
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    match jwk {
        Jwk::Ec { x, y, .. } => {
            let mut p = vec![4u8];
            p.extend_from_slice(x);
            p.extend_from_slice(y);
            key_bytes == p.as_slice()
        }
        Jwk::Ed25519 { x } => key_bytes == x.as_slice(),
        Jwk::Rsa { n, e } => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => {
                let strip = |b: &[u8]| {
                    b.iter()
                        .skip_while(|x| **x == 0)
                        .copied()
                        .collect::<Vec<u8>>()
                };
                strip(k.modulus) == *n && strip(k.exponent) == *e
            }
            _ => false,
        },
    }
}
