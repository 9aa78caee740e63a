//! Tests of the sled audit chain: a truncated log or a moved head fails verification.

use super::*;
use crate::audit::verify::verify_audit;

fn store_with(n: u64) -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(&dir.path().join("store")).unwrap();
    for i in 0..n {
        s.append_audit("t", "a", &i.to_string(), "ok", "", 0)
            .unwrap();
    }
    (dir, s)
}

#[test]
fn fail_audit_verify_newest_entries_removed() {
    let (_dir, s) = store_with(5);
    assert_eq!(verify_audit(&s).unwrap(), Ok(5));
    assert_eq!(s.audit_head().unwrap().map(|h| h.0), Some(5));
    // The tail cut: what is left is a valid chain, but shorter than its head.
    for seq in [5u64, 4] {
        s.reg.audit.remove(seq.to_be_bytes()).unwrap();
    }
    let why = verify_audit(&s).unwrap().unwrap_err();
    assert!(
        why.contains("ends at entry 3") && why.contains("head"),
        "{why}"
    );
    // Every entry removed.
    for seq in 1..=3u64 {
        s.reg.audit.remove(seq.to_be_bytes()).unwrap();
    }
    assert!(verify_audit(&s).unwrap().is_err());
}

#[test]
fn fail_audit_verify_head_does_not_match() {
    let (_dir, s) = store_with(3);
    // The newest entry replaced by a well-formed one that the head does not name.
    let mut e = s.audit_entries(2, 1).unwrap().remove(0);
    e.detail = "rewritten".into();
    e.hash = crate::store::registry_records::audit_hash(&e);
    s.reg
        .audit
        .insert(3u64.to_be_bytes(), serde_json::to_vec(&e).unwrap())
        .unwrap();
    let why = verify_audit(&s).unwrap().unwrap_err();
    assert!(why.contains("stored head"), "{why}");
    // An entry past the head.
    let (_dir, s) = store_with(2);
    let mut extra = s.audit_entries(1, 1).unwrap().remove(0);
    extra.seq = 3;
    extra.prev_hash = extra.hash.clone();
    extra.hash = crate::store::registry_records::audit_hash(&extra);
    s.reg
        .audit
        .insert(3u64.to_be_bytes(), serde_json::to_vec(&extra).unwrap())
        .unwrap();
    let why = verify_audit(&s).unwrap().unwrap_err();
    assert!(why.contains("beyond the stored head"), "{why}");
}

#[test]
fn empty_log_verifies() {
    let (_dir, s) = store_with(0);
    assert_eq!(verify_audit(&s).unwrap(), Ok(0));
    assert_eq!(s.audit_head().unwrap(), None);
}
