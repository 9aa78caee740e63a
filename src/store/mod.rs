//! Storage behind a trait with one method per entity operation, so that a distributed backend
//! can replace the embedded sled store without touching protocol code.
//!
//! # The contract every backend keeps
//!
//! Each method's documentation says what it guarantees; these hold across all of them, and
//! `conformance/` (a test suite generic over the traits, run by every backend) checks each:
//!
//! - **Durability.** A write is durable once [`Store::flush`] returns, or once the
//!   [`CommitTicket`] of [`Store::commit_certificate`] or [`Store::durable`] resolves: a reopen
//!   of the same store sees it. No caller tells a client of a write before that.
//! - **Atomicity of issuance.** A certificate commit stores the certificate and its indexes,
//!   spends what it [`Consumes`] (a credential use, a pickup link, a renewal, an order's
//!   finalization), bumps the subject's generation and appends its audit entry in one
//!   transaction, after checking every precondition inside it: all or nothing.
//! - **Uniqueness.** A serial, a credential id, a subject's (kind, external id), an account
//!   key's thumbprint and an EAB key's binding exist once; the loser of a race gets a typed
//!   answer ([`InsertOutcome`], [`CreateSubject`], [`CreateAccount`]), never a second record.
//! - **Identical retries.** A credential or renewal that already paid for a CSR answers with
//!   that certificate's serial ([`InsertOutcome::AlreadyIssued`]) and spends nothing.
//! - **Compare-and-swap updates.** Subjects, accounts, orders and certificate records change
//!   only from the state the caller read; a lost race is `Ok(false)` or a `Conflict` error,
//!   never a silent overwrite.
//! - **Revocation.** A revocation and its index entry change together and bump the revocation
//!   epoch that status caches watch; a final reason replaces a hold (RFC 5280 §5.3.1), and only
//!   a suspension's hold is ever lifted.
//! - **Counted issuance.** The write that records a certificate adds one to the count of its
//!   issue day and channel group ([`Store::issued_per_day`]) in the same transaction.
//! - **Order.** Scans run in serial order (certificates), sequence order (audit entries and
//!   checkpoints) or soonest-first (expiry); counters only grow.

mod acme_cache;
pub mod acme_records;
pub mod commit;
#[cfg(test)]
pub mod conformance;
pub mod daily;
pub mod group_commit;
pub mod mail_records;
pub mod pg;
pub mod records;
pub mod registry_records;
pub mod sled_acme;
pub mod sled_commit;
mod sled_daily;
mod sled_durable;
pub mod sled_mail;
pub mod sled_registry;
pub mod sled_store;

use crate::error::Result;
use crate::ids::{AccountId, AuthzId, CredentialId, EabKid, OrderId, Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::{ApprovalStatus, OrderStatus};
pub use acme_records::{
    AccountRecord, AllowedIdentifier, AuthzRecord, ChallengeRecord, EabKeyRecord, Identifier,
    OrderRecord,
};
pub use commit::{AuditDraft, CertificateCommit, CommitKind, CommitTicket};
pub use daily::{ChannelGroup, DailyIssued};
pub use mail_records::MailRecord;
pub use records::{
    AdminTokenRecord, CertStatus, CertificateRecord, CredentialRecord, CredentialUse,
};
pub use registry_records::{
    ApprovalRecord, AuditCheckpointRecord, AuditRecord, PickupRecord, ScepTransactionRecord,
    SubjectRecord,
};

/// Spending one use of a credential together with inserting the certificate it paid for.
#[derive(Debug, Clone)]
pub struct CredentialSpend {
    /// The credential.
    pub id: CredentialId,
    /// SHA-256 of the CSR (hex).
    pub csr_fingerprint: String,
    /// Unix time now, to refuse a credential that expired meanwhile.
    pub now: i64,
}

/// What an issuance uses up, recorded in the same transaction as the certificate.
#[derive(Debug, Clone)]
pub enum Consumes {
    /// One use of an enrolment credential.
    Credential(CredentialSpend),
    /// A one-time pickup link, spent on the POST that issues.
    Pickup {
        /// The link's id.
        id: String,
        /// Unix time now, to refuse an expired link.
        now: i64,
    },
    /// The one renewal a certificate allows (RFC 7030 §4.2.2); identical retries are answered
    /// with the same certificate.
    Renewal {
        /// The certificate being renewed.
        old: Serial,
        /// SHA-256 of the renewal CSR (hex).
        csr_fingerprint: String,
    },
}

/// Every tree of a store.
pub type Export = Vec<(Vec<u8>, Vec<u8>, Vec<Vec<Vec<u8>>>)>;

/// Result of [`Store::insert_certificate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The certificate was stored (and the credential use, if any, recorded).
    Inserted,
    /// The serial exists already: pick another and sign again.
    SerialTaken,
    /// The credential already paid for this very CSR: here is that certificate's serial.
    AlreadyIssued(Serial),
    /// The credential has no uses left, is disabled, expired or gone; or the certificate to
    /// renew was renewed already or revoked.
    CredentialUnusable,
    /// The certificate's subject is suspended or off-boarded (checked inside the transaction).
    SubjectInactive,
}

