//! The store contract as tests (STYLE.md habit 11): every guarantee the storage traits'
//! documentation promises — atomic spends, unique serials, identical retries, durability once a
//! commit's ticket resolves, compare-and-swap updates, the revocation rules — checked through
//! the traits alone. A backend proves itself by running [`store_conformance!`] with a function
//! that opens it on a directory; opening the same directory again must see every durable write.

use std::path::Path;
use std::sync::Arc;

use super::{
    AcmeStore, AllowedIdentifier, ApprovalRecord, AuthzRecord, CertStatus, CertificateCommit,
    CertificateRecord, CommitKind, Consumes, CreateAccount, CreateSubject, CredentialRecord,
    CredentialSpend, EabKeyRecord, Identifier, InsertOutcome, OrderRecord, PickupRecord, Store,
    SubjectRecord,
};
use crate::error::Error;
use crate::ids::{
    AccountId, AuthzId, CredentialId, EabKid, OrderId, ProfileName, Serial, SubjectId,
};
use crate::revocation::RevocationReason;
use crate::states::{AccountStatus, ApprovalStatus, AuthzStatus, OrderStatus, SubjectStatus};
use crate::store::AccountRecord;

/// Both store traits, as one object.
pub trait FullStore: Store + AcmeStore {}
impl<T: Store + AcmeStore> FullStore for T {}

/// Opens a backend on a directory (the same directory again after a drop: a reopen).
pub type Opener = dyn Fn(&Path) -> Arc<dyn FullStore>;

/// Generates one `#[test]` per guarantee, each on a fresh directory, for the backend that
/// `$open` (a `fn(&Path) -> Arc<dyn FullStore>`) opens.
#[macro_export]
macro_rules! store_conformance {
    ($open:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let dir = tempfile::tempdir().unwrap();
                $crate::store::conformance::$check(&$open, dir.path());
            }
        )*
    };
    ($open:expr) => {
        $crate::store_conformance!($open;
            a_taken_serial_is_refused_and_keeps_its_record,
            a_one_time_credential_is_spent_once_under_concurrency,
            an_identical_retry_returns_the_first_certificate,
            expired_disabled_or_unknown_credentials_pay_for_nothing,
            a_pickup_link_is_spent_once,
            a_certificate_renews_once,
            issuance_for_an_inactive_subject_is_refused,
            a_commit_is_durable_once_its_ticket_resolves,
            holds_final_reasons_and_revocation_status,
            counters_are_monotonic_and_durable,
            scans_and_indexes,
            ids_of_credentials_are_unique_and_tokens_deletable,
            subjects_are_unique_and_updated_by_compare_and_swap,
            offboarding_revokes_disables_and_withdraws_at_once,
            approvals_are_recorded_once_and_decided_once,
            the_audit_log_is_a_hash_chain,
            audit_checkpoints_are_kept_in_sequence_order,
            accounts_are_unique_by_key_and_by_eab_key,
            orders_change_by_compare_and_swap_on_status,
            only_a_ready_order_is_finalized,
        );
    };
}

fn serial(hex: &str) -> Serial {
    Serial::parse_hex(hex).unwrap()
}

fn cert(hex: &str, subject: &str, not_after: i64) -> CertificateRecord {
    CertificateRecord {
        version: 1,
        serial: serial(hex),
        issuer: "CN=conformance".into(),
        subject: subject.into(),
        sans: vec![],
        profile: ProfileName("device".into()),
        not_before: 0,
        not_after,
        status: CertStatus::Good,
        channel: "test".into(),
        label: None,
        credential: None,
        replaces: None,
        issued_at: 0,
        account: None,
        subject_id: None,
        renewed_by: None,
        renewal_window: None,
        der: hex.as_bytes().to_vec(),
    }
}

fn cred(id: &str, uses: u32, expires_at: i64) -> CredentialRecord {
    CredentialRecord {
        version: 1,
        id: CredentialId::parse(id).unwrap(),
        secret_hash: "00".into(),
        label: None,
        common_name: "dev".into(),
        sans: vec![],
        created_at: 0,
        expires_at,
        uses_left: uses,
        uses: vec![],
        disabled: false,
        subject_id: None,
        profile: None,
    }
}

