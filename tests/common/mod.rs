//! Black-box harness: a real enrolld on 127.0.0.1:0 with a fresh data directory, and
//! clients that trust its `ca-bundle.pem`.
#![allow(dead_code)]

pub mod acme_client;
pub mod console;
pub mod ocsp;
pub mod smtp;

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use enrolld::config::Config;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::oneshot;

/// A running server.
pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<enrolld::error::Result<()>>>,
}

impl Server {
    /// Starts a server with `extra_toml` appended to a config naming the data dir.
    pub async fn start(extra_toml: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra_toml).await
    }

    pub async fn start_in(dir: tempfile::TempDir, extra_toml: &str) -> Server {
        let toml = format!(
            "data_dir = {:?}\n{extra_toml}",
            dir.path().join("data").to_str().unwrap()
        );
        let cfg = Config::parse(&toml).unwrap();
        Self::start_config(dir, cfg).await
    }

    /// Starts a server with `cfg`, whose data directory must be `dir/data`.
    pub async fn start_config(dir: tempfile::TempDir, cfg: Config) -> Server {
        Self::start_config_with_clock(dir, cfg, enrolld::clock::system()).await
    }

    /// Starts a server with `extra_toml` whose services read `clock`: a test moves time
    /// instead of sleeping.
    pub async fn start_with_clock(extra_toml: &str, clock: enrolld::clock::SharedClock) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "data_dir = {:?}\n{extra_toml}",
            dir.path().join("data").to_str().unwrap()
        );
        Self::start_config_with_clock(dir, Config::parse(&toml).unwrap(), clock).await
    }

    async fn start_config_with_clock(
        dir: tempfile::TempDir,
        cfg: Config,
        clock: enrolld::clock::SharedClock,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(enrolld::server::run_with_clock(
            cfg,
            listener,
            async move {
                let _ = rx.await;
            },
            clock,
        ));
        let base = format!("https://localhost:{}", addr.port());
        let s = Server {
            base,
            dir,
            addr,
            stop: Some(tx),
            task: Some(task),
        };
        // Wait for readiness.
        for _ in 0..200 {
            if s.data("ca-bundle.pem").exists() && s.data("admin-token").exists() {
                if let Ok(r) = s.client().get(s.url("/healthz")).send().await {
                    if r.status() == 200 {
                        return s;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    pub fn data(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join("data").join(name)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ca_bundle(&self) -> Vec<u8> {
        std::fs::read(self.data("ca-bundle.pem")).unwrap()
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn tls_config(&self, identity: Option<(&[u8], &[u8])>) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&self.ca_bundle()) {
            roots.add(c.unwrap()).unwrap();
        }
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        match identity {
            None => b.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain: Vec<_> = CertificateDer::pem_slice_iter(cert_pem)
                    .map(|c| c.unwrap())
                    .collect();
                b.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(key_pem).unwrap())
                    .unwrap()
            }
        }
    }

    /// An HTTPS client trusting the server's CA bundle.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.tls_config(None))
            .build()
            .unwrap()
    }

    /// A client presenting `cert_pem`/`key_pem` as TLS client certificate.
    pub fn client_with_cert(&self, cert_pem: &[u8], key_pem: &[u8]) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.tls_config(Some((cert_pem, key_pem))))
            .build()
            .unwrap()
    }

    /// Raw rustls config, for clients that need the TLS connection itself.
    pub fn rustls_config(&self) -> rustls::ClientConfig {
        self.tls_config(None)
    }

    /// The status base URL the server puts into certificates, read from the CRL
    /// distribution point (`<base>/crl/root.crl`) of the issuing CA it created.
    pub fn status_base(&self) -> String {
        let bundle = String::from_utf8(self.ca_bundle()).unwrap();
        let certs = enrolld::ca::pem_certs(&bundle).unwrap();
        for der in &certs {
            let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
            for ext in c.extensions() {
                if let x509_parser::extensions::ParsedExtension::CRLDistributionPoints(cdp) =
                    ext.parsed_extension()
                {
                    for p in cdp.points.iter() {
                        if let Some(x509_parser::extensions::DistributionPointName::FullName(
                            names,
                        )) = &p.distribution_point
                        {
                            for n in names {
                                if let x509_parser::extensions::GeneralName::URI(u) = n {
                                    return u.trim_end_matches("/crl/root.crl").to_owned();
                                }
                            }
                        }
                    }
                }
            }
        }
        panic!("no CRL distribution point in the CA bundle");
    }

    /// The address of the plain-HTTP status listener (from [`Server::status_base`]).
    pub fn status_addr(&self) -> std::net::SocketAddr {
        let base = self.status_base();
        let port: u16 = base
            .strip_prefix("http://localhost:")
            .unwrap_or_else(|| panic!("not a plain-HTTP status base: {base}"))
            .parse()
            .unwrap();
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// An admin API call with `token` and an optional JSON body: (status, JSON body, or
    /// `Null` when the body is not JSON).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self
            .client()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Creates an EST credential through the admin API; returns (username, password).
    pub async fn credential(&self, body: serde_json::Value) -> (String, String) {
        let r = self
            .client()
            .post(self.url("/api/v1/est/credentials"))
            .bearer_auth(self.admin_token())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["username"].as_str().unwrap().to_owned(),
            v["password"].as_str().unwrap().to_owned(),
        )
    }

    /// An EST credential for the registered subject `id` (admin API) and a certificate enrolled
    /// with it over `simpleenroll`; the certificate's serial.
    pub async fn enrolled(&self, id: &str) -> String {
        let (st, cred) = self
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/subjects/{id}/credentials"),
                &self.admin_token(),
                Some(serde_json::json!({"kind": "est"})),
            )
            .await;
        assert_eq!(st, 201, "{cred}");
        let r = self
            .client()
            .post(self.url("/.well-known/est/simpleenroll"))
            .basic_auth(
                cred["username"].as_str().unwrap(),
                cred["password"].as_str(),
            )
            .header("content-type", "application/pkcs10")
            .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        serial_hex(&certs_from_pkcs7(&r.text().await.unwrap()).remove(0))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

