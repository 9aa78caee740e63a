//! Challenge validators outside the registry: the SCEP service asks one of these whether a
//! request's challenge password is good before it issues, and tells it the outcome after.
//!
//! - [`webhook::Webhook`]: a signed JSON POST to an operator's receiver (the shape of
//!   step-ca's SCEP challenge webhook), which answers allow or deny and may name the subject.
//! - [`intune::Intune`]: Microsoft Intune's SCEP validation service, called the way
//!   Microsoft's published connector library calls it (Entra token, endpoint discovery through
//!   Graph, `validateRequest`, then `successNotification` / `failureNotification`).
//!
//! A validator that cannot be reached, answers too late, too much or nonsense is an error for
//! the caller, never an allow: a request is issued only on an explicit allow. Notifications
//! after the decision only log their failures; they never undo an issuance. No HTTP server
//! code here: the outbound calls go through `notify::http`.

pub mod intune;
pub mod webhook;

#[cfg(test)]
mod intune_tests;
#[cfg(test)]
pub(super) mod stand_in;
#[cfg(test)]
mod tests;

use std::path::Path;

use crate::clock::SharedClock;
use crate::config::scep_validation::ChallengeValidation;
use crate::config::ConfigError;
use crate::error::Result;
use crate::notify::http;

/// What the SCEP service knows about a request when it asks for a decision.
#[derive(Debug, Clone, Copy)]
pub struct ValidationRequest<'a> {
    /// RFC 8894 §3.2.1.1 transactionID, as the client sent it; correlates the calls about one
    /// request.
    pub transaction_id: &'a str,
    /// The PKCS#10 request, DER, signature already verified; it carries the challenge.
    pub csr_der: &'a [u8],
    /// The challenge password from the CSR (RFC 2985 challengePassword).
    pub challenge: &'a str,
    /// The certificate profile the request would be issued under.
    pub profile: &'a str,
    /// The `/scep/<label>` the request came through, if any.
    pub label: Option<&'a str>,
}

/// A validator's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Issue.
    Allow {
        /// The registry subject id to issue for, when the validator names one; otherwise the
        /// profile decides whose certificate it is.
        subject: Option<String>,
    },
    /// Refuse; the reason is for the log and the client's failure text (no secrets in it).
    Deny {
        /// Why, in the validator's words (shortened, control characters removed).
        reason: String,
    },
}

/// The certificate just issued, for a validator that wants to hear of it.
#[derive(Debug, Clone, Copy)]
pub struct IssuedInfo<'a> {
    /// Serial, lower-case hex.
    pub serial_hex: &'a str,
    /// The certificate, DER (Intune wants its SHA-1 thumbprint).
    pub der: &'a [u8],
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// The issuing CA's subject name, as text.
    pub issuer: &'a str,
}

/// A configured validator other than the registry.
// One per profile, built once at start and shared: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Validator {
    /// A signed webhook to an operator's receiver.
    Webhook(webhook::Webhook),
    /// Microsoft Intune's SCEP validation service.
    Intune(intune::Intune),
}

impl Validator {
    /// Builds the validator a profile's settings ask for, reading its secret and CA files now
    /// so that a mistake stops the server at start. `Ok(None)` for the registry, which needs
    /// no validator. `clock` stamps webhook requests and times the Intune token cache.
    pub fn from_config(
        cfg: &ChallengeValidation,
        clock: SharedClock,
    ) -> std::result::Result<Option<Validator>, ConfigError> {
        cfg.validate()?;
        Ok(match cfg {
            ChallengeValidation::Registry => None,
            ChallengeValidation::Webhook {
                url,
                secret_file,
                ca_file,
                timeout_secs,
            } => Some(Validator::Webhook(webhook::Webhook::new(
                url,
                secret_file,
                ca_file.as_deref(),
                *timeout_secs,
                clock,
            )?)),
            ChallengeValidation::Intune { .. } => {
                Some(Validator::Intune(intune::Intune::from_config(cfg, clock)?))
            }
        })
    }

    /// Asks for a decision. `Err` when the validator gave none (unreachable, too slow, a
    /// non-2xx status, an answer too large or not understood): the caller refuses the request.
    pub async fn validate(&self, r: &ValidationRequest<'_>) -> Result<Verdict> {
        match self {
            Validator::Webhook(w) => w.validate(r).await,
            Validator::Intune(i) => i.validate(r).await,
        }
    }

    /// Tells the validator that the request was issued. Failures are logged, never returned:
    /// the certificate exists already.
    pub async fn notify_success(&self, r: &ValidationRequest<'_>, i: &IssuedInfo<'_>) {
        match self {
            // The receiver hears of issuance through `[webhooks]` (`certificate.issue`).
            Validator::Webhook(_) => {}
            Validator::Intune(v) => v.notify_success(r, i).await,
        }
    }

    /// Tells the validator that an allowed request was not issued after all: `hresult` is a
    /// Windows HRESULT (Intune shows it to its administrators), `description` says why.
    /// Failures are logged, never returned.
    pub async fn notify_failure(&self, r: &ValidationRequest<'_>, hresult: i64, description: &str) {
        match self {
            Validator::Webhook(_) => {}
            Validator::Intune(v) => v.notify_failure(r, hresult, description).await,
        }
    }
}

/// The trust anchors for a validator's HTTPS calls: the named PEM file, or the system's bundle.
fn roots(
    what: &str,
    ca_file: Option<&Path>,
) -> std::result::Result<rustls::RootCertStore, ConfigError> {
    match ca_file {
        Some(p) => http::roots_from_pem_file(p),
        None => http::system_roots(),
    }
    .map_err(|e| ConfigError::Invalid(format!("scep challenge validation: {what}: {e}")))
}

/// An endpoint for a URL that `check_url` accepted: TLS with `roots` for `https`.
fn endpoint(
    what: &str,
    url: &str,
    roots: &rustls::RootCertStore,
) -> std::result::Result<http::Endpoint, String> {
    let tls = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    http::Endpoint::parse(url, tls.then(|| roots.clone())).map_err(|e| format!("{what}: {e}"))
}

/// A validator's words made fit for a log line and a client's failure text: control
/// characters dropped, at most `max` characters.
fn clean_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// A random (version 4) GUID in its text form, as Intune's `client-request-id` header wants.
fn random_guid() -> Result<String> {
    let mut b = crate::secrets::random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}
