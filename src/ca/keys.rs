//! Key generation and key files.

use crate::secrets::write_secret_file;
use std::path::Path;

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};

use crate::ca::KeyType;
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

/// Loads a PKCS#8 (or SEC1 / PKCS#1) PEM key file from outside the data directory (an
/// imported CA's): plain PEM, or enrolld's encrypted form with `passphrase`.
pub fn load_any(path: &Path, passphrase: Option<&str>) -> Result<KeyPair> {
    let (pem, _) = read_key(path, passphrase)?;
    parse_pem(path, &pem)
}

/// Loads a CA key file of the data directory: enrolld's encrypted form with `passphrase`, or
/// plain PEM only while no passphrase is configured. A configured passphrase protects nothing
/// if a plain key beside it loads, so that is refused, naming the file and the way out.
pub fn load_key(path: &Path, passphrase: Option<&str>) -> Result<KeyPair> {
    let (pem, encrypted) = read_key(path, passphrase)?;
    if passphrase.is_some() && !encrypted {
        return Err(Error::Internal(format!(
            "{} is not encrypted, but a CA key passphrase is configured (ca.key_passphrase_file or ENROLLD_CA_PASSPHRASE): \
             run `enrolld ca encrypt-keys` with the same --config and --data-dir to encrypt the CA keys with it, \
             or remove the passphrase setting to use the keys unencrypted",
            path.display()
        )));
    }
    parse_pem(path, &pem)
}

/// The PEM text of a key file, decrypted if it is encrypted, and whether it was.
fn read_key(path: &Path, passphrase: Option<&str>) -> Result<(String, bool)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Internal(format!("cannot read key {}: {e}", path.display())))?;
    if !is_encrypted(&text) {
        return Ok((text, false));
    }
    let pass = passphrase.ok_or_else(|| {
        Error::Internal(format!(
            "{} is encrypted: set ENROLLD_CA_PASSPHRASE or ca.key_passphrase_file",
            path.display()
        ))
    })?;
    let pem = decrypt_key(&text, pass)
        .map_err(|e| Error::Internal(format!("{}: {}", path.display(), e.public_message())))?;
    Ok((pem, true))
}

fn parse_pem(path: &Path, pem: &str) -> Result<KeyPair> {
    KeyPair::from_pem(pem)
        .map_err(|e| Error::Internal(format!("cannot load key {}: {e}", path.display())))
}

/// Whether a key file's text is enrolld's encrypted form.
pub fn is_encrypted(text: &str) -> bool {
    text.contains(ENCRYPTED_LABEL)
}

/// Encrypts the plain key file `path` in place with `passphrase` (mode 0600); `Ok(false)` if
/// it is encrypted already (and opens with `passphrase`). The sealed key is written beside
/// the file and renamed over it, so a crash leaves one of the two whole.
pub fn encrypt_file_in_place(path: &Path, passphrase: &str) -> Result<bool> {
    let (pem, encrypted) = read_key(path, Some(passphrase))?;
    if encrypted {
        return Ok(false);
    }
    let key = parse_pem(path, &pem)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    write_key(&tmp, &key, Some(passphrase))?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(true)
}

/// Writes a CA private key: encrypted when a passphrase is configured, mode 0600 either way.
pub fn write_key(path: &Path, key: &KeyPair, passphrase: Option<&str>) -> Result<()> {
    match passphrase {
        Some(p) => write_secret_file(path, encrypt_key(&key.serialize_pem(), p)?.as_bytes()),
        None => write_secret_file(path, key.serialize_pem().as_bytes()),
    }
}

/// The CA key passphrase from `ENROLLD_CA_PASSPHRASE`, if set and not empty.
pub fn passphrase_from_env() -> Option<String> {
    std::env::var("ENROLLD_CA_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
}

/// The CA key passphrase: `ca.key_passphrase_file` (first line) or `ENROLLD_CA_PASSPHRASE`.
pub fn passphrase(cfg: &crate::config::CaConfig) -> Result<Option<String>> {
    match &cfg.key_passphrase_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| Error::Internal(format!("cannot read {}: {e}", f.display())))?;
            let line = text.lines().next().unwrap_or("").to_owned();
            if line.is_empty() {
                return Err(Error::Internal(format!(
                    "{} holds no passphrase",
                    f.display()
                )));
            }
            Ok(Some(line))
        }
        None => Ok(passphrase_from_env()),
    }
}

