//! [`RegistryStore`] on sled.

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
    UnabortableTransactionError,
};

use super::sled_store::{link_key, SledStore};
use super::{
    AccountRecord, ApprovalRecord, AuditCheckpointRecord, AuditRecord, CertificateRecord,
    CreateSubject, CredentialRecord, EabKeyRecord, OffboardSummary, RegistryStore, SubjectRecord,
};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, EabKid, Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::{AccountStatus, ApprovalStatus, SubjectStatus};

fn approval_key(credential: &str, fingerprint: &str) -> Vec<u8> {
    format!("k:{credential}\u{0}{fingerprint}").into_bytes()
}

fn external_key(kind: &str, external_id: &str) -> Vec<u8> {
    let mut k = kind.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(external_id.as_bytes());
    k
}

const AUDIT_HEAD: &[u8] = b"audit_head";

/// The `audit_head` value: the last seq (8 bytes, big-endian), then its hash (hex).
fn parse_head(v: &[u8]) -> Option<(u64, String)> {
    let seq = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let hash = std::str::from_utf8(v.get(8..)?).ok()?;
    (!hash.is_empty()).then(|| (seq, hash.to_owned()))
}

/// Inside a transaction on the audit and meta trees: appends one entry to the hash chain.
/// The inner `Err` is an encoding failure.
#[allow(clippy::too_many_arguments)]
pub(super) fn append_audit_in(
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
    at: i64,
) -> std::result::Result<std::result::Result<AuditRecord, String>, UnabortableTransactionError> {
    let (seq, prev) = match meta.get(AUDIT_HEAD)?.as_deref().and_then(parse_head) {
        Some(head) => head,
        None => (0, "0".repeat(64)),
    };
    let mut e = AuditRecord {
        seq: seq + 1,
        time: at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.to_owned(),
        prev_hash: prev,
        hash: String::new(),
    };
    e.hash = crate::store::registry_records::audit_hash(&e);
    let v = match serde_json::to_vec(&e) {
        Ok(v) => v,
        Err(err) => return Ok(Err(err.to_string())),
    };
    audit.insert(&e.seq.to_be_bytes(), v)?;
    let mut head = e.seq.to_be_bytes().to_vec();
    head.extend_from_slice(e.hash.as_bytes());
    meta.insert(AUDIT_HEAD, head)?;
    Ok(Ok(e))
}

enum Abort {
    Retry,
    Json(String),
}

fn jerr(e: serde_json::Error) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Json(e.to_string()))
}

impl SledStore {
    fn links(&self, id: &SubjectId, kind: u8) -> Result<Vec<Vec<u8>>> {
        let prefix = link_key(id, kind, b"");
        let mut out = Vec::new();
        for kv in self.reg.links.scan_prefix(&prefix) {
            let (k, _) = kv?;
            out.push(k[prefix.len()..].to_vec());
        }
        Ok(out)
    }
}

