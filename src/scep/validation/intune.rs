//! Intune connector mode: Microsoft Intune's SCEP validation service, called the way
//! Microsoft's published connector library (microsoft/Intune-Resource-Access,
//! `src/CsrValidation`) calls it.
//!
//! 1. Tokens: Entra's client-credential grant at `{login_url}/{tenant}/oauth2/v2.0/token`, one
//!    token for Intune (scope [`INTUNE_SCOPE`]) and one for Graph (`{graph_url}/.default`),
//!    each kept until a minute before it expires.
//! 2. Discovery: `GET {graph_url}/v1.0/servicePrincipals/appId=`[`INTUNE_APP_ID`]`/endpoints`
//!    lists Intune's services; the one named [`SERVICE_NAME`] is kept for
//!    [`DISCOVERY_TTL`] seconds, and forgotten when a call to it fails (it may have moved).
//! 3. Calls: `POST {service}/ScepActions/validateRequest` before issuing, then
//!    `successNotification` or `failureNotification`, each with `Authorization: Bearer`,
//!    `api-version: `[`API_VERSION`] and a fresh `client-request-id` GUID (logged, for
//!    Microsoft's support). Intune answers `{"code", "errorDescription"}`; `Success` allows,
//!    every other code denies with the code and description as the reason.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64ct::{Base64, Encoding};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::{IssuedInfo, ValidationRequest, Verdict};
use crate::clock::SharedClock;
use crate::config::scep_validation::{check_url, read_secret_file};
use crate::config::{ChallengeValidation, ConfigError};
use crate::error::{Error, Result};
use crate::notify::event::rfc3339;
use crate::notify::http::{Endpoint, Reply};

/// Intune's application id in every tenant (its service principal lists the endpoints).
pub const INTUNE_APP_ID: &str = "0000000a-0000-0000-c000-000000000000";
/// The Intune service that validates SCEP requests.
pub const SERVICE_NAME: &str = "ScepRequestValidationFEService";
/// The `api-version` header of the SCEP validation calls.
pub const API_VERSION: &str = "2018-02-20";
/// The scope of the Intune token: the resource `https://api.manage.microsoft.com/` and
/// `/.default`, written as Microsoft's library writes it.
pub const INTUNE_SCOPE: &str = "https://api.manage.microsoft.com//.default";
/// How long a discovered service endpoint is used before it is looked up again (seconds).
pub const DISCOVERY_TTL: i64 = 24 * 3600;
/// A token is not used in the last minute of its life.
const TOKEN_MARGIN: i64 = 60;
/// Most bytes of an answer read (the endpoint list is the longest, a few tens of KB).
const MAX_ANSWER: usize = 256 * 1024;
/// Intune's limit on a failure description.
const MAX_DESCRIPTION: usize = 255;
/// Longest reason or error detail kept from Microsoft's answers.
const MAX_DETAIL: usize = 300;
/// `callerInfo` in every body: who is calling, for Intune's logs.
const CALLER_INFO: &str = concat!("enrolld/", env!("CARGO_PKG_VERSION"));

/// A configured Intune connection with its cached tokens and service endpoint.
pub struct Intune {
    /// Entra tenant, in the token URL.
    tenant: String,
    /// The app registration's application id.
    client_id: String,
    /// The app registration's client secret.
    client_secret: Vec<u8>,
    /// Entra's sign-in endpoint.
    login: Endpoint,
    /// Microsoft Graph.
    graph: Endpoint,
    /// Scope of the Graph token: `{graph_url}/.default`.
    graph_scope: String,
    /// Trust anchors for the discovered service endpoint.
    roots: rustls::RootCertStore,
    /// Longest wait for each call.
    timeout: Duration,
    /// Times the caches.
    clock: SharedClock,
    /// The Intune token; the lock also keeps two requests from fetching it at once.
    intune_token: Mutex<Option<Token>>,
    /// The Graph token, for discovery.
    graph_token: Mutex<Option<Token>>,
    /// The discovered SCEP validation service.
    service: Mutex<Option<Service>>,
}

