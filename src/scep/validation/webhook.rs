//! The challenge validation webhook: the shape of step-ca's SCEP challenge webhook, signed the
//! way enrolld's event webhooks are.
//!
//! enrolld POSTs `{"transaction_id", "challenge", "csr" (base64 DER), "profile", "label",
//! "timestamp" (RFC 3339)}` with `X-Enrolld-Signature: sha256=<hex HMAC-SHA256(key, body)>`.
//! The timestamp is inside the signed body, so a receiver refuses a replayed request by its
//! age. The receiver answers 2xx with `{"allow": bool, "subject": "…"?, "reason": "…"?}`;
//! anything else (no answer within the timeout, another status, more than [`MAX_ANSWER`]
//! bytes, other JSON) is an error and the request is not issued.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64ct::{Base64, Encoding};
use bytes::Bytes;
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::{ValidationRequest, Verdict};
use crate::clock::SharedClock;
use crate::config::scep_validation::read_secret_file;
use crate::config::ConfigError;
use crate::error::{Error, Result};
use crate::ids::SubjectId;
use crate::notify::event::rfc3339;
use crate::notify::http::Endpoint;

/// Most bytes of an answer read: an answer is a few fields.
pub const MAX_ANSWER: usize = 16 * 1024;
/// Shortest HMAC key accepted: 128 bits, like every other secret of enrolld.
const MIN_SECRET: usize = 16;
/// Longest deny reason kept.
const MAX_REASON: usize = 255;

/// A configured challenge webhook.
pub struct Webhook {
    /// The receiver.
    endpoint: Endpoint,
    /// Host of the receiver's URL, for log lines (the path may hold the receiver's own secret).
    host: String,
    /// Signs every body.
    key: hmac::Key,
    /// Longest wait for an answer, connection included.
    timeout: Duration,
    /// Stamps each request.
    clock: SharedClock,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The signed request body. Field order is the order in the JSON.
#[derive(Serialize)]
struct Body<'a> {
    transaction_id: &'a str,
    challenge: &'a str,
    csr: String,
    profile: &'a str,
    label: Option<&'a str>,
    timestamp: String,
}

/// The receiver's answer. Unknown fields are ignored, so receivers may add their own.
#[derive(Deserialize)]
struct Answer {
    allow: bool,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl Webhook {
    /// Reads the key and the trust anchors; `url` was checked by `ChallengeValidation::validate`.
    pub fn new(
        url: &str,
        secret_file: &Path,
        ca_file: Option<&Path>,
        timeout_secs: u64,
        clock: SharedClock,
    ) -> std::result::Result<Self, ConfigError> {
        let secret = read_secret_file("webhook secret_file", secret_file)?;
        if secret.len() < MIN_SECRET {
            return Err(ConfigError::Invalid(format!(
                "scep challenge validation: webhook secret_file {}: the secret must be at least {MIN_SECRET} bytes",
                secret_file.display()
            )));
        }
        let roots = super::roots("webhook ca_file", ca_file)?;
        let endpoint = super::endpoint("webhook url", url, &roots)
            .map_err(|e| ConfigError::Invalid(format!("scep challenge validation: {e}")))?;
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("")
            .to_owned();
        Ok(Webhook {
            endpoint,
            host,
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            timeout: Duration::from_secs(timeout_secs),
            clock,
        })
    }

    /// Asks the receiver; see the module documentation for the exchange.
    pub async fn validate(&self, r: &ValidationRequest<'_>) -> Result<Verdict> {
        let body = serde_json::to_vec(&Body {
            transaction_id: r.transaction_id,
            challenge: r.challenge,
            csr: Base64::encode_string(r.csr_der),
            profile: r.profile,
            label: r.label,
            timestamp: rfc3339(self.clock.now()),
        })?;
        let signature = format!(
            "sha256={}",
            hex::encode(hmac::sign(&self.key, &body).as_ref())
        );
        let reply = self
            .endpoint
            .send(
                Method::POST,
                "",
                &[
                    ("content-type", "application/json"),
                    ("x-enrolld-signature", &signature),
                ],
                Bytes::from(body),
                self.timeout,
                MAX_ANSWER,
            )
            .await
            .map_err(|e| self.fail(format_args!("{e}")))?;
        if !reply.status.is_success() {
            return Err(self.fail(format_args!("answered with status {}", reply.status)));
        }
        let answer: Answer = serde_json::from_slice(&reply.body).map_err(|e| {
            self.fail(format_args!(
                "the answer is not {{\"allow\": bool, …}}: {e}"
            ))
        })?;
        if !answer.allow {
            let reason = answer
                .reason
                .map(|s| super::clean_text(&s, MAX_REASON))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "the challenge webhook refused the request".into());
            return Ok(Verdict::Deny { reason });
        }
        if let Some(s) = &answer.subject {
            if SubjectId::parse(s).is_err() {
                return Err(self.fail(format_args!(
                    "the answer names a subject that is not a subject id"
                )));
            }
        }
        Ok(Verdict::Allow {
            subject: answer.subject,
        })
    }

    /// The error for a receiver that gave no decision.
    fn fail(&self, what: fmt::Arguments<'_>) -> Error {
        Error::Internal(format!("scep challenge webhook {}: {what}", self.host))
    }
}
