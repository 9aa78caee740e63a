//! Webhooks (issue 4, notifications): a small HTTP receiver in the test, a server whose
//! `[webhooks]` point at it, and checks of order, signatures, retries, expiry warnings and
//! delivery across a restart.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use common::*;
use rcgen::KeyPair;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    /// Request line, e.g. `POST /hooks/enrolld HTTP/1.1`.
    request_line: String,
    /// Headers, names lower-cased.
    headers: Vec<(String, String)>,
    /// The raw body.
    body: Vec<u8>,
    /// The status the receiver answered.
    answered: u16,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Recomputes `sha256=<hex HMAC-SHA256(secret, body)>` and compares.
    fn signature_ok(&self) -> bool {
        let Some(sig) = self.header("x-enrolld-signature") else {
            return false;
        };
        let Some(hex_mac) = sig.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(mac) = hex::decode(hex_mac) else {
            return false;
        };
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
        hmac::verify(&key, &self.body, &mac).is_ok()
    }
}

/// A receiver on 127.0.0.1:0: answers 500 to the first `fail_first` requests, 200 after.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let g = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                // One request at a time: the notifier sends one and waits for the answer.
                let Some((request_line, headers, body)) = read_request(&mut sock).await else {
                    continue;
                };
                let n = g.lock().unwrap().len();
                let answered = if n < fail_first { 500 } else { 200 };
                g.lock().unwrap().push(Delivery {
                    request_line,
                    headers,
                    body,
                    answered,
                });
                let reason = if answered == 200 {
                    "OK"
                } else {
                    "Internal Server Error"
                };
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 {answered} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = sock.shutdown().await;
            }
        });
        Receiver { addr, got, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/enrolld", self.addr)
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (at most 15 s).
    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..600 {
            let d = self.deliveries();
            if d.len() >= n {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} deliveries, got {:#?}", self.deliveries());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body.
async fn read_request(
    sock: &mut tokio::net::TcpStream,
) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some((request_line, headers, body))
}

/// The `[webhooks]` section for `url`, with the secret in a file under `dir`.
fn webhooks_toml(dir: &std::path::Path, url: &str, extra: &str) -> String {
    let secret = dir.join("webhook-secret");
    // A trailing newline, as `echo` or an editor leaves it: not part of the key.
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    format!(
        "[webhooks]\nurl = {url:?}\nsecret_file = {:?}\nretry_initial_ms = 50\n{extra}",
        secret.to_str().unwrap()
    )
}

/// Enrols one certificate over EST with a fresh credential; returns its serial (hex).
async fn enrol(s: &Server, cn: &str) -> String {
    let (user, pass) = s
        .credential(json!({"common_name": cn, "sans": [format!("{cn}.corp.example")]}))
        .await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), Some(cn), &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serial_hex(&certs_from_pkcs7(&r.text().await.unwrap()).remove(0))
}

async fn revoke(s: &Server, serial: &str) {
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/certificates/{serial}/revoke")))
        .bearer_auth(s.admin_token())
        .json(&json!({"reason": "keyCompromise"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn issue_and_revoke_arrive_signed_in_order_after_a_retry() {
    let rx = Receiver::start(1).await;
    let secrets = tempfile::tempdir().unwrap();
    let s = Server::start(&webhooks_toml(secrets.path(), &rx.url(), "")).await;

    let serial = enrol(&s, "dev-1").await;
    revoke(&s, &serial).await;

    // The first delivery (issue) got a 500 and was retried; then revoke.
    let d = rx.wait_for(3).await;
    // Nothing else is subscribed (credential creation, for one, is not).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d_all = rx.deliveries();
    assert_eq!(d_all.len(), 3, "{d_all:#?}");

    for x in &d {
        assert_eq!(x.request_line, "POST /hooks/enrolld HTTP/1.1");
        assert!(x.signature_ok(), "bad signature on {x:#?}");
        assert_eq!(x.header("content-type"), Some("application/json"));
        assert_eq!(
            x.header("x-enrolld-event"),
            x.json()["type"].as_str(),
            "{x:#?}"
        );
    }
    assert_eq!(d[0].answered, 500);
    assert_eq!(d[1].answered, 200);
    assert_eq!(d[2].answered, 200);
    // The retry is the same event, byte for byte.
    assert_eq!(d[0].body, d[1].body);
    assert_eq!(d[0].header("x-enrolld-delivery-attempt"), Some("1"));
    assert_eq!(d[1].header("x-enrolld-delivery-attempt"), Some("2"));

    let issue = d[1].json();
    assert_eq!(issue["type"], "certificate.issue");
    assert_eq!(issue["target"], serial.as_str());
    assert_eq!(issue["outcome"], "ok");
    assert!(
        issue["actor"].as_str().unwrap().starts_with("est:"),
        "{issue}"
    );
    assert_eq!(issue["certificate"]["subject"], "dev-1");
    assert_eq!(issue["certificate"]["serial"], serial.as_str());
    assert!(time::OffsetDateTime::parse(
        issue["time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());

    let rev = d[2].json();
    assert_eq!(rev["type"], "certificate.revoke");
    assert_eq!(rev["target"], serial.as_str());
    assert_eq!(rev["detail"], "keyCompromise");
    assert!(
        rev["actor"].as_str().unwrap().starts_with("token:"),
        "{rev}"
    );
    assert_eq!(rev["certificate"]["status"], "revoked");

    // Ids are the audit sequence, increasing.
    let seq = |v: &Value| -> u64 {
        v["id"]
            .as_str()
            .unwrap()
            .strip_prefix("audit-")
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(seq(&issue) < seq(&rev));
    s.stop().await;
}

#[tokio::test]
async fn expiring_certificate_is_announced_once() {
    let rx = Receiver::start(0).await;
    let secrets = tempfile::tempdir().unwrap();
    let toml = format!(
        "[profiles.device]\nvalidity_days = 1\n{}",
        webhooks_toml(
            secrets.path(),
            &rx.url(),
            "events = [\"certificate.expiring\"]\nexpiry_warning_days = 2\nexpiry_scan_secs = 1\n"
        )
    );
    let s = Server::start(&toml).await;
    let serial = enrol(&s, "short-lived").await;
    let d = rx.wait_for(1).await;
    // Several more scans happen; none announces it again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d_all = rx.deliveries();
    assert_eq!(d_all.len(), 1, "{d_all:#?}");
    let ev = d[0].json();
    assert!(d[0].signature_ok());
    assert_eq!(d[0].header("x-enrolld-event"), Some("certificate.expiring"));
    assert_eq!(ev["type"], "certificate.expiring");
    assert_eq!(ev["id"], format!("expiring-{serial}"));
    assert_eq!(ev["target"], serial.as_str());
    assert_eq!(ev["actor"], "system");
    assert_eq!(ev["certificate"]["status"], "good");
    s.stop().await;
}

#[tokio::test]
async fn an_undelivered_event_is_delivered_after_a_restart() {
    // The receiver is down (always 500) while the certificate is issued…
    let down = Receiver::start(usize::MAX).await;
    let secrets = tempfile::tempdir().unwrap();
    let s = Server::start(&webhooks_toml(secrets.path(), &down.url(), "")).await;
    let serial = enrol(&s, "dev-2").await;
    down.wait_for(2).await;
    let dir = s.stop().await;
    drop(down);

    // …and the server restarts pointing at a working one: the event is not lost.
    let up = Receiver::start(0).await;
    let s = Server::start_in(dir, &webhooks_toml(secrets.path(), &up.url(), "")).await;
    let d = up.wait_for(1).await;
    let ev = d[0].json();
    assert_eq!(ev["type"], "certificate.issue");
    assert_eq!(ev["target"], serial.as_str());
    assert!(d[0].signature_ok());
    // Delivered once; the cursor moved past it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up.deliveries().len(), 1);
    let cursor = std::fs::read_to_string(s.data("webhook-cursor")).unwrap();
    assert_eq!(
        cursor.trim(),
        ev["id"].as_str().unwrap().trim_start_matches("audit-")
    );
    s.stop().await;
}
