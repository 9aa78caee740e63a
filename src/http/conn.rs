//! One accepted connection, TLS or plain: HTTP/1.1 and HTTP/2 settings, the request-head cap,
//! and the watchdog that closes a connection with no request in flight.
//!
//! A connection holds one of its listener's `limits.max_connections` slots for as long as it
//! lives, so a connection that asks for nothing must not live long: before its first request
//! it has `first_request_timeout_secs`, between requests `idle_timeout_secs`. The watchdog
//! counts a request from its complete head to the end of its response body, on both HTTP
//! versions; a head that trickles in counts as idle.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::http::Extensions;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

use super::ConnInfo;
use crate::config::Limits;
use crate::error::Error;

/// The per-connection part of `[limits]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// No request within this long after the connection starts: closed.
    first_request: Duration,
    /// No request in flight for this long after the last one: closed.
    idle: Duration,
    /// A request may take this long from its head to its response.
    request: Duration,
    /// Largest request head (HTTP/1 read buffer, HTTP/2 header list), in bytes.
    max_head: usize,
    /// Copied onto every response: the HTTP/1.1 spelling of header names that title case
    /// gets wrong (see [`header_case`]).
    header_case: Option<Extensions>,
}

impl Settings {
    /// The settings `limits` ask for.
    pub async fn new(limits: &Limits) -> Self {
        Settings {
            first_request: Duration::from_secs(limits.first_request_timeout_secs),
            idle: Duration::from_secs(limits.idle_timeout_secs),
            request: Duration::from_secs(limits.request_timeout_secs),
            max_head: limits.max_request_head_bytes,
            header_case: header_case().await,
        }
    }
}

/// Header names whose registered spelling is not their title case.
const CANONICAL_NAMES: &[&str] = &["WWW-Authenticate", "ETag"];

/// Response extensions that make hyper write [`CANONICAL_NAMES`] in their registered spelling
/// on HTTP/1.1 (embedded EST clients compare `WWW-Authenticate` byte for byte); every other
/// name goes out in title case (`title_case_headers`).
///
/// hyper writes a header name in the spelling its response's header-case map records, else
/// in title case. That map's type is private to hyper, and the way to get one is to let
/// hyper's HTTP/1 client record the spelling of a response it reads: such a response is read
/// once here, from memory, and its extensions are copied onto every answer. `None` if that
/// fails (names then go out in title case: `Www-Authenticate`).
async fn header_case() -> Option<Extensions> {
    let (client_io, mut server_io) = tokio::io::duplex(4096);
    let (mut send, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
        .await
        .ok()?;
    let mut head = String::from("HTTP/1.1 204 No Content\r\n");
    for name in CANONICAL_NAMES {
        head.push_str(name);
        head.push_str(": x\r\n");
    }
    head.push_str("\r\n");
    let answer = async move {
        let mut buf = [0u8; 1024];
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\n") {
            let n = server_io.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        server_io.write_all(head.as_bytes()).await.ok()?;
        Some(server_io)
    };
    let req = hyper::Request::get("/").body(Empty::new()).ok()?;
    let exchange = async { tokio::join!(send.send_request(req), answer) };
    tokio::select! {
        (resp, _) = exchange => Some(resp.ok()?.extensions().clone()),
        _ = conn => None,
    }
}

/// Serves requests on `io` until the client leaves, the connection idles out, or `stop`
/// turns true (then in-flight requests finish first).
pub async fn serve<I>(
    io: I,
    info: Arc<ConnInfo>,
    router: Router,
    settings: Arc<Settings>,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let peer = info.peer;
    let svc = {
        let activity = activity.clone();
        let request_timeout = settings.request;
        let header_case = settings.header_case.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(info.clone());
            let in_flight = activity.begin();
            let router = router.clone();
            let header_case = header_case.clone();
            async move {
                let resp = match tokio::time::timeout(request_timeout, router.oneshot(req)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(never)) => match never {},
                    Err(_) => {
                        super::errors::est_response(&Error::Internal("request timed out".into()))
                    }
                };
                let mut resp = resp;
                if let Some(case) = &header_case {
                    resp.extensions_mut().extend(case.clone());
                }
                // The request stays in flight until its body has been sent (or dropped).
                Ok::<_, Infallible>(resp.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _in_flight = &in_flight;
                        f
                    }))
                }))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The watchdog below bounds request heads; hyper's own timer would also cut idle
        // keep-alive connections at its value.
        .header_read_timeout(None)
        .keep_alive(true)
        // Embedded EST clients compare `Content-Type` and `WWW-Authenticate` byte for byte.
        .title_case_headers(true)
        // A head that does not fit is answered 431 (hyper checks at the buffer's limit).
        .max_buf_size(settings.max_head);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.max_head).unwrap_or(u32::MAX));
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        }
        _ = activity.idle(settings.first_request, settings.idle) => {
            tracing::debug!(%peer, "closing a connection with no request in flight");
            conn.as_mut().graceful_shutdown();
            // HTTP/2 says GOAWAY and waits for the client's PING answer; not forever.
            let _ = tokio::time::timeout(settings.first_request, conn.as_mut()).await;
        }
        () = stopped => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// Whether a connection has a request in flight, and since when it has had none. Requests
