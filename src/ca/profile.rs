//! Certificate profiles ([`Profile`], a domain type of the CA that the configuration names)
//! and how one becomes certificate extensions.
//!
//! Every extension of an issued certificate comes from here; nothing is copied from a CSR.

use std::net::IpAddr;

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose, SanType};

use serde::Deserialize;

use super::key_type::KeyType;
use super::smime::Smime;
use super::windows_sid::WindowsSidMapping;
use crate::error::{Error, Result};

/// A subject alternative name (RFC 5280 §4.2.1.6) of the kinds enrolld issues.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SanName {
    /// A person's mail address (S/MIME, RFC 8550): an rfc822Name, or an otherName
    /// SmtpUTF8Mailbox (RFC 9598) when the local part is not ASCII.
    Email(String),
    /// dNSName: a machine or device name.
    Dns(String),
    /// uniformResourceIdentifier, e.g. a device URN.
    Uri(String),
    /// iPAddress.
    Ip(IpAddr),
}

impl SanName {
    /// Parses `dns:name`, `email:a@b`, `uri:urn:x`, `ip:1.2.3.4`, or a bare value (an `@` makes
    /// it an email address, a parsable IP an address, anything else a DNS name).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Malformed(format!("invalid subject alternative name {s:?}"));
        let (kind, value) = match s.split_once(':') {
            Some((k @ ("dns" | "email" | "uri" | "ip"), v)) => (k, v),
            _ if s.contains('@') => ("email", s),
            _ if s.parse::<IpAddr>().is_ok() => ("ip", s),
            _ => ("dns", s),
        };
        // Only a mail address's local part may be non-ASCII (RFC 6531); the domain stays in
        // its ASCII (A-label) form.
        let ascii_ok = value.is_ascii()
            || (kind == "email" && value.rsplit_once('@').is_some_and(|(_, d)| d.is_ascii()));
        if value.is_empty() || value.len() > 253 || !ascii_ok {
            return Err(bad());
        }
        match kind {
            "dns" => {
                let v = value.to_ascii_lowercase();
                let ok = v.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
                if !ok {
                    return Err(bad());
                }
                Ok(SanName::Dns(v))
            }
            "email" => {
                let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
                // RFC 9598 §3 writes an SmtpUTF8Mailbox's domain in U-labels; enrolld keeps
                // ASCII domains only, so it refuses A-labels beside a non-ASCII local part.
                let a_labels = !local.is_ascii()
                    && domain
                        .split('.')
                        .any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")));
                if local.is_empty()
                    || domain.is_empty()
                    || a_labels
                    || value.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(bad());
                }
                Ok(SanName::Email(format!(
                    "{local}@{}",
                    domain.to_ascii_lowercase()
                )))
            }
            "uri" => {
                if !value.contains(':') || value.bytes().any(|b| b.is_ascii_whitespace()) {
                    return Err(bad());
                }
                Ok(SanName::Uri(value.to_owned()))
            }
            _ => Ok(SanName::Ip(value.parse().map_err(|_| bad())?)),
        }
    }

    /// The profile `san_types` word for this kind of name.
    pub fn kind(&self) -> &'static str {
        match self {
            SanName::Email(_) => "email",
            SanName::Dns(_) => "dns",
            SanName::Uri(_) => "uri",
            SanName::Ip(_) => "ip",
        }
    }

    /// rcgen's representation.
    pub fn to_rcgen(&self) -> Result<SanType> {
        let ia5 = |s: &str| {
            s.to_owned()
                .try_into()
                .map_err(|_| Error::Malformed(format!("name {s:?} is not IA5")))
        };
        Ok(match self {
            // RFC 9598 §3: never an rfc822Name for a non-ASCII local part.
            SanName::Email(e) if !e.is_ascii() => SanType::OtherName((
                super::smime::OID_SMTP_UTF8_MAILBOX.to_vec(),
                rcgen::OtherNameValue::Utf8String(e.clone()),
            )),
            SanName::Email(e) => SanType::Rfc822Name(ia5(e)?),
            SanName::Dns(d) => SanType::DnsName(ia5(d)?),
            SanName::Uri(u) => SanType::URI(ia5(u)?),
            SanName::Ip(ip) => SanType::IpAddress(*ip),
        })
    }
}

