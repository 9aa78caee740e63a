//! Pickup links sent by mail: the link and the mail that carries it are stored in one
//! transaction, and the answer names the recipient and the mail, never the link (only the
//! recipient sees it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::service::Registry;
use crate::error::{Error, Result};
use crate::mail::template::Template;
use crate::mail::Compose;
use crate::store::SubjectRecord;

/// The answer to a pickup link sent by mail.
#[derive(Debug, Clone, Serialize)]
pub struct MailedPickup {
    /// Always `email`.
    pub deliver: &'static str,
    /// The address the link went to.
    pub to: String,
    /// The queued mail's id (its state is in the audit log and the console).
    pub mail: String,
    /// The link's id (not its secret).
    pub pickup: String,
    /// When the link stops working, unix seconds.
    pub expires_at: i64,
}

impl Registry {
    /// Creates a pickup link for the person `s` and queues the mail that carries it, in one
    /// transaction. Refused when mail is off or the subject has no address.
    pub fn mail_pickup(
        &self,
        actor: &str,
        s: &SubjectRecord,
        expires_in: Option<u64>,
        legacy_p12: bool,
    ) -> Result<MailedPickup> {
        let mailer = self.mailer.as_ref().ok_or_else(|| {
            Error::Malformed(
                "mail is not configured ([mail] relay): the link cannot be sent".into(),
            )
        })?;
        let to = s.email.clone().ok_or_else(|| {
            Error::Malformed("the subject has no e-mail address to send the link to".into())
        })?;
        let (record, url) = self.new_pickup(s, expires_in, legacy_p12)?;
        let lang = mailer.language_for(s);
        let name = addressed_as(s);
        let values = BTreeMap::from([
            ("name", name),
            ("url", url),
            ("expires", mail_time(&lang, record.expires_at)),
        ]);
        let mail = mailer.compose(Compose {
            template: Template::Pickup,
            lang: &lang,
            to: &to,
            subject_id: Some(s.id.clone()),
            event: format!("pickup:{}", record.id),
            values,
        })?;
        self.store.create_pickup_with_mail(&record, &mail)?;
        self.store.flush()?;
        mailer.wake();
        tracing::info!(%actor, pickup = %record.id, mail = %mail.id, "pickup link queued for mail");
        Ok(MailedPickup {
            deliver: "email",
            to,
            mail: mail.id,
            pickup: record.id,
            expires_at: record.expires_at,
        })
    }

    /// The outbox's counts (queued, sent, failed), when mail is on.
    pub fn mail_counts(&self) -> Result<Option<(u64, u64, u64)>> {
        match self.mailer {
            Some(_) => Ok(Some(self.store.count_mails()?)),
            None => Ok(None),
        }
    }
}

/// How a mail addresses `s`: the person's or device's name, else its external id.
pub fn addressed_as(s: &SubjectRecord) -> String {
    s.display_name
        .clone()
        .or_else(|| s.name.clone())
        .unwrap_or_else(|| s.external_id.clone())
}

/// A time as mail in `lang` writes it (the console's way of writing times).
pub fn mail_time(lang: &str, unix: i64) -> String {
    let l = crate::console::i18n::Lang::from_code(lang).unwrap_or(crate::console::i18n::Lang::En);
    l.format_time(unix)
}
