//! The one place where an [`Error`] becomes a response: RFC 7030 status + text for EST,
//! RFC 7807 problem documents for the admin API.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::BadRequest(_) | Error::BadCsr(_) => StatusCode::BAD_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn log(e: &Error) {
    match e {
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
        Error::PayloadTooLarge(_) => "payloadTooLarge",
        Error::UnsupportedMediaType(_) => "unsupportedMediaType",
        Error::NotImplemented(_) => "notImplemented",
        Error::Conflict(_) => "conflict",
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
    resp
}
