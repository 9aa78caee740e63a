//! The issuance engine: the CA's keys and certificates, CSR policy, profiles and signing.
//!
//! Nothing here knows about HTTP or about which protocol asked for a certificate.

pub mod crl;
pub mod csr;
pub mod issuance;
pub mod key_type;
pub mod keys;
pub mod ocsp;
pub mod pkcs12;
pub mod pkcs7;
pub mod profile;
pub mod ra;
pub mod serial;
pub mod signer;
pub mod smime;
pub mod windows_sid;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

pub use key_type::KeyType;
pub use profile::Profile;

use crate::config::CaConfig;
use crate::error::{Error, Result};
use crate::ids::{Serial, WindowsSid};
use profile::SanName;

/// OID of the Authority Information Access extension (RFC 5280 §4.2.2.1).
const OID_AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// The certificate authority: the issuing CA's key and the chain up to the root.
pub struct Ca {
    /// rcgen's view of the issuing CA (its subject, key identifier and key).
    issuer: Issuer<'static, signer::Signer>,
    /// DER of the issuing CA certificate, then its issuers up to the root.
    chain: Vec<Vec<u8>>,
    /// The issuing CA's subject, as text, for records and logs.
    issuer_name: String,
    /// The issuing CA's key type, for csrattrs and logs.
    key_type: KeyType,
    /// The issuing CA's notAfter: no certificate it signs may outlive it (RFC 5280 §6.1.3).
    not_after: OffsetDateTime,
    /// The root CA (when enrolld holds its key), to sign the root CRL.
    root: Option<Issuer<'static, signer::Signer>>,
    /// The server's counters. Every channel hands this CA to the issuance pipeline, so the
    /// pipeline counts each certificate here, whatever the channel.
    metrics: Arc<crate::metrics::Metrics>,
}

/// Everything that goes into one end-entity certificate. The caller decided the names.
pub struct IssueParams<'a> {
    /// The subject public key info (DER) from the verified CSR or a generated key.
    pub spki_der: &'a [u8],
    /// Type of that key: decides which key usages fit.
    pub key_type: KeyType,
    /// The subject commonName.
    pub common_name: &'a str,
    /// The subject alternative names.
    pub sans: &'a [SanName],
    /// The profile every extension comes from.
    pub profile: &'a Profile,
    /// Serial number, already known to be unused.
    pub serial: &'a Serial,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The subject's registry SID, for the szOID_NTDS_CA_SECURITY_EXT extension (Windows
    /// strong mapping); `None` leaves the extension out.
    pub windows_sid: Option<&'a WindowsSid>,
    /// The person's registry names, for the subject of an individual-validated S/MIME
    /// profile ([`smime::Smime::subject`]); an S/MIME profile ignores `common_name`.
    pub person: Option<&'a smime::PersonName>,
}

/// Paths of the CA material inside the data directory.
pub struct CaPaths {
    /// Issuing CA certificate (PEM).
    pub issuing_cert: PathBuf,
    /// Issuing CA private key (PEM, 0600).
    pub issuing_key: PathBuf,
    /// The chain above the issuing CA, root last (PEM); may be empty for an imported root.
    pub chain: PathBuf,
    /// Root CA private key (PEM, 0600), when enrolld created the root.
    pub root_key: PathBuf,
}

impl CaPaths {
    /// The layout under `dir`.
    pub fn new(dir: &Path) -> Self {
        let ca = dir.join("ca");
        CaPaths {
            issuing_cert: ca.join("issuing.crt"),
            issuing_key: ca.join("issuing.key"),
            chain: ca.join("chain.pem"),
            root_key: ca.join("root.key"),
        }
    }

    /// Whether a CA exists here already.
    pub fn exists(&self) -> bool {
        self.issuing_cert.exists() && self.issuing_key.exists()
    }
}

impl Ca {
    /// Creates a root and an issuing CA under `dir` (which must not contain one).
    /// `root_crl_url` becomes the issuing CA certificate's CRL distribution point (relying
    /// parties such as Windows NPS check the whole chain).
    pub fn create(dir: &Path, cfg: &CaConfig, root_crl_url: Option<&str>) -> Result<()> {
        let paths = CaPaths::new(dir);
        std::fs::create_dir_all(dir.join("ca"))?;
        let now = OffsetDateTime::now_utc();

        let root_key = keys::generate(cfg.key_type)?;
        let mut root = CertificateParams::default();
        root.serial_number = Some(serial_number(&serial::random_serial()?));
        root.not_before = now - Duration::hours(1);
        root.not_after = now + Duration::days(i64::from(cfg.root_validity_days));
        root.distinguished_name = dn(&format!("{} Root CA", cfg.organization), &cfg.organization);
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_cert = root.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root, root_key);

