//! E-mail: pickup links and renewal reminders, sent through the organisation's SMTP relay
//! (`[mail]` in the configuration).
//!
//! A mail is rendered from a template (`template`), sealed, and queued in the store's outbox in
//! the same transaction as what causes it (a pickup link and its mail exist together or not at
//! all; a reminder once per certificate and threshold, by its event key). A worker (`outbox`)
//! sends due mails: a temporary failure (4xx, no connection, timeout) is tried again with a
//! doubling wait, a permanent one (5xx) is given up with an audit entry, and so is a mail that
//! has failed for `give_up_after_secs`. The reminder task (`reminders`) queues the reminders.
//!
//! Delivery is at least once: a mail is marked sent after the relay accepted it, so a crash
//! between the relay's acceptance and that record sends it again on restart (with the same
//! `Message-ID`). Nothing queued is lost: the outbox is in the store, flushed before the action
//! that queued it is reported done.

pub mod message;
pub mod outbox;
pub mod reminders;
pub mod template;
pub mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::clock::SharedClock;
use crate::config::MailConfig;
use crate::error::{Error, Result};
use crate::ids::SubjectId;
use crate::secrets::Secrets;
use crate::states::MailStatus;
use crate::store::{MailRecord, SubjectRecord};
use message::Sender;
use template::{Rendered, Template, Templates};

/// What the sealing key is derived for.
const SEAL_PURPOSE: &str = "enrolld mail outbox v1";

/// Composes mail and wakes the worker. Present only when `[mail]` names a relay.
pub struct Mailer {
    /// The section.
    pub cfg: MailConfig,
    /// `From` and `Reply-To`.
    sender: Sender,
    /// The templates, checked at start.
    templates: Templates,
    /// Seals queued messages.
    secrets: Arc<Secrets>,
    /// Queue and attempt times.
    clock: SharedClock,
    /// Wakes the worker when a mail is queued.
    wake: tokio::sync::Notify,
}

/// One mail to queue: the template, who it goes to and the event that causes it.
pub struct Compose<'a> {
    /// The template.
    pub template: Template,
    /// `en` or `ja`.
    pub lang: &'a str,
    /// The recipient.
    pub to: &'a str,
    /// The person or device it is about.
    pub subject_id: Option<SubjectId>,
    /// The event key (unique per mail).
    pub event: String,
    /// The template's values (`organisation` is filled in).
    pub values: BTreeMap<&'static str, String>,
}

impl Mailer {
    /// The mailer of `cfg`, or `None` when mail is off. Fails (stopping the start) when the
    /// sender is not an address or a template does not render.
    pub fn new(
        cfg: &MailConfig,
        secrets: Arc<Secrets>,
        clock: SharedClock,
    ) -> Result<Option<Arc<Mailer>>> {
        if !cfg.enabled() {
            return Ok(None);
        }
        let from = cfg
            .from
            .as_deref()
            .ok_or_else(|| Error::Malformed("mail.from is required with mail.relay".into()))?;
        let sender = Sender::parse(from, cfg.reply_to.as_deref())?;
        if let Some(ops) = &cfg.operations_address {
            if !message::valid_recipient(ops) {
                return Err(Error::Malformed(format!(
                    "mail.operations_address {ops:?} is not an address"
                )));
            }
        }
        let templates = Templates::load(cfg.templates_dir.as_deref())?;
        Ok(Some(Arc::new(Mailer {
            cfg: cfg.clone(),
            sender,
            templates,
            secrets,
            clock,
            wake: tokio::sync::Notify::new(),
        })))
    }

    /// The language of mail to `s`: its own, else the configured default.
    pub fn language_for(&self, s: &SubjectRecord) -> String {
        match s.language.as_deref() {
            Some(l @ ("en" | "ja")) => l.to_owned(),
            _ => self.cfg.language.clone(),
        }
    }

    /// A queued mail, rendered and sealed (not stored: the caller stores it with what causes
    /// it). Refused if the recipient is not an address or the message is too large.
    pub fn compose(&self, c: Compose<'_>) -> Result<MailRecord> {
        if !message::valid_recipient(c.to) {
            return Err(Error::Malformed(format!(
                "{:?} is not an e-mail address mail can go to",
                c.to
            )));
        }
        let mut values = c.values;
        values.insert("organisation", self.sender.organisation());
        let rendered = self.templates.render(c.template, c.lang, &values)?;
        let id = crate::secrets::random_id_token(12)?;
        let now = self.clock.now();
        // Built once now, so an oversized mail is refused before anything is queued.
        message::build(
            &self.sender,
            c.to,
            &rendered,
            &id,
            now,
            self.cfg.max_message_bytes,
        )?;
        let plain = serde_json::to_vec(&rendered)?;
        let sealed = Base64UrlUnpadded::encode_string(&self.secrets.seal(SEAL_PURPOSE, &plain)?);
        Ok(MailRecord {
            version: 1,
            id,
            event: c.event,
            kind: c.template.name().to_owned(),
            to: c.to.to_owned(),
            subject_id: c.subject_id,
            status: MailStatus::Queued,
            sealed,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            sent_at: None,
            last_error: None,
        })
    }

    /// The rendered message of a queued mail.
    pub fn open(&self, m: &MailRecord) -> Result<Rendered> {
        let sealed = Base64UrlUnpadded::decode_vec(&m.sealed)
            .map_err(|_| Error::Internal("a queued mail is not sealed".into()))?;
        let plain = self.secrets.open(SEAL_PURPOSE, &sealed)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    /// The message of a queued mail, ready for the relay.
    pub fn message(&self, m: &MailRecord) -> Result<lettre::Message> {
        let rendered = self.open(m)?;
        message::build(
            &self.sender,
            &m.to,
            &rendered,
            &m.id,
            self.clock.now(),
            self.cfg.max_message_bytes,
        )
    }

    /// Tells the worker that a mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The time, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
