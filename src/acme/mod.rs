//! ACME (RFC 8555) for client certificates, as operations on typed values.
//!
//! `src/http/acme.rs` turns HTTP into [`Request`]s and [`Response`]s; nothing here imports axum.
//! Every request passes [`Acme::authenticate`] (content type → JWS parse → signature → nonce →
//! URL) before a handler sees it.

pub mod account;
pub mod authz;
pub mod certificate;
pub mod challenge;
pub mod eab;
#[cfg(test)]
mod flow_tests;
pub mod jws;
pub mod nonce;
pub mod order;
pub mod policy;
pub mod ratelimit;
pub mod views;

use crate::clock::SharedClock;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::ca::Ca;
use crate::config::Config;
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::AccountId;
use crate::secrets::Secrets;
use crate::states::AccountStatus;
use crate::store::{AccountRecord, AcmeStore, Store};
use jws::{Jwk, Jws};

/// An ACME request as the HTTP layer hands it over.
#[derive(Debug)]
pub struct Request<'a> {
    /// Path of the request (`/acme/new-order`); the JWS `url` must be the base URL + this.
    pub path: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The Content-Type header, if any.
    pub content_type: Option<&'a str>,
    /// The client's address, for rate limits.
    pub peer: IpAddr,
}

/// What a request came to, with the headers it carries; the HTTP layer chooses the status and
/// content type (and adds `Replay-Nonce` and the index `Link`).
#[derive(Debug)]
pub struct Response {
    /// What happened.
    pub reply: Reply,
    /// `Location`: the resource the request created, changed or ran into.
    pub location: Option<String>,
    /// Extra `Link` headers: (url, rel).
    pub links: Vec<(String, String)>,
    /// `Retry-After` seconds (an order still processing, renewal information).
    pub retry_after: Option<u64>,
}

/// What an ACME request came to when it was not simply refused.
#[derive(Debug)]
pub enum Reply {
    /// The resource as it is now (a JSON object).
    Resource(Value),
    /// RFC 8555 §7.3, §7.4: a resource this request created (an account, an order).
    Created(Value),
    /// RFC 8555 §7.4.2: the certificate chain, PEM.
    Certificate(String),
    /// Done; nothing to show (revocation, §7.6).
    Done,
    /// Refused, but with headers of its own: RFC 8555 §7.3.5, a keyChange to a key another
    /// account holds names that account in `Location`.
    Refused(Error),
}

impl Response {
    fn new(reply: Reply) -> Response {
        Response {
            reply,
            location: None,
            links: Vec::new(),
            retry_after: None,
        }
    }

    fn json(v: Value) -> Response {
        Response::new(Reply::Resource(v))
    }

    fn created(v: Value) -> Response {
        Response::new(Reply::Created(v))
    }

    fn with_location(mut self, url: String) -> Response {
        self.location = Some(url);
        self
    }
}

/// Who signed a request.
pub enum Signer {
    /// An existing account (`kid`).
    Account(AccountRecord),
    /// A bare key (`jwk`): newAccount, revokeCert by certificate key.
    Key(Jwk),
}

/// The ACME service.
pub struct Acme {
    /// The issuing CA.
    pub ca: Arc<Ca>,
    /// Certificates.
    pub store: Arc<dyn Store>,
    /// Accounts, orders, authorizations, EAB keys.
    pub acme_store: Arc<dyn AcmeStore>,
    /// Configuration.
    pub cfg: Arc<Config>,
    /// Sealing of EAB keys.
    pub secrets: Arc<Secrets>,
    /// Anti-replay nonces.
    pub nonces: nonce::Nonces,
    /// Rate limits.
    pub limits: ratelimit::RateLimiter,
    /// Challenge validator.
    pub validator: Arc<challenge::Validator>,
    /// Public base URL (no trailing slash).
    pub base: String,
    /// Nonce, order, authorization and EAB key times.
    pub clock: SharedClock,
}

fn malformed(m: impl Into<String>) -> Error {
    Error::acme(AcmeProblem::Malformed, m)
}

impl Acme {
    /// Builds the service.
    pub fn new(
        ca: Arc<Ca>,
        store: Arc<dyn Store>,
        acme_store: Arc<dyn AcmeStore>,
        cfg: Arc<Config>,
        secrets: Arc<Secrets>,
        clock: SharedClock,
    ) -> Result<Self> {
        let base = cfg.base_url();
        let nonces = nonce::Nonces::new(&secrets.derive("acme-nonce-v1"))?;
        let limits = ratelimit::RateLimiter::from_env();
        let validator = Arc::new(challenge::Validator::new(cfg.acme.validation.clone()));
        Ok(Acme {
            ca,
            store,
            acme_store,
            cfg,
            secrets,
            nonces,
            limits,
            validator,
            base,
            clock,
        })
    }

    /// A URL under the base.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL of an account.
    pub fn account_url(&self, id: &AccountId) -> String {
        self.url(&format!("/acme/account/{id}"))
    }

    /// A fresh nonce for a `Replay-Nonce` header.
    pub fn new_nonce(&self) -> String {
        self.nonces.issue(self.clock.now() as u64)
    }

