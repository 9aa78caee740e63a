//! Key generation and key files.

use std::path::Path;

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};

use crate::config::KeyType;
use crate::error::{Error, Result};

/// The signature algorithm a key of `kt` signs with.
pub fn signature_algorithm(kt: KeyType) -> &'static SignatureAlgorithm {
    match kt {
        KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// Generates a fresh key pair with aws-lc-rs.
pub fn generate(kt: KeyType) -> Result<KeyPair> {
    let alg = signature_algorithm(kt);
    let kp = match kt {
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(alg, RsaKeySize::_2048)?,
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(alg, RsaKeySize::_3072)?,
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(alg, RsaKeySize::_4096)?,
        _ => KeyPair::generate_for(alg)?,
    };
    Ok(kp)
}

/// Loads a PKCS#8 (or SEC1 / PKCS#1) PEM private key.
pub fn load_pem(path: &Path) -> Result<KeyPair> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::Internal(format!("cannot read key {}: {e}", path.display())))?;
    KeyPair::from_pem(&pem)
        .map_err(|e| Error::Internal(format!("cannot load key {}: {e}", path.display())))
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
