//! The pipeline's rules, and its outcomes against a real store: one test per rule.

use super::*;
use crate::ca::Profile;
use crate::config::CaConfig;
use crate::ids::WindowsSid;
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

/// [`plan`] against an empty registry (only profiles with `windows_sid` look into it).
fn plan_unregistered(req: IssueRequest<'_>) -> Result<Plan<'_>> {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    plan(&store, req)
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
    let p = plan_unregistered(request(
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
    let p = plan_unregistered(request(
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
    let p = plan_unregistered(request(
        Key::Csr(&csr),
        &entitled,
        NameRule::Entitlement,
        &name,
        &profile,
    ))
    .unwrap();
    assert_eq!(p.sans, entitled);
    let csr = csr_for(None, &["evil.example"]);
    let err = plan_unregistered(request(
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
    let err = plan_unregistered(request(
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
    assert!(plan_unregistered(request(
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
    let err = plan_unregistered(request(
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
    let p = plan_unregistered(request(
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
    let p = plan_unregistered(r).unwrap();
    assert_eq!(
        (p.not_before.unix_timestamp(), p.not_after.unix_timestamp()),
        (1_800_000_100, 1_800_000_200)
    );
    // A start in the future without an end: the lifetime counts from the start.
    let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    r.not_before = Some(1_800_864_000);
    let p = plan_unregistered(r).unwrap();
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
        plan(&store, r).unwrap()
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
        commit_blocking(&ca, &store, &plan(&store, r).unwrap()).unwrap(),
        Outcome::SubjectInactive
    ));
}

const SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1013";

/// A store holding device `dev1` (id `sub-1`) with `sid`, if any.
fn registry_with(sid: Option<&str>) -> (tempfile::TempDir, SledStore, SubjectId) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let mut s = crate::store::conformance::records::subject("sub-1", "dev1");
    s.windows_sid = sid.map(|v| WindowsSid::parse(v).unwrap());
    store.create_subject(&s).unwrap();
    (dir, store, s.id)
}

fn mapping(m: windows_sid::WindowsSidMapping) -> Profile {
    Profile {
        windows_sid: m,
        ..Profile::device()
    }
}

/// A CSR asking for DNS names and URIs.
fn csr_with_uris(dns: &[&str], uris: &[&str]) -> Csr {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for d in dns {
        params
            .subject_alt_names
            .push(rcgen::SanType::DnsName((*d).try_into().unwrap()));
    }
    for u in uris {
        params
            .subject_alt_names
            .push(rcgen::SanType::URI((*u).try_into().unwrap()));
    }
    let key = KeyPair::generate().unwrap();
    Csr::parse(params.serialize_request(&key).unwrap().der()).unwrap()
}

fn sid_uri(sid: &str) -> SanName {
    SanName::Uri(format!("tag:microsoft.com,2022-09-14:sid:{sid}"))
}

/// `both`: the registry's SID becomes the URI SAN and the szOID_NTDS_CA_SECURITY_EXT extension
/// of the signed certificate, read back with x509-parser.
#[test]
fn the_registry_sid_goes_into_the_san_and_the_extension() {
    use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
    let (dir, store, id) = registry_with(Some(SID));
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Ca::load(dir.path()).unwrap();
    let profile = mapping(windows_sid::WindowsSidMapping::Both);
    let name = ProfileName("device".into());
    let entitled = dns(&["dev1.example"]);
    let csr = csr_for(None, &[]);
    let mut r = request(
        Key::Csr(&csr),
        &entitled,
        NameRule::AsRequested,
        &name,
        &profile,
    );
    r.subject_id = Some(id);
    r.now = OffsetDateTime::now_utc().unix_timestamp();
    let p = plan(&store, r).unwrap();
    assert_eq!(
        p.sans,
        vec![SanName::Dns("dev1.example".into()), sid_uri(SID)]
    );
    let Outcome::Issued(issued) = commit_blocking(&ca, &store, &p).unwrap() else {
        panic!("not issued")
    };
    let (_, cert) = X509Certificate::from_der(&issued.der).unwrap();
    let uris: Vec<&str> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::URI(u) => Some(*u),
            _ => None,
        })
        .collect();
    assert_eq!(uris, [format!("tag:microsoft.com,2022-09-14:sid:{SID}")]);
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.311.25.2")
        .expect("szOID_NTDS_CA_SECURITY_EXT");
    assert!(!ext.critical);
    assert!(matches!(
        ext.parsed_extension(),
        ParsedExtension::UnsupportedExtension { .. }
    ));
    // The value is GeneralNames (as a SAN's) with one otherName: szOID_NTDS_OBJECTSID, and
    // the SID's ASCII in an OCTET STRING under the explicit [0] of the otherName's value.
    let (rest, names) =
        x509_parser::extensions::SubjectAlternativeName::from_der(ext.value).unwrap();
    assert!(rest.is_empty());
    let [GeneralName::OtherName(oid, value)] = names.general_names.as_slice() else {
        panic!("not one otherName: {names:?}")
    };
    assert_eq!(oid.to_id_string(), "1.3.6.1.4.1.311.25.2.1");
    let octets = yasna::parse_der(value, |r| {
        r.read_tagged(yasna::Tag::context(0), |r| r.read_bytes())
    })
    .unwrap();
    assert_eq!(octets, SID.as_bytes());
    assert_eq!(
        ext.value,
        windows_sid::security_extension(&WindowsSid::parse(SID).unwrap())
    );
}

/// `san` and `extension` put only their carrier; `off` neither, though the subject has a SID.
#[test]
fn each_setting_puts_its_carriers_only() {
    use windows_sid::WindowsSidMapping::*;
    let (_dir, store, id) = registry_with(Some(SID));
    let name = ProfileName("device".into());
    let csr = csr_for(None, &[]);
    for (m, uri, ext) in [
        (Off, false, false),
        (San, true, false),
        (Extension, false, true),
    ] {
        let profile = mapping(m);
        let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
        r.subject_id = Some(id.clone());
        let p = plan(&store, r).unwrap();
        assert_eq!(p.sans.contains(&sid_uri(SID)), uri, "{m:?}");
        assert_eq!(p.extension_sid.is_some(), ext, "{m:?}");
    }
}

/// A profile that maps refuses a subject without a SID and a request without a subject.
#[test]
fn a_mapping_profile_refuses_subjects_without_a_sid() {
    let (_dir, store, id) = registry_with(None);
    let name = ProfileName("device".into());
    let profile = mapping(windows_sid::WindowsSidMapping::Extension);
    let csr = csr_for(None, &[]);
    let mut r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    r.subject_id = Some(id);
    let err = plan(&store, r).err().unwrap();
    assert!(matches!(err, Error::NotPermitted(m) if m.contains("windows_sid")));
    let r = request(Key::Csr(&csr), &[], NameRule::AsRequested, &name, &profile);
    assert!(matches!(plan(&store, r), Err(Error::NotPermitted(_))));
}

/// A CSR may ask for the registry's SID URI (it is not repeated) and for no other; a SID URI
/// in the entitlement (an earlier certificate's) is replaced by the registry's.
#[test]
fn sid_uris_come_only_from_the_registry() {
    use windows_sid::WindowsSidMapping::*;
    let (_dir, store, id) = registry_with(Some(SID));
    let name = ProfileName("device".into());
    let both = mapping(Both);
    let entitled = dns(&["dev1.example"]);
    let run = |profile: &Profile, entitled: &[SanName], csr: &Csr| {
        let mut r = request(
            Key::Csr(csr),
            entitled,
            NameRule::AsRequested,
            &name,
            profile,
        );
        r.subject_id = Some(id.clone());
        plan(&store, r).map(|p| p.sans)
    };
    let own = format!("tag:microsoft.com,2022-09-14:sid:{SID}");
    let csr = csr_with_uris(&["dev1.example"], &[&own]);
    assert_eq!(
        run(&both, &entitled, &csr).unwrap(),
        vec![SanName::Dns("dev1.example".into()), sid_uri(SID)]
    );
    for (case, profile, uri) in [
        (
            "fail/sid/foreign",
            &both,
            "tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-500",
        ),
        (
            "fail/sid/foreign-case",
            &both,
            "TAG:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-500",
        ),
        ("fail/sid/profile-off", &mapping(Off), own.as_str()),
        ("fail/sid/extension-only", &mapping(Extension), own.as_str()),
    ] {
        let csr = csr_with_uris(&[], &[uri]);
        let err = run(profile, &entitled, &csr).err().unwrap();
        assert!(
            matches!(&err, Error::BadCsr(m) if m.contains("registry")),
            "{case}: {err:?}"
        );
    }
    let stale = vec![
        SanName::Dns("dev1.example".into()),
        sid_uri("S-1-5-21-1-2-3-500"),
    ];
    let csr = csr_for(None, &[]);
    assert_eq!(
        run(&both, &stale, &csr).unwrap(),
        vec![SanName::Dns("dev1.example".into()), sid_uri(SID)]
    );
    assert_eq!(
        run(&mapping(Off), &stale, &csr).unwrap(),
        dns(&["dev1.example"])
    );
}
