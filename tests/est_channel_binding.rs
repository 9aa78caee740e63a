//! RFC 7030 §3.5 proof of possession with RFC 9266 tls-exporter: a Rust client that puts the
//! exporter value of its own TLS 1.3 connection in the CSR's challengePassword.

mod common;

use std::sync::Arc;

use common::*;
use rcgen::KeyPair;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];

fn challenge_attr(value: &str) -> rcgen::Attribute {
    rcgen::Attribute {
        oid: CHALLENGE_PASSWORD,
        values: yasna::construct_der(|w| w.write_set(|w| w.next().write_utf8_string(value))),
    }
}

/// Opens a TLS connection, lets `make_csr` see its exporter value, sends the enrolment on that
/// same connection and returns (status, body).
async fn enroll_bound(
    s: &Server,
    path: &str,
    user: &str,
    pass: &str,
    make_csr: impl FnOnce(Option<Vec<u8>>) -> Vec<u8>,
    tls12: bool,
) -> (u16, String) {
    let mut cfg = s.rustls_config();
    if tls12 {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&s.ca_bundle()) {
            roots.add(c.unwrap()).unwrap();
        }
        cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let exporter = {
        let (_, conn) = tls.get_ref();
        let mut out = [0u8; 32];
        if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
            conn.export_keying_material(&mut out, b"EXPORTER-Channel-Binding", None)
                .unwrap();
            Some(out.to_vec())
        } else {
            None
        }
    };
    let body = b64(&make_csr(exporter));
    let auth = b64(format!("{user}:{pass}").as_bytes());
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tls.read_to_end(&mut resp).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&resp).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

const CONFIG: &str = "[est.labels.bound]\nprofile = \"device\"\nrequire_channel_binding = true\n";

#[tokio::test]
async fn csr_bound_to_this_tls_channel_is_accepted() {
    let s = Server::start(CONFIG).await;
    let (u, p) = s
        .credential(json!({"label": "bound", "common_name": "cb1"}))
        .await;
    let key = KeyPair::generate().unwrap();
    let (status, body) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |exp| {
            let v = b64(&exp.expect("TLS 1.3 exporter"));
            csr_with_attrs(&key, None, &[], vec![challenge_attr(&v)])
        },
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The challengePassword is listed in csrattrs for this label.
    let r = s
        .client()
        .get(s.url("/.well-known/est/bound/csrattrs"))
        .send()
        .await
        .unwrap();
    let der = enrolld::ca::decode_base64_lenient(&r.text().await.unwrap()).unwrap();
    let oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07,
    ];
    assert!(der.windows(oid.len()).any(|w| w == oid));
    s.stop().await;
}

#[tokio::test]
async fn csr_bound_to_another_channel_or_unbound_is_refused() {
    let s = Server::start(CONFIG).await;
    let (u, p) = s
        .credential(json!({"label": "bound", "common_name": "cb2"}))
        .await;
    let key = KeyPair::generate().unwrap();
    // Replayed from another connection: a different exporter value.
    let (status, body) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |_| csr_with_attrs(&key, None, &[], vec![challenge_attr(&b64(&[7u8; 32]))]),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("does not match"), "{body}");
    let (status, body) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |_| csr(&key, None, &[]),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("channel binding"), "{body}");
    // TLS 1.2 has no tls-exporter binding under RFC 9266 here: refused.
    let (status, _) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |_| csr(&key, None, &[]),
        true,
    )
    .await;
    assert_eq!(status, 400);
    // None of this spent the credential.
    let (status, _) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |exp| csr_with_attrs(&key, None, &[], vec![challenge_attr(&b64(&exp.unwrap()))]),
        false,
    )
    .await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn renewal_on_another_path_cannot_skip_the_binding() {
    let s = Server::start(CONFIG).await;
    let (u, p) = s
        .credential(json!({"label": "bound", "common_name": "cb3"}))
        .await;
    let key = KeyPair::generate().unwrap();
    let (status, body) = enroll_bound(
        &s,
        "/.well-known/est/bound/simpleenroll",
        &u,
        &p,
        |exp| csr_with_attrs(&key, None, &[], vec![challenge_attr(&b64(&exp.unwrap()))]),
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cert = certs_from_pkcs7(&body).remove(0);
    let client = s.client_with_cert(pem(&cert).as_bytes(), key.serialize_pem().as_bytes());
    // The default path does not require binding, but the certificate's label does.
    let r = client
        .post(s.url("/.well-known/est/simplereenroll"))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("channel binding"));
    s.stop().await;
}
