//! Storage records: versioned serde types, separate from the domain types that use them.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, CredentialId, Label, ProfileName, Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::CertState;

/// Revocation state of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum CertStatus {
    /// Issued and not revoked.
    Good,
    /// Revoked at `revoked_at` (unix seconds) for `reason` (RFC 5280 reason name).
    Revoked {
        /// When the revocation was recorded.
        revoked_at: i64,
        /// RFC 5280 §5.3.1 reason, stored by name, e.g. `keyCompromise`.
        reason: RevocationReason,
        /// A `certificateHold` placed by the suspension of the certificate's subject.
        /// Reactivating the subject lifts only these; a hold an administrator placed stays.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        suspension: bool,
    },
}

impl CertStatus {
    /// The status after a revocation for `reason` at `at` (RFC 5280 §5.3.1) with its
    /// revocation date, or `None` when nothing changes. A good certificate is revoked; a `certificateHold` is turned into a
    /// final revocation by any other reason and keeps the hold's date (the certificate has not
    /// been trusted since); a hold of a held certificate, and anything after a final reason,
    /// change nothing. `suspension` marks a hold as the suspension's (see
    /// [`CertStatus::Revoked::suspension`]); it is kept only on holds.
    pub fn revoked(
        &self,
        at: i64,
        reason: RevocationReason,
        suspension: bool,
    ) -> Option<(Self, i64)> {
        let revoked_at = match self {
            CertStatus::Good => at,
            CertStatus::Revoked {
                revoked_at,
                reason: RevocationReason::CertificateHold,
                ..
            } if reason != RevocationReason::CertificateHold => *revoked_at,
            CertStatus::Revoked { .. } => return None,
        };
        let status = CertStatus::Revoked {
            revoked_at,
            reason,
            suspension: suspension && reason == RevocationReason::CertificateHold,
        };
        Some((status, revoked_at))
    }

    /// Good or revoked, without the revocation's details.
    pub fn state(&self) -> CertState {
        match self {
            CertStatus::Good => CertState::Good,
            CertStatus::Revoked { .. } => CertState::Revoked,
        }
    }
}

/// One issued certificate.
///
/// Stored by [`CertificateRecord::to_bytes`]: short field names (the long ones of the first
/// layout are still read) and the DER raw after the JSON, not base64 inside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Record layout version, for migrations.
    #[serde(rename = "v", alias = "version")]
    pub version: u32,
    /// The certificate's serial number (primary key).
    #[serde(rename = "sn", alias = "serial")]
    pub serial: Serial,
    /// The issuing CA's subject.
    #[serde(rename = "is", alias = "issuer")]
    pub issuer: String,
    /// Subject commonName (the subject index key).
    #[serde(rename = "cn", alias = "subject")]
    pub subject: String,
    /// Subject alternative names, as `kind:value`.
    #[serde(
        rename = "sa",
        alias = "sans",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sans: Vec<String>,
    /// Profile the certificate was built from; a renewal keeps it.
    #[serde(rename = "pr", alias = "profile")]
    pub profile: ProfileName,
    /// Validity start, unix seconds.
    #[serde(rename = "nb", alias = "not_before")]
    pub not_before: i64,
    /// Validity end, unix seconds (the expiry index key).
    #[serde(rename = "na", alias = "not_after")]
    pub not_after: i64,
    /// Good or revoked.
    #[serde(rename = "st", alias = "status")]
    pub status: CertStatus,
    /// The channel that requested it: `est-simpleenroll`, `est-simplereenroll`, …
    #[serde(rename = "ch", alias = "channel")]
    pub channel: String,
    /// EST label used, if any.
    #[serde(
        rename = "lb",
        alias = "label",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub label: Option<Label>,
    /// The enrolment credential that authorised it, if any.
    #[serde(
        rename = "cr",
        alias = "credential",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub credential: Option<CredentialId>,
    /// The certificate this one renews (simplereenroll).
    #[serde(
        rename = "rp",
        alias = "replaces",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub replaces: Option<Serial>,
    /// When it was issued, unix seconds.
    #[serde(rename = "ia", alias = "issued_at")]
    pub issued_at: i64,
    /// The ACME account that ordered it, if any (may revoke it, RFC 8555 §7.6).
    #[serde(
        rename = "ac",
        alias = "account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub account: Option<AccountId>,
    /// The registered person or device it belongs to.
    #[serde(
        rename = "sj",
        alias = "subject_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_id: Option<SubjectId>,
    /// The renewal that replaced this certificate (EST simplereenroll), if any.
    #[serde(
        rename = "rb",
        alias = "renewed_by",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub renewed_by: Option<CredentialUse>,
    /// ARI (RFC 9773) renewal window set by an administrator: (start, end), unix seconds.
    #[serde(
        rename = "rw",
        alias = "renewal_window",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub renewal_window: Option<(i64, i64)>,
    /// The certificate, DER: raw after the JSON in the stored form (base64 in the first layout).
    #[serde(
        rename = "der",
        with = "b64",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub der: Vec<u8>,
}