fn subject(id: &str, ext: &str) -> SubjectRecord {
    SubjectRecord {
        version: 1,
        id: SubjectId::parse(id).unwrap(),
        kind: "device".into(),
        external_id: ext.into(),
        email: None,
        display_name: None,
        department: None,
        name: Some(ext.into()),
        serial_number: None,
        owner: None,
        dns_names: vec![],
        mdm_id: None,
        status: SubjectStatus::Active,
        generation: 0,
        created_at: 0,
        updated_at: 0,
    }
}

fn account(id: &str, thumbprint: &str, eab: Option<&str>) -> AccountRecord {
    AccountRecord {
        version: 1,
        id: AccountId::parse(id).unwrap(),
        jwk: serde_json::json!({"kty": "EC", "x": thumbprint}),
        thumbprint: thumbprint.into(),
        contact: vec![],
        status: AccountStatus::Valid,
        tos_agreed: true,
        eab_kid: eab.map(|k| EabKid::parse(k).unwrap()),
        created_at: 0,
        subject_id: None,
    }
}

fn eab_key(kid: &str, subject_id: Option<&SubjectId>) -> EabKeyRecord {
    EabKeyRecord {
        version: 1,
        kid: EabKid::parse(kid).unwrap(),
        hmac_key_sealed: "sealed".into(),
        profile: ProfileName("device".into()),
        allowed_identifiers: vec![AllowedIdentifier {
            kind: "dns".into(),
            value: "a.example".into(),
            challenge: false,
        }],
        created_at: 0,
        expires_at: None,
        withdrawn: false,
        account: None,
        subject_id: subject_id.cloned(),
    }
}

fn order(id: &str, acct: &str, status: OrderStatus, authz: &str) -> OrderRecord {
    OrderRecord {
        version: 1,
        id: OrderId::parse(id).unwrap(),
        account: AccountId::parse(acct).unwrap(),
        status,
        expires: i64::MAX,
        identifiers: vec![Identifier {
            kind: "dns".into(),
            value: "a.example".into(),
        }],
        not_before: None,
        not_after: None,
        profile: ProfileName("device".into()),
        authorizations: vec![AuthzId::parse(authz).unwrap()],
        error: None,
        certificate: None,
        replaces: None,
        created_at: 0,
        subject_id: None,
    }
}

fn authz(id: &str, acct: &str) -> AuthzRecord {
    AuthzRecord {
        version: 1,
        id: AuthzId::parse(id).unwrap(),
        account: AccountId::parse(acct).unwrap(),
        identifier: Identifier {
            kind: "dns".into(),
            value: "a.example".into(),
        },
        status: AuthzStatus::Valid,
        expires: i64::MAX,
        challenges: vec![],
    }
}

fn spend(id: &str, fingerprint: &str, now: i64) -> Option<Consumes> {
    Some(Consumes::Credential(CredentialSpend {
        id: CredentialId::parse(id).unwrap(),
        csr_fingerprint: fingerprint.into(),
        now,
    }))
}

