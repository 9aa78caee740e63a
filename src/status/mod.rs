//! Revocation status for relying parties: CRLs (RFC 5280 §5) and OCSP (RFC 6960).
//!
//! CRLs are regenerated when the store's revocation epoch moves (every revocation) or at half
//! their lifetime; concurrent requests wait for one regeneration (coalescing). OCSP responses
//! for unchanged statuses come from a cache; a revocation is seen at once because every request
//! reads the serial's current status from the store (a key lookup, no record decoding).
//!
//! Signing is the expensive part and anyone can ask for it (a nonce, or a serial never
//! issued, makes a response no cache holds), so it never runs on an async worker: at most
//! `ocsp_signers` responses are signed at once, each on the blocking pool, while other
//! requests wait for a turn. Answers for serials not issued here are cached apart from the
//! others (random serials cannot evict real ones) and serve nonce requests too (RFC 8954
//! §2.1 lets a responder leave the nonce out).

use crate::clock::SharedClock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use time::{Duration, OffsetDateTime};

use crate::ca::crl::{reason_code, RevokedEntry};
use crate::ca::ocsp::{self, HashAlg, IssuerHashes, OcspError, SingleAnswer, Status};
use crate::ca::Ca;
use crate::config::StatusConfig;
use crate::error::{Error, Result};
use crate::store::Store;

/// A generated CRL.
#[derive(Debug)]
pub struct CachedCrl {
    /// DER.
    pub der: Vec<u8>,
    /// Strong ETag (CRL number and hash).
    pub etag: String,
    /// Revocation epoch it reflects.
    epoch: u64,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
}

struct CachedOcsp {
    status: Status,
    der: Arc<Vec<u8>>,
    produced_at: i64,
}

/// Most cached OCSP responses kept; the cache is cleared past this.
const OCSP_CACHE_MAX: usize = 200_000;
/// Most cached answers for serials not issued here; that cache is cleared past this.
const OCSP_UNKNOWN_CACHE_MAX: usize = 100_000;

/// (serial, SHA-256 CertID?) → last signed response.
type OcspCache = RwLock<HashMap<(Vec<u8>, bool), CachedOcsp>>;

/// The status service.
pub struct StatusService {
    /// Signs CRLs and OCSP responses.
    ca: Arc<Ca>,
    /// Revocations.
    store: Arc<dyn Store>,
    /// Lifetimes, nonce policy.
    cfg: StatusConfig,
    /// CertID hashes of the issuing CA.
    hashes: IssuerHashes,
    /// The issuing CA's CRL; the mutex also coalesces regeneration.
    crl: Mutex<Option<Arc<CachedCrl>>>,
    /// The root's CRL.
    root_crl: Mutex<Option<Arc<CachedCrl>>>,
    /// Responses for serials issued here, by (serial, hash alg).
    ocsp_cache: OcspCache,
    /// Responses for serials not issued here, by (serial, hash alg): kept apart so that a
    /// stream of made-up serials cannot evict the others.
    unknown_cache: OcspCache,
    /// Turns to sign an OCSP response (`ocsp_signers`).
    signers: Arc<tokio::sync::Semaphore>,
    /// CRL thisUpdate/nextUpdate and OCSP producedAt/thisUpdate/nextUpdate.
    clock: SharedClock,
}

/// A response still to be signed: everything [`StatusService::ocsp`] learnt without signing.
struct SignJob {
    /// The certificates asked about, with their current status.
    answers: Vec<(ocsp::CertId, Status)>,
    /// The nonce to echo (RFC 8954).
    nonce: Option<Vec<u8>>,
    /// Where to keep the signed response (single certificates without a nonce).
    cache: Option<CacheSlot>,
}

/// Which cache a signed response goes to, and under which key.
struct CacheSlot {
    unknown: bool,
    key: (Vec<u8>, bool),
}

fn etag(number: u64, der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    format!("\"{number}-{}\"", hex::encode(&d.as_ref()[..8]))
}

