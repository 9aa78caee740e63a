//! External Account Binding keys (RFC 8555 §7.3.4): created through the admin API, MAC keys
//! sealed at rest (they must be recoverable to check a MAC, so they cannot be hashed).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jws::{self, Jwk};
use super::{policy, Acme};
use crate::config::Config;
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::{EabKid, ProfileName};
use crate::secrets::{random_bytes, Secrets};
use crate::store::{AcmeStore, AllowedIdentifier, EabKeyRecord, Store};

const SEAL_PURPOSE: &str = "acme-eab-hmac-v1";

/// `POST /api/v1/acme/eab` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEabKey {
    /// Certificate profile of the account's orders; the ACME default otherwise.
    #[serde(default)]
    pub profile: Option<String>,
    /// What the account may order.
    pub allowed_identifiers: Vec<AllowedIdentifier>,
    /// Lifetime in seconds; no expiry otherwise.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The registered subject (set by the registry, not by API clients).
    #[serde(skip)]
    pub subject_id: Option<crate::ids::SubjectId>,
}

/// The answer: shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssuedEabKey {
    /// Key id for `--eab-kid`.
    pub kid: String,
    /// base64url MAC key for `--eab-hmac-key`.
    pub hmac_key: String,
    /// Profile bound to the key.
    pub profile: String,
}

/// Checks one allow-list entry and stores it as asked, only normalised: the identifier
/// lower-cased where its type is case-insensitive, a DNS name (or the suffix of a `*.suffix`
/// pattern) checked label by label. Never wider than what was asked for.
fn normalise_allowed(a: &AllowedIdentifier) -> Result<AllowedIdentifier> {
    // A `*.suffix` pattern is checked as the DNS name `suffix` and stored as `*.` + that name.
    let (pattern, name) = match a.value.strip_prefix("*.") {
        Some(suffix) => (true, suffix.to_owned()),
        None => (false, a.value.clone()),
    };
    if pattern && a.kind != policy::DNS {
        return Err(Error::Malformed(
            "only dns entries may be *.suffix patterns".into(),
        ));
    }
    let norm = policy::normalise(&crate::store::Identifier {
        kind: a.kind.clone(),
        value: name,
    })
    .map_err(|e| Error::Malformed(e.public_message().to_owned()))?;
    if a.challenge && a.kind != policy::DNS {
        return Err(Error::Malformed(format!(
            "{} identifiers have no challenge type; list them without \"challenge\"",
            a.kind
        )));
    }
    let value = if pattern {
        format!("*.{}", norm.value)
    } else {
        norm.value
    };
    Ok(AllowedIdentifier {
        kind: norm.kind,
        value,
        challenge: a.challenge,
    })
}

/// What creating and withdrawing EAB keys works on: the ACME records, the store whose flush
/// makes them durable, the key that seals MAC keys, the offered profiles. The registry (the
/// admin API) and tests call these without an ACME service.
pub struct EabKeys<'a> {
    /// EAB key records.
    pub acme_store: &'a dyn AcmeStore,
    /// Flushed before the key is handed out.
    pub store: &'a dyn Store,
    /// Seals the MAC key.
    pub secrets: &'a Secrets,
    /// `acme.profiles` and `acme.default_profile`.
    pub cfg: &'a Config,
}

impl EabKeys<'_> {
    /// Creates an EAB key after checking its allow-list; `now` is the creation time.
    pub fn create(&self, mut req: NewEabKey, now: i64) -> Result<IssuedEabKey> {
        let subject_id = req.subject_id.take();
        let profile = match req.profile {
            Some(p) => ProfileName(p),
            None => self.cfg.acme.default_profile.clone(),
        };
        if !self.cfg.acme.profiles.contains(&profile) {
            return Err(Error::Malformed(format!(
                "profile {profile} is not offered over ACME"
            )));
        }
        if req.allowed_identifiers.is_empty() || req.allowed_identifiers.len() > 1000 {
            return Err(Error::Malformed(
                "allowed_identifiers must list 1 to 1000 entries".into(),
            ));
        }
        let allowed = req
            .allowed_identifiers
            .iter()
            .map(normalise_allowed)
            .collect::<Result<Vec<_>>>()?;
        let expires_at = match req.expires_in {
            Some(0) => return Err(Error::Malformed("expires_in must be > 0".into())),
            Some(s) => Some(now.saturating_add(s.min(10 * 366 * 86400) as i64)),
            None => None,
        };
        let kid = EabKid::random()?;
        let mac = random_bytes(32)?;
        let sealed = self.secrets.seal(SEAL_PURPOSE, &mac)?;
        self.acme_store.create_eab_key(&EabKeyRecord {
            version: 1,
            kid: kid.clone(),
            hmac_key_sealed: Base64UrlUnpadded::encode_string(&sealed),
            profile: profile.clone(),
            allowed_identifiers: allowed,
            created_at: now,
            expires_at,
            withdrawn: false,
            account: None,
            subject_id,
        })?;
        self.store.flush()?;
        Ok(IssuedEabKey {
            kid: kid.to_string(),
            hmac_key: Base64UrlUnpadded::encode_string(&mac),
            profile: profile.0,
        })
    }

    /// Withdraws an EAB key (its account is deactivated at its next request).
    pub fn withdraw(&self, kid: &str) -> Result<()> {
        let kid = EabKid::parse(kid)?;
        let mut key = self
            .acme_store
            .get_eab_key(&kid)?
            .ok_or_else(|| Error::NotFound("no such EAB key".into()))?;
        key.withdrawn = true;
        self.acme_store.put_eab_key(&key)?;
        self.store.flush()
    }
}

