//! The worker that empties the outbox: due mails, soonest first, one at a time.
//!
//! An accepted mail is marked `sent` and its sealed message erased. A temporary failure (4xx,
//! no connection, timeout) waits `retry_initial_secs`, doubled per failure up to
//! `retry_max_secs`, and is given up once the mail has failed for `give_up_after_secs`; a
//! permanent failure (5xx) is given up at once. Giving up writes an audit entry
//! (`mail.failed`, with the relay's answer). The worker wakes when a mail is queued and at
//! least every [`IDLE_SECS`] otherwise.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::transport::{Attempt, Relay};
use super::Mailer;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::registry::service::Registry;
use crate::states::MailStatus;
use crate::store::{MailRecord, Store};

/// The longest the worker sleeps when nothing wakes it.
pub const IDLE_SECS: u64 = 1;
/// Mails taken per look.
const BATCH: usize = 20;
/// The audit log's actor for the worker.
pub const ACTOR: &str = "system:mail";

/// Everything the worker uses.
pub struct Outbox {
    /// Composes and opens mail.
    pub mailer: Arc<Mailer>,
    /// Where mail goes.
    pub relay: Relay,
    /// The outbox.
    pub store: Arc<dyn Store>,
    /// Audit entries for mail given up.
    pub registry: Arc<Registry>,
    /// Attempts by outcome.
    pub metrics: Arc<Metrics>,
}

/// The wait before attempt `attempts + 1` after `attempts` failures.
pub fn backoff(initial: u64, max: u64, attempts: u32) -> u64 {
    initial
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
        .min(max)
}

impl Outbox {
    /// Starts the worker (and, in the background, a look at whether the relay answers: a
    /// relay that does not is a warning, and mail waits for it).
    pub fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        let probe = self.clone();
        tokio::spawn(async move {
            match probe.relay.reachable().await {
                Ok(()) => tracing::info!(relay = %probe.relay.name(), "mail relay answers"),
                Err(e) => tracing::warn!(
                    relay = %probe.relay.name(),
                    error = %e,
                    "mail relay does not answer; mail is queued until it does"
                ),
            }
        });
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "mail outbox"),
                }
                tokio::select! {
                    () = self.mailer.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(IDLE_SECS)) => {}
                }
            }
        })
    }

    /// Sends what is due now; how many mails were tried.
    pub async fn run_once(&self) -> Result<usize> {
        let store = self.store.clone();
        let now = self.mailer.now();
        let due = tokio::task::spawn_blocking(move || store.due_mails(now, BATCH))
            .await
            .map_err(crate::error::Error::internal)??;
        let n = due.len();
        for m in due {
            self.attempt(m).await?;
        }
        Ok(n)
    }

    /// One attempt at one mail, and its record.
    async fn attempt(&self, m: MailRecord) -> Result<()> {
        let outcome = match self.mailer.message(&m) {
            Ok(msg) => self.relay.send(msg).await,
            // A mail that cannot be opened or built will never go.
            Err(e) => Attempt::Permanent(e.to_string()),
        };
        let now = self.mailer.now();
        let cfg = &self.mailer.cfg;
        let mut next = m.clone();
        next.attempts = m.attempts.saturating_add(1);
        let gave_up = match &outcome {
            Attempt::Accepted => {
                next.status = MailStatus::Sent;
                next.sent_at = Some(now);
                next.sealed.clear();
                next.last_error = None;
                self.metrics.mail_attempt("sent");
                None
            }
            Attempt::Temporary(e) => {
                next.last_error = Some(e.clone());
                self.metrics.mail_attempt("temporary_failure");
                if now.saturating_sub(m.created_at) >= cfg.give_up_after_secs as i64 {
                    Some(format!("failing since {} s: {e}", now - m.created_at))
                } else {
                    next.next_attempt_at = now.saturating_add(backoff(
                        cfg.retry_initial_secs,
                        cfg.retry_max_secs,
                        next.attempts,
                    ) as i64);
                    tracing::info!(mail = %m.id, kind = %m.kind, attempts = next.attempts, error = %e, "mail delayed");
                    None
                }
            }
            Attempt::Permanent(e) => {
                self.metrics.mail_attempt("permanent_failure");
                next.last_error = Some(e.clone());
                Some(e.clone())
            }
        };
        if let Some(reason) = &gave_up {
            next.status = MailStatus::Failed;
            next.sealed.clear();
            next.last_error = Some(reason.clone());
        }
        let (store, registry) = (self.store.clone(), self.registry.clone());
        let (old, new) = (m, next);
        tokio::task::spawn_blocking(move || -> Result<()> {
            if !store.update_mail(&old, &new)? {
                return Ok(());
            }
            match new.status {
                MailStatus::Sent => {
                    tracing::info!(mail = %new.id, kind = %new.kind, "mail sent");
                    registry.audit(ACTOR, "mail.sent", &new.id, "ok", &format!("{} {}", new.kind, new.event_kind()))?;
                }
                MailStatus::Failed => {
                    let reason = new.last_error.clone().unwrap_or_default();
                    tracing::warn!(mail = %new.id, kind = %new.kind, reason = %reason, "mail given up");
                    registry.audit(ACTOR, "mail.failed", &new.id, "error", &format!("{}: {reason}", new.kind))?;
                }
                MailStatus::Queued => store.flush()?,
            }
            Ok(())
        })
        .await
        .map_err(crate::error::Error::internal)?
    }
}

impl MailRecord {
    /// The kind of event (`pickup`, `reminder:30`) without the ids that follow it.
    pub fn event_kind(&self) -> String {
        let mut parts = self.event.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("reminder"), Some(_), Some(days)) => format!("reminder:{days}"),
            (Some(k), _, _) => k.to_owned(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_longest() {
        let w: Vec<u64> = (1..=9).map(|a| backoff(60, 3600, a)).collect();
        assert_eq!(w, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(60, 3600, 200), 3600);
    }
}
