//! Issuance: the certificate is built from the profile, whatever the CSR asks for.

use super::*;
use crate::ca::csr::Csr;
use crate::ca::Profile;
use crate::config::CaConfig;
use x509_parser::extensions::ParsedExtension;

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/src/ca/testdata/{name}.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn test_ca(kt: KeyType) -> (tempfile::TempDir, Ca) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = CaConfig {
        key_type: kt,
        ..CaConfig::default()
    };
    Ca::create(dir.path(), &cfg, Some("http://ca.example/crl/root.crl")).unwrap();
    let ca = Ca::load(dir.path()).unwrap();
    (dir, ca)
}

fn issue(ca: &Ca, csr: &Csr, profile: &Profile, sans: &[SanName]) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    ca.issue(&IssueParams {
        spki_der: &csr.spki_der,
        key_type: csr.key_type,
        common_name: "dev1.example",
        sans,
        profile,
        serial: &serial::random_serial().unwrap(),
        not_before: now,
        not_after: now + Duration::days(90),
        windows_sid: None,
        person: None,
    })
    .unwrap()
}

#[test]
fn p384_key_keeps_its_curve_and_spki() {
    // rcgen #448: the SPKI must come from the CSR's key, not its signature algorithm.
    let (_d, ca) = test_ca(KeyType::P256);
    let csr = Csr::parse(&vector("p384")).unwrap();
    let der = issue(&ca, &csr, &Profile::device(), &[]);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(cert.public_key().raw, csr.spki_der.as_slice());
}

#[test]
fn extensions_come_from_the_profile_not_the_csr() {
    let (_d, ca) = test_ca(KeyType::P256);
    let csr = Csr::parse(&vector("ku-request")).unwrap();
    let der = issue(
        &ca,
        &csr,
        &Profile::device(),
        &[SanName::Dns("dev1.example".into())],
    );
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth && !eku.code_signing);
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(!bc.ca);
    // AKI matches the issuing CA's SKI; SKI present.
    let (_, issuing) = X509Certificate::from_der(ca.issuing_der()).unwrap();
    let ski = issuing
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(aki, ski);
    assert!(cert.extensions().iter().any(|e| matches!(
        e.parsed_extension(),
        ParsedExtension::SubjectKeyIdentifier(_)
    )));
    cert.verify_signature(Some(issuing.public_key())).unwrap();
}

#[test]
fn person_profile_gets_email_protection_and_rfc822_name() {
    let (_d, ca) = test_ca(KeyType::P256);
    let csr = Csr::parse(&vector("p256")).unwrap();
    let der = issue(
        &ca,
        &csr,
        &Profile::person(),
        &[SanName::Email("ann@example.com".into())],
    );
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.email_protection);
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "ann@example.com"
        )]
    );
}

#[test]
fn cdp_and_aia_when_configured() {
    let (_d, ca) = test_ca(KeyType::P256);
    let csr = Csr::parse(&vector("p256")).unwrap();
    let profile = Profile {
        crl_url: Some("http://ca.example/crl/issuing.crl".into()),
        ocsp_url: Some("http://ca.example/ocsp".into()),
        ca_issuers_url: Some("http://ca.example/issuing.crt".into()),
        ..Profile::device()
    };
    let der = issue(&ca, &csr, &profile, &[]);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let mut saw_cdp = false;
    let mut saw_aia = false;
    for e in cert.extensions() {
        match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(_) => saw_cdp = true,
            ParsedExtension::AuthorityInfoAccess(aia) => {
                saw_aia = aia.accessdescs.len() == 2;
            }
            _ => {}
        }
    }
    assert!(saw_cdp && saw_aia);
}

#[test]
fn every_ca_key_type_issues_verifiable_certificates() {
    for kt in [
        KeyType::P256,
        KeyType::P384,
        KeyType::Rsa3072,
        KeyType::Ed25519,
    ] {
        let (_d, ca) = test_ca(kt);
        assert_eq!(ca.key_type(), kt);
        let csr = Csr::parse(&vector("p256")).unwrap();
        let der = issue(&ca, &csr, &Profile::device(), &[]);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let (_, issuing) = X509Certificate::from_der(ca.issuing_der()).unwrap();
        cert.verify_signature(Some(issuing.public_key()))
            .unwrap_or_else(|e| panic!("{kt:?}: {e}"));
        assert_eq!(ca.chain().len(), 2);
    }
}

#[test]
fn ca_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (d, _ca) = test_ca(KeyType::P256);
    let paths = CaPaths::new(d.path());
    for p in [paths.issuing_key, paths.root_key] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}

#[test]
fn empty_urls_leave_the_extensions_out() {
    let (_d, ca) = test_ca(KeyType::P256);
    let csr = Csr::parse(&vector("p256")).unwrap();
    let profile = Profile {
        crl_url: Some(String::new()),
        ocsp_url: Some(String::new()),
        ca_issuers_url: Some(String::new()),
        ..Profile::device()
    };
    let der = issue(&ca, &csr, &profile, &[]);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(!cert.extensions().iter().any(|e| matches!(
        e.parsed_extension(),
        ParsedExtension::CRLDistributionPoints(_) | ParsedExtension::AuthorityInfoAccess(_)
    )));
}

#[test]
fn no_certificate_outlives_its_issuing_ca() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = CaConfig {
        issuing_validity_days: 1,
        ..CaConfig::default()
    };
    Ca::create(dir.path(), &cfg, None).unwrap();
    let ca = Ca::load(dir.path()).unwrap();
    let (_, issuing) = X509Certificate::from_der(ca.issuing_der()).unwrap();
    let ca_end = issuing.validity().not_after.timestamp();
    let csr = Csr::parse(&vector("p256")).unwrap();
    // A 90-day request ends with the CA.
    let der = issue(&ca, &csr, &Profile::device(), &[]);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(cert.validity().not_after.timestamp(), ca_end);
    // A window that starts after the CA ends is refused.
    let later = OffsetDateTime::from_unix_timestamp(ca_end + 60).unwrap();
    assert!(ca
        .issue(&IssueParams {
            spki_der: &csr.spki_der,
            key_type: csr.key_type,
            common_name: "late.example",
            sans: &[],
            profile: &Profile::device(),
            serial: &serial::random_serial().unwrap(),
            not_before: later,
            not_after: later + Duration::days(1),
            windows_sid: None,
            person: None,
        })
        .is_err());
}
