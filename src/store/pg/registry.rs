//! [`RegistryStore`] on PostgreSQL.

use super::pool::TxResult;
use super::{append_audit_tx, bump, cert_json, from_json, serials, to_json};
use super::{PgStore, EPOCH, PAGE};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, EabKid, Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::{AccountStatus, ApprovalStatus, SubjectStatus};
use crate::store::{
    AccountRecord, ApprovalRecord, AuditCheckpointRecord, AuditRecord, CreateSubject,
    CredentialRecord, EabKeyRecord, OffboardSummary, PickupRecord, RegistryStore,
    ScepTransactionRecord, SubjectRecord,
};

/// Records from the first column of `rows`.
fn records<T: serde::de::DeserializeOwned>(rows: Vec<postgres::Row>) -> TxResult<Vec<T>> {
    rows.into_iter().map(|r| from_json(r.get(0))).collect()
}

/// Text ids from the first column of `rows`.
fn texts(rows: Vec<postgres::Row>) -> Vec<String> {
    rows.into_iter().map(|r| r.get(0)).collect()
}

impl PgStore {
    /// Subjects in id order after `after` (all when empty), a page at a time.
    fn scan_subjects_from(
        &self,
        after: String,
        f: &mut dyn FnMut(SubjectRecord) -> bool,
    ) -> Result<()> {
        let mut cursor = after;
        loop {
            let from = cursor.clone();
            let page: Vec<SubjectRecord> = self.pool.read(move |c| {
                records(c.query(
                    "SELECT record FROM subjects WHERE id > $1 ORDER BY id LIMIT $2",
                    &[&from, &PAGE],
                )?)
            })?;
            let full = page.len() as i64 == PAGE;
            for s in page {
                cursor = s.id.as_str().to_owned();
                if !f(s) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }
}

impl RegistryStore for PgStore {
    fn create_subject(&self, s: &SubjectRecord) -> Result<CreateSubject> {
        let s = s.clone();
        self.pool.write(move |tx| {
            let existing = tx.query_opt(
                "SELECT record FROM subjects WHERE kind = $1 AND external_id = $2",
                &[&s.kind, &s.external_id],
            )?;
            if let Some(r) = existing {
                return Ok(CreateSubject::Exists(Box::new(from_json(r.get(0))?)));
            }
            tx.execute(
                "INSERT INTO subjects (id, kind, external_id, record) VALUES ($1, $2, $3, $4)",
                &[&s.id.as_str(), &s.kind, &s.external_id, &to_json(&s)?],
            )?;
            Ok(CreateSubject::Created)
        })
    }

    fn get_subject(&self, id: &SubjectId) -> Result<Option<SubjectRecord>> {
        let id = id.clone();
        self.pool.read(move |c| {
            c.query_opt("SELECT record FROM subjects WHERE id = $1", &[&id.as_str()])?
                .map(|r| from_json(r.get(0)))
                .transpose()
        })
    }

    fn get_subject_by_external(
        &self,
        kind: &str,
        external_id: &str,
    ) -> Result<Option<SubjectRecord>> {
        let (kind, external_id) = (kind.to_owned(), external_id.to_owned());
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM subjects WHERE kind = $1 AND external_id = $2",
                &[&kind, &external_id],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn update_subject(&self, old: &SubjectRecord, new: &SubjectRecord) -> Result<bool> {
        let (old, new) = (old.clone(), new.clone());
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM subjects WHERE id = $1 FOR UPDATE",
                &[&old.id.as_str()],
            )?
            else {
                return Ok(false);
            };
            let cur: SubjectRecord = from_json(row.get(0))?;
            if cur != old {
                return Ok(false);
            }
            tx.execute(
                "UPDATE subjects SET record = $2, kind = $3, external_id = $4 WHERE id = $1",
                &[
                    &old.id.as_str(),
                    &to_json(&new)?,
                    &new.kind,
                    &new.external_id,
                ],
            )?;
            Ok(true)
        })
    }

