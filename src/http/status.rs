//! Status routes for relying parties: CRLs, OCSP (GET and POST) and CA certificates. Served on
//! the HTTPS listener and, when configured, on the plain-HTTP listener (which serves only these).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64ct::{Base64, Encoding};

use super::ConnInfo;
use crate::acme::ratelimit::RateLimiter;
use crate::status::{CachedCrl, StatusService};

/// Shared state of the status routes.
#[derive(Clone)]
pub struct StatusState {
    /// CRL and OCSP.
    pub status: Arc<StatusService>,
    /// DER of the issuing CA and root certificates.
    pub issuing_der: Arc<Vec<u8>>,
    /// DER of the root.
    pub root_der: Arc<Vec<u8>>,
    /// Per-address OCSP limit, on both listeners (`[status] ocsp_requests_per_ip_per_second`).
    pub ocsp_limit: Arc<OcspLimit>,
}

/// OCSP requests per client address per second.
pub struct OcspLimit {
    /// Counts per address (off with `ENROLLD_RATE_LIMIT=off`, like every limit).
    limiter: RateLimiter,
    /// Requests per second per address; 0: no limit.
    per_second: u32,
}

impl OcspLimit {
    /// `per_second` requests per address per second (0: no limit).
    pub fn new(per_second: u32) -> Self {
        OcspLimit {
            limiter: RateLimiter::from_env(),
            per_second,
        }
    }
}

/// The status routes (mounted on both listeners).
pub fn routes(state: StatusState) -> Router {
    let ocsp = Router::new()
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/", post(ocsp_post))
        .route("/ocsp/{*req}", get(ocsp_get))
        .route_layer(middleware::from_fn_with_state(
            state.ocsp_limit.clone(),
            ocsp_per_ip_limit,
        ));
    Router::new()
        .route("/crl/issuing.crl", get(issuing_crl))
        .route("/crl/root.crl", get(root_crl))
        .route("/ca/issuing.crt", get(issuing_cert))
        .route("/ca/root.crt", get(root_cert))
        .merge(ocsp)
        .with_state(state)
}

/// Refuses an address past its OCSP rate with 429 and Retry-After (text, like EST). CRLs and
/// CA certificates are not counted: they are the same bytes for everyone and cheap.
async fn ocsp_per_ip_limit(
    State(limit): State<Arc<OcspLimit>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(conn) = req.extensions().get::<Arc<ConnInfo>>() {
        let now = now();
        let key = conn.peer.ip().to_string();
        if let Err(e) = limit.limiter.check(&key, limit.per_second, 1, now) {
            return super::errors::est_response(&e);
        }
    }
    next.run(req).await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn crl_response(c: &CachedCrl, headers: &HeaderMap) -> Response {
    let max_age = (c.next_update - now()).clamp(0, 300);
    let cache = format!("public, max-age={max_age}, no-transform");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == c.etag)
    {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, c.etag.clone()),
                (header::CACHE_CONTROL, cache),
            ],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/pkix-crl".to_owned()),
            (header::ETAG, c.etag.clone()),
            (header::CACHE_CONTROL, cache),
        ],
        c.der.clone(),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "status temporarily unavailable\n",
    )
        .into_response()
}

async fn issuing_crl(State(s): State<StatusState>, headers: HeaderMap) -> Response {
    let svc = s.status.clone();
    match tokio::task::spawn_blocking(move || svc.issuing_crl()).await {
        Ok(Ok(c)) => crl_response(&c, &headers),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "CRL generation failed");
            unavailable()
        }
        Err(_) => unavailable(),
    }
}

async fn root_crl(State(s): State<StatusState>, headers: HeaderMap) -> Response {
    let svc = s.status.clone();
    match tokio::task::spawn_blocking(move || svc.root_crl()).await {
        Ok(Ok(Some(c))) => crl_response(&c, &headers),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "the root key is not held by this server\n",
        )
            .into_response(),
        _ => unavailable(),
    }
}

fn cert_response(der: &[u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pkix-cert"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        der.to_vec(),
    )
        .into_response()
}

async fn issuing_cert(State(s): State<StatusState>) -> Response {
    cert_response(&s.issuing_der)
}

