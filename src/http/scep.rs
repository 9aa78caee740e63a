//! SCEP routes (RFC 8894 §4.1): `/scep` and `/scep/<label>`, on the HTTPS listener and on the
//! plain-HTTP one (SCEP messages are signed and encrypted themselves; most MDM clients use
//! plain HTTP). The operation is the `operation` query parameter; a PKIOperation comes as a
//! POST body or as the GET parameter `message` (base64).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use base64ct::{Base64, Encoding};

use super::errors::est_response;
use super::ConnInfo;
use crate::error::Error;
use crate::ids::Label;
use crate::scep::Scep;

/// The SCEP routes, with a body limit of `max_message_bytes`.
pub fn routes(scep: Arc<Scep>, max_message_bytes: usize) -> Router {
    Router::new()
        .route("/scep", any(default_path))
        .route("/scep/{label}", any(with_label))
        .with_state(scep)
        .layer(axum::extract::DefaultBodyLimit::max(max_message_bytes))
}

async fn default_path(
    State(s): State<Arc<Scep>>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    dispatch(&s, None, conn, method, &uri, body).await
}

async fn with_label(
    State(s): State<Arc<Scep>>,
    Path(label): Path<String>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match Label::parse(&label) {
        Ok(l) => dispatch(&s, Some(l), conn, method, &uri, body).await,
        Err(e) => est_response(&e),
    }
}

/// The value of query parameter `name`, percent-decoded. A `+` stays a `+`: clients put
/// base64 into `message` unescaped as often as escaped, and base64 has no spaces.
fn query_param(uri: &Uri, name: &str) -> Result<Option<Vec<u8>>, Error> {
    let Some(q) = uri.query() else {
        return Ok(None);
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            return super::percent::decode(v.as_bytes(), false)
                .map(Some)
                .map_err(|_| Error::Malformed(format!("malformed escape in {name}")));
        }
    }
    Ok(None)
}

async fn dispatch(
    s: &Scep,
    label: Option<Label>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    method: Method,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let label = label.as_ref();
    let result: Result<Response, Error> = async {
        let op = query_param(uri, "operation")?
            .ok_or_else(|| Error::Malformed("the operation parameter is required".into()))?;
        match (op.as_slice(), &method) {
            (b"GetCACaps", &Method::GET) => Ok((
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                s.caps(label)?,
            )
                .into_response()),
            (b"GetCACert", &Method::GET) => {
                let c = s.ca_certs(label)?;
                Ok(([(header::CONTENT_TYPE, c.content_type)], c.body).into_response())
            }
            (b"PKIOperation", &Method::GET) => {
                let msg = query_param(uri, "message")?
                    .ok_or_else(|| Error::Malformed("the message parameter is required".into()))?;
                let text: Vec<u8> = msg
                    .into_iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let der = Base64::decode_vec(&String::from_utf8_lossy(&text))
                    .map_err(|_| Error::Malformed("message is not base64".into()))?;
                pki(s, label, conn.as_deref(), &der).await
            }
            (b"PKIOperation", &Method::POST) => {
                let body = body.map_err(|e| match e.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => {
                        Error::TooLarge("the SCEP message is too large".into())
                    }
                    _ => Error::Malformed("unreadable body".into()),
                })?;
                pki(s, label, conn.as_deref(), &body).await
            }
            (b"GetCACaps" | b"GetCACert", _) => Err(Error::UnsupportedMethod(
                "this operation expects GET".into(),
            )),
            (b"PKIOperation", _) => Err(Error::UnsupportedMethod(
                "PKIOperation expects GET or POST".into(),
            )),
            _ => Err(Error::NotOffered(format!(
                "unknown SCEP operation {:?}",
                String::from_utf8_lossy(&op)
            ))),
        }
    }
    .await;
    result.unwrap_or_else(|e| est_response(&e))
}

async fn pki(
    s: &Scep,
    label: Option<&Label>,
    conn: Option<&Arc<ConnInfo>>,
    der: &[u8],
) -> Result<Response, Error> {
    let peer = conn.map(|c| c.peer.ip());
    let reply = s.pki_operation(label, der, peer).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-pki-message")], reply).into_response())
}
