//! Authorizations and their challenges: the authorization view, deactivation, and the task
//! that validates a challenge (RFC 8555 §7.5).

use serde::Deserialize;

use super::jws::Jwk;
use super::views::stored_problem;
use super::{Acme, Request, Response};
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::AuthzId;
use crate::states::{AuthzStatus, ChallengeStatus};
use crate::store::{AccountRecord, AuthzRecord};

impl Acme {
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
}