    /// RFC 8555 §7.1.1 directory, with ARI (RFC 9773) and profiles (draft-ietf-acme-profiles).
    pub fn directory(&self) -> Value {
        let mut profiles = serde_json::Map::new();
        for p in &self.cfg.acme.profiles {
            let desc = match p.0.as_str() {
                "device" => "Device certificate: TLS client authentication, DNS names".to_owned(),
                "person" => {
                    "Person certificate: TLS client authentication and S/MIME, email addresses"
                        .to_owned()
                }
                other => format!("Certificate profile {other}"),
            };
            profiles.insert(p.0.clone(), Value::String(desc));
        }
        let mut meta = json!({
            "externalAccountRequired": self.cfg.acme.external_account_required,
            "profiles": profiles,
        });
        if let Some(tos) = &self.cfg.acme.terms_of_service {
            meta["termsOfService"] = json!(tos);
        }
        json!({
            "newNonce": self.url("/acme/new-nonce"),
            "newAccount": self.url("/acme/new-account"),
            "newOrder": self.url("/acme/new-order"),
            "revokeCert": self.url("/acme/revoke-cert"),
            "keyChange": self.url("/acme/key-change"),
            "renewalInfo": self.url("/acme/renewal-info"),
            "meta": meta,
        })
    }

    /// RFC 8555 §6.2–6.5: parses and verifies a request's JWS. `expect_jwk` selects newAccount
    /// style (`jwk`) or account style (`kid`); `None` accepts either (revokeCert).
    pub fn authenticate(
        &self,
        req: &Request<'_>,
        expect_jwk: Option<bool>,
    ) -> Result<(Jws, Signer)> {
        let ct = req.content_type.unwrap_or("");
        if !ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/jose+json")
        {
            return Err(Error::UnsupportedMediaType(
                "Content-Type must be application/jose+json (RFC 8555 §6.2)".into(),
            ));
        }
        let jws = Jws::parse(req.body)?;
        let p = &jws.protected;
        let signer = match (&p.jwk, &p.kid) {
            (Some(_), Some(_)) => return Err(malformed("JWS must carry jwk or kid, not both")),
            (None, None) => return Err(malformed("JWS must carry jwk or kid")),
            (Some(jwk), None) => {
                if expect_jwk == Some(false) {
                    return Err(malformed(
                        "this request must be signed with the account's kid",
                    ));
                }
                jws.verify(jwk)?;
                Signer::Key(jwk.clone())
            }
            (None, Some(kid)) => {
                if expect_jwk == Some(true) {
                    return Err(malformed("this request must carry the account key as jwk"));
                }
                let id = kid
                    .strip_prefix(&self.url("/acme/account/"))
                    .and_then(|s| AccountId::parse(s).ok())
                    .ok_or_else(|| {
                        Error::acme(
                            AcmeProblem::AccountDoesNotExist,
                            "kid is not an account URL of this server",
                        )
                    })?;
                let acct = self.acme_store.get_account(&id)?.ok_or_else(|| {
                    Error::acme(AcmeProblem::AccountDoesNotExist, "no such account")
                })?;
                let key = Jwk::from_json(&acct.jwk)?;
                jws.verify(&key)?;
                Signer::Account(acct)
            }
        };
        let nonce = p
            .nonce
            .as_deref()
            .ok_or_else(|| Error::acme(AcmeProblem::BadNonce, "JWS lacks a nonce"))?;
        self.nonces.redeem(nonce, self.clock.now() as u64)?;
        if p.url != self.url(req.path) {
            return Err(Error::acme(
                AcmeProblem::Unauthorized,
                "JWS url does not match the request URL",
            ));
        }
        Ok((jws, signer))
    }

    /// Like [`Acme::authenticate`] with `kid`, and the account must be valid and its EAB key
    /// still good (an expired or withdrawn key deactivates the account).
    pub fn authenticate_account(&self, req: &Request<'_>) -> Result<(Jws, AccountRecord)> {
        let (jws, signer) = self.authenticate(req, Some(false))?;
        let Signer::Account(acct) = signer else {
            return Err(malformed("kid required"));
        };
        let acct = self.check_account(acct)?;
        Ok((jws, acct))
    }

    fn check_account(&self, acct: AccountRecord) -> Result<AccountRecord> {
        if acct.status != AccountStatus::Valid {
            // RFC 8555 §7.3.6: requests from a deactivated account are refused.
            return Err(Error::AccountDeactivated(format!(
                "account is {}",
                acct.status
            )));
        }
        if let Some(kid) = &acct.eab_kid {
            let key = self.acme_store.get_eab_key(kid)?;
            let usable = key
                .as_ref()
                .is_some_and(|k| !k.withdrawn && k.expires_at.is_none_or(|e| e > self.clock.now()));
            if !usable {
                let mut deactivated = acct.clone();
                deactivated.status = AccountStatus::Deactivated;
                if self.acme_store.update_account(&acct, &deactivated)? {
                    self.audit(
                        "system",
                        "account.deactivate",
                        acct.id.as_str(),
                        &format!("EAB key {kid} withdrawn or expired"),
                    );
                }
                return Err(Error::acme(
                    AcmeProblem::Unauthorized,
                    "the account's external account binding key expired or was withdrawn; account deactivated",
                ));
            }
        }
        Ok(acct)
    }

    /// Appends an audit entry for a change already made; a failure to append is logged, not
    /// fatal to the change. The caller flushes both.
    pub(crate) fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) {
        if let Err(e) =
            self.store
                .append_audit(actor, action, target, "ok", detail, self.clock.now())
        {
            tracing::error!(error = %e, action, "audit append failed");
        }
    }

    /// Durability before a client hears of a certificate.
    async fn flush(&self) -> Result<()> {
        self.store.durable().durable().await
    }
}
