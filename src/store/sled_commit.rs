//! Certificate writes on sled. One transaction applies a batch of them: each write is checked
//! against what the transaction sees (earlier writes of the batch included), then written with
//! what it consumes and its audit entry, or refused without writing anything.

use std::sync::{Arc, RwLock};

use sled::transaction::{TransactionError, TransactionalTree, UnabortableTransactionError};
use sled::Transactional;

use super::sled_daily;
use super::sled_registry::append_audit_in;
use super::sled_store::{expiry_key, link_key, subject_key};
use super::{
    CertStatus, CertificateCommit, CertificateRecord, CommitKind, Consumes, CredentialRecord,
    CredentialUse, InsertOutcome, OrderRecord, PickupRecord, SubjectRecord,
};
use crate::error::{Error, Result};
use crate::states::{OrderStatus, SubjectStatus};

/// The trees a certificate write touches.
#[derive(Clone)]
pub(super) struct CommitTrees {
    pub(super) certs: sled::Tree,
    pub(super) by_subject: sled::Tree,
    pub(super) by_expiry: sled::Tree,
    pub(super) credentials: sled::Tree,
    pub(super) subjects: sled::Tree,
    pub(super) links: sled::Tree,
    pub(super) pickups: sled::Tree,
    pub(super) orders: sled::Tree,
    pub(super) audit: sled::Tree,
    pub(super) meta: sled::Tree,
    /// Certificates per issue day and channel group (`sled_daily`).
    pub(super) daily: sled::Tree,
    /// The store's backup gate: writes hold it shared.
    pub(super) gate: Arc<RwLock<()>>,
}

/// Transaction views, in the order of [`CommitTrees::trees`].
struct Views<'a> {
    certs: &'a TransactionalTree,
    by_subject: &'a TransactionalTree,
    by_expiry: &'a TransactionalTree,
    credentials: &'a TransactionalTree,
    subjects: &'a TransactionalTree,
    links: &'a TransactionalTree,
    pickups: &'a TransactionalTree,
    orders: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    daily: &'a TransactionalTree,
}

/// A write's values, encoded once outside the transaction (it may run more than once).
struct Prepared<'a> {
    c: &'a CertificateCommit,
    value: Vec<u8>,
    order: Option<Vec<u8>>,
}

/// Why a write was not applied.
enum Refused {
    Outcome(InsertOutcome),
    Corrupt(String),
}

type TxResult<T> = std::result::Result<T, UnabortableTransactionError>;

/// One pending write: the tree, the key and the value.
type Write<'v> = (&'v TransactionalTree, Vec<u8>, Vec<u8>);

impl CommitTrees {
    fn trees(&self) -> [&sled::Tree; 11] {
        [
            &self.certs,
            &self.by_subject,
            &self.by_expiry,
            &self.credentials,
            &self.subjects,
            &self.links,
            &self.pickups,
            &self.orders,
            &self.audit,
            &self.meta,
            &self.daily,
        ]
    }

