//! Webhooks: signed JSON events for issuance, revocation, upcoming expiry and any other audit
//! action an operator subscribes to (`[webhooks]` in the configuration).
//!
//! One task tails the audit log (polling every second for entries after the cursor), turns
//! each subscribed entry into an [`event::Event`] and POSTs it to the receiver, one at a time
//! and in log order. A failed delivery (no answer, or a status other than 2xx) is retried
//! with exponential backoff, doubling from `retry_initial_ms` up to five minutes, until it
//! succeeds: later events wait, so nothing is lost or reordered. Once an hour the task also
//! looks for good certificates expiring within `expiry_warning_days` and sends
//! `certificate.expiring` once per certificate per process.
//!
//! Delivery is at least once: the cursor ([`cursor`]) survives restarts, but an event in
//! flight when the process stops is sent again, and expiry warnings are sent again after a
//! restart. Every event id is stable, so receivers drop duplicates by id.
//!
//! Every body is signed: `X-Enrolld-Signature: sha256=<hex HMAC-SHA256(key, body)>`, the key
//! being the contents of `secret_file`; `X-Enrolld-Event` carries the event type.

pub mod cursor;
pub mod event;
pub mod http;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{Config, WebhookConfig};
use crate::error::{Error, Result};
use crate::ids::Serial;
use crate::store::{AuditRecord, CertStatus, CertificateRecord, Store};
use cursor::Cursor;
use event::{Event, EXPIRING};
use http::Endpoint;

/// Longest wait between two attempts at one delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the audit log is polled when there is nothing new.
const POLL: Duration = Duration::from_secs(1);
/// Audit entries read per store call.
const BATCH: usize = 100;
/// Most bytes of a receiver's answer read (the answer is only logged by status).
const MAX_ANSWER: usize = 64 * 1024;
/// Shortest secret accepted: 128 bits, like every other secret of enrolld.
const MIN_SECRET: usize = 16;

/// Starts the notifier if `[webhooks] url` is set; `Ok(None)` otherwise. Reads the secret,
/// the trust anchors and the cursor now, so that a mistake stops the server at start rather
/// than failing every delivery later. The caller aborts the task on shutdown.
pub fn spawn(cfg: &Config, store: Arc<dyn Store>) -> Result<Option<JoinHandle<()>>> {
    let w = &cfg.webhooks;
    let Some(url) = &w.url else {
        return Ok(None);
    };
    let secret_file = w.secret_file.as_ref().ok_or_else(|| {
        Error::Malformed("webhooks.secret_file is required with webhooks.url".into())
    })?;
    let key = read_secret(secret_file)?;
    let roots = if url.starts_with("https://") {
        Some(
            match &w.ca_file {
                Some(p) => http::roots_from_pem_file(p),
                None => http::system_roots(),
            }
            .map_err(|e| Error::Malformed(format!("webhooks: {e}")))?,
        )
    } else {
        None
    };
    let endpoint =
        Endpoint::parse(url, roots).map_err(|e| Error::Malformed(format!("webhooks.url: {e}")))?;
    if !endpoint.is_tls() {
        tracing::warn!(
            "webhooks.url is plain http: events (subjects, serials, actors) cross the network unencrypted; their signatures only prove origin. Use https unless the receiver is on the same host or a trusted network"
        );
    }
    let cursor = Cursor::load(&cfg.data_dir.join("webhook-cursor"), &*store)?;
    tracing::info!(
        host = endpoint_host(url),
        events = ?w.events,
        after = cursor.seq(),
        "webhooks on"
    );
    let n = Notifier {
        cfg: w.clone(),
        store,
        endpoint,
        key,
        cursor,
        expiring_sent: HashSet::new(),
    };
    Ok(Some(tokio::spawn(n.run())))
}

/// The host part of a URL, for the log (the path may carry a receiver's own secret).
fn endpoint_host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
}

