//! The SCEP registration authority (RFC 8894 §2.1): an RSA key and a certificate from the
//! issuing CA. SCEP encrypts requests by RSA key transport, so even an ECDSA CA needs an RSA
//! key to receive them; the RA key also signs the replies.
//!
//! The key lives beside the CA keys and is encrypted the same way (`ca.key_passphrase_file`).
//! `enrolld ca rotate-ra` replaces it; the one before is kept, so that a message encrypted
//! to the RA certificate a client fetched earlier still opens.

use std::path::{Path, PathBuf};

use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::RsaKeyPair;
use time::OffsetDateTime;

use super::{keys, pem_certs, pem_encode, Ca, KeyType};
use crate::error::{Error, Result};

/// Where the RA material lives in the data directory.
pub struct RaPaths {
    /// Current RA certificate (PEM).
    pub cert: PathBuf,
    /// Current RA key (PEM, 0600, encrypted like the CA keys).
    pub key: PathBuf,
    /// The RA certificate before the last rotation.
    pub previous_cert: PathBuf,
    /// Its key.
    pub previous_key: PathBuf,
}

impl RaPaths {
    /// The layout under the data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        let ca = dir.join("ca");
        RaPaths {
            cert: ca.join("scep-ra.crt"),
            key: ca.join("scep-ra.key"),
            previous_cert: ca.join("scep-ra-previous.crt"),
            previous_key: ca.join("scep-ra-previous.key"),
        }
    }
}

/// One RA key and certificate, loaded for signing and decryption.
pub struct RaKey {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The key, for signing CertReps.
    pub signing: RsaKeyPair,
    /// The key, for opening envelopes.
    pub decrypting: Pkcs1PrivateDecryptingKey,
}

/// The RA: the current key and, after a rotation, the one before.
pub struct Ra {
    /// Signs replies; named in GetCACert.
    pub current: RaKey,
    /// Still opens messages encrypted to the RA certificate before the last rotation.
    pub previous: Option<RaKey>,
}

impl Ra {
    /// Loads the RA from `dir`, creating it (RSA-2048, `days` valid) if there is none.
    pub fn load_or_create(
        dir: &Path,
        ca: &Ca,
        passphrase: Option<&str>,
        days: u32,
        now: OffsetDateTime,
    ) -> Result<Ra> {
        let p = RaPaths::new(dir);
        if !p.cert.exists() || !p.key.exists() {
            create(&p.cert, &p.key, ca, passphrase, days, now)?;
        }
        let previous = if p.previous_cert.exists() && p.previous_key.exists() {
            Some(load(&p.previous_cert, &p.previous_key, passphrase)?)
        } else {
            None
        };
        Ok(Ra {
            current: load(&p.cert, &p.key, passphrase)?,
            previous,
        })
    }

    /// The issuing CA itself as the RA (`scep.ca_as_ra`): its certificate and key, which must
    /// be RSA.
    pub fn from_ca(dir: &Path, passphrase: Option<&str>) -> Result<Ra> {
        let p = super::CaPaths::new(dir);
        let current = load(&p.issuing_cert, &p.issuing_key, passphrase).map_err(|_| {
            Error::Internal(
                "scep.ca_as_ra needs an issuing CA with an RSA key; this CA's key is not RSA"
                    .into(),
            )
        })?;
        Ok(Ra {
            current,
            previous: None,
        })
    }

    /// Replaces the RA key and certificate; the current pair becomes the previous one (the
    /// one before is deleted). Answers the new certificate, DER.
    pub fn rotate(
        dir: &Path,
        ca: &Ca,
        passphrase: Option<&str>,
        days: u32,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        let p = RaPaths::new(dir);
        let new_cert = p.cert.with_extension("crt.new");
        let new_key = p.key.with_extension("key.new");
        let der = create(&new_cert, &new_key, ca, passphrase, days, now)?;
        if p.cert.exists() && p.key.exists() {
            std::fs::rename(&p.key, &p.previous_key)?;
            std::fs::rename(&p.cert, &p.previous_cert)?;
        }
        std::fs::rename(&new_key, &p.key)?;
        std::fs::rename(&new_cert, &p.cert)?;
        if let Some(d) = p.cert.parent() {
            std::fs::File::open(d)?.sync_all()?;
        }
        Ok(der)
    }

