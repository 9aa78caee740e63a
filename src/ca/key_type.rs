//! The key algorithms enrolld creates and accepts: a domain type of the CA, which the
//! configuration, the CSR policy and the profiles share.

use serde::Deserialize;

use crate::error::{Error, Result};

/// Key algorithms enrolld can create and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// ECDSA on NIST P-256 with SHA-256.
    P256,
    /// ECDSA on NIST P-384 with SHA-384.
    P384,
    /// RSA 2048 (accepted from clients; selectable but not recommended for CAs).
    Rsa2048,
    /// RSA 3072 with SHA-256.
    Rsa3072,
    /// RSA 4096 with SHA-256.
    Rsa4096,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl KeyType {
    /// Parses the names used on the command line and in the config file.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ec256" => KeyType::P256,
            "p384" | "p-384" | "ec384" => KeyType::P384,
            "rsa2048" => KeyType::Rsa2048,
            "rsa3072" | "rsa" => KeyType::Rsa3072,
            "rsa4096" => KeyType::Rsa4096,
            "ed25519" => KeyType::Ed25519,
            other => return Err(Error::Malformed(format!("unknown key type {other:?}"))),
        })
    }
}
