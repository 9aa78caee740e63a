//! Tests of the sled store: trees, transactions and what a reopened store keeps.

use super::*;
use crate::store::conformance::records::{cert, cred};
use crate::store::{CredentialSpend, RegistryStore};

/// A second handle on a directory another one holds is refused, after the wait for a lock
/// that is being let go.
#[test]
fn a_locked_directory_is_refused_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let t = std::time::Instant::now();
    let err = SledStore::open(dir.path())
        .err()
        .expect("the directory is locked");
    assert!(
        format!("{err:?}").contains("could not acquire lock"),
        "{err:?}"
    );
    assert!(t.elapsed() >= LOCK_WAIT);
}

#[test]
fn concurrent_flushes_all_return_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.insert_certificate(&cert(&format!("{:02x}", i + 1), "x", 9), None)
                    .unwrap();
                let before = s.data_syncs();
                s.flush().unwrap();
                assert!(s.data_syncs() > before, "returned before a flush completed");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(s.data_syncs() <= 8);
    drop(Arc::try_unwrap(s).ok().unwrap());
    let s = SledStore::open(dir.path()).unwrap();
    for i in 1..=8u8 {
        let serial = Serial::parse_hex(&format!("{i:02x}")).unwrap();
        assert!(s.get_certificate(&serial).unwrap().is_some());
    }
}

/// Synchronous callers flush from async workers too (admin handlers); tokio's own blocking
/// receive would panic there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_works_on_an_async_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.insert_certificate(&cert("0b", "x", 9), None).unwrap();
    let before = s.data_syncs();
    s.flush().unwrap();
    assert!(s.data_syncs() > before);
}

#[test]
fn every_durable_write_ends_in_an_fdatasync_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let before = s.data_syncs();
    // Sequential commits: nothing to share a flush with, so one fdatasync each.
    for i in 1..=3u8 {
        let c = CertificateCommit {
            cert: cert(&format!("{i:02x}"), "x", 9),
            kind: CommitKind::Issue(None),
            audit: None,
        };
        assert_eq!(
            s.commit_certificate(c).wait_blocking().unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.data_syncs(), before + u64::from(i));
    }
    // The synchronous flush and the barrier take the same path.
    s.flush().unwrap();
    assert_eq!(s.data_syncs(), before + 4);
    s.durable().wait_blocking().unwrap();
    assert_eq!(s.data_syncs(), before + 5);
    drop(s);
    let s = SledStore::open(dir.path()).unwrap();
    assert!(s
        .get_certificate(&Serial::parse_hex("03").unwrap())
        .unwrap()
        .is_some());
}

#[test]
fn a_store_without_its_log_file_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    // sled with a temporary flag writes no `db` file where enrolld looks for it.
    let db = sled::Config::new().temporary(true).open().unwrap();
    let err = DurableFlush::new(db, dir.path()).err().unwrap();
    assert!(err.to_string().contains("fdatasync"), "{err}");
}

crate::store_conformance!(
    |dir: &std::path::Path| -> std::sync::Arc<dyn crate::store::conformance::FullStore> {
        std::sync::Arc::new(SledStore::open(dir).unwrap())
    }
);

/// The `revoked` index keeps the reason's name, as it did when reasons were strings.
#[test]
fn revoked_entries_keep_the_reason_name() {
    for &reason in RevocationReason::ALL {
        let v = revoked_entry(5, 9, reason);
        let mut want = 5i64.to_be_bytes().to_vec();
        want.extend_from_slice(&9i64.to_be_bytes());
        want.extend_from_slice(reason.as_str().as_bytes());
        assert_eq!(v, want);
        assert_eq!(parse_revoked_entry(&v), Some((5, 9, reason)));
    }
    let mut odd = revoked_entry(5, 9, RevocationReason::KeyCompromise);
    odd.truncate(16);
    odd.extend_from_slice(b"\xff");
    assert_eq!(
        parse_revoked_entry(&odd),
        Some((5, 9, RevocationReason::Unspecified))
    );
}

