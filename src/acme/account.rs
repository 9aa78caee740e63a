//! Accounts: newAccount (§7.3), update and deactivation (§7.3.2, §7.3.6), key rollover
//! (§7.3.5) and the orders list (§7.1.2.1).

use serde::Deserialize;
use serde_json::{json, Value};

use super::jws::{Jwk, Jws};
use super::{Acme, Request, Response, Signer};
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::AccountId;
use crate::states::AccountStatus;
use crate::store::{AccountRecord, CreateAccount};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewAccountPayload {
    #[serde(default)]
    contact: Option<Vec<String>>,
    #[serde(default)]
    terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    only_return_existing: Option<bool>,
    #[serde(default)]
    external_account_binding: Option<Value>,
}

#[derive(Deserialize)]
struct UpdatePayload {
    #[serde(default)]
    contact: Option<Vec<String>>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "termsOfServiceAgreed")]
    _tos: Option<bool>,
}

fn check_contacts(c: &[String]) -> Result<Vec<String>> {
    if c.len() > 10 {
        return Err(Error::acme(AcmeProblem::Malformed, "at most 10 contacts"));
    }
    for u in c {
        let ok = u.strip_prefix("mailto:").is_some_and(|a| {
            a.contains('@')
                && !a.contains(',')
                && a.len() < 254
                && !a.chars().any(char::is_whitespace)
        });
        if !ok {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                format!("contact {u:?} must be a single mailto: address"),
            ));
        }
    }
    Ok(c.to_vec())
}

