//! Pickup links: GET spends nothing, the POST issues once; the PKCS#12 opens with openssl and
//! the passphrase shown once.

mod common;

use common::*;
use serde_json::{json, Value};

async fn person_link(s: &Server, ext: &str, extra: Value) -> String {
    let admin = s.admin_token();
    let r: Value = s
        .client()
        .post(s.url("/api/v1/people"))
        .bearer_auth(&admin)
        .json(&json!({"external_id": ext, "email": format!("{ext}@corp.example"), "display_name": format!("Person {ext}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["subject"]["id"].as_str().unwrap().to_owned();
    let mut body = json!({"kind": "pickup"});
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            body[k] = v.clone();
        }
    }
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/subjects/{id}/credentials")))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["url"].as_str().unwrap().to_owned()
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let start = s.find(a).unwrap() + a.len();
    &s[start..start + s[start..].find(b).unwrap()]
}

#[tokio::test]
async fn generated_key_pkcs12_opens_with_the_passphrase_and_the_link_works_once() {
    let s = Server::start("").await;
    let url = person_link(&s, "p1", json!({})).await;
    assert!(url.starts_with(&s.url("/pickup/")));
    // Mail scanners prefetch: GETs spend nothing.
    for _ in 0..2 {
        let r = s.client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.text().await.unwrap().contains("Person p1"));
    }
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let pass = between(&html, "<code id=\"passphrase\">", "</code>").to_owned();
    let b64 = between(&html, "data:application/x-pkcs12;base64,", "\"");
    let p12 = enrolld::ca::decode_base64_lenient(b64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.p12");
    std::fs::write(&f, &p12).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = String::from_utf8_lossy(&out.stdout);
    assert!(pem.contains("PRIVATE KEY"));
    let certs = enrolld::ca::pem_certs(&pem).unwrap();
    assert!(certs.len() >= 2, "leaf and chain");
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let san = leaf.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "p1@corp.example"
        )]
    );
    // A wrong passphrase fails.
    let bad = std::process::Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin", "pass:wrong", "-in"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    // Spent: both GET and POST now answer 404.
    assert_eq!(s.client().get(&url).send().await.unwrap().status(), 404);
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The inventory knows the certificate under the person.
    let serial = hex::encode(leaf.raw_serial())
        .trim_start_matches("00")
        .to_owned();
    assert_eq!(s.cert_record(&serial).await["channel"], "pickup");
    s.stop().await;
}

#[tokio::test]
async fn uploaded_csr_gets_the_chain_and_bad_tokens_are_404() {
    let s = Server::start("").await;
    let url = person_link(&s, "p2", json!({})).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let csr_pem = {
        let der = csr(&key, None, &[]);
        enrolld::ca::pem_encode("CERTIFICATE REQUEST", &der)
    };
    let body = format!(
        "action=csr&csr={}",
        csr_pem
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace('\n', "%0A")
            .replace(' ', "+")
    );
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let certs = enrolld::ca::pem_certs(&r.text().await.unwrap()).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    // Used once.
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Tampered or unknown tokens look exactly like spent ones.
    for bad in [
        format!("{url}x"),
        s.url("/pickup/nope"),
        s.url("/pickup/a.b"),
    ] {
        let r = s.client().get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    s.stop().await;
}

#[tokio::test]
async fn legacy_pkcs12_for_older_importers() {
    let s = Server::start("").await;
    let url = person_link(&s, "p3", json!({"legacy_p12": true})).await;
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=rsa2048&legacy=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let pass = between(&html, "<code id=\"passphrase\">", "</code>").to_owned();
    let p12 = enrolld::ca::decode_base64_lenient(between(
        &html,
        "data:application/x-pkcs12;base64,",
        "\"",
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.p12");
    std::fs::write(&f, &p12).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-legacy", "-info", "-nodes", "-passin"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("MAC: sha1"), "{text}");
    assert!(text.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{text}");
    // A link without the legacy option refuses it.
    let url = person_link(&s, "p4", json!({})).await;
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256&legacy=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

/// The form decoder works on bytes: a `%` followed by a multi-byte character used to panic the
/// connection task, before any token check. A malformed escape (or an escape that decodes to
/// something other than UTF-8) is a 400 and spends nothing.
#[tokio::test]
async fn malformed_form_escapes_are_400_and_spend_nothing() {
    let s = Server::start("").await;
    let url = person_link(&s, "p-pct", json!({})).await;
    for target in [url.clone(), s.url("/pickup/nope")] {
        for body in [
            "action=csr&csr=%\u{20ac}",
            "action=csr&csr=%a\u{e9}",
            "action=generate&key=%\u{e9}",
            "action=%zzgenerate",
            "action=generate&key=p256%",
            "action=generate&key=p256%4",
            "action=generate&key=%E2%82",
        ] {
            let r = s
                .client()
                .post(&target)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.as_bytes().to_vec())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{body:?}: no answer ({e})"));
            assert_eq!(r.status(), 400, "{target} {body:?}");
        }
    }
    // Nothing was spent: the link still shows its page.
    let r = s.client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}