#[test]
fn revoke_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.insert_certificate(&cert("05", "x", 9), None).unwrap();
    let serial = Serial::parse_hex("05").unwrap();
    assert!(s
        .revoke_certificate(&serial, 7, RevocationReason::KeyCompromise)
        .unwrap());
    assert!(!s
        .revoke_certificate(&serial, 8, RevocationReason::Superseded)
        .unwrap());
    let rec = s.get_certificate(&serial).unwrap().unwrap();
    assert_eq!(
        rec.status,
        CertStatus::Revoked {
            revoked_at: 7,
            reason: RevocationReason::KeyCompromise,
            suspension: false,
        }
    );
    assert!(s
        .revoke_certificate(
            &Serial::parse_hex("06").unwrap(),
            7,
            RevocationReason::Unspecified,
        )
        .is_err());
}

fn spend(cred: &str, fingerprint: &str) -> CommitKind {
    CommitKind::Issue(Some(Consumes::Credential(CredentialSpend {
        id: CredentialId::parse(cred).unwrap(),
        csr_fingerprint: fingerprint.into(),
        now: 1,
    })))
}

fn commit(serial: &str, kind: CommitKind) -> CertificateCommit {
    CertificateCommit {
        cert: cert(serial, "dev1", 9),
        kind,
        audit: Some(crate::store::AuditDraft {
            actor: "est:test".into(),
            action: "certificate.issue".into(),
            detail: "test".into(),
            at: 1,
        }),
    }
}

#[test]
fn one_batch_spends_a_one_time_credential_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.create_credential(&cred("c1", 1, i64::MAX)).unwrap();
    let (a, b) = (
        commit("0a", spend("c1", "fa")),
        commit("0b", spend("c1", "fb")),
    );
    let out = s.commit.apply(&[&a, &b]).unwrap();
    let out: Vec<_> = out.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(
        out,
        vec![InsertOutcome::Inserted, InsertOutcome::CredentialUnusable]
    );
    assert!(s.get_certificate(&a.cert.serial).unwrap().is_some());
    assert!(s.get_certificate(&b.cert.serial).unwrap().is_none());
    let c = s
        .get_credential(&CredentialId::parse("c1").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((c.uses_left, c.uses.len()), (0, 1));
    // The same CSR again in a later batch gets the certificate it paid for.
    let again = commit("0c", spend("c1", "fa"));
    assert_eq!(
        s.commit.apply(&[&again]).unwrap().pop().unwrap().unwrap(),
        InsertOutcome::AlreadyIssued(a.cert.serial.clone())
    );
    // One audit entry: the refused writes left none.
    assert_eq!(s.audit_entries(0, 10).unwrap().len(), 1);
}

#[test]
fn a_refused_write_leaves_nothing_and_its_batch_stands() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.create_credential(&cred("c2", 1, i64::MAX)).unwrap();
    s.create_credential(&cred("c3", 1, i64::MAX)).unwrap();
    // The (unknown) subject refuses the write before anything of it is written.
    let mut refused = commit("1a", spend("c2", "f1"));
    refused.cert.subject_id = Some(crate::ids::SubjectId::parse("nosuchsubject").unwrap());
    let ok = commit("1b", spend("c3", "f2"));
    let taken = commit("1b", CommitKind::Issue(None));
    let out: Vec<_> = s
        .commit
        .apply(&[&refused, &ok, &taken])
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        out,
        vec![
            InsertOutcome::SubjectInactive,
            InsertOutcome::Inserted,
            InsertOutcome::SerialTaken
        ]
    );
    let c2 = s
        .get_credential(&CredentialId::parse("c2").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(c2.uses_left, 1, "the refused write spent nothing");
    assert!(s.get_certificate(&refused.cert.serial).unwrap().is_none());
    assert_eq!(s.count_certificates().unwrap(), 1);
}

#[test]
fn concurrent_commits_are_durable_with_a_valid_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let tickets: Vec<_> = (0..25u32)
                        .map(|i| {
                            let serial = format!("{:04x}", t * 100 + i + 1);
                            s.commit_certificate(commit(&serial, CommitKind::Issue(None)))
                        })
                        .collect();
                    for t in tickets {
                        assert_eq!(t.wait_blocking().unwrap(), InsertOutcome::Inserted);
                    }
                    s.durable().wait_blocking().unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    // Reopened (the committer joined on drop): everything is there.
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.count_certificates().unwrap(), 200);
    assert_eq!(crate::audit::verify::verify_audit(&s).unwrap(), Ok(200));
}

