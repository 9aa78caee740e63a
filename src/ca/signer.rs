//! Where a CA's private key lives and how it signs.
//!
//! Certificates, CRLs and OCSP responses are all signed through [`CaSigner`]. The key held in
//! memory (loaded from a file, decrypted with the CA passphrase if it is encrypted) is the one
//! implementation today; a PKCS#11 HSM plugs in by implementing the same three methods, without
//! touching the issuance, CRL or OCSP code.

use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};

/// A CA signing key.
pub trait CaSigner: Send + Sync {
    /// The signature algorithm (it also names the key type).
    fn algorithm(&self) -> &'static SignatureAlgorithm;
    /// The raw public key (the BIT STRING contents of the SubjectPublicKeyInfo).
    fn public_key_raw(&self) -> &[u8];
    /// Signs `msg` (X.509 encoding: DER ECDSA signatures, PKCS#1 v1.5 RSA, raw Ed25519).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error>;
}

impl CaSigner for KeyPair {
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        PublicKeyData::algorithm(self)
    }

    fn public_key_raw(&self) -> &[u8] {
        PublicKeyData::der_bytes(self)
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        SigningKey::sign(self, msg)
    }
}

/// A boxed [`CaSigner`], usable wherever rcgen wants a signing key.
pub struct Signer(pub Box<dyn CaSigner>);

impl PublicKeyData for Signer {
    fn der_bytes(&self) -> &[u8] {
        self.0.public_key_raw()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.0.algorithm()
    }
}

impl SigningKey for Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg)
    }
}
