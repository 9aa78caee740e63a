//! ACME refusals, each with its exact status and RFC 8555 §6.7 problem type, and the two
//! flows instant-acme cannot drive: email identifiers and revocation by the certificate's key.

mod common;

use std::time::{Duration, Instant};

use common::acme_client::{eab, jws, Account, Client, Key, Signer};
use common::*;
use serde_json::{json, Value};

/// EAB key body pre-authorising any name under fleet.example.
fn fleet() -> Value {
    json!({"allowed_identifiers": [{"type": "dns", "value": "*.fleet.example"}]})
}

fn dns(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect()
}

/// A server, a client and one account bound to an EAB key made from `eab_body`.
async fn setup(eab_body: Value) -> (Server, Client, Account) {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(eab_body).await;
    let acct = c.account(&kid, &mac).await;
    (s, c, acct)
}

/// A ready order for `names` finalized with a matching CSR: (certificate DER, its key).
async fn issue(c: &mut Client, acct: &Account, names: &[&str]) -> (Vec<u8>, Key) {
    let r = c.new_order(acct, dns(names)).await;
    let order = r.ok(201).clone();
    assert_eq!(order["status"], "ready", "{order}");
    let key = Key::generate();
    let r = c
        .finalize(acct, &order, &csr(&key.rcgen(), None, names))
        .await;
    let order = r.ok(200).clone();
    assert_eq!(order["status"], "valid", "{order}");
    (c.certificate(acct, &order).await.remove(0), key)
}

// --- nonces (RFC 8555 §6.5) ---

#[tokio::test]
async fn replayed_nonce_is_bad_nonce_and_the_error_carries_a_usable_one() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let key = Key::generate();
    let url = c.url("newAccount");
    let h = c.protected(&url, Signer::Jwk(&key)).await;
    let body = jws(&key, &h, Some(&c.eab_payload(&key, &kid, &mac)))
        .to_string()
        .into_bytes();
    c.post_raw(&url, "application/jose+json", body.clone())
        .await
        .ok(201);
    let mut r = c.post_raw(&url, "application/jose+json", body).await;
    r.sent_nonce = h["nonce"].as_str().map(str::to_owned);
    r.problem(400, "badNonce");
    // §6.5: the client retries with the nonce of the error; it works.
    let mut retry = h.clone();
    retry["nonce"] = json!(r.nonce().unwrap());
    let payload = json!({"onlyReturnExisting": true});
    c.post_jws(&url, &key, &retry, Some(&payload)).await.ok(200);
    s.stop().await;
}

#[tokio::test]
async fn nonce_from_another_server_is_bad_nonce() {
    let (s, mut c, acct) = setup(fleet()).await;
    let other = Server::start("").await;
    let foreign = Client::new(&other).await.head_nonce().await;
    let url = c.url("newOrder");
    let mut h = c.protected(&url, Signer::Kid(&acct)).await;
    h["nonce"] = json!(foreign);
    let payload = json!({"identifiers": dns(&["a.fleet.example"])});
    let r = c.post_jws(&url, &acct.key, &h, Some(&payload)).await;
    r.problem(400, "badNonce");
    other.stop().await;
    s.stop().await;
}

/// RFC 8555 §6.5: a nonce handed out before a restart is refused with badNonce after it (same
/// data directory, same key material, well within the nonce's lifetime); the client retries
/// with the nonce of the error and that works.
#[tokio::test]
async fn nonce_from_before_a_restart_is_bad_nonce() {
    let (s, c, acct) = setup(fleet()).await;
    let old = c.head_nonce().await;
    let dir = s.stop().await;
    let s = Server::start_in(dir, "").await;
    let mut c2 = Client::new(&s).await;
    let url = c2.url("newAccount");
    let mut h = c2.protected(&url, Signer::Jwk(&acct.key)).await;
    h["nonce"] = json!(old);
    let payload = json!({"onlyReturnExisting": true});
    let r = c2.post_jws(&url, &acct.key, &h, Some(&payload)).await;
    r.problem(400, "badNonce");
    h["nonce"] = json!(r.nonce().unwrap());
    c2.post_jws(&url, &acct.key, &h, Some(&payload))
        .await
        .ok(200);
    s.stop().await;
}