#[test]
fn insert_indexes_and_refuses_duplicate_serial() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        s.insert_certificate(&cert("01", "Dev1", 100), None)
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_certificate(&cert("02", "dev1", 50), None).unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_certificate(&cert("01", "other", 10), None)
            .unwrap(),
        InsertOutcome::SerialTaken
    );
    assert_eq!(s.certificates_by_subject("DEV1").unwrap().len(), 2);
    let exp = s.certificates_expiring_before(60, 10).unwrap();
    assert_eq!(exp, vec![Serial::parse_hex("02").unwrap()]);
    assert_eq!(
        s.get_certificate(&Serial::parse_hex("01").unwrap())
            .unwrap()
            .unwrap()
            .subject,
        "Dev1"
    );
}

#[test]
fn one_time_credential_is_spent_once_and_retry_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.create_credential(&cred("u1", 1, i64::MAX)).unwrap();
    assert!(s.create_credential(&cred("u1", 1, i64::MAX)).is_err());
    let spend = |fp: &str| {
        Consumes::Credential(CredentialSpend {
            id: CredentialId::parse("u1").unwrap(),
            csr_fingerprint: fp.into(),
            now: 1,
        })
    };
    assert_eq!(
        s.insert_certificate(&cert("0a", "dev1", 9), Some(&spend("aa")))
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_certificate(&cert("0b", "dev1", 9), Some(&spend("aa")))
            .unwrap(),
        InsertOutcome::AlreadyIssued(Serial::parse_hex("0a").unwrap())
    );
    assert_eq!(
        s.insert_certificate(&cert("0c", "dev1", 9), Some(&spend("bb")))
            .unwrap(),
        InsertOutcome::CredentialUnusable
    );
    // The refused inserts left nothing behind.
    assert!(s
        .get_certificate(&Serial::parse_hex("0b").unwrap())
        .unwrap()
        .is_none());
    assert_eq!(s.count_certificates().unwrap(), 1);
}

/// The per-day issuance counts are counted again from the certificates when a backup is
/// restored (whatever the backup holds for them) and when a store without them opens.
#[test]
fn issuance_counts_are_recounted_on_restore_and_on_first_open() {
    use crate::store::{ChannelGroup, DailyIssued};
    let issued = |hex: &str, channel: &str| {
        let mut c = cert(hex, "dev", i64::MAX);
        c.issued_at = 3 * 86_400 + 7;
        c.channel = channel.into();
        c
    };
    let want = vec![
        DailyIssued {
            day: 3,
            group: ChannelGroup::Est,
            count: 2,
        },
        DailyIssued {
            day: 3,
            group: ChannelGroup::Scep,
            count: 1,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut export = {
        let s = SledStore::open(dir.path()).unwrap();
        for (hex, channel) in [("01", "est-simpleenroll"), ("02", "est-serverkeygen")] {
            s.insert_certificate(&issued(hex, channel), None).unwrap();
        }
        s.insert_certificate(&issued("03", "scep"), None).unwrap();
        assert_eq!(s.issued_per_day(0, 10).unwrap(), want);
        // A store from before the counts: no tree contents, no mark.
        s.tree_for_tests(sled_daily::TREE).clear().unwrap();
        s.meta_tree().remove(sled_daily::COUNTED).unwrap();
        s.flush().unwrap();
        s.export().unwrap()
    };
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.issued_per_day(0, 10).unwrap(), want, "counted on open");
    drop(s);

    // A backup whose counts are wrong restores with the certificates' counts.
    for (_, name, items) in &mut export {
        if name.as_slice() == sled_daily::TREE.as_bytes() {
            items.push(vec![b"garbage".to_vec(), 99u64.to_be_bytes().to_vec()]);
        }
    }
    let fresh = tempfile::tempdir().unwrap();
    let restored = SledStore::open(fresh.path()).unwrap();
    restored.import(export).unwrap();
    assert_eq!(restored.issued_per_day(0, 10).unwrap(), want);
}