/// only move the watchdog's deadline later, so they do not wake it: it looks again when its
/// timer runs out (at most once per limit, however many requests a connection carries). The
/// one exception is the first request, which swaps the first-request limit for the idle
/// limit, possibly a shorter one.
struct Activity {
    state: Mutex<ActivityState>,
    /// Wakes the watchdog when the first request begins.
    first_request: Notify,
}

struct ActivityState {
    /// Requests begun and not yet finished.
    in_flight: usize,
    /// Start of the connection, or the latest start or end of a request.
    last_change: Instant,
    /// Whether any request has begun (the idle limit replaces the first-request limit).
    served: bool,
}

impl ActivityState {
    fn begin(&mut self, now: Instant) {
        self.in_flight += 1;
        self.served = true;
        self.last_change = now;
    }

    fn end(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_change = now;
    }

    /// When the connection becomes idle, judged at `now`: `Ok(())` if it is, else the
    /// instant to look again.
    fn idle_at(&self, now: Instant, first: Duration, idle: Duration) -> Result<(), Instant> {
        let limit = if self.served { idle } else { first };
        if self.in_flight > 0 {
            Err(now + limit)
        } else if now >= self.last_change + limit {
            Ok(())
        } else {
            Err(self.last_change + limit)
        }
    }
}

/// One request in flight; dropping it ends the request.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().end(Instant::now());
    }
}

impl Activity {
    fn new() -> Self {
        Activity {
            first_request: Notify::new(),
            state: Mutex::new(ActivityState {
                in_flight: 0,
                last_change: Instant::now(),
                served: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        let first = {
            let mut s = self.lock();
            let first = !s.served;
            s.begin(Instant::now());
            first
        };
        if first {
            self.first_request.notify_one();
        }
        InFlight(self.clone())
    }

    /// Resolves once no request has been in flight for `first` (before the first request)
    /// or `idle` (after it).
    async fn idle(&self, first: Duration, idle: Duration) {
        loop {
            let next = self.lock().idle_at(Instant::now(), first, idle);
            match next {
                Ok(()) => return,
                Err(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.first_request.notified() => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(5);
    const IDLE: Duration = Duration::from_secs(30);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_silent_connection_is_idle_after_the_first_request_limit() {
        let t0 = Instant::now();
        let s = ActivityState {
            in_flight: 0,
            last_change: t0,
            served: false,
        };
        assert_eq!(s.idle_at(t0, FIRST, IDLE), Err(t0 + FIRST));
        assert_eq!(s.idle_at(t0 + secs(4), FIRST, IDLE), Err(t0 + FIRST));
        assert_eq!(s.idle_at(t0 + FIRST, FIRST, IDLE), Ok(()));
    }

    #[test]
    fn a_request_in_flight_is_never_idle_and_the_idle_limit_follows_it() {
        let t0 = Instant::now();
        let mut s = ActivityState {
            in_flight: 0,
            last_change: t0,
            served: false,
        };
        s.begin(t0 + secs(1));
        // However long the request takes.
        assert_eq!(
            s.idle_at(t0 + secs(1000), FIRST, IDLE),
            Err(t0 + secs(1000) + IDLE)
        );
        s.end(t0 + secs(1000));
        assert_eq!(
            s.idle_at(t0 + secs(1010), FIRST, IDLE),
            Err(t0 + secs(1000) + IDLE)
        );
        assert_eq!(s.idle_at(t0 + secs(1030), FIRST, IDLE), Ok(()));
    }
}