// --- validity (RFC 8555 §7.4 notBefore / notAfter) ---

/// The certificate's notBefore and notAfter, Unix seconds.
fn validity(der: &[u8]) -> (i64, i64) {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    (
        c.validity().not_before.timestamp(),
        c.validity().not_after.timestamp(),
    )
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// An order whose notBefore lies ahead and that names no notAfter gets the profile's lifetime
/// counted from notBefore: the certificate never ends before it starts.
#[tokio::test]
async fn future_not_before_without_not_after_counts_the_lifetime_from_not_before() {
    // A 7-day profile: with notBefore 20 days ahead, "now + 7 days" would end before the start.
    let s = Server::start("[profiles.device]\nvalidity_days = 7\n").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let acct = c.account(&kid, &mac).await;
    let start = time::OffsetDateTime::now_utc().unix_timestamp() + 20 * 86400;
    let nb = rfc3339(start);
    let url = c.url("newOrder");
    let payload = json!({"identifiers": dns(&["nb.fleet.example"]), "notBefore": nb});
    let order = c
        .post(&url, Signer::Kid(&acct), Some(&payload))
        .await
        .ok(201)
        .clone();
    let key = Key::generate();
    let r = c
        .finalize(
            &acct,
            &order,
            &csr(&key.rcgen(), None, &["nb.fleet.example"]),
        )
        .await;
    let order = r.ok(200).clone();
    assert_eq!(order["status"], "valid", "{order}");
    let der = c.certificate(&acct, &order).await.remove(0);
    assert_eq!(validity(&der), (start, start + 7 * 86400));
    let record = s.cert_record(&serial_hex(&der)).await;
    assert_eq!(record["not_after"], rfc3339(start + 7 * 86400), "{record}");
    s.stop().await;
}

/// No certificate outlives the CA that issues it: with an issuing CA of 2 days and a 90-day
/// profile, notAfter is the CA's notAfter, in the certificate and in its record.
#[tokio::test]
async fn no_certificate_outlives_its_issuing_ca() {
    let s = Server::start("[ca]\nissuing_validity_days = 2\n").await;
    let ca_der = enrolld::ca::pem_certs(&String::from_utf8(s.ca_bundle()).unwrap())
        .unwrap()
        .remove(1);
    let (_, ca_end) = validity(&ca_der);
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let acct = c.account(&kid, &mac).await;
    let (der, _) = issue(&mut c, &acct, &["short.fleet.example"]).await;
    let (nb, na) = validity(&der);
    assert_eq!(na, ca_end, "clamped to the issuing CA's notAfter");
    assert!(nb < na);
    let record = s.cert_record(&serial_hex(&der)).await;
    assert_eq!(record["not_after"], rfc3339(ca_end), "{record}");
    // The same over EST.
    let (u, p) = s.credential(json!({"common_name": "short-est"})).await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(u, Some(p))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&rcgen::KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let est = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    assert_eq!(validity(&est).1, ca_end);
    s.stop().await;
}

// --- the JWS itself (RFC 8555 §6.2, §6.4) ---

#[tokio::test]
async fn jws_url_other_than_the_request_url_is_unauthorized() {
    let (s, mut c, acct) = setup(fleet()).await;
    let signed_for = c.url("newOrder");
    let h = c.protected(&signed_for, Signer::Kid(&acct)).await;
    let r = c.post_jws(&acct.url, &acct.key, &h, None).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("url"), "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn unsupported_algorithms_are_bad_signature_algorithm() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let url = c.url("newAccount");
    for alg in ["HS256", "none", "RS512"] {
        let key = Key::generate();
        let mut h = c.protected(&url, Signer::Jwk(&key)).await;
        h["alg"] = json!(alg);
        let r = c.post_jws(&url, &key, &h, Some(&json!({}))).await;
        r.problem(400, "badSignatureAlgorithm");
    }
    s.stop().await;
}

/// RFC 8555 §6.2: "The problem document returned with the error MUST include an
/// `algorithms` field with an array of supported `alg` values."
#[tokio::test]
async fn bad_signature_algorithm_lists_the_supported_algorithms() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let url = c.url("newAccount");
    let key = Key::generate();
    let mut h = c.protected(&url, Signer::Jwk(&key)).await;
    h["alg"] = json!("RS512");
    let r = c.post_jws(&url, &key, &h, Some(&json!({}))).await;
    let p = r.problem(400, "badSignatureAlgorithm");
    let algs = p["algorithms"].as_array();
    assert!(
        algs.is_some_and(|a| a.contains(&json!("ES256"))),
        "no algorithms field: {p}"
    );
    s.stop().await;
}

