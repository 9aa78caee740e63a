//! Certificates, what they spend, revocation, counters, scans and indexes.

use std::path::Path;

use super::records::*;
use super::Opener;
use crate::error::Error;
use crate::ids::{CredentialId, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::SubjectStatus;
use crate::store::{
    AdminTokenRecord, AuditDraft, CertificateCommit, CommitKind, Consumes, CreateSubject,
    InsertOutcome, PickupRecord,
};

/// Insert: a serial is unique; the first record stays.
pub fn a_taken_serial_is_refused_and_keeps_its_record(open: &Opener, dir: &Path) {
    let s = open(dir);
    assert_eq!(
        s.insert_certificate(&cert("0a01", "first", 9), None)
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        commit(&*s, cert("0a01", "second", 9), None),
        InsertOutcome::SerialTaken
    );
    assert_eq!(
        s.get_certificate(&serial("0a01")).unwrap().unwrap().subject,
        "first"
    );
    assert_eq!(s.count_certificates().unwrap(), 1);
}

/// A one-time credential pays for one certificate, whatever the concurrency.
pub fn a_one_time_credential_is_spent_once_under_concurrency(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_credential(&cred("once", 1, i64::MAX)).unwrap();
    let outcomes: Vec<InsertOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                scope.spawn(move || {
                    commit(
                        &*s,
                        cert(&format!("0b{i:02x}"), "dev", 9),
                        spend("once", &format!("fp{i}"), 1),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted = outcomes
        .iter()
        .filter(|o| **o == InsertOutcome::Inserted)
        .count();
    assert_eq!(inserted, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        InsertOutcome::Inserted | InsertOutcome::CredentialUnusable
    )));
    let c = s
        .get_credential(&CredentialId::parse("once").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((c.uses_left, c.uses.len()), (0, 1));
    assert_eq!(s.count_certificates().unwrap(), 1);
}

/// The same CSR sent again with the same credential is answered with the first certificate,
/// and costs no use.
pub fn an_identical_retry_returns_the_first_certificate(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_credential(&cred("twice", 2, i64::MAX)).unwrap();
    assert_eq!(
        commit(&*s, cert("0c01", "dev", 9), spend("twice", "same", 1)),
        InsertOutcome::Inserted
    );
    assert_eq!(
        commit(&*s, cert("0c02", "dev", 9), spend("twice", "same", 1)),
        InsertOutcome::AlreadyIssued(serial("0c01"))
    );
    assert!(s.get_certificate(&serial("0c02")).unwrap().is_none());
    let c = s
        .get_credential(&CredentialId::parse("twice").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(c.uses_left, 1);
}

/// Expiry is checked against the spend's time; a disabled or unknown credential pays nothing.
pub fn expired_disabled_or_unknown_credentials_pay_for_nothing(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_credential(&cred("short", 5, 10)).unwrap();
    assert_eq!(
        commit(&*s, cert("0d01", "dev", 9), spend("short", "a", 10)),
        InsertOutcome::CredentialUnusable
    );
    assert_eq!(
        commit(&*s, cert("0d02", "dev", 9), spend("short", "b", 9)),
        InsertOutcome::Inserted
    );
    let id = CredentialId::parse("short").unwrap();
    assert!(s.disable_credential(&id).unwrap());
    assert!(!s.disable_credential(&id).unwrap());
    assert_eq!(
        commit(&*s, cert("0d03", "dev", 9), spend("short", "c", 9)),
        InsertOutcome::CredentialUnusable
    );
    assert_eq!(
        commit(&*s, cert("0d04", "dev", 9), spend("nobody", "d", 9)),
        InsertOutcome::CredentialUnusable
    );
    assert!(matches!(
        s.disable_credential(&CredentialId::parse("nobody").unwrap()),
        Err(Error::NotFound(_))
    ));
    assert_eq!(s.count_certificates().unwrap(), 1);
}

/// A pickup link pays for one certificate, and none once expired.
pub fn a_pickup_link_is_spent_once(open: &Opener, dir: &Path) {
    let s = open(dir);
    let sid = SubjectId::parse("subj-pickup").unwrap();
    assert_eq!(
        s.create_subject(&subject(sid.as_str(), "p")).unwrap(),
        CreateSubject::Created
    );
    for (id, expires_at) in [("link1", i64::MAX), ("link2", 5)] {
        s.create_pickup(&PickupRecord {
            version: 1,
            id: id.into(),
            secret_hash: "00".into(),
            subject_id: sid.clone(),
            created_at: 0,
            expires_at,
            legacy_p12: false,
            spent: None,
            common_name: None,
            sans: None,
        })
        .unwrap();
    }
    let link = |id: &str| {
        Some(Consumes::Pickup {
            id: id.into(),
            now: 5,
        })
    };
    assert_eq!(
        commit(&*s, cert("0e01", "p", 9), link("link1")),
        InsertOutcome::Inserted
    );
    assert_eq!(
        commit(&*s, cert("0e02", "p", 9), link("link1")),
        InsertOutcome::CredentialUnusable
    );
    assert_eq!(
        commit(&*s, cert("0e03", "p", 9), link("link2")),
        InsertOutcome::CredentialUnusable
    );
    assert_eq!(
        s.get_pickup("link1").unwrap().unwrap().spent,
        Some(serial("0e01"))
    );
}

/// RFC 7030 §4.2.2: a certificate renews once; the identical retry gets the same successor; a
/// revoked certificate renews not at all.
pub fn a_certificate_renews_once(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.insert_certificate(&cert("0f01", "dev", 9), None).unwrap();
    s.insert_certificate(&cert("0f02", "dev", 9), None).unwrap();
    let renew = |old: &str, fp: &str| {
        Some(Consumes::Renewal {
            old: serial(old),
            csr_fingerprint: fp.into(),
        })
    };
    assert_eq!(
        commit(&*s, cert("0f11", "dev", 9), renew("0f01", "x")),
        InsertOutcome::Inserted
    );
    assert_eq!(
        commit(&*s, cert("0f12", "dev", 9), renew("0f01", "x")),
        InsertOutcome::AlreadyIssued(serial("0f11"))
    );
    assert_eq!(
        commit(&*s, cert("0f13", "dev", 9), renew("0f01", "y")),
        InsertOutcome::CredentialUnusable
    );
    assert!(s
        .revoke_certificate(&serial("0f02"), 1, RevocationReason::Superseded)
        .unwrap());
    assert_eq!(
        commit(&*s, cert("0f14", "dev", 9), renew("0f02", "z")),
        InsertOutcome::CredentialUnusable
    );
    assert_eq!(
        commit(&*s, cert("0f15", "dev", 9), renew("0fff", "z")),
        InsertOutcome::CredentialUnusable
    );
}

/// The subject's status is checked inside the issuing transaction.
pub fn issuance_for_an_inactive_subject_is_refused(open: &Opener, dir: &Path) {
    let s = open(dir);
    let sub = subject("subj-a", "a");
    s.create_subject(&sub).unwrap();
    let mut c = cert("1001", "a", 9);
    c.subject_id = Some(sub.id.clone());
    assert_eq!(commit(&*s, c.clone(), None), InsertOutcome::Inserted);
    assert_eq!(
        s.subject_certificates(&sub.id).unwrap(),
        vec![serial("1001")]
    );
    // Issuance bumped the generation: an update against the stale record loses.
    let mut suspended = sub.clone();
    suspended.status = SubjectStatus::Suspended;
    assert!(!s.update_subject(&sub, &suspended).unwrap());
    let current = s.get_subject(&sub.id).unwrap().unwrap();
    assert!(current.generation > sub.generation);
    let mut suspended = current.clone();
    suspended.status = SubjectStatus::Suspended;
    assert!(s.update_subject(&current, &suspended).unwrap());
    c.serial = serial("1002");
    assert_eq!(commit(&*s, c.clone(), None), InsertOutcome::SubjectInactive);
    c.serial = serial("1003");
    c.subject_id = Some(SubjectId::parse("subj-none").unwrap());
    assert_eq!(commit(&*s, c, None), InsertOutcome::SubjectInactive);
}

/// Once a commit's ticket resolves, the certificate, what it spent and its audit entry survive
/// a reopen; so does whatever preceded a resolved `durable()` ticket or a `flush()`.
pub fn a_commit_is_durable_once_its_ticket_resolves(open: &Opener, dir: &Path) {
    {
        let s = open(dir);
        s.create_credential(&cred("dur", 1, i64::MAX)).unwrap();
        let outcome = s
            .commit_certificate(CertificateCommit {
                cert: cert("1101", "dev", 9),
                kind: CommitKind::Issue(spend("dur", "fp", 1)),
                audit: Some(AuditDraft {
                    actor: "est:dur".into(),
                    action: "certificate.issue".into(),
                    detail: "conformance".into(),
                    at: 1,
                }),
            })
            .wait_blocking()
            .unwrap();
        assert_eq!(outcome, InsertOutcome::Inserted);
        s.put_admin_token(&AdminTokenRecord {
            version: 1,
            id: "tok1".into(),
            secret_hash: "00".into(),
            name: "t".into(),
            scopes: vec!["read".into()],
            created_at: 0,
            expires_at: None,
        })
        .unwrap();
        s.durable().wait_blocking().unwrap();
    }
    let s = open(dir);
    assert!(s.get_certificate(&serial("1101")).unwrap().is_some());
    let c = s
        .get_credential(&CredentialId::parse("dur").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(c.uses_left, 0);
    assert!(s.get_admin_token("tok1").unwrap().is_some());
    let audit = s.audit_entries(0, 10).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.target == "1101" && a.actor == "est:dur"));
}

/// RFC 5280 §5.3.1: a final reason replaces a hold (keeping its date); reactivation lifts only
/// a suspension's hold; every change bumps the revocation epoch.
pub fn holds_final_reasons_and_revocation_status(open: &Opener, dir: &Path) {
    let s = open(dir);
    for hex in ["1201", "1202", "1203"] {
        s.insert_certificate(&cert(hex, "dev", 99), None).unwrap();
    }
    let (a, b, c) = (serial("1201"), serial("1202"), serial("1203"));
    assert_eq!(s.revocation_of(&a).unwrap(), Some(None));
    assert_eq!(s.revocation_of(&serial("12ff")).unwrap(), None);
    let e0 = s.revocation_epoch().unwrap();
    assert!(s.hold_for_suspension(&a, 5).unwrap());
    assert!(s.revocation_epoch().unwrap() > e0);
    assert!(!s.hold_for_suspension(&a, 6).unwrap());
    assert!(s
        .revoke_certificate(&a, 9, RevocationReason::KeyCompromise)
        .unwrap());
    assert_eq!(
        s.revocation_of(&a).unwrap(),
        Some(Some((5, RevocationReason::KeyCompromise)))
    );
    assert!(!s.release_hold(&a).unwrap());
    assert!(!s
        .revoke_certificate(&a, 10, RevocationReason::CertificateHold)
        .unwrap());
    assert!(!s
        .revoke_certificate(&a, 10, RevocationReason::Superseded)
        .unwrap());
    assert!(s
        .revoke_certificate(&b, 5, RevocationReason::CertificateHold)
        .unwrap());
    assert!(!s.hold_for_suspension(&b, 6).unwrap());
    assert!(!s.release_hold(&b).unwrap());
    assert!(s.hold_for_suspension(&c, 5).unwrap());
    let e1 = s.revocation_epoch().unwrap();
    assert!(s.release_hold(&c).unwrap());
    assert!(s.revocation_epoch().unwrap() > e1);
    assert_eq!(s.revocation_of(&c).unwrap(), Some(None));
    let mut listed = Vec::new();
    s.scan_revoked(&mut |serial, at, reason, not_after| {
        listed.push((serial.to_hex(), at, reason, not_after))
    })
    .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("1201".into(), 5, RevocationReason::KeyCompromise, 99),
            ("1202".into(), 5, RevocationReason::CertificateHold, 99),
        ]
    );
    assert!(matches!(
        s.revoke_certificate(&serial("12ff"), 1, RevocationReason::Unspecified),
        Err(Error::NotFound(_))
    ));
}

/// Counters only grow, and survive a reopen once flushed.
pub fn counters_are_monotonic_and_durable(open: &Opener, dir: &Path) {
    let last = {
        let s = open(dir);
        let a = s.next_counter("crl").unwrap();
        let b = s.next_counter("crl").unwrap();
        assert!(b > a);
        assert_eq!(s.next_counter("other").unwrap(), a);
        s.flush().unwrap();
        b
    };
    let s = open(dir);
    assert!(s.next_counter("crl").unwrap() > last);
}

/// The size on disk is more than zero once something was written and flushed, and does not
/// shrink when more is written.
pub fn the_size_on_disk_is_reported(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.insert_certificate(&cert("1401", "sized", 9), None)
        .unwrap();
    s.flush().unwrap();
    let first = s.size_on_disk().unwrap();
    assert!(first > 0, "{first}");
    for i in 2..50u32 {
        let c = cert(&format!("14{i:02x}"), "sized", 9);
        s.insert_certificate(&c, None).unwrap();
    }
    s.flush().unwrap();
    let later = s.size_on_disk().unwrap();
    assert!(later >= first, "{first} then {later}");
}

/// Scans run in serial order and resume after a serial; the indexes by subject name
/// (case-insensitive) and by expiry (soonest first) answer what was inserted.
pub fn scans_and_indexes(open: &Opener, dir: &Path) {
    let s = open(dir);
    for (hex, subj, exp) in [
        ("1303", "Dev-B", 30),
        ("1301", "dev-a", 10),
        ("1302", "dev-b", 20),
    ] {
        s.insert_certificate(&cert(hex, subj, exp), None).unwrap();
    }
    let mut all = Vec::new();
    s.scan_certificates(None, &mut |r| {
        all.push(r.serial.to_hex());
        true
    })
    .unwrap();
    assert_eq!(all, ["1301", "1302", "1303"]);
    let mut after = Vec::new();
    s.scan_certificates(Some(&serial("1301")), &mut |r| {
        after.push(r.serial.to_hex());
        false
    })
    .unwrap();
    assert_eq!(after, ["1302"]);
    let mut by_name = s.certificates_by_subject("DEV-B").unwrap();
    by_name.sort();
    assert_eq!(by_name, vec![serial("1302"), serial("1303")]);
    assert_eq!(
        s.certificates_expiring_before(25, 10).unwrap(),
        vec![serial("1301"), serial("1302")]
    );
    assert_eq!(
        s.certificates_expiring_before(100, 1).unwrap(),
        vec![serial("1301")]
    );
    assert_eq!(s.count_certificates().unwrap(), 3);
}

/// Credential ids are unique; admin tokens are put, listed and deleted.
pub fn ids_of_credentials_are_unique_and_tokens_deletable(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_credential(&cred("dup", 1, i64::MAX)).unwrap();
    assert!(s.create_credential(&cred("dup", 5, i64::MAX)).is_err());
    assert_eq!(
        s.get_credential(&CredentialId::parse("dup").unwrap())
            .unwrap()
            .unwrap()
            .uses_left,
        1
    );
    let token = AdminTokenRecord {
        version: 1,
        id: "tokd".into(),
        secret_hash: "00".into(),
        name: "t".into(),
        scopes: vec!["read".into()],
        created_at: 0,
        expires_at: None,
    };
    s.put_admin_token(&token).unwrap();
    assert_eq!(s.list_admin_tokens().unwrap().len(), 1);
    assert!(s.delete_admin_token("tokd").unwrap());
    assert!(!s.delete_admin_token("tokd").unwrap());
    assert!(s.get_admin_token("tokd").unwrap().is_none());
}

/// Every certificate write counts its certificate on its UTC issue day under its channel
/// group, in the same transaction: refused writes count nothing, and the counts survive a
/// reopen.
pub fn issuance_is_counted_per_day_and_channel_group(open: &Opener, dir: &Path) {
    use crate::store::{ChannelGroup, DailyIssued};
    const DAY: i64 = 20_000;
    let at = |day: i64, secs: i64, hex: &str, channel: &str| {
        let mut c = cert(hex, "dev", i64::MAX);
        c.issued_at = day * 86_400 + secs;
        c.channel = channel.into();
        c
    };
    let row = |day: i64, group: ChannelGroup, count: u64| DailyIssued { day, group, count };
    {
        let s = open(dir);
        for (hex, secs, channel) in [
            ("1a01", 0, "est-simpleenroll"),
            ("1a02", 86_399, "est-simplereenroll"),
            ("1a03", 10, "acme"),
        ] {
            assert_eq!(
                commit(&*s, at(DAY, secs, hex, channel), None),
                InsertOutcome::Inserted
            );
        }
        // The synchronous path counts too.
        assert_eq!(
            s.insert_certificate(&at(DAY + 1, 5, "1a04", "pickup"), None)
                .unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            commit(&*s, at(DAY + 1, 6, "1a05", "bulk"), None),
            InsertOutcome::Inserted
        );
        assert_eq!(
            commit(&*s, at(DAY - 1, 6, "1a06", "scep-renewal"), None),
            InsertOutcome::Inserted
        );
        // Refused writes count nothing: a taken serial, a credential that pays for nothing.
        assert_eq!(
            commit(&*s, at(DAY, 1, "1a01", "acme"), None),
            InsertOutcome::SerialTaken
        );
        assert_eq!(
            commit(
                &*s,
                at(DAY, 2, "1a07", "est-simpleenroll"),
                spend("missing", "fp", 1)
            ),
            InsertOutcome::CredentialUnusable
        );
        assert_eq!(
            s.issued_per_day(DAY, DAY + 1).unwrap(),
            vec![
                row(DAY, ChannelGroup::Est, 2),
                row(DAY, ChannelGroup::Acme, 1),
                row(DAY + 1, ChannelGroup::Pickup, 1),
                row(DAY + 1, ChannelGroup::Other, 1),
            ]
        );
        assert_eq!(
            s.issued_per_day(DAY - 1, DAY - 1).unwrap(),
            vec![row(DAY - 1, ChannelGroup::Scep, 1)]
        );
        assert!(s.issued_per_day(DAY + 2, DAY + 40).unwrap().is_empty());
        assert!(s.issued_per_day(DAY + 1, DAY).unwrap().is_empty());
        s.durable().wait_blocking().unwrap();
    }
    let s = open(dir);
    assert_eq!(
        s.issued_per_day(DAY - 1, DAY).unwrap(),
        vec![
            row(DAY - 1, ChannelGroup::Scep, 1),
            row(DAY, ChannelGroup::Est, 2),
            row(DAY, ChannelGroup::Acme, 1),
        ]
    );
}
