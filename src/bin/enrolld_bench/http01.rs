//! An http-01 responder (RFC 8555 §8.3) for the `acme` workload when names need proof: answers
//! `GET /.well-known/acme-challenge/<token>` with the key authorization registered for it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// token → key authorization.
#[derive(Clone, Default)]
pub struct Challenges(Arc<RwLock<HashMap<String, String>>>);

impl Challenges {
    /// Registers the answer for `token`.
    pub fn put(&self, token: &str, key_authorization: String) {
        if let Ok(mut m) = self.0.write() {
            m.insert(token.to_owned(), key_authorization);
        }
    }

    /// Forgets `token` once its authorization is decided.
    pub fn remove(&self, token: &str) {
        if let Ok(mut m) = self.0.write() {
            m.remove(token);
        }
    }

    fn get(&self, token: &str) -> Option<String> {
        self.0.read().ok().and_then(|m| m.get(token).cloned())
    }
}

/// Binds 127.0.0.1:`port` and serves challenges until the process ends.
pub async fn serve(port: u16, challenges: Challenges) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("http-01 responder cannot bind 127.0.0.1:{port}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let challenges = challenges.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let answer = req
                            .uri()
                            .path()
                            .strip_prefix("/.well-known/acme-challenge/")
                            .and_then(|t| challenges.get(t));
                        async move {
                            Ok::<_, Infallible>(match answer {
                                Some(a) => Response::new(Full::new(Bytes::from(a))),
                                None => {
                                    let mut r = Response::new(Full::new(Bytes::from_static(b"")));
                                    *r.status_mut() = StatusCode::NOT_FOUND;
                                    r
                                }
                            })
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), service)
                    .await;
            });
        }
    });
    Ok(())
}