#[tokio::test]
async fn jwk_off_the_curve_is_bad_public_key() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let url = c.url("newAccount");
    let key = Key::generate();
    let mut h = c.protected(&url, Signer::Jwk(&key)).await;
    // y of another point: (x, y') is not on P-256.
    h["jwk"]["y"] = Key::generate().jwk()["y"].clone();
    let r = c.post_jws(&url, &key, &h, Some(&json!({}))).await;
    r.problem(400, "badPublicKey");
    s.stop().await;
}

#[tokio::test]
async fn json_content_type_is_415_malformed() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let key = Key::generate();
    let url = c.url("newAccount");
    let h = c.protected(&url, Signer::Jwk(&key)).await;
    let body = jws(&key, &h, Some(&c.eab_payload(&key, &kid, &mac)));
    let r = c
        .post_raw(&url, "application/json", body.to_string().into_bytes())
        .await;
    r.problem(415, "malformed");
    s.stop().await;
}

// --- accounts and external account binding (RFC 8555 §7.3) ---

#[tokio::test]
async fn new_account_without_eab_is_external_account_required() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let r = c
        .new_account(&Key::generate(), &json!({"termsOfServiceAgreed": true}))
        .await;
    r.problem(400, "externalAccountRequired");
    s.stop().await;
}

#[tokio::test]
async fn eab_with_a_wrong_mac_is_unauthorized() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, _) = s.eab(fleet()).await;
    let key = Key::generate();
    let payload = c.eab_payload(&key, &kid, &[7u8; 32]);
    let r = c.new_account(&key, &payload).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("MAC"), "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn eab_with_an_unknown_kid_is_unauthorized() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (_, mac) = s.eab(fleet()).await;
    let key = Key::generate();
    let payload = c.eab_payload(&key, "NoSuchKid0123456", &mac);
    let r = c.new_account(&key, &payload).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("unknown"), "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn eab_over_another_key_is_unauthorized() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let key = Key::generate();
    let other = Key::generate();
    // A correct MAC, but over a key other than the one signing the request.
    let binding = eab(&kid, &mac, &c.url("newAccount"), &other.jwk());
    let payload = json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding});
    let r = c.new_account(&key, &payload).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("not the account key"), "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn second_account_on_a_bound_eab_key_is_unauthorized() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    c.account(&kid, &mac).await;
    let key = Key::generate();
    let payload = c.eab_payload(&key, &kid, &mac);
    let r = c.new_account(&key, &payload).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("already bound"), "{}", r.text);
    s.stop().await;
}

/// RFC 8555 §7.3.1 fixes the status: 400 (docs/acme-divergences.md §6.7 notes enrolld's 403).
#[tokio::test]
async fn only_return_existing_for_an_unknown_key_is_account_does_not_exist() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let r = c
        .new_account(&Key::generate(), &json!({"onlyReturnExisting": true}))
        .await;
    r.problem(400, "accountDoesNotExist");
    s.stop().await;
}

