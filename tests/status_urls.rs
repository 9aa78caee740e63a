//! The status URLs certificates name: plain `http` in the embedded default, where the CRL is
//! served; an `https` one is allowed and warned about at start.
//!
//! The tests of this file share one process-wide log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use enrolld::config::Config;
use serde_json::json;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test process (installed on first use).
fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,sled=warn"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        log
    })
}

fn warnings_naming(needle: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&log().0.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains("WARN") && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// (CRL distribution points, OCSP URLs, caIssuers URLs) of a DER certificate.
fn status_urls(der: &[u8]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    let (mut cdp, mut ocsp, mut issuers) = (Vec::new(), Vec::new(), Vec::new());
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        for n in names {
                            if let GeneralName::URI(u) = n {
                                cdp.push(u.to_string());
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in &aia.accessdescs {
                    if let GeneralName::URI(u) = &d.access_location {
                        match d.access_method.to_id_string().as_str() {
                            "1.3.6.1.5.5.7.48.1" => ocsp.push(u.to_string()),
                            "1.3.6.1.5.5.7.48.2" => issuers.push(u.to_string()),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (cdp, ocsp, issuers)
}

/// A certificate from EST simpleenroll with a fresh one-time credential.
async fn enrol(s: &Server) -> Vec<u8> {
    let (u, p) = s.credential(json!({"common_name": "dev-1"})).await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&u, Some(&p))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(
            &rcgen::KeyPair::generate().unwrap(),
            Some("dev-1"),
            &[],
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    certs_from_pkcs7(&r.text().await.unwrap()).remove(0)
}

#[tokio::test]
async fn the_embedded_default_names_http_status_urls_that_serve_the_crl() {
    log();
    let mut cfg = Config::embedded();
    assert_eq!(cfg.http_listen, Some("127.0.0.1:8080".parse().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    cfg.data_dir = dir.path().join("data");
    // What `enrolld serve --http-listen 127.0.0.1:0` does: any free port instead of 8080.
    cfg.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let s = Server::start_config(dir, cfg).await;
    let status = s.status_base();
    let port = s.status_addr().port();
    assert_ne!(port, 0);
    assert_eq!(status, format!("http://localhost:{port}"));

    let (cdp, ocsp, issuers) = status_urls(&enrol(&s).await);
    assert_eq!(cdp, [format!("{status}/crl/issuing.crl")]);
    assert_eq!(ocsp, [format!("{status}/ocsp")]);
    assert_eq!(issuers, [format!("{status}/ca/issuing.crt")]);

    // The CRL is there, over plain HTTP, signed by the issuing CA.
    let plain = reqwest::Client::builder()
        .use_preconfigured_tls(s.rustls_config())
        .no_proxy()
        .build()
        .unwrap();
    let r = plain.get(&cdp[0]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pkix-crl");
    let der = r.bytes().await.unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&der).unwrap();
    let bundle = enrolld::ca::pem_certs(&String::from_utf8(s.ca_bundle()).unwrap()).unwrap();
    let (_, issuing) = x509_parser::parse_x509_certificate(&bundle[1]).unwrap();
    assert_eq!(crl.issuer(), issuing.subject());
    assert!(crl.verify_signature(issuing.public_key()).is_ok());

    // Nothing to warn about.
    assert_eq!(
        warnings_naming(&format!("localhost:{}", s.addr.port())),
        Vec::<String>::new()
    );
    s.stop().await;
}

#[tokio::test]
async fn an_https_status_url_is_allowed_and_logs_a_warning_at_start() {
    log();
    // Without http_listen the status URLs default to the HTTPS base URL.
    let s = Server::start("").await;
    let https_crl = format!("https://localhost:{}/crl/issuing.crl", s.addr.port());
    let (cdp, _, _) = status_urls(&enrol(&s).await);
    assert_eq!(cdp, std::slice::from_ref(&https_crl));
    let warned = warnings_naming(&https_crl);
    assert!(!warned.is_empty(), "no warning names {https_crl}");
    s.stop().await;
}