    /// Applies `writes` in one transaction; one outcome per write, in order.
    pub(super) fn apply(
        &self,
        writes: &[&CertificateCommit],
    ) -> Result<Vec<Result<InsertOutcome>>> {
        let _gate = self
            .gate
            .read()
            .map_err(|_| Error::Internal("store gate poisoned".into()))?;
        let prepared = writes
            .iter()
            .map(|c| {
                Ok(Prepared {
                    c,
                    value: c.cert.to_bytes()?,
                    order: match &c.kind {
                        CommitKind::FinalizeOrder(o) => Some(serde_json::to_vec(o)?),
                        CommitKind::Issue(_) => None,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let trees = self.trees();
        let res = trees[..].transaction(|t| {
            let v = Views {
                certs: &t[0],
                by_subject: &t[1],
                by_expiry: &t[2],
                credentials: &t[3],
                subjects: &t[4],
                links: &t[5],
                pickups: &t[6],
                orders: &t[7],
                audit: &t[8],
                meta: &t[9],
                daily: &t[10],
            };
            let mut out = Vec::with_capacity(prepared.len());
            for p in &prepared {
                out.push(match apply_one(&v, p)? {
                    Ok(()) => Ok(InsertOutcome::Inserted),
                    Err(Refused::Outcome(o)) => Ok(o),
                    Err(Refused::Corrupt(e)) => Err(e),
                });
            }
            Ok(out)
        });
        match res {
            Ok(out) => Ok(out
                .into_iter()
                .map(|r| r.map_err(|e| Error::Internal(format!("corrupt record: {e}"))))
                .collect()),
            Err(TransactionError::Abort(())) => Err(Error::Internal("commit aborted".into())),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// One transaction and one flush for a single write (the synchronous path).
    pub(super) fn apply_one_now(&self, c: &CertificateCommit) -> Result<InsertOutcome> {
        self.apply(&[c])?
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("commit produced no outcome".into())))
    }
}

/// Checks, then writes. Every refusal happens before the first write of this job, so a
/// refused job leaves nothing in the shared transaction.
fn apply_one(v: &Views<'_>, p: &Prepared<'_>) -> TxResult<std::result::Result<(), Refused>> {
    let cert = &p.c.cert;
    let refuse = |o: InsertOutcome| Ok(Err(Refused::Outcome(o)));
    if v.certs.get(cert.serial.as_bytes())?.is_some() {
        return refuse(InsertOutcome::SerialTaken);
    }
    // (tree, key, value) to write once every check passed.
    let mut writes: Vec<Write<'_>> = Vec::new();
    if let CommitKind::FinalizeOrder(order) = &p.c.kind {
        // Only a ready order is finalized: two concurrent finalizes issue once.
        let current: Option<OrderRecord> = v
            .orders
            .get(order.id.as_str().as_bytes())?
            .and_then(|raw| serde_json::from_slice(&raw).ok());
        if current.is_none_or(|o| o.status != OrderStatus::Ready) {
            return refuse(InsertOutcome::CredentialUnusable);
        }
        let ov = p.order.clone().unwrap_or_default();
        writes.push((v.orders, order.id.as_str().as_bytes().to_vec(), ov));
    }
    if let Some(sid) = &cert.subject_id {
        let Some(raw) = v.subjects.get(sid.as_str().as_bytes())? else {
            return refuse(InsertOutcome::SubjectInactive);
        };
        let mut subj: SubjectRecord = match serde_json::from_slice(&raw) {
            Ok(s) => s,
            Err(e) => return Ok(Err(Refused::Corrupt(e.to_string()))),
        };
        if subj.status != SubjectStatus::Active {
            return refuse(InsertOutcome::SubjectInactive);
        }
        // Off-boarding reads the generation in its own transaction: a certificate issued
        // concurrently makes one of the two retry.
        subj.generation += 1;
        writes.push((v.subjects, sid.as_str().as_bytes().to_vec(), encode(&subj)?));
        writes.push((
            v.links,
            link_key(sid, b'c', cert.serial.as_bytes()),
            Vec::new(),
        ));
    }
    if let CommitKind::Issue(Some(consumes)) = &p.c.kind {
        match check_consumes(v, cert, consumes)? {
            Ok(w) => writes.push(w),
            Err(r) => return Ok(Err(r)),
        }
    }
    for (tree, k, val) in writes {
        tree.insert(k, val)?;
    }
    v.certs.insert(cert.serial.as_bytes(), p.value.as_slice())?;
    v.by_subject
        .insert(subject_key(&cert.subject, &cert.serial), &[] as &[u8])?;
    v.by_expiry
        .insert(expiry_key(cert.not_after, &cert.serial), &[] as &[u8])?;
    sled_daily::count_in(v.daily, cert)?;
    if let Some(a) = &p.c.audit {
        if let Err(e) = append_audit_in(
            v.audit,
            v.meta,
            &a.actor,
            &a.action,
            &cert.serial.to_hex(),
            "ok",
            &a.detail,
            a.at,
        )? {
            // An audit entry that cannot be encoded does not cost the certificate.
            tracing::error!(error = %e, "audit entry not written");
        }
    }
    Ok(Ok(()))
}

/// What the issuance consumes: checked, and the updated record to write.
fn check_consumes<'v>(
    v: &Views<'v>,
    cert: &CertificateRecord,
    consumes: &Consumes,
) -> TxResult<std::result::Result<Write<'v>, Refused>> {
    let unusable = || Ok(Err(Refused::Outcome(InsertOutcome::CredentialUnusable)));
    match consumes {
        Consumes::Credential(spend) => {
            let key = spend.id.as_str().as_bytes();
            let Some(raw) = v.credentials.get(key)? else {
                return unusable();
            };
            let mut cred: CredentialRecord = match serde_json::from_slice(&raw) {
                Ok(c) => c,
                Err(e) => return Ok(Err(Refused::Corrupt(e.to_string()))),
            };
            if let Some(u) = cred
                .uses
                .iter()
                .find(|u| u.csr_fingerprint == spend.csr_fingerprint)
            {
                return Ok(Err(Refused::Outcome(InsertOutcome::AlreadyIssued(
                    u.serial.clone(),
                ))));
            }
            if cred.uses_left == 0 || cred.disabled || cred.expires_at <= spend.now {
                return unusable();
            }
            cred.uses_left -= 1;
            cred.uses.push(CredentialUse {
                csr_fingerprint: spend.csr_fingerprint.clone(),
                serial: cert.serial.clone(),
            });
            Ok(Ok((v.credentials, key.to_vec(), encode(&cred)?)))
        }
        Consumes::Pickup { id, now } => {
            let Some(raw) = v.pickups.get(id.as_bytes())? else {
                return unusable();
            };
            let mut p: PickupRecord = match serde_json::from_slice(&raw) {
                Ok(p) => p,
                Err(e) => return Ok(Err(Refused::Corrupt(e.to_string()))),
            };
            if p.spent.is_some() || p.expires_at <= *now {
                return unusable();
            }
            p.spent = Some(cert.serial.clone());
            Ok(Ok((v.pickups, id.as_bytes().to_vec(), encode(&p)?)))
        }
        Consumes::Renewal {
            old,
            csr_fingerprint,
        } => {
            let Some(raw) = v.certs.get(old.as_bytes())? else {
                return unusable();
            };
            let mut prev = match CertificateRecord::from_bytes(&raw) {
                Ok(c) => c,
                Err(e) => return Ok(Err(Refused::Corrupt(e.to_string()))),
            };
            if let Some(u) = &prev.renewed_by {
                if &u.csr_fingerprint == csr_fingerprint {
                    return Ok(Err(Refused::Outcome(InsertOutcome::AlreadyIssued(
                        u.serial.clone(),
                    ))));
                }
                return unusable();
            }
            if prev.status != CertStatus::Good {
                return unusable();
            }
            prev.renewed_by = Some(CredentialUse {
                csr_fingerprint: csr_fingerprint.clone(),
                serial: cert.serial.clone(),
            });
            let value = prev.to_bytes().map_err(encoding_failed)?;
            Ok(Ok((v.certs, old.as_bytes().to_vec(), value)))
        }
    }
}

/// Records that were just decoded encode again; a failure here is a storage-level error.
fn encode<T: serde::Serialize>(v: &T) -> TxResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(encoding_failed)
}

fn encoding_failed(e: serde_json::Error) -> UnabortableTransactionError {
    UnabortableTransactionError::Storage(sled::Error::Unsupported(format!(
        "record encoding failed: {e}"
    )))
}
