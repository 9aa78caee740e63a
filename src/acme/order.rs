//! Orders: newOrder, the order view, finalize and the check that a CSR names exactly the
//! order's identifiers (RFC 8555 §7.4).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::certificate::jwk_matches_spki;
use super::jws::Jwk;
use super::policy::{self, Authorisation};
use super::views::stored_problem;
use super::{Acme, Request, Response};
use crate::ca::csr::Csr;
use crate::ca::issuance::{self, IssueRequest, Key, NameRule, Outcome, Spend};
use crate::ca::profile::SanName;
use crate::error::{AcmeError, AcmeProblem, Error, Result};
use crate::ids::{AuthzId, OrderId, ProfileName};
use crate::secrets::random_token;
use crate::states::{AuthzStatus, ChallengeStatus, OrderStatus};
use crate::store::{AccountRecord, AuthzRecord, ChallengeRecord, Identifier, OrderRecord};

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
        let plan = issuance::plan(
            &*self.store,
            IssueRequest {
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
            },
        )
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
}
