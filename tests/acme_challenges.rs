//! Challenge validation against responders inside the test: dns-01 (RFC 8555 §8.4) through a
//! tiny DNS server, tls-alpn-01 (RFC 8737) through a TLS server, and the http-01 safety rules
//! of RFC 8555 §10.4 (no https redirects, no private addresses unless configured).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::acme_client::{b64u, Account, Client, Key};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The name every test proves control of; the test's DNS server says it is 127.0.0.1.
const NAME: &str = "dev1.lab.example";

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A DNS server on 127.0.0.1:0: A → 127.0.0.1 for any name, TXT from `txt`, and an empty
/// NOERROR answer for anything else (AAAA), so lookups never wait for a timeout.
struct DnsResponder {
    /// Where it listens; the validator's `dns_resolver`.
    addr: SocketAddr,
    /// TXT values by owner name, set by the test once it knows the token.
    txt: Arc<Mutex<HashMap<String, String>>>,
}

impl DnsResponder {
    async fn start() -> DnsResponder {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let txt = Arc::new(Mutex::new(HashMap::new()));
        let records = txt.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let reply = dns_answer(&buf[..n], &records.lock().unwrap());
                if let Some(reply) = reply {
                    let _ = sock.send_to(&reply, peer).await;
                }
            }
        });
        DnsResponder { addr, txt }
    }

    fn set_txt(&self, name: &str, value: &str) {
        self.txt
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }
}

/// RFC 1035 §4.1: the answer to a one-question query, or None if it does not parse.
fn dns_answer(query: &[u8], txt: &HashMap<String, String>) -> Option<Vec<u8>> {
    let mut labels = Vec::new();
    let mut pos = 12;
    loop {
        let len = *query.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(std::str::from_utf8(query.get(pos..pos + len)?).ok()?);
        pos += len;
    }
    let question = query.get(12..pos + 4)?;
    let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
    let name = labels.join(".").to_ascii_lowercase();
    let rdata = match qtype {
        1 => Some(vec![127, 0, 0, 1]),
        16 => txt.get(&name).map(|v| {
            let mut r = vec![v.len() as u8];
            r.extend_from_slice(v.as_bytes());
            r
        }),
        _ => None,
    };
    let mut r = query[..2].to_vec(); // id
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(rdata.is_some()), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if let Some(d) = rdata {
        r.extend_from_slice(&[0xc0, 12]); // the question's name
        r.extend_from_slice(&qtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]); // class IN, TTL 60
        r.extend_from_slice(&(d.len() as u16).to_be_bytes());
        r.extend_from_slice(&d);
    }
    Some(r)
}

/// A tls-alpn-01 responder (RFC 8737 §3) on `listener`: ALPN acme-tls/1 and a self-signed
/// certificate naming `name` with the critical acmeIdentifier extension holding `digest`.
fn serve_tls_alpn(listener: TcpListener, name: &str, digest: &[u8]) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into())
        .unwrap();
    // Not `with_single_cert`: webpki refuses to parse a certificate with a critical extension
    // it does not know, and acmeIdentifier is one.
    let certified = rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signing_key);
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    cfg.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.read(&mut [0u8; 64]).await; // until the validator hangs up
                }
            });
        }
    });
}

/// A server whose validator resolves through `dns` with the extra `validation` settings, and
/// an account whose EAB key lists [`NAME`] as needing a challenge.
async fn start(dns: &DnsResponder, validation: &str) -> (Server, Client, Account) {
    let cfg = format!(
        "[acme.validation]\ndns_resolver = \"{}\"\n{validation}",
        dns.addr
    );
    let s = Server::start(&cfg).await;
    let mut c = Client::new(&s).await;
    let (kid, mac) = s
        .eab(json!({"allowed_identifiers": [{"type": "dns", "value": NAME, "challenge": true}]}))
        .await;
    let acct = c.account(&kid, &mac).await;
    (s, c, acct)
}

/// A pending order for [`NAME`]: (order URL, authz URL, authz).
async fn pending_order(c: &mut Client, acct: &Account) -> (String, String, Value) {
    let r = c
        .new_order(acct, json!([{"type": "dns", "value": NAME}]))
        .await;
    let order = r.ok(201).clone();
    assert_eq!(order["status"], "pending", "{order}");
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = c.get(acct, &authz_url).await.ok(200).clone();
    assert_eq!(authz["status"], "pending", "{authz}");
    (r.location(), authz_url, authz)
}

/// The challenge of `kind` in an authz.
fn challenge<'a>(authz: &'a Value, kind: &str) -> &'a Value {
    authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {authz}"))
}

/// Starts `kind` and waits for the authz to settle; returns the settled authz.
async fn validate(
    c: &mut Client,
    acct: &Account,
    authz_url: &str,
    authz: &Value,
    kind: &str,
) -> Value {
    let url = challenge(authz, kind)["url"].as_str().unwrap().to_owned();
    let r = c.respond(acct, &url).await;
    assert_eq!(r.ok(200)["type"], kind);
    c.poll(acct, authz_url).await
}

