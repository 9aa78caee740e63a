//! SCEP operations without HTTP: the service on a temporary data directory, a manual clock,
//! and a test device that builds pkiMessages the way clients do (self-signed RSA signer,
//! envelope to the RA) and opens the CertReps.

use std::sync::Arc;

use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::RsaKeyPair;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::client::{Build, Rep, Requester};
use super::cms::{self, Digest};
use super::der::{self, tag};
use super::envelope::Cipher;
use super::message as m;
use super::Scep;
use crate::ca::ra::{Ra, RaKey};
use crate::ca::Ca;
use crate::clock::{Clock, ManualClock};
use crate::config::{CaConfig, Config};
use crate::error::Error;
use crate::registry::credentials::{self, Channel, NewEstCredential};
use crate::secrets::Secrets;
use crate::states::ApprovalStatus;
use crate::store::sled_store::SledStore;
use crate::store::{RegistryStore, Store};

struct Fixture {
    scep: Scep,
    store: Arc<SledStore>,
    secrets: Arc<Secrets>,
    cfg: Arc<Config>,
    clock: Arc<ManualClock>,
    ca: Arc<Ca>,
    ra_cert: Vec<u8>,
    _dir: tempfile::TempDir,
}

const CONFIG: &str = r#"
[scep.labels.legacy]
legacy = true
[scep.labels.approve]
require_approval = true
[scep.labels.strict]
subject = "match"
"#;

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let ra =
        Ra::load_or_create(dir.path(), &ca, None, 30, time::OffsetDateTime::now_utc()).unwrap();
    fixture_with(dir, ca, ra, clock)
}

fn fixture_with(dir: tempfile::TempDir, ca: Arc<Ca>, ra: Ra, clock: Arc<ManualClock>) -> Fixture {
    fixture_config(dir, ca, ra, clock, CONFIG)
}

fn fixture_config(
    dir: tempfile::TempDir,
    ca: Arc<Ca>,
    ra: Ra,
    clock: Arc<ManualClock>,
    config: &str,
) -> Fixture {
    let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
    let secrets = Arc::new(Secrets::load_or_create(&dir.path().join("secret.key")).unwrap());
    let cfg = Arc::new(Config::parse(config).unwrap());
    let status = Arc::new(
        crate::status::StatusService::new(
            ca.clone(),
            store.clone(),
            cfg.status.clone(),
            clock.clone(),
        )
        .unwrap(),
    );
    let ra_cert = ra.current.cert_der.clone();
    let scep = Scep::new(
        ca.clone(),
        Arc::new(ra),
        store.clone(),
        cfg.clone(),
        secrets.clone(),
        status,
        Arc::new(crate::est::throttle::Throttle::from_env()),
        clock.clone(),
    )
    .unwrap();
    Fixture {
        scep,
        store,
        secrets,
        cfg,
        clock,
        ca,
        ra_cert,
        _dir: dir,
    }
}

impl Fixture {
    /// A one-time challenge for `laptop-9` on `label`, valid for `secs`.
    fn challenge(&self, label: Option<&str>, secs: u64) -> String {
        let c = credentials::create(
            &*self.store,
            &self.secrets,
            &self.cfg,
            NewEstCredential {
                label: label.map(str::to_owned),
                common_name: "laptop-9".into(),
                sans: vec!["dns:laptop-9.corp.example".into()],
                expires_in: Some(secs),
                uses: Some(1),
                subject_id: None,
                profile: None,
                channel: Channel::Scep,
            },
            self.clock.now(),
        )
        .unwrap();
        format!("{}.{}", c.username, c.password)
    }

    async fn send(&self, label: Option<&str>, msg: &[u8]) -> crate::error::Result<Vec<u8>> {
        let label = label.map(|l| crate::ids::Label::parse(l).unwrap());
        self.scep
            .pki_operation(label.as_ref(), msg, Some([10, 0, 0, 9].into()))
            .await
    }
}

/// The test's SCEP client: [`Requester`] with unwraps, and SHA-1 signatures through openssl.
struct Device(Requester);

impl Device {
    fn new() -> Device {
        Device(Requester::new().unwrap())
    }

