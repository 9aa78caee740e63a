//! The CA/Browser Forum S/MIME Baseline Requirements certificate profiles (S/MIME BR, section
//! numbers of version 1.0.x): the settings a profile takes ([`Smime`]), the reserved policy
//! OIDs, key usage by key type, the validity cap, and the subject a person's certificate gets.
//!
//! enrolld issues the `mailbox` and `individual` validation types in the `strict` and
//! `multipurpose` generations (the `legacy` generation may no longer be issued, §1.2.1;
//! `organization` and `sponsor` need an organisation in the subject, which enrolld does not
//! verify).

use rcgen::{DistinguishedName, DnType, KeyUsagePurpose};
use serde::{Deserialize, Serialize};

use super::key_type::KeyType;
use super::profile::SanName;
use crate::error::{Error, Result};

/// S/MIME BR §6.3.2: the longest validity of a strict or multipurpose certificate, in days of
/// 86,400 seconds.
pub const MAX_VALIDITY_DAYS: u32 = 825;

/// S/MIME BR §6.3.2 counts any part of a second beyond the maximum as another day, and an
/// RFC 5280 validity includes its notAfter second: a window ends at most this many seconds
/// after it starts.
pub const MAX_VALIDITY_SECS: i64 = MAX_VALIDITY_DAYS as i64 * 86_400 - 1;

/// OID of the certificatePolicies extension (RFC 5280 §4.2.1.4).
const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
/// RFC 5280 §4.2.1.4 id-qt-cps: a policy qualifier holding the URI of the CPS.
const OID_QT_CPS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 1];
/// RFC 9598 §3 id-on-SmtpUTF8Mailbox: the otherName type of an internationalised address.
pub const OID_SMTP_UTF8_MAILBOX: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 8, 9];
/// X.520 givenName (S/MIME BR §7.1.4.2.2 e).
const OID_GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
/// X.520 surname (S/MIME BR §7.1.4.2.2 f).
const OID_SURNAME: &[u64] = &[2, 5, 4, 4];
/// X.520 pseudonym (S/MIME BR §7.1.4.2.2 g).
const OID_PSEUDONYM: &[u64] = &[2, 5, 4, 65];
/// RFC 5280 ub-common-name: a commonName holds at most 64 characters.
const UB_COMMON_NAME: usize = 64;

/// S/MIME BR §1.2: what the CA verified about the subject, which decides the subject name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    /// Mailbox-validated: only the mailbox address; the commonName is the address or absent.
    #[default]
    Mailbox,
    /// Individual-validated: the person's givenName and surname (or a pseudonym) from the
    /// registry, which HR verified; the commonName is that personal name.
    Individual,
}

/// S/MIME BR §1.2: how closely the certificate is defined. (Legacy may no longer be issued.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// Multipurpose: id-kp-emailProtection plus other EKUs (enrolld: clientAuth, for
    /// device-bound access with the same certificate).
    #[default]
    Multipurpose,
    /// Strict: id-kp-emailProtection only; the long-term target of the S/MIME BR.
    Strict,
}

/// S/MIME BR §7.1.2.3 e: one certificate for both signing and encryption, or a person's
/// separate signing-only and encryption-only ("key management") certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyUse {
    /// Dual use: digitalSignature with keyEncipherment (RSA) or keyAgreement (EC).
    #[default]
    Dual,
    /// Signing only: digitalSignature.
    Signing,
    /// Key management only: keyEncipherment (RSA) or keyAgreement (EC); Ed25519 cannot.
    Encryption,
}

/// The `[profiles.<name>.smime]` table: makes a profile issue S/MIME BR certificates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Smime {
    /// The validation type: `mailbox` or `individual`.
    #[serde(default)]
    pub validation: Validation,
    /// The generation: `multipurpose` or `strict`.
    #[serde(default)]
    pub generation: Generation,
    /// What the key is for: `dual`, `signing` or `encryption`.
    #[serde(default)]
    pub key_use: KeyUse,
    /// The organisation's own policy OIDs (dotted), written after the reserved one
    /// (S/MIME BR §7.1.6.4: documented in the organisation's CP or CPS).
    #[serde(default)]
    pub policy_oids: Vec<String>,
    /// URL of the CPS, as an id-qt-cps qualifier (S/MIME BR §7.1.2.3 a: HTTP or HTTPS).
    #[serde(default)]
    pub cps_uri: Option<String>,
}