impl Acme {
    /// The EAB keys of this service's stores.
    pub fn eab_keys(&self) -> EabKeys<'_> {
        EabKeys {
            acme_store: &*self.acme_store,
            store: &*self.store,
            secrets: &self.secrets,
            cfg: &self.cfg,
        }
    }

    /// Creates an EAB key after checking its allow-list.
    pub fn create_eab_key(&self, req: NewEabKey) -> Result<IssuedEabKey> {
        self.eab_keys().create(req, self.clock.now())
    }

    /// RFC 8555 §7.3.4: checks the binding in a newAccount payload and returns its key record.
    pub(super) fn verify_eab(
        &self,
        eab: &Value,
        account_key: &Jwk,
        url: &str,
    ) -> Result<EabKeyRecord> {
        let unauthorized = |m: &str| Error::acme(AcmeProblem::Unauthorized, m);
        let inner = jws::parse_eab(eab)?;
        if inner.protected.url != url {
            return Err(unauthorized("external account binding url does not match"));
        }
        let kid = inner
            .protected
            .kid
            .as_deref()
            .and_then(|k| EabKid::parse(k).ok())
            .ok_or_else(|| unauthorized("unknown external account binding key"))?;
        let rec = self
            .acme_store
            .get_eab_key(&kid)?
            .ok_or_else(|| unauthorized("unknown external account binding key"))?;
        let sealed =
            Base64UrlUnpadded::decode_vec(&rec.hmac_key_sealed).map_err(Error::internal)?;
        let mac = self.secrets.open(SEAL_PURPOSE, &sealed)?;
        inner.verify_hs256(&mac)?;
        let payload: Value = serde_json::from_slice(&inner.payload).map_err(|_| {
            unauthorized("external account binding payload must be the account key")
        })?;
        let bound = Jwk::from_json(&payload).map_err(|_| {
            unauthorized("external account binding payload must be the account key")
        })?;
        if &bound != account_key {
            return Err(unauthorized(
                "external account binding payload is not the account key (RFC 8555 §7.3.4)",
            ));
        }
        if rec.withdrawn || rec.expires_at.is_some_and(|e| e <= self.clock.now()) {
            return Err(unauthorized(
                "external account binding key expired or withdrawn",
            ));
        }
        if rec.account.is_some() {
            return Err(unauthorized(
                "external account binding key is already bound to an account",
            ));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(value: &str) -> AllowedIdentifier {
        AllowedIdentifier {
            kind: policy::DNS.into(),
            value: value.into(),
            challenge: false,
        }
    }

    #[test]
    fn patterns_are_stored_as_asked() {
        for (asked, stored) in [
            ("*.x.corp.example", "*.x.corp.example"),
            ("*.x.example", "*.x.example"),
            ("*.x.x.example", "*.x.x.example"),
            ("*.X.Corp.Example", "*.x.corp.example"),
            ("*.corp.example", "*.corp.example"),
            ("Host.Corp.Example", "host.corp.example"),
        ] {
            assert_eq!(
                normalise_allowed(&dns(asked)).unwrap().value,
                stored,
                "{asked}"
            );
        }
        let wide = normalise_allowed(&dns("*.x.corp.example")).unwrap();
        assert!(!policy::matches(&wide.value, "payroll.corp.example"));
        assert!(policy::matches(&wide.value, "laptop.x.corp.example"));
        for bad in [
            "*.",
            "*.*.example",
            "*.exa mple",
            "*.ex_ample",
            "*.-x.example",
        ] {
            assert!(normalise_allowed(&dns(bad)).is_err(), "{bad}");
        }
    }

    /// A small deterministic PRNG (xorshift64*), so the property test needs no dependency and
    /// every failure replays.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// 1 to `max` labels from a small alphabet, so that names and patterns overlap often.
        fn labels(&mut self, max: usize) -> Vec<&'static str> {
            const LABELS: [&str; 8] = ["x", "X", "corp", "example", "a", "b-1", "xx", "x1"];
            (0..1 + self.below(max))
                .map(|_| LABELS[self.below(LABELS.len())])
                .collect()
        }
    }

    /// Property: whatever `*.suffix` is asked for, the stored pattern matches only names that
    /// end in `.suffix` (compared without case), i.e. names inside what was asked for.
    #[test]
    fn a_stored_pattern_never_matches_outside_its_suffix() {
        let mut rng = Rng(0x5eed_1234_abcd_ef01);
        for _ in 0..20_000 {
            let suffix = rng.labels(4).join(".");
            let stored = normalise_allowed(&dns(&format!("*.{suffix}")))
                .unwrap()
                .value;
            // Names: random ones, and random prefixes on tails of the suffix (the near misses).
            let tail: Vec<&str> = suffix.split('.').skip(rng.below(3)).collect();
            let mut name = rng.labels(3);
            if rng.below(2) == 0 {
                name.extend(tail);
            }
            let name = name.join(".");
            let inside = name
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", suffix.to_ascii_lowercase()));
            assert_eq!(
                policy::matches(&stored, &name),
                inside,
                "*.{suffix} stored as {stored}, name {name}"
            );
        }
    }
}
