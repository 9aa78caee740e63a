//! Webhook events: the JSON a receiver gets, built from an audit entry or an expiry warning,
//! and the HMAC-SHA256 signature over it.

use aws_lc_rs::hmac;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::revocation::RevocationReason;
use crate::states::CertState;
use crate::store::{AuditRecord, CertStatus, CertificateRecord};

/// The event type of an upcoming expiry (not an audit action: the notifier makes it up from
/// the certificate store).
pub const EXPIRING: &str = "certificate.expiring";

/// One webhook delivery's body. Field order is the order in the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Unique and stable across redeliveries, so a receiver can drop duplicates:
    /// `audit-<seq>` for an audit entry, `expiring-<serial>` for an expiry warning.
    pub id: String,
    /// The audit action (`certificate.issue`, `certificate.revoke`, `subject.offboarded`, …)
    /// or `certificate.expiring`; also sent as the `X-Enrolld-Event` header.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339, UTC); for an expiry warning, when it was noticed.
    pub time: String,
    /// Who did it, as the audit log names it (`token:<id>`, `est:<credential>`, `acme:<account>`,
    /// `pickup:<id>`, `system`).
    pub actor: String,
    /// On what: a serial (hex), a subject id, a token id, an approval id or `-`.
    pub target: String,
    /// `ok`, or what the audit log recorded instead (`pending` for an approval request).
    pub outcome: String,
    /// The audit entry's detail (the channel of an issuance, the reason of a revocation, …).
    pub detail: String,
    /// The certificate, when the target is one that is in the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSummary>,
}

/// What a receiver needs to know about the certificate an event is about, without the PEM.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// Serial, lower-case hex (as the admin API writes it).
    pub serial: String,
    /// Subject commonName.
    pub subject: String,
    /// The registered person or device, if the certificate has one.
    pub subject_id: Option<String>,
    /// SANs as `kind:value`.
    pub sans: Vec<String>,
    /// Certificate profile.
    pub profile: String,
    /// Channel it was issued through (`est-simpleenroll`, `acme`, `pickup`, …).
    pub channel: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// `good` or `revoked` at the time the event was built.
    pub status: CertState,
    /// RFC 5280 reason name, when revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
}

/// Unix seconds as RFC 3339 (empty if out of range, which the store never holds).
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<&CertificateRecord> for CertificateSummary {
    fn from(r: &CertificateRecord) -> Self {
        let revocation_reason = match &r.status {
            CertStatus::Good => None,
            CertStatus::Revoked { reason, .. } => Some(*reason),
        };
        CertificateSummary {
            serial: r.serial.to_hex(),
            subject: r.subject.clone(),
            subject_id: r.subject_id.as_ref().map(|s| s.to_string()),
            sans: r.sans.clone(),
            profile: r.profile.0.clone(),
            channel: r.channel.clone(),
            not_after: rfc3339(r.not_after),
            status: r.status.state(),
            revocation_reason,
        }
    }
}

impl Event {
    /// The event of an audit entry; `cert` is the certificate its target names, if any.
    pub fn from_audit(e: &AuditRecord, cert: Option<&CertificateRecord>) -> Event {
        Event {
            id: format!("audit-{}", e.seq),
            kind: e.action.clone(),
            time: rfc3339(e.time),
            actor: e.actor.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
            certificate: cert.map(CertificateSummary::from),
        }
    }

    /// The warning that a good certificate expires within the configured window.
    pub fn expiring(cert: &CertificateRecord, now: i64) -> Event {
        let days = (cert.not_after - now).max(0) / 86400;
        Event {
            id: format!("expiring-{}", cert.serial.to_hex()),
            kind: EXPIRING.to_owned(),
            time: rfc3339(now),
            actor: "system".to_owned(),
            target: cert.serial.to_hex(),
            outcome: "ok".to_owned(),
            detail: format!("expires {} (in {days} days)", rfc3339(cert.not_after)),
            certificate: Some(CertificateSummary::from(cert)),
        }
    }
}

/// The `X-Enrolld-Signature` value of `body`: `sha256=` and the hex HMAC-SHA256 under `key`.
pub fn signature(key: &hmac::Key, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac::sign(key, body).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver recomputes the signature from the raw body and the shared secret.
    #[test]
    fn signature_is_hmac_sha256_hex_of_the_body() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"key");
        // RFC 4231-style check against a value computed independently
        // (`printf %s 'The quick brown fox jumps over the lazy dog' | openssl dgst -sha256 -hmac key`).
        assert_eq!(
            signature(&key, b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn audit_event_fields() {
        let e = AuditRecord {
            seq: 7,
            time: 0,
            actor: "token:abc".into(),
            action: "subject.offboarded".into(),
            target: "s1".into(),
            outcome: "ok".into(),
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let v = serde_json::to_value(Event::from_audit(&e, None)).unwrap();
        assert_eq!(v["id"], "audit-7");
        assert_eq!(v["type"], "subject.offboarded");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
        assert!(v.get("certificate").is_none());
    }
}
