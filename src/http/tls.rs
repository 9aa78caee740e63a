//! The listeners: rustls on aws-lc-rs with optional client certificates and a handshake
//! timeout for HTTPS, plain HTTP for the status listener; a connection cap on each, and
//! graceful shutdown. What happens on a connection is in [`super::conn`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::{conn, ConnInfo};
use crate::config::Limits;
use crate::error::{Error, Result};

/// Builds the rustls server config: the server chain and key, and a verifier that accepts
/// (but does not require) client certificates chaining to `client_anchors`.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_anchors: &[Vec<u8>],
) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("TLS certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Internal(format!("TLS key: {e}")))?;
    let mut roots = RootCertStore::empty();
    for a in client_anchors {
        roots
            .add(CertificateDer::from(a.clone()))
            .map_err(|e| Error::Internal(format!("client trust anchor: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Internal(format!("client verifier: {e}")))?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Error::Internal(format!("TLS config: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish (up to 30 s). With `tls`, connections speak HTTPS (HTTP/2 or HTTP/1.1 by ALPN);
/// without, plain HTTP (the status listener). Each listener serves at most
/// `limits.max_connections` connections at once; further ones wait in the accept queue.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    // Config::finish keeps max_connections within 1..=u32::MAX.
    let max = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    let handshake_timeout = Duration::from_secs(limits.handshake_timeout_secs);
    let settings = Arc::new(conn::Settings::new(&limits).await);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.map_err(Error::internal)?,
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let settings = settings.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = acceptor else {
                let info = Arc::new(ConnInfo {
                    peer,
                    client_cert: None,
                    tls_exporter: None,
                });
                conn::serve(TokioIo::new(tcp), info, router, settings, stop).await;
                return;
            };
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let (_, tls_conn) = tls.get_ref();
            let client_cert = tls_conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            let tls_exporter = if tls_conn.protocol_version()
                == Some(rustls::ProtocolVersion::TLSv1_3)
            {
                let mut out = [0u8; 32];
                match tls_conn.export_keying_material(&mut out, b"EXPORTER-Channel-Binding", None) {
                    Ok(_) => Some(out.to_vec()),
                    Err(_) => None,
                }
            } else {
                None
            };
            let info = Arc::new(ConnInfo {
                peer,
                client_cert,
                tls_exporter,
            });
            conn::serve(TokioIo::new(tls), info, router, settings, stop).await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    tracing::info!("shutting down: waiting for in-flight requests");
    // Every connection holds a permit until it ends.
    if tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 30 s");
    }
    Ok(())
}
