//! `cargo bench`: microbenchmarks of what an enrolment and an ACME order spend their time on,
//! on the server's own functions — the issuance path (CSR verification, certificate signing),
//! ACME JWS verification, and store writes (one transaction; group commit with one fsync).
//! Figures and how they relate to the load runs: docs/benchmarks.md.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use enrolld::acme::jws::{Jwk, Jws};
use enrolld::ca::csr::Csr;
use enrolld::ca::{serial, Ca, IssueParams};
use enrolld::ca::{KeyType, Profile};
use enrolld::config::Config;
use enrolld::ids::{CredentialId, ProfileName};
use enrolld::store::sled_store::SledStore;
use enrolld::store::{
    CertStatus, CertificateCommit, CertificateRecord, CommitKind, Consumes, CredentialRecord,
    CredentialSpend, InsertOutcome, Store,
};
use serde_json::json;
use time::OffsetDateTime;

fn b64u(d: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(d)
}

/// A CA in a temporary directory and the `device` profile with CRL/OCSP/caIssuers URLs.
fn ca() -> (tempfile::TempDir, Ca, Profile) {
    let dir = tempfile::tempdir().expect("tempdir");
    Ca::create(dir.path(), &Config::default().ca, None).expect("create CA");
    let ca = Ca::load(dir.path()).expect("load CA");
    let mut p = Profile::device();
    p.crl_url = Some("http://localhost:8080/crl/issuing.crl".into());
    p.ocsp_url = Some("http://localhost:8080/ocsp".into());
    p.ca_issuers_url = Some("http://localhost:8080/ca/issuing.crt".into());
    (dir, ca, p)
}

fn p256_csr() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.serialize_request(&key).expect("csr").der().to_vec()
}

fn sign(ca: &Ca, csr: &Csr, profile: &Profile) -> (enrolld::ids::Serial, Vec<u8>) {
    let serial = serial::random_serial().expect("serial");
    let now = OffsetDateTime::now_utc();
    let der = ca
        .issue(&IssueParams {
            spki_der: &csr.spki_der,
            key_type: KeyType::P256,
            common_name: "bench-device",
            sans: &[],
            profile,
            serial: &serial,
            not_before: now,
            not_after: now + time::Duration::days(90),
            windows_sid: None,
            person: None,
        })
        .expect("issue");
    (serial, der)
}

fn issuance(c: &mut Criterion) {
    let (_dir, ca, profile) = ca();
    let csr_der = p256_csr();
    let csr = Csr::parse(&csr_der).expect("csr");
    let mut g = c.benchmark_group("issuance");
    g.throughput(Throughput::Elements(1));
    g.bench_function("csr_parse_verify_p256", |b| {
        b.iter(|| Csr::parse(&csr_der).expect("csr"))
    });
    g.bench_function("certificate_build_sign_p256", |b| {
        b.iter(|| sign(&ca, &csr, &profile))
    });
    g.bench_function("enrolment_crypto (parse + sign)", |b| {
        b.iter(|| {
            let csr = Csr::parse(&csr_der).expect("csr");
            sign(&ca, &csr, &profile)
        })
    });
    g.finish();
}

fn jws(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let point = key.public_key().as_ref().to_vec();
    let jwk = Jwk::from_json(
        &json!({"crv": "P-256", "kty": "EC", "x": b64u(&point[1..33]), "y": b64u(&point[33..65])}),
    )
    .expect("jwk");
    let protected = b64u(
        json!({"alg": "ES256", "kid": "https://localhost:8443/acme/acct/0123456789abcdef",
               "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
               "url": "https://localhost:8443/acme/new-order"})
        .to_string()
        .as_bytes(),
    );
    let payload = b64u(
        json!({"identifiers": [{"type": "dns", "value": "d1.bench.example"}]})
            .to_string()
            .as_bytes(),
    );
    let sig = key
        .sign(&rng, format!("{protected}.{payload}").as_bytes())
        .expect("sign");
    let body = json!({"protected": protected, "payload": payload, "signature": b64u(sig.as_ref())})
        .to_string();
    let mut g = c.benchmark_group("acme");
    g.throughput(Throughput::Elements(1));
    g.bench_function("jws_parse_verify_es256", |b| {
        b.iter(|| {
            let j = Jws::parse(body.as_bytes()).expect("parse");
            j.verify(&jwk).expect("verify")
        })
    });
    g.finish();
}

fn record(serial: enrolld::ids::Serial, der: Vec<u8>) -> CertificateRecord {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    CertificateRecord {
        version: 1,
        serial,
        issuer: "CN=enrolld demo issuing CA".into(),
        subject: "bench-device".into(),
        sans: vec![],
        profile: ProfileName("device".into()),
        not_before: now,
        not_after: now + 90 * 86400,
        status: CertStatus::Good,
        channel: "est-simpleenroll".into(),
        label: None,
        credential: None,
        replaces: None,
        issued_at: now,
        account: None,
        subject_id: None,
        renewed_by: None,
        renewal_window: None,
        der,
    }
}

