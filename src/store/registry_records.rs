//! Storage records of the registry: people, devices and the audit log.

use serde::{Deserialize, Serialize};

use crate::ids::{SubjectId, WindowsSid};
use crate::states::{ApprovalStatus, SubjectStatus};

/// A person or a device (the subject certificates and credentials belong to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectRecord {
    /// Record layout version.
    pub version: u32,
    /// Internal id.
    pub id: SubjectId,
    /// `person` or `device`.
    pub kind: String,
    /// The HR or MDM system's id (unique; bulk imports are idempotent on it).
    pub external_id: String,
    /// Person: mail address (the rfc822Name or SmtpUTF8Mailbox SAN).
    #[serde(default)]
    pub email: Option<String>,
    /// Person: display name (pages, mail; the certificate CN of a profile without `smime`).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Person: department (bulk queries).
    #[serde(default)]
    pub department: Option<String>,
    /// Device: name (certificate CN).
    #[serde(default)]
    pub name: Option<String>,
    /// Device: hardware serial number (ACME permanent-identifier).
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Device: owner's external id.
    #[serde(default)]
    pub owner: Option<String>,
    /// Device: DNS names (dNSName SANs).
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Device: MDM id.
    #[serde(default)]
    pub mdm_id: Option<String>,
    /// The Active Directory account's SID, for Windows strong certificate mapping (KB5014754):
    /// profiles with `windows_sid` set put it into the certificates of this subject. Left out
    /// of the stored form when absent, so records without one keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_sid: Option<WindowsSid>,
    /// The language of mail to this subject (`en`, `ja`); the configured default if absent.
    /// Left out of the stored form when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Person: given name, verified by HR: the givenName of individual-validated S/MIME
    /// certificates (S/MIME BR §7.1.4.2.6). Left out of the stored form when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Person: family name: the surname of individual-validated S/MIME certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Person: a pseudonym, for an individual-validated S/MIME certificate of a person who
    /// has neither name on record (S/MIME BR §7.1.4.2.2 a).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym: Option<String>,
    /// `active`, `suspended` or `offboarded`.
    pub status: SubjectStatus,
    /// Bumped by every issuance and credential creation: off-boarding compares it inside its
    /// transaction so nothing issued meanwhile escapes revocation.
    pub generation: u64,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// Last change, unix seconds.
    pub updated_at: i64,
}

/// One audit log entry; `hash` chains it to the previous entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who: `token:<id>`, `est:<credential>`, `acme:<account>`, `system`.
    pub actor: String,
    /// What: `certificate.issue`, `certificate.revoke`, `subject.register`, …
    pub action: String,
    /// On what: a serial, a subject id, a token id.
    pub target: String,
    /// `ok` or the refusal.
    pub outcome: String,
    /// Free-form detail (never secrets).
    pub detail: String,
    /// Hash of the previous entry (hex), or 64 zeros for the first.
    pub prev_hash: String,
    /// SHA-256 over the entry's canonical serialisation and `prev_hash` (hex).
    pub hash: String,
}

/// A signed checkpoint of the audit log: (seq, entry hash, time) signed with the audit signing
/// key, which the store does not hold (`src/audit/`). The entry hash commits to every entry
/// before it, so a chain rebuilt from any earlier entry on no longer matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditCheckpointRecord {
    /// Record layout version.
    pub version: u32,
    /// The last entry covered.
    pub seq: u64,
    /// That entry's hash (hex).
    pub hash: String,
    /// When it was signed, unix seconds.
    pub time: i64,
    /// Which key signed it (`audit::key_id` of its public key), so a replaced key is named.
    pub key_id: String,
    /// Ed25519 signature over `audit::checkpoint_message` (standard base64).
    pub signature: String,
}

/// The hash of an audit entry: SHA-256 over its fields (length-prefixed) and the previous hash.
pub fn audit_hash(e: &AuditRecord) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [
        e.seq.to_string().as_str(),
        e.time.to_string().as_str(),
        &e.actor,
        &e.action,
        &e.target,
        &e.outcome,
        &e.detail,
        &e.prev_hash,
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    hex::encode(ctx.finish())
}

/// An enrolment waiting for an administrator (RFC 7030 §4.2.3: 202 + Retry-After until then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Record layout version.
    pub version: u32,
    /// Id (random).
    pub id: String,
    /// The credential that asked.
    pub credential: String,
    /// SHA-256 of the CSR: the retry that picks the certificate up must send the same CSR.
    pub csr_fingerprint: String,
    /// Names the certificate would get, for the approver.
    pub common_name: String,
    /// SANs the certificate would get.
    pub sans: Vec<String>,
    /// The CSR's key algorithm and size by its stable name (`p256`, `rsa3072`; see
    /// `ca::KeyType::name`), so the approver sees what key the certificate would certify;
    /// `None` in approvals recorded before the key was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Profile.
    pub profile: String,
    /// The registered subject, if any (off-boarding rejects its pending approvals).
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
    /// `pending`, `approved` or `rejected`.
    pub status: ApprovalStatus,
    /// When it was asked, unix seconds.
    pub created_at: i64,
    /// Who decided (`token:<id>`, `system:offboarding`).
    #[serde(default)]
    pub decided_by: Option<String>,
    /// When it was decided.
    #[serde(default)]
    pub decided_at: Option<i64>,
}

