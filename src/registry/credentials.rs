//! EST enrolment credentials (RFC 7030 §3.2.3 HTTP Basic): creation and authentication.

use serde::{Deserialize, Serialize};

use crate::ca::profile::{check_san_kinds, SanName};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ids::{CredentialId, Label};
use crate::secrets::{random_token, Secrets};
use crate::store::{CredentialRecord, Store};

/// `POST /api/v1/est/credentials` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEstCredential {
    /// Label the credential is scoped to; absent means the default label only.
    #[serde(default)]
    pub label: Option<String>,
    /// The subject commonName the certificate gets.
    pub common_name: String,
    /// SANs the CSR may request (`dns:`, `email:`, `uri:`, `ip:` or bare values).
    #[serde(default)]
    pub sans: Vec<String>,
    /// Lifetime in seconds; the configured default otherwise.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// How many enrolments it allows (1: one-time, the default).
    #[serde(default)]
    pub uses: Option<u32>,
    /// The registered subject (set by the registry, not by API clients).
    #[serde(skip)]
    pub subject_id: Option<crate::ids::SubjectId>,
    /// Profile override (set by the registry for subject credentials).
    #[serde(skip)]
    pub profile: Option<crate::ids::ProfileName>,
    /// The channel it enrols on: EST (Basic username and password) or SCEP (a challenge).
    #[serde(skip)]
    pub channel: Channel,
}

/// Prefix of the ids of SCEP challenges.
pub const SCEP_PREFIX: &str = "scep-";

impl Channel {
    /// The channel a credential id belongs to.
    pub fn of(id: &CredentialId) -> Channel {
        if id.as_str().starts_with(SCEP_PREFIX) {
            Channel::Scep
        } else {
            Channel::Est
        }
    }
}

/// The channel an enrolment credential is for; each refuses the other's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Channel {
    /// RFC 7030 HTTP Basic: username `est-…`.
    #[default]
    Est,
    /// RFC 8894 challengePassword `scep-….<secret>`.
    Scep,
}

/// The answer: the only time the password is seen.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssuedEstCredential {
    /// The Basic username.
    pub username: String,
    /// The Basic password.
    pub password: String,
    /// The label it is scoped to.
    pub label: Option<String>,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

/// Most SANs one credential may carry.
const MAX_SANS: usize = 50;
/// Longest allowed lifetime of a credential: one year.
const MAX_TTL: u64 = 366 * 24 * 3600;

