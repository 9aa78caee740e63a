//! Renewal reminders: every `reminder_scan_secs`, good certificates that expire within the
//! largest of `reminder_days` get one reminder for the nearest threshold they have crossed
//! (a certificate first seen 5 days before expiry gets the 7-day reminder, not the 30-day one),
//! once per certificate and threshold (the outbox's event key `reminder:<serial>:<days>`).
//!
//! No reminder for a certificate that is revoked or on hold, that was renewed (its renewal
//! was recorded), or that a newer good certificate of the same subject and profile replaces,
//! nor for a subject that is not active. A person's reminder goes to the person; a device's to
//! its owner's address (the owner is a registered person), else to `operations_address`, else
//! nowhere. A person whose certificate came from a pickup link gets a fresh link with the
//! reminder (template `reminder_link`), stored with the mail in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::template::Template;
use super::{Compose, Mailer};
use crate::error::Result;
use crate::registry::pickup_mail::{addressed_as, mail_time};
use crate::registry::service::Registry;
use crate::states::SubjectStatus;
use crate::store::{CertStatus, CertificateRecord, SubjectRecord};

/// Most certificates looked at per scan.
const SCAN_LIMIT: usize = 1_000_000;

/// The reminder task.
pub struct Reminders {
    /// Composes the mail.
    pub mailer: Arc<Mailer>,
    /// The store, pickup links and the clock.
    pub registry: Arc<Registry>,
}

/// The threshold (days) a certificate `days_left` before expiry is due a reminder for: the
/// smallest threshold at or above `days_left`.
pub fn threshold(days: &[u32], days_left: i64) -> Option<u32> {
    days.iter()
        .copied()
        .filter(|d| i64::from(*d) >= days_left)
        .min()
}

impl Reminders {
    /// Runs a scan now and then every `reminder_scan_secs`.
    pub fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.run_once()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(queued = n, "renewal reminders queued"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "renewal reminders"),
                    Err(e) => tracing::error!(error = %e, "renewal reminder task"),
                }
                tokio::time::sleep(Duration::from_secs(self.mailer.cfg.reminder_scan_secs)).await;
            }
        })
    }

    /// One scan (blocking); how many reminders were queued.
    pub fn run_once(&self) -> Result<usize> {
        let store = &self.registry.store;
        let now = self.registry.clock.now();
        let days = &self.mailer.cfg.reminder_days;
        let Some(max) = days.iter().max() else {
            return Ok(0);
        };
        let horizon = now.saturating_add(i64::from(*max) * 86_400);
        let mut queued = 0;
        for serial in store.certificates_expiring_before(horizon + 1, SCAN_LIMIT)? {
            let Some(cert) = store.get_certificate(&serial)? else {
                continue;
            };
            if cert.not_after <= now
                || !matches!(cert.status, CertStatus::Good)
                || cert.renewed_by.is_some()
            {
                continue;
            }
            let days_left = (cert.not_after - now + 86_399) / 86_400;
            let Some(t) = threshold(days, days_left) else {
                continue;
            };
            let event = format!("reminder:{}:{t}", cert.serial.to_hex());
            if store.has_mail_event(&event)? {
                continue;
            }
            let Some(sid) = &cert.subject_id else {
                continue;
            };
            let Some(subject) = store.get_subject(sid)? else {
                continue;
            };
            if subject.status != SubjectStatus::Active || self.replaced(&cert)? {
                continue;
            }
            if self.remind(&cert, &subject, t, days_left, event)? {
                queued += 1;
            }
        }
        if queued > 0 {
            self.mailer.wake();
        }
        Ok(queued)
    }

    /// Whether a newer good certificate of the same subject and profile exists.
    fn replaced(&self, cert: &CertificateRecord) -> Result<bool> {
        let store = &self.registry.store;
        let Some(sid) = &cert.subject_id else {
            return Ok(false);
        };
        for serial in store.subject_certificates(sid)? {
            if serial == cert.serial {
                continue;
            }
            if let Some(other) = store.get_certificate(&serial)? {
                if other.profile == cert.profile
                    && matches!(other.status, CertStatus::Good)
                    && other.not_after > cert.not_after
                {
                    return Ok(true);
                }
                if other.replaces.as_ref() == Some(&cert.serial) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Where a reminder about `s`'s certificate goes, and in which language.
    fn recipient(&self, s: &SubjectRecord) -> Result<Option<(String, String)>> {
        if s.kind == "person" {
            return Ok(s.email.clone().map(|e| (e, self.mailer.language_for(s))));
        }
        if let Some(owner) = &s.owner {
            if let Some(p) = self
                .registry
                .store
                .get_subject_by_external("person", owner)?
            {
                if let Some(e) = &p.email {
                    return Ok(Some((e.clone(), self.mailer.language_for(&p))));
                }
            }
        }
        Ok(self
            .mailer
            .cfg
            .operations_address
            .clone()
            .map(|a| (a, self.mailer.language_for(s))))
    }

    /// Queues one reminder; `false` if it has nowhere to go.
    fn remind(
        &self,
        cert: &CertificateRecord,
        s: &SubjectRecord,
        t: u32,
        days_left: i64,
        event: String,
    ) -> Result<bool> {
        let Some((to, lang)) = self.recipient(s)? else {
            tracing::debug!(serial = %cert.serial.to_hex(), "no address for a renewal reminder");
            return Ok(false);
        };
        let name = addressed_as(s);
        let mut values = BTreeMap::from([
            ("name", name),
            ("certificate", cert.subject.clone()),
            ("serial", cert.serial.to_hex()),
            ("expires", mail_time(&lang, cert.not_after)),
            ("days", days_left.to_string()),
        ]);
        let with_link = s.kind == "person" && cert.channel == "pickup";
        let store = &self.registry.store;
        if with_link {
            let (link, url) = self.registry.new_pickup(s, None, false)?;
            values.insert("url", url);
            values.insert("link_expires", mail_time(&lang, link.expires_at));
            let mail = self.mailer.compose(Compose {
                template: Template::ReminderLink,
                lang: &lang,
                to: &to,
                subject_id: Some(s.id.clone()),
                event,
                values,
            })?;
            store.create_pickup_with_mail(&link, &mail)?;
        } else {
            let mail = self.mailer.compose(Compose {
                template: Template::Reminder,
                lang: &lang,
                to: &to,
                subject_id: Some(s.id.clone()),
                event,
                values,
            })?;
            if !store.enqueue_mail(&mail)? {
                return Ok(false);
            }
        }
        store.flush()?;
        tracing::info!(serial = %cert.serial.to_hex(), threshold = t, "renewal reminder queued");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_threshold_crossed_is_the_one_due() {
        let d = [30, 7, 1];
        assert_eq!(threshold(&d, 31), None);
        assert_eq!(threshold(&d, 30), Some(30));
        assert_eq!(threshold(&d, 8), Some(30));
        assert_eq!(threshold(&d, 7), Some(7));
        assert_eq!(threshold(&d, 5), Some(7));
        assert_eq!(threshold(&d, 1), Some(1));
        assert_eq!(threshold(&d, 0), Some(1));
        assert_eq!(threshold(&[], 3), None);
    }
}
