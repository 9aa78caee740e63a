//! Which identifiers an account may order, and whether they need a challenge.
//!
//! An account bound to an EAB key may order only what the key allows: entries without
//! `challenge` are pre-authorised (valid on creation), entries with it need proof. Without EAB,
//! only `acme.allow_after_proof` names may be ordered, and only after proof: a challenge alone
//! never yields a certificate for a name outside the configured allow-list.

use crate::ca::profile::SanName;
use crate::config::Config;
use crate::error::{AcmeProblem, Error, Result};
use crate::store::{AllowedIdentifier, EabKeyRecord, Identifier};

/// How an identifier gets authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorisation {
    /// Valid on creation.
    Preauthorised,
    /// Needs a challenge (dns only).
    NeedsChallenge,
}

/// Identifier types enrolld issues for.
pub const DNS: &str = "dns";
/// S/MIME and person certificates (rfc822Name).
pub const EMAIL: &str = "email";
/// Device serial numbers (RFC 4043 name, carried as the subject CN).
pub const PERMANENT_ID: &str = "permanent-identifier";

/// Validates and normalises an identifier from a client.
pub fn normalise(id: &Identifier) -> Result<Identifier> {
    let reject = |m: String| Error::acme(AcmeProblem::RejectedIdentifier, m);
    match id.kind.as_str() {
        DNS => {
            if id.value.starts_with("*.") || id.value.contains('*') {
                return Err(reject(format!(
                    "wildcard identifier {:?} is not issued",
                    id.value
                )));
            }
            match SanName::parse(&format!("dns:{}", id.value)) {
                Ok(SanName::Dns(v)) => Ok(Identifier {
                    kind: DNS.into(),
                    value: v,
                }),
                _ => Err(Error::acme(
                    AcmeProblem::Malformed,
                    format!("invalid DNS identifier {:?}", id.value),
                )),
            }
        }
        EMAIL => match SanName::parse(&format!("email:{}", id.value)) {
            Ok(SanName::Email(v)) => Ok(Identifier {
                kind: EMAIL.into(),
                value: v,
            }),
            _ => Err(Error::acme(
                AcmeProblem::Malformed,
                format!("invalid email identifier {:?}", id.value),
            )),
        },
        PERMANENT_ID => {
            let v = id.value.trim();
            if v.is_empty() || v.len() > 64 || v.chars().any(|c| c.is_control()) {
                return Err(Error::acme(
                    AcmeProblem::Malformed,
                    "permanent-identifier must be 1 to 64 printable characters",
                ));
            }
            Ok(Identifier {
                kind: PERMANENT_ID.into(),
                value: v.to_owned(),
            })
        }
        other => Err(Error::acme(
            AcmeProblem::UnsupportedIdentifier,
            format!("identifier type {other:?} is not supported"),
        )),
    }
}

/// DNS names: `pattern` is a name or `*.suffix` (any name with at least one more whole label),
/// compared without regard to ASCII case.
pub fn matches(pattern: &str, value: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => value
            .strip_suffix(suffix)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|label_part| !label_part.is_empty()),
        None => pattern == value,
    }
}

/// Whether the allow-list `entry` admits `id` (both normalised). Case is ignored only where
/// the identifier type ignores it: DNS names (RFC 4343) and the domain of an e-mail address
/// (RFC 5321 §2.4: the local part may be case-sensitive); a permanent-identifier (RFC 4043, a
/// serial number) is compared exactly.
pub fn entry_allows(entry: &AllowedIdentifier, id: &Identifier) -> bool {
    if entry.kind != id.kind {
        return false;
    }
    match id.kind.as_str() {
        DNS => matches(&entry.value, &id.value),
        EMAIL => same_email(&entry.value, &id.value),
        _ => entry.value == id.value,
    }
}

/// Whether two e-mail addresses are the same mailbox: the local part exactly, the domain
/// without regard to ASCII case (RFC 5321 §2.4).
pub fn same_email(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((al, ad)), Some((bl, bd))) => al == bl && ad.eq_ignore_ascii_case(bd),
        _ => false,
    }
}

