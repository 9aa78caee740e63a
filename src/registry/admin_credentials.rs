//! Credentials made outside the registry's subjects, through the admin API: EST credentials
//! (`/api/v1/est/credentials`), EAB keys (`/api/v1/acme/eab`) and ARI renewal windows
//! (`/api/v1/acme/renewal-window`). Each change is made, then audited with its actor, like
//! every registry change.

use serde_json::json;

use super::credentials::{self, IssuedEstCredential, NewEstCredential};
use super::service::Registry;
use crate::acme::eab::{IssuedEabKey, NewEabKey};
use crate::acme::views::rfc3339;
use crate::error::{Error, Result};
use crate::ids::{CredentialId, Serial};

impl Registry {
    /// `POST /api/v1/est/credentials`: audited as `credential.est` on the credential's
    /// username.
    pub fn create_est_credential(
        &self,
        actor: &str,
        req: NewEstCredential,
    ) -> Result<IssuedEstCredential> {
        let cn = req.common_name.trim().to_owned();
        let sans = req.sans.join(",");
        let issued = credentials::create(
            &*self.store,
            &self.secrets,
            &self.cfg,
            req,
            self.clock.now(),
        )?;
        let detail = json!({
            "label": issued.label,
            "common_name": cn,
            "sans": sans,
            "expires_at": rfc3339(issued.expires_at),
        });
        self.audit(
            actor,
            "credential.est",
            &issued.username,
            "ok",
            &detail.to_string(),
        )?;
        Ok(issued)
    }

    /// `DELETE /api/v1/est/credentials/{id}`: disables an EST credential for good
    /// (idempotent). It authenticates no enrolment afterwards, and certificates that came from
    /// it renew no more through EST re-enrolment. Audited as `credential.withdraw` when it
    /// changed something.
    pub fn withdraw_est_credential(&self, actor: &str, id: &str) -> Result<()> {
        let id =
            CredentialId::parse(id).map_err(|_| Error::NotFound("no such credential".into()))?;
        if self.store.disable_credential(&id)? {
            self.audit(actor, "credential.withdraw", id.as_str(), "ok", "est")
        } else {
            Ok(())
        }
    }

    /// `POST /api/v1/acme/eab`: audited as `eab.create` on the key id, with its profile and
    /// allow-list (never the MAC key).
    pub fn create_eab_key(&self, actor: &str, req: NewEabKey) -> Result<IssuedEabKey> {
        let allowed: Vec<String> = req
            .allowed_identifiers
            .iter()
            .map(|a| format!("{}:{}", a.kind, a.value))
            .collect();
        let issued = self.eab_keys().create(req, self.clock.now())?;
        let detail = json!({"profile": issued.profile, "allowed_identifiers": allowed});
        self.audit(actor, "eab.create", &issued.kid, "ok", &detail.to_string())?;
        Ok(issued)
    }

    /// `DELETE /api/v1/acme/eab/{kid}`: audited as `eab.withdraw`.
    pub fn withdraw_eab_key(&self, actor: &str, kid: &str) -> Result<()> {
        self.eab_keys().withdraw(kid)?;
        self.audit(actor, "eab.withdraw", kid, "ok", "")
    }

    /// `POST /api/v1/acme/renewal-window`: one `certificate.renewal_window` entry per
    /// certificate moved, naming the new window.
    pub fn set_renewal_window(
        &self,
        actor: &str,
        serials: &[String],
        start: i64,
        end: i64,
    ) -> Result<usize> {
        let n = crate::acme::certificate::set_renewal_window(&*self.store, serials, start, end)?;
        let detail = format!("{} to {}", rfc3339(start), rfc3339(end));
        for s in serials {
            let serial = Serial::parse_hex(s)?;
            if let Err(e) = self.store.append_audit(
                actor,
                "certificate.renewal_window",
                &serial.to_hex(),
                "ok",
                &detail,
                self.clock.now(),
            ) {
                tracing::error!(error = %e, "audit append failed");
            }
        }
        self.store.flush()?;
        Ok(n)
    }
}
