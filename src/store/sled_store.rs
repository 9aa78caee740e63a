//! The embedded store on sled.
//!
//! Trees: `certs` (serial → record), `certs_by_subject` (lower(CN) 0x00 serial → ()),
//! `certs_by_expiry` (not_after as big-endian u64 ‖ serial → ()), `credentials`
//! (id → record), `admin_tokens` (id → record), `issued_per_day` (day ‖ channel group →
//! count, see `sled_daily`). Multi-tree updates are sled transactions;
//! they are durable only after [`Store::flush`].

use std::path::Path;
use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::acme_cache::AcmeCache;
use super::group_commit::GroupCommitter;
use super::sled_commit::CommitTrees;
use super::sled_daily;
use super::sled_durable::DurableFlush;
use super::{
    AdminTokenRecord, CertStatus, CertificateCommit, CertificateRecord, CommitKind, CommitTicket,
    Consumes, CredentialRecord, DailyIssued, InsertOutcome, Store,
};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, Serial, SubjectId};
use crate::revocation::RevocationReason;

/// sled-backed [`Store`].
pub struct SledStore {
    /// The group committer (first field: dropped, and its thread joined, first).
    committer: GroupCommitter,
    /// The trees a certificate write touches, shared with the committer.
    commit: CommitTrees,
    /// The database.
    pub(super) db: sled::Db,
    /// sled's flush followed by an fdatasync of its log (see `sled_durable`).
    durable: DurableFlush,
    /// serial → CertificateRecord (JSON).
    certs: sled::Tree,
    /// Subject index.
    by_subject: sled::Tree,
    /// Expiry index.
    by_expiry: sled::Tree,
    /// id → CredentialRecord (JSON).
    credentials: sled::Tree,
    /// id → AdminTokenRecord (JSON).
    admin_tokens: sled::Tree,
    /// serial → revoked_at(be i64) ‖ not_after(be i64) ‖ reason: the CRL's source.
    revoked: sled::Tree,
    /// Counters: revocation epoch, CRL numbers.
    meta: sled::Tree,
    /// ACME trees.
    pub(super) acme: AcmeTrees,
    /// Accounts and EAB keys read by every ACME request; writers of either invalidate it.
    pub(super) acme_cache: AcmeCache,
    /// Registry trees.
    pub(super) reg: RegistryTrees,
    /// Writers hold it shared; a backup holds it exclusively, so its snapshot is consistent.
    gate: Arc<std::sync::RwLock<()>>,
}

/// Trees of the registry.
pub(super) struct RegistryTrees {
    /// subject id → SubjectRecord.
    pub(super) subjects: sled::Tree,
    /// kind 0x00 external id → subject id.
    pub(super) by_external: sled::Tree,
    /// subject id 0x00 link kind (`c` certificate, `r` credential, `e` EAB key) 0x00 id → ().
    pub(super) links: sled::Tree,
    /// seq (be u64) → AuditRecord.
    pub(super) audit: sled::Tree,
    /// seq (be u64) → AuditCheckpointRecord.
    pub(super) audit_checkpoints: sled::Tree,
    /// id → ApprovalRecord; `k:` credential 0x00 fingerprint → id.
    pub(super) approvals: sled::Tree,
    /// id → PickupRecord.
    pub(super) pickups: sled::Tree,
    /// key → ScepTransactionRecord.
    pub(super) scep_transactions: sled::Tree,
}

/// How long [`SledStore::open`] waits for a directory another handle still locks.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Key of a subject link.
pub(super) fn link_key(subject: &SubjectId, kind: u8, id: &[u8]) -> Vec<u8> {
    let mut k = subject.as_str().as_bytes().to_vec();
    k.push(0);
    k.push(kind);
    k.push(0);
    k.extend_from_slice(id);
    k
}