#[tokio::test]
async fn kid_that_is_no_account_url_is_account_does_not_exist() {
    let (s, mut c, acct) = setup(fleet()).await;
    let url = c.url("newOrder");
    let payload = json!({"identifiers": dns(&["a.fleet.example"])});
    let unknown = format!("{}/acme/account/NoSuchAccount42", s.base);
    for kid in [
        s.url("/acme/order/abc"),
        "https://elsewhere.example/acct/1".into(),
        unknown,
    ] {
        let mut h = c.protected(&url, Signer::Kid(&acct)).await;
        h["kid"] = json!(kid);
        let r = c.post_jws(&url, &acct.key, &h, Some(&payload)).await;
        // RFC 8555 §7.3.1 answers accountDoesNotExist with 400; enrolld does so everywhere.
        r.problem(400, "accountDoesNotExist");
    }
    s.stop().await;
}

/// RFC 8555 §7.3.6: a deactivated account's requests get 401 `unauthorized` (MUST).
#[tokio::test]
async fn deactivated_account_is_unauthorized() {
    let (s, mut c, acct) = setup(fleet()).await;
    let url = acct.url.clone();
    let r = c
        .post(
            &url,
            Signer::Kid(&acct),
            Some(&json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "deactivated");
    c.new_order(&acct, dns(&["a.fleet.example"]))
        .await
        .problem(401, "unauthorized");
    c.get(&acct, &url).await.problem(401, "unauthorized");
    s.stop().await;
}

#[tokio::test]
async fn withdrawn_eab_key_deactivates_its_account() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s.eab(fleet()).await;
    let acct = c.account(&kid, &mac).await;
    c.new_order(&acct, dns(&["a.fleet.example"])).await.ok(201);
    let r = s
        .client()
        .delete(s.url(&format!("/api/v1/acme/eab/{kid}")))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.new_order(&acct, dns(&["a.fleet.example"])).await;
    r.problem(403, "unauthorized");
    assert!(r.detail().contains("withdrawn"), "{}", r.text);
    // The account is now deactivated, as newAccount for its key shows (RFC 8555 §7.3.1).
    let r = c
        .new_account(&acct.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!(r.ok(200)["status"], "deactivated");
    assert_eq!(r.location(), acct.url);
    // From now on it is a deactivated account (RFC 8555 §7.3.6: 401).
    c.get(&acct, &acct.url).await.problem(401, "unauthorized");
    s.stop().await;
}

#[tokio::test]
async fn expired_eab_key_deactivates_its_account() {
    let s = Server::start("").await;
    let mut c = Client::new(&s).await;
    let mut body = fleet();
    body["expires_in"] = json!(2);
    let (kid, mac) = s.eab(body).await;
    let acct = c.account(&kid, &mac).await;
    // Usable until the key expires (at most 2 s from now), then refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let r = c.get(&acct, &acct.url).await;
        if r.status != 200 {
            break r;
        }
        assert!(Instant::now() < deadline, "the EAB key never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    refused.problem(403, "unauthorized");
    assert!(refused.detail().contains("expired"), "{}", refused.text);
    let r = c
        .new_account(&acct.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!(r.ok(200)["status"], "deactivated");
    s.stop().await;
}

// --- orders (RFC 8555 §7.4) ---

#[tokio::test]
async fn identifier_outside_the_eab_key_is_rejected_with_a_subproblem() {
    let (s, mut c, acct) = setup(fleet()).await;
    let r = c
        .new_order(&acct, dns(&["a.fleet.example", "vpn.example"]))
        .await;
    let p = r.problem(400, "rejectedIdentifier");
    let subs = p["subproblems"].as_array().expect("subproblems");
    assert_eq!(subs.len(), 1, "{p}");
    assert_eq!(
        subs[0]["identifier"],
        json!({"type": "dns", "value": "vpn.example"})
    );
    assert_eq!(
        subs[0]["type"],
        "urn:ietf:params:acme:error:rejectedIdentifier"
    );
    s.stop().await;
}

#[tokio::test]
async fn wildcard_identifier_is_rejected() {
    let (s, mut c, acct) = setup(fleet()).await;
    let r = c.new_order(&acct, dns(&["*.fleet.example"])).await;
    let p = r.problem(400, "rejectedIdentifier");
    assert_eq!(
        p["subproblems"][0]["identifier"]["value"],
        "*.fleet.example"
    );
    s.stop().await;
}

#[tokio::test]
async fn ip_identifier_is_unsupported() {
    let (s, mut c, acct) = setup(fleet()).await;
    let r = c
        .new_order(&acct, json!([{"type": "ip", "value": "192.0.2.7"}]))
        .await;
    let p = r.problem(400, "unsupportedIdentifier");
    assert_eq!(p["subproblems"][0]["identifier"]["type"], "ip");
    s.stop().await;
}

#[tokio::test]
async fn csr_not_matching_the_order_is_bad_csr() {
    let (s, mut c, acct) = setup(fleet()).await;
    let names = ["a.fleet.example", "b.fleet.example"];
    let order = c.new_order(&acct, dns(&names)).await.ok(201).clone();
    let key = Key::generate().rcgen();
    let extra = csr(
        &key,
        None,
        &["a.fleet.example", "b.fleet.example", "c.fleet.example"],
    );
    let missing = csr(&key, None, &["a.fleet.example"]);
    for bad in [extra, missing] {
        c.finalize(&acct, &order, &bad).await.problem(400, "badCSR");
    }
    // A refused CSR does not spend the order.
    let r = c.finalize(&acct, &order, &csr(&key, None, &names)).await;
    assert_eq!(r.ok(200)["status"], "valid");
    s.stop().await;
}

#[tokio::test]
async fn finalize_before_authorisation_is_order_not_ready() {
    let (s, mut c, acct) = setup(json!({"allowed_identifiers": [
        {"type": "dns", "value": "proof.example", "challenge": true}
    ]}))
    .await;
    let order = c
        .new_order(&acct, dns(&["proof.example"]))
        .await
        .ok(201)
        .clone();
    assert_eq!(order["status"], "pending");
    let key = Key::generate().rcgen();
    c.finalize(&acct, &order, &csr(&key, None, &["proof.example"]))
        .await
        .problem(403, "orderNotReady");
    s.stop().await;
}

// --- revocation (RFC 8555 §7.6) ---

#[tokio::test]
async fn revoking_another_accounts_certificate_is_unauthorized() {
    let (s, mut c, owner) = setup(fleet()).await;
    let (der, _) = issue(&mut c, &owner, &["a.fleet.example"]).await;
    let (kid, mac) = s.eab(fleet()).await;
    let stranger = c.account(&kid, &mac).await;
    c.revoke(Signer::Kid(&stranger), &der, None)
        .await
        .problem(403, "unauthorized");
    // Nor may a key other than the certificate's sign it with jwk.
    c.revoke(Signer::Jwk(&Key::generate()), &der, None)
        .await
        .problem(403, "unauthorized");
    assert_eq!(s.cert_record(&serial_hex(&der)).await["status"], "good");
    s.stop().await;
}

#[tokio::test]
async fn certificate_hold_is_bad_revocation_reason() {
    let (s, mut c, acct) = setup(fleet()).await;
    let (der, _) = issue(&mut c, &acct, &["a.fleet.example"]).await;
    c.revoke(Signer::Kid(&acct), &der, Some(6))
        .await
        .problem(400, "badRevocationReason");
    assert_eq!(s.cert_record(&serial_hex(&der)).await["status"], "good");
    s.stop().await;
}

#[tokio::test]
async fn certificate_key_revokes_its_own_certificate() {
    let (s, mut c, acct) = setup(fleet()).await;
    let (der, cert_key) = issue(&mut c, &acct, &["k.fleet.example"]).await;
    let r = c.revoke(Signer::Jwk(&cert_key), &der, Some(1)).await;
    r.ok(200);
    assert!(r.nonce().is_some());
    let rec = s.cert_record(&serial_hex(&der)).await;
    assert_eq!(rec["status"], "revoked");
    assert_eq!(rec["revocation_reason"], "keyCompromise");
    c.revoke(Signer::Jwk(&cert_key), &der, None)
        .await
        .problem(400, "alreadyRevoked");
    s.stop().await;
}

// --- email identifiers (the person profile) ---

#[tokio::test]
async fn email_identifier_on_the_person_profile() {
    let (s, mut c, acct) = setup(json!({"profile": "person", "allowed_identifiers": [
        {"type": "email", "value": "ann@example.com"}
    ]}))
    .await;
    let ids = json!([{"type": "email", "value": "ann@example.com"}]);
    let order = c.new_order(&acct, ids.clone()).await.ok(201).clone();
    assert_eq!(order["status"], "ready", "{order}");
    assert_eq!(order["profile"], "person");
    assert_eq!(order["identifiers"], ids);
    let key = Key::generate();
    let r = c
        .finalize(
            &acct,
            &order,
            &csr(&key.rcgen(), None, &["ann@example.com"]),
        )
        .await;
    let order = r.ok(200).clone();
    assert_eq!(order["status"], "valid", "{order}");
    let chain = c.certificate(&acct, &order).await;
    assert_eq!(chain.len(), 2);
    let (_, cert) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.email_protection && !eku.server_auth);
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "ann@example.com"
        )]
    );
    assert_eq!(
        cert.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key.rcgen())
    );
    // The device profile's DNS names are not this key's to order.
    c.new_order(&acct, dns(&["a.fleet.example"]))
        .await
        .problem(400, "rejectedIdentifier");
    s.stop().await;
}

