//! RFC 5280 §5.3.1 revocation reasons, and the ones each channel lets a client give.

use std::fmt;

use serde::{Deserialize, Serialize};

/// RFC 5280 §5.3.1 `CRLReason`, in the RFC's order (code 7 is not used). Stored, shown by the
/// admin API and accepted from it under its RFC name (`keyCompromise`); ACME clients give the
/// code (RFC 8555 §7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RevocationReason {
    /// 0: no reason given (left out of CRL entries and OCSP answers, RFC 5280 §5.3.1).
    #[serde(rename = "unspecified")]
    Unspecified,
    /// 1: the certificate's key was compromised.
    #[serde(rename = "keyCompromise")]
    KeyCompromise,
    /// 2: the CA's key was compromised.
    #[serde(rename = "cACompromise")]
    CaCompromise,
    /// 3: the subject's name or affiliation changed.
    #[serde(rename = "affiliationChanged")]
    AffiliationChanged,
    /// 4: replaced by another certificate.
    #[serde(rename = "superseded")]
    Superseded,
    /// 5: no longer needed (also what off-boarding a subject gives).
    #[serde(rename = "cessationOfOperation")]
    CessationOfOperation,
    /// 6: on hold; the one reason that is not final (a subject's suspension places it).
    #[serde(rename = "certificateHold")]
    CertificateHold,
    /// 8: a delta CRL's removal of a hold; never given by enrolld.
    #[serde(rename = "removeFromCRL")]
    RemoveFromCrl,
    /// 9: a privilege in the certificate was withdrawn.
    #[serde(rename = "privilegeWithdrawn")]
    PrivilegeWithdrawn,
    /// 10: an attribute authority's key was compromised.
    #[serde(rename = "aACompromise")]
    AaCompromise,
}

use RevocationReason as R;

impl RevocationReason {
    /// Every reason, in the RFC's order.
    pub const ALL: &'static [RevocationReason] = &[
        R::Unspecified,
        R::KeyCompromise,
        R::CaCompromise,
        R::AffiliationChanged,
        R::Superseded,
        R::CessationOfOperation,
        R::CertificateHold,
        R::RemoveFromCrl,
        R::PrivilegeWithdrawn,
        R::AaCompromise,
    ];

    /// The reasons an administrator may give (single and bulk revocation): the ones a
    /// certificate holder's situation explains, without the CA-side compromises and
    /// removeFromCRL.
    pub const ADMIN: &'static [RevocationReason] = &[
        R::Unspecified,
        R::KeyCompromise,
        R::AffiliationChanged,
        R::Superseded,
        R::CessationOfOperation,
        R::CertificateHold,
        R::PrivilegeWithdrawn,
    ];

    /// The reasons an ACME client may give (RFC 8555 §7.6): the admin ones without
    /// certificateHold and privilegeWithdrawn.
    pub const ACME: &'static [RevocationReason] = &[
        R::Unspecified,
        R::KeyCompromise,
        R::AffiliationChanged,
        R::Superseded,
        R::CessationOfOperation,
    ];

    /// The RFC 5280 name, as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            R::Unspecified => "unspecified",
            R::KeyCompromise => "keyCompromise",
            R::CaCompromise => "cACompromise",
            R::AffiliationChanged => "affiliationChanged",
            R::Superseded => "superseded",
            R::CessationOfOperation => "cessationOfOperation",
            R::CertificateHold => "certificateHold",
            R::RemoveFromCrl => "removeFromCRL",
            R::PrivilegeWithdrawn => "privilegeWithdrawn",
            R::AaCompromise => "aACompromise",
        }
    }

    /// The RFC 5280 `CRLReason` code.
    pub const fn code(self) -> u8 {
        match self {
            R::Unspecified => 0,
            R::KeyCompromise => 1,
            R::CaCompromise => 2,
            R::AffiliationChanged => 3,
            R::Superseded => 4,
            R::CessationOfOperation => 5,
            R::CertificateHold => 6,
            R::RemoveFromCrl => 8,
            R::PrivilegeWithdrawn => 9,
            R::AaCompromise => 10,
        }
    }

    /// The reason with RFC 5280 name `name` (case-sensitive, as the RFC writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == name)
    }

    /// The reason with RFC 5280 code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// The reason named `name` if an administrator may give it ([`Self::ADMIN`]).
    pub fn admin(name: &str) -> Option<Self> {
        Self::from_name(name).filter(|r| Self::ADMIN.contains(r))
    }

    /// The reason with code `code` if an ACME client may give it ([`Self::ACME`]).
    pub fn acme(code: u8) -> Option<Self> {
        Self::from_code(code).filter(|r| Self::ACME.contains(r))
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_are_rfc_5280_and_serde_keeps_the_name() {
        let table: Vec<(u8, &str)> = R::ALL.iter().map(|r| (r.code(), r.as_str())).collect();
        assert_eq!(
            table,
            [
                (0, "unspecified"),
                (1, "keyCompromise"),
                (2, "cACompromise"),
                (3, "affiliationChanged"),
                (4, "superseded"),
                (5, "cessationOfOperation"),
                (6, "certificateHold"),
                (8, "removeFromCRL"),
                (9, "privilegeWithdrawn"),
                (10, "aACompromise"),
            ]
        );
        for &r in R::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert_eq!(R::from_name(r.as_str()), Some(r));
            assert_eq!(R::from_code(r.code()), Some(r));
        }
        assert_eq!(R::from_code(7), None);
        assert_eq!(R::from_name("KeyCompromise"), None);
    }

    #[test]
    fn each_channel_accepts_its_subset() {
        let admin: Vec<&str> = R::ALL
            .iter()
            .filter(|r| R::admin(r.as_str()).is_some())
            .map(|r| r.as_str())
            .collect();
        assert_eq!(
            admin,
            [
                "unspecified",
                "keyCompromise",
                "affiliationChanged",
                "superseded",
                "cessationOfOperation",
                "certificateHold",
                "privilegeWithdrawn",
            ]
        );
        let acme: Vec<u8> = (0..=255).filter(|c| R::acme(*c).is_some()).collect();
        assert_eq!(acme, [0, 1, 3, 4, 5]);
    }
}
