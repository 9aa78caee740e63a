//! What the store holds, as counted by a scan (`crate::gauges`): certificates by status and
//! by expiry, store size, pending approvals, the age of the issuing CA's CRL.

use std::collections::BTreeMap;

/// Longest age of a snapshot before the next request scans again, seconds.
pub const REFRESH_SECS: i64 = 60;

/// The expiry windows reported, as (label, seconds from now).
pub const EXPIRY_WINDOWS: [(&str, i64); 3] =
    [("7d", 7 * 86400), ("30d", 30 * 86400), ("90d", 90 * 86400)];

/// The certificate statuses reported, each certificate in exactly one.
pub const STATUSES: [&str; 4] = ["valid", "expired", "revoked", "on_hold"];

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
