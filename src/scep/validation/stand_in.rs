//! A loopback HTTP(S) server standing in for a webhook receiver, Microsoft Entra, Graph and
//! Intune in the validator tests. Every request is recorded; the test's handler checks it,
//! writes what it found wrong into the violations list, and says what to answer.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// HTTP method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
}

impl Seen {
    /// A header's value as text ("" when absent or not text).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the stand-in answers.
pub enum Answer {
    /// A status and a JSON (or any) body.
    Json(u16, String),
    /// Wait this long before answering 200 `{}` (longer than the client's timeout).
    Slow(Duration),
}

/// Decides the answer to a request and notes what is wrong with it.
pub type Handler = Arc<dyn Fn(&Seen, &mut Vec<String>) -> Answer + Send + Sync>;

/// A running stand-in; stops when dropped.
pub struct StandIn {
    /// `http://127.0.0.1:<port>` or `https://localhost:<port>`.
    pub url: String,
    /// Every request, in arrival order.
    seen: Arc<Mutex<Vec<Seen>>>,
    /// What the handler found wrong.
    violations: Arc<Mutex<Vec<String>>>,
    /// The accept loop.
    task: JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// A plain-HTTP stand-in on 127.0.0.1.
    pub async fn start(handler: Handler) -> StandIn {
        Self::serve(handler, None).await
    }

    /// An HTTPS stand-in for `localhost` with a fresh self-signed certificate, returned as
    /// PEM for the client's `ca_file`.
    pub async fn start_tls(handler: Handler) -> (StandIn, String) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls_pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key.into())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        (Self::serve(handler, Some(acceptor)).await, ck.cert.pem())
    }

    async fn serve(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (seen.clone(), violations.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (handler, s, v, tls) = (handler.clone(), s.clone(), v.clone(), tls.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        respond(req, handler.clone(), s.clone(), v.clone())
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(io) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(io), svc).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                    }
                });
            }
        });
        StandIn {
            url,
            seen,
            violations,
            task,
        }
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The paths of the requests received so far, prefixed with their method.
    pub fn calls(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }

    /// Fails the test if the handler found anything wrong with a request.
    pub fn assert_clean(&self) {
        let v = self.violations.lock().unwrap();
        assert!(
            v.is_empty(),
            "the stand-in refused requests:\n{}",
            v.join("\n")
        );
    }
}

async fn respond(
    req: Request<Incoming>,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    violations: Arc<Mutex<Vec<String>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let s = Seen {
        method: parts.method,
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    seen.lock().unwrap().push(s.clone());
    let mut found = Vec::new();
    let answer = handler(&s, &mut found);
    violations.lock().unwrap().extend(
        found
            .into_iter()
            .map(|f| format!("{} {}: {f}", s.method, s.path)),
    );
    let (status, body) = match answer {
        Answer::Json(status, body) => (status, body),
        Answer::Slow(d) => {
            tokio::time::sleep(d).await;
            (200, "{}".to_owned())
        }
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}