impl Acme {
    /// `POST /acme/new-account`.
    pub async fn new_account(&self, req: &Request<'_>) -> Result<Response> {
        let (jws, signer) = self.authenticate(req, Some(true))?;
        let Signer::Key(key) = signer else {
            return Err(Error::acme(AcmeProblem::Malformed, "jwk required"));
        };
        let p: NewAccountPayload = jws.payload_json()?;
        if let Some(id) = self
            .acme_store
            .get_account_by_thumbprint(&key.thumbprint())?
        {
            let acct = self
                .acme_store
                .get_account(&id)?
                .ok_or_else(|| Error::Internal("account index points nowhere".into()))?;
            return Ok(
                Response::json(self.account_json(&acct)).with_location(self.account_url(&id))
            );
        }
        if p.only_return_existing == Some(true) {
            return Err(Error::acme(
                AcmeProblem::AccountDoesNotExist,
                "no account for this key",
            ));
        }
        self.limits.check(
            &format!("new-account:{}", req.peer),
            self.cfg.acme.rate_limits.new_accounts_per_ip_per_minute,
            60,
            self.clock.now(),
        )?;
        if self.cfg.acme.terms_of_service.is_some() && p.terms_of_service_agreed != Some(true) {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "the terms of service must be agreed to (termsOfServiceAgreed)",
            ));
        }
        let contact = check_contacts(p.contact.as_deref().unwrap_or(&[]))?;
        let eab = match &p.external_account_binding {
            Some(eab) => Some(self.verify_eab(eab, &key, &self.url(req.path))?),
            None if self.cfg.acme.external_account_required => return Err(Error::acme(
                AcmeProblem::ExternalAccountRequired,
                "an external account binding is required; ask your administrator for an EAB key",
            )),
            None => None,
        };
        let acct = AccountRecord {
            version: 1,
            id: AccountId::random()?,
            jwk: key.to_json(),
            thumbprint: key.thumbprint(),
            contact,
            status: AccountStatus::Valid,
            tos_agreed: p.terms_of_service_agreed.unwrap_or(false),
            subject_id: eab.as_ref().and_then(|e| e.subject_id.clone()),
            eab_kid: eab.map(|e| e.kid),
            created_at: self.clock.now(),
        };
        match self.acme_store.create_account(&acct)? {
            CreateAccount::Created => {
                let eab = acct.eab_kid.as_ref().map(|k| format!("eab {k}"));
                self.audit(
                    &format!("acme:{}", acct.id),
                    "account.create",
                    acct.id.as_str(),
                    eab.as_deref().unwrap_or(""),
                );
                self.flush().await?;
                tracing::info!(account = %acct.id, "ACME account created");
                Ok(Response::created(self.account_json(&acct))
                    .with_location(self.account_url(&acct.id)))
            }
            CreateAccount::KeyExists(id) => {
                let existing = self
                    .acme_store
                    .get_account(&id)?
                    .ok_or_else(|| Error::Internal("account index points nowhere".into()))?;
                Ok(Response::json(self.account_json(&existing))
                    .with_location(self.account_url(&id)))
            }
            CreateAccount::EabTaken => Err(Error::acme(
                AcmeProblem::Unauthorized,
                "external account binding key is already bound to an account",
            )),
        }
    }

    /// `POST /acme/account/{id}`: POST-as-GET, contact update or deactivation.
    pub async fn account(&self, req: &Request<'_>, id: &str) -> Result<Response> {
        let (jws, acct) = self.authenticate_account(req)?;
        if acct.id.as_str() != id {
            return Err(Error::acme(
                AcmeProblem::Unauthorized,
                "kid does not match the account URL",
            ));
        }
        let url = self.account_url(&acct.id);
        if jws.is_post_as_get() {
            return Ok(Response::json(self.account_json(&acct)).with_location(url));
        }
        let p: UpdatePayload = jws.payload_json()?;
        let mut new = acct.clone();
        if let Some(c) = p.contact {
            new.contact = check_contacts(&c)?;
        }
        match p.status.as_deref() {
            None => {}
            Some(s) if AccountStatus::from_name(s) == Some(AccountStatus::Deactivated) => {
                new.status = AccountStatus::Deactivated
            }
            Some(other) => {
                return Err(Error::acme(
                    AcmeProblem::Malformed,
                    format!("status may only be set to deactivated, not {other:?}"),
                ))
            }
        }
        if !self.acme_store.update_account(&acct, &new)? {
            return Err(Error::Conflict("account changed concurrently".into()));
        }
        if new.status != acct.status {
            self.audit(
                &format!("acme:{}", acct.id),
                "account.deactivate",
                acct.id.as_str(),
                "",
            );
        }
        self.flush().await?;
        Ok(Response::json(self.account_json(&new)).with_location(url))
    }

    /// `POST /acme/account/{id}/orders` (POST-as-GET).
    pub fn account_orders(&self, req: &Request<'_>, id: &str) -> Result<Response> {
        let (_, acct) = self.authenticate_account(req)?;
        if acct.id.as_str() != id {
            return Err(Error::acme(AcmeProblem::Unauthorized, "not your account"));
        }
        let orders: Vec<String> = self
            .acme_store
            .list_orders(&acct.id)?
            .iter()
            .map(|o| self.url(&format!("/acme/order/{o}")))
            .collect();
        Ok(Response::json(json!({ "orders": orders })))
    }

    /// `POST /acme/key-change` (RFC 8555 §7.3.5).
    pub async fn key_change(&self, req: &Request<'_>) -> Result<Response> {
        let (outer, acct) = self.authenticate_account(req)?;
        let inner_value: Value = outer.payload_json()?;
        let inner = Jws::from_value(&inner_value)?;
        let new_key = inner.protected.jwk.clone().ok_or_else(|| {
            Error::acme(
                AcmeProblem::Malformed,
                "inner JWS must carry the new key as jwk",
            )
        })?;
        if inner.protected.kid.is_some() || inner.protected.nonce.is_some() {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "inner JWS must not carry kid or nonce",
            ));
        }
        inner.verify(&new_key)?;
        if inner.protected.url != outer.protected.url {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "inner and outer url differ",
            ));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct KeyChange {
            account: String,
            old_key: Value,
        }
        let kc: KeyChange = inner.payload_json()?;
        if kc.account != self.account_url(&acct.id) {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "inner payload names another account",
            ));
        }
        let old_key = Jwk::from_json(&kc.old_key)?;
        if old_key != Jwk::from_json(&acct.jwk)? {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "oldKey is not the account's current key",
            ));
        }
        if let Some(other) = self
            .acme_store
            .get_account_by_thumbprint(&new_key.thumbprint())?
        {
            // RFC 8555 §7.3.5: a conflict that names the account holding the key.
            return Ok(Response::new(Reply::Refused(Error::Conflict(
                "the new key belongs to another account".into(),
            )))
            .with_location(self.account_url(&other)));
        }
        let mut new = acct.clone();
        new.jwk = new_key.to_json();
        new.thumbprint = new_key.thumbprint();
        if !self.acme_store.update_account(&acct, &new)? {
            return Err(Error::Conflict(
                "the new key belongs to another account".into(),
            ));
        }
        self.audit(
            &format!("acme:{}", acct.id),
            "account.key_change",
            acct.id.as_str(),
            &format!("key {}", new.thumbprint),
        );
        self.flush().await?;
        tracing::info!(account = %acct.id, "ACME account key changed");
        Ok(Response::json(self.account_json(&new)).with_location(self.account_url(&acct.id)))
    }
}

use super::Reply;
