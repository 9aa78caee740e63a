//! A PKCSReq sent again as it was (micromdm's scepclient polls a PENDING request that way,
//! not with CertPoll): answered like a poll while the request waits for approval, issued once
//! approved; any other reused senderNonce is still a replay.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::RsaKeyPair;

use super::cms::{self, Signer};
use super::der::{self, tag};
use super::envelope::{self, Cipher};
use super::Scep;
use crate::ca::ra::Ra;
use crate::ca::Ca;
use crate::clock::{Clock, ManualClock};
use crate::config::{CaConfig, Config, ScepPath};
use crate::ids::Label;
use crate::registry::credentials::{self, Channel, NewEstCredential};
use crate::secrets::Secrets;
use crate::states::ApprovalStatus;
use crate::status::StatusService;
use crate::store::sled_store::SledStore;
use crate::store::RegistryStore;

/// RFC 8894 §3.2.1 attribute types of a request.
const MESSAGE_TYPE: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 2];
const PKI_STATUS: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 3];
const SENDER_NONCE: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 5];
const TRANSACTION_ID: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 7];
/// PKCS#9 challengePassword.
const CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];

struct Fixture {
    scep: Scep,
    ra: Arc<Ra>,
    store: Arc<SledStore>,
    secrets: Arc<Secrets>,
    cfg: Arc<Config>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// The service with a label `approve` whose enrolments wait for an administrator.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let now = time::OffsetDateTime::now_utc();
    let ra = Arc::new(Ra::load_or_create(dir.path(), &ca, None, 30, now).unwrap());
    let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
    let secrets = Arc::new(Secrets::load_or_create(&dir.path().join("secret.key")).unwrap());
    let mut cfg = Config::default();
    cfg.scep.labels.insert(
        label(),
        ScepPath {
            require_approval: true,
            ..ScepPath::default()
        },
    );
    let cfg = Arc::new(cfg);
    let clock = Arc::new(ManualClock::starting_now());
    let status = Arc::new(
        StatusService::new(ca.clone(), store.clone(), cfg.status.clone(), clock.clone()).unwrap(),
    );
    let scep = Scep::new(
        ca,
        ra.clone(),
        store.clone(),
        cfg.clone(),
        secrets.clone(),
        status,
        Arc::new(crate::est::throttle::Throttle::from_env()),
        clock.clone(),
    );
    Fixture {
        scep,
        ra,
        store,
        secrets,
        cfg,
        clock,
        _dir: dir,
    }
}

fn label() -> Label {
    Label::parse("approve").unwrap()
}

impl Fixture {
    /// A one-time challenge on the `approve` label.
    fn challenge(&self) -> String {
        let c = credentials::create(
            &*self.store,
            &self.secrets,
            &self.cfg,
            NewEstCredential {
                label: Some("approve".into()),
                common_name: "printer-7".into(),
                sans: vec![],
                expires_in: Some(3600),
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

    /// The pkiStatus of the CertRep that answers `msg` on the `approve` label.
    async fn send(&self, msg: &[u8]) -> String {
        let rep = self
            .scep
            .pki_operation(Some(&label()), msg, None)
            .await
            .unwrap();
        let signed = cms::read_signed(&rep).unwrap();
        signed
            .attribute(PKI_STATUS)
            .unwrap()
            .text()
            .unwrap()
            .to_owned()
    }
}

/// A requester as scepclient is one: an RSA key and a self-signed certificate for it.
struct Client {
    key: RsaKeyPair,
    rcgen_key: rcgen::KeyPair,
    cert_der: Vec<u8>,
}

fn client() -> Client {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).unwrap();
    let rcgen_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["requester".to_owned()])
        .unwrap()
        .self_signed(&rcgen_key)
        .unwrap();
    Client {
        key,
        rcgen_key,
        cert_der: cert.der().to_vec(),
    }
}

impl Client {
    /// A signed pkiMessage of `message_type` around a CSR with `challenge`, encrypted to
    /// the RA with AES-128 and signed with SHA-256.
    fn message(&self, ra_der: &[u8], message_type: &str, challenge: &str, nonce: u8) -> Vec<u8> {
        let attr = rcgen::Attribute {
            oid: CHALLENGE_PASSWORD,
            values: der::set_of(&[&der::encode(tag::UTF8_STRING, challenge.as_bytes())]),
        };
        let csr = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request_with_attributes(&self.rcgen_key, vec![attr])
            .unwrap();
        let sealed = envelope::seal(csr.der(), ra_der, Cipher::Aes128).unwrap();
        let printable = |s: &str| der::encode(tag::PRINTABLE_STRING, s.as_bytes());
        let attrs = vec![
            cms::attribute(MESSAGE_TYPE, &printable(message_type)),
            cms::attribute(TRANSACTION_ID, &printable("resend-test-1")),
            cms::attribute(SENDER_NONCE, &der::encode(tag::OCTET_STRING, &[nonce; 16])),
        ];
        let signer = Signer {
            cert_der: &self.cert_der,
            key: &self.key,
        };
        cms::sign(Some(&sealed), &attrs, &signer, &[], &[]).unwrap()
    }
}

#[tokio::test]
async fn a_pending_pkcs_req_sent_again_is_polled_then_issued_after_approval() {
    let f = fixture();
    let c = client();
    let msg = c.message(&f.ra.current.cert_der, "19", &f.challenge(), 1);
    assert_eq!(f.send(&msg).await, "3", "first request: PENDING");
    assert_eq!(
        f.send(&msg).await,
        "3",
        "the same bytes again: still PENDING"
    );
    let waiting = f.store.list_approvals(ApprovalStatus::Pending, 10).unwrap();
    assert_eq!(waiting.len(), 1, "one approval for both sends");
    let decided = f
        .store
        .decide_approval(
            &waiting[0].id,
            ApprovalStatus::Approved,
            "admin",
            f.clock.now(),
        )
        .unwrap();
    assert!(decided);
    assert_eq!(f.send(&msg).await, "0", "after approval: SUCCESS");
}

#[tokio::test]
async fn a_reused_nonce_without_a_pending_request_is_a_replay() {
    let f = fixture();
    let c = client();
    // A message that never got as far as PENDING (its challenge is wrong): its nonce is spent.
    let bad = c.message(&f.ra.current.cert_der, "19", "scep-AAAAAAAAAAAA.wrong", 2);
    assert_eq!(f.send(&bad).await, "2");
    assert_eq!(f.send(&bad).await, "2");
    // A good request that reuses that nonce is refused before its challenge is read, so the
    // challenge still works with a fresh nonce.
    let challenge = f.challenge();
    let reuse = c.message(&f.ra.current.cert_der, "19", &challenge, 2);
    assert_eq!(f.send(&reuse).await, "2", "reused nonce: FAILURE");
    assert!(f
        .store
        .list_approvals(ApprovalStatus::Pending, 10)
        .unwrap()
        .is_empty());
    let fresh = c.message(&f.ra.current.cert_der, "19", &challenge, 3);
    assert_eq!(f.send(&fresh).await, "3", "fresh nonce: PENDING");
}
