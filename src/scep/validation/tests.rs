//! The webhook validator against a loopback stand-in receiver that checks every request it
//! receives (method, path, the HMAC with the shared key, the JSON body), the files read at
//! start, and the helpers the Intune tests share.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use base64ct::{Base64, Encoding};
use serde_json::json;

use super::stand_in::{Answer, Handler, Seen, StandIn};
use super::*;
use crate::clock::ManualClock;
use crate::error::Error;
use crate::notify::event::rfc3339;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
pub(super) const CSR: &[u8] = b"\x30\x82\x01\x00 a CSR's DER";
pub(super) const NOW: i64 = 1_800_000_000;

pub(super) fn request() -> ValidationRequest<'static> {
    ValidationRequest {
        transaction_id: "tx-1",
        csr_der: CSR,
        challenge: "one-time-challenge",
        profile: "device",
        label: Some("wifi"),
    }
}

/// A 0600 file holding `text` in `dir`.
pub(super) fn private_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

pub(super) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn expect(found: &mut Vec<String>, ok: bool, what: impl Into<String>) {
    if !ok {
        found.push(what.into());
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook

/// The receiver's checks: POST to /hooks/scep, JSON, the signature verifies with the shared
/// key, and the body is exactly the request, stamped with the clock's time.
fn check_webhook_request(s: &Seen, found: &mut Vec<String>) {
    expect(found, s.method == hyper::Method::POST, "not a POST");
    expect(found, s.path == "/hooks/scep", "wrong path");
    expect(
        found,
        s.header("content-type") == "application/json",
        "content-type",
    );
    let sig = s.header("x-enrolld-signature");
    let verified = sig
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|tag| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
            hmac::verify(&key, &s.body, &tag).is_ok()
        });
    expect(
        found,
        verified,
        format!("signature {sig:?} does not verify"),
    );
    let want = json!({
        "transaction_id": "tx-1",
        "challenge": "one-time-challenge",
        "csr": Base64::encode_string(CSR),
        "profile": "device",
        "label": "wifi",
        "timestamp": rfc3339(NOW),
    });
    expect(found, s.json() == want, format!("body {}", s.json()));
}

/// A receiver that checks each request and gives `answer`.
fn receiver(answer: impl Fn() -> Answer + Send + Sync + 'static) -> Handler {
    Arc::new(move |s, found| {
        check_webhook_request(s, found);
        answer()
    })
}

fn webhook_at(
    url: &str,
    dir: &tempfile::TempDir,
    ca_file: Option<PathBuf>,
    timeout_secs: u64,
) -> Validator {
    let cfg = ChallengeValidation::Webhook {
        url: format!("{url}/hooks/scep"),
        secret_file: private_file(dir, "hook-secret", &format!("{SECRET}\n")),
        ca_file,
        timeout_secs,
    };
    Validator::from_config(&cfg, Arc::new(ManualClock::at(NOW)))
        .unwrap()
        .unwrap()
}