impl std::fmt::Display for SanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SanName::Email(v) => write!(f, "email:{v}"),
            SanName::Dns(v) => write!(f, "dns:{v}"),
            SanName::Uri(v) => write!(f, "uri:{v}"),
            SanName::Ip(v) => write!(f, "ip:{v}"),
        }
    }
}

/// Parses one RFC 5280 §4.2.1.3 key usage name.
pub fn parse_key_usage(s: &str) -> Result<KeyUsagePurpose> {
    Ok(match s {
        "digitalSignature" => KeyUsagePurpose::DigitalSignature,
        "contentCommitment" | "nonRepudiation" => KeyUsagePurpose::ContentCommitment,
        "keyEncipherment" => KeyUsagePurpose::KeyEncipherment,
        "dataEncipherment" => KeyUsagePurpose::DataEncipherment,
        "keyAgreement" => KeyUsagePurpose::KeyAgreement,
        other => {
            return Err(Error::Malformed(format!(
                "key usage {other:?} is not allowed in an end-entity profile"
            )))
        }
    })
}

/// Parses one RFC 5280 §4.2.1.12 extended key usage name.
pub fn parse_eku(s: &str) -> Result<ExtendedKeyUsagePurpose> {
    Ok(match s {
        "clientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
        "serverAuth" => ExtendedKeyUsagePurpose::ServerAuth,
        "emailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
        "codeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
        other => {
            return Err(Error::Malformed(format!(
                "unknown extended key usage {other:?}"
            )))
        }
    })
}

/// The key usages of `profile` that make sense for a subject key of `key`: keyEncipherment
/// needs RSA, keyAgreement needs an EC key, Ed25519 only signs (RFC 8410 §5).
/// An S/MIME profile's key usages come from its settings instead (S/MIME BR §7.1.2.3 e).
pub fn key_usages_for(profile: &Profile, key: KeyType) -> Result<Vec<KeyUsagePurpose>> {
    if let Some(smime) = &profile.smime {
        return smime.key_usages(key);
    }
    let mut out = Vec::new();
    for name in &profile.key_usage {
        let ku = parse_key_usage(name)?;
        let fits = match ku {
            KeyUsagePurpose::KeyEncipherment | KeyUsagePurpose::DataEncipherment => {
                matches!(key, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
            }
            KeyUsagePurpose::KeyAgreement => matches!(key, KeyType::P256 | KeyType::P384),
            _ => true,
        };
        if fits && !out.contains(&ku) {
            out.push(ku);
        }
    }
    if out.is_empty() {
        out.push(KeyUsagePurpose::DigitalSignature);
    }
    Ok(out)
}

/// Checks that every name is of a kind the profile issues.
pub fn check_san_kinds(profile: &Profile, profile_name: &str, sans: &[SanName]) -> Result<()> {
    for san in sans {
        if !profile.san_types.iter().any(|t| t == san.kind()) {
            return Err(Error::BadCsr(format!(
                "profile {profile_name} does not issue {} names ({san})",
                san.kind()
            )));
        }
    }
    Ok(())
}

/// One certificate profile: everything a certificate's extensions are built from.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Certificate lifetime in days.
    #[serde(default = "default_validity")]
    pub validity_days: u32,
    /// Key types a CSR may carry.
    #[serde(default = "default_key_types")]
    pub key_types: Vec<KeyType>,
    /// Key type of keys generated by EST serverkeygen.
    #[serde(default = "default_keygen")]
    pub server_keygen_key_type: KeyType,
    /// RFC 5280 §4.2.1.3 key usages (`digitalSignature`, `keyEncipherment`, `keyAgreement`);
    /// usages that do not fit the subject key type are left out.
    #[serde(default = "default_ku")]
    pub key_usage: Vec<String>,
    /// RFC 5280 §4.2.1.12 extended key usages (`clientAuth`, `emailProtection`, `serverAuth`).
    #[serde(default = "default_eku")]
    pub extended_key_usage: Vec<String>,
    /// SAN types this profile issues: `dns`, `email`, `uri`, `ip`.
    #[serde(default = "default_san_types")]
    pub san_types: Vec<String>,
    /// EST enrolments for this profile wait for an administrator's approval. (Over ACME the
    /// approval is the EAB key itself: stock clients give up on an order within a minute.)
    #[serde(default)]
    pub require_approval: bool,
    /// URL of the CRL put in the CRL distribution point extension.
    #[serde(default)]
    pub crl_url: Option<String>,
    /// URL of the OCSP responder put in the AIA extension.
    #[serde(default)]
    pub ocsp_url: Option<String>,
    /// URL of the issuing CA certificate put in the AIA extension (caIssuers).
    #[serde(default)]
    pub ca_issuers_url: Option<String>,
    /// Windows strong certificate mapping (KB5014754): whether certificates carry the
    /// subject's registry SID as a URI SAN, as the szOID_NTDS_CA_SECURITY_EXT extension, or
    /// both. When on, only subjects with a SID get certificates of this profile.
    #[serde(default)]
    pub windows_sid: WindowsSidMapping,
    /// Makes the profile issue certificates of the CA/Browser Forum S/MIME Baseline
    /// Requirements: validation type, generation, key use, policies ([`Smime`]). The subject,
    /// the key usages and the certificatePolicies then come from these settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smime: Option<Smime>,
}

