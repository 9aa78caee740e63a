//! The server's hash key and secret generation / verification.

use std::path::Path;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};

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

/// A random base64url identifier of `n` bytes that starts with a letter or digit (an id that
/// starts with `-` is taken for an option by command-line clients such as certbot).
pub fn random_id_token(n: usize) -> Result<String> {
    loop {
        let t = random_token(n)?;
        if t.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Ok(t);
        }
    }
}

/// A random base64url string carrying `n` bytes of entropy.
pub fn random_token(n: usize) -> Result<String> {
    Ok(Base64UrlUnpadded::encode_string(&random_bytes(n)?))
}

/// Writes a secret file readable by its owner only (mode 0600), created that way from the start.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
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

impl Secrets {
    /// A 32-byte key for `purpose`, derived from the server key (HMAC as a PRF), so every node
    /// sharing `secret.key` derives the same keys.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.key, format!("enrolld-derive:{purpose}").as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// AES-256-GCM encryption of `plain` under the key derived for `purpose`:
    /// `nonce ‖ ciphertext ‖ tag`, for secrets that must be recoverable (EAB MAC keys).
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.derive(purpose)).map_err(Error::internal)?,
        );
        let nonce_bytes: [u8; 12] = random_bytes(12)?
            .try_into()
            .map_err(|_| Error::Internal("nonce".into()))?;
        let mut buf = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(purpose.as_bytes()),
            &mut buf,
        )
        .map_err(Error::internal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Reverses [`Secrets::seal`].
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
        if sealed.len() < 12 + 16 {
            return Err(Error::Internal("sealed value too short".into()));
        }
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.derive(purpose)).map_err(Error::internal)?,
        );
        let (n, ct) = sealed.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(Error::internal)?;
        let mut buf = ct.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| Error::Internal("sealed value does not authenticate".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod seal_tests {
    use super::*;

    #[test]
    fn seal_roundtrip_and_tamper() {
        let s = Secrets::from_bytes(&[3; 32]);
        let sealed = s.seal("eab", b"mac key").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"mac key"));
        assert_eq!(s.open("eab", &sealed).unwrap(), b"mac key");
        assert!(s.open("other", &sealed).is_err());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(s.open("eab", &bad).is_err());
    }
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn ids_never_start_with_a_dash() {
        for _ in 0..2000 {
            let t = super::random_id_token(9).unwrap();
            assert!(t.starts_with(|c: char| c.is_ascii_alphanumeric()), "{t}");
        }
    }
}