/// Creates a credential after checking it against the label's profile.
pub fn create(
    store: &dyn Store,
    secrets: &Secrets,
    cfg: &Config,
    req: NewEstCredential,
    now: i64,
) -> Result<IssuedEstCredential> {
    let label = match &req.label {
        Some(l) => {
            let label = Label::parse(l).map_err(|_| Error::Malformed("invalid label".into()))?;
            let known = match req.channel {
                Channel::Est => cfg.est.labels.contains_key(&label),
                Channel::Scep => cfg.scep.labels.contains_key(&label),
            };
            if !known {
                let what = match req.channel {
                    Channel::Est => "EST",
                    Channel::Scep => "SCEP",
                };
                return Err(Error::Malformed(format!("unknown {what} label {label}")));
            }
            Some(label)
        }
        None => None,
    };
    if req.channel == Channel::Scep {
        let path = match &label {
            Some(l) => cfg.scep.labels[l].clone(),
            None => cfg.scep.default_path(),
        };
        if !matches!(
            path.validation,
            crate::config::ChallengeValidation::Registry
        ) {
            return Err(Error::Malformed(
                "this SCEP path checks challenges with its webhook or Intune, not with registry challenges".into(),
            ));
        }
    }
    let profile_name = match (&req.profile, &label, req.channel) {
        (Some(p), _, _) => p.clone(),
        (None, Some(l), Channel::Est) => cfg.est.labels[l].profile.clone(),
        (None, None, Channel::Est) => cfg.est.default_profile.clone(),
        (None, Some(l), Channel::Scep) => cfg.scep.labels[l].profile.clone(),
        (None, None, Channel::Scep) => cfg.scep.profile.clone(),
    };
    let profile = cfg.profile(&profile_name)?;
    let cn = req.common_name.trim();
    if cn.is_empty() || cn.len() > 64 || cn.chars().any(|c| c.is_control()) {
        return Err(Error::Malformed(
            "common_name must be 1 to 64 printable characters".into(),
        ));
    }
    if req.sans.len() > MAX_SANS {
        return Err(Error::Malformed(format!("at most {MAX_SANS} sans")));
    }
    let mut sans = req
        .sans
        .iter()
        .map(|s| SanName::parse(s))
        .collect::<Result<Vec<_>>>()?;
    sans.sort();
    sans.dedup();
    check_san_kinds(profile, &profile_name.0, &sans).map_err(|e| match e {
        Error::BadCsr(m) => Error::Malformed(m),
        o => o,
    })?;
    let ttl = req.expires_in.unwrap_or(match req.channel {
        Channel::Est => cfg.est.credential_ttl_secs,
        Channel::Scep => cfg.scep.challenge_ttl_secs,
    });
    if ttl == 0 || ttl > MAX_TTL {
        return Err(Error::Malformed(format!(
            "expires_in must be 1..={MAX_TTL} seconds"
        )));
    }
    let uses = req.uses.unwrap_or(1);
    if uses == 0 || uses > 1000 {
        return Err(Error::Malformed("uses must be 1..=1000".into()));
    }
    let prefix = match req.channel {
        Channel::Est => "est-",
        Channel::Scep => SCEP_PREFIX,
    };
    // A SCEP challenge travels as the CSR's challengePassword, which clients such as
    // certmonger encode as a PrintableString whatever it holds: hex keeps it one (base64url's
    // `_` is not a PrintableString character, and such a CSR does not parse).
    let token = |n: usize| -> Result<String> {
        match req.channel {
            Channel::Est => random_token(n),
            Channel::Scep => Ok(hex::encode(crate::secrets::random_bytes(n)?)),
        }
    };
    let id = CredentialId::parse(&format!("{prefix}{}", token(9)?))?;
    let password = token(18)?;
    let expires_at = now.saturating_add(ttl as i64);
    let rec = CredentialRecord {
        version: 1,
        id: id.clone(),
        secret_hash: secrets.hash(&password),
        label: label.clone(),
        common_name: cn.to_owned(),
        sans: sans.iter().map(|s| s.to_string()).collect(),
        created_at: now,
        expires_at,
        uses_left: uses,
        uses: Vec::new(),
        disabled: false,
        subject_id: req.subject_id.clone(),
        profile: req.profile.clone(),
    };
    store.create_credential(&rec)?;
    store.flush()?;
    Ok(IssuedEstCredential {
        username: id.to_string(),
        password,
        label: label.map(|l| l.to_string()),
        expires_at,
    })
}

/// Authenticates a Basic username and password. Every failure says the same thing, so the
/// answer does not reveal whether a username exists.
pub fn authenticate(
    store: &dyn Store,
    secrets: &Secrets,
    username: &str,
    password: &str,
    now: i64,
) -> Result<CredentialRecord> {
    let fail = || Error::Unauthenticated("invalid enrolment credentials".into());
    let rec = CredentialId::parse(username)
        .ok()
        .map(|id| store.get_credential(&id))
        .transpose()?
        .flatten();
    let Some(rec) = rec else {
        // Spend the same time as a real check.
        let _ = secrets.verify(password, &"00".repeat(32));
        return Err(fail());
    };
    if !secrets.verify(password, &rec.secret_hash) || rec.disabled || rec.expires_at <= now {
        return Err(fail());
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2985 §5.4.1 challengePassword as a PrintableString (X.680 §41.4): letters, digits,
    /// space and '()+,-./:=?.
    fn printable(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
    }

    /// Every SCEP challenge is a valid PrintableString (with base64url, about half of them held
    /// a `_`, and certmonger's CSR for them did not parse).
    #[test]
    fn scep_challenges_are_printable_strings() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sled_store::SledStore::open(&dir.path().join("s")).unwrap();
        let secrets = Secrets::load_or_create(&dir.path().join("k")).unwrap();
        let cfg = crate::config::Config::default();
        for _ in 0..40 {
            let c = create(
                &store,
                &secrets,
                &cfg,
                NewEstCredential {
                    label: None,
                    common_name: "printer-7".into(),
                    sans: vec![],
                    expires_in: Some(60),
                    uses: Some(1),
                    subject_id: None,
                    profile: None,
                    channel: Channel::Scep,
                },
                1_000,
            )
            .unwrap();
            let challenge = format!("{}.{}", c.username, c.password);
            assert!(printable(&challenge), "{challenge}");
            assert!(c.password.len() >= 36, "18 random bytes");
        }
    }
}