/// The store. Every write that must survive a crash is followed by [`Store::flush`] before a
/// client learns of it.
pub trait Store: RegistryStore + MailStore + Send + Sync {
    /// Inserts a certificate and its indexes, atomically with recording what it `consumes`.
    fn insert_certificate(
        &self,
        cert: &CertificateRecord,
        consumes: Option<&Consumes>,
    ) -> Result<InsertOutcome>;
    /// A certificate by serial.
    fn get_certificate(&self, serial: &Serial) -> Result<Option<CertificateRecord>>;
    /// Serials of certificates whose subject CN equals `subject` (case-insensitive).
    fn certificates_by_subject(&self, subject: &str) -> Result<Vec<Serial>>;
    /// Serials of certificates expiring before `unix_time`, soonest first, at most `limit`.
    fn certificates_expiring_before(&self, unix_time: i64, limit: usize) -> Result<Vec<Serial>>;
    /// Number of certificates stored.
    fn count_certificates(&self) -> Result<usize>;
    /// Creates a credential (fails if the id exists).
    fn create_credential(&self, cred: &CredentialRecord) -> Result<()>;
    /// A credential by id.
    fn get_credential(&self, id: &CredentialId) -> Result<Option<CredentialRecord>>;
    /// Disables a credential for good: it authenticates no enrolment, and certificates that
    /// came from it renew no more. `Ok(false)` if it was disabled already; `NotFound` if there
    /// is none. Compare-and-swap, so a concurrent spend is neither lost nor undone.
    fn disable_credential(&self, id: &CredentialId) -> Result<bool>;
    /// Creates or replaces an admin token.
    fn put_admin_token(&self, token: &AdminTokenRecord) -> Result<()>;
    /// An admin token by its public id.
    fn get_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>>;
    /// Revokes a certificate with an RFC 5280 §5.3.1 reason. A certificate on
    /// `certificateHold` is revoked for good by any other reason, keeping the hold's date.
    /// `Ok(true)` if the status changed; `Ok(false)` if it was revoked for good already (or on
    /// hold, for a second hold). Atomic with the certificate's revocation index.
    fn revoke_certificate(
        &self,
        serial: &Serial,
        at: i64,
        reason: RevocationReason,
    ) -> Result<bool>;
    /// Places the `certificateHold` of a subject's suspension: like
    /// [`Store::revoke_certificate`] with `certificateHold`, but marked so that
    /// [`Store::release_hold`] may lift it.
    fn hold_for_suspension(&self, serial: &Serial, at: i64) -> Result<bool>;
    /// Replaces a certificate record's mutable fields (status, renewal window), compare-and-swap
    /// on the previous record.
    fn update_certificate(&self, old: &CertificateRecord, new: &CertificateRecord) -> Result<()>;
    /// Lifts a certificateHold that a suspension placed (RFC 5280 §5.3.1): `Ok(false)` if the
    /// certificate is not on such a hold (good, revoked for good, or held by an administrator).
    fn release_hold(&self, serial: &Serial) -> Result<bool>;
    /// Every admin token.
    fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>>;
    /// Deletes an admin token; `Ok(false)` if there was none.
    fn delete_admin_token(&self, id: &str) -> Result<bool>;
    /// Calls `f(serial, revoked_at, reason, not_after)` for every revoked certificate.
    fn scan_revoked(&self, f: &mut dyn FnMut(Serial, i64, RevocationReason, i64)) -> Result<()>;
    /// The status of a serial without loading its record: `None` if unknown, `Some(None)` if
    /// good, `Some(Some((revoked_at, reason)))` if revoked (the OCSP fast path).
    #[allow(clippy::type_complexity)]
    fn revocation_of(&self, serial: &Serial) -> Result<Option<Option<(i64, RevocationReason)>>>;
    /// A counter bumped by every revocation, so status caches know when to look again.
    fn revocation_epoch(&self) -> Result<u64>;
    /// The next value of a monotonic counter (CRL numbers), durable after [`Store::flush`].
    fn next_counter(&self, name: &str) -> Result<u64>;
    /// Calls `f` for every certificate record with a serial after `after` (all if `None`), in
    /// serial order, until it returns false.
    fn scan_certificates(
        &self,
        after: Option<&Serial>,
        f: &mut dyn FnMut(CertificateRecord) -> bool,
    ) -> Result<()>;
    /// Certificates issued on each UTC day from `first_day` to `last_day` (days since
    /// 1970-01-01, both included; see [`daily::utc_day`] of `issued_at`), by channel group
    /// ([`ChannelGroup::of`] the record's channel): counters that every certificate write bumps
    /// in its own transaction, so they are as durable as the certificates and reading them
    /// costs no scan. In day order, then group order; days and groups without issuance are
    /// left out.
    fn issued_per_day(&self, first_day: i64, last_day: i64) -> Result<Vec<DailyIssued>>;
    /// Bytes the store occupies on disk (for the `enrolld_store_bytes` gauge): more than zero
    /// once anything was written and flushed; it need not shrink when records are deleted.
    fn size_on_disk(&self) -> Result<u64>;
    /// A consistent copy of every tree: writers wait meanwhile.
    fn export_all(&self) -> Result<Export>;
    /// Makes every write so far durable, blocking the calling thread (the sled store joins
    /// its committer's next flush; async callers should await [`Store::durable`]).
    fn flush(&self) -> Result<()>;
    /// Queues a certificate write (with what it consumes and its audit entry) for group
    /// commit: concurrent writes share one transaction and one fsync. The ticket resolves with
    /// the outcome once the write is durable.
    fn commit_certificate(&self, c: CertificateCommit) -> CommitTicket;
    /// A ticket that resolves once every write made before the call is durable, sharing the
    /// fsync with concurrent commits.
    fn durable(&self) -> CommitTicket;
}