/// A one-time pickup link (`/pickup/<id>.<secret>`): the secret is kept only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickupRecord {
    /// Record layout version.
    pub version: u32,
    /// Public part of the link.
    pub id: String,
    /// HMAC-SHA256 of the secret part, hex.
    pub secret_hash: String,
    /// The person or device it issues for.
    pub subject_id: SubjectId,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Offer the legacy (3DES / SHA-1 MAC) PKCS#12 format for older importers.
    pub legacy_p12: bool,
    /// The certificate it was spent on.
    #[serde(default)]
    pub spent: Option<crate::ids::Serial>,
    /// The common name the certificate gets, fixed when the link was made: a later change of
    /// the subject's registry entry does not reach a link already handed out. `None` in links
    /// made before names were kept; those take the subject's names when used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// The SANs the certificate gets (`email:…`, `dns:…`), fixed with [`Self::common_name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sans: Option<Vec<String>>,
}

/// A SCEP enrolment the client will poll for (RFC 8894 §3.3.3 CertPoll): what it asked, so
/// that the certificate can be issued from a poll that carries only the transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScepTransactionRecord {
    /// Record layout version.
    pub version: u32,
    /// Hex SHA-256 of the transactionID and the requester's public key: a poll must come from
    /// the key that made the request.
    pub key: String,
    /// The SCEP label of the path it came in on.
    #[serde(default)]
    pub label: Option<crate::ids::Label>,
    /// The enrolment credential (challenge) it spends.
    #[serde(default)]
    pub credential: Option<crate::ids::CredentialId>,
    /// The certificate it renews (RenewalReq).
    #[serde(default)]
    pub renews: Option<crate::ids::Serial>,
    /// The PKCS#10 request, DER, base64.
    pub csr: String,
    /// Creation, unix seconds.
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `stored` as `T` and encodes it again: the bytes must not change.
    fn round_trip<T: Serialize + for<'a> Deserialize<'a>>(stored: &str) {
        let rec: T = serde_json::from_str(stored).unwrap();
        assert_eq!(serde_json::to_string(&rec).unwrap(), stored);
    }

    /// Records written when statuses were strings open, and are written back byte for byte.
    #[test]
    fn records_with_the_stored_status_strings_round_trip() {
        for status in ["active", "suspended", "offboarded"] {
            round_trip::<SubjectRecord>(&format!(
                r#"{{"version":1,"id":"sub-1","kind":"device","external_id":"e1","email":null,"display_name":null,"department":null,"name":"dev1","serial_number":null,"owner":null,"dns_names":["dev1.example"],"mdm_id":null,"status":"{status}","generation":3,"created_at":5,"updated_at":6}}"#
            ));
        }
        round_trip::<SubjectRecord>(
            r#"{"version":1,"id":"sub-1","kind":"device","external_id":"e1","email":null,"display_name":null,"department":null,"name":"dev1","serial_number":null,"owner":null,"dns_names":[],"mdm_id":null,"windows_sid":"S-1-5-21-1-2-3-1104","status":"active","generation":0,"created_at":5,"updated_at":6}"#,
        );
        let bad_sid = r#"{"version":1,"id":"sub-1","kind":"device","external_id":"e1","name":"dev1","dns_names":[],"windows_sid":"S-1-5","status":"active","generation":0,"created_at":5,"updated_at":6}"#;
        assert!(serde_json::from_str::<SubjectRecord>(bad_sid).is_err());
        for status in ["pending", "approved", "rejected"] {
            round_trip::<ApprovalRecord>(&format!(
                r#"{{"version":1,"id":"ap1","credential":"cred1","csr_fingerprint":"ab","common_name":"dev1","sans":["dns:dev1.example"],"profile":"device","subject_id":null,"status":"{status}","created_at":5,"decided_by":null,"decided_at":null}}"#
            ));
        }
    }

    /// An approval recorded before the CSR's key was kept still reads, without a key, and a
    /// record without a key writes no `key` field.
    #[test]
    fn an_approval_without_a_key_reads_and_writes() {
        let old = r#"{"version":1,"id":"a1","credential":"c1","csr_fingerprint":"fp",
            "common_name":"dev","sans":[],"profile":"device","status":"pending","created_at":5}"#;
        let a: ApprovalRecord = serde_json::from_str(old).unwrap();
        assert_eq!(a.key, None);
        assert!(!serde_json::to_string(&a).unwrap().contains("\"key\""));
        let with: ApprovalRecord =
            serde_json::from_str(&old.replace("\"sans\":[]", "\"sans\":[],\"key\":\"rsa3072\""))
                .unwrap();
        assert_eq!(with.key.as_deref(), Some("rsa3072"));
    }
}