impl StatusService {
    /// Builds the service for `ca`.
    pub fn new(
        ca: Arc<Ca>,
        store: Arc<dyn Store>,
        cfg: StatusConfig,
        clock: SharedClock,
    ) -> Result<Self> {
        let hashes = IssuerHashes::of(ca.issuing_der())?;
        let signers = match cfg.ocsp_signers {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        Ok(StatusService {
            ca,
            store,
            cfg,
            hashes,
            crl: Mutex::new(None),
            root_crl: Mutex::new(None),
            ocsp_cache: RwLock::new(HashMap::new()),
            unknown_cache: RwLock::new(HashMap::new()),
            signers: Arc::new(tokio::sync::Semaphore::new(signers)),
            clock,
        })
    }

    /// The issuing CA's current CRL, regenerated if a revocation happened or half its life
    /// passed. Blocking: call from a blocking context.
    pub fn issuing_crl(&self) -> Result<Arc<CachedCrl>> {
        let epoch = self.store.revocation_epoch()?;
        let t = self.clock.now();
        let mut guard = self
            .crl
            .lock()
            .map_err(|_| Error::Internal("CRL lock poisoned".into()))?;
        if let Some(c) = guard.as_ref() {
            let half = c.this_update + (c.next_update - c.this_update) / 2;
            if c.epoch == epoch && t < half {
                return Ok(c.clone());
            }
        }
        let mut entries = Vec::new();
        self.store
            .scan_revoked(&mut |serial, revoked_at, reason, not_after| {
                // RFC 5280 §3.3: an expired certificate may leave the CRL.
                if not_after > t {
                    entries.push(RevokedEntry {
                        serial,
                        revoked_at,
                        reason: reason.to_owned(),
                    });
                }
            })?;
        let number = self.store.next_counter("crl:issuing")?;
        self.store.flush()?;
        let this = OffsetDateTime::from_unix_timestamp(t).map_err(Error::internal)?;
        let lifetime = Duration::seconds(self.cfg.crl_validity_secs.max(60) as i64);
        let der = self.ca.issuing_crl(&entries, number, this, lifetime)?;
        let c = Arc::new(CachedCrl {
            etag: etag(number, &der),
            der,
            epoch,
            this_update: t,
            next_update: t + lifetime.whole_seconds(),
        });
        tracing::info!(number, entries = entries.len(), "issuing CA CRL generated");
        *guard = Some(c.clone());
        Ok(c)
    }

    /// The issuing CA's CRL made last, without making one: what relying parties got.
    pub fn last_issuing_crl(&self) -> Option<Arc<CachedCrl>> {
        self.crl.lock().ok().and_then(|g| g.clone())
    }

    /// The root's CRL, if the root key is here.
    pub fn root_crl(&self) -> Result<Option<Arc<CachedCrl>>> {
        let t = self.clock.now();
        let mut guard = self
            .root_crl
            .lock()
            .map_err(|_| Error::Internal("CRL lock poisoned".into()))?;
        if let Some(c) = guard.as_ref() {
            if t < c.this_update + (c.next_update - c.this_update) / 2 {
                return Ok(Some(c.clone()));
            }
        }
        let number = self.store.next_counter("crl:root")?;
        self.store.flush()?;
        let this = OffsetDateTime::from_unix_timestamp(t).map_err(Error::internal)?;
        let lifetime = Duration::seconds((self.cfg.crl_validity_secs.max(60) * 7) as i64);
        let Some(der) = self.ca.root_crl(number, this, lifetime)? else {
            return Ok(None);
        };
        let c = Arc::new(CachedCrl {
            etag: etag(number, &der),
            der,
            epoch: 0,
            this_update: t,
            next_update: t + lifetime.whole_seconds(),
        });
        *guard = Some(c.clone());
        Ok(Some(c))
    }

    /// Answers an OCSP request (DER). Always returns an OCSPResponse, with its nextUpdate when
    /// HTTP intermediaries may cache it (no nonce). A response that must be signed waits for
    /// a signing turn and is signed on the blocking pool.
    pub async fn ocsp(self: &Arc<Self>, request: &[u8]) -> (Arc<Vec<u8>>, Option<i64>) {
        let job = match self.ocsp_lookup(request) {
            Ok(Lookup::Ready(der, next)) => return (der, next),
            Ok(Lookup::Sign(job)) => job,
            Err(e) => return self.failure(e),
        };
        // The semaphore is never closed; a turn is released when its signing ends.
        let Ok(turn) = self.signers.clone().acquire_owned().await else {
            return self.failure(OcspFailure::internal("OCSP signers closed"));
        };
        let svc = self.clone();
        let signed = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let t = svc.clock.now();
            svc.ocsp_sign(job, t)
        })
        .await;
        match signed {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => self.failure(e),
            Err(e) => self.failure(OcspFailure::internal(e)),
        }
    }

    fn failure(&self, e: OcspFailure) -> (Arc<Vec<u8>>, Option<i64>) {
        let code = match e {
            OcspFailure::Protocol(c) => c,
            OcspFailure::Internal(msg) => {
                tracing::error!(detail = %msg, "OCSP failure");
                OcspError::InternalError
            }
        };
        (Arc::new(ocsp::error_response(code)), None)
    }

    fn status_of(&self, id: &ocsp::CertId) -> std::result::Result<Status, OcspFailure> {
        let Some(serial) = ocsp::serial_of(id) else {
            return Ok(Status::Unknown);
        };
        Ok(
            match self
                .store
                .revocation_of(&serial)
                .map_err(OcspFailure::internal)?
            {
                None => Status::Unknown,
                Some(None) => Status::Good,
                Some(Some((at, reason))) => Status::Revoked(
                    at,
                    reason_code(&reason).map(|r| r as u8).filter(|c| *c != 0),
                ),
            },
        )
    }

    /// Everything but signing: parses the request, reads the statuses and answers from a
    /// cache when it can.
    fn ocsp_lookup(&self, request: &[u8]) -> std::result::Result<Lookup, OcspFailure> {
        let req = ocsp::parse_request(request).map_err(OcspFailure::Protocol)?;
        if !req.certs.iter().all(|id| self.hashes.matches(id)) {
            return Err(OcspFailure::Protocol(OcspError::Unauthorized));
        }
        let nonce = if self.cfg.ocsp_ignore_nonces {
            None
        } else {
            req.nonce
        };
        let t = self.clock.now();
        let validity = self.validity();
        let mut answers = Vec::with_capacity(req.certs.len());
        for id in req.certs {
            let status = self.status_of(&id)?;
            answers.push((id, status));
        }
        // The cacheable cases: one certificate without a nonce, or one never issued here.
        let cache = match answers.as_slice() {
            [(id, status)] if nonce.is_none() || *status == Status::Unknown => Some(CacheSlot {
                unknown: *status == Status::Unknown,
                key: (id.serial.clone(), id.alg == HashAlg::Sha256),
            }),
            _ => None,
        };
        let Some(slot) = cache else {
            return Ok(Lookup::Sign(SignJob {
                answers,
                nonce,
                cache: None,
            }));
        };
        if let Ok(cache) = self.cache(slot.unknown).read() {
            if let Some(c) = cache.get(&slot.key) {
                if c.status == answers[0].1 && t - c.produced_at < validity / 4 {
                    return Ok(Lookup::Ready(c.der.clone(), Some(c.produced_at + validity)));
                }
            }
        }
        Ok(Lookup::Sign(SignJob {
            answers,
            nonce: None,
            cache: Some(slot),
        }))
    }

    fn validity(&self) -> i64 {
        self.cfg.ocsp_validity_secs.max(60) as i64
    }

    fn cache(&self, unknown: bool) -> &OcspCache {
        if unknown {
            &self.unknown_cache
        } else {
            &self.ocsp_cache
        }
    }

    /// Signs `job` at time `t` (blocking) and keeps the response if it may be cached.
    fn ocsp_sign(
        &self,
        job: SignJob,
        t: i64,
    ) -> std::result::Result<(Arc<Vec<u8>>, Option<i64>), OcspFailure> {
        let validity = self.validity();
        let answers: Vec<SingleAnswer<'_>> = job
            .answers
            .iter()
            .map(|(id, status)| SingleAnswer {
                id,
                status: status.clone(),
            })
            .collect();
        let der = Arc::new(
            self.ca
                .ocsp_response(
                    &self.hashes,
                    &answers,
                    t,
                    t + validity,
                    job.nonce.as_deref(),
                )
                .map_err(OcspFailure::internal)?,
        );
        let Some(slot) = job.cache else {
            return Ok((der, None));
        };
        let max = if slot.unknown {
            OCSP_UNKNOWN_CACHE_MAX
        } else {
            OCSP_CACHE_MAX
        };
        if let Ok(mut cache) = self.cache(slot.unknown).write() {
            if cache.len() >= max {
                cache.clear();
            }
            cache.insert(
                slot.key,
                CachedOcsp {
                    status: answers[0].status.clone(),
                    der: der.clone(),
                    produced_at: t,
                },
            );
        }
        Ok((der, Some(t + validity)))
    }
}