        let issuing_key = keys::generate(cfg.key_type)?;
        let mut inter = CertificateParams::default();
        inter.serial_number = Some(serial_number(&serial::random_serial()?));
        inter.not_before = now - Duration::hours(1);
        inter.not_after = now
            + Duration::days(i64::from(
                cfg.issuing_validity_days.min(cfg.root_validity_days),
            ));
        inter.distinguished_name = dn(
            &format!("{} Issuing CA", cfg.organization),
            &cfg.organization,
        );
        inter.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        inter.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        inter.use_authority_key_identifier_extension = true;
        if let Some(url) = root_crl_url {
            inter.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        let inter_cert = inter.signed_by(&issuing_key, &root_issuer)?;

        let pass = keys::passphrase(cfg)?;
        keys::write_key(&paths.root_key, root_issuer.key(), pass.as_deref())?;
        keys::write_key(&paths.issuing_key, &issuing_key, pass.as_deref())?;
        std::fs::write(&paths.chain, root_cert.pem())?;
        std::fs::write(&paths.issuing_cert, inter_cert.pem())?;
        Ok(())
    }

    /// Imports an existing CA certificate (with its chain, root last) and key. The key is
    /// stored encrypted with `passphrase` (the configured CA key passphrase, as for a created
    /// CA), plain only when none is configured; the key file read may be plain or encrypted.
    pub fn import(
        dir: &Path,
        cert_pem_file: &Path,
        key_pem_file: &Path,
        passphrase: Option<&str>,
    ) -> Result<()> {
        let paths = CaPaths::new(dir);
        let text = std::fs::read_to_string(cert_pem_file)?;
        let certs = pem_certs(&text)?;
        let (first, rest) = certs
            .split_first()
            .ok_or_else(|| Error::Malformed("no certificate in import file".into()))?;
        let key = keys::load_any(key_pem_file, passphrase)?;
        let (_, parsed) = X509Certificate::from_der(first)
            .map_err(|_| Error::Malformed("import: certificate does not parse".into()))?;
        if !parsed.is_ca() {
            return Err(Error::Malformed("import: certificate is not a CA".into()));
        }
        if parsed.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key) {
            return Err(Error::Malformed(
                "import: key does not match certificate".into(),
            ));
        }
        std::fs::create_dir_all(dir.join("ca"))?;
        keys::write_key(&paths.issuing_key, &key, passphrase)?;
        std::fs::write(&paths.issuing_cert, pem_encode("CERTIFICATE", first))?;
        let chain: String = if rest.is_empty() {
            // Only a self-signed import is its own trust anchor; an intermediate needs its chain.
            if parsed.subject() != parsed.issuer() || parsed.verify_signature(None).is_err() {
                return Err(Error::Malformed(
                    "import: the CA certificate is not self-signed; append its chain up to the root to the PEM file".into(),
                ));
            }
            pem_encode("CERTIFICATE", first)
        } else {
            rest.iter().map(|c| pem_encode("CERTIFICATE", c)).collect()
        };
        std::fs::write(&paths.chain, chain)?;
        Ok(())
    }

    /// Encrypts the plain CA keys under `dir` (issuing and, if present, root) in place with
    /// `passphrase`; answers the files it encrypted.
    pub fn encrypt_keys(dir: &Path, passphrase: &str) -> Result<Vec<PathBuf>> {
        let paths = CaPaths::new(dir);
        if !paths.exists() {
            return Err(Error::Malformed(format!("{} holds no CA", dir.display())));
        }
        let mut done = Vec::new();
        let ra = ra::RaPaths::new(dir);
        for p in [paths.issuing_key, paths.root_key, ra.key, ra.previous_key] {
            if p.exists() && keys::encrypt_file_in_place(&p, passphrase)? {
                done.push(p);
            }
        }
        Ok(done)
    }

    /// Loads the CA from `dir` (passphrase, if any, from `ENROLLD_CA_PASSPHRASE`).
    pub fn load(dir: &Path) -> Result<Ca> {
        Ca::load_with(dir, keys::passphrase_from_env().as_deref())
    }

    /// Loads the CA from `dir`, decrypting its keys with `passphrase`. With a passphrase, a
    /// key stored unencrypted is refused.
    pub fn load_with(dir: &Path, passphrase: Option<&str>) -> Result<Ca> {
        let paths = CaPaths::new(dir);
        let key = keys::load_key(&paths.issuing_key, passphrase)?;
        let issuing = pem_certs(&std::fs::read_to_string(&paths.issuing_cert)?)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("issuing certificate file is empty".into()))?;
        let mut chain = vec![issuing.clone()];
        for c in pem_certs(&std::fs::read_to_string(&paths.chain)?)? {
            if c != issuing {
                chain.push(c);
            }
        }
        let (_, parsed) = X509Certificate::from_der(&issuing)
            .map_err(|_| Error::Internal("issuing certificate does not parse".into()))?;
        let issuer_name = parsed.subject().to_string();
        let key_type = key_type_of_cert(&parsed)?;
        let not_after = parsed.validity().not_after.to_datetime();
        let issuer =
            Issuer::from_ca_cert_der(&issuing.clone().into(), signer::Signer(Box::new(key)))?;
        let root = match (paths.root_key.exists(), chain.last()) {
            (true, Some(root_der)) if chain.len() > 1 => {
                let root_key = keys::load_key(&paths.root_key, passphrase)?;
                Some(Issuer::from_ca_cert_der(
                    &root_der.clone().into(),
                    signer::Signer(Box::new(root_key)),
                )?)
            }
            _ => None,
        };
        Ok(Ca {
            issuer,
            chain,
            issuer_name,
            key_type,
            not_after,
            root,
            metrics: Arc::default(),
        })
    }

    /// The validity window a certificate of this CA gets for the one asked for: cut at the
    /// issuing CA's own notAfter (a certificate must not outlive its issuer, RFC 5280 §6.1.3;
    /// relying parties would refuse it at the end anyway), refused if nothing is left.
    pub fn validity_within(
        &self,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<(OffsetDateTime, OffsetDateTime)> {
        let not_after = not_after.min(self.not_after);
        if not_after <= not_before {
            return Err(Error::Malformed(
                "the issuing CA expires before the certificate would start".into(),
            ));
        }
        Ok((not_before, not_after))
    }

    /// Signs an end-entity certificate. Every extension is built from `p.profile`; the
    /// validity is `p`'s, cut by [`Ca::validity_within`].
    pub fn issue(&self, p: &IssueParams<'_>) -> Result<Vec<u8>> {
        let (not_before, not_after) = self.validity_within(p.not_before, p.not_after)?;
        let mut params = CertificateParams::default();
        params.serial_number = Some(serial_number(p.serial));
        params.not_before = not_before;
        params.not_after = not_after;
        params.distinguished_name = match &p.profile.smime {
            Some(smime) => smime.subject(p.sans, p.person)?,
            None => {
                let mut name = DistinguishedName::new();
                if !p.common_name.is_empty() {
                    name.push(DnType::CommonName, p.common_name);
                }
                name
            }
        };
        params.subject_alt_names = p
            .sans
            .iter()
            .map(SanName::to_rcgen)
            .collect::<Result<_>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = profile::key_usages_for(p.profile, p.key_type)?;
        params.extended_key_usages = p
            .profile
            .extended_key_usage
            .iter()
            .map(|e| profile::parse_eku(e))
            .collect::<Result<Vec<ExtendedKeyUsagePurpose>>>()?;
        params.use_authority_key_identifier_extension = true;
        // An explicit empty URL leaves the extension (or the AIA entry) out.
        fn non_empty(u: &Option<String>) -> Option<&str> {
            u.as_deref().filter(|s| !s.is_empty())
        }
        if let Some(url) = non_empty(&p.profile.crl_url) {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        let (ocsp, issuers) = (
            non_empty(&p.profile.ocsp_url),
            non_empty(&p.profile.ca_issuers_url),
        );
        if ocsp.is_some() || issuers.is_some() {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    OID_AIA,
                    pkcs7::authority_info_access(ocsp, issuers),
                ));
        }
        if let Some(smime) = &p.profile.smime {
            params.custom_extensions.push(smime.certificate_policies()?);
        }
        if let Some(sid) = p.windows_sid {
            // Non-critical (the default of from_oid_content), as ADCS issues it.
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    windows_sid::OID_NTDS_CA_SECURITY_EXT,
                    windows_sid::security_extension(sid),
                ));
        }
        let spki = rcgen::SubjectPublicKeyInfo::from_der(p.spki_der)
            .map_err(|_| Error::BadCsr("unsupported subject public key".into()))?;
        let cert = params.signed_by(&spki, &self.issuer)?;
        Ok(cert.der().to_vec())
    }

    /// Issues the TLS server certificate for the listener (EKU serverAuth).
    pub fn issue_server_cert(&self, names: &[SanName]) -> Result<(Vec<u8>, KeyPair)> {
        let key = keys::generate(KeyType::P256)?;
        let mut params = CertificateParams::default();
        params.serial_number = Some(serial_number(&serial::random_serial()?));
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = (now + Duration::days(397)).min(self.not_after);
        params.distinguished_name = dn("enrolld server", "enrolld");
        params.subject_alt_names = names.iter().map(SanName::to_rcgen).collect::<Result<_>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.der().to_vec(), key))
    }

    /// Issues the SCEP RA certificate for `key` (RSA): clients encrypt their requests to it
    /// and check the CA's replies with it (RFC 8894 §2.1). keyUsage digitalSignature and
    /// keyEncipherment, no EKU, not a CA; `now` and `days` bound its validity.
    pub fn issue_ra_cert(&self, key: &KeyPair, now: OffsetDateTime, days: u32) -> Result<Vec<u8>> {
        let mut params = CertificateParams::default();
        params.serial_number = Some(serial_number(&serial::random_serial()?));
        params.not_before = now - Duration::minutes(5);
        params.not_after = (now + Duration::days(i64::from(days))).min(self.not_after);
        let org = self
            .issuer_name
            .split(", ")
            .find_map(|p| p.strip_prefix("O="))
            .unwrap_or("enrolld");
        params.distinguished_name = dn(&format!("{org} SCEP RA"), org);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(key, &self.issuer)?;
        Ok(cert.der().to_vec())
    }

    /// DER of the issuing CA certificate.
    pub fn issuing_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// DER of the issuing CA and the certificates above it, root last.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The server's counters: the issuance pipeline counts here, and the server hands the
    /// same registry to the HTTP layer and `GET /metrics`.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The issuing CA's subject as text.
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// The issuing CA's key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// rcgen's issuing CA, for CRLs.
    pub(crate) fn issuer(&self) -> &Issuer<'static, signer::Signer> {
        &self.issuer
    }

    /// rcgen's root CA, when its key is here.
    pub(crate) fn root_issuer(&self) -> Option<&Issuer<'static, signer::Signer>> {
        self.root.as_ref()
    }

    /// DER of the root (last certificate of the chain).
    pub fn root_der(&self) -> &[u8] {
        self.chain.last().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Signs `msg` with the issuing CA key; returns (AlgorithmIdentifier DER, signature).
    pub fn sign_raw(&self, msg: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        use rcgen::SigningKey;
        let sig = self.issuer.key().sign(msg)?;
        Ok((signature_algorithm_id(self.key_type), sig))
    }

    /// PEM of every CA certificate: what `ca-bundle.pem` holds.
    pub fn bundle_pem(&self) -> String {
        self.chain
            .iter()
            .rev()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect()
    }
}

