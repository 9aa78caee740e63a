//! Black-box EST tests against a server on 127.0.0.1:0.

mod common;

use common::*;
use rcgen::KeyPair;
use serde_json::json;

const PKCS10: &str = "application/pkcs10";

async fn enroll(
    s: &Server,
    path: &str,
    user: &str,
    pass: &str,
    csr_der: &[u8],
) -> reqwest::Response {
    s.client()
        .post(s.url(path))
        .basic_auth(user, Some(pass))
        .header("content-type", PKCS10)
        .body(b64(csr_der))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn simpleenroll_issues_a_client_certificate_with_the_credential_names() {
    let s = Server::start("").await;
    let (u, p) = s
        .credential(json!({"common_name": "dev1.example", "sans": ["dev1.example"]}))
        .await;
    let key = KeyPair::generate().unwrap();
    let r = enroll(
        &s,
        "/.well-known/est/simpleenroll",
        &u,
        &p,
        &csr(&key, None, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/pkcs7-mime; smime-type=certs-only"
    );
    let certs = certs_from_pkcs7(&r.text().await.unwrap());
    assert_eq!(certs.len(), 1);
    let (_, c) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    assert_eq!(c.subject().to_string(), "CN=dev1.example");
    let san = c.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::DNSName(
            "dev1.example"
        )]
    );
    assert_eq!(
        c.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    assert!(c.raw_serial().len() >= 8);

    // The admin API finds it.
    let serial = serial_hex(&certs[0]);
    let rec: serde_json::Value = s
        .client()
        .get(s.url(&format!("/api/v1/certificates/{serial}")))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rec["status"], "good");
    assert_eq!(rec["profile"], "device");
    assert_eq!(rec["channel"], "est-simpleenroll");
    assert_eq!(rec["credential"], u.as_str());
    s.stop().await;
}

#[tokio::test]
async fn one_time_credential_retry_is_idempotent_and_second_key_is_refused() {
    let s = Server::start("").await;
    let (u, p) = s.credential(json!({"common_name": "dev2"})).await;
    let csr1 = csr(&KeyPair::generate().unwrap(), Some("dev2"), &[]);
    let a = enroll(&s, "/.well-known/est/simpleenroll", &u, &p, &csr1).await;
    assert_eq!(a.status(), 200);
    let a = certs_from_pkcs7(&a.text().await.unwrap());
    let b = enroll(&s, "/.well-known/est/simpleenroll", &u, &p, &csr1).await;
    assert_eq!(b.status(), 200);
    assert_eq!(certs_from_pkcs7(&b.text().await.unwrap()), a);
    let csr2 = csr(&KeyPair::generate().unwrap(), Some("dev2"), &[]);
    let c = enroll(&s, "/.well-known/est/simpleenroll", &u, &p, &csr2).await;
    assert_eq!(c.status(), 403);
    assert!(c.text().await.unwrap().contains("already used"));
    s.stop().await;
}

#[tokio::test]
async fn concurrent_requests_on_one_credential_issue_once() {
    let s = Server::start("").await;
    let (u, p) = s.credential(json!({"common_name": "race"})).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, u, p) = (
            s.client(),
            s.url("/.well-known/est/simpleenroll"),
            u.clone(),
            p.clone(),
        );
        let body = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .basic_auth(u, Some(p))
                .header("content-type", PKCS10)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, vec![200, 403, 403, 403, 403, 403, 403, 403]);
    s.stop().await;
}

