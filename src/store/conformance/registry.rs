//! Subjects, off-boarding, approvals and the audit log.

use std::path::Path;

use super::records::*;
use super::Opener;
use crate::ids::{AccountId, CredentialId, EabKid};
use crate::revocation::RevocationReason;
use crate::states::{AccountStatus, ApprovalStatus, SubjectStatus};
use crate::store::{AuditCheckpointRecord, CreateAccount, CreateSubject, InsertOutcome};

/// A subject is unique by kind and external id; updates are compare-and-swap.
pub fn subjects_are_unique_and_updated_by_compare_and_swap(open: &Opener, dir: &Path) {
    let s = open(dir);
    let a = subject("subj-u", "ext-u");
    assert_eq!(s.create_subject(&a).unwrap(), CreateSubject::Created);
    let again = subject("subj-v", "ext-u");
    match s.create_subject(&again).unwrap() {
        CreateSubject::Exists(existing) => assert_eq!(existing.id, a.id),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.get_subject_by_external("device", "ext-u")
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    assert!(s
        .get_subject_by_external("person", "ext-u")
        .unwrap()
        .is_none());
    let mut b = a.clone();
    b.name = Some("renamed".into());
    assert!(s.update_subject(&a, &b).unwrap());
    let mut c = a.clone();
    c.name = Some("stale".into());
    assert!(!s.update_subject(&a, &c).unwrap());
    assert_eq!(
        s.get_subject(&a.id).unwrap().unwrap().name.as_deref(),
        Some("renamed")
    );
    let mut n = 0;
    s.scan_subjects(&mut |_| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 1);
}

/// Off-boarding: one step revokes good and held certificates (not those revoked for good),
/// disables credentials, withdraws EAB keys, deactivates their accounts, rejects approvals.
pub fn offboarding_revokes_disables_and_withdraws_at_once(open: &Opener, dir: &Path) {
    let s = open(dir);
    let sub = subject("subj-o", "o");
    s.create_subject(&sub).unwrap();
    for hex in ["1401", "1402", "1403"] {
        let mut c = cert(hex, "o", 99);
        c.subject_id = Some(sub.id.clone());
        assert_eq!(commit(&*s, c, None), InsertOutcome::Inserted);
    }
    assert!(s.hold_for_suspension(&serial("1402"), 3).unwrap());
    assert!(s
        .revoke_certificate(&serial("1403"), 4, RevocationReason::Superseded)
        .unwrap());
    let mut c = cred("cred-o", 1, i64::MAX);
    c.subject_id = Some(sub.id.clone());
    s.create_credential(&c).unwrap();
    s.create_eab_key(&eab_key("kid-o", Some(&sub.id))).unwrap();
    assert_eq!(
        s.create_account(&account("acct-o", "thumb-o", Some("kid-o")))
            .unwrap(),
        CreateAccount::Created
    );
    s.create_approval(&approval("appr-o", "cred-o", "fp", Some(&sub.id)))
        .unwrap();
    let sum = s
        .offboard_subject(&sub.id, 7, RevocationReason::CessationOfOperation)
        .unwrap();
    assert_eq!(sum.certificates_revoked, 2);
    assert_eq!(sum.credentials_disabled, 1);
    assert_eq!(sum.eab_keys_withdrawn, 1);
    assert_eq!(sum.accounts_deactivated, 1);
    assert_eq!(sum.approvals_rejected, 1);
    assert_eq!(
        s.revocation_of(&serial("1401")).unwrap(),
        Some(Some((7, RevocationReason::CessationOfOperation)))
    );
    assert_eq!(
        s.revocation_of(&serial("1402")).unwrap(),
        Some(Some((3, RevocationReason::CessationOfOperation)))
    );
    assert_eq!(
        s.revocation_of(&serial("1403")).unwrap(),
        Some(Some((4, RevocationReason::Superseded)))
    );
    assert!(
        s.get_credential(&CredentialId::parse("cred-o").unwrap())
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        s.get_eab_key(&EabKid::parse("kid-o").unwrap())
            .unwrap()
            .unwrap()
            .withdrawn
    );
    assert_ne!(
        s.get_account(&AccountId::parse("acct-o").unwrap())
            .unwrap()
            .unwrap()
            .status,
        AccountStatus::Valid
    );
    assert_eq!(
        s.get_subject(&sub.id).unwrap().unwrap().status,
        SubjectStatus::Offboarded
    );
    let mut c = cert("1404", "o", 99);
    c.subject_id = Some(sub.id.clone());
    assert_eq!(commit(&*s, c, None), InsertOutcome::SubjectInactive);
}

/// Subjects are scanned in id order, from a cursor when one is given.
pub fn subjects_scan_in_id_order_from_a_cursor(open: &Opener, dir: &Path) {
    let s = open(dir);
    for (id, ext) in [("s-c", "e3"), ("s-a", "e1"), ("s-d", "e4"), ("s-b", "e2")] {
        assert_eq!(
            s.create_subject(&subject(id, ext)).unwrap(),
            CreateSubject::Created
        );
    }
    let ids = |after: Option<&str>, stop: usize| {
        let after = after.map(|a| crate::ids::SubjectId::parse(a).unwrap());
        let mut seen = Vec::new();
        s.scan_subjects_after(after.as_ref(), &mut |r| {
            seen.push(r.id.as_str().to_owned());
            seen.len() < stop
        })
        .unwrap();
        seen
    };
    assert_eq!(ids(None, 10), ["s-a", "s-b", "s-c", "s-d"]);
    assert_eq!(ids(Some("s-b"), 10), ["s-c", "s-d"]);
    assert_eq!(
        ids(Some("s-bb"), 10),
        ["s-c", "s-d"],
        "a cursor that is no id"
    );
    assert_eq!(ids(Some("s-a"), 1), ["s-b"], "stops when told");
    assert!(ids(Some("s-d"), 10).is_empty());
}

/// One approval per credential and CSR; a decision is taken once.
pub fn approvals_are_recorded_once_and_decided_once(open: &Opener, dir: &Path) {
    let s = open(dir);
    let first = s
        .create_approval(&approval("appr-1", "cred", "fp", None))
        .unwrap();
    let again = s
        .create_approval(&approval("appr-2", "cred", "fp", None))
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        s.get_approval_for("cred", "fp").unwrap().unwrap().id,
        first.id
    );
    assert_eq!(
        s.list_approvals(ApprovalStatus::Pending, 10).unwrap().len(),
        1
    );
    assert!(s
        .decide_approval(&first.id, ApprovalStatus::Approved, "token:x", 5)
        .unwrap());
    assert!(!s
        .decide_approval(&first.id, ApprovalStatus::Rejected, "token:y", 6)
        .unwrap());
    let decided = s.get_approval(&first.id).unwrap().unwrap();
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(decided.decided_by.as_deref(), Some("token:x"));
    assert!(s
        .list_approvals(ApprovalStatus::Pending, 10)
        .unwrap()
        .is_empty());
}