/// Decides how `id` may be authorised for an account bound to `eab` (if any).
pub fn decide(cfg: &Config, eab: Option<&EabKeyRecord>, id: &Identifier) -> Result<Authorisation> {
    let reject = |m: String| Error::acme(AcmeProblem::RejectedIdentifier, m);
    if let Some(eab) = eab {
        if let Some(entry) = eab.allowed_identifiers.iter().find(|a| entry_allows(a, id)) {
            return if !entry.challenge {
                Ok(Authorisation::Preauthorised)
            } else if id.kind == DNS {
                Ok(Authorisation::NeedsChallenge)
            } else {
                Err(reject(format!(
                    "{} identifiers have no challenge type yet; they must be pre-authorised",
                    id.kind
                )))
            };
        }
    }
    if id.kind == DNS
        && cfg
            .acme
            .allow_after_proof
            .iter()
            .any(|p| matches(p, &id.value))
    {
        return Ok(Authorisation::NeedsChallenge);
    }
    Err(reject(format!(
        "{} {:?} is not allowed for this account",
        id.kind, id.value
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matches_whole_labels_only() {
        assert!(matches("*.corp.example", "laptop1.corp.example"));
        assert!(matches("*.corp.example", "a.b.corp.example"));
        assert!(!matches("*.corp.example", "corp.example"));
        assert!(!matches("*.corp.example", "evilcorp.example"));
        assert!(!matches("*.corp.example", "xcorp.example"));
        assert!(matches("Host.Example", "host.example"));
    }

    /// Only DNS names and the domain of an e-mail address ignore case; a permanent-identifier
    /// (a device serial number) and an e-mail local part are compared exactly.
    #[test]
    fn case_is_ignored_only_where_the_identifier_type_ignores_it() {
        let entry = |k: &str, v: &str| AllowedIdentifier {
            kind: k.into(),
            value: v.into(),
            challenge: false,
        };
        let id = |k: &str, v: &str| {
            normalise(&Identifier {
                kind: k.into(),
                value: v.into(),
            })
            .unwrap()
        };
        for (k, allowed, asked, admitted) in [
            (PERMANENT_ID, "ab12", "ab12", true),
            (PERMANENT_ID, "ab12", "AB12", false),
            (PERMANENT_ID, "AB12", "ab12", false),
            (EMAIL, "alice@corp.example", "alice@CORP.Example", true),
            (EMAIL, "alice@corp.example", "Alice@corp.example", false),
            (EMAIL, "Alice@corp.example", "alice@corp.example", false),
            (DNS, "host.corp.example", "HOST.Corp.example", true),
            (DNS, "*.corp.example", "Laptop.CORP.example", true),
            (DNS, "ab12", "ab12", true),
            (PERMANENT_ID, "host.example", "host.example", true),
        ] {
            assert_eq!(
                entry_allows(&entry(k, allowed), &id(k, asked)),
                admitted,
                "{k} {allowed:?} admits {asked:?}"
            );
        }
        assert!(!entry_allows(
            &entry(DNS, "ab12"),
            &id(PERMANENT_ID, "ab12")
        ));
    }

    #[test]
    fn wildcards_and_unknown_types_are_refused() {
        let id = |k: &str, v: &str| Identifier {
            kind: k.into(),
            value: v.into(),
        };
        assert!(
            matches!(normalise(&id("dns", "*.x.example")), Err(Error::Acme(a)) if a.kind == AcmeProblem::RejectedIdentifier)
        );
        assert!(
            matches!(normalise(&id("ip", "10.0.0.1")), Err(Error::Acme(a)) if a.kind == AcmeProblem::UnsupportedIdentifier)
        );
        assert_eq!(
            normalise(&id("dns", "A.Example")).unwrap().value,
            "a.example"
        );
    }

    #[test]
    fn without_eab_only_the_allow_list_after_proof() {
        let mut cfg = Config::default();
        cfg.acme.allow_after_proof = vec!["*.lab.example".into()];
        let id = |v: &str| Identifier {
            kind: DNS.into(),
            value: v.into(),
        };
        assert_eq!(
            decide(&cfg, None, &id("a.lab.example")).unwrap(),
            Authorisation::NeedsChallenge
        );
        assert!(decide(&cfg, None, &id("vpn.example")).is_err());
        let email = Identifier {
            kind: EMAIL.into(),
            value: "a@lab.example".into(),
        };
        assert!(decide(&cfg, None, &email).is_err());
    }
}
