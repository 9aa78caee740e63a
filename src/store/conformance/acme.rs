//! ACME accounts, orders and finalization.

use std::path::Path;

use super::records::*;
use super::Opener;
use crate::ids::{AccountId, AuthzId, EabKid};
use crate::states::{AuthzStatus, OrderStatus};
use crate::store::{CertificateCommit, CommitKind, CreateAccount, InsertOutcome};

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
