//! The audit log's signed checkpoints, and the verification of the whole log.
//!
//! The log itself (`store::sled_registry`) is a SHA-256 hash chain whose head (last seq and
//! hash) is stored beside it: that shows an altered, removed or reordered entry and a cut
//! tail. It is unkeyed, though: whoever can write the store can rebuild the chain and its
//! head from any entry on. So the server signs checkpoints, (seq, entry hash, time), with an
//! Ed25519 key that lives in the data directory outside the store (`audit-signing.key`,
//! 0600, created on first start; its public half in `audit-signing.pub`). Checkpoints are
//! stored in the store, and the newest also in `audit-checkpoint.json` beside the key, so
//! the store alone cannot be rolled back behind it. An entry hash commits to every entry
//! before it: a rebuilt chain no longer matches a signed hash, and a checkpoint cannot be
//! forged without the key.
//!
//! [`checkpointer`] signs them (every `audit.checkpoint_entries` entries, at most
//! `audit.checkpoint_interval_secs` after an entry, at start and at shutdown); [`verify`]
//! checks chain, head and every checkpoint (`enrolld audit verify`,
//! `GET /api/v1/audit/verify`).

pub mod checkpointer;
pub mod verify;

use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use base64ct::{Base64, Encoding};

use crate::ca::pem_encode;
use crate::error::{Error, Result};
use crate::secrets::write_secret_file;
use crate::store::AuditCheckpointRecord;

pub use checkpointer::Checkpointer;
pub use verify::{verify, Verified};

/// The audit signing files of a data directory.
#[derive(Debug, Clone)]
pub struct AuditFiles {
    /// The Ed25519 private key (PKCS#8 PEM, 0600).
    pub key: PathBuf,
    /// Its public key (SubjectPublicKeyInfo PEM), to copy where the store's writers cannot
    /// reach and pass to `enrolld audit verify --public-key`.
    pub public: PathBuf,
    /// The newest checkpoint (JSON), written after it is durable in the store.
    pub latest: PathBuf,
}

impl AuditFiles {
    /// The layout under the data directory `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        AuditFiles {
            key: dir.join("audit-signing.key"),
            public: dir.join("audit-signing.pub"),
            latest: dir.join("audit-checkpoint.json"),
        }
    }
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4); the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The signing key of audit checkpoints.
pub struct SigningKey {
    /// The Ed25519 key pair.
    pair: Ed25519KeyPair,
    /// Its public key, for checking what it signed.
    public: PublicKey,
}

