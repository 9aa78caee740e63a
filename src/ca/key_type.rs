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

    /// The stable name, as the config file, the records and the admin API write it (`p256`,
    /// `rsa3072`, …): [`KeyType::parse`] reads it back.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The algorithm and size as people name them (`ECDSA P-256`, `RSA 3072`), for pages.
    pub fn display_name(self) -> &'static str {
        match self {
            KeyType::P256 => "ECDSA P-256",
            KeyType::P384 => "ECDSA P-384",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Rsa3072 => "RSA 3072",
            KeyType::Rsa4096 => "RSA 4096",
            KeyType::Ed25519 => "Ed25519",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kt in [
            KeyType::P256,
            KeyType::P384,
            KeyType::Rsa2048,
            KeyType::Rsa3072,
            KeyType::Rsa4096,
            KeyType::Ed25519,
        ] {
            assert_eq!(KeyType::parse(kt.name()).unwrap(), kt);
            assert_eq!(
                serde_json::to_value(kt).unwrap(),
                serde_json::json!(kt.name())
            );
        }
        assert_eq!(KeyType::Rsa3072.display_name(), "RSA 3072");
    }
}