/// First byte of the stored form: a JSON object starts with `{`, this layout with 0x02.
const CERT_LAYOUT_2: u8 = 2;

impl CertificateRecord {
    /// The stored form: 0x02, the JSON of every field but the DER (4-byte big-endian length
    /// first), then the DER.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        // `der` is empty, so the JSON leaves it out (skip_serializing_if).
        let meta = serde_json::to_vec(&CertificateRecord {
            der: Vec::new(),
            ..self.clone()
        })?;
        let mut out = Vec::with_capacity(5 + meta.len() + self.der.len());
        out.push(CERT_LAYOUT_2);
        out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.der);
        Ok(out)
    }

    /// Reads either stored form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        match b.split_first() {
            Some((&CERT_LAYOUT_2, rest)) if rest.len() >= 4 => {
                let (len, rest) = rest.split_at(4);
                let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
                if rest.len() < len {
                    return Err(serde_json::Error::custom("certificate record truncated"));
                }
                let (meta, der) = rest.split_at(len);
                let mut rec: CertificateRecord = serde_json::from_slice(meta)?;
                rec.der = der.to_vec();
                Ok(rec)
            }
            _ => serde_json::from_slice(b),
        }
    }
}

/// What one use of a credential produced: the key of idempotent retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialUse {
    /// SHA-256 of the CSR, hex.
    pub csr_fingerprint: String,
    /// The certificate issued for it.
    pub serial: Serial,
}

/// An enrolment credential (EST Basic username + secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Record layout version.
    pub version: u32,
    /// The username.
    pub id: CredentialId,
    /// HMAC-SHA256 of the secret under the server's hash key, hex. The secret itself is not kept.
    pub secret_hash: String,
    /// Label it is scoped to; `None` means the default label only.
    pub label: Option<Label>,
    /// The commonName it may request.
    pub common_name: String,
    /// The SANs it may request, as `kind:value`.
    pub sans: Vec<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Enrolments left (1 for a one-time credential).
    pub uses_left: u32,
    /// Enrolments done, for idempotent retries.
    pub uses: Vec<CredentialUse>,
    /// Withdrawn by an administrator.
    pub disabled: bool,
    /// The registered person or device it belongs to.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
    /// Profile it enrols (overrides the label's), set for subject credentials.
    #[serde(default)]
    pub profile: Option<ProfileName>,
}

/// An admin API token (the secret is kept only as an HMAC).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminTokenRecord {
    /// Record layout version.
    pub version: u32,
    /// The token's public id (first part of the token).
    pub id: String,
    /// HMAC-SHA256 of the secret part, hex.
    pub secret_hash: String,
    /// What the token is for, free text.
    pub name: String,
    /// Scopes: `read`, `register`, `issue`, `revoke`, `admin`.
    pub scopes: Vec<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Optional expiry, unix seconds.
    pub expires_at: Option<i64>,
}