#[tokio::test]
async fn deactivated_authorization_stops_a_ready_order() {
    let (s, mut c, acct) = setup(fleet()).await;
    let order = c
        .new_order(&acct, dns(&["d.fleet.example"]))
        .await
        .ok(201)
        .clone();
    assert_eq!(order["status"], "ready");
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let r = c
        .post(
            &authz_url,
            Signer::Kid(&acct),
            Some(&json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "deactivated");
    let key = Key::generate().rcgen();
    c.finalize(&acct, &order, &csr(&key, None, &["d.fleet.example"]))
        .await
        .problem(403, "orderNotReady");
    s.stop().await;
}

#[tokio::test]
async fn account_key_in_the_csr_backdating_and_two_serials_are_refused() {
    let (s, mut c, acct) = setup(json!({"allowed_identifiers": [
        {"type": "dns", "value": "*.fleet.example"},
        {"type": "permanent-identifier", "value": "SN-1"},
        {"type": "permanent-identifier", "value": "SN-2"}
    ]}))
    .await;
    let order = c
        .new_order(&acct, dns(&["k.fleet.example"]))
        .await
        .ok(201)
        .clone();
    // RFC 8555 §11.1: the certificate key must not be the account key.
    c.finalize(
        &acct,
        &order,
        &csr(&acct.key.rcgen(), None, &["k.fleet.example"]),
    )
    .await
    .problem(400, "badCSR");
    let url = c.url("newOrder");
    let backdated = json!({"identifiers": [{"type": "dns", "value": "k.fleet.example"}], "notBefore": "2000-01-01T00:00:00Z"});
    c.post(&url, Signer::Kid(&acct), Some(&backdated))
        .await
        .problem(400, "malformed");
    let two = json!({"identifiers": [{"type": "permanent-identifier", "value": "SN-1"}, {"type": "permanent-identifier", "value": "SN-2"}]});
    c.post(&url, Signer::Kid(&acct), Some(&two))
        .await
        .problem(400, "malformed");
    s.stop().await;
}