impl Smime {
    /// S/MIME BR §1.2 / §7.1.6.1: the reserved policy identifier of this type and generation,
    /// 2.23.140.1.5.<type>.<generation>.
    pub fn reserved_policy_oid(&self) -> [u64; 7] {
        let ty = match self.validation {
            Validation::Mailbox => 1,
            Validation::Individual => 4,
        };
        let generation = match self.generation {
            Generation::Multipurpose => 2,
            Generation::Strict => 3,
        };
        [2, 23, 140, 1, 5, ty, generation]
    }

    /// The organisation's OIDs, parsed.
    fn org_oids(&self) -> Result<Vec<Vec<u64>>> {
        self.policy_oids.iter().map(|s| parse_oid(s)).collect()
    }

    /// Checks the settings against the rest of the profile (at configuration load): the
    /// EKUs of the generation (§7.1.2.3 f), mailbox SANs only (§7.1.4.2.1), the validity cap
    /// (§6.3.2), the policy OIDs and the CPS URL (§7.1.2.3 a).
    pub fn check(&self, ekus: &[String], san_types: &[String], validity_days: u32) -> Result<()> {
        let bad = |m: String| Err(Error::Malformed(m));
        if !ekus.iter().any(|e| e == "emailProtection") {
            return bad("an S/MIME profile needs the emailProtection extended key usage".into());
        }
        for e in ekus {
            let ok = match self.generation {
                Generation::Strict => e == "emailProtection",
                Generation::Multipurpose => e == "emailProtection" || e == "clientAuth",
            };
            if !ok {
                return bad(format!(
                    "a {} S/MIME profile may not carry the {e} extended key usage",
                    self.generation_name()
                ));
            }
        }
        if san_types.iter().any(|t| t != "email") {
            return bad(
                "an S/MIME profile issues mailbox names only (san_types = [\"email\"])".into(),
            );
        }
        if validity_days > MAX_VALIDITY_DAYS {
            return bad(format!(
                "an S/MIME profile's validity_days is at most {MAX_VALIDITY_DAYS}"
            ));
        }
        let org = self.org_oids()?;
        if org.iter().any(|o| o.starts_with(&[2, 23, 140, 1])) {
            return bad("policy_oids are the organisation's own, not CA/Browser Forum OIDs".into());
        }
        if let Some(uri) = &self.cps_uri {
            let lower = uri.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://"))
                || !uri.is_ascii()
                || uri
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return bad(format!("cps_uri must be an http or https URL, not {uri:?}"));
            }
        }
        Ok(())
    }

    fn generation_name(&self) -> &'static str {
        match self.generation {
            Generation::Multipurpose => "multipurpose",
            Generation::Strict => "strict",
        }
    }

    /// S/MIME BR §7.1.2.3 e: the key usages for a subject key of `key`.
    pub fn key_usages(&self, key: KeyType) -> Result<Vec<KeyUsagePurpose>> {
        use KeyUsagePurpose::{DigitalSignature, KeyAgreement, KeyEncipherment};
        let management = match key {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => Some(KeyEncipherment),
            KeyType::P256 | KeyType::P384 => Some(KeyAgreement),
            KeyType::Ed25519 => None,
        };
        Ok(match (self.key_use, management) {
            (KeyUse::Dual, Some(m)) => vec![DigitalSignature, m],
            (KeyUse::Dual | KeyUse::Signing, _) => vec![DigitalSignature],
            (KeyUse::Encryption, Some(m)) => vec![m],
            (KeyUse::Encryption, None) => {
                return Err(Error::BadCsr(
                    "an Ed25519 key only signs: it cannot have an encryption certificate".into(),
                ))
            }
        })
    }

    /// The certificatePolicies extension value (RFC 5280 §4.2.1.4): the reserved OID, then the
    /// organisation's; the CPS qualifier on the organisation's first OID, or on the reserved
    /// one when there is none.
    pub fn certificate_policies(&self) -> Result<rcgen::CustomExtension> {
        use yasna::models::ObjectIdentifier;
        let mut oids = vec![self.reserved_policy_oid().to_vec()];
        oids.extend(self.org_oids()?);
        let cps_on = if oids.len() > 1 { 1 } else { 0 };
        let der = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                for (i, oid) in oids.iter().enumerate() {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                        if let (true, Some(uri)) = (i == cps_on, &self.cps_uri) {
                            w.next().write_sequence(|w| {
                                w.next().write_sequence(|w| {
                                    w.next()
                                        .write_oid(&ObjectIdentifier::from_slice(OID_QT_CPS));
                                    w.next().write_ia5_string(uri);
                                })
                            })
                        }
                    })
                }
            })
        });
        Ok(rcgen::CustomExtension::from_oid_content(
            OID_CERTIFICATE_POLICIES,
            der,
        ))
    }

    /// S/MIME BR §7.1.4.2: the subject of a person's certificate. Mailbox-validated: the
    /// commonName is the first mailbox address of `sans` (left out when longer than a
    /// commonName may be). Individual-validated: givenName and surname, or pseudonym, from
    /// `person`, and the commonName is that personal name (or, when too long, the mailbox
    /// address). A certificate without a mailbox address, or an individual one without
    /// `person`'s names, is refused.
    pub fn subject(
        &self,
        sans: &[SanName],
        person: Option<&PersonName>,
    ) -> Result<DistinguishedName> {
        let mailbox = sans
            .iter()
            .find_map(|s| match s {
                SanName::Email(e) => Some(e.as_str()),
                _ => None,
            })
            .ok_or_else(|| {
                Error::BadCsr("an S/MIME certificate needs the person's mail address".into())
            })?;
        let fits = |s: &str| s.chars().count() <= UB_COMMON_NAME;
        let mut dn = DistinguishedName::new();
        match self.validation {
            Validation::Mailbox => {
                if fits(mailbox) {
                    dn.push(DnType::CommonName, mailbox);
                }
            }
            Validation::Individual => {
                let p = person.filter(|p| p.is_complete()).ok_or_else(|| {
                    Error::Malformed(
                        "an individual-validated S/MIME certificate needs the person's \
                         given_name and family_name (or a pseudonym) in the registry"
                            .into(),
                    )
                })?;
                let cn = p.personal_name();
                if fits(&cn) {
                    dn.push(DnType::CommonName, cn);
                } else if fits(mailbox) {
                    dn.push(DnType::CommonName, mailbox);
                }
                match &p.pseudonym {
                    Some(ps) if p.given_name.is_none() && p.family_name.is_none() => {
                        dn.push(DnType::CustomDnType(OID_PSEUDONYM.to_vec()), ps.as_str());
                    }
                    _ => {
                        if let Some(g) = &p.given_name {
                            dn.push(DnType::CustomDnType(OID_GIVEN_NAME.to_vec()), g.as_str());
                        }
                        if let Some(f) = &p.family_name {
                            dn.push(DnType::CustomDnType(OID_SURNAME.to_vec()), f.as_str());
                        }
                    }
                }
            }
        }
        Ok(dn)
    }
}

