//! The one place where an [`Error`] becomes a response. [`classify`] is the table: it says, once
//! per error variant, which HTTP status it is answered with and which problem type names it;
//! the renderers below only choose the body for their channel — RFC 7030 status + text for
//! EST, RFC 8555 problem documents for ACME, RFC 7807 problem documents for the admin API and
//! an HTML page for pickup links.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{AcmeProblem, Error};

/// How the edge answers one error: a row of the classification table.
struct Class {
    /// The status EST, the admin API and pickup derive their answer from.
    status: StatusCode,
    /// The admin API's problem type, `urn:enrolld:problem:{admin_type}`.
    admin_type: &'static str,
    /// The RFC 8555 §6.7 problem type ACME reports, `urn:ietf:params:acme:error:{acme_type}`.
    acme_type: &'static str,
    /// The status ACME answers: the problem type's own status where RFC 8555 gives the error
    /// an ACME meaning (an unauthenticated ACME request is `unauthorized`, 403), else `status`.
    acme_status: StatusCode,
}

/// The classification table: every error variant, and every RFC 8555 problem type, once.
fn classify(e: &Error) -> Class {
    use StatusCode as S;
    let row = |status, admin_type, acme_type, acme_status| Class {
        status,
        admin_type,
        acme_type,
        acme_status,
    };
    match e {
        Error::Malformed(_) => row(S::BAD_REQUEST, "malformed", "malformed", S::BAD_REQUEST),
        Error::BadCsr(_) => row(S::BAD_REQUEST, "badCSR", "badCSR", S::BAD_REQUEST),
        Error::Unauthenticated(_) => row(
            S::UNAUTHORIZED,
            "unauthorized",
            "unauthorized",
            S::FORBIDDEN,
        ),
        Error::NotPermitted(_) => row(S::FORBIDDEN, "forbidden", "unauthorized", S::FORBIDDEN),
        Error::NotFound(_) => row(S::NOT_FOUND, "notFound", "malformed", S::NOT_FOUND),
        Error::TooLarge(_) => row(
            S::PAYLOAD_TOO_LARGE,
            "payloadTooLarge",
            "malformed",
            S::PAYLOAD_TOO_LARGE,
        ),
        Error::HeadTooLarge(_) => row(
            S::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headerFieldsTooLarge",
            "malformed",
            S::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        Error::UnsupportedMethod(_) => row(
            S::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
            "malformed",
            S::METHOD_NOT_ALLOWED,
        ),
        Error::UnsupportedMediaType(_) => row(
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupportedMediaType",
            "malformed",
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        // ACME offers every operation it routes; a refusal there is a malformed request.
        Error::NotOffered(_) => row(
            S::NOT_IMPLEMENTED,
            "notImplemented",
            "malformed",
            S::BAD_REQUEST,
        ),
        Error::Conflict(_) => row(S::CONFLICT, "conflict", "malformed", S::CONFLICT),
        // RFC 8555 §7.3.6: a deactivated account's requests are 401 unauthorized.
        Error::AccountDeactivated(_) => row(
            S::UNAUTHORIZED,
            "unauthorized",
            "unauthorized",
            S::UNAUTHORIZED,
        ),
        Error::Acme(a) => {
            let status = acme_problem_status(a.kind);
            row(status, a.kind.name(), a.kind.name(), status)
        }
        Error::RateLimited(..) => row(
            S::TOO_MANY_REQUESTS,
            "rateLimited",
            "rateLimited",
            S::TOO_MANY_REQUESTS,
        ),
        Error::Internal(_) => row(
            S::INTERNAL_SERVER_ERROR,
            "serverInternal",
            "serverInternal",
            S::INTERNAL_SERVER_ERROR,
        ),
    }
}

/// RFC 8555 status codes per problem type (§6.7, as Boulder and Pebble answer).
fn acme_problem_status(k: AcmeProblem) -> StatusCode {
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

fn log(e: &Error) {
    match e {
        Error::Internal(detail) => tracing::error!(%detail, "request failed"),
        other => tracing::info!(reason = other.public_message(), "request refused"),
    }
}

/// The kind of error a response answers (the admin problem type of its row in [`classify`]),
/// attached to the response so that the metrics layer counts errors by the same table
/// (`enrolld_http_errors_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind(
    /// The row's admin problem type (`notFound`, `unauthorized`, …): the `kind` label.
    pub &'static str,
);

/// Marks `resp` with the [`ErrorKind`] of `e`: every renderer does, and so must a handler that
/// renders an error page of its own (pickup).
pub fn mark(e: &Error, resp: &mut Response) {
    resp.extensions_mut()
        .insert(ErrorKind(classify(e).admin_type));
}

/// The HTTP status the error table gives `e`, for renderers of their own (the console's
/// pages), which also [`mark`] the response.
pub fn status_of(e: &Error) -> StatusCode {
    log(e);
    classify(e).status
}

/// `Retry-After` for a rate-limited request.
fn retry_after(e: &Error, resp: &mut Response) {
    if let Error::RateLimited(_, secs) = e {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
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
    let class = classify(e);
    let status = class.acme_status;
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
        "type": format!("urn:ietf:params:acme:error:{}", class.acme_type),
        "detail": e.public_message(),
        "status": status.as_u16(),
    });
    if !subproblems.is_empty() {
        body["subproblems"] = serde_json::to_value(&subproblems).unwrap_or_default();
    }
    if class.acme_type == AcmeProblem::BadSignatureAlgorithm.name() {
        // RFC 8555 §6.2: the problem lists the algorithms the server supports.
        body["algorithms"] = serde_json::json!(["ES256", "ES384", "RS256", "EdDSA"]);
    }
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    retry_after(e, &mut resp);
    mark(e, &mut resp);
    resp
}

/// RFC 7030 §4.2.3 / §3.2.3: a status code and a one-line text reason; 401 carries
/// `WWW-Authenticate`.
pub fn est_response(e: &Error) -> Response {
    log(e);
    let status = classify(e).status;
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
    retry_after(e, &mut resp);
    mark(e, &mut resp);
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

/// Admin API error: `application/problem+json`; 401 carries `WWW-Authenticate: Bearer`.
pub fn problem_response(e: &Error) -> Response {
    log(e);
    let class = classify(e);
    let status = class.status;
    let body = Problem {
        kind: format!("urn:enrolld:problem:{}", class.admin_type),
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
    retry_after(e, &mut resp);
    mark(e, &mut resp);
    resp
}

/// An error raised in front of the router (the request-head cap and the per-address limit
/// run before a route is chosen), rendered for the channel mounted at the path: a problem
/// document under `/api/` and `/acme/`, EST text elsewhere (EST, pickup, health).
pub fn before_routing(path: &str, e: &Error) -> Response {
    if path.starts_with("/api/") {
        problem_response(e)
    } else if path.starts_with("/acme/") {
        acme_response(e)
    } else {
        est_response(e)
    }
}

/// The status of a pickup page: a browser shows the page whatever the code, so a person's
/// link answers only "no such link" (404), "our fault" (500) or "try again" (400).
pub fn pickup_status(e: &Error) -> StatusCode {
    match classify(e).status {
        s @ (StatusCode::NOT_FOUND | StatusCode::INTERNAL_SERVER_ERROR) => s,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Error> {
        vec![
            Error::Malformed("m".into()),
            Error::BadCsr("c".into()),
            Error::Unauthenticated("u".into()),
            Error::NotPermitted("p".into()),
            Error::NotFound("n".into()),
            Error::TooLarge("t".into()),
            Error::HeadTooLarge("h".into()),
            Error::UnsupportedMethod("m".into()),
            Error::UnsupportedMediaType("m".into()),
            Error::NotOffered("o".into()),
            Error::Conflict("c".into()),
            Error::AccountDeactivated("d".into()),
            Error::acme(AcmeProblem::OrderNotReady, "o"),
            Error::RateLimited("r".into(), 7),
            Error::Internal("secret detail".into()),
        ]
    }

    /// EST and the admin API answer the table's status; ACME its own column; pickup collapses
    /// it to 404, 500 or 400.
    #[test]
    fn every_renderer_answers_the_status_of_the_table() {
        for e in samples() {
            let class = classify(&e);
            assert_eq!(est_response(&e).status(), class.status, "{e:?}");
            assert_eq!(problem_response(&e).status(), class.status, "{e:?}");
            assert_eq!(acme_response(&e).status(), class.acme_status, "{e:?}");
            // Each renderer marks its response with the row's kind, which the metrics count.
            let kind = Some(ErrorKind(class.admin_type));
            for resp in [est_response(&e), problem_response(&e), acme_response(&e)] {
                assert_eq!(resp.extensions().get::<ErrorKind>().copied(), kind, "{e:?}");
            }
            let pickup = pickup_status(&e);
            assert!(
                pickup == class.status || pickup == StatusCode::BAD_REQUEST,
                "{e:?}"
            );
        }
    }

    /// RFC 8555 §7.3.6 and §7.4: the statuses the RFC fixes.
    #[test]
    fn acme_statuses_the_rfc_fixes() {
        let deactivated = acme_response(&Error::AccountDeactivated("d".into()));
        assert_eq!(deactivated.status(), StatusCode::UNAUTHORIZED);
        let not_ready = acme_response(&Error::acme(AcmeProblem::OrderNotReady, "o"));
        assert_eq!(not_ready.status(), StatusCode::FORBIDDEN);
        let limited = acme_response(&Error::RateLimited("r".into(), 7));
        assert_eq!(limited.headers()[header::RETRY_AFTER], "7");
    }
}
