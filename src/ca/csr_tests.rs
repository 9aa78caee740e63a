//! Named CSR policy cases. Test vectors in `testdata/` were made with OpenSSL 3.0
//! (`openssl req -new ... -outform DER`).

use super::*;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/src/ca/testdata/{name}.der", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bad_csr_reason(der: &[u8]) -> String {
    match Csr::parse(der) {
        Err(Error::BadCsr(m)) => m,
        other => panic!("expected BadCsr, got {other:?}"),
    }
}

fn dev1() -> (String, Vec<SanName>) {
    (
        "dev1.example".into(),
        vec![SanName::Dns("dev1.example".into())],
    )
}

#[test]
fn ok_p256_with_san() {
    let csr = Csr::parse(&vector("p256")).unwrap();
    assert_eq!(csr.key_type, KeyType::P256);
    assert_eq!(csr.common_name.as_deref(), Some("dev1.example"));
    assert_eq!(csr.sans, vec![SanName::Dns("dev1.example".into())]);
    let (cn, sans) = dev1();
    assert_eq!(csr.names_for(&cn, &sans).unwrap(), (cn, sans));
}

#[test]
fn ok_key_types() {
    assert_eq!(Csr::parse(&vector("p384")).unwrap().key_type, KeyType::P384);
    assert_eq!(
        Csr::parse(&vector("rsa3072")).unwrap().key_type,
        KeyType::Rsa3072
    );
    assert_eq!(
        Csr::parse(&vector("ed25519")).unwrap().key_type,
        KeyType::Ed25519
    );
}

#[test]
fn fail_csr_bad_signature() {
    let mut der = vector("p256");
    let last = der.len() - 3;
    der[last] ^= 0x55;
    assert!(bad_csr_reason(&der).contains("signature"));
}

#[test]
fn fail_csr_weak_rsa_1024() {
    assert!(bad_csr_reason(&vector("rsa1024")).contains("too weak"));
}

#[test]
fn fail_csr_sha1_signature() {
    assert!(bad_csr_reason(&vector("sha1")).contains("SHA-1"));
}

#[test]
fn fail_csr_ca_true_request() {
    assert!(bad_csr_reason(&vector("ca-true")).contains("CA:TRUE"));
}

#[test]
fn fail_csr_unsupported_curve() {
    assert!(bad_csr_reason(&vector("secp256k1")).contains("P-256 or P-384"));
}

#[test]
fn fail_csr_truncated() {
    let der = vector("p256");
    bad_csr_reason(&der[..der.len() / 2]);
}

#[test]
fn fail_csr_trailing_data() {
    let mut der = vector("p256");
    der.push(0);
    assert!(bad_csr_reason(&der).contains("trailing"));
}

#[test]
fn fail_csr_empty_and_garbage() {
    bad_csr_reason(&[]);
    bad_csr_reason(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]);
    bad_csr_reason(b"not a csr at all");
}

#[test]
fn fail_csr_oversized() {
    assert!(bad_csr_reason(&vec![0x30; MAX_CSR_DER + 1]).contains("too large"));
}

#[test]
fn fail_csr_disallowed_san() {
    let csr = Csr::parse(&vector("extra-san")).unwrap();
    let (cn, sans) = dev1();
    match csr.names_for(&cn, &sans) {
        Err(Error::BadCsr(m)) => assert!(m.contains("other.example"), "{m}"),
        other => panic!("expected BadCsr, got {other:?}"),
    }
}

#[test]
fn fail_csr_subject_organisation() {
    let csr = Csr::parse(&vector("subject-o")).unwrap();
    let (cn, sans) = dev1();
    match csr.names_for(&cn, &sans) {
        Err(Error::BadCsr(m)) => assert!(m.contains("only contain CN"), "{m}"),
        other => panic!("expected BadCsr, got {other:?}"),
    }
}

#[test]
fn fail_csr_wrong_common_name() {
    let csr = Csr::parse(&vector("p384")).unwrap();
    match csr.names_for("dev2.example", &[SanName::Dns("dev2.example".into())]) {
        Err(Error::BadCsr(m)) => assert!(m.contains("dev1.example"), "{m}"),
        other => panic!("expected BadCsr, got {other:?}"),
    }
}

#[test]
fn names_default_to_the_entitlement_when_csr_requests_none() {
    let csr = Csr::parse(&vector("p384")).unwrap();
    assert!(csr.sans.is_empty());
    let (cn, sans) = dev1();
    assert_eq!(csr.names_for(&cn, &sans).unwrap().1, sans);
}

#[test]
fn fingerprint_distinguishes_requests() {
    let a = Csr::parse(&vector("p256")).unwrap();
    let b = Csr::parse(&vector("p384")).unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(
        a.fingerprint(),
        Csr::parse(&vector("p256")).unwrap().fingerprint()
    );
}