impl fmt::Debug for Intune {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intune")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An access token and when to stop using it.
struct Token {
    /// The bearer token.
    value: String,
    /// Unix seconds after which a new one is fetched.
    use_until: i64,
}

/// The discovered SCEP validation service.
struct Service {
    /// Where the calls go.
    endpoint: Arc<Endpoint>,
    /// Unix seconds after which it is looked up again.
    use_until: i64,
}

/// Intune's answer to every SCEP action.
#[derive(Deserialize)]
struct Answer {
    code: String,
    #[serde(default, rename = "errorDescription")]
    error_description: Option<String>,
}

impl Intune {
    pub(super) fn from_config(
        cfg: &ChallengeValidation,
        clock: SharedClock,
    ) -> std::result::Result<Self, ConfigError> {
        let ChallengeValidation::Intune {
            tenant,
            client_id,
            client_secret_file,
            ca_file,
            login_url,
            graph_url,
            timeout_secs,
        } = cfg
        else {
            return Err(ConfigError::Invalid(
                "scep challenge validation: not an intune setting".into(),
            ));
        };
        let client_secret = read_secret_file("intune client_secret_file", client_secret_file)?;
        let roots = super::roots("intune ca_file", ca_file.as_deref())?;
        let bad = |e: String| ConfigError::Invalid(format!("scep challenge validation: {e}"));
        let login = super::endpoint("intune login_url", login_url, &roots).map_err(bad)?;
        let graph = super::endpoint("intune graph_url", graph_url, &roots).map_err(bad)?;
        Ok(Intune {
            tenant: tenant.clone(),
            client_id: client_id.clone(),
            client_secret,
            login,
            graph,
            graph_scope: format!("{}/.default", graph_url.trim_end_matches('/')),
            roots,
            timeout: Duration::from_secs(*timeout_secs),
            clock,
            intune_token: Mutex::new(None),
            graph_token: Mutex::new(None),
            service: Mutex::new(None),
        })
    }

    /// `validateRequest`: `Success` allows (the profile names the subject), any other code
    /// denies.
    pub async fn validate(&self, r: &ValidationRequest<'_>) -> Result<Verdict> {
        let body = json!({"request": {
            "transactionId": r.transaction_id,
            "certificateRequest": Base64::encode_string(r.csr_der),
            "callerInfo": CALLER_INFO,
        }});
        let a = self
            .call("validateRequest", r.transaction_id, &body)
            .await?;
        if a.code == "Success" {
            return Ok(Verdict::Allow { subject: None });
        }
        let reason = match a.error_description.as_deref().map(|d| d.trim()) {
            Some(d) if !d.is_empty() => format!("Intune: {}: {d}", a.code),
            _ => format!("Intune: {}", a.code),
        };
        Ok(Verdict::Deny {
            reason: super::clean_text(&reason, MAX_DETAIL),
        })
    }

