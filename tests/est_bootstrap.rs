//! Bootstrap enrolment with a manufacturer (IDevID) certificate: the device may request its
//! own serial number as name, nothing else.

mod common;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

struct Manufacturer {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn manufacturer() -> Manufacturer {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name
        .push(DnType::CommonName, "Acme Devices IDevID CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let cert = p.self_signed(&key).unwrap();
    Manufacturer {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

fn idevid(m: &Manufacturer, device_serial: &str) -> (String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "Acme Sensor");
    p.distinguished_name
        .push(DnType::CustomDnType(vec![2, 5, 4, 5]), device_serial);
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x11, 0x22, 0x33]));
    let cert = p.signed_by(&key, &m.issuer).unwrap();
    (cert.pem(), key)
}

async fn start(m: &Manufacturer) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("idevid-ca.pem");
    std::fs::write(&ca_file, &m.pem).unwrap();
    let cfg = format!(
        "[est.labels.iot]\nprofile = \"device\"\nbootstrap_ca_files = [{:?}]\n",
        ca_file.to_str().unwrap()
    );
    Server::start_in(dir, &cfg).await
}

async fn post(client: &reqwest::Client, url: String, csr_der: &[u8]) -> (u16, String) {
    let r = client
        .post(url)
        .header("content-type", "application/pkcs10")
        .body(b64(csr_der))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn idevid_enrols_exactly_its_serial_number() {
    let m = manufacturer();
    let s = start(&m).await;
    let (cert_pem, idevid_key) = idevid(&m, "SN-0042");
    let client = s.client_with_cert(cert_pem.as_bytes(), idevid_key.serialize_pem().as_bytes());
    let key = KeyPair::generate().unwrap();

    let (status, body) = post(
        &client,
        s.url("/.well-known/est/iot/simpleenroll"),
        &csr(&key, Some("SN-0042"), &[]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = certs_from_pkcs7(&body).remove(0);
    let (_, c) = x509_parser::parse_x509_certificate(&c).unwrap();
    assert_eq!(c.subject().to_string(), "CN=SN-0042");

    // Another name is refused.
    let (status, _) = post(
        &client,
        s.url("/.well-known/est/iot/simpleenroll"),
        &csr(&key, Some("SN-9999"), &[]),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &client,
        s.url("/.well-known/est/iot/simpleenroll"),
        &csr(&key, None, &["vpn.example"]),
    )
    .await;
    assert_eq!(status, 400);
    // The bootstrap CA is trusted on its label only.
    let (status, _) = post(
        &client,
        s.url("/.well-known/est/simpleenroll"),
        &csr(&key, Some("SN-0042"), &[]),
    )
    .await;
    assert_eq!(status, 401);
    // An IDevID cannot renew: it is not a certificate issued here.
    let (status, _) = post(
        &client,
        s.url("/.well-known/est/iot/simplereenroll"),
        &csr(&key, Some("SN-0042"), &[]),
    )
    .await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn certificate_from_an_untrusted_manufacturer_is_refused() {
    let trusted = manufacturer();
    let other = manufacturer();
    let s = start(&trusted).await;
    let (cert_pem, key) = idevid(&other, "SN-0001");
    let client = s.client_with_cert(cert_pem.as_bytes(), key.serialize_pem().as_bytes());
    // rustls refuses the handshake for a client certificate from an unknown CA.
    let r = client
        .post(s.url("/.well-known/est/iot/simpleenroll"))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(
            &KeyPair::generate().unwrap(),
            Some("SN-0001"),
            &[],
        )))
        .send()
        .await;
    assert!(r.is_err() || r.unwrap().status() == 401);
    s.stop().await;
}