/// The HMAC key: the file's contents without a trailing newline, so that `openssl rand -hex
/// 32 > secret` and the receiver's copy of the same text agree.
fn read_secret(path: &std::path::Path) -> Result<hmac::Key> {
    let raw = std::fs::read(path)
        .map_err(|e| Error::Malformed(format!("webhooks.secret_file {}: {e}", path.display())))?;
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    if end < MIN_SECRET {
        return Err(Error::Malformed(format!(
            "webhooks.secret_file {}: the secret must be at least {MIN_SECRET} bytes",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "webhooks.secret_file is readable by other users; chmod 600 it"
                );
            }
        }
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &raw[..end]))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The delivery task's state.
struct Notifier {
    /// `[webhooks]`: events, timeouts, backoff, expiry window.
    cfg: WebhookConfig,
    /// The audit log and the certificates.
    store: Arc<dyn Store>,
    /// The receiver.
    endpoint: Endpoint,
    /// Signs every body.
    key: hmac::Key,
    /// The last audit entry handled.
    cursor: Cursor,
    /// Certificates whose expiry was announced by this process.
    expiring_sent: HashSet<Serial>,
}

impl Notifier {
    async fn run(mut self) {
        let scan_every = Duration::from_secs(self.cfg.expiry_scan_secs);
        let mut next_scan = Instant::now();
        let wants_expiring = self.cfg.events.iter().any(|e| e == EXPIRING);
        loop {
            if wants_expiring && Instant::now() >= next_scan {
                if let Err(e) = self.scan_expiring().await {
                    tracing::error!(error = %e, "webhooks: expiry scan failed");
                }
                next_scan = Instant::now() + scan_every;
            }
            match self.drain_audit().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::error!(error = %e, "webhooks: reading the audit log failed");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Delivers the subscribed entries of the next batch after the cursor; `Ok(true)` if
    /// the batch was full (more may be waiting).
    async fn drain_audit(&mut self) -> Result<bool> {
        let store = self.store.clone();
        let after = self.cursor.seq();
        let batch: Vec<AuditRecord> =
            tokio::task::spawn_blocking(move || store.audit_entries(after, BATCH))
                .await
                .map_err(Error::internal)??;
        let full = batch.len() == BATCH;
        let mut last = None;
        for entry in batch {
            if self.cfg.events.contains(&entry.action) {
                let cert = self.certificate_of(&entry).await;
                self.deliver(&Event::from_audit(&entry, cert.as_ref()))
                    .await;
                self.save(entry.seq).await;
                last = None;
            } else {
                last = Some(entry.seq);
            }
        }
        if let Some(seq) = last {
            self.save(seq).await;
        }
        Ok(full)
    }

    /// Moves the cursor; a failed write is logged (the position in memory is right, and a
    /// restart would only redeliver).
    async fn save(&mut self, seq: u64) {
        if let Err(e) = self.cursor.advance(seq).await {
            tracing::error!(error = %e, seq, "webhooks: cannot write the cursor file");
        }
    }

    /// The certificate an entry names, for `certificate.*` actions whose target is a serial.
    async fn certificate_of(&self, e: &AuditRecord) -> Option<CertificateRecord> {
        if !e.action.starts_with("certificate.") {
            return None;
        }
        let serial = Serial::parse_hex(&e.target).ok()?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.get_certificate(&serial))
            .await
            .ok()?
            .ok()?
    }

    /// Sends `certificate.expiring` for every good, not yet renewed certificate that expires
    /// within the window and was not announced by this process yet.
    async fn scan_expiring(&mut self) -> Result<()> {
        let store = self.store.clone();
        let window = i64::from(self.cfg.expiry_warning_days) * 86400;
        let sent = std::mem::take(&mut self.expiring_sent);
        let t = now();
        let (sent, due) =
            tokio::task::spawn_blocking(move || due_for_warning(&*store, t, window, sent))
                .await
                .map_err(Error::internal)?;
        self.expiring_sent = sent;
        for cert in due? {
            self.deliver(&Event::expiring(&cert, t)).await;
            self.expiring_sent.insert(cert.serial);
        }
        Ok(())
    }

    /// POSTs one event until the receiver answers 2xx.
    async fn deliver(&self, ev: &Event) {
        let body = match serde_json::to_vec(ev) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                // Cannot happen for these plain types; never block the queue on it.
                tracing::error!(error = %e, id = ev.id, "webhooks: cannot encode an event; skipped");
                return;
            }
        };
        let sig = event::signature(&self.key, &body);
        let timeout = Duration::from_secs(self.cfg.timeout_secs);
        let mut delay = Duration::from_millis(self.cfg.retry_initial_ms);
        let mut attempt: u32 = 1;
        loop {
            let attempt_text = attempt.to_string();
            let headers = [
                ("content-type", "application/json"),
                ("x-enrolld-event", ev.kind.as_str()),
                ("x-enrolld-signature", sig.as_str()),
                ("x-enrolld-delivery-attempt", attempt_text.as_str()),
            ];
            let outcome = self
                .endpoint
                .send(
                    hyper::Method::POST,
                    "",
                    &headers,
                    body.clone(),
                    timeout,
                    MAX_ANSWER,
                )
                .await;
            let why = match outcome {
                Ok(r) if r.status.is_success() => {
                    if attempt > 1 {
                        tracing::info!(id = ev.id, attempt, "webhook delivered after retries");
                    } else {
                        tracing::debug!(id = ev.id, "webhook delivered");
                    }
                    return;
                }
                Ok(r) => format!("receiver answered {}", r.status),
                Err(e) => e.to_string(),
            };
            tracing::warn!(
                id = ev.id,
                event = ev.kind,
                attempt,
                retry_in_ms = delay.as_millis() as u64,
                "webhook delivery failed: {why}"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
            attempt = attempt.saturating_add(1);
        }
    }
}

