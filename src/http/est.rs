//! EST routes (RFC 7030 §3.2.2): `/.well-known/est/<op>` and `/.well-known/est/<label>/<op>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64ct::{Base64, Encoding};

use super::errors::est_response;
use super::{AppState, ConnInfo};
use crate::error::Error;
use crate::est::{wire, ClientAuth, Enrolment};
use crate::ids::Label;

const CTE: header::HeaderName = header::HeaderName::from_static("content-transfer-encoding");
const CERTS_ONLY: &str = "application/pkcs7-mime; smime-type=certs-only";

/// `/.well-known/est/{op}`.
pub async fn default_label(
    State(s): State<AppState>,
    Path(op): Path<String>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    dispatch(s, None, &op, conn, method, headers, body).await
}

/// `/.well-known/est/{label}/{op}`.
pub async fn with_label(
    State(s): State<AppState>,
    Path((label, op)): Path<(String, String)>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let label = match Label::parse(&label) {
        Ok(l) => l,
        Err(e) => return est_response(&e),
    };
    dispatch(s, Some(label), &op, conn, method, headers, body).await
}

async fn dispatch(
    s: AppState,
    label: Option<Label>,
    op: &str,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let est = &s.est;
    let label = label.as_ref();
    let expect = |m: Method| -> Result<(), Error> {
        if method == m {
            Ok(())
        } else {
            Err(Error::UnsupportedMethod(format!("{op} expects {m}")))
        }
    };
    let result: Result<Response, Error> = async {
        match op {
            "cacerts" => {
                expect(Method::GET)?;
                let body = est.cacerts(label)?;
                Ok(([(header::CONTENT_TYPE, CERTS_ONLY), (CTE, "base64")], body).into_response())
            }
            "csrattrs" => {
                expect(Method::GET)?;
                let der = est.csrattrs(label)?;
                Ok((
                    [
                        (header::CONTENT_TYPE, "application/csrattrs"),
                        (CTE, "base64"),
                    ],
                    wire::encode_base64_lines(&der),
                )
                    .into_response())
            }
            "simpleenroll" | "simplereenroll" | "serverkeygen" => {
                expect(Method::POST)?;
                let auth = client_auth(&headers, conn.as_ref().map(|c| c.0.as_ref()))?;
                check_pkcs10(&headers)?;
                let body = body.map_err(body_error)?;
                Ok(match op {
                    "simpleenroll" => match est.simple_enroll(label, &auth, &body).await? {
                        Enrolment::Issued(issued) => certs_only(&issued.der),
                        Enrolment::Pending {
                            request,
                            retry_after,
                        } => pending(&request, retry_after),
                    },
                    "simplereenroll" => match est.simple_reenroll(label, &auth, &body).await? {
                        Enrolment::Issued(issued) => certs_only(&issued.der),
                        Enrolment::Pending {
                            request,
                            retry_after,
                        } => pending(&request, retry_after),
                    },
                    _ => match est.server_keygen(label, &auth, &body).await? {
                        Enrolment::Issued((key, issued)) => {
                            let (ctype, body) = wire::serverkeygen_body(&key, &issued.der)?;
                            ([(header::CONTENT_TYPE, ctype)], body).into_response()
                        }
                        Enrolment::Pending {
                            request,
                            retry_after,
                        } => pending(&request, retry_after),
                    },
                })
            }
            "fullcmc" => Err(Error::NotOffered("fullcmc is not supported".into())),
            _ => Err(Error::NotFound("unknown EST operation".into())),
        }
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => {
            let mut resp = est_response(&e);
            if let Error::UnsupportedMethod(_) = e {
                // RFC 9110 §15.5.6: a 405 names the methods the resource allows.
                let allow = if matches!(op, "cacerts" | "csrattrs") {
                    "GET"
                } else {
                    "POST"
                };
                resp.headers_mut()
                    .insert(header::ALLOW, axum::http::HeaderValue::from_static(allow));
            }
            resp
        }
    }
}

/// RFC 7030 §4.2.3: the request is accepted but waits for manual approval; the client retries
/// after `Retry-After` seconds.
fn pending(request: &str, retry_after: u64) -> Response {
    tracing::info!(request, "enrolment accepted, waiting for approval");
    (
        StatusCode::ACCEPTED,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::RETRY_AFTER, retry_after.to_string()),
        ],
        format!("enrolment request {request} awaits approval; retry later\n"),
    )
        .into_response()
}

fn certs_only(der: &[u8]) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CERTS_ONLY), (CTE, "base64")],
        wire::certs_only_body(&[der]),
    )
        .into_response()
}

/// Maps axum's body rejection (the size limit) onto our error.
pub fn body_error(r: BytesRejection) -> Error {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge("request body too large".into())
    } else {
        Error::Malformed("could not read request body".into())
    }
}

/// RFC 7030 §4.2.1: the request is `application/pkcs10`.
fn check_pkcs10(headers: &HeaderMap) -> Result<(), Error> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/pkcs10") {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(
            "Content-Type must be application/pkcs10".into(),
        ))
    }
}

fn client_auth(headers: &HeaderMap, conn: Option<&ConnInfo>) -> Result<ClientAuth, Error> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(parse_basic(v.as_bytes())?),
    };
    Ok(ClientAuth {
        basic,
        client_cert: conn.and_then(|c| c.client_cert.clone()),
        tls_exporter: conn.and_then(|c| c.tls_exporter.clone()),
        peer: conn.map(|c| c.peer.ip()),
    })
}

/// RFC 7617 Basic credentials.
pub fn parse_basic(v: &[u8]) -> Result<(String, String), Error> {
    let bad = || Error::Unauthenticated("malformed Basic credentials".into());
    let s = std::str::from_utf8(v).map_err(|_| bad())?;
    let (scheme, rest) = s.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") || rest.len() > 1024 {
        return Err(bad());
    }
    let decoded = Base64::decode_vec(rest.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (u, p) = text.split_once(':').ok_or_else(bad)?;
    Ok((u.to_owned(), p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        assert_eq!(
            parse_basic(b"Basic dXNlcjpwYTpzcw==").unwrap(),
            ("user".into(), "pa:ss".into())
        );
        assert!(parse_basic(b"Bearer abc").is_err());
        assert!(parse_basic(b"Basic !!!").is_err());
        assert!(parse_basic(b"Basic bm9jb2xvbg==").is_err());
        assert!(parse_basic(&[0xff]).is_err());
    }
}
