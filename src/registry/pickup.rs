//! Pickup links: a one-time URL the administrator mails to a person. Opening it (GET) spends
//! nothing — mail scanners prefetch links; the POST that issues spends it, atomically with
//! storing the certificate. The person uploads a CSR, or lets the server generate the key and
//! downloads a PKCS#12 file protected by a passphrase shown once.

use base64ct::{Base64, Encoding};

use super::service::Registry;
use crate::ca::csr::Csr;
use crate::ca::issuance::{self, IssueRequest, Issued, Key, NameRule, Outcome, Spend};
use crate::ca::pkcs12::{self, P12Mode};
use crate::ca::profile::SanName;
use crate::ca::KeyType;
use crate::ca::{keys, pem_encode};
use crate::error::{Error, Result};
use crate::ids::ProfileName;
use crate::secrets::random_token;
use crate::states::SubjectStatus;
use crate::store::{PickupRecord, SubjectRecord};

/// What the page shows about a valid link.
pub struct PickupView {
    /// Who the certificate is for.
    pub name: String,
    /// Names it will carry.
    pub sans: Vec<String>,
    /// Expiry of the link, unix seconds.
    pub expires_at: i64,
    /// Whether the legacy PKCS#12 format is offered.
    pub legacy_p12: bool,
}

/// What the POST produced.
pub enum PickupResult {
    /// The certificate chain (PEM) for an uploaded CSR.
    Chain(String),
    /// A generated key and certificate, shown once.
    Pkcs12 {
        /// The PKCS#12 file: key, certificate and chain.
        p12: Vec<u8>,
        /// The passphrase that protects it, shown to the person only on the answer page.
        passphrase: String,
        /// The certificate's end of validity, unix seconds: the page tells the person.
        not_after: i64,
    },
}

/// The names a subject's certificates carry.
pub fn subject_names(s: &SubjectRecord) -> (String, Vec<SanName>) {
    match s.kind.as_str() {
        "person" => {
            let email = s.email.clone().unwrap_or_default();
            (
                s.display_name.clone().unwrap_or_else(|| email.clone()),
                vec![SanName::Email(email)],
            )
        }
        _ => (
            s.name.clone().unwrap_or_default(),
            s.dns_names
                .iter()
                .map(|d| SanName::Dns(d.clone()))
                .collect(),
        ),
    }
}