/// A SCEP transaction is kept under its key; the first record of a key stays, and it
/// survives a reopen.
pub fn scep_transactions_keep_their_first_record(open: &Opener, dir: &Path) {
    let rec = |csr: &str| crate::store::ScepTransactionRecord {
        version: 1,
        key: "k1".into(),
        label: None,
        credential: Some(crate::ids::CredentialId::parse("scep-abc").unwrap()),
        renews: None,
        csr: csr.into(),
        created_at: 7,
    };
    {
        let s = open(dir);
        assert!(s.get_scep_transaction("k1").unwrap().is_none());
        s.put_scep_transaction(&rec("first")).unwrap();
        s.put_scep_transaction(&rec("second")).unwrap();
        assert_eq!(s.get_scep_transaction("k1").unwrap(), Some(rec("first")));
        assert!(s.get_scep_transaction("k2").unwrap().is_none());
        s.flush().unwrap();
    }
    let s = open(dir);
    assert_eq!(s.get_scep_transaction("k1").unwrap(), Some(rec("first")));
}

/// Entries are numbered from 1 and each names the hash of the one before.
pub fn the_audit_log_is_a_hash_chain(open: &Opener, dir: &Path) {
    let s = open(dir);
    for i in 0..3 {
        s.append_audit("system", "test.action", &format!("t{i}"), "ok", "", i)
            .unwrap();
    }
    let all = s.audit_entries(0, 10).unwrap();
    assert_eq!(all.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[0].prev_hash, "0".repeat(64));
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_ne!(pair[1].hash, pair[0].hash);
    }
    let tail = s.audit_entries(1, 10).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0].target, "t1");
    assert_eq!(s.audit_entries(0, 1).unwrap().len(), 1);
}

/// The head follows every append; checkpoints come back in sequence order, the newest last.
pub fn audit_checkpoints_are_kept_in_sequence_order(open: &Opener, dir: &Path) {
    {
        let s = open(dir);
        assert_eq!(s.audit_head().unwrap(), None);
        assert!(s.last_audit_checkpoint().unwrap().is_none());
        for i in 0..3 {
            let e = s
                .append_audit("system", "test.action", &format!("t{i}"), "ok", "", i)
                .unwrap();
            assert_eq!(s.audit_head().unwrap(), Some((e.seq, e.hash.clone())));
        }
        for seq in [2u64, 1, 3] {
            s.put_audit_checkpoint(&AuditCheckpointRecord {
                version: 1,
                seq,
                hash: format!("h{seq}"),
                time: seq as i64,
                key_id: "k".into(),
                signature: format!("s{seq}"),
            })
            .unwrap();
        }
        s.flush().unwrap();
    }
    let s = open(dir);
    let seqs: Vec<u64> = s
        .audit_checkpoints(0, 10)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(s.audit_checkpoints(1, 1).unwrap()[0].seq, 2);
    assert_eq!(s.last_audit_checkpoint().unwrap().unwrap().seq, 3);
    assert_eq!(s.audit_head().unwrap().unwrap().0, 3);
}
