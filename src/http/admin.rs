//! Admin API routes under `/api/v1` (bearer tokens, JSON, RFC 7807 problems).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use super::errors::problem_response;
use super::est::body_error;
use super::AppState;
use crate::error::Error;
use crate::registry::tokens::Scope;
use crate::revocation::RevocationReason;

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(super) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Error> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return Err(Error::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ));
    }
    let body = body.map_err(body_error)?;
    serde_json::from_slice(&body).map_err(|e| Error::Malformed(format!("invalid JSON: {e}")))
}

/// A JSON answer with `status`, or the error's problem document.
pub(super) fn reply<T: serde::Serialize>(status: StatusCode, r: Result<T, Error>) -> Response {
    match r {
        Ok(v) => (status, Json(v)).into_response(),
        Err(e) => problem_response(&e),
    }
}

/// Runs store work that flushes to disk on the blocking pool, not on an async worker.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Error::internal)?
}

/// The scope the route table names for the admin route being served; the router attaches it
/// to every request of that route.
#[derive(Debug, Clone, Copy)]
pub struct RouteScope(pub Scope);

/// The admin token that authorised the request, named as the audit log's actor
/// (`token:<id>`). Extracting it checks the bearer token for the scope of the route
/// ([`RouteScope`]), so every admin handler checks exactly the scope the route table and the
/// OpenAPI document state: 401 without a valid token, 403 without the scope.
#[derive(Debug)]
pub struct Actor(pub String);

impl FromRequestParts<AppState> for Actor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let Some(RouteScope(scope)) = parts.extensions.get::<RouteScope>().copied() else {
            return Err(problem_response(&Error::Internal(
                "admin route mounted without its scope".into(),
            )));
        };
        match s.admin.authorize(bearer(&parts.headers), scope) {
            Ok(token) => Ok(Actor(format!("token:{}", token.id))),
            Err(e) => Err(problem_response(&e)),
        }
    }
}

/// `POST /api/v1/est/credentials`.
pub async fn create_est_credential(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = blocking(move || {
        let req = json_body(&headers, body)?;
        s.registry.create_est_credential(&who, req)
    })
    .await;
    reply(StatusCode::CREATED, r)
}

/// `GET /api/v1/certificates/{serial}`.
pub async fn get_certificate(
    State(s): State<AppState>,
    _: Actor,
    Path(serial): Path<String>,
) -> Response {
    let r = s.admin.certificate(&serial);
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/acme/eab`: a new External Account Binding key.
pub async fn create_eab_key(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = blocking(move || {
        let req = json_body(&headers, body)?;
        s.registry.create_eab_key(&who, req)
    })
    .await;
    reply(StatusCode::CREATED, r)
}

/// `DELETE /api/v1/acme/eab/{kid}`: withdraws a key (its account is deactivated).
pub async fn withdraw_eab_key(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(kid): Path<String>,
) -> Response {
    let r = blocking(move || s.registry.withdraw_eab_key(&who, &kid)).await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => problem_response(&e),
    }
}

/// `POST /api/v1/acme/renewal-window`: `{"serials": [...], "start"?, "end"?}` (RFC 3339;
/// default: now until a day from now) moves the ARI window so a fleet renews early.
pub async fn set_renewal_window(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        serials: Vec<String>,
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
    }
    // Flushes: on the blocking pool.
    let r = blocking(move || {
        let req: Req = json_body(&headers, body)?;
        let parse = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|d| d.unix_timestamp())
                .map_err(|_| Error::Malformed(format!("{t:?} is not an RFC 3339 time")))
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let start = req.start.as_deref().map(parse).transpose()?.unwrap_or(now);
        let end = req
            .end
            .as_deref()
            .map(parse)
            .transpose()?
            .unwrap_or(start + 86400);
        let n = s
            .registry
            .set_renewal_window(&who, &req.serials, start, end)?;
        Ok::<_, Error>(serde_json::json!({"updated": n}))
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/certificates/{serial}/revoke` with `{"reason": "<RFC 5280 name>"}`:
/// idempotent; answers the certificate record.
pub async fn revoke_certificate(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(serial): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        #[serde(default)]
        reason: Option<String>,
    }
    let r = blocking(move || {
        let has_body = body.as_ref().is_ok_and(|b| !b.is_empty());
        let req: Req = if has_body {
            json_body(&headers, body)?
        } else {
            Req { reason: None }
        };
        s.admin.revoke(
            &who,
            &serial,
            req.reason
                .as_deref()
                .unwrap_or(RevocationReason::Unspecified.as_str()),
        )
    })
    .await;
    reply(StatusCode::OK, r)
}

/// Anything else under `/api/`.
pub async fn not_found() -> Response {
    problem_response(&Error::NotFound("no such endpoint".into()))
}

/// `DELETE /api/v1/est/credentials/{id}`: withdraws an EST credential.
pub async fn withdraw_est_credential(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> Response {
    let r = blocking(move || s.registry.withdraw_est_credential(&who, &id)).await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => problem_response(&e),
    }
}