/// What [`StatusService::ocsp_lookup`] found.
enum Lookup {
    /// A response from a cache (or an error response), with its nextUpdate when cacheable.
    Ready(Arc<Vec<u8>>, Option<i64>),
    /// A response to sign.
    Sign(SignJob),
}

enum OcspFailure {
    Protocol(OcspError),
    Internal(String),
}

impl OcspFailure {
    fn internal(e: impl std::fmt::Display) -> Self {
        OcspFailure::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::CaConfig;
    use crate::store::sled_store::SledStore;

    #[test]
    fn the_crl_follows_the_clock_and_is_renewed_at_half_its_life() {
        let dir = tempfile::tempdir().unwrap();
        Ca::create(dir.path(), &CaConfig::default(), None).unwrap();
        let ca = Arc::new(Ca::load(dir.path()).unwrap());
        let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
        let clock = Arc::new(ManualClock::starting_now());
        let svc = StatusService::new(ca, store, StatusConfig::default(), clock.clone()).unwrap();
        let first = svc.issuing_crl().unwrap();
        assert_eq!(first.this_update, clock.now());
        let life = first.next_update - first.this_update;
        assert!(life >= 60, "{life}");
        // Before half its life the same CRL is served; after it, a new one dated now.
        clock.advance(life / 2 - 1);
        assert_eq!(svc.issuing_crl().unwrap().etag, first.etag);
        clock.advance(1);
        let second = svc.issuing_crl().unwrap();
        assert_ne!(second.etag, first.etag);
        assert_eq!(second.this_update, clock.now());
        assert_eq!(second.next_update, clock.now() + life);
    }
}
