//! `GET /metrics` and the layer that feeds it: each request's latency by matched route
//! template, each error response by the kind the error table gave it.
//!
//! `/metrics` asks for an admin bearer token with the `read` scope, like the admin API's
//! reads: the numbers say how many certificates each profile issues, which channels are used
//! and when the CRL was made, which is nobody else's business, and Prometheus sends a bearer
//! token from a file (`authorization.credentials_file`) without help.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admin::{bearer, blocking};
use super::errors::{self, ErrorKind};
use super::AppState;
use crate::error::Error;
use crate::metrics::{Metrics, CONTENT_TYPE, UNCLASSIFIED_ERROR, UNMATCHED_ROUTE};
use crate::registry::tokens::Scope;

/// `GET /metrics`: every metric in the Prometheus text format, for a `read` token. The store
/// gauges come from a scan of the store at most a minute old.
pub async fn scrape(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer(&headers).map(str::to_owned);
    let (admin, gauges) = (s.admin.clone(), s.gauges.clone());
    let (registry, metrics) = (s.registry.clone(), s.metrics.clone());
    let checked = blocking(move || {
        admin.authorize(token.as_deref(), Scope::Read)?;
        if let Some(counts) = registry.mail_counts()? {
            metrics.set_mail_outbox(counts);
        }
        gauges.current()
    })
    .await;
    match checked {
        Err(e) => errors::problem_response(&e),
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            s.metrics.render(),
        )
            .into_response(),
    }
}

/// The answer to a request no route matched: 404 in the format of the channel its path
/// belongs to, counted as a `notFound` error under the route `unmatched`.
pub async fn unmatched(uri: Uri) -> Response {
    errors::before_routing(uri.path(), &Error::NotFound("no such resource".into()))
}

/// Times each request and counts its error. The route label is the template the router
/// matched (`/pickup/{token}`, never the link itself), so the label set stays as small as the
/// route table; requests no route matched share [`UNMATCHED_ROUTE`]. Latency is measured on
/// the monotonic clock: it is a measurement, not a rule.
pub async fn observe(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let resp = next.run(req).await;
    m.request(&route, start.elapsed());
    match resp.extensions().get::<ErrorKind>() {
        Some(ErrorKind(kind)) => m.error(kind),
        None if resp.status().is_client_error() || resp.status().is_server_error() => {
            m.error(UNCLASSIFIED_ERROR)
        }
        None => {}
    }
    resp
}
