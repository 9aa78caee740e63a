//! A small outbound HTTP/1.1 client: one request per connection, over TCP or over rustls on
//! aws-lc-rs. The notifier delivers webhooks with it and `enrolld admin` calls the admin API
//! with it; neither needs keep-alive, pooling or redirects, so hyper's client connection is
//! enough and no client crate is added.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why a request got no HTTP answer. Callers treat every variant as "try again later" (the
/// notifier) or "server unreachable" (the CLI); the text is for the log or the terminal.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The URL or a header could not be turned into a request.
    Request(String),
    /// DNS, TCP connect or TLS handshake failed.
    Connect(String),
    /// The connection broke, or the answer was not HTTP/1.1 or was too large.
    Exchange(String),
    /// No complete answer within the timeout.
    Timeout,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Request(d) => write!(f, "bad request: {d}"),
            SendError::Connect(d) => write!(f, "cannot connect: {d}"),
            SendError::Exchange(d) => write!(f, "connection failed: {d}"),
            SendError::Timeout => write!(f, "no answer within the timeout"),
        }
    }
}

impl std::error::Error for SendError {}

/// Where requests go: scheme, host and port of a base URL, and how to trust its TLS
/// certificate. Parsed once, used for every request.
pub struct Endpoint {
    /// Host name or IP address (without brackets), for DNS, SNI and the certificate check.
    host: String,
    /// TCP port (the scheme's default when the URL names none).
    port: u16,
    /// `host[:port]` exactly as the URL wrote it, for the `Host` header.
    authority: String,
    /// Path (and query) of the URL, without a trailing `/`; request paths are appended.
    base_path: String,
    /// TLS for `https`; `None` for plain `http`.
    tls: Option<TlsConnector>,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body (at most the caller's limit).
    pub body: Bytes,
}

impl Endpoint {
    /// Parses an `http://` or `https://` URL. `roots` are the only CA certificates trusted for
    /// `https` (required then; ignored for `http`).
    pub fn parse(url: &str, roots: Option<rustls::RootCertStore>) -> Result<Endpoint, String> {
        let uri: Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(format!(
                    "{url:?}: the URL must start with https:// or http://"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?}: the URL names no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "{url:?}: user information in the URL is not supported"
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(format!("{url:?}: the URL names no host"));
        }
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        let base_path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        let tls = if secure {
            let roots = roots.ok_or_else(|| format!("{url:?}: no CA certificates to trust"))?;
            let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(TlsConnector::from(Arc::new(cfg)))
        } else {
            None
        };
        Ok(Endpoint {
            host,
            port,
            authority: authority.as_str().to_owned(),
            base_path,
            tls,
        })
    }

    /// Whether requests go over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Sends one request to `path` (appended to the URL's own path; may carry a query) on a
    /// new connection and reads the answer, whose body may be at most `max_body` bytes.
    /// `timeout` covers everything from the DNS lookup to the last byte.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Reply, SendError> {
        let target = if path.is_empty() {
            if self.base_path.is_empty() {
                "/".to_owned()
            } else {
                self.base_path.clone()
            }
        } else {
            format!("{}{path}", self.base_path)
        };
        let mut b = Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONNECTION, "close")
            .header(
                hyper::header::USER_AGENT,
                concat!("enrolld/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(Full::new(body))
            .map_err(|e| SendError::Request(e.to_string()))?;
        match tokio::time::timeout(timeout, self.exchange(req, max_body)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::Timeout),
        }
    }

    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<Reply, SendError> {
        let addr = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::Connect(format!("cannot resolve {}: {e}", self.host)))?
            // Prefer IPv4: the default listener is 127.0.0.1 while localhost may resolve to ::1.
            .min_by_key(|a| a.is_ipv6())
            .ok_or_else(|| SendError::Connect(format!("{} resolves to nothing", self.host)))?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| SendError::Connect(format!("{addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => round_trip(tcp, req, max_body).await,
            Some(connector) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| SendError::Connect(format!("{}: {e}", self.host)))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| SendError::Connect(format!("TLS with {}: {e}", self.host)))?;
                round_trip(tls, req, max_body).await
            }
        }
    }
}

async fn round_trip<IO>(
    io: IO,
    req: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<Reply, SendError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| SendError::Connect(format!("HTTP handshake: {e}")))?;
    // The connection future drives the socket; it ends when the answer is read (Connection:
    // close) or when the request future is dropped on timeout.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| SendError::Exchange(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| SendError::Exchange(format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
    .await;
    driver.abort();
    result
}

/// The CA certificates in a PEM file, as the only trust anchors of a TLS client.
pub fn roots_from_pem_file(path: &Path) -> Result<rustls::RootCertStore, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificates in the file", path.display()));
    }
    Ok(roots)
}

/// Where operating systems keep their CA bundle, checked in order after `SSL_CERT_FILE`
/// (the same places OpenSSL-based tools and rustls-native-certs look on Unix).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

/// The operating system's CA bundle: `SSL_CERT_FILE` if set, else the first bundle found in
/// the usual places.
pub fn system_roots() -> Result<rustls::RootCertStore, String> {
    if let Some(p) = std::env::var_os("SSL_CERT_FILE") {
        return roots_from_pem_file(Path::new(&p));
    }
    for p in SYSTEM_BUNDLES {
        let p = Path::new(p);
        if p.exists() {
            return roots_from_pem_file(p);
        }
    }
    Err("no system CA bundle found; name one (SSL_CERT_FILE or a CA file option)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080/hooks/enrolld/", None).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8080));
        assert_eq!(e.base_path, "/hooks/enrolld");
        assert!(!e.is_tls());
        let e = Endpoint::parse("http://[::1]/", None).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("::1", 80, "[::1]")
        );
        assert!(Endpoint::parse("https://example.com", None).is_err());
        assert!(Endpoint::parse("ftp://example.com", None).is_err());
        assert!(Endpoint::parse("http://user:pw@example.com", None).is_err());
        assert!(Endpoint::parse("example.com/x", None).is_err());
        let e = Endpoint::parse("https://example.com", Some(rustls::RootCertStore::empty()));
        assert_eq!(e.map(|e| (e.port, e.is_tls())).ok(), Some((443, true)));
    }
}
