//! A small hand-written ACME client (RFC 8555) for black-box tests that bend the protocol.
//!
//! instant-acme drives the well-behaved paths (tests/acme_instant.rs); it cannot send a bad
//! header or an email identifier. Here every protected header, payload and Content-Type can
//! be chosen, and every answer comes back whole ([`Reply`]) for assertions.

use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64ct::{Base64UrlUnpadded, Encoding};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::Server;

/// base64url without padding (RFC 8555 §6.1).
pub fn b64u(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// An ES256 key: an account key, or a certificate key that signs its own revocation.
pub struct Key {
    /// The P-256 key pair; signatures are fixed-size r‖s as JWS wants (RFC 7518 §3.4).
    pair: EcdsaKeyPair,
}

impl Key {
    /// A fresh P-256 key.
    pub fn generate() -> Key {
        Key {
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref(); // 0x04 ‖ x ‖ y
        json!({"crv": "P-256", "kty": "EC", "x": b64u(&p[1..33]), "y": b64u(&p[33..65])})
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace.
    pub fn thumbprint(&self) -> String {
        let j = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
            j["x"], j["y"]
        );
        b64u(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// RFC 8555 §8.1: token "." thumbprint.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint())
    }

    /// ES256 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig = self.pair.sign(&SystemRandom::new(), msg).unwrap();
        sig.as_ref().to_vec()
    }

    /// The same key for rcgen, so that a CSR (and so a certificate) carries it.
    pub fn rcgen(&self) -> rcgen::KeyPair {
        rcgen::KeyPair::try_from(self.pair.to_pkcs8v1().unwrap().as_ref()).unwrap()
    }
}

/// A flattened JWS (RFC 7515 §7.2.2); `payload` None is POST-as-GET (RFC 8555 §6.3).
pub fn jws(key: &Key, protected: &Value, payload: Option<&Value>) -> Value {
    let p = b64u(protected.to_string().as_bytes());
    let body = payload
        .map(|v| b64u(v.to_string().as_bytes()))
        .unwrap_or_default();
    let sig = key.sign(format!("{p}.{body}").as_bytes());
    json!({"protected": p, "payload": body, "signature": b64u(&sig)})
}

/// RFC 8555 §7.3.4 externalAccountBinding: an HS256 MAC with `mac_key` over `jwk`.
pub fn eab(kid: &str, mac_key: &[u8], url: &str, jwk: &Value) -> Value {
    let p = b64u(
        json!({"alg": "HS256", "kid": kid, "url": url})
            .to_string()
            .as_bytes(),
    );
    let body = b64u(jwk.to_string().as_bytes());
    let key = hmac::Key::new(hmac::HMAC_SHA256, mac_key);
    let tag = hmac::sign(&key, format!("{p}.{body}").as_bytes());
    json!({"protected": p, "payload": body, "signature": b64u(tag.as_ref())})
}

/// An answer, whole.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as JSON; `Null` when it is not JSON (a PEM chain, an empty body).
    pub body: Value,
    /// The body as text.
    pub text: String,
    /// The nonce the request carried, to tell a fresh `Replay-Nonce` from an echo.
    pub sent_nonce: Option<String>,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Replay-Nonce` header (RFC 8555 §6.5.1).
    pub fn nonce(&self) -> Option<&str> {
        self.header("replay-nonce")
    }

    /// The `Location` header; panics without one.
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location: {} {}", self.status, self.text))
            .to_owned()
    }

    /// The problem document's `detail`.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }

    /// Asserts `status` and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }

    /// Asserts an RFC 8555 §6.7 problem document of `kind` (`badNonce`, …) with `status`,
    /// carrying a fresh `Replay-Nonce` (§6.5: errors carry one too).
    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> &Value {
        let ctx = format!("{} {}", self.status, self.text);
        assert_eq!(self.status, status, "{ctx}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{ctx}"
        );
        let want = format!("urn:ietf:params:acme:error:{kind}");
        assert_eq!(self.body["type"], want.as_str(), "{ctx}");
        assert_eq!(self.body["status"], status, "{ctx}");
        let nonce = self.nonce().unwrap_or("");
        assert!(!nonce.is_empty(), "no Replay-Nonce on the error: {ctx}");
        assert_ne!(Some(nonce), self.sent_nonce.as_deref(), "nonce echoed back");
        &self.body
    }
}

/// An account: its key and its URL (the `kid`).
pub struct Account {
    /// The account key.
    pub key: Key,
    /// The account URL.
    pub url: String,
}

/// How a request is signed (RFC 8555 §6.2).
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// `jwk`: newAccount, revokeCert by the certificate's key.
    Jwk(&'a Key),
    /// `kid`: everything an account does.
    Kid(&'a Account),
}

impl Signer<'_> {
    fn key(&self) -> &Key {
        match self {
            Signer::Jwk(k) => k,
            Signer::Kid(a) => &a.key,
        }
    }
}

/// A client of one server.
pub struct Client {
    /// HTTPS client trusting the server's CA.
    http: reqwest::Client,
    /// The directory (RFC 8555 §7.1.1).
    pub dir: Value,
    /// The last `Replay-Nonce` seen, spent by the next request.
    nonce: Option<String>,
}

impl Client {
    /// Fetches the directory.
    pub async fn new(s: &Server) -> Client {
        let http = s.client();
        let r = http.get(s.url("/acme/directory")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let dir = r.json().await.unwrap();
        Client {
            http,
            dir,
            nonce: None,
        }
    }

    /// A directory URL (`newAccount`, `newOrder`, `revokeCert`, …).
    pub fn url(&self, name: &str) -> String {
        self.dir[name]
            .as_str()
            .unwrap_or_else(|| panic!("directory lacks {name}"))
            .to_owned()
    }

    /// A nonce from `HEAD newNonce` (RFC 8555 §7.2).
    pub async fn head_nonce(&self) -> String {
        let r = self.http.head(self.url("newNonce")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.headers()["replay-nonce"].to_str().unwrap().to_owned()
    }

    /// The nonce of the last answer, or a new one.
    pub async fn nonce(&mut self) -> String {
        match self.nonce.take() {
            Some(n) => n,
            None => self.head_nonce().await,
        }
    }

    /// POSTs `body` as it is; keeps the answer's nonce for the next request.
    pub async fn post_raw(&mut self, url: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let r = self
            .http
            .post(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        if let Some(n) = headers.get("replay-nonce") {
            self.nonce = Some(n.to_str().unwrap().to_owned());
        }
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            sent_nonce: None,
        }
    }

    /// The usual protected header: ES256, a fresh nonce, `url`, and `jwk` or `kid`.
    pub async fn protected(&mut self, url: &str, signer: Signer<'_>) -> Value {
        let mut h = json!({"alg": "ES256", "nonce": self.nonce().await, "url": url});
        match signer {
            Signer::Jwk(k) => h["jwk"] = k.jwk(),
            Signer::Kid(a) => h["kid"] = json!(a.url),
        }
        h
    }

    /// Signs `protected` and `payload` with `key` and POSTs them as application/jose+json.
    pub async fn post_jws(
        &mut self,
        url: &str,
        key: &Key,
        protected: &Value,
        payload: Option<&Value>,
    ) -> Reply {
        let body = jws(key, protected, payload).to_string().into_bytes();
        let mut r = self.post_raw(url, "application/jose+json", body).await;
        r.sent_nonce = protected["nonce"].as_str().map(str::to_owned);
        r
    }

    /// A well-formed request.
    pub async fn post(&mut self, url: &str, signer: Signer<'_>, payload: Option<&Value>) -> Reply {
        let h = self.protected(url, signer).await;
        self.post_jws(url, signer.key(), &h, payload).await
    }

    /// newAccount (RFC 8555 §7.3) with `payload` as given.
    pub async fn new_account(&mut self, key: &Key, payload: &Value) -> Reply {
        let url = self.url("newAccount");
        self.post(&url, Signer::Jwk(key), Some(payload)).await
    }

    /// The newAccount payload binding `key` to EAB key `kid` (RFC 8555 §7.3.4).
    pub fn eab_payload(&self, key: &Key, kid: &str, mac: &[u8]) -> Value {
        let binding = eab(kid, mac, &self.url("newAccount"), &key.jwk());
        json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding})
    }

    /// A new account bound to EAB key `kid` (asserts 201 Created).
    pub async fn account(&mut self, kid: &str, mac: &[u8]) -> Account {
        let key = Key::generate();
        let payload = self.eab_payload(&key, kid, mac);
        let r = self.new_account(&key, &payload).await;
        r.ok(201);
        Account {
            key,
            url: r.location(),
        }
    }

    /// newOrder (RFC 8555 §7.4) for `identifiers` (a JSON array).
    pub async fn new_order(&mut self, acct: &Account, identifiers: Value) -> Reply {
        let url = self.url("newOrder");
        let payload = json!({ "identifiers": identifiers });
        self.post(&url, Signer::Kid(acct), Some(&payload)).await
    }

    /// POST-as-GET (RFC 8555 §6.3).
    pub async fn get(&mut self, acct: &Account, url: &str) -> Reply {
        self.post(url, Signer::Kid(acct), None).await
    }

    /// Tells the server to validate a challenge (RFC 8555 §7.5.1: POST `{}`).
    pub async fn respond(&mut self, acct: &Account, challenge_url: &str) -> Reply {
        self.post(challenge_url, Signer::Kid(acct), Some(&json!({})))
            .await
    }

    /// POST-as-GETs `url` until its `status` is neither pending nor processing (at most 20 s,
    /// past the server's 10 s validation timeout).
    pub async fn poll(&mut self, acct: &Account, url: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.get(acct, url).await;
            let v = r.ok(200).clone();
            if v["status"] != "pending" && v["status"] != "processing" {
                return v;
            }
            assert!(Instant::now() < deadline, "{url} still {}", v["status"]);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Finalizes `order` (its JSON) with a DER CSR (RFC 8555 §7.4).
    pub async fn finalize(&mut self, acct: &Account, order: &Value, csr_der: &[u8]) -> Reply {
        let url = order["finalize"].as_str().unwrap().to_owned();
        let payload = json!({ "csr": b64u(csr_der) });
        self.post(&url, Signer::Kid(acct), Some(&payload)).await
    }

    /// Downloads the certificate of a valid `order`: the DER certificates of the chain.
    pub async fn certificate(&mut self, acct: &Account, order: &Value) -> Vec<Vec<u8>> {
        let url = order["certificate"]
            .as_str()
            .unwrap_or_else(|| panic!("order has no certificate: {order}"))
            .to_owned();
        let r = self.get(acct, &url).await;
        r.ok(200);
        assert_eq!(
            r.header("content-type"),
            Some("application/pem-certificate-chain")
        );
        enrolld::ca::pem_certs(&r.text).unwrap()
    }

    /// revokeCert (RFC 8555 §7.6).
    pub async fn revoke(
        &mut self,
        signer: Signer<'_>,
        cert_der: &[u8],
        reason: Option<u8>,
    ) -> Reply {
        let url = self.url("revokeCert");
        let mut payload = json!({ "certificate": b64u(cert_der) });
        if let Some(r) = reason {
            payload["reason"] = json!(r);
        }
        self.post(&url, signer, Some(&payload)).await
    }
}
