//! Holds and final revocations (RFC 5280 §5.3.1), the scopes of status changes, names fixed in
//! what the registry hands out, and how far a renewal reaches.

mod common;

use common::ocsp::*;
use common::*;
use rcgen::KeyPair;
use serde_json::{json, Value};

/// CRLReason in an OCSP answer: `revocationReason [0] EXPLICIT ENUMERATED`.
fn ocsp_reason(code: u8) -> [u8; 5] {
    [0xa0, 0x03, 0x0a, 0x01, code]
}
const KEY_COMPROMISE: u8 = 1;
const CERTIFICATE_HOLD: u8 = 6;

/// Registers a device and enrols it over EST; returns (subject id, credential id, key, cert).
async fn enrolled_device(s: &Server, ext: &str) -> (String, String, KeyPair, Vec<u8>) {
    let admin = s.admin_token();
    let (st, d) = s.api(reqwest::Method::POST,
        "/api/v1/devices",
        &admin,
        Some(json!({"external_id": ext, "name": format!("dev-{ext}"), "dns_names": [format!("{ext}.corp.example")]})),
    )
    .await;
    assert_eq!(st, 201, "{d}");
    let id = d["subject"]["id"].as_str().unwrap().to_owned();
    let (st, cred) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "est"})),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    let user = cred["username"].as_str().unwrap().to_owned();
    let key = KeyPair::generate().unwrap();
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&user, cred["password"].as_str())
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&key, None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cert = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    (id, user, key, cert)
}

async fn set_status(s: &Server, id: &str, token: &str, status: &str) -> u16 {
    s.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/subjects/{id}"),
        token,
        Some(json!({ "status": status })),
    )
    .await
    .0
}

async fn revoke(s: &Server, cert: &[u8], reason: &str) -> (u16, Value) {
    s.api(
        reqwest::Method::POST,
        &format!("/api/v1/certificates/{}/revoke", serial_hex(cert)),
        &s.admin_token(),
        Some(json!({ "reason": reason })),
    )
    .await
}

async fn crl_reason(s: &Server, cert: &[u8]) -> Option<String> {
    let crl = s
        .client()
        .get(s.url("/crl/issuing.crl"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (_, c) = x509_parser::parse_x509_crl(&crl).unwrap();
    let serial = serial_bytes(cert);
    let entry = c
        .iter_revoked_certificates()
        .find(|e| e.raw_serial() == serial.as_slice())?;
    Some(
        entry
            .reason_code()
            .map(|(_, r)| format!("{r}"))
            .unwrap_or_default(),
    )
}

async fn ocsp(s: &Server, cert: &[u8]) -> Vec<u8> {
    post_ocsp(
        s,
        ocsp_request(&issuing(s), &[serial_bytes(cert)], true, None),
    )
    .await
}

async fn token_with(s: &Server, scopes: &[&str]) -> String {
    let (st, t) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &s.admin_token(),
            Some(json!({"name": scopes.join("+"), "scopes": scopes})),
        )
        .await;
    assert_eq!(st, 201);
    t["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_final_reason_replaces_a_suspension_hold_and_survives_reactivation() {
    let s = Server::start("").await;
    let (id, _, _, cert) = enrolled_device(&s, "h1").await;
    assert_eq!(
        set_status(&s, &id, &s.admin_token(), "suspended").await,
        200
    );
    let held = s.cert_record(&serial_hex(&cert)).await;
    assert_eq!(held["revocation_reason"], "certificateHold");
    assert!(contains(
        &ocsp(&s, &cert).await,
        &ocsp_reason(CERTIFICATE_HOLD)
    ));

    let (st, rec) = revoke(&s, &cert, "keyCompromise").await;
    assert_eq!(st, 200, "{rec}");
    assert_eq!(rec["revocation_reason"], "keyCompromise");
    // The certificate has not been trusted since the hold.
    assert_eq!(rec["revoked_at"], held["revoked_at"]);
    assert!(contains(
        &ocsp(&s, &cert).await,
        &ocsp_reason(KEY_COMPROMISE)
    ));
    assert_eq!(
        crl_reason(&s, &cert).await.as_deref(),
        Some("KeyCompromise")
    );
    let (_, audit) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "certificate.revoke"
                && e["target"] == serial_hex(&cert)
                && e["detail"] == "keyCompromise"),
        "{audit}"
    );

    // Reactivation lifts no final revocation.
    assert_eq!(set_status(&s, &id, &s.admin_token(), "active").await, 200);
    let rec = s.cert_record(&serial_hex(&cert)).await;
    assert_eq!(rec["status"], "revoked");
    assert_eq!(rec["revocation_reason"], "keyCompromise");
    assert!(contains(
        &ocsp(&s, &cert).await,
        &ocsp_reason(KEY_COMPROMISE)
    ));
    // A second final reason changes nothing.
    let (st, rec) = revoke(&s, &cert, "superseded").await;
    assert_eq!(st, 200);
    assert_eq!(rec["revocation_reason"], "keyCompromise");
    s.stop().await;
}

