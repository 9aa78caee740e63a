//! What the store holds, as counted by a scan (`crate::gauges`): certificates by status and
//! by expiry, issuance per day by channel group, store size, pending approvals, the age of the
//! issuing CA's CRL.

use std::collections::BTreeMap;

/// Longest age of a snapshot before the next request scans again, seconds.
pub const REFRESH_SECS: i64 = 60;

/// The expiry windows reported, as (label, seconds from now).
pub const EXPIRY_WINDOWS: [(&str, i64); 3] =
    [("7d", 7 * 86400), ("30d", 30 * 86400), ("90d", 90 * 86400)];

/// The certificate statuses reported, each certificate in exactly one.
pub const STATUSES: [&str; 4] = ["valid", "expired", "revoked", "on_hold"];

/// Days of the issuance chart and of the `enrolld_certificates_issued_30d` gauge: the scan's
/// UTC day and the 29 before it.
pub const ISSUED_DAYS: usize = 30;

/// One scan of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When it was taken, unix seconds of the injected clock.
    pub at: i64,
    /// Certificates by status, every one of [`STATUSES`] present: `valid` (not revoked, not
    /// expired), `expired` (not revoked, past notAfter), `revoked` (revoked for good, whether
    /// expired or not), `on_hold` (certificateHold, which may be lifted).
    pub by_status: BTreeMap<&'static str, u64>,
    /// Valid certificates whose notAfter falls within each of [`EXPIRY_WINDOWS`] from `at`;
    /// the windows nest (`30d` includes `7d`).
    pub expiring: Vec<(&'static str, u64)>,
    /// Valid certificates whose notAfter falls in each of the next 13 weeks from `at` (the
    /// dashboard's expiry chart).
    pub expiry_weeks: [u64; 13],
    /// Certificates issued on each of the [`ISSUED_DAYS`] UTC days ending with the day of
    /// `at`, oldest first, by channel group (`est`, `acme`, `scep`, `pickup`, `other`, every
    /// group present, in that order): the store's per-day counters, which survive restarts.
    pub issued_days: Vec<(&'static str, [u64; ISSUED_DAYS])>,
    /// Bytes the store occupies on disk (`Store::size_on_disk`).
    pub store_bytes: u64,
    /// Enrolment requests waiting for an administrator's decision.
    pub pending_approvals: u64,
    /// thisUpdate of the issuing CA's current CRL, unix seconds; `None` if none could be made.
    pub crl_this_update: Option<i64>,
}

impl Snapshot {
    /// Seconds from the CRL's thisUpdate to the scan; `None` without a CRL.
    pub fn crl_age_seconds(&self) -> Option<i64> {
        self.crl_this_update.map(|t| self.at - t)
    }
}