/// Result of [`RegistryStore::create_subject`].
#[derive(Debug, Clone, PartialEq)]
pub enum CreateSubject {
    /// Created.
    Created,
    /// A subject with this kind and external id exists: here it is.
    Exists(Box<SubjectRecord>),
}

/// What off-boarding did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OffboardSummary {
    /// Certificates revoked now (already revoked ones are not counted).
    pub certificates_revoked: usize,
    /// Credentials disabled.
    pub credentials_disabled: usize,
    /// EAB keys withdrawn (their ACME accounts deactivated).
    pub eab_keys_withdrawn: usize,
    /// ACME accounts deactivated.
    pub accounts_deactivated: usize,
    /// Pending approvals rejected.
    pub approvals_rejected: usize,
}

/// The registry: people and devices, their links, the audit log.
pub trait RegistryStore: Send + Sync {
    /// Creates a subject unless one with the same kind and external id exists.
    fn create_subject(&self, s: &SubjectRecord) -> Result<CreateSubject>;
    /// A subject by id.
    fn get_subject(&self, id: &SubjectId) -> Result<Option<SubjectRecord>>;
    /// A subject by kind and external id.
    fn get_subject_by_external(
        &self,
        kind: &str,
        external_id: &str,
    ) -> Result<Option<SubjectRecord>>;
    /// Replaces a subject's fields (compare-and-swap on the previous record).
    fn update_subject(&self, old: &SubjectRecord, new: &SubjectRecord) -> Result<bool>;
    /// Calls `f` for every subject until it returns false.
    fn scan_subjects(&self, f: &mut dyn FnMut(SubjectRecord) -> bool) -> Result<()>;
    /// Calls `f` for every subject whose id sorts after `after` (every subject when `None`), in
    /// id order, until it returns false: a page of a listing starts at its cursor without
    /// reading the subjects before it.
    fn scan_subjects_after(
        &self,
        after: Option<&SubjectId>,
        f: &mut dyn FnMut(SubjectRecord) -> bool,
    ) -> Result<()>;
    /// Serials of the subject's certificates.
    fn subject_certificates(&self, id: &SubjectId) -> Result<Vec<Serial>>;
    /// Ids of the subject's EST credentials.
    fn subject_credentials(&self, id: &SubjectId) -> Result<Vec<CredentialId>>;
    /// Kids of the subject's EAB keys.
    fn subject_eab_keys(&self, id: &SubjectId) -> Result<Vec<EabKid>>;
    /// Off-boards a subject in one transaction: status `offboarded`, every certificate revoked
    /// (`reason`), every credential disabled, every EAB key withdrawn and its account
    /// deactivated. Certificates issued concurrently cannot escape: issuance checks the status
    /// inside its own transaction and bumps the subject's generation, which this compares.
    fn offboard_subject(
        &self,
        id: &SubjectId,
        at: i64,
        reason: RevocationReason,
    ) -> Result<OffboardSummary>;
    /// Records a pending approval, or returns the one already recorded for the same credential
    /// and CSR.
    fn create_approval(&self, a: &ApprovalRecord) -> Result<ApprovalRecord>;
    /// An approval by id.
    fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>>;
    /// The approval of a credential and CSR fingerprint.
    fn get_approval_for(
        &self,
        credential: &str,
        csr_fingerprint: &str,
    ) -> Result<Option<ApprovalRecord>>;
    /// Decides a pending approval; `Ok(false)` if it is not pending any more.
    fn decide_approval(&self, id: &str, status: ApprovalStatus, by: &str, at: i64) -> Result<bool>;
    /// Approvals with `status`, oldest first, at most `limit`.
    fn list_approvals(&self, status: ApprovalStatus, limit: usize) -> Result<Vec<ApprovalRecord>>;
    /// Creates a pickup link.
    fn create_pickup(&self, p: &PickupRecord) -> Result<()>;
    /// A pickup link by id.
    fn get_pickup(&self, id: &str) -> Result<Option<PickupRecord>>;
    /// Records a SCEP transaction waiting for approval; a second record under the same key
    /// leaves the first in place (the client's retries carry the same request).
    fn put_scep_transaction(&self, t: &ScepTransactionRecord) -> Result<()>;
    /// A SCEP transaction by key.
    fn get_scep_transaction(&self, key: &str) -> Result<Option<ScepTransactionRecord>>;
    /// Appends an audit entry numbered one past the head and chained to it by hash; the head
    /// moves with it, atomically. Durable with the next flush.
    fn append_audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
        at: i64,
    ) -> Result<AuditRecord>;
    /// Audit entries with seq > `after`, at most `limit`.
    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>>;
    /// The head of the audit log: the last entry's seq and hash, as the append that wrote it
    /// recorded them; `None` before the first entry.
    fn audit_head(&self) -> Result<Option<(u64, String)>>;
    /// Stores a signed checkpoint of the audit log, keyed by its seq (a second one for the same
    /// seq replaces the first).
    fn put_audit_checkpoint(&self, c: &AuditCheckpointRecord) -> Result<()>;
    /// Checkpoints with seq > `after`, oldest first, at most `limit`.
    fn audit_checkpoints(&self, after: u64, limit: usize) -> Result<Vec<AuditCheckpointRecord>>;
    /// The newest checkpoint.
    fn last_audit_checkpoint(&self) -> Result<Option<AuditCheckpointRecord>>;
}