/// A person's verified names from the registry, for the individual-validated subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    /// givenName.
    pub given_name: Option<String>,
    /// surname.
    pub family_name: Option<String>,
    /// pseudonym: used only when neither givenName nor surname is known (S/MIME BR
    /// §7.1.4.2.2 a: a pseudonym and a personal name do not go together).
    pub pseudonym: Option<String>,
}

impl PersonName {
    /// Whether the names make an individual-validated subject: a given or family name, or a
    /// pseudonym (S/MIME BR §7.1.4.2.6 note 2).
    pub fn is_complete(&self) -> bool {
        self.given_name.is_some() || self.family_name.is_some() || self.pseudonym.is_some()
    }

    /// The commonName: "given family", or the pseudonym.
    pub fn personal_name(&self) -> String {
        match (&self.given_name, &self.family_name, &self.pseudonym) {
            (Some(g), Some(f), _) => format!("{g} {f}"),
            (Some(n), None, _) | (None, Some(n), _) => n.clone(),
            (None, None, Some(p)) => p.clone(),
            (None, None, None) => String::new(),
        }
    }
}

/// Parses a dotted OID (at least two arcs, the first 0 to 2).
pub fn parse_oid(s: &str) -> Result<Vec<u64>> {
    let bad = || Error::Malformed(format!("{s:?} is not a dotted object identifier"));
    let arcs = s
        .split('.')
        .map(|a| {
            if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                Err(bad())
            } else {
                a.parse::<u64>().map_err(|_| bad())
            }
        })
        .collect::<Result<Vec<u64>>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
        return Err(bad());
    }
    Ok(arcs)
}

#[cfg(test)]
#[path = "smime_tests.rs"]
mod tests;