/// Trees of the ACME objects.
pub(super) struct AcmeTrees {
    /// kid → EabKeyRecord.
    pub(super) eab_keys: sled::Tree,
    /// account id → AccountRecord.
    pub(super) accounts: sled::Tree,
    /// key thumbprint → account id.
    pub(super) accounts_by_key: sled::Tree,
    /// order id → OrderRecord.
    pub(super) orders: sled::Tree,
    /// account id 0x00 created_at(be) order id → ().
    pub(super) orders_by_account: sled::Tree,
    /// authz id → AuthzRecord.
    pub(super) authzs: sled::Tree,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. sled locks the directory; a store dropped a
    /// moment ago may still hold the lock while sled's background writes finish, so a locked
    /// directory is tried again for up to [`LOCK_WAIT`] before the error is reported (another
    /// running server on the same directory still gets it).
    pub fn open(dir: &Path) -> Result<Self> {
        let config = sled::Config::new().path(dir).flush_every_ms(Some(500));
        let started = std::time::Instant::now();
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                // sled reports the lock as an `Other` I/O error with this text (config.rs).
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && started.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let gate = Arc::new(std::sync::RwLock::new(()));
        let reg = RegistryTrees {
            subjects: db.open_tree("subjects")?,
            by_external: db.open_tree("subjects_by_external")?,
            links: db.open_tree("subject_links")?,
            audit: db.open_tree("audit")?,
            audit_checkpoints: db.open_tree("audit_checkpoints")?,
            approvals: db.open_tree("approvals")?,
            pickups: db.open_tree("pickups")?,
            scep_transactions: db.open_tree("scep_transactions")?,
        };
        let acme = AcmeTrees {
            eab_keys: db.open_tree("acme_eab_keys")?,
            accounts: db.open_tree("acme_accounts")?,
            accounts_by_key: db.open_tree("acme_accounts_by_key")?,
            orders: db.open_tree("acme_orders")?,
            orders_by_account: db.open_tree("acme_orders_by_account")?,
            authzs: db.open_tree("acme_authzs")?,
        };
        let (certs, by_subject, by_expiry, credentials, meta) = (
            db.open_tree("certs")?,
            db.open_tree("certs_by_subject")?,
            db.open_tree("certs_by_expiry")?,
            db.open_tree("credentials")?,
            db.open_tree("meta")?,
        );
        let daily = db.open_tree(sled_daily::TREE)?;
        // A store written before the per-day counts existed is counted once, before any
        // write can run.
        if meta.get(sled_daily::COUNTED)?.is_none() {
            sled_daily::recount(&certs, &daily, &meta)?;
        }
        // The committer's handles on the same trees (sled trees are shared handles).
        let commit = CommitTrees {
            certs: certs.clone(),
            by_subject: by_subject.clone(),
            by_expiry: by_expiry.clone(),
            credentials: credentials.clone(),
            subjects: reg.subjects.clone(),
            links: reg.links.clone(),
            pickups: reg.pickups.clone(),
            orders: acme.orders.clone(),
            audit: reg.audit.clone(),
            meta: meta.clone(),
            daily,
            gate: gate.clone(),
        };
        let durable = DurableFlush::new(db.clone(), dir)?;
        let committer = {
            let apply = commit.clone();
            let flush = durable.clone();
            GroupCommitter::start(
                Box::new(move |writes| apply.apply(writes)),
                Box::new(move || flush.flush()),
            )?
        };
        Ok(SledStore {
            committer,
            commit,
            certs,
            by_subject,
            by_expiry,
            credentials,
            admin_tokens: db.open_tree("admin_tokens")?,
            revoked: db.open_tree("revoked")?,
            meta,
            reg,
            acme,
            acme_cache: AcmeCache::default(),
            gate,
            durable,
            db,
        })
    }

    /// Shared hold of the write gate (every mutating method takes it).
    pub(super) fn write_gate(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        self.gate
            .read()
            .map_err(|_| Error::Internal("store gate poisoned".into()))
    }

    /// A consistent copy of every tree: writers wait while it is taken.
    pub fn export(&self) -> Result<crate::store::Export> {
        let _exclusive = self
            .gate
            .write()
            .map_err(|_| Error::Internal("store gate poisoned".into()))?;
        // Directly, not through the committer: its next batch waits for the gate held here.
        self.durable.flush()?;
        Ok(self
            .db
            .export()
            .into_iter()
            .map(|(kind, name, items)| (kind, name, items.collect()))
            .collect())
    }

    /// Loads an export into this (empty) store. The per-day issuance counts are not copied but
    /// counted again from the restored certificates, so a backup made before they existed
    /// restores with them too.
    pub fn import(&self, data: crate::store::Export) -> Result<()> {
        if !self.certs.is_empty() || !self.credentials.is_empty() {
            return Err(Error::Malformed("restore needs an empty store".into()));
        }
        // Not sled's own import: it panics on malformed input.
        for (kind, name, items) in data {
            if kind != b"tree" {
                return Err(Error::Malformed(
                    "backup holds an unknown collection type".into(),
                ));
            }
            if name == sled_daily::TREE.as_bytes() {
                continue;
            }
            let tree = self.db.open_tree(name)?;
            for kv in items {
                let [k, v]: [Vec<u8>; 2] = kv.try_into().map_err(|_| {
                    Error::Malformed("backup entry is not a key and a value".into())
                })?;
                tree.insert(k, v)?;
            }
        }
        sled_daily::recount(&self.certs, &self.commit.daily, &self.meta)?;
        self.acme_cache.invalidate();
        self.durable.flush()?;
        Ok(())
    }
}

