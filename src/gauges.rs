//! The store gauges of the metrics: certificates by status and by expiry, issuance per day by
//! channel group, store size, pending approvals, the age of the issuing CA's CRL. Counting a store of 100,000 certificates costs a
//! pass over its indexes, so a scan runs at most once per [`REFRESH_SECS`] of the injected
//! clock, whoever asks (scrapes, the dashboard); in between they get the last [`Snapshot`].
//!
//! The scan reads indexes only — the count of certificates, the revocation index and the expiry
//! index, the per-day issuance counters — and never decodes a certificate record.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::SharedClock;
use crate::error::Result;
use crate::metrics::snapshot::{Snapshot, EXPIRY_WINDOWS, ISSUED_DAYS, REFRESH_SECS};
use crate::metrics::Metrics;
use crate::revocation::RevocationReason;
use crate::states::ApprovalStatus;
use crate::status::StatusService;
use crate::store::daily::utc_day;
use crate::store::{ChannelGroup, Store};

/// Seconds of a week, the buckets of the expiry chart.
const WEEK_SECS: i64 = 7 * 86_400;

/// Takes [`Snapshot`]s and publishes them to the shared [`Metrics`].
pub struct Gauges {
    /// What is counted.
    store: Arc<dyn Store>,
    /// The issuing CA's CRL (regenerated if due, as a relying party's fetch would).
    status: Arc<StatusService>,
    /// When a snapshot is stale.
    clock: SharedClock,
    /// Where snapshots are published.
    metrics: Arc<Metrics>,
    /// One scan at a time: concurrent scrapes wait for it and share its result.
    scanning: Mutex<()>,
}

impl Gauges {
    /// The gauges of `store` publishing to `metrics`.
    pub fn new(
        store: Arc<dyn Store>,
        status: Arc<StatusService>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        Gauges {
            store,
            status,
            clock,
            metrics,
            scanning: Mutex::new(()),
        }
    }

    /// The current snapshot: the last one if younger than [`REFRESH_SECS`], else a new scan.
    /// Blocking (it reads the store): call from a blocking context.
    pub fn current(&self) -> Result<Arc<Snapshot>> {
        let fresh = |now: i64| {
            self.metrics
                .inventory()
                .filter(|s| now - s.at < REFRESH_SECS && now >= s.at)
        };
        if let Some(s) = fresh(self.clock.now()) {
            return Ok(s);
        }
        let _one = self.scanning.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = fresh(self.clock.now()) {
            return Ok(s);
        }
        let s = Arc::new(self.scan(self.clock.now())?);
        self.metrics.set_inventory(s.clone());
        Ok(s)
    }

    /// The per-day issuance counters of the [`ISSUED_DAYS`] days ending today (UTC), by
    /// channel group: at most 30 × 5 counters, no certificate read.
    fn issued_days(&self, now: i64) -> Result<Vec<(&'static str, [u64; ISSUED_DAYS])>> {
        let today = utc_day(now);
        let first = today - (ISSUED_DAYS as i64 - 1);
        let mut out: Vec<(&'static str, [u64; ISSUED_DAYS])> = ChannelGroup::ALL
            .iter()
            .map(|g| (g.as_str(), [0; ISSUED_DAYS]))
            .collect();
        for d in self.store.issued_per_day(first, today)? {
            let day = usize::try_from(d.day - first)
                .ok()
                .filter(|i| *i < ISSUED_DAYS);
            let group = ChannelGroup::ALL.iter().position(|g| *g == d.group);
            if let (Some(i), Some(g)) = (day, group) {
                out[g].1[i] += d.count;
            }
        }
        Ok(out)
    }

    fn scan(&self, now: i64) -> Result<Snapshot> {
        let total = self.store.count_certificates()? as u64;
        let mut revoked = HashSet::new();
        let (mut held, mut revoked_for_good) = (0u64, 0u64);
        self.store.scan_revoked(&mut |serial, _, reason, _| {
            if reason == RevocationReason::CertificateHold {
                held += 1;
            } else {
                revoked_for_good += 1;
            }
            revoked.insert(serial);
        })?;
        let not_revoked = |v: Vec<crate::ids::Serial>| -> u64 {
            v.iter().filter(|s| !revoked.contains(*s)).count() as u64
        };
        let expired = not_revoked(self.store.certificates_expiring_before(now, usize::MAX)?);
        let mut expiring = Vec::with_capacity(EXPIRY_WINDOWS.len());
        for (label, secs) in EXPIRY_WINDOWS {
            let before = self
                .store
                .certificates_expiring_before(now + secs + 1, usize::MAX)?;
            expiring.push((label, not_revoked(before).saturating_sub(expired)));
        }
        let mut expiry_weeks = [0u64; 13];
        let mut before = expired;
        for (w, slot) in expiry_weeks.iter_mut().enumerate() {
            let end = now + (w as i64 + 1) * WEEK_SECS;
            let upto = not_revoked(self.store.certificates_expiring_before(end, usize::MAX)?);
            *slot = upto.saturating_sub(before);
            before = upto;
        }
        let valid = total.saturating_sub(held + revoked_for_good + expired);
        let by_status = BTreeMap::from([
            ("valid", valid),
            ("expired", expired),
            ("revoked", revoked_for_good),
            ("on_hold", held),
        ]);
        let pending_approvals = self
            .store
            .list_approvals(ApprovalStatus::Pending, usize::MAX)?
            .len() as u64;
        let crl_this_update = match self.status.issuing_crl() {
            Ok(c) => Some(c.this_update),
            Err(e) => {
                tracing::error!(error = %e, "metrics: the issuing CA's CRL could not be made");
                self.status.last_issuing_crl().map(|c| c.this_update)
            }
        };
        Ok(Snapshot {
            at: now,
            by_status,
            expiring,
            expiry_weeks,
            issued_days: self.issued_days(now)?,
            store_bytes: self.store.size_on_disk()?,
            pending_approvals,
            crl_this_update,
        })
    }
}
