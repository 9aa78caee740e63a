//! The only axum code: routes, extractors, error responses, limits and the TLS listener.

pub mod acme;
pub mod admin;
pub mod errors;
pub mod est;
pub mod registry;
pub mod status;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use axum::Router;
use tracing::Instrument;

use crate::acme::Acme;
use crate::admin::Admin;
use crate::est::Est;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// EST operations.
    pub est: Arc<Est>,
    /// Admin API operations.
    pub admin: Arc<Admin>,
    /// ACME operations.
    pub acme: Arc<Acme>,
    /// People, devices, tokens, inventory, audit.
    pub registry: Arc<crate::registry::service::Registry>,
}

/// What the TLS layer learnt about a connection, attached to each of its requests.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Remote address.
    pub peer: SocketAddr,
    /// The verified TLS client certificate (end entity, DER), if any.
    pub client_cert: Option<Vec<u8>>,
    /// RFC 9266 tls-exporter (32 bytes), TLS 1.3 only.
    pub tls_exporter: Option<Vec<u8>>,
}

/// Builds the router of the HTTPS listener.
pub fn router(state: AppState, status: status::StatusState, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/.well-known/est/{op}", any(est::default_label))
        .route("/.well-known/est/{label}/{op}", any(est::with_label))
        .route("/acme/directory", get(acme::directory))
        .route(
            "/acme/new-nonce",
            get(acme::new_nonce).head(acme::new_nonce),
        )
        .route("/acme/renewal-info/{id}", get(acme::renewal_info))
        .route("/acme/{*rest}", post(acme::post))
        .route(
            "/api/v1/est/credentials",
            post(admin::create_est_credential),
        )
        .route("/api/v1/acme/eab", post(admin::create_eab_key))
        .route("/api/v1/acme/eab/{kid}", delete(admin::withdraw_eab_key))
        .route(
            "/api/v1/acme/renewal-window",
            post(admin::set_renewal_window),
        )
        .route("/api/v1/certificates/{serial}", get(admin::get_certificate))
        .route(
            "/api/v1/certificates/{serial}/revoke",
            post(admin::revoke_certificate),
        )
        .route("/api/v1/people", post(registry::register_person))
        .route("/api/v1/devices", post(registry::register_device))
        .route("/api/v1/subjects", get(registry::list))
        .route("/api/v1/subjects/bulk", post(registry::bulk))
        .route(
            "/api/v1/subjects/{id}",
            get(registry::get).patch(registry::patch),
        )
        .route(
            "/api/v1/subjects/{id}/credentials",
            post(registry::create_credential),
        )
        .route("/api/v1/certificates", get(registry::inventory))
        .route("/api/v1/certificates/revoke", post(registry::bulk_revoke))
        .route(
            "/api/v1/tokens",
            post(registry::create_token).get(registry::list_tokens),
        )
        .route("/api/v1/tokens/{id}", delete(registry::delete_token))
        .route("/api/v1/audit", get(registry::audit))
        .route("/api/v1/audit/verify", get(registry::audit_verify))
        .route("/api/{*rest}", any(admin::not_found))
        .with_state(state)
        .merge(status::routes(status))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(request_id))
}

/// The router of the optional plain-HTTP listener: status routes only.
pub fn status_router(status: status::StatusState) -> Router {
    status::routes(status)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn(request_id))
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// Gives each request an id, a tracing span and an `x-request-id` response header.
async fn request_id(req: Request, next: Next) -> Response {
    let id = format!(
        "{:x}-{:x}",
        std::process::id(),
        REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let peer = req
        .extensions()
        .get::<Arc<ConnInfo>>()
        .map(|c| c.peer.to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path(), %peer);
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| tracing::info!(status = resp.status().as_u16(), "response"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