/// Over HTTPS with the operator's CA file: a signed request, and an allow that names the
/// subject.
#[tokio::test]
async fn webhook_allow_names_the_subject() {
    let (hook, ca_pem) = StandIn::start_tls(receiver(|| {
        Answer::Json(200, r#"{"allow":true,"subject":"dev-42","extra":1}"#.into())
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let v = webhook_at(&hook.url, &dir, Some(ca), 5);
    let verdict = v.validate(&request()).await.unwrap();
    assert_eq!(
        verdict,
        Verdict::Allow {
            subject: Some("dev-42".into())
        }
    );
    hook.assert_clean();
    assert_eq!(hook.calls(), ["POST /hooks/scep"]);
    // Notifications go through [webhooks], not to the challenge receiver.
    v.notify_success(
        &request(),
        &IssuedInfo {
            serial_hex: "01",
            der: b"cert",
            not_after: NOW,
            issuer: "CN=CA",
        },
    )
    .await;
    v.notify_failure(&request(), 1, "x").await;
    assert_eq!(hook.seen().len(), 1);
}

#[tokio::test]
async fn webhook_deny_carries_the_reason() {
    let hook = StandIn::start(receiver(|| {
        Answer::Json(
            200,
            "{\"allow\":false,\"reason\":\"unknown device\\u0007\"}".into(),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let v = webhook_at(&hook.url, &dir, None, 5);
    assert_eq!(
        v.validate(&request()).await.unwrap(),
        Verdict::Deny {
            reason: "unknown device".into()
        }
    );
    let hook = StandIn::start(receiver(|| Answer::Json(200, r#"{"allow":false}"#.into()))).await;
    let v = webhook_at(&hook.url, &dir, None, 5);
    let Verdict::Deny { reason } = v.validate(&request()).await.unwrap() else {
        panic!("allowed");
    };
    assert!(reason.contains("refused"), "{reason}");
    hook.assert_clean();
}

/// A receiver that gives no decision is an error, never an allow: another status, an answer
/// that is not the expected JSON, an allow naming something that is not a subject id, an
/// answer larger than the limit, and one that comes after the timeout.
#[tokio::test]
async fn webhook_misbehaviour_is_an_error() {
    let big = format!(
        r#"{{"allow":true,"pad":"{}"}}"#,
        "x".repeat(webhook::MAX_ANSWER)
    );
    let cases: Vec<(&str, Answer)> = vec![
        ("status", Answer::Json(500, r#"{"allow":true}"#.into())),
        ("redirect", Answer::Json(302, r#"{"allow":true}"#.into())),
        ("not json", Answer::Json(200, "allow".into())),
        (
            "allow not a bool",
            Answer::Json(200, r#"{"allow":"yes"}"#.into()),
        ),
        (
            "no allow",
            Answer::Json(200, r#"{"subject":"dev-1"}"#.into()),
        ),
        (
            "bad subject",
            Answer::Json(200, r#"{"allow":true,"subject":"../etc"}"#.into()),
        ),
        ("oversized", Answer::Json(200, big)),
        ("slow", Answer::Slow(Duration::from_secs(5))),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, answer) in cases {
        let answer = Mutex::new(Some(answer));
        let hook = StandIn::start(receiver(move || {
            answer
                .lock()
                .unwrap()
                .take()
                .unwrap_or(Answer::Json(500, "{}".into()))
        }))
        .await;
        let v = webhook_at(&hook.url, &dir, None, 1);
        let e = v.validate(&request()).await.unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{name}: {e:?}");
        assert!(
            e.to_string().contains("scep challenge webhook"),
            "{name}: {e}"
        );
        assert_eq!(hook.seen().len(), 1, "{name}");
        hook.assert_clean();
    }
}

#[tokio::test]
async fn nothing_answering_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let v = webhook_at(&format!("http://127.0.0.1:{port}"), &dir, None, 2);
    let e = v.validate(&request()).await.unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

#[cfg(unix)]
#[test]
fn from_config_reads_and_checks_the_files() {
    use std::os::unix::fs::PermissionsExt;
    let clock = || -> crate::clock::SharedClock { Arc::new(ManualClock::at(NOW)) };
    assert!(
        Validator::from_config(&ChallengeValidation::Registry, clock())
            .unwrap()
            .is_none()
    );
    let dir = tempfile::tempdir().unwrap();
    let webhook = |secret_file: PathBuf, url: &str| ChallengeValidation::Webhook {
        url: url.into(),
        secret_file,
        ca_file: None,
        timeout_secs: 5,
    };
    let good = private_file(&dir, "good", SECRET);
    assert!(matches!(
        Validator::from_config(&webhook(good.clone(), "http://127.0.0.1:1/x"), clock()),
        Ok(Some(Validator::Webhook(_)))
    ));
    let short = private_file(&dir, "short", "0123456789\n");
    let e = Validator::from_config(&webhook(short, "http://127.0.0.1:1/x"), clock()).unwrap_err();
    assert!(e.to_string().contains("at least 16 bytes"), "{e}");
    let e = Validator::from_config(&webhook(good.clone(), "http://hooks.example/x"), clock())
        .unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Validator::from_config(&webhook(good, "http://127.0.0.1:1/x"), clock()).unwrap_err();
    assert!(e.to_string().contains("readable by other users"), "{e}");
    let intune = ChallengeValidation::Intune {
        tenant: "contoso.onmicrosoft.com".into(),
        client_id: "app-1".into(),
        client_secret_file: dir.path().join("missing"),
        ca_file: None,
        login_url: "http://127.0.0.1:1".into(),
        graph_url: "http://127.0.0.1:1".into(),
        timeout_secs: 5,
    };
    let e = Validator::from_config(&intune, clock()).unwrap_err();
    assert!(e.to_string().contains("client_secret_file"), "{e}");
}

#[test]
fn guids_are_version_4() {
    let g = super::random_guid().unwrap();
    assert!(is_guid(&g), "{g}");
    assert_eq!(&g[14..15], "4");
    assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
    assert_ne!(g, super::random_guid().unwrap());
}

/// The SCEP service shares one validator between request tasks and awaits it inside them: the
/// validator must be `Send + Sync` and its futures `Send` (this fails to compile otherwise).
#[test]
fn validators_can_be_shared_between_tasks() {
    fn send<T: Send>(_: &T) {}
    fn shared<T: Send + Sync>() {}
    shared::<Validator>();
    if let Ok(Some(v)) = Validator::from_config(
        &ChallengeValidation::Registry,
        Arc::new(ManualClock::at(NOW)),
    ) {
        let r = request();
        let i = IssuedInfo {
            serial_hex: "01",
            der: b"",
            not_after: NOW,
            issuer: "CN=CA",
        };
        send(&v.validate(&r));
        send(&v.notify_success(&r, &i));
        send(&v.notify_failure(&r, 1, ""));
    }
}
