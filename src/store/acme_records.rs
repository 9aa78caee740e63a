//! Storage records of the ACME objects (RFC 8555 §7.1).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{AccountId, AuthzId, EabKid, OrderId, ProfileName, Serial, SubjectId};
use crate::states::{AccountStatus, AuthzStatus, ChallengeStatus, OrderStatus};

/// An identifier (RFC 8555 §9.7.7): `dns`, `email` or `permanent-identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    /// Identifier type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Identifier value.
    pub value: String,
}

/// An entry of an EAB key's allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedIdentifier {
    /// Identifier type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A name, or `*.suffix` for any name under suffix (whole labels).
    pub value: String,
    /// Allowed only after a challenge proves control (dns only); pre-authorised otherwise.
    #[serde(default)]
    pub challenge: bool,
}

/// An External Account Binding key (RFC 8555 §7.3.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EabKeyRecord {
    /// Record layout version.
    pub version: u32,
    /// The key id.
    pub kid: EabKid,
    /// The HMAC key sealed with AES-256-GCM under a key derived from `secret.key`.
    pub hmac_key_sealed: String,
    /// The certificate profile accounts bound to this key order.
    pub profile: ProfileName,
    /// What such accounts may order.
    pub allowed_identifiers: Vec<AllowedIdentifier>,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds; an expired key deactivates its account.
    pub expires_at: Option<i64>,
    /// Withdrawn by an administrator; deactivates its account.
    pub withdrawn: bool,
    /// The one account bound to it.
    pub account: Option<AccountId>,
    /// The registered person or device it belongs to.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
}

/// An ACME account (RFC 8555 §7.1.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Record layout version.
    pub version: u32,
    /// Account id (last URL segment).
    pub id: AccountId,
    /// The account public key as a JWK (canonical members).
    pub jwk: Value,
    /// RFC 7638 thumbprint of `jwk` (index key).
    pub thumbprint: String,
    /// `mailto:` contacts.
    pub contact: Vec<String>,
    /// `valid`, `deactivated` or `revoked`.
    pub status: AccountStatus,
    /// Whether the client agreed to the terms of service.
    pub tos_agreed: bool,
    /// The EAB key it was created with.
    pub eab_kid: Option<EabKid>,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// The registered person or device (from the EAB key), checked at finalize.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
}

/// A challenge inside an authorization (RFC 8555 §7.1.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// `http-01`, `dns-01` or `tls-alpn-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Random token (base64url, 128 bits).
    pub token: String,
    /// `pending`, `processing`, `valid` or `invalid`.
    pub status: ChallengeStatus,
    /// When it was validated, unix seconds.
    pub validated: Option<i64>,
    /// Problem document of a failed validation.
    pub error: Option<Value>,
}

/// An authorization (RFC 8555 §7.1.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzRecord {
    /// Record layout version.
    pub version: u32,
    /// Authorization id.
    pub id: AuthzId,
    /// Owning account.
    pub account: AccountId,
    /// The identifier.
    pub identifier: Identifier,
    /// `pending`, `valid`, `invalid`, `deactivated`, `expired` or `revoked`.
    pub status: AuthzStatus,
    /// Expiry, unix seconds.
    pub expires: i64,
    /// Challenges (empty for pre-authorised identifiers).
    pub challenges: Vec<ChallengeRecord>,
}

/// An order (RFC 8555 §7.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Record layout version.
    pub version: u32,
    /// Order id.
    pub id: OrderId,
    /// Owning account.
    pub account: AccountId,
    /// `pending`, `ready`, `processing`, `valid` or `invalid`.
    pub status: OrderStatus,
    /// Expiry, unix seconds.
    pub expires: i64,
    /// Requested identifiers, normalised and sorted.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore, unix seconds.
    pub not_before: Option<i64>,
    /// Requested notAfter, unix seconds.
    pub not_after: Option<i64>,
    /// Certificate profile (draft-ietf-acme-profiles).
    pub profile: ProfileName,
    /// Authorizations, one per identifier.
    pub authorizations: Vec<AuthzId>,
    /// Problem document if the order failed.
    pub error: Option<Value>,
    /// The issued certificate.
    pub certificate: Option<Serial>,
    /// ARI: the certificate this order replaces (RFC 9773 §5).
    pub replaces: Option<Serial>,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// The registered person or device (from the EAB key), checked at finalize.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
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
        for status in ["valid", "deactivated", "revoked"] {
            round_trip::<AccountRecord>(&format!(
                r#"{{"version":1,"id":"acct-1","jwk":{{"kty":"EC"}},"thumbprint":"t","contact":["mailto:a@example.com"],"status":"{status}","tos_agreed":true,"eab_kid":null,"created_at":5,"subject_id":null}}"#
            ));
        }
        for status in [
            "pending",
            "valid",
            "invalid",
            "deactivated",
            "expired",
            "revoked",
        ] {
            for chall in ["pending", "processing", "valid", "invalid"] {
                round_trip::<AuthzRecord>(&format!(
                    r#"{{"version":1,"id":"authz-1","account":"acct-1","identifier":{{"type":"dns","value":"a.example"}},"status":"{status}","expires":9,"challenges":[{{"type":"http-01","token":"tok","status":"{chall}","validated":null,"error":null}}]}}"#
                ));
            }
        }
        for status in ["pending", "ready", "processing", "valid", "invalid"] {
            round_trip::<OrderRecord>(&format!(
                r#"{{"version":1,"id":"order-1","account":"acct-1","status":"{status}","expires":9,"identifiers":[{{"type":"dns","value":"a.example"}}],"not_before":null,"not_after":null,"profile":"device","authorizations":["authz-1"],"error":null,"certificate":null,"replaces":null,"created_at":5,"subject_id":null}}"#
            ));
        }
    }

    #[test]
    fn an_unknown_status_is_an_error_not_a_default() {
        let stored = r#"{"version":1,"id":"order-1","account":"acct-1","status":"done","expires":9,"identifiers":[],"not_before":null,"not_after":null,"profile":"device","authorizations":[],"error":null,"certificate":null,"replaces":null,"created_at":5}"#;
        assert!(serde_json::from_str::<OrderRecord>(stored).is_err());
    }
}
