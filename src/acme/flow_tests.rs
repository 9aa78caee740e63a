//! ACME operations end to end without HTTP or a socket: the service on a temporary data
//! directory, requests built as a client would sign them, and a manual clock that the tests
//! move to make nonces and orders expire.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

use super::eab::NewEabKey;
use super::{Acme, Reply, Request, Response};
use crate::ca::Ca;
use crate::clock::ManualClock;
use crate::config::{CaConfig, Config};
use crate::error::Error;
use crate::secrets::Secrets;
use crate::store::sled_store::SledStore;
use crate::store::AllowedIdentifier;

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

/// The service, its clock, and the directory that holds its CA and store.
struct Fixture {
    acme: Acme,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
    let secrets = Arc::new(Secrets::load_or_create(&dir.path().join("secret.key")).unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let acme = Acme::new(
        ca,
        store.clone(),
        store,
        Arc::new(Config::default()),
        secrets,
        clock.clone(),
    )
    .unwrap();
    Fixture {
        acme,
        clock,
        _dir: dir,
    }
}

/// An ACME client's account key and, once registered, its account URL.
struct Client {
    key: EcdsaKeyPair,
    kid: Option<String>,
}

impl Client {
    fn new() -> Client {
        Client {
            key: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
            kid: None,
        }
    }

    fn jwk(&self) -> Value {
        let p = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])})
    }

    /// A signed request body for `path` with `nonce`; `payload` None is POST-as-GET.
    fn body(&self, f: &Fixture, path: &str, nonce: &str, payload: Option<&Value>) -> Vec<u8> {
        let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": f.acme.url(path)});
        match &self.kid {
            Some(kid) => protected["kid"] = json!(kid),
            None => protected["jwk"] = self.jwk(),
        }
        let p = b64(protected.to_string().as_bytes());
        let pl = payload
            .map(|v| b64(v.to_string().as_bytes()))
            .unwrap_or_default();
        let sig = self
            .key
            .sign(&SystemRandom::new(), format!("{p}.{pl}").as_bytes())
            .unwrap();
        json!({"protected": p, "payload": pl, "signature": b64(sig.as_ref())})
            .to_string()
            .into_bytes()
    }
}

fn request<'a>(path: &'a str, body: &'a [u8]) -> Request<'a> {
    Request {
        path,
        body,
        content_type: Some("application/jose+json"),
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

fn json_of(r: &Response) -> &Value {
    match &r.reply {
        Reply::Resource(v) | Reply::Created(v) => v,
        other => panic!("not JSON: {other:?}"),
    }
}

fn acme_problem(e: &Error) -> String {
    match e {
        Error::Acme(a) => format!("{:?}", a.kind),
        other => format!("not an ACME problem: {other:?}"),
    }
}

/// An account bound to a fresh EAB key that pre-authorises `*.fleet.example`.
async fn account(f: &Fixture) -> Client {
    let eab = f
        .acme
        .create_eab_key(NewEabKey {
            profile: None,
            allowed_identifiers: vec![AllowedIdentifier {
                kind: "dns".into(),
                value: "*.fleet.example".into(),
                challenge: false,
            }],
            expires_in: None,
            subject_id: None,
        })
        .unwrap();
    let mut c = Client::new();
    let url = f.acme.url("/acme/new-account");
    let inner_p = b64(json!({"alg": "HS256", "kid": eab.kid, "url": url})
        .to_string()
        .as_bytes());
    let inner_pl = b64(c.jwk().to_string().as_bytes());
    let mac = Base64UrlUnpadded::decode_vec(&eab.hmac_key).unwrap();
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &mac),
        format!("{inner_p}.{inner_pl}").as_bytes(),
    );
    let payload = json!({
        "termsOfServiceAgreed": true,
        "externalAccountBinding": {"protected": inner_p, "payload": inner_pl, "signature": b64(tag.as_ref())},
    });
    let body = c.body(f, "/acme/new-account", &f.acme.new_nonce(), Some(&payload));
    let r = f
        .acme
        .new_account(&request("/acme/new-account", &body))
        .await
        .unwrap();
    assert!(matches!(r.reply, Reply::Created(_)), "{:?}", r.reply);
    c.kid = r.location.clone();
    c
}

fn csr_der(name: &str) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let key = rcgen::KeyPair::generate().unwrap();
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// A newOrder for one DNS name, which the account's EAB key pre-authorises.
async fn new_order(f: &Fixture, c: &Client, name: &str) -> Response {
    let payload = json!({"identifiers": [{"type": "dns", "value": name}]});
    let body = c.body(f, "/acme/new-order", &f.acme.new_nonce(), Some(&payload));
    f.acme
        .new_order(&request("/acme/new-order", &body))
        .await
        .unwrap()
}

fn path_of(f: &Fixture, url: &str) -> String {
    url.strip_prefix(&f.acme.url("")).unwrap().to_owned()
}

