//! ACME end to end with instant-acme, a stock library client.

mod common;

use common::*;
use instant_acme::{
    Account, ChallengeType, ExternalAccountKey, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use rcgen::KeyPair;
use serde_json::json;

async fn account(s: &Server, eab_body: serde_json::Value) -> Account {
    let (kid, key) = s.eab(eab_body).await;
    let (account, _creds) = Account::builder_with_root(s.data("ca-bundle.pem"))
        .unwrap()
        .create(
            &NewAccount {
                contact: &["mailto:it@example.com"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.url("/acme/directory"),
            Some(&ExternalAccountKey::new(kid, &key)),
        )
        .await
        .unwrap();
    account
}

fn err_text<T>(r: Result<T, instant_acme::Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:?}"),
    }
}

fn csr_dns(key: &KeyPair, names: &[&str]) -> Vec<u8> {
    csr(key, None, names)
}

#[tokio::test]
async fn preauthorised_device_name_gets_a_client_certificate() {
    let s = Server::start("").await;
    let acct = account(
        &s,
        json!({"allowed_identifiers": [{"type": "dns", "value": "*.fleet.example"}]}),
    )
    .await;
    let ids = [Identifier::Dns("laptop-7.fleet.example".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    assert_eq!(order.state().status, OrderStatus::Ready);
    let key = KeyPair::generate().unwrap();
    order
        .finalize_csr(&csr_dns(&key, &["laptop-7.fleet.example"]))
        .await
        .unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let certs: Vec<_> = rustls_pki_types::pem::PemObject::pem_slice_iter(chain.as_bytes())
        .map(|c: Result<rustls_pki_types::CertificateDer<'static>, _>| c.unwrap())
        .collect();
    assert_eq!(certs.len(), 2);
    let (_, c) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let eku = c.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert_eq!(
        c.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    let rec = s.cert_record(&serial_hex(&certs[0])).await;
    assert_eq!(rec["channel"], "acme");
    assert_eq!(rec["status"], "good");
    s.stop().await;
}

#[tokio::test]
async fn identifiers_outside_the_eab_key_are_rejected() {
    let s = Server::start("").await;
    let acct = account(
        &s,
        json!({"allowed_identifiers": [{"type": "dns", "value": "*.fleet.example"}]}),
    )
    .await;
    for name in ["fleet.example", "evilfleet.example", "vpn.example"] {
        let ids = [Identifier::Dns(name.into())];
        let text = err_text(acct.new_order(&NewOrder::new(&ids)).await);
        assert!(text.contains("rejectedIdentifier"), "{name}: {text}");
    }
    s.stop().await;
}

#[tokio::test]
async fn http01_for_a_name_allowed_after_proof() {
    // A tiny http-01 responder on a loopback port (test-only validator settings).
    let responder = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = responder.local_addr().unwrap().port();
    let cfg = format!("[acme.validation]\nhttp_port = {port}\nallow_private_addresses = true\n");
    let s = Server::start(&cfg).await;
    let acct = account(
        &s,
        json!({"allowed_identifiers": [{"type": "dns", "value": "localhost", "challenge": true}]}),
    )
    .await;
    let ids = [Identifier::Dns("localhost".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    assert_eq!(order.state().status, OrderStatus::Pending);
    let mut authzs = order.authorizations();
    let mut authz = authzs.next().await.unwrap().unwrap();
    let mut ch = authz.challenge(ChallengeType::Http01).unwrap();
    let key_auth = ch.key_authorization().as_str().to_owned();
    let serve = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = responder.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let n = sock.read(&mut buf).await.unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{key_auth}",
            key_auth.len()
        );
        sock.write_all(resp.as_bytes()).await.unwrap();
        req
    });
    ch.set_ready().await.unwrap();
    let status = order.poll_ready(&RetryPolicy::default()).await.unwrap();
    assert_eq!(status, OrderStatus::Ready);
    let req = serve.await.unwrap();
    assert!(req.starts_with("GET /.well-known/acme-challenge/"), "{req}");
    let key = KeyPair::generate().unwrap();
    order
        .finalize_csr(&csr_dns(&key, &["localhost"]))
        .await
        .unwrap();
    order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test]
async fn http01_to_a_private_address_is_refused_by_default() {
    let s = Server::start("[acme]\nallow_after_proof = [\"localhost\"]\n").await;
    let acct = account(
        &s,
        json!({"allowed_identifiers": [{"type": "dns", "value": "localhost", "challenge": true}]}),
    )
    .await;
    let ids = [Identifier::Dns("localhost".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authzs = order.authorizations();
    let mut authz = authzs.next().await.unwrap().unwrap();
    let mut ch = authz.challenge(ChallengeType::Http01).unwrap();
    ch.set_ready().await.unwrap();
    let err = err_text(order.poll_ready(&RetryPolicy::default()).await);
    assert!(err.contains("invalid"), "{err}");
    assert_eq!(order.state().status, OrderStatus::Invalid);
    let mut authzs = order.authorizations();
    let authz = authzs.next().await.unwrap().unwrap();
    let ch = &authz
        .challenges
        .iter()
        .find(|c| c.r#type == ChallengeType::Http01)
        .unwrap();
    let err = format!("{:?}", ch.error);
    assert!(err.contains("private"), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn profiles_key_change_deactivation_and_permanent_identifier() {
    let s = Server::start("").await;
    let mut acct = account(
        &s,
        json!({"profile": "device", "allowed_identifiers": [
            {"type": "dns", "value": "*.fleet.example"},
            {"type": "permanent-identifier", "value": "SN-77"}
        ]}),
    )
    .await;
    let profiles: Vec<String> = acct.profiles().map(|p| p.name.to_owned()).collect();
    assert!(profiles.contains(&"device".to_owned()) && profiles.contains(&"person".to_owned()));

    // The person profile is not this key's.
    let ids = [Identifier::Dns("a.fleet.example".into())];
    let err = err_text(acct.new_order(&NewOrder::new(&ids).profile("person")).await);
    assert!(err.contains("invalidProfile"), "{err}");

    // permanent-identifier → subject CN.
    let ids = [Identifier::PermanentIdentifier("SN-77".into())];
    let mut order = acct
        .new_order(&NewOrder::new(&ids).profile("device"))
        .await
        .unwrap();
    assert_eq!(order.state().status, OrderStatus::Ready);
    let key = KeyPair::generate().unwrap();
    order
        .finalize_csr(&csr(&key, Some("SN-77"), &[]))
        .await
        .unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let der = enrolld::ca::pem_certs(&chain).unwrap().remove(0);
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(c.subject().to_string(), "CN=SN-77");

    // Key rollover: the account keeps working with the new key.
    let _creds = acct.update_key().await.unwrap();
    let ids = [Identifier::Dns("b.fleet.example".into())];
    acct.new_order(&NewOrder::new(&ids)).await.unwrap();

    // Deactivation: the account can do nothing afterwards.
    let acct_clone = acct.clone();
    acct.deactivate().await.unwrap();
    let err = err_text(acct_clone.new_order(&NewOrder::new(&ids)).await);
    assert!(err.contains("unauthorized"), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn revoke_and_renewal_info() {
    let s = Server::start("").await;
    let acct = account(
        &s,
        json!({"allowed_identifiers": [{"type": "dns", "value": "r.fleet.example"}]}),
    )
    .await;
    let ids = [Identifier::Dns("r.fleet.example".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    let key = KeyPair::generate().unwrap();
    order
        .finalize_csr(&csr_dns(&key, &["r.fleet.example"]))
        .await
        .unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let der = enrolld::ca::pem_certs(&chain).unwrap().remove(0);
    let cert_der = rustls_pki_types::CertificateDer::from(der.clone());

    let cid = instant_acme::CertificateIdentifier::try_from(&cert_der).unwrap();
    let (info, _) = acct.renewal_info(&cid).await.unwrap();
    assert!(info.suggested_window.start < info.suggested_window.end);

    // The administrator moves the window forward: clients see it.
    let r = s
        .client()
        .post(s.url("/api/v1/acme/renewal-window"))
        .bearer_auth(s.admin_token())
        .json(&json!({"serials": [serial_hex(&der)], "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (info, _) = acct.renewal_info(&cid).await.unwrap();
    assert_eq!(info.suggested_window.start.year(), 2020);

    // replaces: a renewal order naming the old certificate.
    let mut renewal = acct
        .new_order(&NewOrder::new(&ids).replaces(cid.clone()))
        .await
        .unwrap();
    assert_eq!(renewal.state().status, OrderStatus::Ready);

    acct.revoke(&instant_acme::RevocationRequest {
        certificate: &cert_der,
        reason: Some(instant_acme::RevocationReason::KeyCompromise),
    })
    .await
    .unwrap();
    let rec = s.cert_record(&serial_hex(&der)).await;
    assert_eq!(rec["status"], "revoked");
    assert_eq!(rec["revocation_reason"], "keyCompromise");
    // A second revocation: alreadyRevoked.
    let err = acct
        .revoke(&instant_acme::RevocationRequest {
            certificate: &cert_der,
            reason: None,
        })
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("alreadyRevoked"), "{err:?}");
    let _ = renewal.refresh().await.unwrap();
    s.stop().await;
}