const ENCRYPTED_LABEL: &str = "ENROLLD ENCRYPTED PRIVATE KEY";
/// Argon2id cost: 64 MiB, 3 passes, 1 lane (RFC 9106 second recommended option).
const ARGON2_M_KIB: u32 = 64 * 1024;
const ARGON2_T: u32 = 3;

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    v: u32,
    kdf: String,
    m: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ct: String,
}

fn derive(pass: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32]> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    a.hash_password_into(pass.as_bytes(), salt, &mut out)
        .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
    Ok(out)
}

/// Encrypts a PEM key: AES-256-GCM under an Argon2id key from the passphrase.
pub fn encrypt_key(pem: &str, pass: &str) -> Result<String> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    use base64ct::{Base64, Encoding};
    let salt = crate::secrets::random_bytes(16)?;
    let nonce: [u8; 12] = crate::secrets::random_bytes(12)?
        .try_into()
        .map_err(|_| Error::Internal("nonce".into()))?;
    let k = derive(pass, &salt, ARGON2_M_KIB, ARGON2_T, 1)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).map_err(Error::internal)?);
    let mut buf = pem.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(ENCRYPTED_LABEL),
        &mut buf,
    )
    .map_err(Error::internal)?;
    let sealed = Sealed {
        v: 1,
        kdf: "argon2id".into(),
        m: ARGON2_M_KIB,
        t: ARGON2_T,
        p: 1,
        salt: Base64::encode_string(&salt),
        nonce: Base64::encode_string(&nonce),
        ct: Base64::encode_string(&buf),
    };
    Ok(super::pem_encode(
        ENCRYPTED_LABEL,
        &serde_json::to_vec(&sealed)?,
    ))
}

/// Reverses [`encrypt_key`]; a wrong passphrase is an error, never garbage.
pub fn decrypt_key(text: &str, pass: &str) -> Result<String> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    use base64ct::{Base64, Encoding};
    let bad = || Error::Malformed("encrypted key is malformed".into());
    let inner: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = Base64::decode_vec(inner.trim()).map_err(|_| bad())?;
    let s: Sealed = serde_json::from_slice(&json).map_err(|_| bad())?;
    if s.v != 1 || s.kdf != "argon2id" || s.m > 4 * 1024 * 1024 || s.t > 100 || s.p > 16 {
        return Err(bad());
    }
    let salt = Base64::decode_vec(&s.salt).map_err(|_| bad())?;
    let nonce = Base64::decode_vec(&s.nonce).map_err(|_| bad())?;
    let mut ct = Base64::decode_vec(&s.ct).map_err(|_| bad())?;
    let k = derive(pass, &salt, s.m, s.t, s.p)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).map_err(Error::internal)?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| bad())?;
    let plain = key
        .open_in_place(nonce, Aad::from(ENCRYPTED_LABEL), &mut ct)
        .map_err(|_| Error::Malformed("wrong CA key passphrase".into()))?;
    String::from_utf8(plain.to_vec()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_key_roundtrip_and_wrong_passphrase() {
        let kp = generate(crate::ca::KeyType::P256).unwrap();
        let pem = kp.serialize_pem();
        let enc = encrypt_key(&pem, "correct horse").unwrap();
        assert!(!enc.contains("PRIVATE KEY-----\nMI"));
        assert!(enc.contains(ENCRYPTED_LABEL));
        assert_eq!(decrypt_key(&enc, "correct horse").unwrap(), pem);
        assert!(decrypt_key(&enc, "wrong").is_err());
        assert!(decrypt_key("-----BEGIN X-----\nAAAA\n-----END X-----\n", "p").is_err());
    }
}
