//! The audit log: a cut tail and a rebuilt chain are found by `enrolld audit verify`, and
//! every credential, EAB key, renewal-window and ACME account change names its actor.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::{json, Value};

fn enrolld(args: &[&str], data: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_enrolld"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A stopped server's data directory whose log holds a few registrations.
async fn stopped_server_with_entries(n: usize) -> tempfile::TempDir {
    let s = Server::start("").await;
    let admin = s.admin_token();
    for i in 0..n {
        let (st, _) = s.api(reqwest::Method::POST,
            "/api/v1/people",
            &admin,
            Some(json!({"external_id": format!("p{i}"), "email": format!("p{i}@corp.example"), "display_name": "P"})),
        )
        .await;
        assert_eq!(st, 201);
    }
    s.stop().await
}

#[tokio::test]
async fn audit_verify_finds_the_newest_entries_removed() {
    let dir = stopped_server_with_entries(5).await;
    let data = dir.path().join("data");
    let ok = enrolld(&["audit", "verify"], &data);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("5 entries"), "{}", text(&ok));
    // Someone with write access to the store deletes the two newest entries.
    {
        let db = sled::open(data.join("store")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        for seq in [5u64, 4] {
            assert!(audit.remove(seq.to_be_bytes()).unwrap().is_some());
        }
        db.flush().unwrap();
    }
    let bad = enrolld(&["audit", "verify"], &data);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("the log ends at entry 3 but the stored head is entry 5"),
        "{}",
        text(&bad)
    );
}

#[tokio::test]
async fn a_rebuilt_chain_verifies_as_a_chain_but_fails_the_checkpoint_check() {
    let dir = stopped_server_with_entries(4).await;
    let data = dir.path().join("data");
    // The signing key is outside the store, owner-only; its public half beside it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("audit-signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ok = enrolld(&["audit", "verify"], &data);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("signed checkpoints"), "{}", text(&ok));
    // The public key kept elsewhere checks it; another key does not.
    let elsewhere = tempfile::tempdir().unwrap();
    let pubkey = elsewhere.path().join("audit.pub");
    std::fs::copy(data.join("audit-signing.pub"), &pubkey).unwrap();
    let ok = enrolld(
        &["audit", "verify", "--public-key", pubkey.to_str().unwrap()],
        &data,
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let other = enrolld::audit::SigningKey::load_or_create(&enrolld::audit::AuditFiles::in_dir(
        elsewhere.path(),
    ))
    .unwrap();
    let wrong = enrolld(
        &[
            "audit",
            "verify",
            "--public-key",
            elsewhere.path().join("audit-signing.pub").to_str().unwrap(),
        ],
        &data,
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains(&other.public().key_id()),
        "{}",
        text(&wrong)
    );

    // Entry 2 altered, and the chain rebuilt after it: every hash and the head recomputed.
    {
        let db = sled::open(data.join("store")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let mut prev = "0".repeat(64);
        for kv in audit.iter() {
            let (k, v) = kv.unwrap();
            let mut e: enrolld::store::AuditRecord = serde_json::from_slice(&v).unwrap();
            if e.seq == 2 {
                e.detail = "nothing to see".into();
            }
            e.prev_hash = prev;
            e.hash = enrolld::store::registry_records::audit_hash(&e);
            prev = e.hash.clone();
            audit.insert(k, serde_json::to_vec(&e).unwrap()).unwrap();
        }
        let mut head = 4u64.to_be_bytes().to_vec();
        head.extend_from_slice(prev.as_bytes());
        db.open_tree("meta")
            .unwrap()
            .insert("audit_head", head)
            .unwrap();
        db.flush().unwrap();
    }
    // As a hash chain it verifies…
    {
        let store = enrolld::store::sled_store::SledStore::open(&data.join("store")).unwrap();
        assert_eq!(enrolld::audit::verify::verify_audit(&store).unwrap(), Ok(4));
    }
    // …but not against the signed checkpoint.
    let bad = enrolld(&["audit", "verify"], &data);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("entry 4 does not match its signed checkpoint"),
        "{}",
        text(&bad)
    );
    // Nor does removing the checkpoints from the store help.
    {
        let db = sled::open(data.join("store")).unwrap();
        db.open_tree("audit_checkpoints").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let bad = enrolld(&["audit", "verify"], &data);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("no longer holds the newest checkpoint"),
        "{}",
        text(&bad)
    );
}

#[tokio::test]
async fn checkpoints_are_signed_while_serving_and_verified_by_the_api() {
    let s = Server::start("[audit]\ncheckpoint_entries = 2\n").await;
    let admin = s.admin_token();
    for i in 0..2 {
        s.api(reqwest::Method::POST,
            "/api/v1/people",
            &admin,
            Some(json!({"external_id": format!("q{i}"), "email": format!("q{i}@corp.example"), "display_name": "Q"})),
        )
        .await;
    }
    // The task signs entry 2 within its next look at the head (once a second).
    let mut v = Value::Null;
    for _ in 0..100 {
        v = s
            .api(reqwest::Method::GET, "/api/v1/audit/verify", &admin, None)
            .await
            .1;
        if v["last_checkpoint"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["last_checkpoint"], 2, "{v}");
    assert_eq!(v["unsigned_entries"], 0, "{v}");
    s.stop().await;
}