/// The outbox of mail (`src/mail/`). A mail is queued in the same transaction as what causes
/// it, once per event; the worker takes due mails in order of their next attempt.
pub trait MailStore: Send + Sync {
    /// Queues `mail` unless a mail for the same event exists; `false` if one does (nothing
    /// written).
    fn enqueue_mail(&self, mail: &MailRecord) -> Result<bool>;
    /// Creates a pickup link and queues the mail that carries it, in one transaction: neither
    /// exists without the other. Refused (`Conflict`) if the link id or the mail's event exists.
    fn create_pickup_with_mail(&self, p: &PickupRecord, mail: &MailRecord) -> Result<()>;
    /// A mail by id.
    fn get_mail(&self, id: &str) -> Result<Option<MailRecord>>;
    /// Whether a mail for `event` was queued (whatever became of it).
    fn has_mail_event(&self, event: &str) -> Result<bool>;
    /// Queued mails whose next attempt is due at `now`, soonest first, at most `limit`.
    fn due_mails(&self, now: i64, limit: usize) -> Result<Vec<MailRecord>>;
    /// Replaces `old` with `new` (same id) if the stored record still equals `old`; `false`
    /// if it changed meanwhile. Keeps the due index in step with the status.
    fn update_mail(&self, old: &MailRecord, new: &MailRecord) -> Result<bool>;
    /// Mails by status: (queued, sent, failed).
    fn count_mails(&self) -> Result<(u64, u64, u64)>;
    /// The newest mails first, at most `limit`, for the console.
    fn recent_mails(&self, limit: usize) -> Result<Vec<MailRecord>>;
}