mod b64 {
    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        Base64::decode_vec(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> CertificateRecord {
        CertificateRecord {
            version: 1,
            serial: Serial::parse_hex("7f01020304050607").unwrap(),
            issuer: "CN=issuing".into(),
            subject: "dev1".into(),
            sans: vec!["dns:dev1.example".into()],
            profile: ProfileName("device".into()),
            not_before: 10,
            not_after: 20,
            status: CertStatus::Revoked {
                revoked_at: 15,
                reason: RevocationReason::KeyCompromise,
                suspension: false,
            },
            channel: "est-simpleenroll".into(),
            label: None,
            credential: Some(CredentialId::parse("cred1").unwrap()),
            replaces: None,
            issued_at: 10,
            account: None,
            subject_id: None,
            renewed_by: Some(CredentialUse {
                csr_fingerprint: "ab".repeat(32),
                serial: Serial::parse_hex("01").unwrap(),
            }),
            renewal_window: Some((12, 18)),
            der: (0..=255u8).collect(),
        }
    }

    #[test]
    fn stored_form_round_trips_and_keeps_the_der_raw() {
        let r = rec();
        let b = r.to_bytes().unwrap();
        assert_eq!(b[0], CERT_LAYOUT_2);
        assert!(b.ends_with(&r.der), "the DER is stored raw at the end");
        let back = CertificateRecord::from_bytes(&b).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
    }

    #[test]
    fn first_layout_json_is_still_read() {
        let r = rec();
        let legacy = serde_json::json!({
            "version": 1, "serial": "7f01020304050607", "issuer": "CN=issuing", "subject": "dev1",
            "sans": ["dns:dev1.example"], "profile": "device", "not_before": 10, "not_after": 20,
            "status": {"status": "revoked", "revoked_at": 15, "reason": "keyCompromise"},
            "channel": "est-simpleenroll", "label": null, "credential": "cred1", "replaces": null,
            "issued_at": 10,
            "renewed_by": {"csr_fingerprint": "ab".repeat(32), "serial": "01"},
            "renewal_window": [12, 18],
            "der": <base64ct::Base64 as base64ct::Encoding>::encode_string(&r.der),
        });
        let back = CertificateRecord::from_bytes(&serde_json::to_vec(&legacy).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
    }

    /// The stored form of a revoked certificate is byte for byte what it was when reasons
    /// were strings, for every reason, and reads back to the same bytes.
    #[test]
    fn stored_form_keeps_the_reason_names() {
        for &reason in RevocationReason::ALL {
            let mut r = rec();
            r.status = CertStatus::Revoked {
                revoked_at: 15,
                reason,
                suspension: reason == RevocationReason::CertificateHold,
            };
            let hold = if reason == RevocationReason::CertificateHold {
                r#","suspension":true"#
            } else {
                ""
            };
            let meta = format!(
                concat!(
                    r#"{{"v":1,"sn":"7f01020304050607","is":"CN=issuing","cn":"dev1","#,
                    r#""sa":["dns:dev1.example"],"pr":"device","nb":10,"na":20,"#,
                    r#""st":{{"status":"revoked","revoked_at":15,"reason":"{}"{}}},"#,
                    r#""ch":"est-simpleenroll","cr":"cred1","ia":10,"#,
                    r#""rb":{{"csr_fingerprint":"{}","serial":"01"}},"rw":[12,18]}}"#
                ),
                reason.as_str(),
                hold,
                "ab".repeat(32)
            );
            let mut want = vec![CERT_LAYOUT_2];
            want.extend_from_slice(&(meta.len() as u32).to_be_bytes());
            want.extend_from_slice(meta.as_bytes());
            want.extend_from_slice(&r.der);
            assert_eq!(
                String::from_utf8_lossy(&r.to_bytes().unwrap()),
                String::from_utf8_lossy(&want)
            );
            let back = CertificateRecord::from_bytes(&want).unwrap();
            assert_eq!(back.to_bytes().unwrap(), want, "{reason}");
        }
    }

    #[test]
    fn truncated_stored_form_is_an_error_not_a_panic() {
        let b = rec().to_bytes().unwrap();
        for n in [1, 3, 5, 20] {
            assert!(CertificateRecord::from_bytes(&b[..n]).is_err(), "{n} bytes");
        }
    }
}
