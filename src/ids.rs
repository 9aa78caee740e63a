//! Newtypes for identifiers, so that a serial is never confused with a username.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A certificate serial number (RFC 5280 §4.1.2.2): positive, at most 20 octets.
/// Displayed and stored as lower-case hex without separators.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(Vec<u8>);

impl Serial {
    /// Wraps serial bytes as they appear in a certificate (big-endian, leading zeros stripped).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let trimmed: Vec<u8> = {
            let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            bytes[first..].to_vec()
        };
        if trimmed.is_empty() || trimmed.len() > 20 {
            return Err(Error::Malformed("serial must be 1 to 20 octets".into()));
        }
        Ok(Serial(trimmed))
    }

    /// Parses hex as written in URLs and by `openssl x509 -serial` (colons allowed).
    pub fn parse_hex(s: &str) -> Result<Self> {
        let cleaned: String = s.chars().filter(|c| *c != ':').collect();
        let cleaned = if cleaned.len() % 2 == 1 {
            format!("0{cleaned}")
        } else {
            cleaned
        };
        let bytes = hex::decode(&cleaned)
            .map_err(|_| Error::Malformed("serial must be hexadecimal".into()))?;
        Serial::from_bytes(&bytes)
    }

    /// The serial's bytes, big-endian, without leading zeros.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl TryFrom<String> for Serial {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Serial::parse_hex(&s)
    }
}

impl From<Serial> for String {
    fn from(s: Serial) -> String {
        s.to_hex()
    }
}

/// The public half of an enrolment credential: the EST Basic username.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialId(String);

impl CredentialId {
    /// Accepts only the characters enrolld itself generates, so an id is safe in keys and logs.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Unauthenticated("unknown credential".into()));
        }
        Ok(CredentialId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An EST label (RFC 7030 §3.2.2): one path segment selecting a profile and its policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// A label is 1–64 characters of `[A-Za-z0-9._-]`, not `.` or `..` (no path traversal).
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !ok {
            return Err(Error::NotFound("unknown EST label".into()));
        }
        Ok(Label(s.to_owned()))
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Label::parse(&s)
    }
}

impl From<Label> for String {
    fn from(l: Label) -> String {
        l.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a certificate profile (`device`, `person`, …).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileName(pub String);

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Windows security identifier (MS-DTYP §2.4.2.1) in its string form, `S-1-5-21-…-1104`:
/// the account a certificate is strongly mapped to (KB5014754). Parsed strictly, so only the
/// canonical form the domain controller compares against reaches a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WindowsSid(String);

impl WindowsSid {
    /// MS-DTYP §2.4.2: a SID has at most 15 sub-authorities.
    const MAX_SUB_AUTHORITIES: usize = 15;

    /// Accepts `S-1-<authority>(-<sub-authority>){1,15}`: revision 1, decimal numbers without
    /// leading zeros, an identifier authority below 2^48 (six octets) and sub-authorities that
    /// fit 32 bits.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::Malformed(format!(
                "windows_sid must be S-1-<authority>-<sub-authority>… ({why})"
            ))
        };
        let rest = s
            .strip_prefix("S-1-")
            .ok_or_else(|| bad("it starts with S-1-"))?;
        let mut parts = rest.split('-');
        let authority = parts.next().ok_or_else(|| bad("no authority"))?;
        let authority = decimal(authority).ok_or_else(|| bad("decimal numbers only"))?;
        if authority >= 1 << 48 {
            return Err(bad("the authority is below 2^48"));
        }
        let mut subs = 0;
        for p in parts {
            let v = decimal(p).ok_or_else(|| bad("decimal numbers only"))?;
            if v > u64::from(u32::MAX) {
                return Err(bad("sub-authorities fit 32 bits"));
            }
            subs += 1;
        }
        if !(1..=Self::MAX_SUB_AUTHORITIES).contains(&subs) {
            return Err(bad("1 to 15 sub-authorities"));
        }
        Ok(WindowsSid(s.to_owned()))
    }

    /// The SID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A decimal number without sign or leading zeros (`0` itself is one), at most 20 digits.