    /// `successNotification` with the certificate's thumbprint (SHA-1, upper-case hex, as
    /// Windows writes it), serial, expiry and issuer.
    pub async fn notify_success(&self, r: &ValidationRequest<'_>, i: &IssuedInfo<'_>) {
        let thumbprint =
            hex::encode_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, i.der).as_ref());
        let body = json!({"notification": {
            "transactionId": r.transaction_id,
            "certificateRequest": Base64::encode_string(r.csr_der),
            "certificateThumbprint": thumbprint,
            "certificateSerialNumber": i.serial_hex,
            "certificateExpirationDateUtc": iso8601_millis(i.not_after),
            "issuingCertificateAuthority": i.issuer,
            "callerInfo": CALLER_INFO,
        }});
        self.notify("successNotification", r.transaction_id, &body)
            .await;
    }

    /// `failureNotification` with the HRESULT and a description of at most 255 characters.
    pub async fn notify_failure(&self, r: &ValidationRequest<'_>, hresult: i64, description: &str) {
        let mut d = super::clean_text(description, MAX_DESCRIPTION);
        if d.trim().is_empty() {
            d = "the certificate authority refused the request".into();
        }
        let body = json!({"notification": {
            "transactionId": r.transaction_id,
            "certificateRequest": Base64::encode_string(r.csr_der),
            "hResult": hresult,
            "errorDescription": d,
            "callerInfo": CALLER_INFO,
        }});
        self.notify("failureNotification", r.transaction_id, &body)
            .await;
    }

    /// A notification whose failure is only logged.
    async fn notify(&self, action: &str, transaction_id: &str, body: &serde_json::Value) {
        match self.call(action, transaction_id, body).await {
            Ok(a) if a.code == "Success" => {}
            Ok(a) => tracing::warn!(
                transaction_id,
                action,
                code = %super::clean_text(&a.code, 64),
                "intune did not accept the notification"
            ),
            Err(e) => {
                tracing::warn!(transaction_id, action, error = %e, "intune notification failed")
            }
        }
    }

    /// One SCEP action: discover the service, get the token, POST, read the code.
    async fn call(
        &self,
        action: &str,
        transaction_id: &str,
        body: &serde_json::Value,
    ) -> Result<Answer> {
        let service = self.service().await?;
        let token = self.token(&self.intune_token, INTUNE_SCOPE).await?;
        let activity = super::random_guid()?;
        let bearer = format!("Bearer {token}");
        let sent = service
            .send(
                Method::POST,
                &format!("/ScepActions/{action}"),
                &[
                    ("authorization", &bearer),
                    ("api-version", API_VERSION),
                    ("client-request-id", &activity),
                    ("content-type", "application/json"),
                    ("accept", "application/json"),
                ],
                Bytes::from(serde_json::to_vec(body)?),
                self.timeout,
                MAX_ANSWER,
            )
            .await;
        let reply = match sent {
            Ok(r) if r.status.is_success() => r,
            other => {
                // The service may have moved, or the token been revoked: look both up again.
                *self.service.lock().await = None;
                let detail = match other {
                    Ok(r) => {
                        if refuses_token(r.status) {
                            *self.intune_token.lock().await = None;
                        }
                        format!("answered with status {}", r.status)
                    }
                    Err(e) => e.to_string(),
                };
                return Err(fail(format_args!(
                    "{action} (client-request-id {activity}): {detail}"
                )));
            }
        };
        let answer: Answer = serde_json::from_slice(&reply.body).map_err(|e| {
            fail(format_args!(
                "{action} (client-request-id {activity}): the answer is not {{\"code\", \"errorDescription\"}}: {e}"
            ))
        })?;
        tracing::info!(
            transaction_id,
            action,
            client_request_id = %activity,
            code = %super::clean_text(&answer.code, 64),
            "intune answered"
        );
        Ok(answer)
    }

    /// The SCEP validation service's endpoint, discovered through Graph when not cached.
    async fn service(&self) -> Result<Arc<Endpoint>> {
        let mut slot = self.service.lock().await;
        let now = self.clock.now();
        if let Some(s) = slot.as_ref().filter(|s| now < s.use_until) {
            return Ok(s.endpoint.clone());
        }
        let token = self.token(&self.graph_token, &self.graph_scope).await?;
        let activity = super::random_guid()?;
        let bearer = format!("Bearer {token}");
        let reply = self
            .graph
            .send(
                Method::GET,
                &format!("/v1.0/servicePrincipals/appId={INTUNE_APP_ID}/endpoints"),
                &[
                    ("authorization", &bearer),
                    ("client-request-id", &activity),
                    ("accept", "application/json"),
                ],
                Bytes::new(),
                self.timeout,
                MAX_ANSWER,
            )
            .await
            .map_err(|e| fail(format_args!("service discovery: {e}")))?;
        if !reply.status.is_success() {
            if refuses_token(reply.status) {
                *self.graph_token.lock().await = None;
            }
            return Err(fail(format_args!(
                "service discovery (client-request-id {activity}): Graph answered with status {}",
                reply.status
            )));
        }
        let url = find_service(&reply).map_err(|e| fail(format_args!("service discovery: {e}")))?;
        check_url(SERVICE_NAME, &url).map_err(|e| fail(format_args!("service discovery: {e}")))?;
        let endpoint = Arc::new(
            super::endpoint(SERVICE_NAME, &url, &self.roots)
                .map_err(|e| fail(format_args!("service discovery: {e}")))?,
        );
        tracing::info!(service = SERVICE_NAME, url = %url, "intune service discovered");
        *slot = Some(Service {
            endpoint: endpoint.clone(),
            use_until: now + DISCOVERY_TTL,
        });
        Ok(endpoint)
    }

    /// A token for `scope` from the cache in `slot`, or a new one from Entra.
    async fn token(&self, slot: &Mutex<Option<Token>>, scope: &str) -> Result<String> {
        let mut slot = slot.lock().await;
        let now = self.clock.now();
        if let Some(t) = slot.as_ref().filter(|t| now < t.use_until) {
            return Ok(t.value.clone());
        }
        let form = [
            ("client_id", self.client_id.as_bytes()),
            ("scope", scope.as_bytes()),
            ("client_secret", &self.client_secret),
            ("grant_type", b"client_credentials".as_slice()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let reply = self
            .login
            .send(
                Method::POST,
                &format!("/{}/oauth2/v2.0/token", self.tenant),
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", "application/json"),
                ],
                Bytes::from(form),
                self.timeout,
                MAX_ANSWER,
            )
            .await
            .map_err(|e| fail(format_args!("Entra token request: {e}")))?;
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            #[serde(default)]
            token_type: Option<String>,
            expires_in: serde_json::Value,
        }
        #[derive(Deserialize)]
        struct Refused {
            #[serde(default)]
            error: String,
            #[serde(default)]
            error_description: String,
        }
        if !reply.status.is_success() {
            let r: Refused = serde_json::from_slice(&reply.body).unwrap_or(Refused {
                error: String::new(),
                error_description: String::new(),
            });
            return Err(fail(format_args!(
                "Entra refused the token for {scope} (status {}): {} {}",
                reply.status,
                super::clean_text(&r.error, 64),
                super::clean_text(&r.error_description, MAX_DETAIL)
            )));
        }
        let g: Granted = serde_json::from_slice(&reply.body)
            .map_err(|e| fail(format_args!("Entra's token answer: {e}")))?;
        // Entra writes expires_in as a number; some issuers write it as a string.
        let lifetime = match &g.expires_in {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .filter(|s| *s > 0)
        .ok_or_else(|| fail(format_args!("Entra's token answer has no expires_in")))?;
        if g.access_token.is_empty()
            || g.token_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(fail(format_args!(
                "Entra's token answer has no bearer token"
            )));
        }
        *slot = Some(Token {
            value: g.access_token.clone(),
            use_until: now + lifetime - TOKEN_MARGIN,
        });
        Ok(g.access_token)
    }
}