impl SledStore {
    /// How many flushes ended in an fdatasync of the store's log since it was opened.
    pub fn data_syncs(&self) -> u64 {
        self.durable.syncs()
    }

    pub(super) fn certs_tree(&self) -> sled::Tree {
        self.certs.clone()
    }
    pub(super) fn revoked_tree(&self) -> sled::Tree {
        self.revoked.clone()
    }
    pub(super) fn meta_tree(&self) -> sled::Tree {
        self.meta.clone()
    }
    pub(super) fn credentials_tree(&self) -> sled::Tree {
        self.credentials.clone()
    }
}

pub(super) fn subject_key(subject: &str, serial: &Serial) -> Vec<u8> {
    let mut k = subject.to_lowercase().into_bytes();
    k.push(0);
    k.extend_from_slice(serial.as_bytes());
    k
}

pub(super) fn expiry_key(not_after: i64, serial: &Serial) -> Vec<u8> {
    // Offset so that negative times still sort before positive ones.
    let mut k = ((not_after as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(serial.as_bytes());
    k
}

/// Meta key of the revocation epoch.
pub(super) const EPOCH: &[u8] = b"revocation_epoch";

/// A big-endian u64 as stored in `meta`; 0 when absent or malformed.
pub(super) fn be_u64(v: Option<impl AsRef<[u8]>>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Inside a transaction: bumps the revocation epoch so status caches look again.
pub(super) fn bump_epoch(
    meta: &sled::transaction::TransactionalTree,
) -> std::result::Result<(), sled::transaction::UnabortableTransactionError> {
    let epoch = be_u64(meta.get(EPOCH)?);
    meta.insert(EPOCH, &(epoch + 1).to_be_bytes())?;
    Ok(())
}

/// The `revoked` tree's value: revoked_at ‖ not_after (big-endian i64) ‖ reason.
pub(super) fn revoked_entry(revoked_at: i64, not_after: i64, reason: RevocationReason) -> Vec<u8> {
    let mut v = revoked_at.to_be_bytes().to_vec();
    v.extend_from_slice(&not_after.to_be_bytes());
    v.extend_from_slice(reason.as_str().as_bytes());
    v
}

/// Reverses [`revoked_entry`]. A reason it cannot read is `unspecified`, which CRLs and OCSP
/// answers leave out, as they leave out a reason without a code.
fn parse_revoked_entry(v: &[u8]) -> Option<(i64, i64, RevocationReason)> {
    let at = i64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let not_after = i64::from_be_bytes(v.get(8..16)?.try_into().ok()?);
    let reason = std::str::from_utf8(&v[16..])
        .ok()
        .and_then(RevocationReason::from_name)
        .unwrap_or(RevocationReason::Unspecified);
    Some((at, not_after, reason))
}

impl SledStore {
    /// Replaces a certificate record, if it is still `old_raw`, and its `revoked` entry
    /// (`Some`: set, `None`: remove), bumping the revocation epoch, in one transaction.
    /// `Ok(false)` if the record changed meanwhile.
    /// Revokes `serial`, or turns a `certificateHold` into a final revocation (RFC 5280
    /// §5.3.1: a hold may be followed by a revocation for good). The final revocation keeps
    /// the hold's date: the certificate has not been trusted since then. `Ok(false)` when
    /// nothing changed: revoked for good already, or a hold asked of a held certificate.
    fn revoke_with(
        &self,
        serial: &Serial,
        at: i64,
        reason: RevocationReason,
        suspension: bool,
    ) -> Result<bool> {
        let _gate = self.write_gate()?;
        loop {
            let Some(old_raw) = self.certs.get(serial.as_bytes())? else {
                return Err(Error::NotFound(format!(
                    "no certificate with serial {serial}"
                )));
            };
            let mut rec = CertificateRecord::from_bytes(&old_raw)?;
            let Some((status, revoked_at)) = rec.status.revoked(at, reason, suspension) else {
                return Ok(false);
            };
            rec.status = status;
            let entry = revoked_entry(revoked_at, rec.not_after, reason);
            if self.swap_revocation(serial, &old_raw, &rec.to_bytes()?, Some(&entry))? {
                return Ok(true);
            }
        }
    }

    fn swap_revocation(
        &self,
        serial: &Serial,
        old_raw: &[u8],
        new: &[u8],
        entry: Option<&[u8]>,
    ) -> Result<bool> {
        let res = (&self.certs, &self.revoked, &self.meta).transaction(|(certs, revoked, meta)| {
            if certs.get(serial.as_bytes())?.as_deref() != Some(old_raw) {
                return Err(ConflictableTransactionError::Abort(()));
            }
            certs.insert(serial.as_bytes(), new)?;
            match entry {
                Some(e) => revoked.insert(serial.as_bytes(), e)?,
                None => revoked.remove(serial.as_bytes())?,
            };
            bump_epoch(meta)?;
            Ok(())
        });
        match res {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(())) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

impl Store for SledStore {
    fn insert_certificate(
        &self,
        cert: &CertificateRecord,
        consumes: Option<&Consumes>,
    ) -> Result<InsertOutcome> {
        self.commit.apply_one_now(&CertificateCommit {
            cert: cert.clone(),
            kind: CommitKind::Issue(consumes.cloned()),
            audit: None,
        })
    }

    fn get_certificate(&self, serial: &Serial) -> Result<Option<CertificateRecord>> {
        match self.certs.get(serial.as_bytes())? {
            Some(v) => Ok(Some(CertificateRecord::from_bytes(&v)?)),
            None => Ok(None),
        }
    }

    fn certificates_by_subject(&self, subject: &str) -> Result<Vec<Serial>> {
        let mut prefix = subject.to_lowercase().into_bytes();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.by_subject.scan_prefix(&prefix) {
            let (k, _) = kv?;
            out.push(Serial::from_bytes(&k[prefix.len()..])?);
        }
        Ok(out)
    }

    fn certificates_expiring_before(&self, unix_time: i64, limit: usize) -> Result<Vec<Serial>> {
        let end = ((unix_time as u64) ^ (1 << 63)).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.by_expiry.range(..end.to_vec()).take(limit) {
            let (k, _) = kv?;
            out.push(Serial::from_bytes(&k[8..])?);
        }
        Ok(out)
    }

    fn count_certificates(&self) -> Result<usize> {
        Ok(self.certs.len())
    }

    fn create_credential(&self, cred: &CredentialRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        if let Some(sid) = &cred.subject_id {
            self.reg.links.insert(
                link_key(sid, b'r', cred.id.as_str().as_bytes()),
                &[] as &[u8],
            )?;
        }
        let v = serde_json::to_vec(cred)?;
        self.credentials
            .compare_and_swap(cred.id.as_str().as_bytes(), None as Option<&[u8]>, Some(v))?
            .map_err(|_| Error::Conflict("credential id exists".into()))
    }

    fn get_credential(&self, id: &CredentialId) -> Result<Option<CredentialRecord>> {
        match self.credentials.get(id.as_str().as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn disable_credential(&self, id: &CredentialId) -> Result<bool> {
        let _gate = self.write_gate()?;
        loop {
            let Some(old_raw) = self.credentials.get(id.as_str().as_bytes())? else {
                return Err(Error::NotFound(format!("no credential {id}")));
            };
            let mut rec: CredentialRecord = serde_json::from_slice(&old_raw)?;
            if rec.disabled {
                return Ok(false);
            }
            rec.disabled = true;
            let swapped = self.credentials.compare_and_swap(
                id.as_str().as_bytes(),
                Some(old_raw),
                Some(serde_json::to_vec(&rec)?),
            )?;
            if swapped.is_ok() {
                return Ok(true);
            }
        }
    }

    fn put_admin_token(&self, token: &AdminTokenRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        self.admin_tokens
            .insert(token.id.as_bytes(), serde_json::to_vec(token)?)?;
        Ok(())
    }

    fn get_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>> {
        match self.admin_tokens.get(id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    fn revoke_certificate(
        &self,
        serial: &Serial,
        at: i64,
        reason: RevocationReason,
    ) -> Result<bool> {
        self.revoke_with(serial, at, reason, false)
    }

    fn hold_for_suspension(&self, serial: &Serial, at: i64) -> Result<bool> {
        self.revoke_with(serial, at, RevocationReason::CertificateHold, true)
    }

    fn update_certificate(&self, old: &CertificateRecord, new: &CertificateRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        let old_raw = self
            .certs
            .get(old.serial.as_bytes())?
            .ok_or_else(|| Error::NotFound(format!("no certificate with serial {}", old.serial)))?;
        let current = CertificateRecord::from_bytes(&old_raw)?;
        if current.status != old.status || current.renewal_window != old.renewal_window {
            return Err(Error::Conflict("certificate changed concurrently".into()));
        }
        self.certs
            .compare_and_swap(old.serial.as_bytes(), Some(old_raw), Some(new.to_bytes()?))?
            .map_err(|_| Error::Conflict("certificate changed concurrently".into()))
    }

    fn release_hold(&self, serial: &Serial) -> Result<bool> {
        let _gate = self.write_gate()?;
        loop {
            let Some(old_raw) = self.certs.get(serial.as_bytes())? else {
                return Ok(false);
            };
            let mut rec = CertificateRecord::from_bytes(&old_raw)?;
            if !matches!(
                &rec.status,
                CertStatus::Revoked {
                    reason: RevocationReason::CertificateHold,
                    suspension: true,
                    ..
                }
            ) {
                return Ok(false);
            }
            rec.status = CertStatus::Good;
            if self.swap_revocation(serial, &old_raw, &rec.to_bytes()?, None)? {
                return Ok(true);
            }
        }
    }

    fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>> {
        let mut out = Vec::new();
        for kv in self.admin_tokens.iter() {
            let (_, v) = kv?;
            out.push(serde_json::from_slice(&v)?);
        }
        Ok(out)
    }

    fn delete_admin_token(&self, id: &str) -> Result<bool> {
        let _gate = self.write_gate()?;
        Ok(self.admin_tokens.remove(id.as_bytes())?.is_some())
    }

    fn scan_revoked(&self, f: &mut dyn FnMut(Serial, i64, RevocationReason, i64)) -> Result<()> {
        for kv in self.revoked.iter() {
            let (k, v) = kv?;
            let (revoked_at, not_after, reason) = parse_revoked_entry(&v)
                .ok_or_else(|| Error::Internal("corrupt revoked entry".into()))?;
            f(Serial::from_bytes(&k)?, revoked_at, reason, not_after);
        }
        Ok(())
    }

    fn revocation_of(&self, serial: &Serial) -> Result<Option<Option<(i64, RevocationReason)>>> {
        if let Some(v) = self.revoked.get(serial.as_bytes())? {
            if let Some((at, _, reason)) = parse_revoked_entry(&v) {
                return Ok(Some(Some((at, reason))));
            }
        }
        Ok(self.certs.contains_key(serial.as_bytes())?.then_some(None))
    }

    fn revocation_epoch(&self) -> Result<u64> {
        Ok(be_u64(self.meta.get(EPOCH)?))
    }

    fn next_counter(&self, name: &str) -> Result<u64> {
        let _gate = self.write_gate()?;
        let key = format!("counter:{name}");
        let v = self.meta.update_and_fetch(key.as_bytes(), |old| {
            let n = be_u64(old);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(1, u64::from_be_bytes))
    }

    fn scan_certificates(
        &self,
        after: Option<&Serial>,
        f: &mut dyn FnMut(CertificateRecord) -> bool,
    ) -> Result<()> {
        // Pagination order is the tree's byte order, which is also `Serial`'s `Ord`: a page
        // starts right after the previous one without re-reading it.
        let iter = match after {
            Some(a) => self.certs.range((
                std::ops::Bound::Excluded(a.as_bytes().to_vec()),
                std::ops::Bound::Unbounded,
            )),
            None => self.certs.iter(),
        };
        for kv in iter {
            let (_, v) = kv?;
            if !f(CertificateRecord::from_bytes(&v)?) {
                break;
            }
        }
        Ok(())
    }

    fn issued_per_day(&self, first_day: i64, last_day: i64) -> Result<Vec<DailyIssued>> {
        sled_daily::read(&self.commit.daily, first_day, last_day)
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    fn export_all(&self) -> Result<crate::store::Export> {
        self.export()
    }

    fn flush(&self) -> Result<()> {
        // The committer's barrier: shares its flush (and fdatasync) with queued commits.
        self.committer.barrier().wait_blocking().map(|_| ())
    }

    fn commit_certificate(&self, c: CertificateCommit) -> CommitTicket {
        self.committer.commit(c)
    }

    fn durable(&self) -> CommitTicket {
        self.committer.barrier()
    }
}

#[cfg(test)]
impl SledStore {
    /// A tree by name, for tests that tamper with the store as someone with write access to
    /// its files would.
    pub(crate) fn tree_for_tests(&self, name: &str) -> sled::Tree {
        self.db.open_tree(name).unwrap()
    }
}

#[cfg(test)]
#[path = "sled_store_tests.rs"]
mod tests;
