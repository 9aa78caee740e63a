//! The HTTP edge, seen from raw sockets: header-name case on HTTP/1.1, request-head caps on
//! both listeners and both HTTP versions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A TLS connection to the HTTPS listener offering only `alpn`.
async fn tls(s: &Server, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut cfg = s.rustls_config();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// Writes `request` and reads until the server closes the connection (the request says
/// `Connection: close`), at most 10 s.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut io: S,
    request: &[u8],
) -> Vec<u8> {
    // The server may answer and close before it has read everything (431).
    let _ = io.write_all(request).await;
    let _ = io.flush().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

/// One HTTP/2 GET of `path` (with an `x-filler` header if given) on a fresh connection:
/// the status (None if the stream was refused) and the version it was answered on.
async fn h2_get(s: &Server, path: &str, filler: Option<String>) -> (Option<u16>, hyper::Version) {
    let io = hyper_util::rt::TokioIo::new(tls(s, &[b"h2"]).await);
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::get(s.url(path));
    if let Some(f) = filler {
        req = req.header("x-filler", f);
    }
    let req = req
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    match send.send_request(req).await {
        Ok(r) => (Some(r.status().as_u16()), r.version()),
        Err(_) => (None, hyper::Version::HTTP_2),
    }
}

/// The response head (status line and header lines) as sent.
fn head(out: &[u8]) -> String {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    String::from_utf8_lossy(&out[..end]).into_owned()
}

fn status(out: &[u8]) -> Option<u16> {
    head(out).split(' ').nth(1).and_then(|c| c.parse().ok())
}

/// The header lines of a response head, as sent (name case kept).
fn header_lines(out: &[u8]) -> Vec<String> {
    head(out).split("\r\n").skip(1).map(str::to_owned).collect()
}

#[tokio::test]
async fn http1_answers_use_canonical_header_names() {
    let s = Server::start("").await;
    let out = exchange(
        tls(&s, &[b"http/1.1"]).await,
        b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&out), Some(200), "{}", head(&out));
    let lines = header_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Content-Type: application/pkcs7-mime")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("Content-Length: ")),
        "{lines:?}"
    );

    let csr_b64 = b64(&csr(&rcgen::KeyPair::generate().unwrap(), Some("c"), &[]));
    let req = format!(
        "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{csr_b64}",
        csr_b64.len()
    );
    let out = exchange(tls(&s, &[b"http/1.1"]).await, req.as_bytes()).await;
    assert_eq!(status(&out), Some(401), "{}", head(&out));
    let lines = header_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WWW-Authenticate: Basic")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Content-Type: text/plain")),
        "{lines:?}"
    );
    s.stop().await;
}

/// A GET of `path` with one extra header line of `header_len` bytes of value.
fn get_with_header(path: &str, header_len: usize) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(header_len)
    )
    .into_bytes()
}

/// `/healthz` with a query string of `len` bytes.
fn long_query(len: usize) -> String {
    format!("/healthz?message={}", "A".repeat(len))
}

#[tokio::test]
async fn oversized_request_heads_are_431_on_the_https_listener() {
    let s = Server::start("").await;
    // One 100 KB header line.
    let out = exchange(
        tls(&s, &[b"http/1.1"]).await,
        &get_with_header("/healthz", 100 * 1024),
    )
    .await;
    assert_eq!(status(&out), Some(431), "{}", head(&out));
    // Many header lines of 1 KB each, 100 KB in all.
    let mut req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..100 {
        req.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "b".repeat(1024)).as_bytes());
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    let out = exchange(tls(&s, &[b"http/1.1"]).await, &req).await;
    assert_eq!(status(&out), Some(431), "{}", head(&out));
    // One line just past the per-line cap (16 KiB by default), the whole head well within
    // the total cap.
    let out = exchange(
        tls(&s, &[b"http/1.1"]).await,
        &get_with_header("/healthz", 17 * 1024),
    )
    .await;
    assert_eq!(status(&out), Some(431), "{}", head(&out));
    // A SCEP-style GET with a 10 KB query string passes.
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        long_query(10 * 1024)
    );
    let out = exchange(tls(&s, &[b"http/1.1"]).await, req.as_bytes()).await;
    assert_eq!(status(&out), Some(200), "{}", head(&out));

    // HTTP/2: the same caps.
    // Past SETTINGS_MAX_HEADER_LIST_SIZE the stream gets a 431 or is refused, depending on
    // how far the client got; it is never served.
    let (status, _) = h2_get(&s, "/healthz", Some("a".repeat(100 * 1024))).await;
    assert!(matches!(status, Some(431) | None), "{status:?}");
    let (status, version) = h2_get(&s, "/healthz", Some("a".repeat(17 * 1024))).await;
    assert_eq!((status, version), (Some(431), hyper::Version::HTTP_2));
    let (status, _) = h2_get(&s, &long_query(10 * 1024), None).await;
    assert_eq!(status, Some(200));
    s.stop().await;
}

