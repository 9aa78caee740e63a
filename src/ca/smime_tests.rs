//! S/MIME BR profiles, named by case: `<validation>/<generation>/<key>` certificates signed by
//! a real CA and read back with x509-parser, and the settings a configuration may not hold.

use super::*;
use crate::ca::csr::Csr;
use crate::ca::{serial, Ca, IssueParams, Profile};
use crate::config::CaConfig;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

fn test_ca() -> (tempfile::TempDir, Ca) {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Ca::load(dir.path()).unwrap();
    (dir, ca)
}

fn spki(kt: KeyType) -> Vec<u8> {
    let name = match kt {
        KeyType::P256 => "p256",
        KeyType::Rsa3072 => "rsa3072",
        KeyType::Ed25519 => "ed25519",
        other => panic!("no vector for {other:?}"),
    };
    let der = std::fs::read(format!(
        "{}/src/ca/testdata/{name}.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    Csr::parse(&der).unwrap().spki_der
}

fn profile(smime: Smime) -> Profile {
    let ekus = match smime.generation {
        Generation::Strict => vec!["emailProtection".into()],
        Generation::Multipurpose => vec!["clientAuth".into(), "emailProtection".into()],
    };
    Profile {
        extended_key_usage: ekus,
        smime: Some(smime),
        ..Profile::person()
    }
}

fn issue(
    ca: &Ca,
    p: &Profile,
    kt: KeyType,
    sans: &[SanName],
    person: Option<&PersonName>,
) -> Result<Vec<u8>> {
    let now = OffsetDateTime::now_utc();
    ca.issue(&IssueParams {
        spki_der: &spki(kt),
        key_type: kt,
        common_name: "ignored by S/MIME profiles",
        sans,
        profile: p,
        serial: &serial::random_serial().unwrap(),
        not_before: now,
        not_after: now + Duration::days(90),
        windows_sid: None,
        person,
    })
}

/// What a test reads back: subject attributes (OID, value), SANs, KU bits, EKU OIDs, policies.
struct Seen {
    subject: Vec<(String, String)>,
    sans: Vec<String>,
    ku: Vec<&'static str>,
    ku_critical: bool,
    ekus: Vec<String>,
    policies: Vec<String>,
    cps: Vec<String>,
}

fn read(der: &[u8]) -> Seen {
    let (_, c) = X509Certificate::from_der(der).unwrap();
    let subject = c
        .subject()
        .iter_attributes()
        .map(|a| (a.attr_type().to_id_string(), a.as_str().unwrap().to_owned()))
        .collect();
    let mut seen = Seen {
        subject,
        sans: vec![],
        ku: vec![],
        ku_critical: false,
        ekus: vec![],
        policies: vec![],
        cps: vec![],
    };
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                for n in &s.general_names {
                    seen.sans.push(match n {
                        GeneralName::RFC822Name(e) => format!("rfc822:{e}"),
                        GeneralName::OtherName(oid, v) => {
                            // [0] EXPLICIT UTF8String: skip the two headers (short lengths).
                            format!(
                                "other:{oid}:{}",
                                String::from_utf8(v[4..].to_vec()).unwrap()
                            )
                        }
                        other => format!("{other:?}"),
                    });
                }
            }
            ParsedExtension::KeyUsage(k) => {
                seen.ku_critical = ext.critical;
                for (on, name) in [
                    (k.digital_signature(), "digitalSignature"),
                    (k.non_repudiation(), "nonRepudiation"),
                    (k.key_encipherment(), "keyEncipherment"),
                    (k.data_encipherment(), "dataEncipherment"),
                    (k.key_agreement(), "keyAgreement"),
                ] {
                    if on {
                        seen.ku.push(name);
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                if e.email_protection {
                    seen.ekus.push("emailProtection".into());
                }
                if e.client_auth {
                    seen.ekus.push("clientAuth".into());
                }
                assert!(!e.server_auth && !e.code_signing && !e.any);
            }
            ParsedExtension::CertificatePolicies(ps) => {
                assert!(!ext.critical, "S/MIME BR §7.1.2.3 a: not critical");
                for p in ps {
                    seen.policies.push(p.policy_id.to_id_string());
                    for q in p.policy_qualifiers.iter().flatten() {
                        assert_eq!(q.policy_qualifier_id.to_id_string(), "1.3.6.1.5.5.7.2.1");
                        seen.cps
                            .push(String::from_utf8(q.qualifier[2..].to_vec()).unwrap());
                    }
                }
            }
            _ => {}
        }
    }
    seen
}

const CN: &str = "2.5.4.3";
const GIVEN: &str = "2.5.4.42";
const SURNAME: &str = "2.5.4.4";
const PSEUDONYM: &str = "2.5.4.65";

fn ann() -> PersonName {
    PersonName {
        given_name: Some("Ann".into()),
        family_name: Some("Lee".into()),
        pseudonym: None,
    }
}

fn mail(s: &str) -> Vec<SanName> {
    vec![SanName::Email(s.into())]
}

#[test]
fn reserved_policy_oids_by_type_and_generation() {
    for (v, g, want) in [
        (
            Validation::Mailbox,
            Generation::Multipurpose,
            "2.23.140.1.5.1.2",
        ),
        (Validation::Mailbox, Generation::Strict, "2.23.140.1.5.1.3"),
        (
            Validation::Individual,
            Generation::Multipurpose,
            "2.23.140.1.5.4.2",
        ),
        (
            Validation::Individual,
            Generation::Strict,
            "2.23.140.1.5.4.3",
        ),
    ] {
        let s = Smime {
            validation: v,
            generation: g,
            ..Smime::default()
        };
        let got: Vec<String> = s.reserved_policy_oid().iter().map(u64::to_string).collect();
        assert_eq!(got.join("."), want);
    }
}

#[test]
fn key_usage_by_key_type_and_key_use() {
    use KeyUsagePurpose::*;
    let with = |key_use| Smime {
        key_use,
        ..Smime::default()
    };
    let cases = [
        (
            KeyUse::Dual,
            KeyType::Rsa3072,
            vec![DigitalSignature, KeyEncipherment],
        ),
        (
            KeyUse::Dual,
            KeyType::P256,
            vec![DigitalSignature, KeyAgreement],
        ),
        (KeyUse::Dual, KeyType::Ed25519, vec![DigitalSignature]),
        (KeyUse::Signing, KeyType::Rsa3072, vec![DigitalSignature]),
        (KeyUse::Signing, KeyType::P384, vec![DigitalSignature]),
        (KeyUse::Encryption, KeyType::Rsa4096, vec![KeyEncipherment]),
        (KeyUse::Encryption, KeyType::P256, vec![KeyAgreement]),
    ];
    for (key_use, kt, want) in cases {
        assert_eq!(
            with(key_use).key_usages(kt).unwrap(),
            want,
            "{key_use:?} {kt:?}"
        );
    }
    assert!(matches!(
        with(KeyUse::Encryption).key_usages(KeyType::Ed25519),
        Err(Error::BadCsr(_))
    ));
}

#[test]
fn mailbox_multipurpose_p256() {
    let (_d, ca) = test_ca();
    let p = profile(Smime {
        policy_oids: vec!["1.3.6.1.4.1.99999.1.1".into()],
        cps_uri: Some("http://pki.corp.example/cps".into()),
        ..Smime::default()
    });
    let s = read(&issue(&ca, &p, KeyType::P256, &mail("ann@corp.example"), None).unwrap());
    assert_eq!(s.subject, vec![(CN.into(), "ann@corp.example".into())]);
    assert_eq!(s.sans, vec!["rfc822:ann@corp.example"]);
    assert_eq!(s.ku, vec!["digitalSignature", "keyAgreement"]);
    assert!(s.ku_critical);
    assert_eq!(s.ekus, vec!["emailProtection", "clientAuth"]);
    assert_eq!(
        s.policies,
        vec!["2.23.140.1.5.1.2", "1.3.6.1.4.1.99999.1.1"]
    );
    assert_eq!(s.cps, vec!["http://pki.corp.example/cps"]);
}

#[test]
fn mailbox_strict_rsa() {
    let (_d, ca) = test_ca();
    let p = profile(Smime {
        generation: Generation::Strict,
        ..Smime::default()
    });
    // The registry's names play no part in a mailbox-validated subject.
    let s = read(
        &issue(
            &ca,
            &p,
            KeyType::Rsa3072,
            &mail("ann@corp.example"),
            Some(&ann()),
        )
        .unwrap(),
    );
    assert_eq!(s.subject, vec![(CN.into(), "ann@corp.example".into())]);
    assert_eq!(s.ku, vec!["digitalSignature", "keyEncipherment"]);
    assert_eq!(s.ekus, vec!["emailProtection"]);
    assert_eq!(s.policies, vec!["2.23.140.1.5.1.3"]);
    assert!(s.cps.is_empty());
}

#[test]
fn individual_strict_rsa() {
    let (_d, ca) = test_ca();
    let p = profile(Smime {
        validation: Validation::Individual,
        generation: Generation::Strict,
        cps_uri: Some("https://pki.corp.example/cps".into()),
        ..Smime::default()
    });
    let s = read(
        &issue(
            &ca,
            &p,
            KeyType::Rsa3072,
            &mail("ann@corp.example"),
            Some(&ann()),
        )
        .unwrap(),
    );
    assert_eq!(
        s.subject,
        vec![
            (CN.into(), "Ann Lee".into()),
            (GIVEN.into(), "Ann".into()),
            (SURNAME.into(), "Lee".into())
        ]
    );
    assert_eq!(s.sans, vec!["rfc822:ann@corp.example"]);
    assert_eq!(s.ku, vec!["digitalSignature", "keyEncipherment"]);
    assert_eq!(s.ekus, vec!["emailProtection"]);
    assert_eq!(s.policies, vec!["2.23.140.1.5.4.3"]);
    assert_eq!(s.cps, vec!["https://pki.corp.example/cps"]);
}

#[test]
fn individual_multipurpose_p256_pseudonym() {
    let (_d, ca) = test_ca();
    let p = profile(Smime {
        validation: Validation::Individual,
        ..Smime::default()
    });
    let pen = PersonName {
        pseudonym: Some("Penguin".into()),
        ..PersonName::default()
    };
    let s = read(
        &issue(
            &ca,
            &p,
            KeyType::P256,
            &mail("pen@corp.example"),
            Some(&pen),
        )
        .unwrap(),
    );
    assert_eq!(
        s.subject,
        vec![
            (CN.into(), "Penguin".into()),
            (PSEUDONYM.into(), "Penguin".into())
        ]
    );
    assert_eq!(s.policies, vec!["2.23.140.1.5.4.2"]);
}

#[test]
fn individual_without_names_is_refused() {
    let (_d, ca) = test_ca();
    let p = profile(Smime {
        validation: Validation::Individual,
        ..Smime::default()
    });
    for person in [None, Some(PersonName::default())] {
        let e = issue(
            &ca,
            &p,
            KeyType::P256,
            &mail("a@corp.example"),
            person.as_ref(),
        );
        assert!(matches!(e, Err(Error::Malformed(m)) if m.contains("given_name")));
    }
}

#[test]
fn no_mailbox_no_certificate() {
    let (_d, ca) = test_ca();
    let e = issue(&ca, &Profile::person(), KeyType::P256, &[], None);
    assert!(matches!(e, Err(Error::BadCsr(_))));
}

#[test]
fn non_ascii_local_part_is_an_smtp_utf8_mailbox() {
    let (_d, ca) = test_ca();
    let addr = SanName::parse("email:пользователь@corp.example").unwrap();
    let s = read(&issue(&ca, &Profile::person(), KeyType::P256, &[addr], None).unwrap());
    assert_eq!(
        s.sans,
        vec!["other:1.3.6.1.5.5.7.8.9:пользователь@corp.example"]
    );
    assert_eq!(
        s.subject,
        vec![(CN.into(), "пользователь@corp.example".into())]
    );
    // A non-ASCII domain is refused: the registry keeps the A-label form.
    assert!(SanName::parse("email:ann@bücher.example").is_err());
    assert!(SanName::parse("email:пользователь@xn--bcher-kva.example").is_err());
    assert!(SanName::parse("email:ann@xn--bcher-kva.example").is_ok());
}

#[test]
fn long_names_leave_the_common_name_out_or_fall_back_to_the_address() {
    let (_d, ca) = test_ca();
    let long = format!("{}@corp.example", "a".repeat(60));
    let s = read(&issue(&ca, &Profile::person(), KeyType::P256, &mail(&long), None).unwrap());
    assert!(s.subject.is_empty(), "{:?}", s.subject);
    let p = profile(Smime {
        validation: Validation::Individual,
        ..Smime::default()
    });
    let wide = PersonName {
        given_name: Some("G".repeat(40)),
        family_name: Some("F".repeat(40)),
        pseudonym: None,
    };
    let s = read(&issue(&ca, &p, KeyType::P256, &mail("g@corp.example"), Some(&wide)).unwrap());
    assert_eq!(s.subject[0], (CN.into(), "g@corp.example".into()));
    assert_eq!(s.subject.len(), 3);
}

#[test]
fn settings_a_configuration_may_not_hold() {
    let email = vec!["email".to_owned()];
    let strict = Smime {
        generation: Generation::Strict,
        ..Smime::default()
    };
    let ekus = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(strict
        .check(&ekus(&["emailProtection"]), &email, 825)
        .is_ok());
    // fail/smime/strict-client-auth, no-email-protection, server-auth, dns-san, validity.
    assert!(strict
        .check(&ekus(&["emailProtection", "clientAuth"]), &email, 90)
        .is_err());
    let multi = Smime::default();
    assert!(multi.check(&ekus(&["clientAuth"]), &email, 90).is_err());
    assert!(multi
        .check(&ekus(&["emailProtection", "serverAuth"]), &email, 90)
        .is_err());
    assert!(multi
        .check(
            &ekus(&["emailProtection"]),
            &["email".into(), "dns".into()],
            90
        )
        .is_err());
    assert!(multi
        .check(&ekus(&["emailProtection"]), &email, 826)
        .is_err());
    for (oids, cps) in [
        (vec!["2.23.140.1.5.1.2"], None),
        (vec!["1.2.x"], None),
        (vec!["7.1"], None),
        (vec![], Some("ldap://x.example/cps")),
        (vec![], Some("http://x.example/a b")),
    ] {
        let s = Smime {
            policy_oids: oids.iter().map(|s| s.to_string()).collect(),
            cps_uri: cps.map(str::to_owned),
            ..Smime::default()
        };
        assert!(
            s.check(&ekus(&["emailProtection"]), &email, 90).is_err(),
            "{oids:?} {cps:?}"
        );
    }
}