/// The AlgorithmIdentifier (DER) of signatures made by a CA key of type `kt`.
pub fn signature_algorithm_id(kt: KeyType) -> Vec<u8> {
    use yasna::models::ObjectIdentifier;
    let (oid, null): (&[u64], bool) = match kt {
        KeyType::P256 => (&[1, 2, 840, 10045, 4, 3, 2], false),
        KeyType::P384 => (&[1, 2, 840, 10045, 4, 3, 3], false),
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
            (&[1, 2, 840, 113549, 1, 1, 11], true)
        }
        KeyType::Ed25519 => (&[1, 3, 101, 112], false),
    };
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&ObjectIdentifier::from_slice(oid));
            if null {
                w.next().write_null();
            }
        })
    })
}

fn dn(cn: &str, org: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, org);
    d.push(DnType::CommonName, cn);
    d
}

fn serial_number(s: &Serial) -> SerialNumber {
    SerialNumber::from_slice(s.as_bytes())
}

fn key_type_of_cert(c: &X509Certificate<'_>) -> Result<KeyType> {
    use x509_parser::public_key::PublicKey;
    let spki = c.public_key();
    match spki.parsed() {
        Ok(PublicKey::EC(p)) if p.key_size() == 256 => Ok(KeyType::P256),
        Ok(PublicKey::EC(p)) if p.key_size() == 384 => Ok(KeyType::P384),
        Ok(PublicKey::RSA(k)) if k.key_size() >= 4096 => Ok(KeyType::Rsa4096),
        Ok(PublicKey::RSA(k)) if k.key_size() >= 3072 => Ok(KeyType::Rsa3072),
        Ok(PublicKey::RSA(_)) => Ok(KeyType::Rsa2048),
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => Ok(KeyType::Ed25519),
        _ => Err(Error::Internal("unsupported CA key type".into())),
    }
}

/// PEM-encodes DER with 64-column base64 lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64ct::Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Every CERTIFICATE block of a PEM text, as DER.
pub fn pem_certs(text: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = after
            .find("-----END CERTIFICATE-----")
            .ok_or_else(|| Error::Malformed("unterminated PEM certificate".into()))?;
        out.push(decode_base64_lenient(&after[..end])?);
        rest = &after[end..];
    }
    Ok(out)
}

/// Decodes standard base64, ignoring any whitespace (RFC 8951 §3: line breaks are optional).
pub fn decode_base64_lenient(text: &str) -> Result<Vec<u8>> {
    use base64ct::Encoding;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64ct::Base64::decode_vec(&compact).map_err(|_| Error::Malformed("invalid base64".into()))
}

use base64ct::Encoding as _;

#[cfg(test)]
#[path = "issue_tests.rs"]
mod tests;
