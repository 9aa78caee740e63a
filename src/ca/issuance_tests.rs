//! The pipeline's rules, and its outcomes against a real store: one test per rule.

use super::*;
use crate::ca::Profile;
use crate::config::CaConfig;
use crate::store::sled_store::SledStore;
use crate::store::{CredentialRecord, RegistryStore};
use rcgen::{CertificateParams, KeyPair};

fn csr_for(cn: Option<&str>, sans: &[&str]) -> Csr {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
    }
    let key = KeyPair::generate().unwrap();
    Csr::parse(params.serialize_request(&key).unwrap().der()).unwrap()
}

fn request<'a>(
    key: Key<'a>,
    sans: &'a [SanName],
    rule: NameRule,
    name: &'a ProfileName,
    profile: &'a Profile,
) -> IssueRequest<'a> {
    IssueRequest {
        key,
        common_name: "dev1",
        sans,
        rule,
        profile_name: name,
        profile,
        not_before: None,
        not_after: None,
        subject_id: None,
        spend: Spend::Nothing,
        channel: "test",
        label: None,
        credential: None,
        replaces: None,
        account: None,
        actor: "test".into(),
        now: 1_800_000_000,
    }
}

fn dns(names: &[&str]) -> Vec<SanName> {
    names.iter().map(|n| SanName::Dns((*n).into())).collect()
}

#[test]
fn as_requested_keeps_the_subset_the_csr_asks_for() {
    let profile = Profile::device();
    let name = ProfileName("device".into());
    let entitled = dns(&["a.example", "b.example"]);
    let csr = csr_for(None, &["b.example"]);
    let p = plan(request(
        Key::Csr(&csr),
        &entitled,
        NameRule::AsRequested,
        &name,
        &profile,
    ))
    .unwrap();
    assert_eq!(p.common_name, "dev1");
    assert_eq!(p.sans, dns(&["b.example"]));
    let csr = csr_for(None, &[]);
    let p = plan(request(
        Key::Csr(&csr),
        &entitled,
        NameRule::AsRequested,
        &name,
        &profile,
    ))
    .unwrap();
    assert_eq!(p.sans, entitled);
}

#[test]
fn entitlement_gives_every_entitled_name_but_refuses_a_foreign_one() {
    let profile = Profile::device();
    let name = ProfileName("device".into());
    let entitled = dns(&["a.example", "b.example"]);
    let csr = csr_for(None, &["b.example"]);
    let p = plan(request(
        Key::Csr(&csr),
        &entitled,
        NameRule::Entitlement,
        &name,
        &profile,
    ))
    .unwrap();
    assert_eq!(p.sans, entitled);
    let csr = csr_for(None, &["evil.example"]);
    let err = plan(request(
        Key::Csr(&csr),
        &entitled,
        NameRule::Entitlement,
        &name,
        &profile,
    ))
    .err()
    .unwrap();
    assert!(matches!(err, Error::BadCsr(m) if m.contains("evil.example")));
}

#[test]
fn the_profile_decides_key_types_and_san_kinds() {
    let name = ProfileName("device".into());
    let profile = Profile {
        key_types: vec![KeyType::P384],
        ..Profile::device()
    };
    let csr = csr_for(None, &[]);
    let err = plan(request(
        Key::Csr(&csr),
        &[],
        NameRule::AsRequested,
        &name,
        &profile,
    ))
    .err()
    .unwrap();
    assert!(matches!(err, Error::BadCsr(m) if m.contains("does not accept")));
    // A generated key is held to the same rule.
    let kp = crate::ca::keys::generate(KeyType::P256).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
    let generated = Key::Generated {
        spki_der: &spki,
        key_type: KeyType::P256,
    };
    assert!(plan(request(
        generated,
        &[],
        NameRule::Entitlement,
        &name,
        &profile
    ))
    .is_err());
    let profile = Profile {
        san_types: vec!["dns".into()],
        ..Profile::device()
    };
    let mail = [SanName::Email("a@corp.example".into())];
    let err = plan(request(
        Key::Csr(&csr),
        &mail,
        NameRule::Decided,
        &name,
        &profile,
    ))
    .err()
    .unwrap();
    assert!(matches!(err, Error::BadCsr(m) if m.contains("does not issue")));
}

#[test]
fn validity_is_requested_or_the_profiles_lifetime_from_five_minutes_ago() {
    let profile = Profile {
        validity_days: 7,
        ..Profile::device()
    };
    let name = ProfileName("device".into());
    let csr = csr_for(None, &[]);
    let p = plan(request(
        Key::Csr(&csr),
        &[],
        NameRule::AsRequested,
        &name,
        &profile,
    ))
    .unwrap();
    assert_eq!(p.not_before.unix_timestamp(), 1_800_000_000 - 300);
    assert_eq!(p.not_after.unix_timestamp(), 1_800_000_000 + 7 * 86400);
    let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    r.not_before = Some(1_800_000_100);
    r.not_after = Some(1_800_000_200);
    let p = plan(r).unwrap();
    assert_eq!(
        (p.not_before.unix_timestamp(), p.not_after.unix_timestamp()),
        (1_800_000_100, 1_800_000_200)
    );
    // A start in the future without an end: the lifetime counts from the start.
    let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    r.not_before = Some(1_800_864_000);
    let p = plan(r).unwrap();
    assert_eq!(p.not_after.unix_timestamp(), 1_800_864_000 + 7 * 86400);
}

#[tokio::test]
async fn commit_answers_issued_same_as_before_lost_race_and_subject_inactive() {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Ca::load(dir.path()).unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let profile = Profile::device();
    let name = ProfileName("device".into());
    store
        .create_credential(&CredentialRecord {
            version: 1,
            id: CredentialId::parse("cred1").unwrap(),
            secret_hash: "00".into(),
            label: None,
            common_name: "dev1".into(),
            sans: vec![],
            created_at: 0,
            expires_at: i64::MAX,
            uses_left: 1,
            uses: vec![],
            disabled: false,
            subject_id: None,
            profile: None,
        })
        .unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let spend = |fp: &str| Spend::Credential {
        id: CredentialId::parse("cred1").unwrap(),
        csr_fingerprint: fp.into(),
    };
    let csr = csr_for(None, &[]);
    let issue = |fp: &str| {
        let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
        r.spend = spend(fp);
        r.now = now;
        plan(r).unwrap()
    };
    let Outcome::Issued(first) = commit(&ca, &store, &issue("x")).await.unwrap() else {
        panic!("not issued")
    };
    let rec = store.get_certificate(&first.serial).unwrap().unwrap();
    assert_eq!(rec.der, first.der);
    let audit = store.audit_entries(0, 10).unwrap();
    assert_eq!(audit.last().unwrap().actor, "test");
    assert!(
        matches!(commit(&ca, &store, &issue("x")).await.unwrap(), Outcome::SameAsBefore(s) if s == first.serial)
    );
    assert!(matches!(
        commit(&ca, &store, &issue("y")).await.unwrap(),
        Outcome::LostRace
    ));
    let sid = SubjectId::parse("gone").unwrap();
    let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    r.subject_id = Some(sid);
    r.now = now;
    assert!(matches!(
        commit_blocking(&ca, &store, &plan(r).unwrap()).unwrap(),
        Outcome::SubjectInactive
    ));
}