impl RegistryStore for SledStore {
    fn create_subject(&self, s: &SubjectRecord) -> Result<CreateSubject> {
        let _gate = self.write_gate()?;
        let ek = external_key(&s.kind, &s.external_id);
        let v = serde_json::to_vec(s)?;
        let res = (&self.reg.subjects, &self.reg.by_external).transaction(|(subjects, by_ext)| {
            if let Some(id) = by_ext.get(&ek)? {
                let raw = subjects
                    .get(&id)?
                    .ok_or(ConflictableTransactionError::Abort(Abort::Json(
                        "dangling external id".into(),
                    )))?;
                let existing: SubjectRecord = serde_json::from_slice(&raw).map_err(jerr)?;
                return Ok(Some(existing));
            }
            subjects.insert(s.id.as_str().as_bytes(), v.as_slice())?;
            by_ext.insert(ek.as_slice(), s.id.as_str().as_bytes())?;
            Ok(None)
        });
        match res {
            Ok(None) => Ok(CreateSubject::Created),
            Ok(Some(existing)) => Ok(CreateSubject::Exists(Box::new(existing))),
            Err(TransactionError::Abort(Abort::Json(e))) => Err(Error::Internal(e)),
            Err(TransactionError::Abort(Abort::Retry)) => Err(Error::Conflict("retry".into())),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn get_subject(&self, id: &SubjectId) -> Result<Option<SubjectRecord>> {
        match self.reg.subjects.get(id.as_str().as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn get_subject_by_external(
        &self,
        kind: &str,
        external_id: &str,
    ) -> Result<Option<SubjectRecord>> {
        match self.reg.by_external.get(external_key(kind, external_id))? {
            Some(id) => self.get_subject(&SubjectId::parse(&String::from_utf8_lossy(&id))?),
            None => Ok(None),
        }
    }

    fn update_subject(&self, old: &SubjectRecord, new: &SubjectRecord) -> Result<bool> {
        let _gate = self.write_gate()?;
        let key = old.id.as_str().as_bytes();
        let Some(raw) = self.reg.subjects.get(key)? else {
            return Ok(false);
        };
        let cur: SubjectRecord = serde_json::from_slice(&raw)?;
        if &cur != old {
            return Ok(false);
        }
        Ok(self
            .reg
            .subjects
            .compare_and_swap(key, Some(raw), Some(serde_json::to_vec(new)?))?
            .is_ok())
    }

    fn scan_subjects(&self, f: &mut dyn FnMut(SubjectRecord) -> bool) -> Result<()> {
        for kv in self.reg.subjects.iter() {
            let (_, v) = kv?;
            if !f(serde_json::from_slice(&v)?) {
                break;
            }
        }
        Ok(())
    }

    fn scan_subjects_after(
        &self,
        after: Option<&SubjectId>,
        f: &mut dyn FnMut(SubjectRecord) -> bool,
    ) -> Result<()> {
        use std::ops::Bound;
        let iter = match after {
            Some(a) => self
                .reg
                .subjects
                .range::<&[u8], _>((Bound::Excluded(a.as_str().as_bytes()), Bound::Unbounded)),
            None => self.reg.subjects.iter(),
        };
        for kv in iter {
            let (_, v) = kv?;
            if !f(serde_json::from_slice(&v)?) {
                break;
            }
        }
        Ok(())
    }

    fn subject_certificates(&self, id: &SubjectId) -> Result<Vec<Serial>> {
        self.links(id, b'c')?
            .iter()
            .map(|b| Serial::from_bytes(b))
            .collect()
    }

    fn subject_credentials(&self, id: &SubjectId) -> Result<Vec<CredentialId>> {
        self.links(id, b'r')?
            .iter()
            .map(|b| CredentialId::parse(&String::from_utf8_lossy(b)))
            .collect()
    }

    fn subject_eab_keys(&self, id: &SubjectId) -> Result<Vec<EabKid>> {
        self.links(id, b'e')?
            .iter()
            .map(|b| EabKid::parse(&String::from_utf8_lossy(b)))
            .collect()
    }

    fn offboard_subject(
        &self,
        id: &SubjectId,
        at: i64,
        reason: RevocationReason,
    ) -> Result<OffboardSummary> {
        let _gate = self.write_gate()?;
        for _ in 0..16 {
            let snapshot = self
                .get_subject(id)?
                .ok_or_else(|| Error::NotFound("no such subject".into()))?;
            let certs = self.subject_certificates(id)?;
            let creds = self.subject_credentials(id)?;
            let eabs = self.subject_eab_keys(id)?;
            let approvals = self.links(id, b'a')?;
            let res = (
                &self.reg.approvals,
                &self.reg.subjects,
                &self.certs_tree(),
                &self.revoked_tree(),
                &self.meta_tree(),
                &self.credentials_tree(),
                &self.acme.eab_keys,
                &self.acme.accounts,
            )
                .transaction(
                    |(
                        approvals_t,
                        subjects,
                        certs_t,
                        revoked,
                        meta,
                        credentials,
                        eab_keys,
                        accounts,
                    )| {
                        let raw = subjects
                            .get(id.as_str().as_bytes())?
                            .ok_or(ConflictableTransactionError::Abort(Abort::Retry))?;
                        let mut subj: SubjectRecord = serde_json::from_slice(&raw).map_err(jerr)?;
                        if subj.generation != snapshot.generation {
                            return Err(ConflictableTransactionError::Abort(Abort::Retry));
                        }
                        let mut sum = OffboardSummary::default();
                        subj.status = SubjectStatus::Offboarded;
                        subj.updated_at = at;
                        subjects.insert(
                            id.as_str().as_bytes(),
                            serde_json::to_vec(&subj).map_err(jerr)?,
                        )?;
                        for serial in &certs {
                            let Some(raw) = certs_t.get(serial.as_bytes())? else {
                                continue;
                            };
                            let mut rec = CertificateRecord::from_bytes(&raw).map_err(jerr)?;
                            // A good certificate is revoked; one on hold is revoked for good,
                            // from the hold's date; one revoked for good stays as it is.
                            let Some((status, since)) = rec.status.revoked(at, reason, false)
                            else {
                                continue;
                            };
                            rec.status = status;
                            revoked.insert(
                                serial.as_bytes(),
                                super::sled_store::revoked_entry(since, rec.not_after, reason),
                            )?;
                            certs_t.insert(serial.as_bytes(), rec.to_bytes().map_err(jerr)?)?;
                            sum.certificates_revoked += 1;
                        }
                        if sum.certificates_revoked > 0 {
                            super::sled_store::bump_epoch(meta)?;
                        }
                        for c in &creds {
                            let Some(raw) = credentials.get(c.as_str().as_bytes())? else {
                                continue;
                            };
                            let mut rec: CredentialRecord =
                                serde_json::from_slice(&raw).map_err(jerr)?;
                            if !rec.disabled {
                                rec.disabled = true;
                                credentials.insert(
                                    c.as_str().as_bytes(),
                                    serde_json::to_vec(&rec).map_err(jerr)?,
                                )?;
                                sum.credentials_disabled += 1;
                            }
                        }
                        for k in &eabs {
                            let Some(raw) = eab_keys.get(k.as_str().as_bytes())? else {
                                continue;
                            };
                            let mut rec: EabKeyRecord =
                                serde_json::from_slice(&raw).map_err(jerr)?;
                            if !rec.withdrawn {
                                rec.withdrawn = true;
                                eab_keys.insert(
                                    k.as_str().as_bytes(),
                                    serde_json::to_vec(&rec).map_err(jerr)?,
                                )?;
                                sum.eab_keys_withdrawn += 1;
                            }
                            if let Some(acct_id) = &rec.account {
                                if let Some(raw) = accounts.get(acct_id.as_str().as_bytes())? {
                                    let mut a: AccountRecord =
                                        serde_json::from_slice(&raw).map_err(jerr)?;
                                    if a.status == AccountStatus::Valid {
                                        a.status = AccountStatus::Deactivated;
                                        accounts.insert(
                                            acct_id.as_str().as_bytes(),
                                            serde_json::to_vec(&a).map_err(jerr)?,
                                        )?;
                                        sum.accounts_deactivated += 1;
                                    }
                                }
                            }
                        }
                        for a in &approvals {
                            let Some(raw) = approvals_t.get(a.as_slice())? else {
                                continue;
                            };
                            let mut rec: ApprovalRecord =
                                serde_json::from_slice(&raw).map_err(jerr)?;
                            if rec.status == ApprovalStatus::Pending {
                                rec.status = ApprovalStatus::Rejected;
                                rec.decided_by = Some("system:offboarding".into());
                                rec.decided_at = Some(at);
                                approvals_t.insert(
                                    a.as_slice(),
                                    serde_json::to_vec(&rec).map_err(jerr)?,
                                )?;
                                sum.approvals_rejected += 1;
                            }
                        }
                        Ok(sum)
                    },
                );
            // It may have withdrawn EAB keys and deactivated accounts.
            self.acme_cache.invalidate();
            match res {
                Ok(sum) => return Ok(sum),
                Err(TransactionError::Abort(Abort::Retry)) => continue,
                Err(TransactionError::Abort(Abort::Json(e))) => return Err(Error::Internal(e)),
                Err(TransactionError::Storage(e)) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(
            "the subject kept changing; retry off-boarding".into(),
        ))
    }

    fn create_approval(&self, a: &ApprovalRecord) -> Result<ApprovalRecord> {
        let _gate = self.write_gate()?;
        let key = approval_key(&a.credential, &a.csr_fingerprint);
        let v = serde_json::to_vec(a)?;
        let res = self.reg.approvals.transaction(|t| {
            if let Some(id) = t.get(&key)? {
                let raw = t
                    .get(&id)?
                    .ok_or(ConflictableTransactionError::Abort(Abort::Json(
                        "dangling approval".into(),
                    )))?;
                return serde_json::from_slice::<ApprovalRecord>(&raw).map_err(jerr);
            }
            t.insert(a.id.as_bytes(), v.as_slice())?;
            t.insert(key.as_slice(), a.id.as_bytes())?;
            Ok(a.clone())
        });
        if let Some(sid) = &a.subject_id {
            self.reg
                .links
                .insert(link_key(sid, b'a', a.id.as_bytes()), &[] as &[u8])?;
        }
        match res {
            Ok(r) => Ok(r),
            Err(TransactionError::Abort(Abort::Json(e))) => Err(Error::Internal(e)),
            Err(TransactionError::Abort(Abort::Retry)) => Err(Error::Conflict("retry".into())),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        if id.starts_with("k:") {
            return Ok(None);
        }
        match self.reg.approvals.get(id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn get_approval_for(
        &self,
        credential: &str,
        csr_fingerprint: &str,
    ) -> Result<Option<ApprovalRecord>> {
        match self
            .reg
            .approvals
            .get(approval_key(credential, csr_fingerprint))?
        {
            Some(id) => self.get_approval(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    fn decide_approval(&self, id: &str, status: ApprovalStatus, by: &str, at: i64) -> Result<bool> {
        let _gate = self.write_gate()?;
        let Some(raw) = self.reg.approvals.get(id.as_bytes())? else {
            return Ok(false);
        };
        let mut a: ApprovalRecord = serde_json::from_slice(&raw)?;
        if a.status != ApprovalStatus::Pending {
            return Ok(false);
        }
        a.status = status;
        a.decided_by = Some(by.to_owned());
        a.decided_at = Some(at);
        Ok(self
            .reg
            .approvals
            .compare_and_swap(id.as_bytes(), Some(raw), Some(serde_json::to_vec(&a)?))?
            .is_ok())
    }

    fn list_approvals(&self, status: ApprovalStatus, limit: usize) -> Result<Vec<ApprovalRecord>> {
        let mut out = Vec::new();
        for kv in self.reg.approvals.iter() {
            let (k, v) = kv?;
            if k.starts_with(b"k:") {
                continue;
            }
            let a: ApprovalRecord = serde_json::from_slice(&v)?;
            if a.status == status {
                out.push(a);
            }
        }
        out.sort_by_key(|a| a.created_at);
        out.truncate(limit);
        Ok(out)
    }

    fn create_pickup(&self, p: &crate::store::PickupRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        self.reg
            .links
            .insert(link_key(&p.subject_id, b'p', p.id.as_bytes()), &[] as &[u8])?;
        self.reg
            .pickups
            .compare_and_swap(
                p.id.as_bytes(),
                None as Option<&[u8]>,
                Some(serde_json::to_vec(p)?),
            )?
            .map_err(|_| Error::Conflict("pickup id exists".into()))
    }

    fn get_pickup(&self, id: &str) -> Result<Option<crate::store::PickupRecord>> {
        match self.reg.pickups.get(id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn put_scep_transaction(&self, t: &crate::store::ScepTransactionRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        // First writer wins: a retry's record is the same request.
        let _ = self.reg.scep_transactions.compare_and_swap(
            t.key.as_bytes(),
            None as Option<&[u8]>,
            Some(serde_json::to_vec(t)?),
        )?;
        Ok(())
    }

    fn get_scep_transaction(
        &self,
        key: &str,
    ) -> Result<Option<crate::store::ScepTransactionRecord>> {
        match self.reg.scep_transactions.get(key.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn append_audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
        at: i64,
    ) -> Result<AuditRecord> {
        let _gate = self.write_gate()?;
        let res = (&self.reg.audit, &self.meta_tree()).transaction(|(audit, meta)| {
            append_audit_in(audit, meta, actor, action, target, outcome, detail, at)?
                .map_err(|e| ConflictableTransactionError::Abort(Abort::Json(e)))
        });
        match res {
            Ok(e) => Ok(e),
            Err(TransactionError::Abort(Abort::Json(e))) => Err(Error::Internal(e)),
            Err(TransactionError::Abort(Abort::Retry)) => Err(Error::Conflict("retry".into())),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        for kv in self
            .reg
            .audit
            .range((after + 1).to_be_bytes()..)
            .take(limit)
        {
            let (_, v) = kv?;
            out.push(serde_json::from_slice(&v)?);
        }
        Ok(out)
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>> {
        match self.meta_tree().get(AUDIT_HEAD)? {
            None => Ok(None),
            Some(v) => parse_head(&v)
                .map(Some)
                .ok_or_else(|| Error::Internal("the stored audit head is malformed".into())),
        }
    }

    fn put_audit_checkpoint(&self, c: &AuditCheckpointRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        self.reg
            .audit_checkpoints
            .insert(c.seq.to_be_bytes(), serde_json::to_vec(c)?)?;
        Ok(())
    }

    fn audit_checkpoints(&self, after: u64, limit: usize) -> Result<Vec<AuditCheckpointRecord>> {
        let mut out = Vec::new();
        for kv in self
            .reg
            .audit_checkpoints
            .range((after + 1).to_be_bytes()..)
            .take(limit)
        {
            let (_, v) = kv?;
            out.push(serde_json::from_slice(&v)?);
        }
        Ok(out)
    }

    fn last_audit_checkpoint(&self) -> Result<Option<AuditCheckpointRecord>> {
        match self.reg.audit_checkpoints.last()? {
            Some((_, v)) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "sled_registry_tests.rs"]
mod tests;
