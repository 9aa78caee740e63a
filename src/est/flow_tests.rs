//! EST operations without HTTP or a socket: the service on a temporary data directory and a
//! manual clock that the tests move to make credentials expire and backoffs end.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use base64ct::{Base64, Encoding};

use super::{ClientAuth, Enrolment, Est};
use crate::ca::Ca;
use crate::clock::{Clock, ManualClock};
use crate::config::{CaConfig, Config};
use crate::error::Error;
use crate::registry::credentials::{self, NewEstCredential};
use crate::secrets::Secrets;
use crate::states::ApprovalStatus;
use crate::store::sled_store::SledStore;
use crate::store::RegistryStore;

struct Fixture {
    est: Est,
    store: Arc<SledStore>,
    secrets: Arc<Secrets>,
    cfg: Arc<Config>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    fixture_with(Config::default())
}

fn fixture_with(cfg: Config) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
    let ca = Arc::new(Ca::load(dir.path()).unwrap());
    let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
    let secrets = Arc::new(Secrets::load_or_create(&dir.path().join("secret.key")).unwrap());
    let cfg = Arc::new(cfg);
    let clock = Arc::new(ManualClock::starting_now());
    let est = Est::new(
        ca,
        store.clone(),
        store.clone(),
        cfg.clone(),
        secrets.clone(),
        clock.clone(),
    )
    .unwrap();
    Fixture {
        est,
        store,
        secrets,
        cfg,
        clock,
        _dir: dir,
    }
}

impl Fixture {
    /// A one-time credential for `printer-7`, valid for `secs`; (username, password).
    fn credential(&self, secs: u64) -> (String, String) {
        let c = credentials::create(
            &*self.store,
            &self.secrets,
            &self.cfg,
            NewEstCredential {
                label: None,
                common_name: "printer-7".into(),
                sans: vec![],
                expires_in: Some(secs),
                uses: Some(1),
                subject_id: None,
                profile: None,
                channel: Default::default(),
            },
            self.clock.now(),
        )
        .unwrap();
        (c.username, c.password)
    }
}

fn basic(user: &str, pass: &str, from: [u8; 4]) -> ClientAuth {
    ClientAuth {
        basic: Some((user.to_owned(), pass.to_owned())),
        client_cert: None,
        tls_exporter: None,
        peer: Some(IpAddr::V4(Ipv4Addr::from(from))),
    }
}

/// A fresh P-256 CSR without names, base64 as EST carries it.
fn csr_body() -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let key = rcgen::KeyPair::generate().unwrap();
    Base64::encode_string(params.serialize_request(&key).unwrap().der()).into_bytes()
}

#[tokio::test]
async fn a_credential_enrols_once_and_expires_with_the_clock() {
    let f = fixture();
    let (user, pass) = f.credential(3600);
    let body = csr_body();
    let first = f
        .est
        .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 1]), &body)
        .await
        .unwrap();
    // The identical retry gets the same certificate; another CSR gets nothing.
    let again = f
        .est
        .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 1]), &body)
        .await
        .unwrap();
    let (Enrolment::Issued(first), Enrolment::Issued(again)) = (first, again) else {
        panic!("no approval is required here");
    };
    assert_eq!(again.serial, first.serial);
    let other = f
        .est
        .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 1]), &csr_body())
        .await;
    assert!(matches!(other, Err(Error::NotPermitted(_))), "{other:?}");
    // A credential past its lifetime authenticates nothing: the clock moved, nobody waited.
    let (user, pass) = f.credential(60);
    f.clock.advance(61);
    let late = f
        .est
        .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 1]), &csr_body())
        .await;
    assert!(matches!(late, Err(Error::Unauthenticated(_))), "{late:?}");
}

#[tokio::test]
async fn failed_logins_back_off_until_the_clock_moves_past_the_wait() {
    let f = fixture();
    let (user, pass) = f.credential(3600);
    let from = [10, 0, 0, 2];
    for _ in 0..5 {
        let r = f
            .est
            .simple_enroll(None, &basic(&user, "wrong", from), &csr_body())
            .await;
        assert!(matches!(r, Err(Error::Unauthenticated(_))), "{r:?}");
    }
    let r = f
        .est
        .simple_enroll(None, &basic(&user, "wrong", from), &csr_body())
        .await;
    let Err(Error::RateLimited(_, wait)) = r else {
        panic!("{r:?}")
    };
    // The right password waits too, from that address…
    let r = f
        .est
        .simple_enroll(None, &basic(&user, &pass, from), &csr_body())
        .await;
    assert!(matches!(r, Err(Error::RateLimited(..))), "{r:?}");
    // …until the wait is over.
    f.clock.advance(wait as i64);
    f.est
        .simple_enroll(None, &basic(&user, &pass, from), &csr_body())
        .await
        .unwrap();
}

/// RFC 7030 §4.2.3: an enrolment that needs approval is pending (not an error) on every retry
/// until an administrator approves it; then the same request is issued.
#[tokio::test]
async fn an_enrolment_awaiting_approval_is_pending_until_approved() {
    let mut cfg = Config::default();
    let name = cfg.est.default_profile.clone();
    if let Some(p) = cfg.profiles.get_mut(&name) {
        p.require_approval = true;
    }
    let f = fixture_with(cfg);
    let (user, pass) = f.credential(3600);
    let body = csr_body();
    for _ in 0..2 {
        let r = f
            .est
            .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 3]), &body)
            .await
            .unwrap();
        let Enrolment::Pending { retry_after, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(retry_after, super::APPROVAL_RETRY_AFTER);
    }
    let waiting = f.store.list_approvals(ApprovalStatus::Pending, 10).unwrap();
    assert_eq!(waiting.len(), 1);
    assert!(f
        .store
        .decide_approval(
            &waiting[0].id,
            ApprovalStatus::Approved,
            "admin",
            f.clock.now()
        )
        .unwrap());
    let r = f
        .est
        .simple_enroll(None, &basic(&user, &pass, [10, 0, 0, 3]), &body)
        .await
        .unwrap();
    assert!(matches!(r, Enrolment::Issued(_)), "{r:?}");
}