#[tokio::test]
async fn authentication_failures_answer_401_with_www_authenticate() {
    let s = Server::start("").await;
    let (u, _) = s.credential(json!({"common_name": "dev3"})).await;
    let body = csr(&KeyPair::generate().unwrap(), None, &[]);
    for (user, pass) in [
        (u.as_str(), "wrong"),
        ("est-doesnotexist", "x"),
        ("bad user!", "x"),
    ] {
        let r = enroll(&s, "/.well-known/est/simpleenroll", user, pass, &body).await;
        assert_eq!(r.status(), 401);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        // Unknown and wrong-password users get the same answer.
        assert_eq!(r.text().await.unwrap(), "invalid enrolment credentials\n");
    }
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .header("content-type", PKCS10)
        .body(b64(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn policy_violations_are_400_and_do_not_spend_the_credential() {
    let s = Server::start("").await;
    let (u, p) = s
        .credential(json!({"common_name": "dev4.example", "sans": ["dev4.example"]}))
        .await;
    let key = KeyPair::generate().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"not base64 at all %%%".to_vec()),
        ("not a CSR", b64(b"hello").into_bytes()),
        (
            "foreign SAN",
            b64(&csr(&key, None, &["dev4.example", "evil.example"])).into_bytes(),
        ),
        (
            "foreign CN",
            b64(&csr(&key, Some("admin.example"), &[])).into_bytes(),
        ),
        (
            "email SAN on device profile",
            b64(&csr(&key, None, &["dev4@example.com"])).into_bytes(),
        ),
    ];
    for (name, body) in cases {
        let r = s
            .client()
            .post(s.url("/.well-known/est/simpleenroll"))
            .basic_auth(&u, Some(&p))
            .header("content-type", PKCS10)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
        assert!(!r.text().await.unwrap().is_empty(), "{name}: reason text");
    }
    // The credential still works.
    let r = enroll(
        &s,
        "/.well-known/est/simpleenroll",
        &u,
        &p,
        &csr(&key, None, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn wrong_content_type_oversized_body_unknown_label_and_fullcmc() {
    let s = Server::start("[limits]\nmax_body_bytes = 4096\n").await;
    let (u, p) = s.credential(json!({"common_name": "dev5"})).await;
    let body = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&u, Some(&p))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&u, Some(&p))
        .header("content-type", PKCS10)
        .body("A".repeat(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = s
        .client()
        .get(s.url("/.well-known/est/nolabel/cacerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .client()
        .get(s.url("/.well-known/est/../cacerts"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    let r = s
        .client()
        .post(s.url("/.well-known/est/fullcmc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    // The server still serves, and the credential was not spent.
    let r = enroll(
        &s,
        "/.well-known/est/simpleenroll",
        &u,
        &p,
        &csr(&KeyPair::generate().unwrap(), None, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn labels_select_profiles_and_scope_credentials() {
    let s = Server::start("[est.labels.staff]\nprofile = \"person\"\n").await;
    let (u, p) = s
        .credential(
            json!({"label": "staff", "common_name": "Ann Example", "sans": ["ann@example.com"]}),
        )
        .await;
    let key = KeyPair::generate().unwrap();
    // Not valid on the default label.
    let r = enroll(
        &s,
        "/.well-known/est/simpleenroll",
        &u,
        &p,
        &csr(&key, None, &[]),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = enroll(
        &s,
        "/.well-known/est/staff/simpleenroll",
        &u,
        &p,
        &csr(&key, None, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let certs = certs_from_pkcs7(&r.text().await.unwrap());
    let (_, c) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let eku = c.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.email_protection);
    let san = c.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "ann@example.com"
        )]
    );
    // A device-profile credential may not carry an email SAN.
    let r = s
        .client()
        .post(s.url("/api/v1/est/credentials"))
        .bearer_auth(s.admin_token())
        .json(&json!({"common_name": "x", "sans": ["x@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    s.stop().await;
}

#[tokio::test]
async fn reenroll_with_client_certificate_keeps_names_and_allows_rekey() {
    let s = Server::start("").await;
    let (u, p) = s
        .credential(json!({"common_name": "dev6.example", "sans": ["dev6.example"]}))
        .await;
    let key = KeyPair::generate().unwrap();
    let r = enroll(
        &s,
        "/.well-known/est/simpleenroll",
        &u,
        &p,
        &csr(&key, None, &[]),
    )
    .await;
    let first = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    let client = s.client_with_cert(pem(&first).as_bytes(), key.serialize_pem().as_bytes());
    let new_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let reenroll = |body: Vec<u8>| {
        client
            .post(s.url("/.well-known/est/simplereenroll"))
            .header("content-type", PKCS10)
            .body(b64(&body))
            .send()
    };
    // A renewal may not add names.
    let r = reenroll(csr(&new_key, None, &["dev6.example", "more.example"]))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let renewal_csr = csr(&new_key, Some("dev6.example"), &[]);
    let r = reenroll(renewal_csr.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let second = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    let (_, a) = x509_parser::parse_x509_certificate(&first).unwrap();
    let (_, b) = x509_parser::parse_x509_certificate(&second).unwrap();
    assert_eq!(a.subject(), b.subject());
    assert_eq!(
        a.subject_alternative_name().unwrap().unwrap().value,
        b.subject_alternative_name().unwrap().unwrap().value
    );
    assert_ne!(a.raw_serial(), b.raw_serial());
    assert_eq!(
        b.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&new_key)
    );
    // Record says what it replaces.
    let rec = s.cert_record(&serial_hex(&second)).await;
    assert_eq!(rec["replaces"], serial_hex(&first));
    // An identical retry gets the same certificate; another key does not (a stolen, replaced
    // certificate cannot keep renewing).
    let r = reenroll(renewal_csr).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(certs_from_pkcs7(&r.text().await.unwrap()).remove(0), second);
    let r = reenroll(csr(&KeyPair::generate().unwrap(), None, &[]))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The successor renews.
    let client2 = s.client_with_cert(pem(&second).as_bytes(), new_key.serialize_pem().as_bytes());
    let r = client2
        .post(s.url("/.well-known/est/simplereenroll"))
        .header("content-type", PKCS10)
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without a client certificate: 401.
    let r = s
        .client()
        .post(s.url("/.well-known/est/simplereenroll"))
        .header("content-type", PKCS10)
        .body(b64(&csr(&new_key, None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn serverkeygen_returns_a_matching_pkcs8_key() {
    let s = Server::start("").await;
    let (u, p) = s.credential(json!({"common_name": "dev7"})).await;
    let r = enroll(
        &s,
        "/.well-known/est/serverkeygen",
        &u,
        &p,
        &csr(&KeyPair::generate().unwrap(), None, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_owned();
    let body = r.text().await.unwrap();
    let parts: Vec<&str> = body
        .split(&format!("--{boundary}"))
        .filter(|p| p.contains("Content-Type"))
        .collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].contains("application/pkcs8"));
    assert!(parts[1].contains("smime-type=certs-only"));
    let payload = |part: &str| part.split("\r\n\r\n").nth(1).unwrap().to_owned();
    let key_der = enrolld::ca::decode_base64_lenient(&payload(parts[0])).unwrap();
    let key = KeyPair::try_from(key_der.as_slice()).unwrap();
    let cert = certs_from_pkcs7(&payload(parts[1])).remove(0);
    let (_, c) = x509_parser::parse_x509_certificate(&cert).unwrap();
    assert_eq!(
        c.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    s.stop().await;
}

#[tokio::test]
async fn cacerts_and_csrattrs() {
    let s = Server::start("").await;
    let r = s
        .client()
        .get(s.url("/.well-known/est/cacerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let certs = certs_from_pkcs7(&r.text().await.unwrap());
    assert_eq!(certs.len(), 2);
    let r = s
        .client()
        .get(s.url("/.well-known/est/csrattrs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/csrattrs");
    let der = enrolld::ca::decode_base64_lenient(&r.text().await.unwrap()).unwrap();
    // SEQUENCE { SEQUENCE { id-ecPublicKey, SET { prime256v1 } }, ecdsa-with-SHA256 }
    assert_eq!(der[0], 0x30);
    let ec_public_key = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    assert!(der.windows(ec_public_key.len()).any(|w| w == ec_public_key));
    s.stop().await;
}
