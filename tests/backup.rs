//! Backup while serving, restore into a new data directory, find every certificate.

mod common;

use common::*;
use serde_json::json;

async fn enrol(s: &Server, cn: &str) -> String {
    let (u, p) = s.credential(json!({"common_name": cn})).await;
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
    serial_hex(&certs_from_pkcs7(&r.text().await.unwrap()).remove(0))
}

#[tokio::test]
async fn backup_while_serving_and_restore_finds_every_certificate() {
    let s = Server::start("").await;
    let mut serials = Vec::new();
    for i in 0..10 {
        serials.push(enrol(&s, &format!("b{i}")).await);
    }
    // Take the backup while enrolments continue.
    let client = s.client();
    let url = s.url("/api/v1/backup");
    let token = s.admin_token();
    let backup = tokio::spawn(async move {
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap().to_vec()
    });
    for i in 10..15 {
        enrol(&s, &format!("b{i}")).await;
    }
    let data = backup.await.unwrap();
    // Only admin tokens may take backups.
    let r = s
        .client()
        .get(s.url("/api/v1/backup"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ra_before = std::fs::read(s.data("ca/scep-ra.crt")).unwrap();
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    std::fs::write(&file, &data).unwrap();
    let target = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_enrolld");
    let out = std::process::Command::new(bin)
        .args(["restore", "--from"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(target.join("ca/issuing.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The SCEP RA comes back too: clients keep encrypting to the RA certificate they fetched.
    assert_eq!(
        std::fs::read(target.join("ca/scep-ra.crt")).unwrap(),
        ra_before
    );
    let mode = std::fs::metadata(target.join("ca/scep-ra.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // A second restore into the same directory is refused.
    let again = std::process::Command::new(bin)
        .args(["restore", "--from"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(!again.status.success());

    // The restored server knows every certificate the backup saw, with the same CA.
    let restored = Server::start_in(dir, "").await;
    for serial in &serials {
        let rec = restored.cert_record(serial).await;
        assert_eq!(rec["status"], "good", "{serial}");
    }
    // …and keeps issuing.
    enrol(&restored, "after-restore").await;
    restored.stop().await;
}
