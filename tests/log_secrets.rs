//! No secret the server hands out reaches its log: a pickup flow (with a refused CSR first),
//! an EST enrolment and an ACME order, logged at debug, and the whole log scanned for every
//! admin token, EST password, EAB key, link secret and PKCS#12 passphrase.
//!
//! This file holds one test: it installs the process-wide log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use instant_acme::{Account, ExternalAccountKey, Identifier, NewAccount, NewOrder, RetryPolicy};
use serde_json::{json, Value};

/// The captured log.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let start = s.find(a).unwrap() + a.len();
    &s[start..start + s[start..].find(b).unwrap()]
}

fn form(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
        .replace('\n', "%0A")
        .replace(' ', "+")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_debug_log() {
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = Server::start("").await;
    let admin = s.admin_token();
    let mut secrets: Vec<(&str, String)> = vec![("admin token", admin.clone())];

    // Pickup: GET twice (debug), a refused CSR (info), then a generated key.
    let person: Value = s
        .client()
        .post(s.url("/api/v1/people"))
        .bearer_auth(&admin)
        .json(&json!({"external_id": "p1", "email": "p1@corp.example", "display_name": "P One"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subject = person["subject"]["id"].as_str().unwrap();
    let link: Value = s
        .client()
        .post(s.url(&format!("/api/v1/subjects/{subject}/credentials")))
        .bearer_auth(&admin)
        .json(&json!({"kind": "pickup"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap();
    let (link_id, link_secret) = token.split_once('.').unwrap();
    let link_id = link_id.to_owned();
    secrets.push(("pickup link secret", link_secret.to_owned()));
    for _ in 0..2 {
        assert_eq!(s.client().get(&url).send().await.unwrap().status(), 200);
    }
    let bad = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("action=csr&csr={}", form("not a CSR")))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
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
    secrets.push((
        "PKCS#12 passphrase",
        between(&html, "<code id=\"passphrase\">", "</code>").to_owned(),
    ));

    // EST: a one-time credential, then a wrong password, then the right one.
    let (user, pass) = s.credential(json!({"common_name": "dev-1"})).await;
    secrets.push(("EST password", pass.clone()));
    let csr_b64 = b64(&csr(
        &rcgen::KeyPair::generate().unwrap(),
        Some("dev-1"),
        &[],
    ));
    let wrong = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&user, Some(format!("{pass}x")))
        .header("content-type", "application/pkcs10")
        .body(csr_b64.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&user, Some(&pass))
        .header("content-type", "application/pkcs10")
        .body(csr_b64)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // ACME: an EAB-bound account and an order to a certificate.
    let (kid, hmac) = s
        .eab(json!({"allowed_identifiers": [{"type": "dns", "value": "*.fleet.example"}]}))
        .await;
    secrets.push(("EAB HMAC key", Base64UrlUnpadded::encode_string(&hmac)));
    secrets.push(("EAB HMAC key (hex)", hex::encode(&hmac)));
    let (account, _) = Account::builder_with_root(s.data("ca-bundle.pem"))
        .unwrap()
        .create(
            &NewAccount {
                contact: &["mailto:it@example.com"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.url("/acme/directory"),
            Some(&ExternalAccountKey::new(kid, &hmac)),
        )
        .await
        .unwrap();
    let ids = [Identifier::Dns("laptop-7.fleet.example".into())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    order
        .finalize_csr(&csr(&key, None, &["laptop-7.fleet.example"]))
        .await
        .unwrap();
    order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    s.stop().await;

    let text = log.text();
    // The log did capture the flows, pickup requests included.
    assert!(
        text.contains(&format!("/pickup/{link_id}")),
        "pickup requests are logged by id:\n{text}"
    );
    assert!(text.contains("certificate issued"), "{text}");
    for (what, secret) in &secrets {
        assert!(
            secret.len() >= 8,
            "{what} is too short to scan for: {secret:?}"
        );
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            panic!("the {what} is in the log: {line}");
        }
    }
}