/// Whether an answer says the token is no good: revoked or expired (401), or issued before
/// the app's permissions were consented to, so without them (403). The next call gets a new
/// one.
fn refuses_token(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// The error for a call to Microsoft that gave no decision.
fn fail(what: fmt::Arguments<'_>) -> Error {
    Error::Internal(format!("intune: {what}"))
}

/// The URL of [`SERVICE_NAME`] in Graph's endpoint list `{"value": [{"providerName", "uri"}]}`
/// (older answers name the service `serviceName`), compared without regard to case.
fn find_service(reply: &Reply) -> std::result::Result<String, String> {
    #[derive(Deserialize)]
    struct List {
        value: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default, rename = "providerName")]
        provider_name: Option<String>,
        #[serde(default, rename = "serviceName")]
        service_name: Option<String>,
        #[serde(default)]
        uri: Option<String>,
    }
    let list: List = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("Graph's endpoint list is not {{\"value\": […]}}: {e}"))?;
    list.value
        .into_iter()
        .find(|e| {
            e.provider_name
                .as_deref()
                .or(e.service_name.as_deref())
                .is_some_and(|n| n.eq_ignore_ascii_case(SERVICE_NAME))
        })
        .and_then(|e| e.uri)
        .ok_or_else(|| format!("Graph lists no {SERVICE_NAME} for this tenant"))
}

/// `application/x-www-form-urlencoded` for one value: unreserved characters as they are,
/// every other byte as `%XX`.
fn form_encode(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for &b in v {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unix seconds as ISO 8601 UTC with milliseconds (`2027-01-31T12:00:00.000Z`), the form the
/// library documents for `certificateExpirationDateUtc`.
fn iso8601_millis(t: i64) -> String {
    let s = rfc3339(t);
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}.000Z"),
        None => s,
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode(b"a-Z_0.~"), "a-Z_0.~");
        assert_eq!(
            form_encode(b"https://api.manage.microsoft.com//.default"),
            "https%3A%2F%2Fapi.manage.microsoft.com%2F%2F.default"
        );
        assert_eq!(form_encode(b"s3cr+t &=x"), "s3cr%2Bt%20%26%3Dx");
    }

    #[test]
    fn expiry_is_iso8601_with_milliseconds() {
        assert_eq!(iso8601_millis(1_800_000_000), "2027-01-15T08:00:00.000Z");
    }
}