/// Asserts the authz failed with `kind` on `challenge_type`; returns the problem detail.
fn assert_failed(authz: &Value, challenge_type: &str, kind: &str) -> String {
    assert_eq!(authz["status"], "invalid", "{authz}");
    let ch = challenge(authz, challenge_type);
    assert_eq!(ch["status"], "invalid", "{ch}");
    let want = format!("urn:ietf:params:acme:error:{kind}");
    assert_eq!(ch["error"]["type"], want.as_str(), "{ch}");
    ch["error"]["detail"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn dns01_proves_control_and_the_certificate_is_issued() {
    let dns = DnsResponder::start().await;
    let (s, mut c, acct) = start(&dns, "").await;
    let (order_url, authz_url, authz) = pending_order(&mut c, &acct).await;
    let token = challenge(&authz, "dns-01")["token"].as_str().unwrap();
    let value = b64u(&sha256(acct.key.key_authorization(token).as_bytes()));
    dns.set_txt(&format!("_acme-challenge.{NAME}"), &value);

    let authz = validate(&mut c, &acct, &authz_url, &authz, "dns-01").await;
    assert_eq!(authz["status"], "valid", "{authz}");
    let ch = challenge(&authz, "dns-01");
    assert_eq!(ch["status"], "valid");
    assert!(ch["validated"].is_string(), "{ch}");

    let order = c.poll(&acct, &order_url).await;
    assert_eq!(order["status"], "ready", "{order}");
    let key = Key::generate();
    let r = c
        .finalize(&acct, &order, &csr(&key.rcgen(), None, &[NAME]))
        .await;
    let order = r.ok(200).clone();
    assert_eq!(order["status"], "valid", "{order}");
    let der = c.certificate(&acct, &order).await.remove(0);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::DNSName(NAME)]
    );
    s.stop().await;
}

#[tokio::test]
async fn dns01_with_a_wrong_txt_value_is_incorrect_response() {
    let dns = DnsResponder::start().await;
    let (s, mut c, acct) = start(&dns, "").await;
    let (order_url, authz_url, authz) = pending_order(&mut c, &acct).await;
    let served = "c2VydmVkLWJ1dC13cm9uZy12YWx1ZQ";
    dns.set_txt(&format!("_acme-challenge.{NAME}"), served);

    let authz = validate(&mut c, &acct, &authz_url, &authz, "dns-01").await;
    let detail = assert_failed(&authz, "dns-01", "incorrectResponse");
    assert!(
        !detail.contains(served),
        "detail echoes the served value: {detail}"
    );
    let order = c.get(&acct, &order_url).await.ok(200).clone();
    assert_eq!(order["status"], "invalid", "{order}");
    s.stop().await;
}

#[tokio::test]
async fn tls_alpn01_proves_control() {
    let dns = DnsResponder::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let validation = format!("tls_port = {port}\nallow_private_addresses = true\n");
    let (s, mut c, acct) = start(&dns, &validation).await;
    let (order_url, authz_url, authz) = pending_order(&mut c, &acct).await;
    let token = challenge(&authz, "tls-alpn-01")["token"].as_str().unwrap();
    serve_tls_alpn(
        listener,
        NAME,
        &sha256(acct.key.key_authorization(token).as_bytes()),
    );

    let authz = validate(&mut c, &acct, &authz_url, &authz, "tls-alpn-01").await;
    assert_eq!(authz["status"], "valid", "{authz}");
    assert_eq!(challenge(&authz, "tls-alpn-01")["status"], "valid");
    assert_eq!(c.poll(&acct, &order_url).await["status"], "ready");
    s.stop().await;
}

#[tokio::test]
async fn tls_alpn01_with_a_wrong_digest_is_invalid() {
    let dns = DnsResponder::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let validation = format!("tls_port = {port}\nallow_private_addresses = true\n");
    let (s, mut c, acct) = start(&dns, &validation).await;
    let (_, authz_url, authz) = pending_order(&mut c, &acct).await;
    let token = challenge(&authz, "tls-alpn-01")["token"].as_str().unwrap();
    let wrong = acct.key.key_authorization(&format!("{token}x"));
    serve_tls_alpn(listener, NAME, &sha256(wrong.as_bytes()));

    let authz = validate(&mut c, &acct, &authz_url, &authz, "tls-alpn-01").await;
    assert_failed(&authz, "tls-alpn-01", "incorrectResponse");
    s.stop().await;
}

#[tokio::test]
async fn http01_redirect_to_https_is_not_followed() {
    let dns = DnsResponder::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let validation = format!("http_port = {port}\nallow_private_addresses = true\n");
    let (s, mut c, acct) = start(&dns, &validation).await;
    let (_, authz_url, authz) = pending_order(&mut c, &acct).await;
    let token = challenge(&authz, "http-01")["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/.well-known/acme-challenge/{token}");
    let location = format!("https://{NAME}{path}");
    let served = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let n = sock.read(&mut buf).await.unwrap();
        let resp = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        sock.write_all(resp.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });

    let authz = validate(&mut c, &acct, &authz_url, &authz, "http-01").await;
    assert_failed(&authz, "http-01", "connection");
    let request = served.await.unwrap();
    assert!(
        request.starts_with(&format!("GET {path} HTTP/1.1\r\n")),
        "{request}"
    );
    s.stop().await;
}

#[tokio::test]
async fn http01_to_a_private_address_is_refused_without_allow_private_addresses() {
    let dns = DnsResponder::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (s, mut c, acct) = start(&dns, &format!("http_port = {port}\n")).await;
    let (_, authz_url, authz) = pending_order(&mut c, &acct).await;

    let authz = validate(&mut c, &acct, &authz_url, &authz, "http-01").await;
    let detail = assert_failed(&authz, "http-01", "connection");
    assert!(detail.contains("private"), "{detail}");
    // Refused before connecting: nothing reached the responder.
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "the validator connected to 127.0.0.1");
    s.stop().await;
}
