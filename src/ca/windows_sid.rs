//! Windows strong certificate mapping (Microsoft KB5014754, "Certificate-based authentication
//! changes on Windows domain controllers"): a certificate names the Active Directory account
//! it belongs to by the account's SID, so a domain controller in full enforcement maps the
//! certificate logon to exactly that account. Two carriers exist, and a profile chooses
//! ([`WindowsSidMapping`]):
//!
//! - the URI SAN `tag:microsoft.com,2022-09-14:sid:<SID>` ([`san_uri`]);
//! - the szOID_NTDS_CA_SECURITY_EXT extension (1.3.6.1.4.1.311.25.2, non-critical), which
//!   Active Directory Certificate Services itself writes ([`security_extension`]).
//!
//! The SID always comes from the subject's registry record, never from a request; the rules
//! for requests that name a SID themselves are in [`crate::ca::issuance`].

use serde::{Deserialize, Serialize};
use yasna::models::ObjectIdentifier;
use yasna::Tag;

use super::profile::SanName;
use crate::ids::WindowsSid;

/// Which carriers of the subject's SID a profile puts into its certificates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowsSidMapping {
    /// No SID (the default): certificates not meant for Windows logon.
    #[default]
    Off,
    /// The `tag:microsoft.com,2022-09-14:sid:` URI SAN only.
    San,
    /// The szOID_NTDS_CA_SECURITY_EXT extension only, as ADCS issues it.
    Extension,
    /// Both carriers.
    Both,
}

impl WindowsSidMapping {
    /// Whether certificates of the profile carry a SID at all.
    pub fn is_on(self) -> bool {
        self != WindowsSidMapping::Off
    }

    /// Whether the SID goes into the subject alternative names.
    pub fn in_san(self) -> bool {
        matches!(self, WindowsSidMapping::San | WindowsSidMapping::Both)
    }

    /// Whether the SID goes into the szOID_NTDS_CA_SECURITY_EXT extension.
    pub fn in_extension(self) -> bool {
        matches!(self, WindowsSidMapping::Extension | WindowsSidMapping::Both)
    }
}

/// KB5014754: the URI SAN prefix that names an account's SID.
pub const SID_URI_PREFIX: &str = "tag:microsoft.com,2022-09-14:sid:";

/// szOID_NTDS_CA_SECURITY_EXT: the extension that names the account's SID (MS-WCCE).
pub const OID_NTDS_CA_SECURITY_EXT: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 25, 2];

/// szOID_NTDS_OBJECTSID, the type-id of the extension's one otherName.
pub const OID_NTDS_OBJECTSID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 25, 2, 1];

/// The URI SAN that names `sid`.
pub fn san_uri(sid: &WindowsSid) -> SanName {
    SanName::Uri(format!("{SID_URI_PREFIX}{sid}"))
}

/// Whether `san` is a SID URI (any SID; the prefix compared without regard to case, as
/// Windows reads it).
pub fn is_sid_uri(san: &SanName) -> bool {
    matches!(san, SanName::Uri(u)
        if u.len() >= SID_URI_PREFIX.len()
            && u.as_bytes()[..SID_URI_PREFIX.len()].eq_ignore_ascii_case(SID_URI_PREFIX.as_bytes()))
}

/// The DER value of the szOID_NTDS_CA_SECURITY_EXT extension for `sid`:
///
/// ```text
/// SEQUENCE {                                -- GeneralNames
///   [0] {                                   -- otherName, IMPLICIT OtherName
///     OBJECT IDENTIFIER 1.3.6.1.4.1.311.25.2.1   -- szOID_NTDS_OBJECTSID
///     [0] { OCTET STRING "S-1-5-21-…" }     -- value, EXPLICIT; the SID's string form in ASCII
///   }
/// }
/// ```
///
/// Sources: MS-WCCE (szOID_NTDS_CA_SECURITY_EXT: "OtherName ::= SEQUENCE {
/// type-id szOID_NTDS_OBJECTSID, value octet string }", critical SHOULD be FALSE); a `certutil`
/// dump of an ADCS-issued certificate (`30 3f a0 3d 06 0a 2b 06 01 04 01 82 37 19 02 01 a0 2f
/// 04 2d 53 2d 31 2d 35 …`, checked byte for byte in the tests); certipy
/// (`certipy/lib/certificate.py`) decodes the extension as GeneralNames. The SID is the text
/// form, not MS-DTYP's binary one.
pub fn security_extension(sid: &WindowsSid) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged_implicit(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_NTDS_OBJECTSID));
                    w.next()
                        .write_tagged(Tag::context(0), |w| w.write_bytes(sid.as_str().as_bytes()));
                })
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> WindowsSid {
        WindowsSid::parse(s).unwrap()
    }

    /// The extension value of an ADCS-issued certificate, as `certutil` dumps it.
    #[test]
    fn extension_matches_adcs_byte_for_byte() {
        let adcs = hex::decode(concat!(
            "303fa03d060a2b060104018237190201a02f042d",
            "532d312d352d32312d3636363139393638322d313431313334323134372d",
            "323933383731373835352d31303031"
        ))
        .unwrap();
        let der = security_extension(&sid("S-1-5-21-666199682-1411342147-2938717855-1001"));
        assert_eq!(hex::encode(der), hex::encode(adcs));
    }

    /// Decoded back with yasna: one [0] otherName, type-id szOID_NTDS_OBJECTSID, the SID's
    /// ASCII in an explicitly tagged OCTET STRING; a long SID gets a long-form length.
    #[test]
    fn extension_decodes_to_the_sid() {
        for s in [
            "S-1-5-32-544",
            "S-1-281474976710655-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295-4294967295",
        ] {
            let der = security_extension(&sid(s));
            let (oid, value) = yasna::parse_der(&der, |r| {
                r.read_sequence(|r| {
                    r.next().read_tagged_implicit(Tag::context(0), |r| {
                        r.read_sequence(|r| {
                            let oid = r.next().read_oid()?;
                            let v = r.next().read_tagged(Tag::context(0), |r| r.read_bytes())?;
                            Ok((oid, v))
                        })
                    })
                })
            })
            .unwrap();
            assert_eq!(oid, ObjectIdentifier::from_slice(OID_NTDS_OBJECTSID), "{s}");
            assert_eq!(value, s.as_bytes(), "{s}");
        }
    }

    #[test]
    fn sid_uris_are_recognised_whatever_the_case_of_the_prefix() {
        let s = sid("S-1-5-21-1-2-3-1104");
        assert_eq!(
            san_uri(&s),
            SanName::Uri("tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1104".into())
        );
        assert!(is_sid_uri(&san_uri(&s)));
        assert!(is_sid_uri(&SanName::Uri(
            "TAG:Microsoft.com,2022-09-14:SID:S-1-5-21-9".into()
        )));
        assert!(!is_sid_uri(&SanName::Uri("urn:dev:1".into())));
        assert!(!is_sid_uri(&SanName::Dns("tag".into())));
    }

    #[test]
    fn mapping_names_and_carriers() {
        let m: std::collections::BTreeMap<String, WindowsSidMapping> =
            toml::from_str("a = \"off\"\nb = \"san\"\nc = \"extension\"\nd = \"both\"").unwrap();
        let carriers: Vec<(bool, bool)> =
            m.values().map(|v| (v.in_san(), v.in_extension())).collect();
        assert_eq!(
            carriers,
            [(false, false), (true, false), (false, true), (true, true)]
        );
        assert!(
            toml::from_str::<std::collections::BTreeMap<String, WindowsSidMapping>>("a = \"on\"")
                .is_err()
        );
    }
}
