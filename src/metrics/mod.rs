//! The server's counters, in one shared registry: what `GET /metrics` renders in the
//! Prometheus text exposition format (version 0.0.4) and what the console's dashboard reads
//! through the typed accessors, so both show the same numbers.
//!
//! Hand-written on atomics and small maps rather than the `metrics` crates: a handful of
//! families, label sets bounded by the route table, the channels, the profiles and the error
//! table, and a typed read API for the dashboard that a global recorder does not give.
//!
//! Who counts what:
//! - issuance ([`Metrics::certificate_issued`]): the one issuance pipeline
//!   (`ca::issuance::commit`), for every channel;
//! - errors by kind and request latency by route: the HTTP layer, which classifies errors in
//!   one table (`http::errors`) and knows the matched route template;
//! - certificates by status and expiry, store size, pending approvals and CRL age: a scan of
//!   the store (`crate::gauges`), at most once per [`snapshot::REFRESH_SECS`], published here
//!   as a [`Snapshot`].
//!
//! This module depends on nothing of the crate, so that `ca` (the issuance pipeline) and
//! `http` can both count into it.

mod render;
pub mod snapshot;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

pub use render::CONTENT_TYPE;
pub use snapshot::Snapshot;

/// Upper bounds (seconds) of the latency histogram's buckets; `+Inf` is implied. From 1 ms
/// (an OCSP answer from cache) to 10 s (an RSA key generated for a pickup link under load).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route matched: raw paths never become labels.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The error kind of an error response that did not come from the classification table
/// (an extractor's rejection inside the web framework).
pub const UNCLASSIFIED_ERROR: &str = "unclassified";

/// Every counter of a running server.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Certificates issued, by (channel, profile).
    issued: Mutex<BTreeMap<(String, String), u64>>,
    /// Error responses, by the error table's kind (`notFound`, `unauthorized`, …).
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Request latency, by matched route template.
    latency: RwLock<BTreeMap<String, Arc<Histogram>>>,
    /// The newest inventory scan, if one ran.
    inventory: Mutex<Option<Arc<Snapshot>>>,
    /// Mail delivery attempts, by outcome (`sent`, `temporary_failure`, `permanent_failure`).
    mail_attempts: Mutex<BTreeMap<&'static str, u64>>,
    /// The outbox by status (queued, sent, failed), read from the store at each scrape; `None`
    /// while mail is off.
    mail_outbox: Mutex<Option<(u64, u64, u64)>>,
}

/// A latency histogram: per-bucket counts (not cumulative), their sum and count.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket of [`LATENCY_BUCKETS`], then the `+Inf` one.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of observations, microseconds.
    sum_micros: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

/// One route's latency, as read: cumulative buckets as Prometheus exposes them.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, observations at or below it), ascending; the last bound is
    /// `f64::INFINITY` and its count equals `count`.
    pub cumulative: Vec<(f64, u64)>,
    /// Sum of observations, seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

/// Certificates issued through one channel with one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCount {
    /// The channel recorded with the certificate (`est-simpleenroll`, `acme`, `pickup`, …).
    pub channel: String,
    /// The profile.
    pub profile: String,
    /// How many since start.
    pub count: u64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            total += b.load(Ordering::Relaxed);
            let bound = LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            cumulative.push((bound, total));
        }
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            // The buckets' total, so that `+Inf` and `_count` agree in every scrape even
            // while requests finish concurrently.
            count: total,
        }
    }
}

/// A poisoned lock only means another thread panicked while counting: the counts stay usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a certificate the issuance pipeline signed and recorded.
    pub fn certificate_issued(&self, channel: &str, profile: &str) {
        *lock(&self.issued)
            .entry((channel.to_owned(), profile.to_owned()))
            .or_default() += 1;
    }

    /// Counts an error response of `kind` (a row name of the HTTP error table).
    pub fn error(&self, kind: &'static str) {
        *lock(&self.errors).entry(kind).or_default() += 1;
    }

    /// Records how long a request on `route` (a route template, or [`UNMATCHED_ROUTE`]) took.
    pub fn request(&self, route: &str, took: Duration) {
        let found = self
            .latency
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .cloned();
        let h = match found {
            Some(h) => h,
            None => self
                .latency
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.to_owned())
                .or_default()
                .clone(),
        };
        h.observe(took);
    }

    /// Publishes an inventory scan.
    pub fn set_inventory(&self, s: Arc<Snapshot>) {
        *lock(&self.inventory) = Some(s);
    }

    /// Certificates issued since start, by channel and profile, sorted.
    pub fn issued(&self) -> Vec<IssuedCount> {
        lock(&self.issued)
            .iter()
            .map(|((channel, profile), count)| IssuedCount {
                channel: channel.clone(),
                profile: profile.clone(),
                count: *count,
            })
            .collect()
    }

    /// Error responses since start, by kind.
    pub fn errors(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.errors).clone()
    }

    /// Latency of every route that answered at least once, by route template.
    pub fn latency(&self) -> BTreeMap<String, HistogramSnapshot> {
        self.latency
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(r, h)| (r.clone(), h.snapshot()))
            .collect()
    }

    /// The newest inventory scan, if one ran.
    pub fn inventory(&self) -> Option<Arc<Snapshot>> {
        lock(&self.inventory).clone()
    }

    /// Counts a mail delivery attempt ending in `outcome`.
    pub fn mail_attempt(&self, outcome: &'static str) {
        *lock(&self.mail_attempts).entry(outcome).or_default() += 1;
    }

    /// Mail delivery attempts by outcome.
    pub fn mail_attempts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.mail_attempts).clone()
    }

    /// Publishes the outbox's counts (queued, sent, failed).
    pub fn set_mail_outbox(&self, counts: (u64, u64, u64)) {
        *lock(&self.mail_outbox) = Some(counts);
    }

    /// The outbox's counts, if mail is on.
    pub fn mail_outbox(&self) -> Option<(u64, u64, u64)> {
        *lock(&self.mail_outbox)
    }

    /// Every metric in the Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        render::render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_puts_each_observation_in_its_bucket_and_reads_cumulative() {
        let m = Metrics::new();
        m.request("/a", Duration::from_micros(500));
        m.request("/a", Duration::from_millis(20));
        m.request("/a", Duration::from_secs(60));
        let h = &m.latency()["/a"];
        assert_eq!(h.count, 3);
        assert_eq!(h.cumulative[0], (0.001, 1));
        assert_eq!(h.cumulative[2], (0.01, 1));
        assert_eq!(h.cumulative[3], (0.025, 2));
        assert_eq!(h.cumulative[11], (10.0, 2));
        assert_eq!(h.cumulative[12], (f64::INFINITY, 3));
        assert!((h.sum_seconds - 60.0205).abs() < 1e-9, "{}", h.sum_seconds);
    }

    #[test]
    fn counters_add_up_by_label_set() {
        let m = Metrics::new();
        m.certificate_issued("acme", "tls-client");
        m.certificate_issued("acme", "tls-client");
        m.certificate_issued("pickup", "tls-client");
        m.error("notFound");
        let issued = m.issued();
        assert_eq!(issued.len(), 2);
        assert_eq!(issued[0].channel, "acme");
        assert_eq!(issued[0].count, 2);
        assert_eq!(issued[1].count, 1);
        assert_eq!(m.errors()["notFound"], 1);
    }
}
