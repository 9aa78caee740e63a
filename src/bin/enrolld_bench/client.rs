//! The HTTP side of the load driver: one keep-alive HTTP/1.1 connection per simulated client
//! (hyper's client over tokio-rustls on aws-lc-rs, or over plain TCP for `http://` targets
//! such as SCEP servers), and the errors an operation can end in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why an operation failed; the report counts failures by [`OpError::kind`].
#[derive(Debug)]
pub enum OpError {
    /// TCP connect or TLS handshake failed.
    Connect(String),
    /// The connection broke mid-request.
    Io(String),
    /// No answer within the target's request timeout.
    Timeout,
    /// An HTTP status other than the one the step expects.
    Status(&'static str, u16, String),
    /// The answer was not what the protocol says (missing header, bad body).
    Protocol(&'static str, String),
}

impl OpError {
    /// The key the report counts this error under (no per-request detail in it).
    pub fn kind(&self) -> String {
        match self {
            OpError::Connect(_) => "connect".into(),
            OpError::Io(_) => "io".into(),
            OpError::Timeout => "timeout".into(),
            OpError::Status(step, code, _) => format!("{step}:http-{code}"),
            OpError::Protocol(step, _) => format!("{step}:protocol"),
        }
    }

    /// One line with the detail, for the first few errors printed on stderr.
    pub fn detail(&self) -> String {
        match self {
            OpError::Connect(d) | OpError::Io(d) => d.clone(),
            OpError::Timeout => "request timed out".into(),
            OpError::Status(step, code, body) => format!("{step}: HTTP {code}: {body}"),
            OpError::Protocol(step, d) => format!("{step}: {d}"),
        }
    }
}

/// Where the server is and how to trust it.
pub struct Target {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// TLS server name (SNI and certificate check) and `Host` header.
    pub host: String,
    /// `host:port` for the `Host` header.
    pub authority: String,
    /// The base URL as given (`https://localhost:8443`).
    pub base: String,
    /// rustls on aws-lc-rs, trusting the CA bundle, ALPN http/1.1; `None` for plain HTTP
    /// (SCEP's usual transport, and the only one of micromdm's `scepserver`).
    connector: Option<TlsConnector>,
    /// Longest a single request may take before the operation counts as a timeout.
    pub request_timeout: Duration,
}

impl Target {
    /// Parses `https://host:port` (or `http://host:port`), resolves it and, for HTTPS, loads
    /// the CA bundle (PEM).
    pub async fn new(
        url: &str,
        ca_bundle: &std::path::Path,
        request_timeout: Duration,
    ) -> Result<Arc<Target>, String> {
        let base = url.trim_end_matches('/').to_owned();
        let (tls, authority) = match (base.strip_prefix("https://"), base.strip_prefix("http://")) {
            (Some(a), _) => (true, a.to_owned()),
            (None, Some(a)) => (false, a.to_owned()),
            (None, None) => {
                return Err(format!("{url}: only https:// and http:// URLs are driven"))
            }
        };
        if authority.contains('/') {
            return Err(format!("{url}: give the base URL without a path"));
        }
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => h,
            _ => authority.as_str(),
        }
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
        let lookup = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.clone()
        } else if tls {
            format!("{authority}:443")
        } else {
            format!("{authority}:80")
        };
        let addr = tokio::net::lookup_host(&lookup)
            .await
            .map_err(|e| format!("cannot resolve {lookup}: {e}"))?
            // Prefer IPv4: the default listener is 127.0.0.1.
            .min_by_key(|a| a.is_ipv6())
            .ok_or_else(|| format!("{lookup} resolves to nothing"))?;
        let connector = if tls {
            Some(Self::connector(ca_bundle)?)
        } else {
            None
        };
        Ok(Arc::new(Target {
            addr,
            host,
            authority,
            base,
            connector,
            request_timeout,
        }))
    }

    /// rustls on aws-lc-rs trusting the certificates of `ca_bundle`, ALPN http/1.1.
    fn connector(ca_bundle: &std::path::Path) -> Result<TlsConnector, String> {
        let pem = std::fs::read(ca_bundle)
            .map_err(|e| format!("cannot read {}: {e}", ca_bundle.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConnector::from(Arc::new(cfg)))
    }

    /// The path part of an absolute URL on this server (directory URLs are absolute).
    pub fn path_of<'a>(&self, url: &'a str) -> &'a str {
        match url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => url,
        }
    }
}

/// An answer, read whole.
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails with [`OpError::Status`] unless the status is `want`.
    pub fn expect(self, step: &'static str, want: u16) -> Result<Reply, OpError> {
        if self.status.as_u16() == want {
            Ok(self)
        } else {
            let text = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]);
            Err(OpError::Status(
                step,
                self.status.as_u16(),
                text.trim().to_owned(),
            ))
        }
    }
}

/// One simulated client: a keep-alive connection, opened again after a failure.
pub struct Http {
    /// The server.
    target: Arc<Target>,
    /// The open connection, if any.
    conn: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 when keep-alive held throughout).
    pub connects: u64,
    /// Requests sent.
    pub requests: u64,
}

impl Http {
    /// A client with no connection yet.
    pub fn new(target: Arc<Target>) -> Http {
        Http {
            target,
            conn: None,
            connects: 0,
            requests: 0,
        }
    }

    /// Opens the connection now (so that handshakes happen before the clock starts).
    pub async fn connect(&mut self) -> Result<(), OpError> {
        if self.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        self.conn = None;
        let tcp = TcpStream::connect(self.target.addr)
            .await
            .map_err(|e| OpError::Connect(format!("connect {}: {e}", self.target.addr)))?;
        tcp.set_nodelay(true)
            .map_err(|e| OpError::Connect(e.to_string()))?;
        let handshake_failed = |e: hyper::Error| OpError::Connect(format!("HTTP handshake: {e}"));
        let sender = match &self.target.connector {
            Some(connector) => {
                let name = ServerName::try_from(self.target.host.clone())
                    .map_err(|e| OpError::Connect(e.to_string()))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| OpError::Connect(format!("TLS: {e}")))?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(handshake_failed)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(handshake_failed)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
        };
        self.connects += 1;
        self.conn = Some(sender);
        Ok(())
    }

    /// Sends one request on the keep-alive connection and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, OpError> {
        self.connect().await?;
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.target.authority);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(Full::new(body))
            .map_err(|e| OpError::Protocol("request", e.to_string()))?;
        let Some(sender) = self.conn.as_mut() else {
            return Err(OpError::Connect("no connection".into()));
        };
        self.requests += 1;
        let exchange = async {
            sender
                .ready()
                .await
                .map_err(|e| OpError::Io(e.to_string()))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| OpError::Io(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| OpError::Io(e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(self.target.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(OpError::Timeout),
        };
        if matches!(result, Err(OpError::Io(_) | OpError::Timeout)) {
            // The connection is in an unknown state: open a new one next time.
            self.conn = None;
        }
        result
    }

    /// GET `path`.
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Result<Reply, OpError> {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    /// POST `body` to `path` with `content_type`.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, OpError> {
        let mut h = vec![("content-type", content_type)];
        h.extend_from_slice(headers);
        self.send(Method::POST, path, &h, body.into()).await
    }
}