/// Certificates to warn about at `now`: good, not renewed, expiring within `window` seconds,
/// not in `sent`. Returns `sent` back (it moved into the blocking task).
fn due_for_warning(
    store: &dyn Store,
    now: i64,
    window: i64,
    sent: HashSet<Serial>,
) -> (HashSet<Serial>, Result<Vec<CertificateRecord>>) {
    let due = (|| {
        // The expiry index also holds every certificate that has expired already, soonest
        // first, and the store offers no lower bound: count those and skip them (with a
        // margin, since the two reads are not one snapshot; each record is checked anyway).
        let expired = store.certificates_expiring_before(now, usize::MAX)?.len();
        let soon = store.certificates_expiring_before(now.saturating_add(window), usize::MAX)?;
        let mut out = Vec::new();
        for serial in soon.into_iter().skip(expired.saturating_sub(64)) {
            if sent.contains(&serial) {
                continue;
            }
            let Some(c) = store.get_certificate(&serial)? else {
                continue;
            };
            if c.status == CertStatus::Good && c.not_after > now && c.renewed_by.is_none() {
                out.push(c);
            }
        }
        Ok(out)
    })();
    (sent, due)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn config_section() {
        let cfg = Config::parse("").unwrap();
        assert!(cfg.webhooks.url.is_none());
        assert_eq!(cfg.webhooks.expiry_warning_days, 14);
        assert_eq!(cfg.webhooks.retry_initial_ms, 1000);
        assert_eq!(
            cfg.webhooks.events,
            [
                "certificate.issue",
                "certificate.revoke",
                "certificate.expiring"
            ]
        );
        let ok = "[webhooks]\nurl = \"https://hooks.example/enrolld\"\nsecret_file = \"/s\"\n";
        assert!(Config::parse(ok).is_ok());
        for bad in [
            "[webhooks]\nurl = \"https://hooks.example/\"\n",
            "[webhooks]\nurl = \"ftp://hooks.example/\"\nsecret_file = \"/s\"\n",
            "[webhooks]\nevents = []\n",
            "[webhooks]\nevents = [\"Certificate Issue\"]\n",
            "[webhooks]\nexpiry_warning_days = 0\n",
            "[webhooks]\ntimeout_secs = 0\n",
            "[webhooks]\nsecrets_file = \"/s\"\n",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_secrets_are_refused_and_newlines_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "short\n").unwrap();
        assert!(super::read_secret(&p).is_err());
        std::fs::write(&p, "0123456789abcdef\r\n").unwrap();
        let with_newline = super::read_secret(&p).unwrap();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"0123456789abcdef");
        assert_eq!(
            super::event::signature(&with_newline, b"x"),
            super::event::signature(&key, b"x")
        );
    }
}
