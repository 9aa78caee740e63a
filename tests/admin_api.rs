//! Admin API basics: bearer tokens, problem documents, certificate lookup.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let s = Server::start("").await;
    let url = s.url("/api/v1/certificates/0102");
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Bearer abc.def"),
        Some("Basic eDp5"),
    ] {
        let mut req = s.client().get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["type"], "urn:enrolld:problem:unauthorized");
        assert_eq!(p["status"], 401);
    }
    // A token with a valid id but a wrong secret.
    let token = s.admin_token();
    let id = token.split('.').next().unwrap();
    let r = s
        .client()
        .get(&url)
        .bearer_auth(format!("{id}.wrongsecret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn certificate_lookup_errors_are_problem_documents() {
    let s = Server::start("").await;
    let r = s
        .client()
        .get(s.url("/api/v1/certificates/0102abcd"))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:enrolld:problem:notFound");
    let r = s
        .client()
        .get(s.url("/api/v1/certificates/not-hex"))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn credential_requests_are_validated() {
    let s = Server::start("").await;
    let post = |body: String, ct: &'static str| {
        s.client()
            .post(s.url("/api/v1/est/credentials"))
            .bearer_auth(s.admin_token())
            .header("content-type", ct)
            .body(body)
    };
    let cases = [
        (
            json!({"common_name": ""}).to_string(),
            "application/json",
            400,
        ),
        (
            json!({"common_name": "x", "label": "nope"}).to_string(),
            "application/json",
            400,
        ),
        (
            json!({"common_name": "x", "sans": ["bad name"]}).to_string(),
            "application/json",
            400,
        ),
        (
            json!({"common_name": "x", "expires_in": 0}).to_string(),
            "application/json",
            400,
        ),
        (
            json!({"common_name": "x", "unknown": 1}).to_string(),
            "application/json",
            400,
        ),
        ("{not json".to_string(), "application/json", 400),
        (json!({"common_name": "x"}).to_string(), "text/plain", 415),
    ];
    for (body, ct, want) in cases {
        let r = post(body.clone(), ct).send().await.unwrap();
        assert_eq!(r.status(), want, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = post(json!({"common_name": "ok"}).to_string(), "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    // ≥ 128 bits of secret: 18 random bytes, base64url.
    assert!(v["password"].as_str().unwrap().len() >= 24);
    s.stop().await;
}

#[tokio::test]
async fn restart_keeps_certificates_and_tokens() {
    let s = Server::start("").await;
    let (u, p) = s.credential(json!({"common_name": "persist"})).await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&u, Some(&p))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&rcgen::KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    let cert = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    let dir = s.stop().await;
    let s = Server::start_in(dir, "").await;
    let r = s
        .client()
        .get(s.url(&format!("/api/v1/certificates/{}", serial_hex(&cert))))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["subject"], "persist");
    assert!(v["pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    s.stop().await;
}
