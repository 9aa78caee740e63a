//! SCEP over HTTP (RFC 8894 §4): the operations on both listeners, GET and POST
//! PKIOperation, a several-KB challenge in a GET query, and the HTTP-level refusals.

mod common;

use base64ct::{Base64, Encoding};
use common::Server;
use enrolld::scep::client::{degenerate_contents, Build, Requester};
use reqwest::Method;
use serde_json::json;

/// A plain-HTTP listener beside the HTTPS one.
const PLAIN: &str = "http_listen = \"127.0.0.1:0\"\n";

/// A registered device and a one-time SCEP challenge for it.
async fn device_challenge(s: &Server) -> (String, serde_json::Value) {
    let token = s.admin_token();
    let (status, dev) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &token,
            Some(json!({"external_id": "mdm-17", "name": "kiosk-17", "dns_names": ["kiosk-17.corp.example"]})),
        )
        .await;
    assert_eq!(status, 201, "{dev}");
    let id = dev["subject"]["id"].as_str().unwrap().to_owned();
    let (status, ch) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &token,
            Some(json!({"kind": "scep"})),
        )
        .await;
    assert_eq!(status, 201, "{ch}");
    (id, ch)
}

/// The RA certificate from GetCACert: the one that is not a CA.
fn ra_of(body: &[u8]) -> Vec<u8> {
    let d = degenerate_contents(body).unwrap();
    assert_eq!(d.certs.len(), 3, "RA, issuing CA, root");
    d.certs
        .into_iter()
        .find(|c| !x509_parser::parse_x509_certificate(c).unwrap().1.is_ca())
        .unwrap()
}

#[tokio::test]
async fn enrolment_over_plain_http_by_post_and_get() {
    let s = Server::start(PLAIN).await;
    let (id, ch) = device_challenge(&s).await;
    // The challenge answer names the plain-HTTP listener's /scep.
    let url = ch["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/scep", s.status_base()));
    let plain = format!("http://{}/scep", s.status_addr());
    let http = s.client();

    let caps = http
        .get(format!("{plain}?operation=GetCACaps"))
        .send()
        .await
        .unwrap();
    assert_eq!(caps.status(), 200);
    let caps = caps.text().await.unwrap();
    for c in [
        "AES",
        "POSTPKIOperation",
        "Renewal",
        "SCEPStandard",
        "SHA-256",
        "SHA-512",
    ] {
        assert!(caps.lines().any(|l| l == c), "{c} in {caps:?}");
    }
    assert!(!caps.contains("DES3"), "no DES3 on the default path");

    let r = http
        .get(format!("{plain}?operation=GetCACert"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-x509-ca-ra-cert");
    let ra = ra_of(&r.bytes().await.unwrap());

    // POST PKIOperation.
    let dev = Requester::new().unwrap();
    let challenge = ch["challenge"].as_str().unwrap();
    let msg = dev
        .message(&Build::default(), &dev.csr(Some(challenge)).unwrap(), &ra)
        .unwrap();
    let r = http
        .post(format!("{plain}?operation=PKIOperation"))
        .header("content-type", "application/x-pki-message")
        .body(msg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-pki-message");
    let rep = dev.read(&r.bytes().await.unwrap(), &ra, false).unwrap();
    assert_eq!(rep.status, "0", "{rep:?}");
    let (_, cert) = x509_parser::parse_x509_certificate(&rep.certs[0]).unwrap();
    assert_eq!(
        cert.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "kiosk-17"
    );
    // The subject's record lists the certificate.
    let (_, subject) = s
        .api(
            Method::GET,
            &format!("/api/v1/subjects/{id}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(
        subject["certificates"].as_array().unwrap().len(),
        1,
        "{subject}"
    );

    // GET PKIOperation with a second device: base64 left unescaped (`+` and `/` as is), the
    // spent challenge refused with a signed FAILURE.
    let dev2 = Requester::new().unwrap();
    let msg = dev2
        .message(&Build::default(), &dev2.csr(Some(challenge)).unwrap(), &ra)
        .unwrap();
    let r = http
        .get(format!(
            "{plain}?operation=PKIOperation&message={}",
            Base64::encode_string(&msg)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rep = dev2.read(&r.bytes().await.unwrap(), &ra, false).unwrap();
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("2"))
    );
}

/// Intune's challenges are several KB: a GET carrying a CSR with a 6 KB challenge reaches the
/// SCEP service (here: refused as an unknown challenge, with a CertRep), on both listeners.
#[tokio::test]
async fn a_several_kb_challenge_fits_in_a_get_query() {
    let s = Server::start(PLAIN).await;
    let ra = ra_of(
        &s.client()
            .get(s.url("/scep?operation=GetCACert"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    let long: String = "A".repeat(6000);
    let dev = Requester::new().unwrap();
    let msg = dev
        .message(&Build::default(), &dev.csr(Some(&long)).unwrap(), &ra)
        .unwrap();
    // URL-escaped this time.
    let escaped: String = Base64::encode_string(&msg)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert!(escaped.len() > 8000);
    for base in [s.url("/scep"), format!("http://{}/scep", s.status_addr())] {
        let r = s
            .client()
            .get(format!("{base}?operation=PKIOperation&message={escaped}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}");
        let rep = dev.read(&r.bytes().await.unwrap(), &ra, false).unwrap();
        assert_eq!(rep.fail_info.as_deref(), Some("2"), "{base}: {rep:?}");
    }
}

#[tokio::test]
async fn http_level_refusals() {
    let s = Server::start("[scep.labels.old]\nlegacy = true\n").await;
    let c = s.client();
    let status = |r: reqwest::Response| r.status().as_u16();
    // No operation, an unknown one, a wrong method.
    assert_eq!(status(c.get(s.url("/scep")).send().await.unwrap()), 400);
    assert_eq!(
        status(
            c.get(s.url("/scep?operation=GetNextCACert"))
                .send()
                .await
                .unwrap()
        ),
        501
    );
    assert_eq!(
        status(
            c.post(s.url("/scep?operation=GetCACaps"))
                .send()
                .await
                .unwrap()
        ),
        405
    );
    // An unknown label.
    assert_eq!(
        status(
            c.get(s.url("/scep/nope?operation=GetCACaps"))
                .send()
                .await
                .unwrap()
        ),
        404
    );
    // A label's capabilities.
    let caps = c
        .get(s.url("/scep/old?operation=GetCACaps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(caps.contains("DES3") && caps.contains("SHA-1"), "{caps}");
    // Not a pkiMessage, not base64, too large.
    let r = c
        .post(s.url("/scep?operation=PKIOperation"))
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("SCEP message"));
    assert_eq!(
        status(
            c.get(s.url("/scep?operation=PKIOperation&message=%%%"))
                .send()
                .await
                .unwrap()
        ),
        400
    );
    let r = c
        .post(s.url("/scep?operation=PKIOperation"))
        .body(vec![0x30u8; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

/// With `[scep] enabled = false` there is no SCEP at all.
#[tokio::test]
async fn scep_can_be_switched_off() {
    let s = Server::start("[scep]\nenabled = false\n").await;
    let r = s
        .client()
        .get(s.url("/scep?operation=GetCACaps"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!s.data("ca/scep-ra.key").exists());
}