impl SigningKey {
    /// Loads the key at `files.key`, creating it (0600) if there is none, and (re)writes
    /// `files.public` when it is missing or holds another key.
    pub fn load_or_create(files: &AuditFiles) -> Result<SigningKey> {
        let pair = if files.key.exists() {
            let text = std::fs::read_to_string(&files.key).map_err(|e| {
                Error::Internal(format!("cannot read {}: {e}", files.key.display()))
            })?;
            let der = pem_block(&text, "PRIVATE KEY").ok_or_else(|| {
                Error::Internal(format!("{} holds no PEM private key", files.key.display()))
            })?;
            Ed25519KeyPair::from_pkcs8(&der).map_err(|e| {
                Error::Internal(format!(
                    "{} is not an Ed25519 key: {e}",
                    files.key.display()
                ))
            })?
        } else {
            let pair = Ed25519KeyPair::generate().map_err(Error::internal)?;
            let der = pair.to_pkcs8().map_err(Error::internal)?;
            write_secret_file(
                &files.key,
                pem_encode("PRIVATE KEY", der.as_ref()).as_bytes(),
            )?;
            tracing::info!(file = %files.key.display(), "audit signing key created");
            pair
        };
        let public = PublicKey(
            pair.public_key()
                .as_ref()
                .try_into()
                .map_err(|_| Error::Internal("Ed25519 public key is not 32 bytes".into()))?,
        );
        let pem = public.to_pem();
        if std::fs::read_to_string(&files.public).ok().as_deref() != Some(pem.as_str()) {
            std::fs::write(&files.public, pem)?;
        }
        Ok(SigningKey { pair, public })
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs the checkpoint of entry `seq` with hash `hash` at `time`.
    pub fn sign(&self, seq: u64, hash: &str, time: i64) -> AuditCheckpointRecord {
        let sig = self.pair.sign(&checkpoint_message(seq, hash, time));
        AuditCheckpointRecord {
            version: 1,
            seq,
            hash: hash.to_owned(),
            time,
            key_id: self.public.key_id(),
            signature: Base64::encode_string(sig.as_ref()),
        }
    }
}

/// An Ed25519 public key that checks checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Reads a public key file: `audit-signing.pub` (SubjectPublicKeyInfo PEM), or the private
    /// key file `audit-signing.key`, whose public half it takes.
    pub fn from_file(path: &Path) -> Result<PublicKey> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Malformed(format!("cannot read {}: {e}", path.display())))?;
        let bad = || {
            Error::Malformed(format!(
                "{} is not an Ed25519 public key (PEM PUBLIC KEY) or audit signing key",
                path.display()
            ))
        };
        if let Some(der) = pem_block(&text, "PUBLIC KEY") {
            let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..]).ok_or_else(bad)?;
            return Ok(PublicKey(raw.try_into().map_err(|_| bad())?));
        }
        let der = pem_block(&text, "PRIVATE KEY").ok_or_else(bad)?;
        let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| bad())?;
        Ok(PublicKey(
            pair.public_key().as_ref().try_into().map_err(|_| bad())?,
        ))
    }

    /// SubjectPublicKeyInfo PEM (RFC 8410), as `openssl pkey -pubout` writes it.
    pub fn to_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem_encode("PUBLIC KEY", &der)
    }

    /// A short name of the key: the first 8 bytes of SHA-256 over it, hex.
    pub fn key_id(&self) -> String {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.0);
        hex::encode(&d.as_ref()[..8])
    }

    /// Whether `c` carries a valid signature of this key.
    pub fn verifies(&self, c: &AuditCheckpointRecord) -> bool {
        let Ok(sig) = Base64::decode_vec(&c.signature) else {
            return false;
        };
        c.key_id == self.key_id()
            && UnparsedPublicKey::new(&ED25519, &self.0)
                .verify(&checkpoint_message(c.seq, &c.hash, c.time), &sig)
                .is_ok()
    }
}

/// What a checkpoint signs: a fixed label, then seq, entry hash and time, one per line.
pub fn checkpoint_message(seq: u64, hash: &str, time: i64) -> Vec<u8> {
    format!("enrolld audit checkpoint v1\n{seq}\n{hash}\n{time}\n").into_bytes()
}

/// Reads the newest checkpoint file; `Ok(None)` if there is none.
pub fn read_latest(path: &Path) -> Result<Option<AuditCheckpointRecord>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::Malformed(format!("{} does not parse: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes the newest checkpoint file: beside it first, then renamed over it, so a crash
/// leaves the old or the new one whole.
fn write_latest(path: &Path, c: &AuditCheckpointRecord) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(c)?)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The DER of the first `label` block of a PEM text.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    crate::ca::decode_base64_lenient(&text[start..stop]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let files = AuditFiles::in_dir(dir.path());
        let key = SigningKey::load_or_create(&files).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Loaded again: the same key; its public half from either file.
        let again = SigningKey::load_or_create(&files).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(&PublicKey::from_file(&files.public).unwrap(), key.public());
        assert_eq!(&PublicKey::from_file(&files.key).unwrap(), key.public());

        let c = key.sign(7, &"ab".repeat(32), 1_800_000_000);
        assert!(key.public().verifies(&c));
        for tampered in [
            AuditCheckpointRecord {
                seq: 8,
                ..c.clone()
            },
            AuditCheckpointRecord {
                hash: "cd".repeat(32),
                ..c.clone()
            },
            AuditCheckpointRecord {
                time: c.time + 1,
                ..c.clone()
            },
            AuditCheckpointRecord {
                signature: "AAAA".into(),
                ..c.clone()
            },
        ] {
            assert!(!key.public().verifies(&tampered));
        }
        // Another key does not verify it.
        let other_dir = tempfile::tempdir().unwrap();
        let other = SigningKey::load_or_create(&AuditFiles::in_dir(other_dir.path())).unwrap();
        assert!(!other.public().verifies(&c));
    }
}