#[tokio::test]
async fn an_administrators_hold_outlasts_a_suspension_and_bulk_revoke_finalises_holds() {
    let s = Server::start("").await;
    let (id, _, _, cert) = enrolled_device(&s, "h2").await;
    let (st, _) = revoke(&s, &cert, "certificateHold").await;
    assert_eq!(st, 200);
    assert_eq!(
        set_status(&s, &id, &s.admin_token(), "suspended").await,
        200
    );
    assert_eq!(set_status(&s, &id, &s.admin_token(), "active").await, 200);
    let rec = s.cert_record(&serial_hex(&cert)).await;
    assert_eq!(rec["revocation_reason"], "certificateHold", "{rec}");

    let (st, v) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/certificates/revoke",
            &s.admin_token(),
            Some(json!({"query": {"subject_id": id}, "reason": "privilegeWithdrawn"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["revoked"], 1);
    let rec = s.cert_record(&serial_hex(&cert)).await;
    assert_eq!(rec["revocation_reason"], "privilegeWithdrawn");
    assert_eq!(
        crl_reason(&s, &cert).await.as_deref(),
        Some("PrivilegeWithdrawn")
    );
    s.stop().await;
}

#[tokio::test]
async fn acme_revocation_finalises_a_hold() {
    let s = Server::start("").await;
    let (acct, _, der, _) = acme_certificate(&s, "hold.fleet.example").await;
    assert_eq!(revoke(&s, &der, "certificateHold").await.0, 200);
    acct.revoke(&instant_acme::RevocationRequest {
        certificate: &rustls_pki_types::CertificateDer::from(der.clone()),
        reason: Some(instant_acme::RevocationReason::KeyCompromise),
    })
    .await
    .unwrap();
    assert_eq!(
        s.cert_record(&serial_hex(&der)).await["revocation_reason"],
        "keyCompromise"
    );
    assert!(contains(
        &ocsp(&s, &der).await,
        &ocsp_reason(KEY_COMPROMISE)
    ));
    s.stop().await;
}

#[tokio::test]
async fn suspending_and_reactivating_need_the_revoke_scope() {
    let s = Server::start("").await;
    let (id, _, _, cert) = enrolled_device(&s, "sc1").await;
    let register = token_with(&s, &["register"]).await;
    let revoker = token_with(&s, &["revoke"]).await;
    assert_eq!(set_status(&s, &id, &register, "suspended").await, 403);
    assert_eq!(s.cert_record(&serial_hex(&cert)).await["status"], "good");
    assert_eq!(set_status(&s, &id, &revoker, "suspended").await, 200);
    assert_eq!(set_status(&s, &id, &register, "active").await, 403);
    assert_eq!(s.cert_record(&serial_hex(&cert)).await["status"], "revoked");
    assert_eq!(set_status(&s, &id, &revoker, "active").await, 200);
    assert_eq!(s.cert_record(&serial_hex(&cert)).await["status"], "good");
    // The OpenAPI document says so.
    let doc: Value = s
        .client()
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/api/v1/subjects/{id}"]["patch"]["x-scope"],
        "revoke"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_pickup_link_issues_for_the_names_it_was_made_with() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let person =
        |email: &str| json!({"external_id": "pk1", "email": email, "display_name": "Pat Kim"});
    let (st, p) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &admin,
            Some(person("pat@corp.example")),
        )
        .await;
    assert_eq!(st, 201);
    let id = p["subject"]["id"].as_str().unwrap().to_owned();
    let (st, link) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "pickup"})),
        )
        .await;
    assert_eq!(st, 201);
    let url = link["url"].as_str().unwrap().to_owned();
    // A token that may only register rewrites the address under the live link.
    let register = token_with(&s, &["register"]).await;
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &register,
            Some(person("attacker@evil.example")),
        )
        .await;
    assert!(st == 200 || st == 201, "{st}");
    let page = s
        .client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("pat@corp.example") && !page.contains("evil.example"),
        "{page}"
    );
    let key = KeyPair::generate().unwrap();
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "action=csr&csr={}",
            b64(&csr(&key, None, &[]))
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        ))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let der = enrolld::ca::pem_certs(&body).unwrap().remove(0);
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    let san = c.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "pat@corp.example"
        )]
    );
    s.stop().await;
}

