//! Revocation status for relying parties: CRLs (RFC 5280 §5) and OCSP (RFC 6960).
//!
//! CRLs are regenerated when the store's revocation epoch moves (every revocation) or at half
//! their lifetime; concurrent requests wait for one regeneration (coalescing). OCSP responses
//! for unchanged statuses come from a cache; a revocation is seen at once because every request
//! reads the serial's current status from the store (a key lookup, no record decoding).

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
    /// (serial, hash alg) → last signed response.
    ocsp_cache: RwLock<HashMap<(Vec<u8>, bool), CachedOcsp>>,
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn etag(number: u64, der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    format!("\"{number}-{}\"", hex::encode(&d.as_ref()[..8]))
}

impl StatusService {
    /// Builds the service for `ca`.
    pub fn new(ca: Arc<Ca>, store: Arc<dyn Store>, cfg: StatusConfig) -> Result<Self> {
        let hashes = IssuerHashes::of(ca.issuing_der())?;
        Ok(StatusService {
            ca,
            store,
            cfg,
            hashes,
            crl: Mutex::new(None),
            root_crl: Mutex::new(None),
            ocsp_cache: RwLock::new(HashMap::new()),
        })
    }

    /// The issuing CA's current CRL, regenerated if a revocation happened or half its life
    /// passed. Blocking: call from a blocking context.
    pub fn issuing_crl(&self) -> Result<Arc<CachedCrl>> {
        let epoch = self.store.revocation_epoch()?;
        let t = now();
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

    /// The root's CRL, if the root key is here.
    pub fn root_crl(&self) -> Result<Option<Arc<CachedCrl>>> {
        let t = now();
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

    /// Answers an OCSP request (DER). Always returns an OCSPResponse; the flag says whether
    /// it may be cached by HTTP intermediaries (no nonce), with its nextUpdate.
    pub fn ocsp(&self, request: &[u8]) -> (Arc<Vec<u8>>, Option<i64>) {
        match self.ocsp_inner(request) {
            Ok(r) => r,
            Err(e) => {
                let code = match e {
                    OcspFailure::Protocol(c) => c,
                    OcspFailure::Internal(msg) => {
                        tracing::error!(detail = %msg, "OCSP failure");
                        OcspError::InternalError
                    }
                };
                (Arc::new(ocsp::error_response(code)), None)
            }
        }
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

    fn ocsp_inner(
        &self,
        request: &[u8],
    ) -> std::result::Result<(Arc<Vec<u8>>, Option<i64>), OcspFailure> {
        let req = ocsp::parse_request(request).map_err(OcspFailure::Protocol)?;
        if !req.certs.iter().all(|id| self.hashes.matches(id)) {
            return Err(OcspFailure::Protocol(OcspError::Unauthorized));
        }
        let nonce = if self.cfg.ocsp_ignore_nonces {
            None
        } else {
            req.nonce.as_deref()
        };
        let t = now();
        let validity = self.cfg.ocsp_validity_secs.max(60) as i64;
        // The cacheable case: one certificate, no nonce.
        if req.certs.len() == 1 && nonce.is_none() {
            let id = &req.certs[0];
            let status = self.status_of(id)?;
            let key = (id.serial.clone(), id.alg == HashAlg::Sha256);
            if let Ok(cache) = self.ocsp_cache.read() {
                if let Some(c) = cache.get(&key) {
                    if c.status == status && t - c.produced_at < validity / 4 {
                        return Ok((c.der.clone(), Some(c.produced_at + validity)));
                    }
                }
            }
            let der = Arc::new(
                self.ca
                    .ocsp_response(
                        &self.hashes,
                        &[SingleAnswer {
                            id,
                            status: status.clone(),
                        }],
                        t,
                        t + validity,
                        None,
                    )
                    .map_err(OcspFailure::internal)?,
            );
            if let Ok(mut cache) = self.ocsp_cache.write() {
                if cache.len() >= OCSP_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(
                    key,
                    CachedOcsp {
                        status,
                        der: der.clone(),
                        produced_at: t,
                    },
                );
            }
            return Ok((der, Some(t + validity)));
        }
        let mut answers = Vec::with_capacity(req.certs.len());
        for id in &req.certs {
            answers.push(SingleAnswer {
                id,
                status: self.status_of(id)?,
            });
        }
        let der = self
            .ca
            .ocsp_response(&self.hashes, &answers, t, t + validity, nonce)
            .map_err(OcspFailure::internal)?;
        Ok((Arc::new(der), None))
    }
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