impl Profile {
    /// The built-in `device` profile: TLS client authentication, DNS names.
    pub fn device() -> Self {
        Profile {
            validity_days: default_validity(),
            key_types: default_key_types(),
            server_keygen_key_type: KeyType::P256,
            key_usage: default_ku(),
            extended_key_usage: vec!["clientAuth".into()],
            san_types: vec!["dns".into(), "uri".into()],
            crl_url: None,
            ocsp_url: None,
            ca_issuers_url: None,
            require_approval: false,
            windows_sid: WindowsSidMapping::Off,
            smime: None,
        }
    }

    /// The built-in `person` profile: an S/MIME BR mailbox-validated multipurpose certificate
    /// (signing and encryption, client authentication beside S/MIME), mailbox SANs.
    pub fn person() -> Self {
        Profile {
            key_usage: vec![
                "digitalSignature".into(),
                "keyEncipherment".into(),
                "keyAgreement".into(),
            ],
            extended_key_usage: vec!["clientAuth".into(), "emailProtection".into()],
            san_types: vec!["email".into()],
            smime: Some(Smime::default()),
            ..Profile::device()
        }
    }
}

fn default_validity() -> u32 {
    90
}
fn default_key_types() -> Vec<KeyType> {
    vec![
        KeyType::P256,
        KeyType::P384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ]
}
fn default_keygen() -> KeyType {
    KeyType::P256
}
fn default_ku() -> Vec<String> {
    vec!["digitalSignature".into()]
}
fn default_eku() -> Vec<String> {
    vec!["clientAuth".into()]
}
fn default_san_types() -> Vec<String> {
    vec!["dns".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_parse_kinds() {
        assert_eq!(
            SanName::parse("a@Example.COM").unwrap(),
            SanName::Email("a@example.com".into())
        );
        assert_eq!(
            SanName::parse("Host.Example").unwrap(),
            SanName::Dns("host.example".into())
        );
        assert_eq!(
            SanName::parse("uri:urn:dev:1").unwrap(),
            SanName::Uri("urn:dev:1".into())
        );
        assert!(matches!(
            SanName::parse("10.0.0.1").unwrap(),
            SanName::Ip(_)
        ));
        assert!(SanName::parse("bad name").is_err());
        assert!(SanName::parse("*.wild.example").is_err());
        assert!(SanName::parse("").is_err());
    }

    #[test]
    fn key_usage_follows_key_type() {
        let p = Profile::person();
        let ec = key_usages_for(&p, KeyType::P256).unwrap();
        assert!(ec.contains(&KeyUsagePurpose::KeyAgreement));
        assert!(!ec.contains(&KeyUsagePurpose::KeyEncipherment));
        let rsa = key_usages_for(&p, KeyType::Rsa3072).unwrap();
        assert!(rsa.contains(&KeyUsagePurpose::KeyEncipherment));
        let ed = key_usages_for(&p, KeyType::Ed25519).unwrap();
        assert_eq!(ed, vec![KeyUsagePurpose::DigitalSignature]);
    }
}