#[tokio::test]
async fn oversized_request_heads_are_431_on_the_plain_listener() {
    let s = Server::start("http_listen = \"127.0.0.1:0\"\n").await;
    let plain = s.status_addr();
    let out = exchange(
        TcpStream::connect(plain).await.unwrap(),
        &get_with_header("/crl/issuing.crl", 100 * 1024),
    )
    .await;
    assert_eq!(status(&out), Some(431), "{}", head(&out));
    let out = exchange(
        TcpStream::connect(plain).await.unwrap(),
        &get_with_header("/crl/issuing.crl", 17 * 1024),
    )
    .await;
    assert_eq!(status(&out), Some(431), "{}", head(&out));
    let out = exchange(
        TcpStream::connect(plain).await.unwrap(),
        &get_with_header("/crl/issuing.crl", 10 * 1024),
    )
    .await;
    assert_eq!(status(&out), Some(200), "{}", head(&out));
    s.stop().await;
}

/// Three connection slots per listener, and short first-request and idle timeouts.
const SMALL_LIMITS: &str =
    "[limits]\nmax_connections = 3\nfirst_request_timeout_secs = 1\nidle_timeout_secs = 1\n";

/// Waits (at most 10 s) until the server closes `io`; true if it did.
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(mut io: S) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 64];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn silent_connections_do_not_starve_the_https_listener() {
    let s = Server::start(SMALL_LIMITS).await;
    let opened = tokio::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..3 {
        // Handshake done, nothing sent: every slot taken.
        silent.push(tokio::spawn(closed_by_server(
            tls(&s, &[b"h2", b"http/1.1"]).await,
        )));
    }
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        s.client().get(s.url("/healthz")).send(),
    )
    .await
    .expect("the server answers while silent connections hold every slot")
    .unwrap();
    assert_eq!(r.status(), 200);
    // It waited for a slot that a silent connection gave back after its first-request limit.
    assert!(opened.elapsed() >= Duration::from_secs(1));
    for c in silent {
        assert!(
            c.await.unwrap(),
            "a silent connection was closed by the server"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn silent_connections_do_not_starve_the_plain_listener_and_it_has_a_cap() {
    let s = Server::start(&format!("http_listen = \"127.0.0.1:0\"\n{SMALL_LIMITS}")).await;
    let plain = s.status_addr();
    let opened = tokio::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::spawn(closed_by_server(
            TcpStream::connect(plain).await.unwrap(),
        )));
    }
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        exchange(
            TcpStream::connect(plain).await.unwrap(),
            b"GET /ca/issuing.crt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ),
    )
    .await
    .expect("the plain listener answers while silent connections hold every slot");
    assert_eq!(status(&out), Some(200), "{}", head(&out));
    // Served only once a silent connection gave its slot back: the listener has a cap.
    assert!(opened.elapsed() >= Duration::from_secs(1));
    for c in silent {
        assert!(
            c.await.unwrap(),
            "a silent connection was closed by the server"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_on_http1_and_http2() {
    let s =
        Server::start("[limits]\nfirst_request_timeout_secs = 30\nidle_timeout_secs = 1\n").await;
    // HTTP/1.1 keep-alive: one request, then silence.
    let mut c = tls(&s, &[b"http/1.1"]).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"ok\n") {
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(status(&got), Some(200));
    // Within 5 s, well under the 30 s a connection gets for its first request.
    let closed = tokio::time::timeout(Duration::from_secs(5), closed_by_server(c)).await;
    assert_eq!(closed, Ok(true), "the idle HTTP/1.1 connection was closed");

    // HTTP/2: one request, then silence; the client keeps its end open.
    let io = hyper_util::rt::TokioIo::new(tls(&s, &[b"h2"]).await);
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(s.url("/healthz"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let r = send.send_request(req).await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, hyper::Version::HTTP_2)
    );
    drop(r);
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was closed");
    drop(send);
    s.stop().await;
}
