//! Storage behind a trait with one method per entity operation, so that a distributed backend
//! can replace the embedded sled store without touching protocol code.

pub mod records;
pub mod sled_store;

use crate::error::Result;
use crate::ids::{CredentialId, Serial};
pub use records::{
    AdminTokenRecord, CertStatus, CertificateRecord, CredentialRecord, CredentialUse,
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

/// Result of [`Store::insert_certificate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The certificate was stored (and the credential use, if any, recorded).
    Inserted,
    /// The serial exists already: pick another and sign again.
    SerialTaken,
    /// The credential already paid for this very CSR: here is that certificate's serial.
    AlreadyIssued(Serial),
    /// The credential has no uses left, is disabled, expired or gone.
    CredentialUnusable,
}

/// The store. Every write that must survive a crash is followed by [`Store::flush`] before a
/// client learns of it.
pub trait Store: Send + Sync {
    /// Inserts a certificate and its indexes, atomically with spending `spend` if given.
    fn insert_certificate(
        &self,
        cert: &CertificateRecord,
        spend: Option<&CredentialSpend>,
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
    /// Creates or replaces an admin token.
    fn put_admin_token(&self, token: &AdminTokenRecord) -> Result<()>;
    /// An admin token by its public id.
    fn get_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>>;
    /// Makes every write so far durable (fsync).
    fn flush(&self) -> Result<()>;
}