#[tokio::test]
async fn an_order_for_a_preauthorised_name_is_ready_and_finalizes_once() {
    let f = fixture();
    let c = account(&f).await;
    let r = new_order(&f, &c, "laptop-1.fleet.example").await;
    assert!(matches!(r.reply, Reply::Created(_)), "{:?}", r.reply);
    let order = json_of(&r).clone();
    assert_eq!(order["status"], "ready");
    let finalize = path_of(&f, order["finalize"].as_str().unwrap());
    let id = finalize
        .trim_start_matches("/acme/order/")
        .trim_end_matches("/finalize");
    let payload = json!({"csr": b64(&csr_der("laptop-1.fleet.example"))});
    let body = c.body(&f, &finalize, &f.acme.new_nonce(), Some(&payload));
    let r = f
        .acme
        .finalize(&request(&finalize, &body), id)
        .await
        .unwrap();
    let done = json_of(&r).clone();
    assert_eq!(done["status"], "valid");
    let cert = path_of(&f, done["certificate"].as_str().unwrap());
    // A second finalize of the valid order issues nothing more: it answers the same order.
    let body = c.body(&f, &finalize, &f.acme.new_nonce(), Some(&payload));
    let again = f
        .acme
        .finalize(&request(&finalize, &body), id)
        .await
        .unwrap();
    assert_eq!(json_of(&again)["certificate"], done["certificate"]);
    let body = c.body(&f, &cert, &f.acme.new_nonce(), None);
    let r = f
        .acme
        .certificate(
            &request(&cert, &body),
            cert.trim_start_matches("/acme/cert/"),
        )
        .unwrap();
    assert!(matches!(&r.reply, Reply::Certificate(pem) if pem.contains("BEGIN CERTIFICATE")));
}

#[tokio::test]
async fn a_nonce_expires_with_the_clock_and_is_accepted_once() {
    let f = fixture();
    let c = account(&f).await;
    let kid = c.kid.clone().unwrap();
    let path = path_of(&f, &kid);
    let id = path.trim_start_matches("/acme/account/").to_owned();
    let nonce = f.acme.new_nonce();
    let body = c.body(&f, &path, &nonce, None);
    assert!(matches!(
        f.acme
            .account(&request(&path, &body), &id)
            .await
            .unwrap()
            .reply,
        Reply::Resource(_)
    ));
    // The same nonce again: refused.
    let err = f
        .acme
        .account(&request(&path, &body), &id)
        .await
        .err()
        .unwrap();
    assert_eq!(acme_problem(&err), "BadNonce");
    // A nonce older than its lifetime: refused, without anyone waiting ten minutes.
    let stale = f.acme.new_nonce();
    f.clock
        .advance(super::nonce::NONCE_LIFETIME_SECS as i64 + 1);
    let body = c.body(&f, &path, &stale, None);
    let err = f
        .acme
        .account(&request(&path, &body), &id)
        .await
        .err()
        .unwrap();
    assert_eq!(acme_problem(&err), "BadNonce");
}

#[tokio::test]
async fn an_unfinalized_order_expires_with_the_clock() {
    let f = fixture();
    let c = account(&f).await;
    let r = new_order(&f, &c, "laptop-2.fleet.example").await;
    let order_path = path_of(&f, r.location.as_deref().unwrap());
    let id = order_path.trim_start_matches("/acme/order/").to_owned();
    let expires = time::OffsetDateTime::parse(
        json_of(&r)["expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    f.clock.set(expires + 1);
    let body = c.body(&f, &order_path, &f.acme.new_nonce(), None);
    let r = f.acme.order(&request(&order_path, &body), &id).unwrap();
    assert_eq!(json_of(&r)["status"], "invalid");
}

/// RFC 8555 §7.3.5: a keyChange to a key another account holds is refused with a conflict
/// that names that account (`Location`), not with an error: the refusal carries a header.
#[tokio::test]
async fn a_key_change_to_another_accounts_key_is_a_conflict_naming_it() {
    let f = fixture();
    let a = account(&f).await;
    let b = account(&f).await;
    let url = f.acme.url("/acme/key-change");
    let inner_p = b64(json!({"alg": "ES256", "jwk": b.jwk(), "url": url})
        .to_string()
        .as_bytes());
    let inner_pl = b64(json!({"account": a.kid, "oldKey": a.jwk()})
        .to_string()
        .as_bytes());
    let sig = b
        .key
        .sign(
            &SystemRandom::new(),
            format!("{inner_p}.{inner_pl}").as_bytes(),
        )
        .unwrap();
    let inner = json!({"protected": inner_p, "payload": inner_pl, "signature": b64(sig.as_ref())});
    let body = a.body(&f, "/acme/key-change", &f.acme.new_nonce(), Some(&inner));
    let r = f
        .acme
        .key_change(&request("/acme/key-change", &body))
        .await
        .unwrap();
    assert_eq!(r.location, b.kid);
    assert!(
        matches!(&r.reply, Reply::Refused(Error::Conflict(_))),
        "{:?}",
        r.reply
    );
}