    fn with(key: rcgen::KeyPair, cert: Vec<u8>) -> Device {
        Device(Requester::with(key, cert).unwrap())
    }

    fn cert(&self) -> &[u8] {
        &self.0.cert
    }

    fn csr(&self, challenge: Option<&str>) -> Vec<u8> {
        self.0.csr(challenge).unwrap()
    }

    fn message(&self, b: &Build<'_>, content: &[u8], to: &[u8]) -> Vec<u8> {
        if b.digest == Digest::Sha256 {
            return self.0.message(b, content, to).unwrap();
        }
        // aws-lc-rs does not sign with SHA-1: openssl does, as old clients would.
        let key_pem = self.0.key.serialize_pem();
        let mut sign = |tbs: &[u8]| Ok(openssl_sha1_sign(&key_pem, tbs));
        self.0.message_signed_by(b, content, to, &mut sign).unwrap()
    }

    fn read(&self, reply: &[u8], ra_cert: &[u8]) -> Rep {
        self.0.read(reply, ra_cert, false).unwrap()
    }
}

/// Signs `tbs` with RSA PKCS#1 v1.5 and SHA-1 through the openssl command.
fn openssl_sha1_sign(key_pem: &str, tbs: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.pem"), key_pem).unwrap();
    std::fs::write(dir.path().join("tbs"), tbs).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha1", "-sign", "k.pem", "-out", "sig", "tbs"])
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("sig")).unwrap()
}

fn names(cert: &[u8]) -> (String, Vec<String>) {
    let (_, c) = X509Certificate::from_der(cert).unwrap();
    let cn = c
        .subject()
        .iter_common_name()
        .next()
        .map(|a| a.as_str().unwrap().to_owned())
        .unwrap_or_default();
    let subject_attrs = c.subject().iter_attributes().count();
    assert_eq!(
        subject_attrs, 1,
        "only the CN, nothing of the CSR's template"
    );
    let sans = c
        .subject_alternative_name()
        .unwrap()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .map(|g| g.to_string())
                .collect()
        })
        .unwrap_or_default();
    (cn, sans)
}

#[tokio::test]
async fn pkcs_req_issues_the_registry_names_whatever_the_csr_says() {
    let f = fixture();
    let dev = Device::new();
    let b = Build::default();
    let msg = dev.message(&b, &dev.csr(Some(&f.challenge(None, 3600))), &f.ra_cert);
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "0", "{rep:?}");
    assert_eq!(rep.transaction_id, "txn-1");
    assert_eq!(rep.recipient_nonce, b.nonce);
    assert_eq!(rep.certs.len(), 1);
    let (cn, sans) = names(&rep.certs[0]);
    assert_eq!(cn, "laptop-9");
    assert_eq!(sans, vec!["DNSName(laptop-9.corp.example)".to_owned()]);
    let rec = f
        .store
        .get_certificate(&serial_of(&rep.certs[0]))
        .unwrap()
        .unwrap();
    assert_eq!(rec.channel, "scep");
}

fn serial_of(cert: &[u8]) -> crate::ids::Serial {
    let (_, c) = X509Certificate::from_der(cert).unwrap();
    crate::ids::Serial::from_bytes(c.raw_serial()).unwrap()
}