fn decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

impl TryFrom<String> for WindowsSid {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        WindowsSid::parse(&s)
    }
}

impl From<WindowsSid> for String {
    fn from(s: WindowsSid) -> String {
        s.0
    }
}

impl fmt::Display for WindowsSid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_hex_roundtrip_strips_leading_zeros() {
        let s = Serial::parse_hex("00:0a:ff").unwrap();
        assert_eq!(s.to_hex(), "0aff");
        assert_eq!(s.as_bytes(), &[0x0a, 0xff]);
    }

    #[test]
    fn serial_rejects_non_hex_and_oversize() {
        assert!(Serial::parse_hex("zz").is_err());
        assert!(Serial::parse_hex(&"11".repeat(21)).is_err());
        assert!(Serial::parse_hex("00").is_err());
    }

    #[test]
    fn label_rejects_traversal() {
        assert!(Label::parse("..").is_err());
        assert!(Label::parse("a/b").is_err());
        assert!(Label::parse("devices-2").is_ok());
    }

    #[test]
    fn windows_sid_accepts_canonical_forms() {
        for ok in [
            "S-1-5-21-3623811015-3361044348-30300820-1013",
            "S-1-5-32-544",
            "S-1-1-0",
            "S-1-0-0",
            "S-1-281474976710655-1",
            "S-1-5-4294967295",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15",
        ] {
            assert_eq!(WindowsSid::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
    }

    #[test]
    fn windows_sid_refuses_everything_else() {
        for (case, bad) in [
            ("fail/sid/empty", ""),
            ("fail/sid/lowercase-s", "s-1-5-21-1"),
            ("fail/sid/revision-2", "S-2-5-21-1"),
            ("fail/sid/no-sub-authority", "S-1-5"),
            (
                "fail/sid/sixteen-sub-authorities",
                "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
            ),
            ("fail/sid/authority-2^48", "S-1-281474976710656-1"),
            ("fail/sid/hex-authority", "S-1-0x5-21"),
            ("fail/sid/sub-authority-2^32", "S-1-5-4294967296"),
            ("fail/sid/leading-zero", "S-1-5-021-1"),
            ("fail/sid/sign", "S-1-5-+21"),
            ("fail/sid/negative", "S-1-5--21"),
            ("fail/sid/trailing-dash", "S-1-5-21-"),
            ("fail/sid/space", "S-1-5-21 -1"),
            ("fail/sid/twenty-one-digits", "S-1-5-000000000000000000001"),
            ("fail/sid/binary-form", "AQUAAAAAAAUVAAAA"),
        ] {
            assert!(
                matches!(WindowsSid::parse(bad), Err(Error::Malformed(_))),
                "{case}"
            );
        }
    }
}

/// Declares a random, URL-safe identifier newtype (`[A-Za-z0-9_-]{1,64}`).
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id (96 bits), starting with a letter or digit so that command
            /// lines never take it for an option (`--eab-kid -x…`).
            pub fn random() -> Result<Self> {
                Ok($name(crate::secrets::random_id_token(12)?))
            }

            /// Parses an id from a URL path segment.
            pub fn parse(s: &str) -> Result<Self> {
                if s.is_empty()
                    || s.len() > 64
                    || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(Error::NotFound(concat!("no such ", stringify!($name)).into()));
                }
                Ok($name(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

random_id!(
    /// An ACME account (RFC 8555 §7.1.2), the last segment of its URL.
    AccountId
);
random_id!(
    /// An ACME order (RFC 8555 §7.1.3).
    OrderId
);
random_id!(
    /// An ACME authorization (RFC 8555 §7.1.4).
    AuthzId
);
random_id!(
    /// An External Account Binding key id (RFC 8555 §7.3.4).
    EabKid
);
random_id!(
    /// A registered person or device.
    SubjectId
);
random_id!(
    /// An admin API token's public id.
    TokenId
);
