//! ACME routes under `/acme/` (RFC 8555 §7.1): HTTP in, `acme::Request` through, headers out.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::errors::acme_response;
use super::est::body_error;
use super::{AppState, ConnInfo};
use crate::acme::{Acme, Reply, Request, Response as AcmeResponse};
use crate::error::Error;

fn finish(acme: &Acme, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&acme.new_nonce()) {
        h.insert("replay-nonce", v);
    }
    if let Ok(v) =
        HeaderValue::from_str(&format!("<{}>;rel=\"index\"", acme.url("/acme/directory")))
    {
        h.append(header::LINK, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The status and content type of each outcome; refusals come from the classification table.
fn render(acme: &Acme, r: Result<AcmeResponse, Error>) -> Response {
    let resp = match r {
        Err(e) => acme_response(&e),
        Ok(r) => {
            let json = |status: StatusCode, v: serde_json::Value| {
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    v.to_string(),
                )
                    .into_response()
            };
            let mut resp = match r.reply {
                Reply::Resource(v) => json(StatusCode::OK, v),
                Reply::Created(v) => json(StatusCode::CREATED, v),
                Reply::Certificate(p) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                    p,
                )
                    .into_response(),
                Reply::Done => StatusCode::OK.into_response(),
                Reply::Refused(e) => acme_response(&e),
            };
            let h = resp.headers_mut();
            if let Some(loc) = r.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                h.insert(header::LOCATION, loc);
            }
            for (url, rel) in r.links {
                if let Ok(v) = HeaderValue::from_str(&format!("<{url}>;rel=\"{rel}\"")) {
                    h.append(header::LINK, v);
                }
            }
            if let Some(secs) = r.retry_after {
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    };
    finish(acme, resp)
}

/// `GET /acme/directory`.
pub async fn directory(State(s): State<AppState>) -> Response {
    let acme = &s.acme;
    let body = acme.directory().to_string();
    let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

/// `HEAD|GET /acme/new-nonce` (RFC 8555 §7.2).
pub async fn new_nonce(State(s): State<AppState>, method: Method) -> Response {
    let status = if method == Method::HEAD {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    finish(&s.acme, status.into_response())
}

/// `GET /acme/renewal-info/{certid}` (RFC 9773).
pub async fn renewal_info(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let r = s.acme.renewal_info(&id);
    render(&s.acme, r)
}

/// Every POST under `/acme/`.
pub async fn post(
    State(s): State<AppState>,
    Path(rest): Path<String>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let acme = s.acme.clone();
    let body = match body {
        Ok(b) => b,
        Err(e) => return render(&acme, Err(body_error(e))),
    };
    let path = format!("/acme/{rest}");
    let req = Request {
        path: &path,
        body: &body,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        peer: conn
            .map(|c| c.peer.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let r = match segs.as_slice() {
        ["new-account"] => acme.new_account(&req).await,
        ["new-order"] => acme.new_order(&req).await,
        ["revoke-cert"] => acme.revoke(&req).await,
        ["key-change"] => acme.key_change(&req).await,
        ["account", id] => acme.account(&req, id).await,
        ["account", id, "orders"] => acme.account_orders(&req, id),
        ["order", id] => acme.order(&req, id),
        ["order", id, "finalize"] => acme.finalize(&req, id).await,
        ["authz", id] => acme.authz(&req, id).await,
        ["chall", authz, idx] => acme.challenge(&req, authz, idx),
        ["cert", serial] => acme.certificate(&req, serial),
        _ => Err(Error::NotFound("no such ACME resource".into())),
    };
    render(&acme, r)
}