    /// Every RA key that may open a request: the current one first.
    pub fn keys(&self) -> impl Iterator<Item = &RaKey> {
        std::iter::once(&self.current).chain(self.previous.iter())
    }
}

fn create(
    cert_path: &Path,
    key_path: &Path,
    ca: &Ca,
    passphrase: Option<&str>,
    days: u32,
    now: OffsetDateTime,
) -> Result<Vec<u8>> {
    let key = keys::generate(KeyType::Rsa2048)?;
    let der = ca.issue_ra_cert(&key, now, days)?;
    keys::write_key(key_path, &key, passphrase)?;
    std::fs::write(cert_path, pem_encode("CERTIFICATE", &der))?;
    Ok(der)
}

fn load(cert_path: &Path, key_path: &Path, passphrase: Option<&str>) -> Result<RaKey> {
    let key = keys::load_key(key_path, passphrase)?;
    let pkcs8 = key.serialize_der();
    let internal = |w: &str| Error::Internal(format!("{}: {w}", key_path.display()));
    let signing = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| internal("not an RSA key"))?;
    let decrypting = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .ok()
        .and_then(|k| Pkcs1PrivateDecryptingKey::new(k).ok())
        .ok_or_else(|| internal("not an RSA key"))?;
    let cert_der = pem_certs(&std::fs::read_to_string(cert_path)?)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal(format!("{} is empty", cert_path.display())))?;
    Ok(RaKey {
        cert_der,
        signing,
        decrypting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CaConfig;

    #[test]
    fn rotation_keeps_the_previous_key_and_a_reload_serves_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
        let ca = Ca::load(dir.path()).unwrap();
        let now = OffsetDateTime::now_utc();
        let first = Ra::load_or_create(dir.path(), &ca, None, 30, now).unwrap();
        assert!(first.previous.is_none());
        // Loading again does not make a new one.
        let same = Ra::load_or_create(dir.path(), &ca, None, 30, now).unwrap();
        assert_eq!(same.current.cert_der, first.current.cert_der);
        let new = Ra::rotate(dir.path(), &ca, None, 30, now).unwrap();
        assert_ne!(new, first.current.cert_der);
        let after = Ra::load_or_create(dir.path(), &ca, None, 30, now).unwrap();
        assert_eq!(after.current.cert_der, new);
        assert_eq!(
            after.previous.as_ref().map(|p| p.cert_der.clone()),
            Some(first.current.cert_der.clone())
        );
        assert_eq!(after.keys().count(), 2);
        // The RA certificate: RSA, signed by the issuing CA, digitalSignature+keyEncipherment.
        let (_, c) = x509_parser::parse_x509_certificate(&new).unwrap();
        assert!(!c.is_ca());
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment());
        let (_, issuing) = x509_parser::parse_x509_certificate(ca.issuing_der()).unwrap();
        assert!(c.verify_signature(Some(issuing.public_key())).is_ok());
    }

    #[test]
    fn the_ra_key_is_encrypted_like_the_ca_keys() {
        let dir = tempfile::tempdir().unwrap();
        Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
        let ca = Ca::load(dir.path()).unwrap();
        let now = OffsetDateTime::now_utc();
        Ra::load_or_create(dir.path(), &ca, Some("pass phrase"), 30, now).unwrap();
        let p = RaPaths::new(dir.path());
        assert!(keys::is_encrypted(
            &std::fs::read_to_string(&p.key).unwrap()
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Ra::load_or_create(dir.path(), &ca, None, 30, now).is_err());
        assert!(Ra::load_or_create(dir.path(), &ca, Some("pass phrase"), 30, now).is_ok());
    }
}