    fn scan_subjects(&self, f: &mut dyn FnMut(SubjectRecord) -> bool) -> Result<()> {
        self.scan_subjects_from(String::new(), f)
    }

    fn scan_subjects_after(
        &self,
        after: Option<&SubjectId>,
        f: &mut dyn FnMut(SubjectRecord) -> bool,
    ) -> Result<()> {
        self.scan_subjects_from(after.map(|a| a.as_str().to_owned()).unwrap_or_default(), f)
    }

    fn subject_certificates(&self, id: &SubjectId) -> Result<Vec<Serial>> {
        let id = id.clone();
        self.pool.read(move |c| {
            serials(c.query(
                "SELECT serial FROM certificates WHERE subject_id = $1 ORDER BY serial",
                &[&id.as_str()],
            )?)
        })
    }

    fn subject_credentials(&self, id: &SubjectId) -> Result<Vec<CredentialId>> {
        let id = id.clone();
        let ids = self.pool.read(move |c| {
            Ok(texts(c.query(
                "SELECT id FROM credentials WHERE subject_id = $1 ORDER BY id",
                &[&id.as_str()],
            )?))
        })?;
        ids.iter().map(|i| CredentialId::parse(i)).collect()
    }

    fn subject_eab_keys(&self, id: &SubjectId) -> Result<Vec<EabKid>> {
        let id = id.clone();
        let ids = self.pool.read(move |c| {
            Ok(texts(c.query(
                "SELECT kid FROM acme_eab_keys WHERE subject_id = $1 ORDER BY kid",
                &[&id.as_str()],
            )?))
        })?;
        ids.iter().map(|i| EabKid::parse(i)).collect()
    }