/// Commits through the group committer and waits until the outcome is durable.
fn commit(s: &dyn FullStore, c: CertificateRecord, consumes: Option<Consumes>) -> InsertOutcome {
    s.commit_certificate(CertificateCommit {
        cert: c,
        kind: CommitKind::Issue(consumes),
        audit: None,
    })
    .wait_blocking()
    .unwrap()
}

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
                audit: Some(super::AuditDraft {
                    actor: "est:dur".into(),
                    action: "certificate.issue".into(),
                    detail: "conformance".into(),
                    at: 1,
                }),
            })
            .wait_blocking()
            .unwrap();
        assert_eq!(outcome, InsertOutcome::Inserted);
        s.put_admin_token(&super::AdminTokenRecord {
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
    let token = super::AdminTokenRecord {
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

fn approval(id: &str, credential: &str, fp: &str, sid: Option<&SubjectId>) -> ApprovalRecord {
    ApprovalRecord {
        version: 1,
        id: id.into(),
        credential: credential.into(),
        csr_fingerprint: fp.into(),
        common_name: "dev".into(),
        sans: vec![],
        profile: "device".into(),
        subject_id: sid.cloned(),
        status: ApprovalStatus::Pending,
        created_at: 0,
        decided_by: None,
        decided_at: None,
    }
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
            s.put_audit_checkpoint(&super::AuditCheckpointRecord {
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

/// RFC 8555 §7.3: one account per key, one account per EAB key; a key change moves the
/// key index and loses to a key that belongs to another account.
pub fn accounts_are_unique_by_key_and_by_eab_key(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_eab_key(&eab_key("kid-1", None)).unwrap();
    let a = account("acct-1", "thumb-1", Some("kid-1"));
    assert_eq!(s.create_account(&a).unwrap(), CreateAccount::Created);
    assert_eq!(
        s.create_account(&account("acct-2", "thumb-1", None))
            .unwrap(),
        CreateAccount::KeyExists(a.id.clone())
    );
    assert_eq!(
        s.create_account(&account("acct-3", "thumb-3", Some("kid-1")))
            .unwrap(),
        CreateAccount::EabTaken
    );
    assert_eq!(
        s.get_account_by_thumbprint("thumb-1").unwrap(),
        Some(a.id.clone())
    );
    let b = account("acct-4", "thumb-4", None);
    assert_eq!(s.create_account(&b).unwrap(), CreateAccount::Created);
    let mut moved = a.clone();
    moved.thumbprint = "thumb-5".into();
    assert!(s.update_account(&a, &moved).unwrap());
    assert_eq!(s.get_account_by_thumbprint("thumb-1").unwrap(), None);
    assert_eq!(
        s.get_account_by_thumbprint("thumb-5").unwrap(),
        Some(a.id.clone())
    );
    let mut clash = moved.clone();
    clash.thumbprint = "thumb-4".into();
    assert!(!s.update_account(&moved, &clash).unwrap());
    let mut key = s
        .get_eab_key(&EabKid::parse("kid-1").unwrap())
        .unwrap()
        .unwrap();
    key.withdrawn = true;
    s.put_eab_key(&key).unwrap();
    assert!(
        s.get_eab_key(&EabKid::parse("kid-1").unwrap())
            .unwrap()
            .unwrap()
            .withdrawn
    );
}

/// Orders are created with their authorizations and change only from the status they were
/// read with.
pub fn orders_change_by_compare_and_swap_on_status(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_account(&account("acct-r", "thumb-r", None))
        .unwrap();
    let o = order("order-1", "acct-r", OrderStatus::Pending, "authz-1");
    s.create_order(&o, &[authz("authz-1", "acct-r")]).unwrap();
    assert_eq!(
        s.get_authz(&AuthzId::parse("authz-1").unwrap())
            .unwrap()
            .unwrap()
            .status,
        AuthzStatus::Valid
    );
    assert_eq!(
        s.list_orders(&AccountId::parse("acct-r").unwrap()).unwrap(),
        vec![o.id.clone()]
    );
    let mut ready = o.clone();
    ready.status = OrderStatus::Ready;
    assert!(s.update_order(OrderStatus::Pending, &ready).unwrap());
    assert!(!s.update_order(OrderStatus::Pending, &ready).unwrap());
    assert_eq!(
        s.get_order(&o.id).unwrap().unwrap().status,
        OrderStatus::Ready
    );
    let mut a = s
        .get_authz(&AuthzId::parse("authz-1").unwrap())
        .unwrap()
        .unwrap();
    a.status = AuthzStatus::Deactivated;
    s.put_authz(&a).unwrap();
    assert_eq!(
        s.get_authz(&a.id).unwrap().unwrap().status,
        AuthzStatus::Deactivated
    );
}

/// Two finalizes of one order issue once: only a `ready` order is finalized, in the same
/// transaction as its certificate.
pub fn only_a_ready_order_is_finalized(open: &Opener, dir: &Path) {
    let s = open(dir);
    s.create_account(&account("acct-f", "thumb-f", None))
        .unwrap();
    let o = order("order-f", "acct-f", OrderStatus::Ready, "authz-f");
    s.create_order(&o, &[authz("authz-f", "acct-f")]).unwrap();
    let finalize = |hex: &str| {
        let mut done = o.clone();
        done.status = OrderStatus::Valid;
        done.certificate = Some(serial(hex));
        s.commit_certificate(CertificateCommit {
            cert: cert(hex, "a.example", 9),
            kind: CommitKind::FinalizeOrder(Box::new(done)),
            audit: None,
        })
        .wait_blocking()
        .unwrap()
    };
    assert_eq!(finalize("1501"), InsertOutcome::Inserted);
    assert_ne!(finalize("1502"), InsertOutcome::Inserted);
    let stored = s.get_order(&o.id).unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Valid);
    assert_eq!(stored.certificate, Some(serial("1501")));
    assert!(s.get_certificate(&serial("1502")).unwrap().is_none());
}
