//! Admin API operations on typed values (the HTTP side is `src/http/admin.rs`).

use std::sync::Arc;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ca::pem_encode;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::Serial;
use crate::registry::tokens::{self, Scope};
use crate::revocation::RevocationReason;
use crate::secrets::Secrets;
use crate::states::CertState;
use crate::store::{AdminTokenRecord, CertStatus, CertificateRecord, Store};

/// The admin service.
pub struct Admin {
    /// Records.
    pub store: Arc<dyn Store>,
    /// Hash key for tokens and credentials.
    pub secrets: Arc<Secrets>,
    /// The configuration.
    pub cfg: Arc<Config>,
    /// Token expiry and revocation times.
    pub clock: crate::clock::SharedClock,
}

/// The JSON view of a certificate record.
#[derive(Debug, Serialize)]
pub struct CertificateView {
    /// Serial, lower-case hex.
    pub serial: String,
    /// `good` or `revoked`.
    pub status: CertState,
    /// The registered person or device, if any.
    pub subject_id: Option<String>,
    /// Revocation time (RFC 3339), if revoked.
    pub revoked_at: Option<String>,
    /// RFC 5280 reason name, if revoked.
    pub revocation_reason: Option<RevocationReason>,
    /// Subject commonName.
    pub subject: String,
    /// Issuing CA subject.
    pub issuer: String,
    /// SANs as `kind:value`.
    pub sans: Vec<String>,
    /// Profile name.
    pub profile: String,
    /// Validity start (RFC 3339).
    pub not_before: String,
    /// Validity end (RFC 3339).
    pub not_after: String,
    /// Requesting channel.
    pub channel: String,
    /// EST label, if any.
    pub label: Option<String>,
    /// Credential that authorised it, if any.
    pub credential: Option<String>,
    /// Serial of the certificate it renews, if any.
    pub replaces: Option<String>,
    /// Issuance time (RFC 3339).
    pub issued_at: String,
    /// The certificate, PEM.
    pub pem: String,
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<CertificateRecord> for CertificateView {
    fn from(r: CertificateRecord) -> Self {
        let (revoked_at, revocation_reason) = match &r.status {
            CertStatus::Good => (None, None),
            CertStatus::Revoked {
                revoked_at, reason, ..
            } => (Some(rfc3339(*revoked_at)), Some(*reason)),
        };
        CertificateView {
            serial: r.serial.to_hex(),
            status: r.status.state(),
            subject_id: r.subject_id.as_ref().map(|s| s.to_string()),
            revoked_at,
            revocation_reason,
            subject: r.subject,
            issuer: r.issuer,
            sans: r.sans,
            profile: r.profile.0,
            not_before: rfc3339(r.not_before),
            not_after: rfc3339(r.not_after),
            channel: r.channel,
            label: r.label.map(|l| l.to_string()),
            credential: r.credential.map(|c| c.to_string()),
            replaces: r.replaces.map(|s| s.to_hex()),
            issued_at: rfc3339(r.issued_at),
            pem: pem_encode("CERTIFICATE", &r.der),
        }
    }
}

impl Admin {
    /// Checks a bearer token for `scope`.
    pub fn authorize(&self, bearer: Option<&str>, scope: Scope) -> Result<AdminTokenRecord> {
        let token = bearer.ok_or_else(|| Error::Unauthenticated("bearer token required".into()))?;
        tokens::authorize(&*self.store, &self.secrets, token, scope, self.clock.now())
    }

    /// Revokes a certificate with an RFC 5280 §5.3.1 reason (idempotent) and answers its
    /// record.
    pub fn revoke(&self, actor: &str, serial_hex: &str, reason: &str) -> Result<CertificateView> {
        let Some(reason) = RevocationReason::admin(reason) else {
            let allowed: Vec<&str> = RevocationReason::ADMIN.iter().map(|r| r.as_str()).collect();
            return Err(Error::Malformed(format!(
                "reason must be one of {}",
                allowed.join(", ")
            )));
        };
        let serial = Serial::parse_hex(serial_hex)?;
        if self
            .store
            .revoke_certificate(&serial, self.clock.now(), reason)?
        {
            let _ = self.store.append_audit(
                actor,
                "certificate.revoke",
                &serial.to_hex(),
                "ok",
                reason.as_str(),
                self.clock.now(),
            );
            self.store.flush()?;
            tracing::info!(serial = %serial, reason = reason.as_str(), "certificate revoked by an administrator");
        }
        self.certificate(serial_hex)
    }

    /// `GET /api/v1/certificates/<serial>`.
    pub fn certificate(&self, serial_hex: &str) -> Result<CertificateView> {
        let serial = Serial::parse_hex(serial_hex)?;
        self.store
            .get_certificate(&serial)?
            .map(CertificateView::from)
            .ok_or_else(|| Error::NotFound(format!("no certificate with serial {serial}")))
    }
}
