//! The certificate and RSA key that sign Apple configuration profiles (`[scep]
//! profile_signing_cert` and `profile_signing_key`): a signed profile is a CMS SignedData
//! (RFC 5652, DER) whose content is the plist, which devices and Apple Configurator show as
//! verified when they trust the signer's chain. Read once at start; a file that cannot be read
//! or a key that is not RSA stops the server from starting.

use std::path::Path;

use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::ScepConfig;
use crate::error::{Error, Result};
use crate::scep::cms;

/// The certificate and RSA key that sign profiles.
pub struct ProfileSigner {
    /// The signer's certificate, DER: named in the SignerInfo and carried first.
    cert_der: Vec<u8>,
    /// The certificates after it in the PEM file (its chain), DER: carried so that a device
    /// can build the path to an anchor it trusts.
    chain: Vec<Vec<u8>>,
    /// The RSA key (`cms::sign` signs RSA with SHA-256 only).
    key: RsaKeyPair,
}

impl std::fmt::Debug for ProfileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProfileSigner { .. }")
    }
}

impl ProfileSigner {
    /// The signer `[scep]` configures, read at start: `None` when neither file is set. A file
    /// that cannot be read, a key that is not RSA or does not belong to the certificate is a
    /// configuration error.
    pub fn from_config(scep: &ScepConfig) -> Result<Option<ProfileSigner>> {
        match (&scep.profile_signing_cert, &scep.profile_signing_key) {
            (None, None) => Ok(None),
            (Some(c), Some(k)) => Self::load(c, k).map(Some),
            _ => Err(Error::Malformed(
                "scep.profile_signing_cert and scep.profile_signing_key go together".into(),
            )),
        }
    }

    /// Loads a PEM certificate (its chain may follow) and a PEM RSA key (PKCS#8 or PKCS#1,
    /// unencrypted).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<ProfileSigner> {
        let cert_err = |m: String| {
            Error::Malformed(format!(
                "scep.profile_signing_cert {}: {m}",
                cert_path.display()
            ))
        };
        let key_err = |m: &str| {
            Error::Malformed(format!(
                "scep.profile_signing_key {}: {m}",
                key_path.display()
            ))
        };
        let text = std::fs::read_to_string(cert_path).map_err(|e| cert_err(e.to_string()))?;
        let mut certs = crate::ca::pem_certs(&text)
            .map_err(|e| cert_err(e.public_message().to_owned()))?
            .into_iter();
        let cert_der = certs
            .next()
            .ok_or_else(|| cert_err("no PEM certificate".into()))?;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|_| cert_err("the certificate does not parse".into()))?;
        let pem = std::fs::read(key_path).map_err(|e| key_err(&e.to_string()))?;
        let key = match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(PrivateKeyDer::Pkcs8(k)) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).ok(),
            Ok(PrivateKeyDer::Pkcs1(k)) => RsaKeyPair::from_der(k.secret_pkcs1_der()).ok(),
            Ok(_) => None,
            Err(_) => return Err(key_err("not an unencrypted PEM private key")),
        }
        .ok_or_else(|| key_err("not an RSA key (profiles are signed with RSA and SHA-256)"))?;
        if key.public_key().as_ref() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(key_err("the key does not belong to the certificate"));
        }
        Ok(ProfileSigner {
            cert_der,
            chain: certs.collect(),
            key,
        })
    }

    /// A CMS SignedData (DER) with `plist` as its content.
    pub fn sign(&self, plist: &[u8]) -> Result<Vec<u8>> {
        let chain: Vec<&[u8]> = self.chain.iter().map(Vec::as_slice).collect();
        cms::sign(
            Some(plist),
            &[],
            &cms::Signer {
                cert_der: &self.cert_der,
                key: &self.key,
            },
            &chain,
            &[],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::KeyType;

    #[test]
    fn signer_refuses_a_key_that_is_not_rsa() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::ca::keys::generate(KeyType::P256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["signer.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).unwrap();
        let e =
            ProfileSigner::load(&dir.path().join("c.pem"), &dir.path().join("k.pem")).unwrap_err();
        assert!(e.to_string().contains("not an RSA key"), "{e}");
        let e = ProfileSigner::load(&dir.path().join("c.pem"), &dir.path().join("missing.pem"))
            .unwrap_err();
        assert!(e.to_string().contains("scep.profile_signing_key"), "{e}");
    }

    #[test]
    fn signer_refuses_a_key_of_another_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = crate::ca::keys::generate(KeyType::Rsa2048).unwrap();
        let k2 = crate::ca::keys::generate(KeyType::Rsa2048).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["signer.example".into()])
            .unwrap()
            .self_signed(&k1)
            .unwrap();
        std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("k2.pem"), k2.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("k1.pem"), k1.serialize_pem()).unwrap();
        let e =
            ProfileSigner::load(&dir.path().join("c.pem"), &dir.path().join("k2.pem")).unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
        assert!(ProfileSigner::load(&dir.path().join("c.pem"), &dir.path().join("k1.pem")).is_ok());
    }
}