/// A random passphrase: 5 groups of 5 characters from a 32-letter alphabet (125 bits).
fn passphrase() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789A";
    let bytes = crate::secrets::random_bytes(25)?;
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    Ok(chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

impl Registry {
    /// Creates a pickup link for a subject; returns (url, expires_at).
    pub fn create_pickup(
        &self,
        actor: &str,
        s: &SubjectRecord,
        expires_in: Option<u64>,
        legacy_p12: bool,
    ) -> Result<(String, i64)> {
        let (record, url) = self.new_pickup(s, expires_in, legacy_p12)?;
        self.store.create_pickup(&record)?;
        self.store.flush()?;
        tracing::info!(%actor, pickup = %record.id, "pickup link created");
        Ok((url, record.expires_at))
    }

    /// A new pickup link for `s` (not stored yet) and its URL, which holds the only copy of
    /// the secret.
    pub(crate) fn new_pickup(
        &self,
        s: &SubjectRecord,
        expires_in: Option<u64>,
        legacy_p12: bool,
    ) -> Result<(PickupRecord, String)> {
        let id = crate::secrets::random_id_token(9)?;
        let secret = random_token(24)?;
        let t = self.clock.now();
        let expires_at = t + expires_in.unwrap_or(7 * 86400).clamp(60, 30 * 86400) as i64;
        let (common_name, sans) = subject_names(s);
        let url = format!("{}/pickup/{id}.{secret}", self.cfg.base_url());
        Ok((
            PickupRecord {
                version: 1,
                id,
                secret_hash: self.secrets.hash(&secret),
                subject_id: s.id.clone(),
                created_at: t,
                expires_at,
                legacy_p12,
                spent: None,
                common_name: Some(common_name),
                sans: Some(sans.iter().map(|n| n.to_string()).collect()),
            },
            url,
        ))
    }

    /// The names a link issues for: those fixed when it was made, or (links made before names
    /// were kept) the subject's.
    fn link_names(p: &PickupRecord, s: &SubjectRecord) -> Result<(String, Vec<SanName>)> {
        match (&p.common_name, &p.sans) {
            (Some(cn), Some(sans)) => Ok((
                cn.clone(),
                sans.iter()
                    .map(|n| SanName::parse(n))
                    .collect::<Result<Vec<_>>>()?,
            )),
            _ => Ok(subject_names(s)),
        }
    }

    /// Checks a link without spending it. Every failure is the same NotFound.
    fn pickup_lookup(&self, token: &str) -> Result<(PickupRecord, SubjectRecord)> {
        let gone =
            || Error::NotFound("this link is not valid: it is unknown, expired or used".into());
        let (id, secret) = token.split_once('.').ok_or_else(gone)?;
        if id.len() > 64 || secret.len() > 128 {
            return Err(gone());
        }
        let p = self.store.get_pickup(id)?.ok_or_else(gone)?;
        if !self.secrets.verify(secret, &p.secret_hash)
            || p.spent.is_some()
            || p.expires_at <= self.clock.now()
        {
            return Err(gone());
        }
        let s = self.store.get_subject(&p.subject_id)?.ok_or_else(gone)?;
        if s.status != SubjectStatus::Active {
            return Err(gone());
        }
        Ok((p, s))
    }

    /// `GET /pickup/<token>`: what the page shows. Spends nothing.
    pub fn pickup_view(&self, token: &str) -> Result<PickupView> {
        let (p, s) = self.pickup_lookup(token)?;
        let (name, sans) = Self::link_names(&p, &s)?;
        Ok(PickupView {
            name,
            sans: sans.iter().map(|n| n.to_string()).collect(),
            expires_at: p.expires_at,
            legacy_p12: p.legacy_p12,
        })
    }

    /// `POST /pickup/<token>`: issues for an uploaded CSR (PEM or base64 DER), or for a key the
    /// server generates (`key`: p256, rsa2048, rsa3072; `legacy`: 3DES/SHA-1 PKCS#12).
    pub fn pickup_issue(
        &self,
        token: &str,
        csr_text: Option<&str>,
        key: Option<&str>,
        legacy: bool,
    ) -> Result<PickupResult> {
        let (p, s) = self.pickup_lookup(token)?;
        let (cn, sans) = Self::link_names(&p, &s)?;
        let profile_name = ProfileName(s.kind.clone());
        let profile = self.cfg.profile(&profile_name)?;
        if legacy && !p.legacy_p12 {
            return Err(Error::Malformed(
                "this link does not offer the legacy format".into(),
            ));
        }
        let (csr, generated) = match (csr_text, key) {
            (Some(text), _) => {
                let der = crate::est::wire::decode_body(text.as_bytes())?;
                (Some(Csr::parse(&der)?), None)
            }
            (None, Some(k)) => {
                let kt = match k {
                    "p256" => KeyType::P256,
                    "rsa2048" => KeyType::Rsa2048,
                    "rsa3072" => KeyType::Rsa3072,
                    _ => {
                        return Err(Error::Malformed(
                            "key must be p256, rsa2048 or rsa3072".into(),
                        ))
                    }
                };
                let kp = keys::generate(kt)?;
                let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
                (None, Some((kp, spki, kt)))
            }
            (None, None) => {
                return Err(Error::Malformed("upload a CSR or choose a key type".into()))
            }
        };
        let key = match (&csr, &generated) {
            (Some(c), _) => Key::Csr(c),
            (None, Some((_, spki, kt))) => Key::Generated {
                spki_der: spki,
                key_type: *kt,
            },
            (None, None) => return Err(Error::Internal("pickup without a key".into())),
        };
        let plan = issuance::plan(
            &*self.store,
            IssueRequest {
                key,
                common_name: &cn,
                sans: &sans,
                rule: NameRule::Entitlement,
                profile_name: &profile_name,
                profile,
                not_before: None,
                not_after: None,
                subject_id: Some(s.id.clone()),
                spend: Spend::Pickup { id: p.id.clone() },
                channel: "pickup",
                label: None,
                credential: None,
                replaces: None,
                account: None,
                actor: format!("pickup:{}", p.id),
                now: self.clock.now(),
            },
        )?;
        let Outcome::Issued(Issued { serial, der }) =
            issuance::commit_blocking(&self.ca, &*self.store, &plan)?
        else {
            return Err(Error::NotFound(
                "this link is not valid: it is unknown, expired or used".into(),
            ));
        };
        tracing::info!(serial = %serial, subject = %cn, channel = "pickup", "certificate issued");
        let mut chain = vec![der];
        chain.extend(self.ca.chain().iter().cloned());
        match generated {
            None => Ok(PickupResult::Chain(
                chain.iter().map(|c| pem_encode("CERTIFICATE", c)).collect(),
            )),
            Some((kp, _, _)) => {
                let pass = passphrase()?;
                let mode = if legacy {
                    P12Mode::Legacy3Des
                } else {
                    P12Mode::Modern
                };
                let p12 = pkcs12::build(&kp.serialize_der(), &chain, &cn, &pass, mode)?;
                let not_after = x509_parser::parse_x509_certificate(&chain[0])
                    .map_err(|e| Error::Internal(format!("issued certificate unreadable: {e}")))?
                    .1
                    .validity()
                    .not_after
                    .timestamp();
                Ok(PickupResult::Pkcs12 {
                    p12,
                    passphrase: pass,
                    not_after,
                })
            }
        }
    }
}

/// The P12 as a data: URI for the download link of the one-time page.
pub fn data_uri(p12: &[u8]) -> String {
    format!(
        "data:application/x-pkcs12;base64,{}",
        Base64::encode_string(p12)
    )
}