/// A renewal over EST with the certificate as TLS client certificate.
async fn reenroll(s: &Server, cert: &[u8], key: &KeyPair) -> u16 {
    let client = s.client_with_cert(pem(cert).as_bytes(), key.serialize_pem().as_bytes());
    client
        .post(s.url("/.well-known/est/simplereenroll"))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn renewal_stops_when_the_credential_is_withdrawn() {
    let s = Server::start("").await;
    let (_, user, key, cert) = enrolled_device(&s, "rn1").await;
    let other = enrolled_device(&s, "rn2").await;
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/est/credentials/{user}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(reenroll(&s, &cert, &key).await, 403);
    // Another device's credential still stands, and its renewals renew.
    assert_eq!(reenroll(&s, &other.3, &other.2).await, 200);
    let (_, audit) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "credential.withdraw" && e["target"] == user.as_str()));
    // Unknown credentials are 404 problems.
    let (st, v) = s
        .api(
            reqwest::Method::DELETE,
            "/api/v1/est/credentials/nope",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 404, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn renewal_of_an_acme_certificate_stops_when_its_eab_key_is_withdrawn() {
    let s = Server::start("").await;
    let (_, kid, der, key) = acme_certificate(&s, "rn.fleet.example").await;
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/acme/eab/{kid}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(reenroll(&s, &der, &key).await, 403);
    s.stop().await;
}

#[tokio::test]
async fn renewal_rechecks_the_subject_and_follows_the_chain_of_renewals() {
    // Without holds, a suspended subject's certificates stay good: renewal must still stop.
    let s = Server::start("[registry]\nhold_on_suspend = false\n").await;
    let (id, user, key, cert) = enrolled_device(&s, "rn3").await;
    // A renewal of a renewal still traces back to the credential.
    let client = s.client_with_cert(pem(&cert).as_bytes(), key.serialize_pem().as_bytes());
    let key2 = KeyPair::generate().unwrap();
    let r = client
        .post(s.url("/.well-known/est/simplereenroll"))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&key2, None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    assert_eq!(
        set_status(&s, &id, &s.admin_token(), "suspended").await,
        200
    );
    assert_eq!(s.cert_record(&serial_hex(&second)).await["status"], "good");
    assert_eq!(reenroll(&s, &second, &key2).await, 403);
    assert_eq!(set_status(&s, &id, &s.admin_token(), "active").await, 200);
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/est/credentials/{user}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(reenroll(&s, &second, &key2).await, 403);
    s.stop().await;
}