    fn offboard_subject(
        &self,
        id: &SubjectId,
        at: i64,
        reason: RevocationReason,
    ) -> Result<OffboardSummary> {
        let id = id.clone();
        // One transaction with the subject's row locked: a certificate commit waits for it
        // (it locks the same row), so none issued concurrently escapes.
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM subjects WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )?
            else {
                return Err(Error::NotFound("no such subject".into()).into());
            };
            let mut subj: SubjectRecord = from_json(row.get(0))?;
            let mut sum = OffboardSummary::default();
            subj.status = SubjectStatus::Offboarded;
            subj.updated_at = at;
            tx.execute(
                "UPDATE subjects SET record = $2 WHERE id = $1",
                &[&id.as_str(), &to_json(&subj)?],
            )?;
            let certs = tx.query(
                "SELECT record, der FROM certificates WHERE subject_id = $1 \
                 ORDER BY serial FOR UPDATE",
                &[&id.as_str()],
            )?;
            for row in certs {
                let mut rec = super::cert_from(&row)?;
                // A good certificate is revoked; one on hold is revoked for good, from the
                // hold's date; one revoked for good stays as it is.
                let Some((status, since)) = rec.status.revoked(at, reason, false) else {
                    continue;
                };
                rec.status = status;
                tx.execute(
                    "UPDATE certificates SET record = $2 WHERE serial = $1",
                    &[&rec.serial.as_bytes(), &cert_json(&rec)?],
                )?;
                tx.execute(
                    "INSERT INTO revoked (serial, revoked_at, not_after, reason) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO UPDATE SET \
                     revoked_at = excluded.revoked_at, not_after = excluded.not_after, \
                     reason = excluded.reason",
                    &[
                        &rec.serial.as_bytes(),
                        &since,
                        &rec.not_after,
                        &reason.as_str(),
                    ],
                )?;
                sum.certificates_revoked += 1;
            }
            if sum.certificates_revoked > 0 {
                bump(tx, EPOCH)?;
            }
            let creds = tx.query(
                "SELECT record FROM credentials WHERE subject_id = $1 ORDER BY id FOR UPDATE",
                &[&id.as_str()],
            )?;
            for row in creds {
                let mut rec: CredentialRecord = from_json(row.get(0))?;
                if !rec.disabled {
                    rec.disabled = true;
                    tx.execute(
                        "UPDATE credentials SET record = $2 WHERE id = $1",
                        &[&rec.id.as_str(), &to_json(&rec)?],
                    )?;
                    sum.credentials_disabled += 1;
                }
            }
            let eabs = tx.query(
                "SELECT record FROM acme_eab_keys WHERE subject_id = $1 ORDER BY kid FOR UPDATE",
                &[&id.as_str()],
            )?;
            for row in eabs {
                let mut rec: EabKeyRecord = from_json(row.get(0))?;
                if !rec.withdrawn {
                    rec.withdrawn = true;
                    tx.execute(
                        "UPDATE acme_eab_keys SET record = $2 WHERE kid = $1",
                        &[&rec.kid.as_str(), &to_json(&rec)?],
                    )?;
                    sum.eab_keys_withdrawn += 1;
                }
                let Some(acct_id) = &rec.account else {
                    continue;
                };
                let Some(row) = tx.query_opt(
                    "SELECT record FROM acme_accounts WHERE id = $1 FOR UPDATE",
                    &[&acct_id.as_str()],
                )?
                else {
                    continue;
                };
                let mut a: AccountRecord = from_json(row.get(0))?;
                if a.status == AccountStatus::Valid {
                    a.status = AccountStatus::Deactivated;
                    tx.execute(
                        "UPDATE acme_accounts SET record = $2 WHERE id = $1",
                        &[&acct_id.as_str(), &to_json(&a)?],
                    )?;
                    sum.accounts_deactivated += 1;
                }
            }
            let approvals = tx.query(
                "SELECT record FROM approvals WHERE subject_id = $1 AND status = $2 \
                 ORDER BY id FOR UPDATE",
                &[&id.as_str(), &ApprovalStatus::Pending.as_str()],
            )?;
            for row in approvals {
                let mut rec: ApprovalRecord = from_json(row.get(0))?;
                rec.status = ApprovalStatus::Rejected;
                rec.decided_by = Some("system:offboarding".into());
                rec.decided_at = Some(at);
                tx.execute(
                    "UPDATE approvals SET record = $2, status = $3 WHERE id = $1",
                    &[&rec.id, &to_json(&rec)?, &rec.status.as_str()],
                )?;
                sum.approvals_rejected += 1;
            }
            Ok(sum)
        })
    }

    fn create_approval(&self, a: &ApprovalRecord) -> Result<ApprovalRecord> {
        let a = a.clone();
        self.pool.write(move |tx| {
            let existing = tx.query_opt(
                "SELECT record FROM approvals WHERE credential = $1 AND csr_fingerprint = $2",
                &[&a.credential, &a.csr_fingerprint],
            )?;
            if let Some(r) = existing {
                return from_json(r.get(0));
            }
            tx.execute(
                "INSERT INTO approvals (id, credential, csr_fingerprint, status, created_at, \
                 subject_id, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &a.id,
                    &a.credential,
                    &a.csr_fingerprint,
                    &a.status.as_str(),
                    &a.created_at,
                    &a.subject_id.as_ref().map(|s| s.as_str()),
                    &to_json(&a)?,
                ],
            )?;
            Ok(a.clone())
        })
    }

    fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        let id = id.to_owned();
        self.pool.read(move |c| {
            c.query_opt("SELECT record FROM approvals WHERE id = $1", &[&id])?
                .map(|r| from_json(r.get(0)))
                .transpose()
        })
    }

    fn get_approval_for(
        &self,
        credential: &str,
        csr_fingerprint: &str,
    ) -> Result<Option<ApprovalRecord>> {
        let (cred, fp) = (credential.to_owned(), csr_fingerprint.to_owned());
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM approvals WHERE credential = $1 AND csr_fingerprint = $2",
                &[&cred, &fp],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn decide_approval(&self, id: &str, status: ApprovalStatus, by: &str, at: i64) -> Result<bool> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM approvals WHERE id = $1 FOR UPDATE",
                &[&id],
            )?
            else {
                return Ok(false);
            };
            let mut a: ApprovalRecord = from_json(row.get(0))?;
            if a.status != ApprovalStatus::Pending {
                return Ok(false);
            }
            a.status = status;
            a.decided_by = Some(by.clone());
            a.decided_at = Some(at);
            tx.execute(
                "UPDATE approvals SET record = $2, status = $3 WHERE id = $1",
                &[&id, &to_json(&a)?, &status.as_str()],
            )?;
            Ok(true)
        })
    }

    fn list_approvals(&self, status: ApprovalStatus, limit: usize) -> Result<Vec<ApprovalRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            records(c.query(
                "SELECT record FROM approvals WHERE status = $1 \
                 ORDER BY created_at, id LIMIT $2",
                &[&status.as_str(), &limit],
            )?)
        })
    }

    fn create_pickup(&self, p: &PickupRecord) -> Result<()> {
        let p = p.clone();
        self.pool.write(move |tx| insert_pickup(tx, &p))
    }

    fn get_pickup(&self, id: &str) -> Result<Option<PickupRecord>> {
        let id = id.to_owned();
        self.pool.read(move |c| {
            c.query_opt("SELECT record FROM pickups WHERE id = $1", &[&id])?
                .map(|r| from_json(r.get(0)))
                .transpose()
        })
    }

    fn put_scep_transaction(&self, t: &ScepTransactionRecord) -> Result<()> {
        let t = t.clone();
        // First writer wins: a retry's record is the same request.
        self.pool.write(move |tx| {
            tx.execute(
                "INSERT INTO scep_transactions (key, record) VALUES ($1, $2) \
                 ON CONFLICT (key) DO NOTHING",
                &[&t.key, &to_json(&t)?],
            )?;
            Ok(())
        })
    }

    fn get_scep_transaction(&self, key: &str) -> Result<Option<ScepTransactionRecord>> {
        let key = key.to_owned();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM scep_transactions WHERE key = $1",
                &[&key],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
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
        let parts = [actor, action, target, outcome, detail].map(str::to_owned);
        self.pool.write(move |tx| {
            let [actor, action, target, outcome, detail] = &parts;
            append_audit_tx(tx, actor, action, target, outcome, detail, at)
        })
    }

    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            records(c.query(
                "SELECT record FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &limit],
            )?)
        })
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>> {
        self.pool.read(|c| {
            Ok(
                c.query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?
                    .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1))),
            )
        })
    }

    fn put_audit_checkpoint(&self, cp: &AuditCheckpointRecord) -> Result<()> {
        let cp = cp.clone();
        self.pool.write(move |tx| {
            tx.execute(
                "INSERT INTO audit_checkpoints (seq, record) VALUES ($1, $2) \
                 ON CONFLICT (seq) DO UPDATE SET record = excluded.record",
                &[&(cp.seq as i64), &to_json(&cp)?],
            )?;
            Ok(())
        })
    }

    fn audit_checkpoints(&self, after: u64, limit: usize) -> Result<Vec<AuditCheckpointRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            records(c.query(
                "SELECT record FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &limit],
            )?)
        })
    }

    fn last_audit_checkpoint(&self) -> Result<Option<AuditCheckpointRecord>> {
        self.pool.read(|c| {
            c.query_opt(
                "SELECT record FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
                &[],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }
}

/// Inserts a pickup link inside the caller's transaction; `Conflict` if its id exists.
pub(super) fn insert_pickup(tx: &mut postgres::Transaction<'_>, p: &PickupRecord) -> TxResult<()> {
    let n = tx.execute(
        "INSERT INTO pickups (id, subject_id, record) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
        &[&p.id, &p.subject_id.as_str(), &to_json(p)?],
    )?;
    if n == 0 {
        return Err(Error::Conflict("pickup id exists".into()).into());
    }
    Ok(())
}
