//! External Account Binding keys (RFC 8555 §7.3.4): created through the admin API, MAC keys
//! sealed at rest (they must be recoverable to check a MAC, so they cannot be hashed).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jws::{self, Jwk};
use super::{now, policy, Acme};
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::{EabKid, ProfileName};
use crate::registry::secrets::random_bytes;
use crate::store::{AllowedIdentifier, EabKeyRecord};

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

impl Acme {
    /// Creates an EAB key after checking its allow-list.
    pub fn create_eab_key(&self, mut req: NewEabKey) -> Result<IssuedEabKey> {
        let subject_id = req.subject_id.take();
        let profile = match req.profile {
            Some(p) => ProfileName(p),
            None => self.cfg.acme.default_profile.clone(),
        };
        if !self.cfg.acme.profiles.contains(&profile) {
            return Err(Error::BadRequest(format!(
                "profile {profile} is not offered over ACME"
            )));
        }
        if req.allowed_identifiers.is_empty() || req.allowed_identifiers.len() > 1000 {
            return Err(Error::BadRequest(
                "allowed_identifiers must list 1 to 1000 entries".into(),
            ));
        }
        let mut allowed = Vec::new();
        for a in req.allowed_identifiers {
            let (pattern, probe) = match a.value.strip_prefix("*.") {
                Some(suffix) => (true, format!("x.{suffix}")),
                None => (false, a.value.clone()),
            };
            if pattern && a.kind != policy::DNS {
                return Err(Error::BadRequest(
                    "only dns entries may be *.suffix patterns".into(),
                ));
            }
            let norm = policy::normalise(&crate::store::Identifier {
                kind: a.kind.clone(),
                value: probe,
            })
            .map_err(|e| Error::BadRequest(e.public_message().to_owned()))?;
            if a.challenge && a.kind != policy::DNS {
                return Err(Error::BadRequest(format!(
                    "{} identifiers have no challenge type; list them without \"challenge\"",
                    a.kind
                )));
            }
            let value = if pattern {
                format!("*.{}", norm.value.trim_start_matches("x."))
            } else {
                norm.value
            };
            allowed.push(AllowedIdentifier {
                kind: norm.kind,
                value,
                challenge: a.challenge,
            });
        }
        let expires_at = match req.expires_in {
            Some(0) => return Err(Error::BadRequest("expires_in must be > 0".into())),
            Some(s) => Some(now().saturating_add(s.min(10 * 366 * 86400) as i64)),
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
            created_at: now(),
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
    pub fn withdraw_eab_key(&self, kid: &str) -> Result<()> {
        let kid = EabKid::parse(kid)?;
        let mut key = self
            .acme_store
            .get_eab_key(&kid)?
            .ok_or_else(|| Error::NotFound("no such EAB key".into()))?;
        key.withdrawn = true;
        self.acme_store.put_eab_key(&key)?;
        self.store.flush()
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
        if rec.withdrawn || rec.expires_at.is_some_and(|e| e <= now()) {
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