/// Result of [`AcmeStore::create_account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAccount {
    /// Created.
    Created,
    /// An account with this key exists: here it is.
    KeyExists(AccountId),
    /// The EAB key is bound to another account already (one account per kid).
    EabTaken,
}

/// ACME objects (RFC 8555 §7.1). Multi-object updates are transactions.
pub trait AcmeStore: Send + Sync {
    /// Creates an EAB key.
    fn create_eab_key(&self, key: &EabKeyRecord) -> Result<()>;
    /// An EAB key by kid.
    fn get_eab_key(&self, kid: &EabKid) -> Result<Option<EabKeyRecord>>;
    /// Replaces an EAB key record (withdrawal).
    fn put_eab_key(&self, key: &EabKeyRecord) -> Result<()>;
    /// Creates an account, its key index entry and its EAB binding atomically.
    fn create_account(&self, acct: &AccountRecord) -> Result<CreateAccount>;
    /// An account by id.
    fn get_account(&self, id: &AccountId) -> Result<Option<AccountRecord>>;
    /// An account id by key thumbprint.
    fn get_account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountId>>;
    /// Updates an account, moving its key index entry if the key changed; `Ok(false)` if the
    /// new key belongs to another account.
    fn update_account(&self, old: &AccountRecord, new: &AccountRecord) -> Result<bool>;
    /// Creates an order and its authorizations atomically.
    fn create_order(&self, order: &OrderRecord, authzs: &[AuthzRecord]) -> Result<()>;
    /// An order by id.
    fn get_order(&self, id: &OrderId) -> Result<Option<OrderRecord>>;
    /// Replaces an order, compare-and-swap on its previous status; `Ok(false)` on a lost race.
    fn update_order(&self, old_status: OrderStatus, order: &OrderRecord) -> Result<bool>;
    /// Order ids of an account, oldest first.
    fn list_orders(&self, account: &AccountId) -> Result<Vec<OrderId>>;
    /// An authorization by id.
    fn get_authz(&self, id: &AuthzId) -> Result<Option<AuthzRecord>>;
    /// Replaces an authorization.
    fn put_authz(&self, authz: &AuthzRecord) -> Result<()>;
}