fn credential(n: u64) -> CredentialRecord {
    CredentialRecord {
        version: 1,
        id: CredentialId::parse(&format!("bench{n}")).expect("id"),
        secret_hash: "00".repeat(32),
        label: None,
        common_name: "bench-device".into(),
        sans: vec![],
        created_at: 0,
        expires_at: i64::MAX,
        uses_left: 1,
        uses: vec![],
        disabled: false,
        subject_id: None,
        profile: None,
    }
}

fn store(c: &mut Criterion) {
    let (_cadir, ca, profile) = ca();
    let csr = Csr::parse(&p256_csr()).expect("csr");
    let (_, der) = sign(&ca, &csr, &profile);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("store");
    let new_record = || record(serial::random_serial().expect("serial"), der.clone());
    let mut next_cred = 0u64;

    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    g.bench_function("insert_certificate (one transaction, no fsync)", |b| {
        b.iter_batched(
            new_record,
            |r| {
                assert_eq!(
                    store.insert_certificate(&r, None).ok(),
                    Some(InsertOutcome::Inserted)
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("insert_certificate spending a one-time credential", |b| {
        b.iter_batched(
            || {
                next_cred += 1;
                let cred = credential(next_cred);
                store.create_credential(&cred).expect("credential");
                let spend = Consumes::Credential(CredentialSpend {
                    id: cred.id,
                    csr_fingerprint: format!("{next_cred:064x}"),
                    now: 1,
                });
                (new_record(), spend)
            },
            |(r, spend)| {
                assert_eq!(
                    store.insert_certificate(&r, Some(&spend)).ok(),
                    Some(InsertOutcome::Inserted)
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("flush after one insert (fsync)", |b| {
        b.iter_batched(
            new_record,
            |r| {
                store.insert_certificate(&r, None).expect("insert");
                store.flush().expect("flush")
            },
            BatchSize::SmallInput,
        )
    });
    for n in [1u64, 32] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("group commit of {n} durable writes"), |b| {
            b.iter_batched(
                || (0..n).map(|_| new_record()).collect::<Vec<_>>(),
                |records| {
                    let tickets: Vec<_> = records
                        .into_iter()
                        .map(|cert| {
                            store.commit_certificate(CertificateCommit {
                                cert,
                                kind: CommitKind::Issue(None),
                                audit: None,
                            })
                        })
                        .collect();
                    for t in tickets {
                        assert_eq!(t.wait_blocking().ok(), Some(InsertOutcome::Inserted));
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// The console's people list over 100,000 subjects: one page of 100 read at the start of the
/// id order and deep into it (the cursor starts the scan there: no reading of the subjects
/// before it), and a search whose only match is the last subject (the list filters while it
/// scans, so a rare match reads every subject once).
fn subjects(c: &mut Criterion) {
    use enrolld::registry::subjects::{register, SubjectInput};
    use enrolld::store::RegistryStore;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("store");
    for i in 0..100_000 {
        let input = SubjectInput {
            external_id: format!("E{i:06}"),
            email: Some(format!("p{i}@corp.example")),
            display_name: Some(format!("Person {i}")),
            department: Some(format!("Dept {}", i % 50)),
            ..SubjectInput::default()
        };
        register(&store, "person", &input, 1).expect("register");
    }
    let mut ids = Vec::new();
    store
        .scan_subjects(&mut |s| {
            ids.push(s.id);
            true
        })
        .expect("scan");
    let deep = ids[ids.len() - 200].clone();
    let page = |after: Option<&enrolld::ids::SubjectId>| {
        let mut n = 0;
        store
            .scan_subjects_after(after, &mut |_| {
                n += 1;
                n <= 100
            })
            .expect("scan");
        n
    };
    let mut g = c.benchmark_group("subjects (100,000)");
    g.bench_function("page of 100, first", |b| {
        b.iter(|| assert_eq!(page(None), 101))
    });
    g.bench_function("page of 100, after the 99,800th", |b| {
        b.iter(|| assert_eq!(page(Some(&deep)), 101))
    });
    g.bench_function("search with one match, the last subject", |b| {
        b.iter(|| {
            let mut found = 0;
            store
                .scan_subjects_after(None, &mut |s| {
                    if s.external_id.to_lowercase().contains("e099999") {
                        found += 1;
                    }
                    true
                })
                .expect("scan");
            assert_eq!(found, 1)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = issuance, jws, store, subjects
}
criterion_main!(benches);