/// A CSR (DER) for `cn` and `sans` (DNS names unless they contain '@'), with `key`.
pub fn csr(key: &KeyPair, cn: Option<&str>, sans: &[&str]) -> Vec<u8> {
    csr_with_attrs(key, cn, sans, vec![])
}

pub fn csr_with_attrs(
    key: &KeyPair,
    cn: Option<&str>,
    sans: &[&str],
    attrs: Vec<rcgen::Attribute>,
) -> Vec<u8> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    p.distinguished_name = dn;
    p.subject_alt_names = sans
        .iter()
        .map(|s| {
            if s.contains('@') {
                rcgen::SanType::Rfc822Name((*s).try_into().unwrap())
            } else {
                rcgen::SanType::DnsName((*s).try_into().unwrap())
            }
        })
        .collect();
    p.serialize_request_with_attributes(key, attrs)
        .unwrap()
        .der()
        .to_vec()
}

pub fn b64(der: &[u8]) -> String {
    Base64::encode_string(der)
}

/// The certificates (DER) inside a base64 certs-only PKCS#7 reply.
pub fn certs_from_pkcs7(body: &str) -> Vec<Vec<u8>> {
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = Base64::decode_vec(&compact).unwrap();
    // ContentInfo → [0] → SignedData → certificates [0] IMPLICIT SET OF: walk the TLVs and
    // keep every element that parses as a whole certificate.
    let mut out = Vec::new();
    walk(&der, 0, &mut out);
    out
}

fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8], usize)> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut l = 0usize;
        for i in 0..n {
            l = (l << 8) | *data.get(2 + i)? as usize;
        }
        (l, 2 + n)
    };
    let content = data.get(hdr..hdr + len)?;
    Some((tag, content, &data[hdr + len..], hdr + len))
}

fn walk(data: &[u8], depth: usize, out: &mut Vec<Vec<u8>>) {
    let mut rest = data;
    while let Some((tag, content, next, total)) = tlv(rest) {
        let raw = &rest[..total];
        if x509_parser::parse_x509_certificate(raw).is_ok_and(|(rem, _)| rem.is_empty()) {
            out.push(raw.to_vec());
        } else if tag & 0x20 != 0 && depth < 8 {
            walk(content, depth + 1, out);
        }
        rest = next;
    }
}

pub fn pem(der: &[u8]) -> String {
    enrolld::ca::pem_encode("CERTIFICATE", der)
}

/// Serial (hex) of a DER certificate.
pub fn serial_hex(der: &[u8]) -> String {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    hex::encode(c.raw_serial())
        .trim_start_matches("00")
        .to_owned()
}

impl Server {
    /// Creates an EAB key through the admin API; returns (kid, raw MAC key).
    pub async fn eab(&self, body: serde_json::Value) -> (String, Vec<u8>) {
        let r = self
            .client()
            .post(self.url("/api/v1/acme/eab"))
            .bearer_auth(self.admin_token())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: serde_json::Value = r.json().await.unwrap();
        let key = base64ct::Base64UrlUnpadded::decode_vec(v["hmac_key"].as_str().unwrap()).unwrap();
        (v["kid"].as_str().unwrap().to_owned(), key)
    }

    /// The certificate record JSON through the admin API.
    pub async fn cert_record(&self, serial_hex: &str) -> serde_json::Value {
        self.client()
            .get(self.url(&format!("/api/v1/certificates/{serial_hex}")))
            .bearer_auth(self.admin_token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A certificate for the DNS name `name` over ACME with instant-acme, through an account bound
/// to a fresh EAB key that pre-authorises the name: (account, EAB key id, leaf DER, its key).
pub async fn acme_certificate(
    s: &Server,
    name: &str,
) -> (instant_acme::Account, String, Vec<u8>, KeyPair) {
    use instant_acme::{
        Account, ExternalAccountKey, Identifier, NewAccount, NewOrder, RetryPolicy,
    };
    let (kid, mac) = s
        .eab(serde_json::json!({"allowed_identifiers": [{"type": "dns", "value": name}]}))
        .await;
    let (acct, _) = Account::builder_with_root(s.data("ca-bundle.pem"))
        .unwrap()
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.url("/acme/directory"),
            Some(&ExternalAccountKey::new(kid.clone(), &mac)),
        )
        .await
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let mut order = acct
        .new_order(&NewOrder::new(&[Identifier::Dns(name.into())]))
        .await
        .unwrap();
    order.finalize_csr(&csr(&key, None, &[name])).await.unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let der = enrolld::ca::pem_certs(&chain).unwrap().remove(0);
    (acct, kid, der, key)
}
