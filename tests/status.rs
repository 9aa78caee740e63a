//! CRL and OCSP black-box tests (RFC 5280 §5, RFC 6960) on a server bound to 127.0.0.1:0.

mod common;

use base64ct::{Base64, Encoding};
use common::ocsp::*;
use common::*;
use rcgen::KeyPair;
use serde_json::json;

async fn enrol(s: &Server, cn: &str) -> Vec<u8> {
    let (u, p) = s.credential(json!({"common_name": cn})).await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(u, Some(p))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    certs_from_pkcs7(&r.text().await.unwrap()).remove(0)
}

#[tokio::test]
async fn ocsp_good_revoked_unknown_with_both_hashes_and_nonce() {
    let s = Server::start("").await;
    let a = enrol(&s, "a").await;
    let b = enrol(&s, "b").await;
    let iss = issuing(&s);
    for sha256 in [false, true] {
        let resp = post_ocsp(&s, ocsp_request(&iss, &[serial_bytes(&a)], sha256, None)).await;
        assert_eq!(
            &resp[..5],
            &[0x30, 0x82, resp[2], resp[3], 0x0a],
            "successful, with bytes"
        );
        // good [0] IMPLICIT NULL
        assert!(contains(&resp, &[0x80, 0x00]), "good");
    }
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/certificates/{}/revoke", serial_hex(&a))))
        .bearer_auth(s.admin_token())
        .json(&json!({"reason": "cessationOfOperation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let resp = post_ocsp(&s, ocsp_request(&iss, &[serial_bytes(&a)], true, None)).await;
    // revoked [1] with reason [0] EXPLICIT ENUMERATED 5
    assert!(
        contains(&resp, &[0xa0, 0x03, 0x0a, 0x01, 0x05]),
        "revoked with reason 5"
    );
    // Two certificates and an unknown serial in one request, with a nonce echoed.
    let nonce = [0x42u8; 16];
    let resp = post_ocsp(
        &s,
        ocsp_request(
            &iss,
            &[serial_bytes(&a), serial_bytes(&b), vec![0x01, 0x02, 0x03]],
            false,
            Some(&nonce),
        ),
    )
    .await;
    assert!(contains(&resp, &nonce), "nonce echoed");
    assert!(contains(&resp, &[0x82, 0x00]), "unknown");
    // RFC 8954: a nonce over 32 octets is malformed.
    let resp = post_ocsp(
        &s,
        ocsp_request(&iss, &[serial_bytes(&b)], false, Some(&[1u8; 33])),
    )
    .await;
    assert_eq!(resp, vec![0x30, 0x03, 0x0a, 0x01, 0x01]);
    // Another issuer: unauthorized (6).
    let resp = post_ocsp(&s, ocsp_request(&a, &[serial_bytes(&b)], false, None)).await;
    assert_eq!(resp, vec![0x30, 0x03, 0x0a, 0x01, 0x06]);
    s.stop().await;
}

#[tokio::test]
async fn crl_numbers_increase_and_revocations_appear_at_once() {
    let s = Server::start("").await;
    let a = enrol(&s, "c1").await;
    let get = || async {
        let r = s
            .client()
            .get(s.url("/crl/issuing.crl"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pkix-crl");
        r.bytes().await.unwrap().to_vec()
    };
    let crl1 = get().await;
    let (_, c1) = x509_parser::parse_x509_crl(&crl1).unwrap();
    assert_eq!(c1.iter_revoked_certificates().count(), 0);
    let n1 = c1.crl_number().unwrap().clone();
    // Unchanged: served from cache (same number).
    let crl_again = get().await;
    let (_, again) = x509_parser::parse_x509_crl(&crl_again).unwrap();
    assert_eq!(again.crl_number().unwrap(), &n1);
    s.client()
        .post(s.url(&format!("/api/v1/certificates/{}/revoke", serial_hex(&a))))
        .bearer_auth(s.admin_token())
        .json(&json!({"reason": "keyCompromise"}))
        .send()
        .await
        .unwrap();
    let crl2 = get().await;
    let (_, c2) = x509_parser::parse_x509_crl(&crl2).unwrap();
    assert!(c2.crl_number().unwrap() > &n1);
    let revoked: Vec<_> = c2.iter_revoked_certificates().collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].raw_serial(), serial_bytes(&a).as_slice());
    // Signed by the issuing CA.
    let iss = issuing(&s);
    let (_, ic) = x509_parser::parse_x509_certificate(&iss).unwrap();
    c2.verify_signature(ic.public_key()).unwrap();
    s.stop().await;
}

#[tokio::test]
async fn acme_revocation_shows_in_crl_and_ocsp() {
    use instant_acme::{
        Account, ExternalAccountKey, Identifier, NewAccount, NewOrder, RetryPolicy,
    };
    let s = Server::start("").await;
    let (kid, key) = s
        .eab(json!({"allowed_identifiers": [{"type": "dns", "value": "rv.fleet.example"}]}))
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
            Some(&ExternalAccountKey::new(kid, &key)),
        )
        .await
        .unwrap();
    let ids = [Identifier::Dns("rv.fleet.example".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    order
        .finalize_csr(&csr(
            &KeyPair::generate().unwrap(),
            None,
            &["rv.fleet.example"],
        ))
        .await
        .unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let der = enrolld::ca::pem_certs(&chain).unwrap().remove(0);
    acct.revoke(&instant_acme::RevocationRequest {
        certificate: &rustls_pki_types::CertificateDer::from(der.clone()),
        reason: Some(instant_acme::RevocationReason::Superseded),
    })
    .await
    .unwrap();
    let resp = post_ocsp(
        &s,
        ocsp_request(&issuing(&s), &[serial_bytes(&der)], false, None),
    )
    .await;
    assert!(
        contains(&resp, &[0xa0, 0x03, 0x0a, 0x01, 0x04]),
        "revoked, superseded"
    );
    let r = s
        .client()
        .get(s.url("/crl/issuing.crl"))
        .send()
        .await
        .unwrap();
    let crl = r.bytes().await.unwrap();
    let (_, c) = x509_parser::parse_x509_crl(&crl).unwrap();
    assert!(c
        .iter_revoked_certificates()
        .any(|e| e.raw_serial() == serial_bytes(&der).as_slice()));
    s.stop().await;
}

/// A port that was free a moment ago, for the plain-HTTP listener (`http_listen`).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with the plain-HTTP status listener too; returns it and that listener's base URL.
async fn with_plain_listener(extra: &str) -> (Server, String) {
    let port = free_port();
    let s = Server::start(&format!("http_listen = \"127.0.0.1:{port}\"\n{extra}")).await;
    (s, format!("http://127.0.0.1:{port}"))
}

/// A GET on the plain-HTTP listener over a raw socket, so the request target goes out byte for
/// byte; returns the whole answer (empty if the connection closed without one).
async fn raw_plain_get(plain: &str, target: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = plain.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: ca.example\r\nConnection: close\r\n\r\n");
    sock.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out).await;
    out
}

/// RFC 6960 Appendix A.1 GET: the path is percent-decoded once, as bytes. A `%` followed by a
/// multi-byte character used to panic the connection task (a `str` sliced inside a character);
/// a malformed escape is a 400, on the HTTPS and the plain-HTTP listener alike, and the
/// server goes on answering.
#[tokio::test]
async fn ocsp_get_percent_escapes_are_decoded_as_bytes_on_both_listeners() {
    let (s, plain) = with_plain_listener("").await;
    let a = enrol(&s, "pct").await;
    let good_req =
        Base64::encode_string(&ocsp_request(&issuing(&s), &[serial_bytes(&a)], true, None));
    let escaped = good_req
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let client = s.client();
    for base in [s.base.clone(), plain.clone()] {
        for (path, want) in [
            // Well-formed escapes of bytes that are not base64: malformedRequest (HTTP 200).
            ("/ocsp/%25%E2%82%AC", 200),
            ("/ocsp/%25a%C3%A9", 200),
            ("/ocsp/%E2%82%AC%25", 200),
            // Malformed escapes: 400.
            ("/ocsp/MEUw%", 400),
            ("/ocsp/MEUw%4", 400),
            ("/ocsp/MEUw%zz", 400),
            ("/ocsp/%4%41", 400),
        ] {
            let r = client.get(format!("{base}{path}")).send().await;
            let r = r.unwrap_or_else(|e| panic!("{base}{path}: no answer ({e})"));
            assert_eq!(r.status(), want, "{base}{path}");
            if want == 200 {
                assert_eq!(r.bytes().await.unwrap().as_ref(), OCSP_MALFORMED, "{path}");
            }
        }
        // Still serving, and a percent-encoded request is decoded once.
        let r = client
            .get(format!("{base}/ocsp/{escaped}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let resp = r.bytes().await.unwrap();
        assert!(contains(&resp, &[0x80, 0x00]), "good, via {base}");
    }
    // A raw `%` followed by the bytes of a multi-byte character in the request target.
    let answer = raw_plain_get(&plain, b"/ocsp/MEUw%\xe2\x82\xac").await;
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let r = client
        .get(format!("{plain}/ca/issuing.crt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// RFC 6960 §4.2.1 OCSPResponse { responseStatus malformedRequest (1) }.
const OCSP_MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];

/// Serials that were never issued cost one signature per serial per cache period, nonce or
/// not: the answer for an unknown serial comes from the cache (RFC 8954 §2.1 lets a responder
/// leave the nonce out), so its bytes repeat.
#[tokio::test]
async fn unknown_serial_answers_come_from_the_cache() {
    let s = Server::start("").await;
    let iss = issuing(&s);
    let unknown = vec![0x7f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
    let first = post_ocsp(
        &s,
        ocsp_request(
            &iss,
            std::slice::from_ref(&unknown),
            true,
            Some(&[0x11; 16]),
        ),
    )
    .await;
    assert!(contains(&first, &[0x82, 0x00]), "unknown");
    let second = post_ocsp(
        &s,
        ocsp_request(
            &iss,
            std::slice::from_ref(&unknown),
            true,
            Some(&[0x22; 16]),
        ),
    )
    .await;
    assert_eq!(first, second, "the second answer is the cached one");
    let plain = post_ocsp(
        &s,
        ocsp_request(&iss, std::slice::from_ref(&unknown), true, None),
    )
    .await;
    assert_eq!(first, plain);
    // A good serial's nonce is still echoed: only unknown serials are answered from the cache.
    let a = enrol(&s, "cached").await;
    let nonce = [0x33u8; 16];
    let resp = post_ocsp(
        &s,
        ocsp_request(&iss, &[serial_bytes(&a)], true, Some(&nonce)),
    )
    .await;
    assert!(contains(&resp, &nonce), "nonce echoed for a good serial");
    s.stop().await;
}

/// OCSP has its own per-address limit (`[status] ocsp_requests_per_ip_per_second`) on both
/// listeners: past it, 429 with Retry-After; CRLs and CA certificates are not counted.
#[tokio::test]
async fn ocsp_per_address_limit_answers_429_on_both_listeners() {
    let (s, plain) = with_plain_listener("[status]\nocsp_requests_per_ip_per_second = 3\n").await;
    let iss = issuing(&s);
    let req = ocsp_request(&iss, &[vec![0x01, 0x02]], false, None);
    let path = format!("/ocsp/{}", Base64::encode_string(&req).replace('/', "%2F"));
    let client = s.client();
    for base in [plain.clone(), s.base.clone()] {
        // 3 a second: within 200 requests one second holds a fourth, unless each took 1/3 s.
        let mut limited = None;
        for _ in 0..200 {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            match r.status().as_u16() {
                200 => continue,
                429 => {
                    limited = Some(r);
                    break;
                }
                other => panic!("{base}: status {other}"),
            }
        }
        let r = limited.unwrap_or_else(|| panic!("{base}: never limited"));
        assert!(r.headers().contains_key("retry-after"), "{base}");
        // Status files other than OCSP stay reachable.
        let r = client
            .get(format!("{base}/ca/issuing.crt"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}");
    }
    s.stop().await;
}
