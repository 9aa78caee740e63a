//! The one place where an [`Error`] becomes a response: RFC 7030 status + text for EST,
//! RFC 7807 problem documents for the admin API.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{AcmeProblem, Error};

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::BadRequest(_) | Error::BadCsr(_) => StatusCode::BAD_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::HeaderFieldsTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::RateLimited(..) => StatusCode::TOO_MANY_REQUESTS,
        Error::Accepted(..) => StatusCode::ACCEPTED,
        Error::Acme(a) => a
            .status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or_else(|| acme_status(a.kind)),
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// RFC 8555 status codes per problem type (§6.7, as Boulder and Pebble answer).
fn acme_status(k: AcmeProblem) -> StatusCode {
    match k {
        AcmeProblem::Unauthorized => StatusCode::FORBIDDEN,
        // RFC 8555 §7.3.1: onlyReturnExisting for an unknown key is a 400.
        AcmeProblem::AccountDoesNotExist => StatusCode::BAD_REQUEST,
        AcmeProblem::OrderNotReady => StatusCode::FORBIDDEN,
        AcmeProblem::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        AcmeProblem::AlreadyRevoked
        | AcmeProblem::BadCsr
        | AcmeProblem::BadNonce
        | AcmeProblem::BadPublicKey
        | AcmeProblem::BadRevocationReason
        | AcmeProblem::BadSignatureAlgorithm
        | AcmeProblem::ExternalAccountRequired
        | AcmeProblem::Malformed
        | AcmeProblem::RejectedIdentifier
        | AcmeProblem::UnsupportedIdentifier
        | AcmeProblem::InvalidProfile
        | AcmeProblem::Connection
        | AcmeProblem::Dns
        | AcmeProblem::IncorrectResponse
        | AcmeProblem::Tls => StatusCode::BAD_REQUEST,
    }
}

/// The RFC 8555 problem type an error is reported as.
fn acme_kind(e: &Error) -> AcmeProblem {
    match e {
        Error::Acme(a) => a.kind,
        Error::BadCsr(_) => AcmeProblem::BadCsr,
        Error::Unauthorized(_) | Error::Forbidden(_) => AcmeProblem::Unauthorized,
        Error::RateLimited(..) => AcmeProblem::RateLimited,
        _ => AcmeProblem::Malformed,
    }
}

/// An RFC 8555 §6.7 problem document. `serverInternal` for internal errors.
pub fn acme_response(e: &Error) -> Response {
    log(e);
    #[derive(Serialize)]
    struct Sub<'a> {
        #[serde(rename = "type")]
        kind: String,
        detail: &'a str,
        identifier: serde_json::Value,
    }
    let (status, kind) = match e {
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "serverInternal"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "malformed"),
        Error::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "malformed"),
        Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "malformed"),
        Error::HeaderFieldsTooLarge(_) => {
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "malformed")
        }
        Error::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "malformed"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "malformed"),
        Error::Unauthorized(_) | Error::Forbidden(_) => (StatusCode::FORBIDDEN, "unauthorized"),
        other => (
            match other {
                Error::Acme(_) => status_of(other),
                _ => acme_status(acme_kind(other)),
            },
            acme_kind(other).name(),
        ),
    };
    let subproblems: Vec<Sub<'_>> = match e {
        Error::Acme(a) => a
            .subproblems
            .iter()
            .map(|(k, t, v, d)| Sub {
                kind: format!("urn:ietf:params:acme:error:{}", k.name()),
                detail: d,
                identifier: serde_json::json!({"type": t, "value": v}),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut body = serde_json::json!({
        "type": format!("urn:ietf:params:acme:error:{kind}"),
        "detail": e.public_message(),
        "status": status.as_u16(),
    });
    if !subproblems.is_empty() {
        body["subproblems"] = serde_json::to_value(&subproblems).unwrap_or_default();
    }
    if kind == "badSignatureAlgorithm" {
        // RFC 8555 §6.2: the problem lists the algorithms the server supports.
        body["algorithms"] = serde_json::json!(["ES256", "ES384", "RS256", "EdDSA"]);
    }
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if let Error::RateLimited(_, secs) = e {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

fn log(e: &Error) {
    match e {
        Error::Accepted(..) => tracing::info!("enrolment accepted, waiting for approval"),
        Error::Internal(detail) => tracing::error!(%detail, "request failed"),
        other => tracing::info!(reason = other.public_message(), "request refused"),
    }
}

/// RFC 7030 §4.2.3 / §3.2.3: a status code and a one-line text reason; 401 carries
/// `WWW-Authenticate`.
pub fn est_response(e: &Error) -> Response {
    log(e);
    let status = status_of(e);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", e.public_message()),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"enrolld EST\", charset=\"UTF-8\""),
        );
    }
    if let Error::Accepted(_, secs) | Error::RateLimited(_, secs) = e {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    resp
}

/// An RFC 7807 problem document.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::BadRequest(_) => "malformed",
        Error::BadCsr(_) => "badCSR",
        Error::Unauthorized(_) => "unauthorized",
        Error::Forbidden(_) => "forbidden",
        Error::NotFound(_) => "notFound",
        Error::MethodNotAllowed(_) => "methodNotAllowed",
        Error::PayloadTooLarge(_) => "payloadTooLarge",
        Error::HeaderFieldsTooLarge(_) => "headerFieldsTooLarge",
        Error::UnsupportedMediaType(_) => "unsupportedMediaType",
        Error::NotImplemented(_) => "notImplemented",
        Error::Conflict(_) => "conflict",
        Error::RateLimited(..) => "rateLimited",
        Error::Accepted(..) => "accepted",
        Error::Acme(a) => a.kind.name(),
        Error::Internal(_) => "serverInternal",
    }
}

/// Admin API error: `application/problem+json`; 401 carries `WWW-Authenticate: Bearer`.
pub fn problem_response(e: &Error) -> Response {
    log(e);
    let status = status_of(e);
    let body = Problem {
        kind: format!("urn:enrolld:problem:{}", kind_of(e)),
        title: status.canonical_reason().unwrap_or("error"),
        status: status.as_u16(),
        detail: e.public_message(),
    };
    let json = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json,
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Error::RateLimited(_, secs) = e {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    resp
}