#[tokio::test]
async fn an_identical_retry_gets_the_same_certificate_and_another_csr_is_refused() {
    let f = fixture();
    let dev = Device::new();
    let csr = dev.csr(Some(&f.challenge(None, 3600)));
    let first = dev.read(
        &f.send(None, &dev.message(&Build::default(), &csr, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    let again = dev.read(
        &f.send(None, &dev.message(&Build::default(), &csr, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(again.status, "0");
    assert_eq!(first.certs, again.certs);
    // The same challenge with another key: spent.
    let other = Device::new();
    let csr2 = other.csr(Some(&challenge_of(&csr)));
    let rep = other.read(
        &f.send(None, &other.message(&Build::default(), &csr2, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("2"))
    );
    assert!(rep.fail_text.unwrap().contains("used already"));
    assert_eq!(f.store.count_certificates().unwrap(), 1);
}

fn challenge_of(csr: &[u8]) -> String {
    crate::ca::csr::Csr::parse(csr)
        .unwrap()
        .challenge_password
        .unwrap()
}

#[tokio::test]
async fn wrong_expired_missing_and_other_path_challenges_fail_and_issue_nothing() {
    let f = fixture();
    let dev = Device::new();
    let good = f.challenge(None, 60);
    let (id, _) = good.split_once('.').unwrap();
    let cases = [
        (None, Some(format!("{id}.not-the-secret"))),
        (None, Some("est-abc.def".to_owned())),
        (None, None),
        (Some("legacy"), Some(good.clone())),
    ];
    for (label, challenge) in cases {
        let msg = dev.message(
            &Build::default(),
            &dev.csr(challenge.as_deref()),
            &f.ra_cert,
        );
        let rep = dev.read(&f.send(label, &msg).await.unwrap(), &f.ra_cert);
        assert_eq!(rep.status, "2", "{challenge:?} on {label:?}");
        assert_eq!(rep.fail_info.as_deref(), Some("2"));
        assert!(rep.certs.is_empty());
    }
    f.clock.advance(61);
    let msg = dev.message(&Build::default(), &dev.csr(Some(&good)), &f.ra_cert);
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "2", "expired");
    assert_eq!(f.store.count_certificates().unwrap(), 0);
}

#[tokio::test]
async fn a_pending_request_is_delivered_by_cert_poll_after_approval() {
    let f = fixture();
    let dev = Device::new();
    let csr = dev.csr(Some(&f.challenge(Some("approve"), 3600)));
    let b = Build {
        transaction_id: "txn-pending",
        ..Build::default()
    };
    let rep = dev.read(
        &f.send(Some("approve"), &dev.message(&b, &csr, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.status, "3");
    // CertPoll (GetCertInitial) carries IssuerAndSubject; the transaction finds the request.
    let poll = |d: &Device, txn: &'static str| {
        let ias = der::sequence(&[
            X509Certificate::from_der(f.ca.issuing_der())
                .unwrap()
                .1
                .subject()
                .as_raw(),
            &der::sequence(&[]),
        ]);
        d.message(
            &Build {
                message_type: "20",
                transaction_id: txn,
                ..Build::default()
            },
            &ias,
            &f.ra_cert,
        )
    };
    let rep = dev.read(
        &f.send(Some("approve"), &poll(&dev, "txn-pending"))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.status, "3");
    // Another key polling the same transaction finds nothing.
    let thief = Device::new();
    let rep = thief.read(
        &f.send(Some("approve"), &poll(&thief, "txn-pending"))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("4"))
    );
    let pending = f.store.list_approvals(ApprovalStatus::Pending, 10).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(f
        .store
        .decide_approval(
            &pending[0].id,
            ApprovalStatus::Approved,
            "token:t",
            f.clock.now()
        )
        .unwrap());
    let rep = dev.read(
        &f.send(Some("approve"), &poll(&dev, "txn-pending"))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.status, "0", "{rep:?}");
    assert_eq!(names(&rep.certs[0]).0, "laptop-9");
    // Polling again re-delivers the same certificate.
    let again = dev.read(
        &f.send(Some("approve"), &poll(&dev, "txn-pending"))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(again.certs, rep.certs);
}

#[tokio::test]
async fn renewal_req_signed_with_the_current_certificate_keeps_the_names_once() {
    let f = fixture();
    let dev = Device::new();
    let msg = dev.message(
        &Build::default(),
        &dev.csr(Some(&f.challenge(None, 3600))),
        &f.ra_cert,
    );
    let issued = dev
        .read(&f.send(None, &msg).await.unwrap(), &f.ra_cert)
        .certs
        .remove(0);
    // The renewing device signs with its issued certificate and sends a new key.
    let current = Device::with(
        rcgen::KeyPair::from_pem(&dev.0.key.serialize_pem()).unwrap(),
        issued.clone(),
    );
    let next = Device::new();
    let renew = Build {
        message_type: "17",
        transaction_id: "txn-renew",
        ..Build::default()
    };
    let rep = current.read(
        &f.send(None, &current.message(&renew, &next.csr(None), &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.status, "0", "{rep:?}");
    assert_eq!(names(&rep.certs[0]), names(&issued));
    assert_ne!(rep.certs[0], issued);
    let rec = f
        .store
        .get_certificate(&serial_of(&rep.certs[0]))
        .unwrap()
        .unwrap();
    assert_eq!(rec.replaces, Some(serial_of(&issued)));
    // A second renewal of the same certificate with another key is refused.
    let other = Device::new();
    let rep = current.read(
        &f.send(
            None,
            &current.message(
                &Build {
                    message_type: "17",
                    ..Build::default()
                },
                &other.csr(None),
                &f.ra_cert,
            ),
        )
        .await
        .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.status, "2");
    // A self-signed certificate cannot renew.
    let rep = other.read(
        &f.send(
            None,
            &other.message(
                &Build {
                    message_type: "17",
                    ..Build::default()
                },
                &other.csr(None),
                &f.ra_cert,
            ),
        )
        .await
        .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("4"))
    );
}

#[tokio::test]
async fn get_cert_and_get_crl_answer_sealed_to_the_requester() {
    let f = fixture();
    let dev = Device::new();
    let msg = dev.message(
        &Build::default(),
        &dev.csr(Some(&f.challenge(None, 3600))),
        &f.ra_cert,
    );
    let issued = dev
        .read(&f.send(None, &msg).await.unwrap(), &f.ra_cert)
        .certs
        .remove(0);
    let serial = serial_of(&issued);
    let ca = X509Certificate::from_der(f.ca.issuing_der()).unwrap().1;
    let ias = der::sequence(&[
        ca.subject().as_raw(),
        &der::encode(tag::INTEGER, serial.as_bytes()),
    ]);
    let get = |t: &'static str| Build {
        message_type: t,
        ..Build::default()
    };
    let rep = dev.read(
        &f.send(None, &dev.message(&get("21"), &ias, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.certs, vec![issued.clone()]);
    // GetCert answers the holder of the certificate's key only.
    let stranger = Device::new();
    let rep = stranger.read(
        &f.send(None, &stranger.message(&get("21"), &ias, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("4"))
    );
    f.store
        .revoke_certificate(
            &serial,
            f.clock.now(),
            crate::revocation::RevocationReason::KeyCompromise,
        )
        .unwrap();
    let rep = dev.read(
        &f.send(None, &dev.message(&get("22"), &ias, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(rep.crls.len(), 1);
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&rep.crls[0]).unwrap();
    assert!(crl
        .iter_revoked_certificates()
        .any(|r| r.raw_serial() == serial.as_bytes()));
    // An unknown serial is badCertId.
    let bad = der::sequence(&[
        ca.subject().as_raw(),
        &der::encode(tag::INTEGER, &[0x7f; 9]),
    ]);
    let rep = dev.read(
        &f.send(None, &dev.message(&get("21"), &bad, &f.ra_cert))
            .await
            .unwrap(),
        &f.ra_cert,
    );
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("4"))
    );
}

#[tokio::test]
async fn legacy_ciphers_and_sha1_are_taken_on_legacy_paths_only() {
    let f = fixture();
    for (cipher, digest) in [
        (Cipher::DesEde3, Digest::Sha256),
        (Cipher::Aes128, Digest::Sha1),
        (Cipher::DesEde3, Digest::Sha1),
        (Cipher::Des, Digest::Sha1),
    ] {
        let dev = Device::new();
        let b = Build {
            cipher,
            digest,
            ..Build::default()
        };
        let msg = dev.message(&b, &dev.csr(Some(&f.challenge(None, 3600))), &f.ra_cert);
        let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
        assert_eq!(
            (rep.status.as_str(), rep.fail_info.as_deref()),
            ("2", Some("0")),
            "{cipher:?} {digest:?}"
        );
        let b = Build {
            cipher,
            digest,
            ..Build::default()
        };
        let msg = dev.message(
            &b,
            &dev.csr(Some(&f.challenge(Some("legacy"), 3600))),
            &f.ra_cert,
        );
        let rep = dev.read(&f.send(Some("legacy"), &msg).await.unwrap(), &f.ra_cert);
        assert_eq!(
            rep.status, "0",
            "{cipher:?} {digest:?} on the legacy path: {rep:?}"
        );
    }
}

#[tokio::test]
async fn bad_messages_are_refused_with_the_right_fail_info_or_as_malformed() {
    let f = fixture();
    let dev = Device::new();
    let csr = dev.csr(Some(&f.challenge(None, 3600)));
    let good = dev.message(&Build::default(), &csr, &f.ra_cert);
    // Truncated, garbage, and unsigned (a SignedData without a signer): no signed
    // transaction to answer, a malformed request.
    let unsigned = cms::degenerate(&[dev.cert()], &[]);
    for bytes in [
        &good[..good.len() / 2],
        b"not a pkiMessage".as_slice(),
        &[],
        &unsigned,
    ] {
        assert!(matches!(
            f.send(None, bytes).await,
            Err(Error::Malformed(_))
        ));
    }
    // Oversized.
    let big = vec![0x30u8; f.cfg.scep.max_message_bytes + 1];
    assert!(matches!(f.send(None, &big).await, Err(Error::TooLarge(_))));
    // A flipped bit in the signature: badMessageCheck.
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 5] ^= 1;
    let rep = dev.read(&f.send(None, &tampered).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.fail_info.as_deref(), Some("1"));
    // Encrypted to another certificate: badCertId.
    let msg = dev.message(&Build::default(), &csr, Device::new().cert());
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.fail_info.as_deref(), Some("4"));
    // signingTime a year off: badTime.
    let msg = dev.message(
        &Build {
            signing_time: Some("250101000000Z"),
            ..Build::default()
        },
        &csr,
        &f.ra_cert,
    );
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.fail_info.as_deref(), Some("3"));
    // Unknown message type: badRequest.
    let msg = dev.message(
        &Build {
            message_type: "99",
            ..Build::default()
        },
        &csr,
        &f.ra_cert,
    );
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.fail_info.as_deref(), Some("2"));
    // The good message once, then its replay: the replay is refused.
    let rep = dev.read(&f.send(None, &good).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "0");
    let rep = dev.read(&f.send(None, &good).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.fail_info.as_deref(), Some("2"));
    assert!(rep.fail_text.unwrap().contains("replay"));
    assert_eq!(f.store.count_certificates().unwrap(), 1);
}

/// micromdm/scep's `testdata/PKCSReq.der` (MIT): a real Apple device's request from 2016,
/// RSA-1024, SHA-1, 3DES, encrypted to the test CA in `testdata/` (valid until May 2026: the
/// clock is set back to when the request was made).
#[tokio::test]
async fn a_real_apple_request_opens_and_is_refused_for_its_1024_bit_key() {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let key_der = pem_body(include_str!("testdata/ca.pkcs8.pem"));
    let ra = Ra {
        current: RaKey {
            cert_der: crate::ca::pem_certs(include_str!("testdata/ca.pem"))
                .unwrap()
                .remove(0),
            signing: RsaKeyPair::from_pkcs8(&key_der).unwrap(),
            decrypting: Pkcs1PrivateDecryptingKey::new(
                PrivateDecryptingKey::from_pkcs8(&key_der).unwrap(),
            )
            .unwrap(),
        },
        previous: None,
    };
    let ra_cert = ra.current.cert_der.clone();
    // 2016-05-31 11:30:13 UTC, the request's signingTime.
    let clock = Arc::new(ManualClock::at(1_464_694_213));
    let f = fixture_with(dir, ca, ra, clock);
    let msg = include_bytes!("testdata/PKCSReq.der");
    // On the default path: 3DES and SHA-1 are not accepted.
    let reply = f.send(None, msg).await.unwrap();
    let (status, info, text) = fail_of(&reply, &ra_cert);
    assert_eq!(
        (status.as_str(), info.as_deref()),
        ("2", Some("0")),
        "{text:?}"
    );
    // On a legacy path it opens and parses, and the key is refused, saying why.
    let reply = f.send(Some("legacy"), msg).await.unwrap();
    let (status, info, text) = fail_of(&reply, &ra_cert);
    assert_eq!((status.as_str(), info.as_deref()), ("2", Some("2")));
    assert!(
        text.as_deref().unwrap().contains("1024 bits is too weak"),
        "{text:?}"
    );
}

/// pkiStatus, failInfo and failInfoText of a CertRep without content.
fn fail_of(reply: &[u8], ra_cert: &[u8]) -> (String, Option<String>, Option<String>) {
    let signed = cms::read_signed(reply).unwrap();
    assert_eq!(signed.verify(false).unwrap(), ra_cert);
    let text = |oid: &[u64]| signed.attribute(oid).map(|t| t.text().unwrap().to_owned());
    (
        text(m::OID_PKI_STATUS).unwrap(),
        text(m::OID_FAIL_INFO),
        text(m::OID_FAIL_INFO_TEXT),
    )
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64ct::{Base64, Encoding};
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&b64).unwrap()
}

/// A path whose challenges a webhook decides: an allow issues for the CSR's own names (the
/// validator vouched for them), a deny is a FAILURE with the receiver's reason, and the
/// receiver sees the challenge and the transaction.
#[tokio::test]
async fn a_webhook_path_issues_on_allow_and_refuses_on_deny() {
    use super::validation::stand_in::{Answer, StandIn};
    let hook = StandIn::start(Arc::new(|seen, _found| {
        if seen.json()["challenge"] == "let-me-in" && seen.json()["transaction_id"] == "txn-1" {
            Answer::Json(200, r#"{"allow":true}"#.into())
        } else {
            Answer::Json(200, r#"{"allow":false,"reason":"unknown device"}"#.into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = format!(
        "[scep.labels.hook]\nvalidation = {{ kind = \"webhook\", url = \"{}/hook\", secret_file = \"{}\" }}\n",
        hook.url,
        secret.display()
    );
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let ra =
        Ra::load_or_create(dir.path(), &ca, None, 30, time::OffsetDateTime::now_utc()).unwrap();
    let f = fixture_config(dir, ca, ra, clock, &config);
    let dev = Device::new();
    let msg = dev.message(&Build::default(), &dev.csr(Some("let-me-in")), &f.ra_cert);
    let rep = dev.read(&f.send(Some("hook"), &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "0", "{rep:?}");
    let (_, c) = X509Certificate::from_der(&rep.certs[0]).unwrap();
    let cn = c
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cn.starts_with("com.apple.security.scep."), "{cn}");
    let msg = dev.message(&Build::default(), &dev.csr(Some("guess")), &f.ra_cert);
    let rep = dev.read(&f.send(Some("hook"), &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(
        (rep.status.as_str(), rep.fail_info.as_deref()),
        ("2", Some("2"))
    );
    assert!(rep.fail_text.unwrap().contains("unknown device"));
    assert_eq!(f.store.count_certificates().unwrap(), 1);
    assert_eq!(hook.seen().len(), 2);
}

/// `scep.ca_as_ra` with an RSA CA: GetCACert is the CA certificate alone, requests sealed to
/// it open, and the CertRep is signed by the CA.
#[tokio::test]
async fn an_rsa_ca_can_be_its_own_ra() {
    let dir = tempfile::tempdir().unwrap();
    let ca_cfg = CaConfig {
        key_type: crate::ca::KeyType::Rsa2048,
        ..CaConfig::default()
    };
    Ca::create(dir.path(), &ca_cfg, None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let ra = Ra::from_ca(dir.path(), None).unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let f = fixture_config(dir, ca, ra, clock, "[scep]\nca_as_ra = true\n");
    let got = f.scep.ca_certs(None).unwrap();
    assert_eq!(got.content_type, "application/x-x509-ca-cert");
    assert_eq!(got.body, f.ca.issuing_der());
    assert_eq!(f.ra_cert, f.ca.issuing_der());
    let dev = Device::new();
    let msg = dev.message(
        &Build::default(),
        &dev.csr(Some(&f.challenge(None, 60))),
        &got.body,
    );
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &got.body);
    assert_eq!(rep.status, "0", "{rep:?}");
    // An ECDSA CA cannot be its own RA.
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    assert!(Ra::from_ca(dir.path(), None).is_err());
}

/// Failed challenges back off per (challenge id, address) like EST's failed logins: after
/// five wrong secrets even the right one waits, until the backoff has passed.
#[tokio::test]
async fn wrong_secrets_back_off_then_the_right_one_enrols() {
    let f = fixture();
    let dev = Device::new();
    let good = f.challenge(None, 7200);
    let (id, _) = good.split_once('.').unwrap();
    for _ in 0..=crate::est::throttle::FREE_FAILURES {
        let msg = dev.message(
            &Build::default(),
            &dev.csr(Some(&format!("{id}.wrong"))),
            &f.ra_cert,
        );
        let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
        assert_eq!(rep.status, "2");
    }
    let msg = dev.message(&Build::default(), &dev.csr(Some(&good)), &f.ra_cert);
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "2");
    assert!(
        rep.fail_text.unwrap().contains("too many failed"),
        "backing off"
    );
    f.clock.advance(crate::est::throttle::MAX_BACKOFF_SECS);
    let msg = dev.message(&Build::default(), &dev.csr(Some(&good)), &f.ra_cert);
    let rep = dev.read(&f.send(None, &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "0", "{rep:?}");
}

/// micromdm's scepclient polls a PENDING request by sending the identical PKCSReq again (same
/// nonce): that is a poll, not a replay, while the request waits; once decided it issues.
#[tokio::test]
async fn a_pending_pkcs_req_sent_again_byte_for_byte_is_a_poll() {
    let f = fixture();
    let dev = Device::new();
    let csr = dev.csr(Some(&f.challenge(Some("approve"), 3600)));
    let msg = dev.message(&Build::default(), &csr, &f.ra_cert);
    let status = |r: Rep| r.status;
    assert_eq!(
        status(dev.read(&f.send(Some("approve"), &msg).await.unwrap(), &f.ra_cert)),
        "3"
    );
    assert_eq!(
        status(dev.read(&f.send(Some("approve"), &msg).await.unwrap(), &f.ra_cert)),
        "3"
    );
    let waiting = f.store.list_approvals(ApprovalStatus::Pending, 10).unwrap();
    assert_eq!(waiting.len(), 1, "one approval for both sends");
    assert!(f
        .store
        .decide_approval(
            &waiting[0].id,
            ApprovalStatus::Approved,
            "token:t",
            f.clock.now()
        )
        .unwrap());
    let rep = dev.read(&f.send(Some("approve"), &msg).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "0", "{rep:?}");
}

/// A reused nonce without a pending request behind it stays a replay: refused before the
/// challenge is read, so the challenge still works with a fresh nonce.
#[tokio::test]
async fn a_reused_nonce_without_a_pending_request_is_a_replay() {
    let f = fixture();
    let dev = Device::new();
    let nonce = super::client::random16();
    let b = Build {
        nonce,
        ..Build::default()
    };
    let bad = dev.message(&b, &dev.csr(Some("scep-aaaaaaaaaaaa.wrong")), &f.ra_cert);
    assert_eq!(
        dev.read(&f.send(Some("approve"), &bad).await.unwrap(), &f.ra_cert)
            .status,
        "2"
    );
    let challenge = f.challenge(Some("approve"), 3600);
    let reuse = dev.message(
        &Build {
            nonce,
            ..Build::default()
        },
        &dev.csr(Some(&challenge)),
        &f.ra_cert,
    );
    let rep = dev.read(&f.send(Some("approve"), &reuse).await.unwrap(), &f.ra_cert);
    assert_eq!(rep.status, "2", "reused nonce: FAILURE");
    assert!(rep.fail_text.unwrap().contains("replay"));
    assert!(f
        .store
        .list_approvals(ApprovalStatus::Pending, 10)
        .unwrap()
        .is_empty());
    let fresh = dev.message(&Build::default(), &dev.csr(Some(&challenge)), &f.ra_cert);
    assert_eq!(
        dev.read(&f.send(Some("approve"), &fresh).await.unwrap(), &f.ra_cert)
            .status,
        "3"
    );
}