async fn root_cert(State(s): State<StatusState>) -> Response {
    cert_response(&s.root_der)
}

/// Largest OCSP request accepted.
const MAX_OCSP_REQUEST: usize = 8 * 1024;

fn ocsp_response(der: Arc<Vec<u8>>, next_update: Option<i64>, cacheable: bool) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "application/ocsp-response")],
        (*der).clone(),
    )
        .into_response();
    if let (true, Some(nu)) = (cacheable, next_update) {
        // RFC 5019 §6.2: GET responses may be cached until shortly before nextUpdate.
        let max_age = ((nu - now()) / 4).clamp(0, 3600);
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}, no-transform")) {
            r.headers_mut().insert(header::CACHE_CONTROL, v);
        }
    } else {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

fn malformed() -> Response {
    ocsp_response(
        Arc::new(crate::ca::ocsp::error_response(
            crate::ca::ocsp::OcspError::MalformedRequest,
        )),
        None,
        false,
    )
}

/// `POST /ocsp` with `application/ocsp-request`.
async fn ocsp_post(State(s): State<StatusState>, body: Result<Bytes, BytesRejection>) -> Response {
    let Ok(body) = body else { return malformed() };
    if body.len() > MAX_OCSP_REQUEST {
        return malformed();
    }
    let (der, _) = s.status.ocsp(&body).await;
    ocsp_response(der, None, false)
}

/// Why the path of an OCSP GET holds no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetPathError {
    /// A `%` not followed by two hex digits: the path is not a URL encoding (HTTP 400).
    MalformedEscape,
    /// The decoded path is not base64: an OCSP `malformedRequest`.
    NotBase64,
}

/// RFC 6960 Appendix A.1: the part of a GET path after `/ocsp/` is the URL encoding of the
/// base64 of the DER request (the base64 may also contain unescaped `/`). Decoded once, as
/// bytes.
pub fn decode_get_path(raw: &[u8]) -> Result<Vec<u8>, GetPathError> {
    let decoded = super::percent::decode(raw, false).map_err(|_| GetPathError::MalformedEscape)?;
    let text = std::str::from_utf8(&decoded).map_err(|_| GetPathError::NotBase64)?;
    Base64::decode_vec(text.trim()).map_err(|_| GetPathError::NotBase64)
}

/// `GET /ocsp/{base64}` (RFC 6960 Appendix A.1). The raw path is decoded here, not by the
/// router (which would decode it once more).
async fn ocsp_get(State(s): State<StatusState>, uri: Uri) -> Response {
    let raw = uri.path().strip_prefix("/ocsp/").unwrap_or_default();
    if raw.len() > MAX_OCSP_REQUEST * 2 {
        return malformed();
    }
    let der = match decode_get_path(raw.as_bytes()) {
        Ok(der) => der,
        Err(GetPathError::NotBase64) => return malformed(),
        Err(GetPathError::MalformedEscape) => {
            return (
                StatusCode::BAD_REQUEST,
                "malformed percent-encoding in the request path\n",
            )
                .into_response()
        }
    };
    let (der, next) = s.status.ocsp(&der).await;
    ocsp_response(der, next, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_paths_decode_once_as_bytes() {
        assert_eq!(
            decode_get_path(b"MAMKAQE%3D"),
            Ok(vec![0x30, 0x03, 0x0a, 0x01, 0x01])
        );
        assert_eq!(
            decode_get_path(b"MAMKAQE="),
            Ok(vec![0x30, 0x03, 0x0a, 0x01, 0x01])
        );
        // %253D is "%3D" after one decoding: not base64.
        assert_eq!(
            decode_get_path(b"MAMKAQE%253D"),
            Err(GetPathError::NotBase64)
        );
        assert_eq!(
            decode_get_path(b"%25%E2%82%AC"),
            Err(GetPathError::NotBase64)
        );
        assert_eq!(decode_get_path(b"%ff%fe"), Err(GetPathError::NotBase64));
        for bad in [&b"MAMKAQE%"[..], b"MAMK%4", b"%zz", "%\u{20ac}".as_bytes()] {
            assert_eq!(
                decode_get_path(bad),
                Err(GetPathError::MalformedEscape),
                "{bad:?}"
            );
        }
    }
}
