//! The server's hash key and secret generation / verification.

use std::path::Path;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};

use crate::ca::keys::write_secret_file;
use crate::error::{Error, Result};

/// HMAC key used to store secrets as keyed hashes.
pub struct Secrets {
    /// HMAC-SHA256 key, loaded from `DIR/secret.key` (0600).
    key: hmac::Key,
}

impl Secrets {
    /// Loads the key, creating it (32 random bytes, mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let bytes = if path.exists() {
            let b = std::fs::read(path)?;
            if b.len() != 32 {
                return Err(Error::Internal(format!(
                    "{} must hold 32 bytes",
                    path.display()
                )));
            }
            b
        } else {
            let b = random_bytes(32)?;
            write_secret_file(path, &b)?;
            b
        };
        Ok(Secrets {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// A key for tests.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Secrets {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// The keyed hash of `secret`, hex.
    pub fn hash(&self, secret: &str) -> String {
        hex::encode(hmac::sign(&self.key, secret.as_bytes()))
    }

    /// Whether `secret` hashes to `stored_hex`, compared in constant time.
    pub fn verify(&self, secret: &str, stored_hex: &str) -> bool {
        match hex::decode(stored_hex) {
            Ok(tag) => hmac::verify(&self.key, secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// `n` random bytes from the system RNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Internal("rng failure".into()))?;
    Ok(b)
}

/// A random base64url string carrying `n` bytes of entropy.
pub fn random_token(n: usize) -> Result<String> {
    Ok(Base64UrlUnpadded::encode_string(&random_bytes(n)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_only_the_secret() {
        let s = Secrets::from_bytes(&[7; 32]);
        let h = s.hash("hunter2");
        assert!(s.verify("hunter2", &h));
        assert!(!s.verify("hunter3", &h));
        assert!(!s.verify("hunter2", "zz"));
        let other = Secrets::from_bytes(&[8; 32]);
        assert!(!other.verify("hunter2", &h));
    }
}
