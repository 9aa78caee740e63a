//! The only axum code: routes, extractors, error responses, limits and the TLS listener.

pub mod acme;
pub mod admin;
pub mod api;
pub mod conn;
pub mod console;
pub mod console_import;
pub mod console_manage;
pub mod console_people;
pub mod console_register;
pub mod errors;
pub mod est;
pub mod metrics;
pub mod multipart;
pub mod percent;
pub mod pickup;
pub mod registry;
pub mod scep;
pub mod status;
pub mod tls;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use tracing::Instrument;

use crate::acme::Acme;
use crate::admin::Admin;
use crate::config::Limits;
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
    /// The server's counters: `/metrics` renders them, the metrics layer feeds them.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Counts what the store holds for `/metrics`, at most once a minute.
    pub gauges: Arc<crate::gauges::Gauges>,
    /// The web console: sessions, pages.
    pub console: Arc<crate::console::Console>,
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
pub fn router(
    state: AppState,
    status: status::StatusState,
    limits: &Limits,
    scep: Option<Arc<crate::scep::Scep>>,
) -> Router {
    let counters = state.metrics.clone();
    let mut api_routes = Router::new();
    for r in api::routes() {
        // The route's scope travels with each request to the handler's `Actor` extractor.
        let scope = admin::RouteScope(r.scope);
        api_routes = api_routes.route(r.path, (r.handler)().layer(axum::Extension(scope)));
    }
    // A wrong method on an admin route answers a problem document (axum keeps `Allow`).
    let api_routes = api_routes.method_not_allowed_fallback(|| async {
        errors::problem_response(&crate::error::Error::UnsupportedMethod(
            "method not allowed on this resource".into(),
        ))
    });
    Router::new()
        .merge(api_routes)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::scrape))
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
            "/api/v1/openapi.json",
            get(|| async { axum::Json(api::openapi()) }),
        )
        .route("/pickup/{token}", get(pickup::show).post(pickup::issue))
        .route("/api/{*rest}", any(admin::not_found))
        .merge(console::routes())
        .with_state(state)
        .merge(status::routes(status))
        .merge(scep_routes(scep))
        .fallback(metrics::unmatched)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(per_ip_limit))
        .layer(middleware::from_fn_with_state(
            limits.max_header_line_bytes,
            header_lines,
        ))
        .layer(middleware::from_fn_with_state(counters, metrics::observe))
        .layer(middleware::from_fn(request_id))
}

/// Longest request target of a SCEP GET (the connection's head cap applies too).
const SCEP_MAX_TARGET: usize = 64 * 1024;

/// RFC 6585 §5: a request target or a single header field longer than
/// `limits.max_header_line_bytes` is answered 431. (The connection caps the whole head.)
async fn header_lines(State(max): State<usize>, req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    // A SCEP GET carries the whole pkiMessage in its query (Intune's challenges alone are
    // several KB); the request-head cap of the connection still bounds it.
    let max_target = if req.uri().path().starts_with("/scep") {
        max.max(SCEP_MAX_TARGET)
    } else {
        max
    };
    let longest_field = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .max()
        .unwrap_or(0);
    if target > max_target || longest_field > max {
        let e = crate::error::Error::HeadTooLarge(format!(
            "the request target and each header field may be at most {max} bytes"
        ));
        return errors::before_routing(req.uri().path(), &e);
    }
    next.run(req).await
}

/// Per-address request limit (set once at start from `limits.requests_per_ip_per_second`).
static PER_IP: std::sync::OnceLock<(crate::acme::ratelimit::RateLimiter, u32)> =
    std::sync::OnceLock::new();

/// Sets the per-address request limit; the first call wins.
pub fn set_per_ip_limit(per_second: u32) {
    let _ = PER_IP.set((crate::acme::ratelimit::RateLimiter::from_env(), per_second));
}

/// Refuses a client address past its request rate with 429 + Retry-After. Status endpoints
/// (CRL, OCSP, CA certificates) are exempt: relying parties behind one NAT ask a lot. OCSP
/// has its own, higher, limit on both listeners (`status::OcspLimit`).
async fn per_ip_limit(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let exempt = path.starts_with("/ocsp") || path.starts_with("/crl/") || path.starts_with("/ca/");
    if let (false, Some((limiter, limit)), Some(conn)) = (
        exempt,
        PER_IP.get(),
        req.extensions().get::<Arc<ConnInfo>>(),
    ) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(e) = limiter.check(&conn.peer.ip().to_string(), *limit, 1, now) {
            return errors::before_routing(path, &e);
        }
    }
    next.run(req).await
}

/// The SCEP routes when SCEP is on, with their own body limit.
fn scep_routes(scep: Option<Arc<crate::scep::Scep>>) -> Router {
    match scep {
        Some(s) => {
            let max = s.max_message_bytes();
            scep::routes(s, max)
        }
        None => Router::new(),
    }
}

/// The router of the optional plain-HTTP listener: status routes and SCEP (with the
/// per-address request limit), timed and counted into `counters` like the HTTPS listener's
/// (`/metrics` itself is served on HTTPS only).
pub fn status_router(
    status: status::StatusState,
    limits: &Limits,
    scep: Option<Arc<crate::scep::Scep>>,
    counters: Arc<crate::metrics::Metrics>,
) -> Router {
    // SCEP costs RSA private-key operations per message: the per-address limit of the HTTPS
    // listener applies to it here too.
    status::routes(status)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .merge(scep_routes(scep).layer(middleware::from_fn(per_ip_limit)))
        .fallback(metrics::unmatched)
        .layer(middleware::from_fn_with_state(
            limits.max_header_line_bytes,
            header_lines,
        ))
        .layer(middleware::from_fn_with_state(counters, metrics::observe))
        .layer(middleware::from_fn(request_id))
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// The request path as it may be logged. A pickup link (`/pickup/<id>.<secret>`) is a bearer
/// secret: only its id goes into the log.
fn loggable_path(path: &str) -> Cow<'_, str> {
    match path.strip_prefix("/pickup/") {
        Some(token) => {
            let id = token.split_once('.').map_or("", |(id, _)| id);
            Cow::Owned(format!("/pickup/{id}"))
        }
        None => Cow::Borrowed(path),
    }
}

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
    let path = loggable_path(req.uri().path());
    let span = tracing::info_span!("request", id = %id, method = %req.method(), %path, %peer);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    // Successful responses log at debug: one info line per OCSP answer would cost more than
    // the answer (docs/benchmarks.md); refusals and errors stay at info.
    span.in_scope(|| {
        if status < 300 {
            tracing::debug!(status, "response")
        } else {
            tracing::info!(status, "response")
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn pickup_paths_are_logged_without_their_secret() {
        assert_eq!(loggable_path("/pickup/abc123.s3cr3t"), "/pickup/abc123");
        assert_eq!(loggable_path("/pickup/abc.s3cr3t.more"), "/pickup/abc");
        // Without the separator the whole token may be a mangled secret.
        assert_eq!(loggable_path("/pickup/s3cr3t"), "/pickup/");
        assert_eq!(loggable_path("/healthz"), "/healthz");
        assert_eq!(
            loggable_path("/.well-known/est/simpleenroll"),
            "/.well-known/est/simpleenroll"
        );
    }
}
